// ops_random.cpp — dropout (Srivastava et al., 2014), "inverted" form.
//
// training: m_i ~ Bernoulli(1-p), y = x · m / (1-p), dx = dy · m / (1-p)
// eval:     y = x
// The mask comes from the caller's Generator, so runs are reproducible.
// Cost: O(numel) time; the scaled mask is saved for backward.
#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/util/rng.h"
#include "core/tensor/strided.h"

namespace attnlab {

Tensor dropout(const Tensor& x, float p, bool training, Generator& gen) {
    PROFILE_SCOPE("dropout");
    detail::check_float("dropout", x);
    check(p >= 0.f && p <= 1.f, "dropout: probability must be in [0, 1], got ", p);
    if (!training || p == 0.f) return x;
    Tensor mask = Tensor::empty(x.shape());
    gen.fill_bernoulli(mask.data(), mask.numel(), 1.f - p);
    if (p < 1.f) mul_(mask, 1.f / (1.f - p));
    Tensor y = detail::map_binary(x, mask, [](float a, float m) { return a * m; }, "dropout");
    return record("dropout", y, {x}, [mask](const Tensor& dy) { return std::vector<Tensor>{mul(dy, mask)}; });
}

}  // namespace attnlab

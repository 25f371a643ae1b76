// dropout.cpp — see dropout.h.
#include "nn/layers/dropout.h"

#include <algorithm>

#include "core/ops/ops.h"
#include "core/util/rng.h"

namespace attnlab::nn {

static BatchSlice g_slice;

void set_batch_slice(BatchSlice slice) { g_slice = slice; }
BatchSlice batch_slice() { return g_slice; }

// Runs draw(generator) for a mask of B samples × per_sample values, B a slice of
// the batch: from the counter of sample g_slice.first, then leaves the generator
// after the batch's last sample.
template <class Draw>
static Tensor draw_for_slice(int64_t B, int64_t per_sample, Draw draw) {
    Generator& gen = default_generator();
    if (g_slice.total == 0) return draw(gen);
    check(g_slice.first + B <= g_slice.total, "dropout: batch slice [", g_slice.first, ", ", g_slice.first + B,
          ") is outside the batch of ", g_slice.total);
    const uint64_t start = gen.offset();
    gen.set_state(gen.seed(), start + uint64_t(g_slice.first) * uint64_t(per_sample));
    Tensor y = draw(gen);
    gen.set_state(gen.seed(), start + uint64_t(g_slice.total) * uint64_t(per_sample));
    return y;
}

Dropout::Dropout(float prob) : p(prob) { check(p >= 0.f && p < 1.f, "Dropout: p must be in [0, 1), got ", p); }

Tensor Dropout::forward(const Tensor& x) {
    if (!is_training() || p == 0.f) return x;
    const int64_t B = x.dim() > 0 ? x.size(0) : 1;
    return draw_for_slice(B, x.numel() / std::max<int64_t>(B, 1), [&](Generator& gen) { return dropout(x, p, true, gen); });
}

DropPath::DropPath(float prob) : p(prob) { check(p >= 0.f && p < 1.f, "DropPath: p must be in [0, 1), got ", p); }

Tensor DropPath::forward(const Tensor& x) {
    if (!is_training() || p == 0.f) return x;
    Shape mask_shape(size_t(x.dim()), 1);
    mask_shape[0] = x.size(0);
    Tensor keep = draw_for_slice(x.size(0), 1, [&](Generator& gen) {
        Tensor mask = Tensor::empty(mask_shape);
        gen.fill_bernoulli(mask.data(), mask.numel(), 1.f - p);
        return mask;
    });
    return x * (keep * (1.f / (1.f - p)));
}

}  // namespace attnlab::nn

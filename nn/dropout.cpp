// dropout.cpp — see dropout.h.
#include "nn/dropout.h"

#include "core/ops.h"
#include "core/rng.h"

namespace attnlab::nn {

Dropout::Dropout(float prob) : p(prob) { check(p >= 0.f && p < 1.f, "Dropout: p must be in [0, 1), got ", p); }

Tensor Dropout::forward(const Tensor& x) { return dropout(x, p, is_training(), default_generator()); }

DropPath::DropPath(float prob) : p(prob) { check(p >= 0.f && p < 1.f, "DropPath: p must be in [0, 1), got ", p); }

Tensor DropPath::forward(const Tensor& x) {
    if (!is_training() || p == 0.f) return x;
    Shape mask_shape(size_t(x.dim()), 1);
    mask_shape[0] = x.size(0);
    Tensor keep = Tensor::empty(mask_shape);
    default_generator().fill_bernoulli(keep.data(), keep.numel(), 1.f - p);
    return x * (keep * (1.f / (1.f - p)));
}

}  // namespace attnlab::nn

// layer_norm.cpp — see layer_norm.h.
#include "nn/layers/layer_norm.h"

#include "core/ops/ops.h"

namespace attnlab::nn {

LayerNorm::LayerNorm(int64_t d, float e) : dim(d), eps(e) {
    check(d > 0, "LayerNorm: dim must be positive, got ", d);
    weight = register_parameter("weight", Tensor::ones({d}));
    bias = register_parameter("bias", Tensor::zeros({d}));
}

Tensor LayerNorm::forward(const Tensor& x) {
    check(x.dim() >= 1 && x.size(-1) == dim, "LayerNorm(", dim, "): input ", to_string(x.shape()),
          " has last dim ", x.dim() ? x.size(-1) : 0);
    return layer_norm(x, weight, bias, eps);
}

}  // namespace attnlab::nn

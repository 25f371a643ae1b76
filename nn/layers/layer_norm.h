// layer_norm.h — LayerNorm over the last dim (Ba et al., 2016).
//
// y = (x - mean) / sqrt(var + eps) · weight + bias, statistics per row of C.
// weight starts at 1, bias at 0. Cost: O(rows·C). Fused kernel in core/ops/ops_norm.cpp.
#pragma once
#include "core/module/module.h"

namespace attnlab::nn {

class LayerNorm : public UnaryModule {
public:
    explicit LayerNorm(int64_t dim, float eps = 1e-5f);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return cat("LayerNorm(", dim, ")"); }

    int64_t dim;
    float eps;
    Tensor weight, bias;
};

}  // namespace attnlab::nn

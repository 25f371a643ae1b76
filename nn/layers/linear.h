// linear.h — fully connected layer y = x Wᵀ + b.
//
// x [..., in] -> y [..., out]; W [out, in], b [out]. One sgemm over all
// leading dims (see linear() in core/ops/ops.h). Cost: 2·rows·in·out flops.
// Initialized as in PyTorch: W, b ~ U(-1/√in, 1/√in).
#pragma once
#include "core/module/module.h"

namespace attnlab::nn {

class Linear : public UnaryModule {
public:
    Linear(int64_t in_features, int64_t out_features, bool bias = true);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    int64_t in_features, out_features;
    Tensor weight, bias;  // bias undefined when constructed without
};

}  // namespace attnlab::nn

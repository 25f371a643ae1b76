// linear.h — fully connected layer y = x Wᵀ + b.
//
// x [..., in] -> y [..., out]; W [out, in], b [out]. One sgemm over all
// leading dims (see linear() in core/ops/ops.h). Cost: 2·rows·in·out flops.
// Initialized as in PyTorch: W, b ~ U(-1/√in, 1/√in); init_linears re-initializes
// every Linear of a model as ViT/DeiT do: W ~ truncated N(0, std²), b = 0.
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

// ViT/DeiT initialization of every Linear in `m` and below it: weights truncated
// normal (std), biases zero. Attention variants' own non-Linear parameters keep theirs.
void init_linears(Module& m, float std = 0.02f);

}  // namespace attnlab::nn

// mlp.h — the transformer feed-forward block: fc1 -> GELU -> dropout -> fc2 -> dropout.
//
// x [..., C] -> [..., C] through a hidden width H (C·mlp_ratio).
// Cost: 4·rows·C·H flops forward.
#pragma once
#include "nn/layers/dropout.h"
#include "nn/layers/linear.h"

namespace attnlab::nn {

class MLP : public UnaryModule {
public:
    MLP(int64_t dim, int64_t hidden, float dropout = 0.f);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return cat("MLP(", fc1->in_features, " -> ", fc1->out_features, ")"); }
    std::shared_ptr<Linear> fc1, fc2;
    std::shared_ptr<Dropout> drop;
};

}  // namespace attnlab::nn

// activation.h — GELU and ReLU as modules (the functions live in core/ops.h).
//
// GELU(x) = x·Φ(x) (exact erf form by default, tanh approximation optional);
// ReLU(x) = max(x, 0). Cost: O(numel).
#pragma once
#include "core/ops.h"
#include "nn/module.h"

namespace attnlab::nn {

class GELU : public UnaryModule {
public:
    explicit GELU(GeluApprox approx = GeluApprox::None) : approx(approx) {}
    Tensor forward(const Tensor& x) override { return gelu(x, approx); }
    std::string describe() const override { return "GELU"; }
    GeluApprox approx;
};

class ReLU : public UnaryModule {
public:
    Tensor forward(const Tensor& x) override { return relu(x); }
    std::string describe() const override { return "ReLU"; }
};

}  // namespace attnlab::nn

// dropout.h — Dropout and DropPath (stochastic depth), active only in train mode.
//
// Dropout:  y = x · m / (1-p),  m_i ~ Bernoulli(1-p) per element.
// DropPath: y = x · m_b / (1-p), one m_b per sample b, so a residual branch
//           is skipped for whole samples (Huang et al., 2016; used by DeiT).
// Randomness comes from attnlab::default_generator(), seeded by the app.
#pragma once
#include "nn/module.h"

namespace attnlab::nn {

class Dropout : public UnaryModule {
public:
    explicit Dropout(float p = 0.5f);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return cat("Dropout(", p, ")"); }
    float p;
};

class DropPath : public UnaryModule {
public:
    explicit DropPath(float p = 0.f);
    Tensor forward(const Tensor& x) override;  // x [B, ...]
    std::string describe() const override { return cat("DropPath(", p, ")"); }
    float p;
};

}  // namespace attnlab::nn

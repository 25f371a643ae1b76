// dropout.h — Dropout and DropPath (stochastic depth), active only in train mode.
//
// Dropout:  y = x · m / (1-p),  m_i ~ Bernoulli(1-p) per element.
// DropPath: y = x · m_b / (1-p), one m_b per sample b, so a residual branch
//           is skipped for whole samples (Huang et al., 2016; used by DeiT).
// Randomness comes from attnlab::default_generator(), seeded by the app.
//
// Data-parallel training (nn/distributed/) gives each process a slice of the
// batch. set_batch_slice tells these layers which one: the masks are then drawn
// with the counters sample `first + b` would use in the whole batch, and the
// generator moves past the whole batch, so P processes draw exactly what one
// process draws for the whole batch. Default: the whole batch is here.
#pragma once
#include "core/module/module.h"

namespace attnlab::nn {

struct BatchSlice {
    int64_t first = 0;  // this process holds samples [first, first + B) of the batch ...
    int64_t total = 0;  // ... of `total` samples; 0: the whole batch is here
};
void set_batch_slice(BatchSlice slice);
BatchSlice batch_slice();

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

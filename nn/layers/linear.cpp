// linear.cpp — see linear.h.
#include "nn/layers/linear.h"

#include <cmath>

#include "core/ops/ops.h"
#include "core/module/init.h"

namespace attnlab::nn {

Linear::Linear(int64_t in, int64_t out, bool with_bias) : in_features(in), out_features(out) {
    check(in > 0 && out > 0, "Linear: features must be positive, got in=", in, " out=", out);
    float bound = 1.f / std::sqrt(float(in));
    weight = register_parameter("weight", Tensor::empty({out, in}));
    init::uniform_(weight, -bound, bound);
    if (with_bias) {
        bias = register_parameter("bias", Tensor::empty({out}));
        init::uniform_(bias, -bound, bound);
    }
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::describe() const { return cat("Linear(", in_features, " -> ", out_features, ")"); }

void init_linears(Module& m, float std) {
    if (auto* lin = dynamic_cast<Linear*>(&m)) {
        init::trunc_normal_(lin->weight, std);
        if (lin->bias.defined()) init::zeros_(lin->bias);
    }
    for (auto& [name, child] : m.named_children()) init_linears(*child, std);
}

}  // namespace attnlab::nn

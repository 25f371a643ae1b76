// mlp.cpp — see mlp.h.
#include "nn/layers/mlp.h"

#include "core/ops/ops.h"

namespace attnlab::nn {

MLP::MLP(int64_t dim, int64_t hidden, float p) {
    fc1 = register_module("fc1", std::make_shared<Linear>(dim, hidden));
    fc2 = register_module("fc2", std::make_shared<Linear>(hidden, dim));
    drop = register_module("drop", std::make_shared<Dropout>(p));
}

Tensor MLP::forward(const Tensor& x) { return drop->forward(fc2->forward(drop->forward(gelu(fc1->forward(x))))); }

}  // namespace attnlab::nn

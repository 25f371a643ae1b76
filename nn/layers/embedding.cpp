// embedding.cpp — see embedding.h.
#include "nn/layers/embedding.h"

#include "core/ops/ops.h"
#include "core/module/init.h"

namespace attnlab::nn {

Embedding::Embedding(int64_t n, int64_t d) : num_embeddings(n), dim(d) {
    check(n > 0 && d > 0, "Embedding: sizes must be positive, got ", n, " x ", d);
    weight = register_parameter("weight", Tensor::empty({n, d}));
    init::normal_(weight, 0.f, 1.f);
}

Tensor Embedding::forward(const Tensor& ids) { return embedding(weight, ids); }

PositionalEmbedding::PositionalEmbedding(int64_t n, int64_t d) : tokens(n), dim(d) {
    weight = register_parameter("weight", Tensor::empty({1, n, d}));
    init::trunc_normal_(weight, 0.02f);
}

Tensor PositionalEmbedding::forward(const Tensor& x) {
    check(x.dim() == 3 && x.size(1) == tokens && x.size(2) == dim, "PositionalEmbedding: input ",
          to_string(x.shape()), ", expected [B, ", tokens, ", ", dim, "]");
    return x + weight;
}

ClassToken::ClassToken(int64_t d) : dim(d) {
    token = register_parameter("token", Tensor::empty({1, 1, d}));
    init::trunc_normal_(token, 0.02f);
}

Tensor ClassToken::forward(const Tensor& x) {
    check(x.dim() == 3 && x.size(2) == dim, "ClassToken: input ", to_string(x.shape()), ", expected [B, N, ", dim, "]");
    return concat({token.expand({x.size(0), 1, dim}), x}, 1);
}

}  // namespace attnlab::nn

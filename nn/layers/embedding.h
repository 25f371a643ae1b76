// embedding.h — lookup tables and the learned tokens of a ViT.
//
// Embedding:           ids Int64 [...] -> weight[ids] [..., C]; dW = scatter-add of dy.
// PositionalEmbedding: x [B, N, C] + pos [1, N, C] (learned, trunc-normal 0.02).
// ClassToken:          x [B, N, C] -> [B, N+1, C] with a learned token in front.
#pragma once
#include "core/module/module.h"

namespace attnlab::nn {

class Embedding : public UnaryModule {
public:
    Embedding(int64_t num_embeddings, int64_t dim);  // N(0, 1) init as in PyTorch
    Tensor forward(const Tensor& ids) override;
    std::string describe() const override { return cat("Embedding(", num_embeddings, ", ", dim, ")"); }
    int64_t num_embeddings, dim;
    Tensor weight;
};

class PositionalEmbedding : public UnaryModule {
public:
    PositionalEmbedding(int64_t tokens, int64_t dim);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return cat("PositionalEmbedding(", tokens, ", ", dim, ")"); }
    int64_t tokens, dim;
    Tensor weight;  // [1, tokens, dim]
};

class ClassToken : public UnaryModule {
public:
    explicit ClassToken(int64_t dim);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return cat("ClassToken(", dim, ")"); }
    int64_t dim;
    Tensor token;  // [1, 1, dim]
};

}  // namespace attnlab::nn

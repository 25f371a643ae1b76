// efficient.h — efficient attention (Shen, Zhang, Zhao, Yi, Li, 2021,
// "Efficient Attention: Attention with Linear Complexities", WACV).
//
// Normalize queries and keys separately, then multiply in the linear order:
//
//   out = ρ_q(Q) (ρ_k(K)ᵀ V)
//   ρ_q = softmax over each query's D features (rows of Q)
//   ρ_k = softmax over the N positions, for each key feature (columns of K)
//
// ρ_k(K)ᵀ V is D "global context vectors", each a weighted mean of the values;
// each query mixes them with its own softmax weights, so every output is a
// convex combination of values, like softmax attention. As in the paper and its
// reference code there is no 1/√D scale. The column softmax runs over all
// positions, so there is no causal form.
// Time O(N·D²), extra memory O(D²) per head: the fused op (efficient_op.h) keeps only
// ρ_k(K)ᵀ V and the column max and sum for the backward, recomputing ρ_q(Q), ρ_k(K) in
// chunks; the composed form above (O(N·D) per head for the normalized Q and K) is its
// reference (reference = true, or ATTNLAB_REFERENCE=1), held equal by tests.
// forward_packed takes the packed qkv projection whole (one [B, N, 3C] gradient).
// Cost (attention/cost.h): forward 4·B·H·N·D² flops, backward twice that; traffic q, k, v,
// out and their gradients.
// Options: none.
#pragma once
#include "attention/attention.h"

namespace attnlab::attention {

class EfficientAttention : public Attention {
public:
    EfficientAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    // The fused op on the packed projection: one [B, N, 3C] gradient (reference: the split views).
    Tensor forward_packed(const Tensor& qkv, int64_t heads) override;
    std::string describe() const override { return "EfficientAttention"; }

    bool reference = false;  // true: the composed ops (readable reference) instead of the fused op
};

}  // namespace attnlab::attention

// taylor.h — first-order Taylor linear attention (Li, Su, Duan, Zheng, 2020,
// "Linear Attention Mechanism: An Efficient Attention for Semantic Segmentation").
//
// exp(q·k) ≈ 1 + q·k to first order; normalizing q and k to unit length keeps
// the similarity non-negative, sim(q, k) = 1 + q̂·k̂ ∈ [0, 2], q̂ = q/‖q‖:
//
//   out_i = Σ_j sim_ij v_j / Σ_j sim_ij
//         = (Σ_j v_j + q̂_iᵀ Σ_j k̂_j v_jᵀ) / (N + q̂_iᵀ Σ_j k̂_j + eps)
//
// i.e. linear attention with the feature map φ(x) = [1, x̂]. With causal=true
// the sums run over j ≤ i (N becomes i + 1): cumsum for Σ v_j and Σ k̂_j, the
// fused causal_product for Σ k̂_j v_jᵀ.
// eps (default 1e-6) guards the division: the denominator is ≥ 0 and is 0 only
// when every key points exactly opposite the query (e.g. causal i = 0, k̂_0 = -q̂_0).
// Time O(N·D²); memory O(N·D + D²) per head.
// Cost (attention/cost.h): forward 4·B·H·N·D² + 2·B·H·N·D flops (the normalizer), backward
// twice that; traffic q, k, v, out and their gradients.
// Fast path: the fused feature_map_attention op with φ(x) = [x̂, 1] (state,
// normalizer and causal prefix sums in chunks, hand-written backward); the
// composed ops above are its reference (reference = true), held equal by tests. The
// constant feature goes last and gets no gradient column, so the backward's products are D
// wide (no column tail at D + 1). forward_packed takes the packed qkv projection whole.
// Options (types and defaults: attention/registry.cpp): causal, eps.
#pragma once
#include "attention/attention.h"

namespace attnlab::attention {

class TaylorAttention : public Attention {
public:
    TaylorAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    // The fused op on the packed projection: one [B, N, 3C] gradient (reference: the split views).
    Tensor forward_packed(const Tensor& qkv, int64_t heads) override;
    std::string describe() const override { return causal ? "TaylorAttention(causal)" : "TaylorAttention"; }

    float eps;
    bool reference = false;  // true: the composed ops (readable reference) instead of the fused op
};

}  // namespace attnlab::attention

// linear_elu.h — kernelized linear attention with φ(x) = elu(x) + 1
// (Katharopoulos, Vyas, Pappas, Fleuret, 2020, "Transformers are RNNs: Fast
// Autoregressive Transformers with Linear Attention").
//
// Softmax's similarity exp(q·k) is replaced by φ(q)·φ(k) with a positive
// feature map φ(x) = elu(x) + 1, so each output is still a weighted mean of values:
//
//   out_i = φ(q_i)ᵀ Σ_j φ(k_j) v_jᵀ / (φ(q_i)ᵀ Σ_j φ(k_j) + eps)
//
// Both sums are computed once, O(N·D²). With causal=true the sums run over
// j ≤ i: S_i = Σ_{j≤i} φ(k_j) v_jᵀ by the fused causal_product (never stores
// the [N, D, D] prefix tensor), z_i = Σ_{j≤i} φ(k_j) by cumsum.
// The same recurrence gives an RNN for autoregressive inference, O(D²) per token:
//
//   S ← S + φ(k_t) v_tᵀ,  z ← z + φ(k_t),  out_t = φ(q_t)ᵀ S / (φ(q_t)ᵀ z + eps)   — see step().
//
// eps (default 1e-6, as in fast-transformers) only guards the division: the
// denominator is a sum of positive terms (φ > 0), so it matters only if every
// φ underflows. Time O(N·D²); memory O(D²) per head (causal: O(N·D + D²)).
// Cost (attention/cost.h): forward 4·B·H·N·D² + 2·B·H·N·D flops (the normalizer), backward
// twice that; traffic q, k, v, out and their gradients.
// Fast path: the fused feature_map_attention op (φ, state, normalizer and causal
// prefix sums in chunks, hand-written backward; feature_map_attention.h); the
// composed ops above are its reference (reference = true), held equal by tests.
// forward_packed takes the packed qkv projection whole (one [B, N, 3C] gradient).
// Options (types and defaults: attention/registry.cpp): causal, eps.
#pragma once
#include "attention/attention.h"

namespace attnlab::attention {

// The RNN state of causal linear attention after t tokens, per batch entry and head.
struct LinearAttentionState {
    Tensor S;  // [B, H, D, Dv]  Σ_{j≤t} φ(k_j) v_jᵀ
    Tensor z;  // [B, H, D]      Σ_{j≤t} φ(k_j)

    static LinearAttentionState zeros(int64_t B, int64_t H, int64_t D, int64_t Dv);  // before the first token
};

class LinearEluAttention : public Attention {
public:
    LinearEluAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    // The fused op on the packed projection: one [B, N, 3C] gradient (reference: the split views).
    Tensor forward_packed(const Tensor& qkv, int64_t heads) override;
    std::string describe() const override { return causal ? "LinearEluAttention(causal)" : "LinearEluAttention"; }

    // One autoregressive token: q_t, k_t [B, H, D], v_t [B, H, Dv] -> out_t [B, H, Dv].
    // Adds token t to `state`; the outputs equal the causal forward's, position by position.
    Tensor step(LinearAttentionState& state, const Tensor& q_t, const Tensor& k_t, const Tensor& v_t) const;
    // The Attention decoding interface over step(): Recurrent when causal.
    Decoding decoding() const override { return causal ? Decoding::Recurrent : Decoding::None; }
    std::unique_ptr<DecodeState> begin_decoding(int64_t B, int64_t H, int64_t N, int64_t D) const override;
    Tensor decode_step(DecodeState& state, const Tensor& q_t, const Tensor& k_t, const Tensor& v_t) const override;

    float eps;
    bool reference = false;  // true: the composed ops (readable reference) instead of the fused op
};

}  // namespace attnlab::attention

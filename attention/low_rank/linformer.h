// linformer.h — Linformer (Wang, Li, Khabsa, Fang, Ma, 2020, "Linformer:
// Self-Attention with Linear Complexity").
//
// Learned projections E, F ∈ R^{k×N} mix the N keys and values down to k rows
// along the sequence, then ordinary softmax attention runs against those k:
//
//   K' = E K,  V' = F V                       [k, D]
//   out = softmax(Q K'ᵀ / √D) V'              [N, D]
//
// The paper's argument: softmax(QKᵀ/√D) is approximately low rank, so a random
// (then learned) projection to k dimensions keeps most of it (Johnson–Lindenstrauss).
// E and F are tied to the sequence length, so the model needs AttentionContext::seq_len
// and only accepts inputs of exactly that length; there is no causal form.
// Initialization follows the authors' reference code (fairseq examples/linformer):
// xavier-uniform with gain 1/√2, i.e. U(-a, a), a = √(3 / (N + k)), which keeps
// K' and V' at about the scale of K and V.
// Time O(N·k·D), memory O(N·k) per head for the attention matrix, plus one or
// two k×N parameter matrices shared by all heads.
// Cost (attention/cost.h): forward 8·B·H·N·k·D flops (EK, FV, Q(EK)ᵀ, P(FV)), backward
// twice that; traffic q, k, v, out, their gradients and the k×N projections.
// Fast path: linformer_attention_fused (linformer_kernel.h), one fused op that keeps q, k, v,
// E, F and the small K', V' [k, D] per head for the backward and recomputes the softmax there; the
// composed ops in linformer.cpp are its reference (reference = true, or ATTNLAB_REFERENCE=1).
// Options (types and defaults: attention/registry.cpp): k (clamped to N), share_kv (E = F).
#pragma once
#include "attention/attention.h"

namespace attnlab::attention {

class LinformerAttention : public Attention {
public:
    LinformerAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    std::string describe() const override;

    bool reference = false;  // true: the composed ops (readable reference) instead of the fused op

    int64_t seq_len;  // N
    int64_t proj_len;  // k
    Tensor E, F;      // [k, N]; the same tensor when share_kv
};

}  // namespace attnlab::attention

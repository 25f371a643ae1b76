// efficient_op.h — efficient attention (efficient.h) as one fused op with a hand-written
// backward, per head, rows in chunks of C, without storing ρ_q(Q) or ρ_k(K):
//
//   ρ_k(K)_jd = exp(k_jd − m_d) / s_d,  m_d = max_j k_jd,  s_d = Σ_j exp(k_jd − m_d)
//   Ctx = ρ_k(K)ᵀ V [D, Dv],   out_i = ρ_q(q_i)ᵀ Ctx,   ρ_q(q_i) = softmax(q_i) over D
//
// Forward: one pass over the keys for m, s and Σ_j exp(k_j − m) v_jᵀ, m the running column max
// (where it grows, the sums so far are rescaled by exp(m_old − m_new), as flash attention does;
// then rows of Ctx divided by s), one over the queries. Backward, with g = ∂L/∂out:
//   dCtx = ρ_q(Q)ᵀ g,   dρ_q = g Ctxᵀ,   dq_i = ρ_q(q_i) ∘ (dρ_q,i − ρ_q(q_i)·dρ_q,i)
//   dρ_k = V dCtxᵀ,     dv_j = dCtxᵀ ρ_k(k_j),   dk_jd = ρ_k,jd (dρ_k,jd − c_d)
// with the column softmax's c_d = Σ_j ρ_k,jd dρ_k,jd = Σ_e Ctx_de dCtx_de (no extra pass).
// FLOPs: forward 4·N·D·Dv, backward 8·N·D·Dv per head (+ O(N·D) exps); memory: the output
// plus Ctx, m, s [B,H,D·Dv + 2D] kept for the backward, a few C×D scratch blocks per thread.
#pragma once
#include "core/tensor/tensor.h"

namespace attnlab::attention {

// q, k [B,H,N,D], v [B,H,N,Dv] (last dim unit stride or not) -> [B,H,N,Dv]; differentiable in q, k, v.
Tensor efficient_attention_fused(const Tensor& q, const Tensor& k, const Tensor& v);

// The same on the packed qkv projection [B, N, 3·heads·D] (q, k, v its strided views, see
// split_packed_qkv in head_rows.h): the backward returns one gradient of qkv's shape, its
// q, k, v slices written in place (no zero-filled buffer, no three gradients added into it).
Tensor efficient_attention_fused_packed(const Tensor& qkv, int64_t heads);

}  // namespace attnlab::attention

// linformer_kernel.h — Linformer's attention core (attention/low_rank/linformer.h)
// as one fused op with a hand-written backward. The composed version (matmul,
// softmax as differentiable ops) stays in linformer.cpp as its reference
// (ATTNLAB_REFERENCE=1 or LinformerAttention::reference).
//
// Per head, with E, F [k, Nk] shared by all heads and s = 1/√D:
//   K' = E K [k, D],  V' = F V [k, Dv],  P = softmax(s Q K'ᵀ) [N, k],  out = P V' [N, Dv]
// P is built C = 64 rows at a time and never stored whole. K', V' are kept for the
// backward (k·(D + Dv) floats per head); the backward (G = ∂L/∂out) recomputes the P chunks, then
//   dV' = Pᵀ G,  dP = G V'ᵀ,  dS = s P ⊙ (dP − rowsum(dP ⊙ P)),  dQ = dS K',  dK' = dSᵀ Q
//   dK = Eᵀ dK',  dV = Fᵀ dV',  dE = Σ_heads dK' Kᵀ,  dF = Σ_heads dV' Vᵀ
// (dE, dF in a second pass over blocks of key rows, summing the heads in a fixed order, so
// the result does not depend on the number of threads; when E and F are the same tensor
// both gradients reach it and add up).
// Time O(N·k·(D + Dv)) per head: 8·N·k·D flops forward, 16·N·k·D backward (with the
// recomputation of P); memory: the output (in [B,N,H,Dv] memory, heads_output) and K', V'
// [B,H,k,D] — besides them only q, k, v
// and the parameters are kept for the backward — plus per-thread scratch of O(C·k + k·D)
// floats and, in backward, dK'ᵀ, dV'ᵀ [B,H,D,k] for the projections' gradients.
// Heads run in parallel, each single-threaded with small::gemm.
#pragma once
#include "core/tensor/tensor.h"

namespace attnlab::attention {

// q [B,H,N,D], k [B,H,Nk,D], v [B,H,Nk,Dv] (any strides), E, F [k, Nk] -> out [B,H,N,Dv].
// Gradients for q, k, v, E and F.
Tensor linformer_attention_fused(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& E, const Tensor& F);

}  // namespace attnlab::attention

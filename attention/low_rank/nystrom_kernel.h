// nystrom_kernel.h — Nyströmformer's attention core (attention/low_rank/nystrom.h)
// as one fused op with a hand-written backward. The composed version (matmul,
// softmax, iterative_pinv as differentiable ops) stays in nystrom.cpp as its
// reference (ATTNLAB_REFERENCE=1 or NystromAttention::reference).
//
// Per head, with P the segment-means matrix [m, N] and s = 1/√D:
//   Q̃ = P Q, K̃ = P K [m, D];  Ã = softmax(s Q̃ K̃ᵀ) [m, m];  B̃ = softmax(s Q̃ Kᵀ) [m, N]
//   W = B̃ V [m, Dv];  Z = pinv_it(Ã) [m, m];  Y = Z W;  out = softmax(s Q K̃ᵀ) Y  [N, Dv]
// pinv_it is the same iteration as iterative_pinv (Z₀ = Ãᵀ/(‖Ã‖₁‖Ã‖∞),
// Z ← ¼ Z (13I − ÃZ (15I − ÃZ (7I − ÃZ)))), differentiated through exactly as the
// composed ops do (ties of the two norms' max share the gradient, |x|' = sign x).
// F̃ = softmax(s Q K̃ᵀ) [N, m] is built C = 64 rows at a time and never stored whole.
// Backward: recomputes the landmark part (Q̃, K̃, Ã, the iterates, B̃, W, Y) and the
// F̃ chunks, then, with G = ∂L/∂out:
//   dY = F̃ᵀ G,  dF̃ = G Yᵀ,  dS₁ = s F̃ ⊙ (dF̃ − rowsum(dF̃ ⊙ F̃)),  dQ = dS₁ K̃,  dK̃ = dS₁ᵀ Q
//   dW = Zᵀ dY,  dZ = dY Wᵀ → (iterations in reverse) dÃ → dS₂ → dQ̃ += dS₂ K̃, dK̃ += dS₂ᵀ Q̃
//   dB̃ = dW Vᵀ, dV = B̃ᵀ dW, dS₃ (softmax over N, per landmark) → dK = dS₃ᵀ Q̃, dQ̃ += dS₃ K
//   dQ += Pᵀ dQ̃,  dK += Pᵀ dK̃.
// Time O(N·m·(D + Dv) + it·m³) per head (about 8 N·m·D forward, 22 N·m·D backward);
// memory: only the output is allocated (in [B,N,H,Dv] memory, heads_output, so the head
// merge after it is a view) — nothing but q, k, v is kept for the backward — plus
// per-thread scratch of 2·Nk·m + O(it·m² + C·(m + D)) floats.
// Heads run in parallel, each single-threaded with small::gemm.
#pragma once
#include <cstdint>

#include "core/tensor/tensor.h"

namespace attnlab::attention {

// q [B,H,N,D], k [B,H,Nk,D], v [B,H,Nk,Dv] (any strides) -> out [B,H,N,Dv]; needs
// 1 <= landmarks <= min(N, Nk) and iterations >= 1. Gradients for q, k and v.
Tensor nystrom_attention_fused(const Tensor& q, const Tensor& k, const Tensor& v, int64_t landmarks,
                               int64_t iterations);

}  // namespace attnlab::attention

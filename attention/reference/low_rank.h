// low_rank.h — dense O(N²) reference of linformer, for tests: the N×N scores QKᵀ first, then
// the learned projection of the keys applied to them, Q(EK)ᵀ = (QKᵀ)Eᵀ:
//   out = softmax((QKᵀ) Eᵀ / √D) (F V)        E, F [k, N]
// (the variant computes EK first: O(N·k·D)). Time O(N²·D + N²·k), memory O(N²).
// And of nyström, in plain loops and double precision: the N×N matrix it approximates softmax
// attention with, built explicitly, then applied to V:
//   Â = softmax(Q K̃ᵀ/√D) · Z · softmax(Q̃ Kᵀ/√D),   out = Â V
// with Q̃, K̃ the means of m contiguous segments of the tokens and Z the iterative
// pseudoinverse of A = softmax(Q̃ K̃ᵀ/√D) (Z₀ = Aᵀ/(‖A‖₁‖A‖∞), Z ← ¼ Z(13I − AZ(15I − AZ(7I − AZ)))).
// Time O(N²·(m + D)), memory O(N²).
#pragma once
#include "core/tensor/tensor.h"

namespace attnlab::attention {

// q, k, v [B,H,N,D], E, F [k, N] (LinformerAttention::E, F) -> [B,H,N,D].
Tensor dense_linformer(const Tensor& E, const Tensor& F, const Tensor& q, const Tensor& k, const Tensor& v);

// q, k, v [B,H,N,D] (N queries = N keys), m landmarks, the pseudoinverse's iterations -> [B,H,N,D].
// Without nyström's optional convolution skip.
Tensor dense_nystrom(const Tensor& q, const Tensor& k, const Tensor& v, int64_t m, int64_t iterations);

}  // namespace attnlab::attention

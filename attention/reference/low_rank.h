// low_rank.h — dense O(N²) reference of linformer, for tests: the N×N scores QKᵀ first, then
// the learned projection of the keys applied to them, Q(EK)ᵀ = (QKᵀ)Eᵀ:
//   out = softmax((QKᵀ) Eᵀ / √D) (F V)        E, F [k, N]
// (the variant computes EK first: O(N·k·D)). Time O(N²·D + N²·k), memory O(N²).
// nystrom's own forward is a plain composition of ops (its reference is itself).
#pragma once
#include "core/tensor/tensor.h"

namespace attnlab::attention {

// q, k, v [B,H,N,D], E, F [k, N] (LinformerAttention::E, F) -> [B,H,N,D].
Tensor dense_linformer(const Tensor& E, const Tensor& F, const Tensor& q, const Tensor& k, const Tensor& v);

}  // namespace attnlab::attention

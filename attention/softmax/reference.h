// reference.h — dense reference computations that efficient variants are checked against.
//
// masked_softmax_attention computes softmax(QKᵀ·scale + mask)V with an explicit
// boolean mask [N, M] (true = blocked), forming the full N×M matrix: O(N·M·D)
// time and O(N·M) memory. Sparse and windowed variants must equal it exactly
// when given their own pattern as the mask.
#pragma once
#include "core/tensor/tensor.h"

namespace attnlab::attention {

// [N, M] Bool mask, true where j > i (the future).
Tensor causal_mask(int64_t n, int64_t m);

// q [B,H,N,D], k/v [B,H,M,D], blocked Bool [N,M] (or [B,H,N,M]); scale defaults to 1/√D.
// A row with every key blocked yields zeros.
Tensor masked_softmax_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& blocked,
                                float scale = 0.f);

}  // namespace attnlab::attention

// causal_product.h — the causal linear-attention product as one fused op,
// forward and backward side by side (Katharopoulos et al., 2020, "Transformers
// are RNNs", section 3.3 and appendix; fast-transformers' causal_product).
//
//   out_i = Σ_{j≤i} (q_i·k_j) v_j = S_iᵀ q_i,     S_i = Σ_{j≤i} k_j v_jᵀ   [D, Dv]
//
// Backward, for g_i = dL/dout_i:
//   dq_i = S_i g_i                                 (the forward recurrence again)
//   dk_j = R_j v_j,  dv_j = R_jᵀ k_j,   R_j = Σ_{i≥j} q_i g_iᵀ   (recurrence run in reverse)
//
// q, k [B,H,N,D], v [B,H,N,Dv] (any strides) -> [B,H,N,Dv].
// Time O(N·D·Dv) per head. Memory: the output (and the three gradients) plus
// one running [D, Dv] sum per thread; the [N, D, Dv] prefix tensor that
// cumsum(k_i v_iᵀ) would build is never stored.
// Used by the causal forms of linear, linear_elu and taylor attention.
#pragma once
#include "core/tensor/tensor.h"

namespace attnlab::attention {

Tensor causal_product(const Tensor& q, const Tensor& k, const Tensor& v);

}  // namespace attnlab::attention

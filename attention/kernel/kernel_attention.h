// kernel_attention.h — attention through a feature map φ: the shared core of
// the random-feature variants (rfa, performer).
//
// If exp(q·k) ≈ φ(q)·φ(k) for some map φ: R^D -> R^M, softmax attention becomes
//
//   out_i = φ(q_i)ᵀ S_i / φ(q_i)ᵀ z_i,   S_i = Σ_j φ(k_j) v_jᵀ  [M, D],   z_i = Σ_j φ(k_j)  [M]
//
// with j over all keys, or over j ≤ i when causal (prefix sums). The N×N matrix
// φ(Q)φ(K)ᵀ is never formed: O(N·M·D) time, O(N·M + N·D + M·D) memory per head.
//   non-causal: two GEMMs, φ(Q)·(φ(K)ᵀV), and φ(Q)·(Σ_j φ(k_j))
//   causal:     causal_product (causal_product.h: a running M×D state per
//               head, fused forward and backward) and a cumsum of φ(K) for z_i.
#pragma once
#include "core/tensor/tensor.h"

namespace attnlab::attention {

// phi_q [B,H,N,M], phi_k [B,H,N_k,M], v [B,H,N_k,D] -> [B,H,N,D].
// The denominator is clamped below at n_i·min_mean_kernel, n_i the number of
// keys token i attends to (N_k, or i+1 when causal): a floor on the mean
// kernel value, for feature maps whose estimate can reach 0 or go negative.
Tensor kernel_attention(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, bool causal,
                        float min_mean_kernel);

}  // namespace attnlab::attention

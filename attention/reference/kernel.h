// kernel.h — dense O(N²) references of the kernel (linear-complexity) variants, for tests.
//
// Each forms the N×N similarity matrix A first (masked to j ≤ i when causal: entries j > i
// are 0), then multiplies by V — the "quadratic order" that the variants reassociate:
//   linear:          A = QKᵀ/D,                          out = A V
//   linear_elu:      A = φ(Q)φ(K)ᵀ, φ(x) = elu(x) + 1,   out = A V / (A 1 + eps)
//   taylor:          A = 1 + Q̂K̂ᵀ (unit rows q̂ = q/‖q‖),   out = A V / (A 1 + eps)
//   efficient:       A = softmax_rows(Q) softmax_cols(K)ᵀ, out = A V        (never causal)
//   kernel:          A = φ_q φ_kᵀ (given features),       out = A V / (A 1)
//   causal_product:  A = QKᵀ masked to j ≤ i,             out = A V         (no normalizer)
//   performer:       A = φ(Q)φ(K)ᵀ with the unstabilized φ(x) = exp(W x − ‖x‖²/2)/√M,
//                    x = q/D^{1/4};                       out = A V / (A 1)
//   rfa:             A = φ(Q̂)φ(K̂)ᵀ, φ(x) = [sin(W x), cos(W x)]/√M, x̂ = x/‖x‖;
//                    out_i = (A V)_i / max((A 1)_i, n_i·max(e^{−2/σ²}, 1e-6))   (n_i keys seen)
// Shapes: q, k [B,H,N,D] (φ's [B,H,N,M]), v [B,H,N,Dv] -> [B,H,N,Dv]. Time O(N²·D), memory O(N²).
#pragma once
#include "core/tensor/tensor.h"

namespace attnlab::attention {

Tensor dense_linear(const Tensor& q, const Tensor& k, const Tensor& v, bool causal);
Tensor dense_linear_elu(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float eps = 1e-6f);
Tensor dense_taylor(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float eps = 1e-6f);
Tensor dense_efficient(const Tensor& q, const Tensor& k, const Tensor& v);
Tensor dense_kernel_attention(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, bool causal);
Tensor dense_causal_product(const Tensor& q, const Tensor& k, const Tensor& v);
// W [M, D]: the performer's projection (PerformerAttention::projection()).
Tensor dense_performer(const Tensor& W, const Tensor& q, const Tensor& k, const Tensor& v, bool causal);
// W [M, D]: the rfa's frequencies (RandomFeatureAttention::frequencies()), σ its sigma option.
Tensor dense_rfa(const Tensor& W, float sigma, const Tensor& q, const Tensor& k, const Tensor& v, bool causal);

}  // namespace attnlab::attention

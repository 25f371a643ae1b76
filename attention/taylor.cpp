// taylor.cpp — see taylor.h. Composed of differentiable ops plus the fused
// causal_product, so the backward comes from theirs.
#include "attention/taylor.h"

#include "attention/causal_product.h"
#include "core/ops.h"

namespace attnlab::attention {

// x / ‖x‖ along the last dim (the 1e-12 keeps a zero vector finite).
static Tensor l2_normalize(const Tensor& x) { return x * rsqrt(sum(x * x, {-1}, true) + 1e-12f); }

TaylorAttention::TaylorAttention(const Options& opts, const AttentionContext&) {
    causal = opts.get_bool("causal");
    eps = float(opts.get_double("eps"));
    check(eps >= 0.f, "taylor attention: option eps must be >= 0, got ", eps);
}

Tensor TaylorAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("taylor attention", q, k, v);
    const int64_t N = k.size(2);
    Tensor qn = l2_normalize(q), kn = l2_normalize(k);  // [B,H,N,D]
    Tensor num, den;
    if (causal) {
        Tensor count = reshape(Tensor::arange(N) + 1.f, {N, 1});                // i + 1 keys j ≤ i
        num = cumsum(v, 2) + causal_product(qn, kn, v);                         // Σ_{j≤i} v_j + q̂_iᵀ Σ_{j≤i} k̂_j v_jᵀ
        den = count + sum(qn * cumsum(kn, 2), {-1}, true);                      // (i+1) + q̂_iᵀ Σ_{j≤i} k̂_j
    } else {
        num = sum(v, {2}, true) + matmul(qn, matmul(kn.transpose(-2, -1), v));  // Σ_j v_j + Q̂ (K̂ᵀ V)
        den = float(N) + sum(qn * sum(kn, {2}, true), {-1}, true);              // N + q̂_iᵀ Σ_j k̂_j
    }
    return num / (den + eps);
}

}  // namespace attnlab::attention

// taylor.cpp — see taylor.h. The fast path is feature_map_attention with φ
// below; the reference is composed of differentiable ops plus the fused
// causal_product, so its backward comes from theirs.
#include "attention/kernel/taylor.h"

#include <cmath>

#include "attention/kernel/causal_product.h"
#include "attention/kernel/feature_map_attention.h"
#include "attention/kernel/row_math.h"
#include "core/ops/ops.h"
#include "core/util/reference_mode.h"

namespace attnlab::attention {

// x / ‖x‖ along the last dim (the 1e-12 keeps a zero vector finite).
static Tensor l2_normalize(const Tensor& x) { return x * rsqrt(sum(x * x, {-1}, true) + 1e-12f); }

// φ(x) = [x̂, 1] on rows for the fused op, x̂ = x·ρ, ρ = (‖x‖² + 1e-12)^(-1/2);
// backward: dx = ρ·dx̂ − ρ³ (dx̂·x) x (the constant 1 has no gradient). The constant goes
// last, so that the fused op's gradient products are D wide (varying_features; dφ's last
// column is neither formed nor read).
struct UnitAndOne final : FeatureMap {
    int64_t features(int64_t D) const override { return D + 1; }
    int64_t varying_features(int64_t D) const override { return D; }
    // 1/‖x‖ (ε-guarded), vectorized over D (row_math.h).
    static float inv_norm(const float* x, int64_t D) { return 1.f / std::sqrt(dot(x, x, D) + 1e-12f); }
    void forward(int64_t, const float* x, int64_t ldx, int64_t rows, int64_t D, float* phi) const override {
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * ldx;
            float* pr = phi + r * (D + 1);
            const float rho = inv_norm(xr, D);
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) pr[d] = xr[d] * rho;
            pr[D] = 1.f;
        }
    }
    // dx = ρ·g − ρ³·(g·x)·x with g the first D columns of dφ (the constant's is not read).
    void backward(int64_t, const float* x, int64_t ldx, int64_t rows, int64_t D, const float* phi, const float* dphi,
                  float* dx, int64_t lddx) const override {
        for (int64_t r = 0; r < rows; ++r) {
            const float *xr = x + r * ldx, *gr = dphi + r * (D + 1);
            const float rho = inv_norm(xr, D), rho3 = rho * rho * rho, gx = dot(gr, xr, D);
            float* dr = dx + r * lddx;
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) dr[d] = rho * gr[d] - rho3 * gx * xr[d];
        }
    }
};

static std::shared_ptr<const FeatureMap> unit_and_one() {
    static const auto map = std::make_shared<const UnitAndOne>();
    return map;
}

TaylorAttention::TaylorAttention(const Options& opts, const AttentionContext&) : Attention(opts) {
    eps = float(opts.get_double("eps"));
    check(eps >= 0.f, "taylor attention: option eps must be >= 0, got ", eps);
}

Tensor TaylorAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("taylor attention", q, k, v);
    if (!reference && !reference_mode()) return feature_map_attention(q, k, v, unit_and_one(), unit_and_one(), causal, eps);
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

Tensor TaylorAttention::forward_packed(const Tensor& qkv, int64_t heads) {
    if (reference || reference_mode()) return Attention::forward_packed(qkv, heads);
    return feature_map_attention_packed(qkv, heads, unit_and_one(), unit_and_one(), causal, eps);
}

}  // namespace attnlab::attention

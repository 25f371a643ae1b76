// rfa.cpp — see rfa.h. Fast path: the features row by row (FourierFeatures) inside the
// fused feature_map_attention. Reference: features from differentiable ops (normalize,
// matmul, sin, cos, concat), then kernel_attention.
#include "attention/kernel/rfa.h"

#include <cmath>
#include <vector>

#include "attention/kernel/feature_map_attention.h"
#include "attention/kernel/kernel_attention.h"
#include "core/kernels/small_gemm.h"
#include "core/kernels/fastmath.h"
#include "core/ops/ops.h"
#include "core/util/reference_mode.h"

namespace attnlab::attention {

namespace {

// features() for the fused op, on rows: [sin(ρ·W x), cos(ρ·W x)] / √M = φ(x̂), x̂ = ρx,
// ρ = (‖x‖² + 1e-12)^(−1/2): the product W x is taken on the rows as they are (no normalized
// copy) and ρ applied inside sin/cos. Scratch is per thread (no allocation per chunk).
struct FourierFeatures final : FeatureMap {
    Tensor W, Wt;  // [M, D] and its transpose [D, M]
    explicit FourierFeatures(const Tensor& W_) : W(W_.contiguous()), Wt(W_.T().contiguous()) {}
    int64_t features(int64_t) const override { return 2 * W.size(0); }

    static float rho(const float* x, int64_t D) {
        float ss = 0.f;
#pragma omp simd reduction(+ : ss)
        for (int64_t d = 0; d < D; ++d) ss += x[d] * x[d];
        return 1.f / std::sqrt(ss + 1e-12f);
    }
    static float* scratch(int64_t size) {
        thread_local std::vector<float> buf;
        if (int64_t(buf.size()) < size) buf.resize(size_t(size));
        return buf.data();
    }
    void forward(int64_t, const float* x, int64_t ldx, int64_t rows, int64_t D, float* phi) const override {
        const int64_t M = W.size(0);
        float* proj = scratch(rows * M);
        small::gemm<false>(rows, M, D, 1.f, x, ldx, Wt.data(), M, false, proj, M);  // W x
        const float inv_sqrt_m = 1.f / std::sqrt(float(M));
        for (int64_t r = 0; r < rows; ++r) {
            const float* p = proj + r * M;
            const float rr = rho(x + r * ldx, D);
            float *s = phi + r * 2 * M, *c = s + M;
#pragma omp simd
            for (int64_t m = 0; m < M; ++m) {
                const float a = p[m] * rr;  // W x̂
                s[m] = fast::sin(a) * inv_sqrt_m;
                c[m] = fast::cos(a) * inv_sqrt_m;
            }
        }
    }
    // dproj = dφ_sin ∘ φ_cos − dφ_cos ∘ φ_sin;  dx̂ = dproj W;  dx = ρ dx̂ − ρ³ (dx̂·x) x
    void backward(int64_t, const float* x, int64_t ldx, int64_t rows, int64_t D, const float* phi, const float* dphi,
                  float* dx, int64_t lddx) const override {
        const int64_t M = W.size(0);
        float* dproj = scratch(rows * M);
        for (int64_t r = 0; r < rows; ++r) {
            const float *ds = dphi + r * 2 * M, *dc = ds + M, *ps = phi + r * 2 * M, *pc = ps + M;
            float* dp = dproj + r * M;
#pragma omp simd
            for (int64_t m = 0; m < M; ++m) dp[m] = ds[m] * pc[m] - dc[m] * ps[m];
        }
        small::gemm<false>(rows, D, M, 1.f, dproj, M, W.data(), D, false, dx, lddx);  // dx̂, in place
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * ldx;
            float* g = dx + r * lddx;
            const float p = rho(xr, D);
            float dot = 0.f;
#pragma omp simd reduction(+ : dot)
            for (int64_t d = 0; d < D; ++d) dot += g[d] * xr[d];
            const float p3dot = p * p * p * dot;
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) g[d] = p * g[d] - p3dot * xr[d];
        }
    }
};

}  // namespace

RandomFeatureAttention::RandomFeatureAttention(const Options& opts, const AttentionContext& ctx)
    : Attention(opts), M_(opts.get_int("features")),
      D_(ctx.head_dim),
      sigma_(float(opts.get_double("sigma"))),
      redraw_(opts.get_bool("redraw")),
      gen_(resolve_seed("rfa", opts.get_int("seed"))) {
    check(M_ >= 1, "rfa: option features=", M_, " is invalid; need at least 1 random feature");
    check(sigma_ > 0.f && std::isfinite(sigma_), "rfa: option sigma=", sigma_, " is invalid; need sigma > 0");
    check(D_ >= 1, "rfa: the head dim must be known at construction (AttentionContext.head_dim), got ", D_);
    W_ = register_buffer("frequencies", Tensor::randn({M_, D_}, gen_, 0.f, 1.f / sigma_));
}

void RandomFeatureAttention::draw_frequencies() {
    W_ = Tensor::randn({M_, D_}, gen_, 0.f, 1.f / sigma_);
    set_buffer("frequencies", W_);
}

Tensor RandomFeatureAttention::features(const Tensor& x) const {
    Tensor unit = x * rsqrt(sum(x * x, {-1}, true) + 1e-12f);  // x / ‖x‖
    Tensor proj = matmul(unit, W_.T());                        // [..., M]
    return concat({sin(proj), cos(proj)}, -1) * (1.f / std::sqrt(float(M_)));
}

Tensor RandomFeatureAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("rfa", q, k, v);
    check(q.size(-1) == D_, "rfa: head dim of q ", to_string(q.shape()), " is not the ", D_, " it was built for");
    if (redraw_ && is_training()) draw_frequencies();
    if (!reference && !reference_mode()) {
        auto phi = std::make_shared<FourierFeatures>(W_);
        return feature_map_attention(q, k, v, phi, phi, causal, 0.f, min_mean_kernel());
    }
    return kernel_attention(features(q), features(k), v, causal, min_mean_kernel());
}

Tensor RandomFeatureAttention::forward_packed(const Tensor& qkv, int64_t heads) {
    if (reference || reference_mode()) return Attention::forward_packed(qkv, heads);
    check(qkv.dim() == 3 && heads > 0 && qkv.size(2) == 3 * heads * D_, "rfa: packed qkv ", to_string(qkv.shape()),
          " with ", heads, " heads does not have the head dim ", D_, " it was built for");
    if (redraw_ && is_training()) draw_frequencies();
    auto phi = std::make_shared<FourierFeatures>(W_);
    return feature_map_attention_packed(qkv, heads, phi, phi, causal, 0.f, min_mean_kernel());
}

float RandomFeatureAttention::min_mean_kernel() const { return std::max(std::exp(-2.f / (sigma_ * sigma_)), 1e-6f); }

std::string RandomFeatureAttention::describe() const {
    return cat("RandomFeatureAttention(M=", M_, ", sigma=", sigma_, redraw_ ? ", redraw" : "", causal ? ", causal" : "", ")");
}

}  // namespace attnlab::attention

// rfa.cpp — see rfa.h. Features from differentiable ops (normalize, matmul,
// sin, cos, concat); the attention itself is kernel_attention.
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

// features() for the fused op, on rows: [sin(W x̂), cos(W x̂)] / √M, x̂ = ρx, ρ = (‖x‖² + 1e-12)^(−1/2).
struct FourierFeatures final : FeatureMap {
    Tensor W, Wt;  // [M, D] and its transpose [D, M]
    explicit FourierFeatures(const Tensor& W_) : W(W_.contiguous()), Wt(W_.T().contiguous()) {}
    int64_t features(int64_t) const override { return 2 * W.size(0); }

    static float rho(const float* x, int64_t D) {
        float ss = 0.f;
        for (int64_t d = 0; d < D; ++d) ss += x[d] * x[d];
        return 1.f / std::sqrt(ss + 1e-12f);
    }
    void forward(int64_t, const float* x, int64_t ldx, int64_t rows, int64_t D, float* phi) const override {
        const int64_t M = W.size(0);
        std::vector<float> unit(size_t(rows * D));
        for (int64_t r = 0; r < rows; ++r) {
            const float p = rho(x + r * ldx, D);
            for (int64_t d = 0; d < D; ++d) unit[size_t(r * D + d)] = x[r * ldx + d] * p;
        }
        std::vector<float> proj(size_t(rows * M));
        small::gemm<false>(rows, M, D, 1.f, unit.data(), D, Wt.data(), M, false, proj.data(), M);  // W x̂
        const float inv_sqrt_m = 1.f / std::sqrt(float(M));
        for (int64_t r = 0; r < rows; ++r) {
            const float* p = proj.data() + r * M;
            float *s = phi + r * 2 * M, *c = s + M;
#pragma omp simd
            for (int64_t m = 0; m < M; ++m) {
                s[m] = fast::sin(p[m]) * inv_sqrt_m;
                c[m] = fast::cos(p[m]) * inv_sqrt_m;
            }
        }
    }
    // dproj = dφ_sin ∘ φ_cos − dφ_cos ∘ φ_sin;  dx̂ = dproj W;  dx = ρ dx̂ − ρ³ (dx̂·x) x
    void backward(int64_t, const float* x, int64_t ldx, int64_t rows, int64_t D, const float* phi, const float* dphi,
                  float* dx, int64_t lddx) const override {
        const int64_t M = W.size(0);
        std::vector<float> dproj(size_t(rows * M)), du(size_t(rows * D));
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t m = 0; m < M; ++m) {
                const int64_t s = r * 2 * M + m, c = s + M;
                dproj[size_t(r * M + m)] = dphi[s] * phi[c] - dphi[c] * phi[s];
            }
        small::gemm<false>(rows, D, M, 1.f, dproj.data(), M, W.data(), D, false, du.data(), D);
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * ldx;
            const float* g = du.data() + r * D;
            const float p = rho(xr, D);
            float dot = 0.f;
            for (int64_t d = 0; d < D; ++d) dot += g[d] * xr[d];
            for (int64_t d = 0; d < D; ++d) dx[r * lddx + d] = p * g[d] - p * p * p * dot * xr[d];
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
    float min_mean_kernel = std::max(std::exp(-2.f / (sigma_ * sigma_)), 1e-6f);
    if (!reference && !reference_mode()) {
        auto phi = std::make_shared<FourierFeatures>(W_);
        return feature_map_attention(q, k, v, phi, phi, causal, 0.f, min_mean_kernel);
    }
    return kernel_attention(features(q), features(k), v, causal, min_mean_kernel);
}

std::string RandomFeatureAttention::describe() const {
    return cat("RandomFeatureAttention(M=", M_, ", sigma=", sigma_, redraw_ ? ", redraw" : "", causal ? ", causal" : "", ")");
}

}  // namespace attnlab::attention

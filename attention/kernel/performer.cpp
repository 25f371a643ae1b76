// performer.cpp — see performer.h. Fast path: the key shift in a parallel pass over the keys,
// then the features row by row (PositiveFeatures) inside the fused feature_map_attention.
// Reference: features from differentiable ops (matmul, sum, max, exp), then kernel_attention.
#include "attention/kernel/performer.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

#include "attention/head_rows.h"
#include "attention/kernel/feature_map_attention.h"
#include "attention/kernel/kernel_attention.h"
#include "core/kernels/small_gemm.h"
#include "core/kernels/fastmath.h"
#include "core/kernels/parallel.h"
#include "core/ops/ops.h"
#include "core/util/reference_mode.h"

namespace attnlab::attention {

namespace {

// max over the M floats of a row (vectorized: the max reduction in a form that GCC vectorizes).
float row_max(const float* p, int64_t M) {
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int64_t i = 0; i < M; ++i) mx = p[i] > mx ? p[i] : mx;
    return mx;
}

// features() for the fused op, on rows: exp(c·W x − c²‖x‖²/2 − shift − ½ log M), c = D^(−1/4);
// the shift is the row's max over the features (queries) or the head's max over all its keys
// (key_shift[bh]: found by key_shifts() before a causal call, by the op's own pass over the
// keys otherwise, see running_shift). The shift is a constant: no gradient through it.
struct PositiveFeatures final : FeatureMap {
    Tensor W, Wt;  // [M, D] and its transpose [D, M]
    float c;
    mutable std::vector<float> key_shift;  // per batch·head; empty for queries
    bool find_shift = false;               // keys of a non-causal call: the op finds key_shift

    PositiveFeatures(const Tensor& W_, int64_t D)
        : W(W_.contiguous()), Wt(W_.T().contiguous()), c(std::pow(float(D), -0.25f)) {}
    int64_t features(int64_t) const override { return W.size(0); }

    // e [rows, M] = c·x Wᵀ − c²‖x‖²/2
    void exponent(const float* x, int64_t ldx, int64_t rows, int64_t D, float* e) const {
        const int64_t M = W.size(0);
        small::gemm<false>(rows, M, D, c, x, ldx, Wt.data(), M, false, e, M);
        for (int64_t r = 0; r < rows; ++r) {
            const float* xr = x + r * ldx;
            float ss = 0.f;
#pragma omp simd reduction(+ : ss)
            for (int64_t d = 0; d < D; ++d) ss += xr[d] * xr[d];
            const float half = 0.5f * c * c * ss;
            float* er = e + r * M;
#pragma omp simd
            for (int64_t m = 0; m < M; ++m) er[m] -= half;
        }
    }
    void forward(int64_t bh, const float* x, int64_t ldx, int64_t rows, int64_t D, float* phi) const override {
        exponent(x, ldx, rows, D, phi);
        if (key_shift.empty())
            for (int64_t r = 0; r < rows; ++r) exp_shifted(phi + r * features(D), 1, row_max(phi + r * features(D), features(D)));
        else
            exp_shifted(phi, rows, key_shift[size_t(bh)]);
    }
    bool running_shift() const override { return find_shift; }
    void exponent(int64_t, const float* x, int64_t ldx, int64_t rows, int64_t D, float* e) const override {
        exponent(x, ldx, rows, D, e);
    }
    // e [rows, M] -> exp(e − shift − ½ log M) in place.
    void exp_shifted(float* e, int64_t rows, float shift) const override {
        const int64_t n = rows * W.size(0);
        const float offset = shift + 0.5f * std::log(float(W.size(0)));
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) e[i] = fast::exp(e[i] - offset);
    }
    void set_shift(int64_t bh, float shift) const override { key_shift[size_t(bh)] = shift; }
    // dexponent = dphi ∘ phi;  dx = c·dexponent W − c²·(Σ_m dexponent_m)·x  (per-thread scratch)
    void backward(int64_t, const float* x, int64_t ldx, int64_t rows, int64_t D, const float* phi, const float* dphi,
                  float* dx, int64_t lddx) const override {
        const int64_t M = W.size(0);
        thread_local std::vector<float> buf;
        if (int64_t(buf.size()) < rows * M) buf.resize(size_t(rows * M));
        float* de = buf.data();
#pragma omp simd
        for (int64_t i = 0; i < rows * M; ++i) de[i] = dphi[i] * phi[i];
        small::gemm<false>(rows, D, M, c, de, M, W.data(), D, false, dx, lddx);
        for (int64_t r = 0; r < rows; ++r) {
            const float* der = de + r * M;
            float s = 0.f;
#pragma omp simd reduction(+ : s)
            for (int64_t m = 0; m < M; ++m) s += der[m];
            const float scale = c * c * s;
            const float* xr = x + r * ldx;
            float* dr = dx + r * lddx;
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) dr[d] -= scale * xr[d];
        }
    }
};

// Per batch·head, the max of the exponent over all keys and features, 64 keys at a time, heads
// in parallel, on the rows of k as they are (a strided view is not copied).
std::vector<float> key_shifts(const PositiveFeatures& phi, const Tensor& k_in) {
    Tensor k = unit_last_stride(k_in.detach());
    const int64_t BH = k.size(0) * k.size(1), N = k.size(2), D = k.size(3), M = phi.W.size(0), chunk = 64;
    const HeadRows K(k);
    std::vector<float> shift(size_t(BH), -INFINITY);
    parallel_for_balanced(0, BH, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
        std::vector<float> e(size_t(chunk * M));
        for (int64_t bh = lo; bh < hi; ++bh)
            for (int64_t c0 = 0; c0 < N; c0 += chunk) {
                const int64_t rows = std::min(chunk, N - c0);
                phi.exponent(K.at(bh, c0), K.row, rows, D, e.data());
                shift[size_t(bh)] = std::max(shift[size_t(bh)], *std::max_element(e.begin(), e.begin() + rows * M));
            }
    });
    return shift;
}

}  // namespace

Tensor orthogonal_gaussian_rows(int64_t M, int64_t D, Generator& gen) {
    std::vector<float> W(size_t(M * D)), gaussian(size_t(D * D));
    std::vector<double> block(size_t(D * D));
    for (int64_t start = 0; start < M; start += D) {
        gen.fill_normal(gaussian.data(), D * D, 0.f, 1.f);
        for (int64_t r = 0; r < D; ++r) {  // modified Gram–Schmidt, row by row
            double* br = &block[size_t(r * D)];
            for (int64_t d = 0; d < D; ++d) br[d] = gaussian[size_t(r * D + d)];
            for (int64_t p = 0; p < r; ++p) {
                const double* bp = &block[size_t(p * D)];
                double dot = 0;
                for (int64_t d = 0; d < D; ++d) dot += br[d] * bp[d];
                for (int64_t d = 0; d < D; ++d) br[d] -= dot * bp[d];
            }
            double norm = 0;
            for (int64_t d = 0; d < D; ++d) norm += br[d] * br[d];
            norm = std::sqrt(norm);
            for (int64_t d = 0; d < D; ++d) br[d] /= norm;
        }
        for (int64_t r = 0; r < std::min(D, M - start); ++r)
            for (int64_t d = 0; d < D; ++d) W[size_t((start + r) * D + d)] = float(block[size_t(r * D + d)]);
    }
    std::vector<float> lengths(size_t(M * D));  // row m gets the length of g_m ~ N(0, I_D)
    gen.fill_normal(lengths.data(), M * D, 0.f, 1.f);
    for (int64_t m = 0; m < M; ++m) {
        double len = 0;
        for (int64_t d = 0; d < D; ++d) len += double(lengths[size_t(m * D + d)]) * lengths[size_t(m * D + d)];
        for (int64_t d = 0; d < D; ++d) W[size_t(m * D + d)] *= float(std::sqrt(len));
    }
    return Tensor::from_vector(W, {M, D});
}

Tensor iid_gaussian_rows(int64_t M, int64_t D, Generator& gen) {
    std::vector<float> W(size_t(M * D));
    gen.fill_normal(W.data(), M * D, 0.f, 1.f);
    return Tensor::from_vector(W, {M, D});
}

PerformerAttention::PerformerAttention(const Options& opts, const AttentionContext& ctx)
    : Attention(opts), M_(opts.get_int("features")),
      D_(ctx.head_dim),
      redraw_interval_(opts.get_int("redraw_interval")),
      orthogonal_(opts.get_bool("orthogonal")),
      trig_(opts.get_bool("trig")),
      gen_(resolve_seed("performer", opts.get_int("seed"))) {
    check(M_ >= 1, "performer: option features=", M_, " is invalid; need at least 1 random feature");
    check(redraw_interval_ >= 0, "performer: option redraw_interval=", redraw_interval_,
          " is invalid; use 0 (never redraw) or a number of training forwards >= 1");
    check(D_ >= 1, "performer: the head dim must be known at construction (AttentionContext.head_dim), got ", D_);
    W_ = register_buffer("projection", orthogonal_ ? orthogonal_gaussian_rows(M_, D_, gen_) : iid_gaussian_rows(M_, D_, gen_));
}

void PerformerAttention::draw_projection() {
    W_ = orthogonal_ ? orthogonal_gaussian_rows(M_, D_, gen_) : iid_gaussian_rows(M_, D_, gen_);
    set_buffer("projection", W_);
}

Tensor PerformerAttention::features(const Tensor& x, bool is_query) const {
    Tensor xs = x * std::pow(float(D_), -0.25f);                                  // x / D^{1/4}
    if (trig_) {  // exp(‖x‖²/2 − c) [sin Wx, cos Wx] / √M; queries without the (cancelling) exp
        Tensor wx = matmul(xs, W_.T());
        Tensor trig = concat({sin(wx), cos(wx)}, -1) * (1.f / std::sqrt(float(M_)));
        if (is_query) return trig;
        Tensor half_norm = sum(xs * xs, {-1}, true) * 0.5f;                      // [..., N, 1]
        return trig * exp(half_norm - max(half_norm.detach(), -2, true));         // c: max over the keys
    }
    Tensor exponent = matmul(xs, W_.T()) - sum(xs * xs, {-1}, true) * 0.5f;       // W x − ‖x‖²/2  [..., N, M]
    Tensor e = exponent.detach();                                                  // the shift cancels: no gradient
    Tensor shift = is_query ? max(e, -1, true) : max(max(e, -1, true), -2, true);  // [..., N, 1] or [..., 1, 1]
    return exp(exponent - (shift + 0.5f * std::log(float(M_))));                  // the 1/√M inside exp
}

Tensor PerformerAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("performer", q, k, v);
    check(q.size(-1) == D_, "performer: head dim of q ", to_string(q.shape()), " is not the ", D_, " it was built for");
    count_forward();
    if (trig_)  // signed features may sum to ≤ 0: no floor there (−∞), the estimator's instability shows as is
        return kernel_attention(features(q, true), features(k, false), v, causal, -INFINITY);
    if (!reference && !reference_mode())
        return feature_map_attention(q, k, v, query_features(), key_features(k), causal, 0.f, FLT_MIN);
    return kernel_attention(features(q, true), features(k, false), v, causal, FLT_MIN);
}

Tensor PerformerAttention::forward_packed(const Tensor& qkv, int64_t heads) {
    if (trig_ || reference || reference_mode()) return Attention::forward_packed(qkv, heads);
    check(qkv.dim() == 3 && heads > 0 && qkv.size(2) == 3 * heads * D_, "performer: packed qkv ",
          to_string(qkv.shape()), " with ", heads, " heads does not have the head dim ", D_, " it was built for");
    count_forward();
    return feature_map_attention_packed(qkv, heads, query_features(), key_features(split_packed_qkv(qkv, heads)[1]),
                                        causal, 0.f, FLT_MIN);
}

void PerformerAttention::count_forward() {
    if (!is_training() || redraw_interval_ == 0) return;
    if (forwards_since_draw_ == redraw_interval_) {
        draw_projection();
        forwards_since_draw_ = 0;
    }
    ++forwards_since_draw_;
}

std::shared_ptr<const FeatureMap> PerformerAttention::query_features() const {
    return std::make_shared<PositiveFeatures>(W_, D_);
}

std::shared_ptr<const FeatureMap> PerformerAttention::key_features(const Tensor& k) const {
    auto phi = std::make_shared<PositiveFeatures>(W_, D_);
    if (causal) {
        phi->key_shift = key_shifts(*phi, k);
    } else {  // found by feature_map_attention in its pass over the keys
        phi->key_shift.assign(size_t(k.size(0) * k.size(1)), -INFINITY);
        phi->find_shift = true;
    }
    return phi;
}

std::string PerformerAttention::describe() const {
    return cat("PerformerAttention(M=", M_, orthogonal_ ? "" : ", i.i.d.", trig_ ? ", trig" : "", redraw_interval_ ? cat(", redraw every ", redraw_interval_) : "",
               causal ? ", causal" : "", ")");
}

}  // namespace attnlab::attention

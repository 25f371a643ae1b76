// performer.cpp — see performer.h. Features from differentiable ops (matmul,
// sum, max, exp); the attention itself is kernel_attention.
#include "attention/performer.h"

#include <cfloat>
#include <cmath>
#include <vector>

#include "attention/kernel_attention.h"
#include "core/ops.h"

namespace attnlab::attention {

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
    : M_(opts.get_int("features")),
      D_(ctx.head_dim),
      redraw_interval_(opts.get_int("redraw_interval")),
      orthogonal_(opts.get_bool("orthogonal")),
      trig_(opts.get_bool("trig")),
      gen_(resolve_seed("performer", opts.get_int("seed"))) {
    causal = opts.get_bool("causal");
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
    if (is_training() && redraw_interval_ > 0) {
        if (forwards_since_draw_ == redraw_interval_) {
            draw_projection();
            forwards_since_draw_ = 0;
        }
        ++forwards_since_draw_;
    }
    // trig features may sum to ≤ 0: no floor there (−∞), the estimator's instability shows as is
    return kernel_attention(features(q, true), features(k, false), v, causal, trig_ ? -INFINITY : FLT_MIN);
}

std::string PerformerAttention::describe() const {
    return cat("PerformerAttention(M=", M_, orthogonal_ ? "" : ", i.i.d.", trig_ ? ", trig" : "", redraw_interval_ ? cat(", redraw every ", redraw_interval_) : "",
               causal ? ", causal" : "", ")");
}

}  // namespace attnlab::attention

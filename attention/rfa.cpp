// rfa.cpp — see rfa.h. Features from differentiable ops (normalize, matmul,
// sin, cos, concat); the attention itself is kernel_attention.
#include "attention/rfa.h"

#include <cmath>

#include "attention/kernel_attention.h"
#include "core/ops.h"

namespace attnlab::attention {

RandomFeatureAttention::RandomFeatureAttention(const Options& opts, const AttentionContext& ctx)
    : M_(opts.get_int("features")),
      D_(ctx.head_dim),
      sigma_(float(opts.get_double("sigma"))),
      redraw_(opts.get_bool("redraw")),
      gen_(resolve_seed("rfa", opts.get_int("seed"))) {
    causal = opts.get_bool("causal");
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
    return kernel_attention(features(q), features(k), v, causal, min_mean_kernel);
}

std::string RandomFeatureAttention::describe() const {
    return cat("RandomFeatureAttention(M=", M_, ", sigma=", sigma_, redraw_ ? ", redraw" : "", causal ? ", causal" : "", ")");
}

}  // namespace attnlab::attention

// linear_elu.cpp — see linear_elu.h. The fast path is feature_map_attention
// with φ below; the reference is composed of differentiable ops plus the fused
// causal_product, so its backward comes from theirs.
#include "attention/kernel/linear_elu.h"

#include "attention/kernel/causal_product.h"
#include "attention/kernel/feature_map_attention.h"
#include "attention/kernel/row_math.h"
#include "core/ops/ops.h"
#include "core/util/reference_mode.h"

namespace attnlab::attention {

static Tensor phi(const Tensor& x) { return elu(x) + 1.f; }  // > 0 everywhere

// The same φ on rows for the fused op: x + 1 for x > 0, eˣ otherwise (row_math.h); φ' = 1 or eˣ = φ,
// that is min(φ, 1), so the backward does not read x again.
struct EluPlusOne final : FeatureMap {
    int64_t features(int64_t D) const override { return D; }
    void forward(int64_t, const float* x, int64_t ldx, int64_t rows, int64_t D, float* phi) const override {
        for (int64_t r = 0; r < rows; ++r) elu_plus_one(x + r * ldx, phi + r * D, D);
    }
    void backward(int64_t, const float* x, int64_t ldx, int64_t rows, int64_t D, const float* phi, const float* dphi,
                  float* dx, int64_t lddx) const override {
        for (int64_t r = 0; r < rows; ++r) {  // φ' = min(φ, 1): φ = x + 1 ≥ 1 where x > 0, eˣ ≤ 1 elsewhere
            const float *p = phi + r * D, *g = dphi + r * D;
            float* o = dx + r * lddx;
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) o[d] = g[d] * (p[d] < 1.f ? p[d] : 1.f);
        }
    }
};

static std::shared_ptr<const FeatureMap> elu_plus_one() {
    static const auto map = std::make_shared<const EluPlusOne>();
    return map;
}

LinearAttentionState LinearAttentionState::zeros(int64_t B, int64_t H, int64_t D, int64_t Dv) {
    return {Tensor::zeros({B, H, D, Dv}), Tensor::zeros({B, H, D})};
}

LinearEluAttention::LinearEluAttention(const Options& opts, const AttentionContext&) : Attention(opts) {
    eps = float(opts.get_double("eps"));
    check(eps >= 0.f, "linear_elu attention: option eps must be >= 0, got ", eps);
}

Tensor LinearEluAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("linear_elu attention", q, k, v);
    if (!reference && !reference_mode()) return feature_map_attention(q, k, v, elu_plus_one(), elu_plus_one(), causal, eps);
    Tensor fq = phi(q), fk = phi(k);  // [B,H,N,D]
    Tensor num, den;
    if (causal) {
        num = causal_product(fq, fk, v);                     // φ(q_i)ᵀ Σ_{j≤i} φ(k_j) v_jᵀ   [B,H,N,Dv]
        den = sum(fq * cumsum(fk, 2), {-1}, true);           // φ(q_i)ᵀ Σ_{j≤i} φ(k_j)        [B,H,N,1]
    } else {
        num = matmul(fq, matmul(fk.transpose(-2, -1), v));   // φ(Q) (φ(K)ᵀ V)
        den = sum(fq * sum(fk, {2}, true), {-1}, true);      // φ(q_i)ᵀ Σ_j φ(k_j)
    }
    return num / (den + eps);
}

Tensor LinearEluAttention::forward_packed(const Tensor& qkv, int64_t heads) {
    if (reference || reference_mode()) return Attention::forward_packed(qkv, heads);
    return feature_map_attention_packed(qkv, heads, elu_plus_one(), elu_plus_one(), causal, eps);
}

Tensor LinearEluAttention::step(LinearAttentionState& state, const Tensor& q_t, const Tensor& k_t,
                                const Tensor& v_t) const {
    check(q_t.dim() == 3 && q_t.shape() == k_t.shape() && v_t.dim() == 3 && v_t.size(0) == q_t.size(0) &&
              v_t.size(1) == q_t.size(1),
          "linear_elu step: expected q_t, k_t [B,H,D] and v_t [B,H,Dv], got ", to_string(q_t.shape()), ", ",
          to_string(k_t.shape()), ", ", to_string(v_t.shape()));
    const int64_t B = q_t.size(0), H = q_t.size(1), D = q_t.size(2), Dv = v_t.size(2);
    check(state.S.defined() && state.z.defined() && state.S.shape() == Shape{B, H, D, Dv} &&
              state.z.shape() == Shape{B, H, D},
          "linear_elu step: state S ", state.S.defined() ? to_string(state.S.shape()) : "undefined", ", z ",
          state.z.defined() ? to_string(state.z.shape()) : "undefined", " does not match [B,H,D,Dv] = [", B, ",", H,
          ",", D, ",", Dv, "]; start from LinearAttentionState::zeros");
    Tensor fq = phi(q_t), fk = phi(k_t);                            // [B,H,D]
    state.S = state.S + unsqueeze(fk, -1) * unsqueeze(v_t, -2);     // S += φ(k_t) v_tᵀ
    state.z = state.z + fk;                                          // z += φ(k_t)
    Tensor num = squeeze(matmul(unsqueeze(fq, -2), state.S), -2);  // φ(q_t)ᵀ S   [B,H,Dv]
    Tensor den = sum(fq * state.z, {-1}, true);                     // φ(q_t)ᵀ z   [B,H,1]
    return num / (den + eps);
}

namespace {
struct RecurrentState : DecodeState {
    LinearAttentionState s;
};
}  // namespace

std::unique_ptr<DecodeState> LinearEluAttention::begin_decoding(int64_t B, int64_t H, int64_t N, int64_t D) const {
    if (decoding() == Decoding::None) return Attention::begin_decoding(B, H, N, D);
    auto st = std::make_unique<RecurrentState>();
    st->s = LinearAttentionState::zeros(B, H, D, D);
    return st;
}

Tensor LinearEluAttention::decode_step(DecodeState& state, const Tensor& q_t, const Tensor& k_t, const Tensor& v_t) const {
    auto* st = dynamic_cast<RecurrentState*>(&state);
    check(st != nullptr, "linear_elu decode_step: the state was not made by this variant's begin_decoding");
    return step(st->s, q_t, k_t, v_t);
}

}  // namespace attnlab::attention

// performer.h — FAVOR+ (Choromanski, Likhosherstov, Dohan, Song, Gane, Sarlos,
// Hawkins, Davis, Mohiuddin, Kaiser, Belanger, Colwell, Weller, 2021, ICLR,
// "Rethinking Attention with Performers").
//
// Positive random features of x = q/D^{1/4} (resp. k/D^{1/4}):
//   φ(x) = exp(W x − ‖x‖²/2) / √M,   W [M, D],
// are unbiased for the softmax kernel when each row w_m ~ N(0, I_D):
//   E[φ(x)·φ(y)] = exp(x·y) = exp(q·k/√D), hence
//   out = D̂⁻¹ (φ(Q) (φ(K)ᵀ V)),   D̂ = diag(φ(Q) (φ(K)ᵀ 1_N))   ≈   softmax(QKᵀ/√D) V.
// Orthogonal random features (lower variance): W is stacked from blocks of D
// orthonormal rows (Gram–Schmidt on a D×D Gaussian matrix, i.e. the Q of its QR),
// the last block cut to what M needs, and row m is rescaled by the norm of an
// independent N(0, I_D) vector (chi distributed, D degrees of freedom), so each
// row alone is still N(0, I_D) while rows of a block stay orthogonal.
//
// Stability (as in the reference implementation): before exp, a constant is
// subtracted from the exponent W x − ‖x‖²/2 — for a query its max over the M
// features, for the keys its max over all keys and features of the (batch, head).
// A constant per query multiplies numerator and denominator of that query alike,
// one shared by all keys multiplies every term alike: both cancel exactly, so they
// are detached (no gradient). With causal=true the key constant still spans all N
// keys; it cancels all the same, so the future reaches the past only through
// rounding (and underflow for extreme inputs). Differences from the reference:
// it subtracts the max of W x alone and adds 1e-4 to every feature; here the
// largest feature is exactly 1/√M and no epsilon is added — the denominator is
// only floored at n_i·FLT_MIN to avoid 0/0 should everything underflow.
//
// For measuring the approximation (not for training), two other estimators of the
// same kernel: orthogonal=false draws the rows of W i.i.d. from N(0, I_D), and
// trig=true uses the paper's trigonometric features
//   φ(x) = exp(‖x‖²/2) [sin(W x), cos(W x)] / √M   (2M features, E[φ(x)·φ(y)] = exp(x·y)),
// unbiased too but signed: the normalizer D̂ can be near 0 or negative, which is why
// FAVOR+ uses positive features. The query's exp(‖q‖²/2) cancels and is left out.
//
// Time O(N·M·D), memory O(N·M + N·D + M·D) per head; the N×N matrix is never formed.
// Cost (attention/cost.h): forward 8·B·H·N·M·D + 2·B·H·N·M flops (W q and W k, then φ(K)ᵀV,
// φ(Q)(…) and the normalizer), backward twice that; traffic q, k, v, out and their gradients.
// Fast path: the fused feature_map_attention op (features, state and normalizer chunk by
// chunk, hand-written backward; the key shift is found in the op's own pass over the keys as a
// running max, S and z rescaled where it grows, or, causal, in a first pass over the keys); the
// composed features() + kernel_attention are its reference (reference = true), held equal by tests.
// forward_packed takes the packed qkv projection whole (one [B, N, 3C] gradient).
// Options (types and defaults: attention/registry.cpp): features M, redraw_interval (0 =
// never; r > 0 draws a new W after every r training forwards, so each W serves r of them;
// never in eval mode), seed (-1 = drawn from the global generator), causal (prefix sums over
// j ≤ i), orthogonal, trig.
#pragma once
#include <memory>

#include "attention/attention.h"
#include "core/util/rng.h"

namespace attnlab::attention {

struct FeatureMap;  // feature_map_attention.h

class PerformerAttention : public Attention {
public:
    PerformerAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    // The fused op on the packed projection: one [B, N, 3C] gradient (reference: the split views).
    Tensor forward_packed(const Tensor& qkv, int64_t heads) override;
    std::string describe() const override;
    nn::RandomState random_state() const override {
        return generator_state(gen_, {uint64_t(forwards_since_draw_)});
    }
    void set_random_state(const nn::RandomState& s) override {
        restore_generator(gen_, s, 3, "performer");
        forwards_since_draw_ = int64_t(s[2]);
    }

    // Stabilized φ(x / D^{1/4}) with the current W: x [..., N, D] -> [..., N, M], up to
    // the constant factor (per query row, or per key set) described above.
    Tensor features(const Tensor& x, bool is_query) const;
    const Tensor& projection() const { return W_; }  // W [M, D], buffer "projection"
    bool reference = false;  // true: the composed ops (readable reference) instead of the fused op

private:
    void draw_projection();
    void count_forward();  // redraws W every redraw_interval training forwards
    // The fused op's feature maps for these keys (their shift: the max exponent per head).
    std::shared_ptr<const FeatureMap> query_features() const;
    std::shared_ptr<const FeatureMap> key_features(const Tensor& k) const;

    int64_t M_, D_, redraw_interval_;
    bool orthogonal_, trig_;
    int64_t forwards_since_draw_ = 0;  // training forwards that used the current W
    Generator gen_;
    Tensor W_;
};

// ⌈M/D⌉ blocks of D orthonormal rows (the last one cut), row m scaled by ‖g_m‖, g_m ~ N(0, I_D).
Tensor orthogonal_gaussian_rows(int64_t M, int64_t D, Generator& gen);
// M rows drawn i.i.d. from N(0, I_D).
Tensor iid_gaussian_rows(int64_t M, int64_t D, Generator& gen);

}  // namespace attnlab::attention

// rfa.h — Random Feature Attention (Peng, Pappas, Yogatama, Schwartz, Smith,
// Kong, 2021, ICLR, "Random Feature Attention").
//
// Random Fourier features (Rahimi & Recht, 2007) of L2-normalized q̂ = q/‖q‖, k̂ = k/‖k‖:
//   φ(x) = [sin(W x), cos(W x)] / √M,   W [M, D] with rows w_m ~ N(0, σ⁻² I)
// give E[φ(x)·φ(y)] = E[cos(w·(x−y))] = exp(−‖x−y‖²/2σ²) = e^{−1/σ²} exp(x·y/σ²)
// for unit x, y, so (the constant e^{−1/σ²} cancels)
//   out_i = φ(q̂_i)ᵀ Σ_j φ(k̂_j) v_jᵀ / φ(q̂_i)ᵀ Σ_j φ(k̂_j)   ≈   softmax(q̂ k̂ᵀ/σ²) V,
// attention on normalized queries and keys with temperature σ² (not softmax(QKᵀ/√D)).
// About σ: the paper writes w ~ N(0, σ²I) next to the kernel exp(−‖x−y‖²/2σ²), but
// N(0, σ²I) gives exp(−σ²‖x−y‖²/2); we keep the kernel and draw w ~ N(0, σ⁻²I).
// At the default σ = 1 both readings agree.
//
// Stability: sin/cos features make the estimated denominator φ(q̂_i)ᵀ Σ_j φ(k̂_j)
// unbiased but not positive. The exact one is a sum of n_i kernel values, each
// ≥ e^{−2/σ²} (unit vectors are at most 2 apart), so it is clamped below at
// n_i·e^{−2/σ²}: a clamped value is never further from the truth than the raw
// estimate. For σ < 0.38 the floor is n_i·1e-6 instead (> n_i·e^{−2/σ²}): it
// then only guards against division by ~0. The gradient is zero where clamped.
//
// Time O(N·M·D), memory O(N·M + N·D + M·D) per head; the N×N matrix is never formed.
// Cost (attention/cost.h): forward 12·B·H·N·M·D + 4·B·H·N·M flops (W q̂ and W k̂, then the
// 2M-dim products and normalizer), backward twice that; traffic q, k, v, out and gradients.
// Fast path: the fused feature_map_attention op (features, state and normalizer chunk by
// chunk, hand-written backward); the composed features() + kernel_attention are its
// reference (reference = true), held equal by tests.
// forward_packed takes the packed qkv projection whole (one [B, N, 3C] gradient).
// Options (types and defaults: attention/registry.cpp): features M, sigma σ, redraw (true
// draws a new W at every training forward, W stays fixed in eval mode), seed (-1 = drawn
// from the global generator), causal (prefix sums over j ≤ i).
#pragma once
#include "attention/attention.h"
#include "core/util/rng.h"

namespace attnlab::attention {

class RandomFeatureAttention : public Attention {
public:
    RandomFeatureAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    // The fused op on the packed projection: one [B, N, 3C] gradient (reference: the split views).
    Tensor forward_packed(const Tensor& qkv, int64_t heads) override;
    std::string describe() const override;
    nn::RandomState random_state() const override { return generator_state(gen_); }
    void set_random_state(const nn::RandomState& s) override { restore_generator(gen_, s, 2, "rfa"); }

    // φ(x/‖x‖) with the current frequencies: x [..., D] -> [..., 2M].
    Tensor features(const Tensor& x) const;
    const Tensor& frequencies() const { return W_; }  // W [M, D], buffer "frequencies"
    bool reference = false;  // true: the composed ops (readable reference) instead of the fused op

private:
    void draw_frequencies();
    float min_mean_kernel() const;  // the denominator's floor per key, exp(−2/σ²) (at least 1e-6)

    int64_t M_, D_;
    float sigma_;
    bool redraw_;
    Generator gen_;
    Tensor W_;
};

}  // namespace attnlab::attention

// attention_helpers.h — shared checks to point at any attention variant.
//
//   check_attention_gradients("linformer", {{"k", 4}}, ctx);   // gradcheck of q, k, v and parameters
//   check_causal_no_leak("linear_elu", {{"causal", true}});     // future tokens never change the past
//   check_fast_path_equals_reference(run, x, 1e-5f);            // fused path = composed reference
// The dense O(N²) versions of the variants that tests compare against are in attention/reference/.
// One variant's tests carry its name as a tag: OMP_NUM_THREADS=1 ./attnlab_tests "[performer]".
#pragma once
#include <cmath>
#include <functional>

#include "attention/softmax/reference.h"
#include "attention/registry.h"
#include "tests/support/helpers.h"

namespace attnlab::testing {

struct QKV {
    Tensor q, k, v;
};

// Random q, k, v [B, H, N, D] that require grad; `scale` sets the logit magnitude.
inline QKV random_qkv(int64_t B, int64_t H, int64_t N, int64_t D, uint64_t seed, float scale = 1.f) {
    Generator g(seed);
    return {leaf(Tensor::randn({B, H, N, D}, g) * scale), leaf(Tensor::randn({B, H, N, D}, g) * scale),
            leaf(Tensor::randn({B, H, N, D}, g))};
}

// x with every entry at least `margin` away from 0 (entries closer move to ±margin, 0 to
// +margin): finite differences of step eps across a kink at 0 (ReLU feature maps, |x|) are
// meaningless, so gradient checks keep their inputs out of reach of one.
inline Tensor away_from_zero(const Tensor& x, float margin) {
    std::vector<float> a = x.detach().contiguous().to_vector();
    for (float& e : a)
        if (std::fabs(e) < margin) e = e < 0.f ? -margin : margin;
    return leaf(Tensor::from_vector(a, x.shape()));
}

// Finite-difference check of d(out)/d(q, k, v) and of every parameter of the variant, on
// inputs kept 3·eps away from 0 (away_from_zero).
// Variants with randomness must be deterministic between calls in eval mode (fixed features/hashes).
inline void check_attention_gradients(const std::string& name, const attention::Options& opts = {},
                                      int64_t N = 6, int64_t D = 4, const GradcheckOptions& gc = {}) {
    auto attn = attention::make_attention(name, opts, {N, D, 2});
    attn->eval();
    QKV r = random_qkv(2, 2, N, D, 77);
    const float margin = 3.f * gc.eps;
    QKV x{away_from_zero(r.q, margin), away_from_zero(r.k, margin), away_from_zero(r.v, margin)};
    std::vector<Tensor> inputs{x.q, x.k, x.v};
    for (Tensor& p : attn->parameters()) inputs.push_back(p);
    require_gradcheck([&](const std::vector<Tensor>& in) { return attn->forward(in[0], in[1], in[2]); }, inputs, gc);
}

// Changing tokens t+1.. of q, k and v never changes outputs 0..t.
inline void check_causal_no_leak(const std::string& name, const attention::Options& opts, int64_t N = 8, int64_t D = 4) {
    auto attn = attention::make_attention(name, opts, {N, D, 2});
    attn->eval();
    NoGradGuard no_grad;
    QKV x = random_qkv(1, 2, N, D, 5);
    Tensor base = attn->forward(x.q.detach(), x.k.detach(), x.v.detach());
    for (int64_t t = 0; t + 1 < N; ++t) {
        Generator g(100 + uint64_t(t));
        auto perturb = [&](const Tensor& a) {
            Tensor b = a.detach().clone();
            copy_(b.narrow(2, t + 1, N - t - 1), Tensor::randn({1, 2, N - t - 1, D}, g) * 3.f);
            return b;
        };
        Tensor out = attn->forward(perturb(x.q), perturb(x.k), perturb(x.v));
        INFO(name << ": output at positions <= " << t << " changed when later tokens changed");
        require_close(out.narrow(2, 0, t + 1), base.narrow(2, 0, t + 1), 1e-5f);
    }
}

// A fast path equals its readable reference: the same outputs, and the same gradients
// of q, k, v for a random upstream gradient, within `tol`. `run(reference, q, k, v)`
// computes the variant one way or the other.
inline void check_fast_path_equals_reference(
    const std::function<Tensor(bool reference, const Tensor&, const Tensor&, const Tensor&)>& run, const QKV& x,
    float tol) {
    Tensor out[2], grads[2][3];
    for (int reference = 0; reference < 2; ++reference) {
        QKV y{x.q.detach().requires_grad_(), x.k.detach().requires_grad_(), x.v.detach().requires_grad_()};  // strides kept
        out[reference] = run(reference == 1, y.q, y.k, y.v);
        Generator g(11);
        out[reference].backward(Tensor::randn(out[reference].shape(), g));
        grads[reference][0] = y.q.grad(), grads[reference][1] = y.k.grad(), grads[reference][2] = y.v.grad();
    }
    require_close(out[0], out[1], tol);
    for (int i = 0; i < 3; ++i) {
        INFO("gradient of " << "qkv"[i]);
        REQUIRE(grads[0][i].defined() == grads[1][i].defined());  // (reformer ignores k)
        if (grads[0][i].defined()) require_close(grads[0][i], grads[1][i], tol);
    }
}

// Live tensor bytes at the peak of one forward + backward of `name` on [B, H, N, D]
// inputs, above what was live before (the inputs and all gradients included).
inline size_t forward_backward_peak_bytes(const std::string& name, const attention::Options& opts, int64_t N,
                                          int64_t D = 16, int64_t B = 1, int64_t H = 2) {
    auto attn = attention::make_attention(name, opts, {N, D, H});
    const size_t before = storage_bytes_in_use();
    reset_storage_peak();
    {
        QKV x = random_qkv(B, H, N, D, 3);
        Tensor out = attn->forward(x.q, x.k, x.v);
        out.backward(Tensor::ones(out.shape()));
    }
    return storage_bytes_peak() - before;
}

// Peak live tensor bytes of one forward and backward at N tokens, above what was live once the
// inputs existed (forward_backward_peak_bytes counts the inputs too).
inline size_t peak_bytes(const std::string& name, const attention::Options& opts, int64_t N, int64_t D = 16) {
    auto attn = attention::make_attention(name, opts, {N, D, 2});
    QKV x = random_qkv(1, 2, N, D, 3);
    size_t before = storage_bytes_in_use();
    reset_storage_peak();
    sum(attn->forward(x.q, x.k, x.v)).backward();
    return storage_bytes_peak() - before;
}

// peak_bytes at 2N over peak_bytes at N (quadratic memory gives ~4, linear ~2).
inline double peak_ratio(const std::string& name, const attention::Options& opts, int64_t N = 1024) {
    size_t small = peak_bytes(name, opts, N), large = peak_bytes(name, opts, 2 * N);
    WARN(name << " peak bytes of forward + backward: N=" << N << ": " << small << ", N=" << 2 * N << ": " << large
              << ", ratio " << double(large) / double(small));
    return double(large) / double(small);
}

// Doubling N from 1024 to 2048 at most ~doubles the peak memory of forward + backward
// (an N×N attention matrix would quadruple it).
inline void check_memory_subquadratic(const std::string& name, const attention::Options& opts = {}) {
    const size_t at_1024 = forward_backward_peak_bytes(name, opts, 1024);
    const size_t at_2048 = forward_backward_peak_bytes(name, opts, 2048);
    const double ratio = double(at_2048) / double(at_1024);
    WARN(name << (opts.values().empty() ? "" : " (" + opts.to_string() + ")") << ": peak bytes of forward+backward at N=1024: " << at_1024
              << ", at N=2048: " << at_2048 << ", ratio " << ratio);
    REQUIRE(ratio < 2.5);
}

}  // namespace attnlab::testing

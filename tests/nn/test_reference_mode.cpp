// test_reference_mode.cpp — reference mode (core/util/reference_mode.h): every
// fast path against the readable path the switch selects instead, and a whole
// ViT training step (loss, every gradient, every updated weight) run both ways.
//
// Stated tolerances (the paths differ only in float rounding: summation order,
// polynomial vs libm math):
//   gemm:                 |fast - reference| ≤ 1e-5 · Σ_p |a(i,p) b(p,j)| (+ beta term)
//   exp, sigmoid:         relative 1e-6;   tanh, erf-GELU, tanh-GELU: 1e-6·(1 + |x|) absolute
//   softmax attention:    1e-5·(1 + |reference|), outputs and input gradients
//   one AdamW step:       1e-6·(1 + |reference|)
//   ViT training step:    per tensor, max |fast - reference| ≤ 1e-4 · max |reference|
//                         (loss: relative 1e-5), except the key bias's updated
//                         weight: see key_bias below.
// Every "fast" side runs under ReferenceModeGuard(false), so the tests mean the
// same when the suite itself runs with ATTNLAB_REFERENCE=1.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <tuple>

#include "attention/softmax/reference.h"
#include "core/kernels/blas.h"
#include "core/kernels/fastmath.h"
#include "core/kernels/small_gemm.h"
#include "core/util/reference_mode.h"
#include "nn/models/vit.h"
#include "nn/optim/adam.h"
#include "tests/support/helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

namespace {

std::vector<float> random_values(int64_t n, uint64_t seed) {
    Generator g(seed);
    return Tensor::randn({n}, g).to_vector();
}

// op(X)[i][j] for X stored row-major with leading dimension ld.
float op_at(const std::vector<float>& X, bool trans, int64_t i, int64_t j, int64_t ld) {
    return trans ? X[size_t(j * ld + i)] : X[size_t(i * ld + j)];
}

// One gemm call, fast or reference, on copies of the same C.
std::vector<float> run_gemm(bool reference, bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha,
                            const std::vector<float>& A, int64_t lda, const std::vector<float>& B, int64_t ldb,
                            float beta, std::vector<float> C, int64_t ldc) {
    ReferenceModeGuard mode(reference);
    gemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, C.data(), ldc);
    return C;
}

// max |a - b| / scale over the elements, where scale[i] > 0.
float max_scaled_difference(const std::vector<float>& a, const std::vector<float>& b, const std::vector<float>& scale) {
    float worst = 0.f;
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::fabs(a[i] - b[i]) / scale[i]);
    return worst;
}

// Runs f once fast and once in reference mode.
template <class F>
std::pair<Tensor, Tensor> fast_and_reference(F f) {
    Tensor fast, reference;
    {
        ReferenceModeGuard mode(false);
        fast = f();
    }
    {
        ReferenceModeGuard mode(true);
        reference = f();
    }
    return {fast, reference};
}

void require_close_abs(const Tensor& x, const Tensor& got, const Tensor& expected, float tol) {
    std::vector<float> xs = x.to_vector(), a = got.to_vector(), b = expected.to_vector();
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        INFO("x = " << xs[i] << ": fast " << a[i] << ", reference " << b[i]);
        REQUIRE(std::fabs(a[i] - b[i]) <= tol * (1.f + std::fabs(xs[i])));
    }
}

}  // namespace

// ---- the switch -------------------------------------------------------------

TEST_CASE("ReferenceModeGuard sets reference mode for its scope and restores it", "[reference-mode]") {
    const bool before = reference_mode();
    {
        ReferenceModeGuard on(true);
        REQUIRE(reference_mode());
        {
            ReferenceModeGuard off(false);
            REQUIRE_FALSE(reference_mode());
        }
        REQUIRE(reference_mode());
    }
    REQUIRE(reference_mode() == before);
}

// ---- GEMM -------------------------------------------------------------------

TEST_CASE("gemm in reference mode is the plain triple loop, bit for bit", "[reference-mode]") {
    const int64_t M = 7, N = 5, K = 9;
    std::vector<float> A = random_values(M * K, 1), B = random_values(K * N, 2), C = random_values(M * N, 3);
    std::vector<float> expected = C;
    gemm_reference(false, true, M, N, K, 0.5f, A.data(), K, B.data(), K, -1.5f, expected.data(), N);
    REQUIRE(run_gemm(true, false, true, M, N, K, 0.5f, A, K, B, K, -1.5f, C, N) == expected);
}

TEST_CASE("gemm_reference computes alpha op(A) op(B) + beta C for every transpose, alpha and beta",
          "[reference-mode]") {
    const int64_t M = 4, N = 3, K = 5, ld = 8;  // leading dimensions wider than the matrices
    std::vector<float> A = random_values(8 * ld, 4), B = random_values(8 * ld, 5), C0 = random_values(M * ld, 6);
    for (bool ta : {false, true})
        for (bool tb : {false, true})
            for (float alpha : {1.f, -0.75f})
                for (float beta : {0.f, 1.f, 0.5f}) {
                    std::vector<float> C = C0;
                    gemm_reference(ta, tb, M, N, K, alpha, A.data(), ld, B.data(), ld, beta, C.data(), ld);
                    for (int64_t i = 0; i < M; ++i)
                        for (int64_t j = 0; j < N; ++j) {
                            double sum = 0;
                            for (int64_t p = 0; p < K; ++p) sum += double(op_at(A, ta, i, p, ld)) * op_at(B, tb, p, j, ld);
                            double want = alpha * sum + (beta == 0.f ? 0.0 : beta * C0[size_t(i * ld + j)]);
                            INFO("ta " << ta << " tb " << tb << " alpha " << alpha << " beta " << beta << " at " << i
                                       << "," << j);
                            REQUIRE(std::fabs(C[size_t(i * ld + j)] - want) <= 1e-5 * (1 + std::fabs(want)));
                        }
                    for (int64_t j = N; j < ld; ++j) REQUIRE(C[size_t(j)] == C0[size_t(j)]);  // outside C: untouched
                }
}

TEST_CASE("gemm agrees with its reference loop for every transpose, alpha and beta, small and split shapes",
          "[reference-mode]") {
    // 300×200×64 is 7.7 MFLOP: above blas.cpp's split threshold, so its block paths run too.
    for (auto [M, N, K] : {std::tuple<int64_t, int64_t, int64_t>{5, 3, 7}, {33, 40, 17}, {300, 200, 64}})
        for (bool ta : {false, true})
            for (bool tb : {false, true})
                for (auto [alpha, beta] : {std::pair{1.f, 0.f}, {0.5f, 1.f}, {-2.f, 0.25f}}) {
                    const int64_t lda = ta ? M : K, ldb = tb ? K : N;
                    std::vector<float> A = random_values(M * K, 7), B = random_values(K * N, 8),
                                       C = random_values(M * N, 9);
                    std::vector<float> fast = run_gemm(false, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
                    std::vector<float> ref = run_gemm(true, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
                    std::vector<float> scale(size_t(M * N));
                    for (int64_t i = 0; i < M; ++i)
                        for (int64_t j = 0; j < N; ++j) {
                            double s = 0;
                            for (int64_t p = 0; p < K; ++p)
                                s += std::fabs(op_at(A, ta, i, p, lda) * op_at(B, tb, p, j, ldb));
                            scale[size_t(i * N + j)] =
                                float(std::fabs(alpha) * s + std::fabs(beta * C[size_t(i * N + j)])) + 1e-30f;
                        }
                    INFO(M << "x" << N << "x" << K << " ta " << ta << " tb " << tb << " alpha " << alpha << " beta "
                           << beta);
                    REQUIRE(max_scaled_difference(fast, ref, scale) <= 1e-5f);
                }
}

TEST_CASE("small::gemm in reference mode is its plain loop and agrees with the blocked kernel", "[reference-mode]") {
    const int64_t m = 13, n = 37, k = 11;
    std::vector<float> A = random_values(k * m, 10), B = random_values(k * n, 11), C0 = random_values(m * n, 12);
    for (bool accumulate : {false, true}) {
        std::vector<float> fast = C0, ref = C0, loop = C0;
        {
            ReferenceModeGuard mode(false);
            small::gemm<true>(m, n, k, 0.75f, A.data(), m, B.data(), n, accumulate, fast.data(), n);
        }
        {
            ReferenceModeGuard mode(true);
            small::gemm<true>(m, n, k, 0.75f, A.data(), m, B.data(), n, accumulate, ref.data(), n);
        }
        small::gemm_loop<true>(m, n, k, 0.75f, A.data(), m, B.data(), n, accumulate, loop.data(), n);
        REQUIRE(ref == loop);
        for (size_t i = 0; i < fast.size(); ++i) REQUIRE(std::fabs(fast[i] - ref[i]) <= 1e-5f * (1 + std::fabs(ref[i])));
    }
}

// ---- fast:: math ------------------------------------------------------------

TEST_CASE("exp, sigmoid, tanh and GELU use std math in reference mode and agree with fast math", "[reference-mode]") {
    std::vector<float> xs;
    for (int i = 0; i <= 4000; ++i) xs.push_back(-20.f + 0.01f * float(i));  // [-20, 20]
    Tensor x = Tensor::from_vector(xs, {int64_t(xs.size())});

    auto [fast_exp, ref_exp] = fast_and_reference([&] { return exp(x); });
    std::vector<float> fe = fast_exp.to_vector(), re = ref_exp.to_vector();
    for (size_t i = 0; i < xs.size(); ++i) {
        INFO("exp(" << xs[i] << ")");
        REQUIRE(re[i] == std::exp(xs[i]));
        REQUIRE(std::fabs(fe[i] - re[i]) <= 1e-6f * re[i]);
    }
    auto [fast_sig, ref_sig] = fast_and_reference([&] { return sigmoid(x); });
    require_close(fast_sig, ref_sig, 1e-6f);

    auto [fast_tanh, ref_tanh] = fast_and_reference([&] { return tanh(x); });
    std::vector<float> rt = ref_tanh.to_vector();
    for (size_t i = 0; i < xs.size(); ++i) REQUIRE(rt[i] == std::tanh(xs[i]));
    require_close_abs(x, fast_tanh, ref_tanh, 1e-6f);

    auto [fast_gelu, ref_gelu] = fast_and_reference([&] { return gelu(x); });
    std::vector<float> rg = ref_gelu.to_vector();
    for (size_t i = 0; i < xs.size(); ++i)
        REQUIRE(rg[i] == 0.5f * xs[i] * (1.f + std::erf(xs[i] * 0.70710678118654752f)));
    require_close_abs(x, fast_gelu, ref_gelu, 1e-6f);
    auto [fast_gelu_tanh, ref_gelu_tanh] = fast_and_reference([&] { return gelu(x, GeluApprox::Tanh); });
    require_close_abs(x, fast_gelu_tanh, ref_gelu_tanh, 1e-6f);
}

TEST_CASE("GELU and softmax gradients agree between fast and std math", "[reference-mode]") {
    auto grad_of = [](const std::function<Tensor(const Tensor&)>& f, bool reference) {
        ReferenceModeGuard mode(reference);
        Tensor x = randn({6, 50}, 13);
        (f(x) * randn({6, 50}, 14)).sum().backward();
        return x.grad();
    };
    for (auto f : {std::function<Tensor(const Tensor&)>([](const Tensor& x) { return gelu(x); }),
                   std::function<Tensor(const Tensor&)>([](const Tensor& x) { return gelu(x, GeluApprox::Tanh); }),
                   std::function<Tensor(const Tensor&)>([](const Tensor& x) { return softmax(x * 3.f, -1); }),
                   std::function<Tensor(const Tensor&)>([](const Tensor& x) { return log_softmax(x * 3.f, -1); })})
        require_close(grad_of(f, false), grad_of(f, true), 1e-5f);
}

// ---- fused attention --------------------------------------------------------

TEST_CASE("softmax attention in reference mode is the composed form and agrees with the fused op, "
          "forward and gradients", "[reference-mode]") {
    for (bool causal : {false, true})
        for (int64_t N : {9, 150}) {  // 150 keys: the tiled kernel (> 128), 9: the dense one
            const Shape shape{2, 2, N, 8};
            auto run = [&](bool reference) {
                ReferenceModeGuard mode(reference);
                Tensor q = randn(shape, 20), k = randn(shape, 21), v = randn(shape, 22);
                Tensor out = scaled_dot_product_attention(q, k, v, causal);
                (out * randn(shape, 23)).sum().backward();
                return std::vector<Tensor>{out, q.grad(), k.grad(), v.grad()};
            };
            std::vector<Tensor> fast = run(false), ref = run(true);
            {
                ReferenceModeGuard mode(true);
                Tensor composed = attention::masked_softmax_attention(
                    randn(shape, 20), randn(shape, 21), randn(shape, 22),
                    causal ? attention::causal_mask(N, N) : Tensor::from_bools(std::vector<bool>(size_t(N * N)), {N, N}));
                require_close(ref[0], composed, 1e-6f);
            }
            for (size_t i = 0; i < fast.size(); ++i) {
                INFO("causal " << causal << ", N " << N << ", tensor " << i << " (out, dq, dk, dv)");
                require_close(fast[i], ref[i], 1e-5f);
            }
        }
}

TEST_CASE("packed softmax attention in reference mode agrees with the fused packed op, forward and gradient",
          "[reference-mode]") {
    const int64_t B = 2, N = 5, H = 2, D = 8;
    for (bool causal : {false, true}) {
        auto run = [&](bool reference) {
            ReferenceModeGuard mode(reference);
            Tensor qkv = randn({B, N, 3 * H * D}, 30);
            Tensor out = scaled_dot_product_attention_packed(qkv, H, causal);
            (out * randn({B, H, N, D}, 31)).sum().backward();
            return std::pair{out, qkv.grad()};
        };
        auto [fast_out, fast_grad] = run(false);
        auto [ref_out, ref_grad] = run(true);
        require_close(fast_out, ref_out, 1e-5f);
        require_close(fast_grad, ref_grad, 1e-5f);
    }
}

// ---- fused AdamW ------------------------------------------------------------

TEST_CASE("AdamW in reference mode updates each parameter by its own loop and agrees with the fused update",
          "[reference-mode]") {
    auto run = [](bool reference) {
        nn::ParamGroup decay, no_decay;
        decay.weight_decay = 0.1;
        decay.params = {{"w", randn({4, 3}, 40)}, {"u", randn({2, 5}, 41)}};
        no_decay.params = {{"b", randn({3}, 42)}};
        nn::AdamW opt({decay, no_decay}, {.lr = 1e-2});
        ReferenceModeGuard mode(reference);
        for (uint64_t step = 0; step < 3; ++step) {  // the bias corrections change with the step
            opt.zero_grad();
            for (const nn::ParamGroup& g : opt.groups())
                for (const auto& [name, p] : g.params) copy_(p.grad(), randn(p.shape(), 50 + step * 7 + uint64_t(p.numel())).detach());
            opt.step();
        }
        std::vector<Tensor> out{opt.flat_params().clone()};
        for (const auto& [name, t] : opt.state_tensors()) out.push_back(t.clone());
        return out;
    };
    std::vector<Tensor> fast = run(false), ref = run(true);
    REQUIRE(fast.size() == ref.size());
    for (size_t i = 0; i < fast.size(); ++i) require_close(fast[i], ref[i], 1e-6f);
}

// ---- a whole ViT training step ----------------------------------------------

namespace {

struct StepResult {
    float loss = 0;
    std::map<std::string, Tensor> grads, weights;
};

// One AdamW step of a tiny seeded ViT (image 8, patch 4, dim 16, depth 2, 2
// heads, softmax attention) on a batch of 4; built the same way in both modes.
// Weight decay 0.5: its shrink lr·wd = 5e-4 is five times the tolerance, so a
// path that dropped it would fail.
StepResult vit_training_step(bool reference) {
    nn::ViTConfig c;
    c.image_size = 8, c.patch_size = 4, c.channels = 3, c.num_classes = 10;
    c.dim = 16, c.depth = 2, c.heads = 2, c.mlp_ratio = 2.0, c.attention = "softmax";
    c.dropout = 0.0, c.drop_path = 0.0;
    std::unique_ptr<nn::VisionTransformer> vit;
    std::unique_ptr<nn::AdamW> opt;
    Tensor x, y;
    {
        ReferenceModeGuard mode(false);
        manual_seed(0);
        vit = std::make_unique<nn::VisionTransformer>(c);
        opt = std::make_unique<nn::AdamW>(nn::parameter_groups_for_adamw(*vit, 0.5), nn::AdamWOptions{.lr = 1e-3});
        Generator data(1);
        x = Tensor::randn({4, 3, 8, 8}, data);
        y = Tensor::from_indices({3, 1, 4, 1}, {4});
    }
    ReferenceModeGuard mode(reference);
    opt->zero_grad();
    Tensor loss = cross_entropy(vit->forward(x), y);
    loss.backward();
    opt->step();
    StepResult r;
    r.loss = loss.item();
    for (const auto& [name, p] : vit->named_parameters()) {
        r.grads[name] = p.grad().clone();
        r.weights[name] = p.detach().clone();
    }
    return r;
}

// The key third of an attention block's qkv bias [(q|k|v) × dim]. Its gradient
// is zero in exact arithmetic (adding b·q to every score of a row leaves the
// softmax unchanged), so in float it is rounding noise, which Adam (step
// m̂/(√v̂ + ε) ≈ sign(g) when |g| ≫ ε = 1e-8) turns into a step of up to ±lr in
// either mode: its updated weight is not compared, its gradient is held to ~0.
bool is_qkv_bias(const std::string& name) { return name.size() >= 8 && name.ends_with("qkv.bias"); }
Tensor key_bias(const Tensor& qkv_bias) { return qkv_bias.narrow(0, qkv_bias.size(0) / 3, qkv_bias.size(0) / 3); }
Tensor without_key_bias(const Tensor& qkv_bias) {
    const int64_t C = qkv_bias.size(0) / 3;
    return concat({qkv_bias.narrow(0, 0, C), qkv_bias.narrow(0, 2 * C, C)}, 0);
}

double max_abs(const Tensor& t) {
    double m = 0;
    for (float v : t.to_vector()) m = std::max(m, double(std::fabs(v)));
    return m;
}

// max |a - b| / max |b| over one tensor (b the reference).
double relative_max_difference(const Tensor& a, const Tensor& b) {
    std::vector<float> va = a.to_vector(), vb = b.to_vector();
    double diff = 0, scale = 0;
    for (size_t i = 0; i < va.size(); ++i) {
        diff = std::max(diff, double(std::fabs(va[i] - vb[i])));
        scale = std::max(scale, double(std::fabs(vb[i])));
    }
    return scale > 0 ? diff / scale : diff;
}

}  // namespace

TEST_CASE("a ViT training step gives the same loss, gradients and updated weights in fast and reference mode",
          "[reference-mode]") {
    constexpr double kTensorTol = 1e-4, kLossTol = 1e-5;  // see the header
    StepResult fast = vit_training_step(false), ref = vit_training_step(true);
    REQUIRE(fast.grads.size() == ref.grads.size());
    double worst_grad = 0, worst_weight = 0;
    std::string worst_grad_name, worst_weight_name;
    for (const auto& [name, g] : ref.grads) {
        const double dg = relative_max_difference(fast.grads.at(name), g);
        Tensor w_fast = fast.weights.at(name), w_ref = ref.weights.at(name);
        if (is_qkv_bias(name)) {
            for (const StepResult* r : {&fast, &ref}) {
                INFO(name << ": key-bias gradient " << max_abs(key_bias(r->grads.at(name))) << " against "
                          << max_abs(r->grads.at(name)) << " for the whole qkv bias");
                CHECK(max_abs(key_bias(r->grads.at(name))) <= 1e-5 * max_abs(r->grads.at(name)));
            }
            w_fast = without_key_bias(w_fast), w_ref = without_key_bias(w_ref);
        }
        const double dw = relative_max_difference(w_fast, w_ref);
        if (dg >= worst_grad) worst_grad = dg, worst_grad_name = name;
        if (dw >= worst_weight) worst_weight = dw, worst_weight_name = name;
        INFO(name << ": gradient differs by " << dg << ", updated weight by " << dw << " of the tensor's max |value|");
        CHECK(dg <= kTensorTol);
        CHECK(dw <= kTensorTol);
    }
    const double loss_diff = std::fabs(double(fast.loss) - ref.loss) / std::fabs(double(ref.loss));
    std::printf("reference mode, ViT step: loss fast %.7f reference %.7f (relative difference %.2e); max gradient "
                "difference %.2e (%s), max updated-weight difference %.2e (%s), relative to each tensor's max\n",
                fast.loss, ref.loss, loss_diff, worst_grad, worst_grad_name.c_str(), worst_weight,
                worst_weight_name.c_str());
    REQUIRE(loss_diff <= kLossTol);
    REQUIRE(worst_grad > 0);  // the two paths really ran different code
}

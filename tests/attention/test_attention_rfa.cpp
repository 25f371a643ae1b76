// test_attention_rfa.cpp — Random Feature Attention (attention/kernel/rfa.h).
#include <cmath>

#include "attention/kernel/kernel_attention.h"
#include "attention/kernel/rfa.h"
#include "attention/reference/kernel.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static std::shared_ptr<attention::RandomFeatureAttention> make_rfa(const attention::Options& opts, int64_t D) {
    auto attn = std::dynamic_pointer_cast<attention::RandomFeatureAttention>(attention::make_attention("rfa", opts, {0, D, 2}));
    REQUIRE(attn != nullptr);
    return attn;
}

// Mean |out − softmax(q̂k̂ᵀ)V| (σ = 1) over B=1, H=2, N=128, D=16, averaged over 5 feature seeds.
static double rfa_error(int64_t M) {
    const int64_t N = 128, D = 16;
    NoGradGuard no_grad;
    QKV x = random_qkv(1, 2, N, D, 42, 0.5f);  // q, k ~ N(0, 1)/D^{1/4} (rfa normalizes them anyway)
    auto unit = [](const Tensor& t) { return t / sqrt(sum(t * t, {-1}, true)); };
    Tensor exact = matmul(softmax(matmul(unit(x.q), unit(x.k).T()), -1), x.v);
    double err = 0;
    for (int64_t seed = 0; seed < 5; ++seed) {
        auto attn = attention::make_attention("rfa", {{"features", M}, {"seed", seed}}, {N, D, 2});
        attn->eval();
        err += mean(abs(attn->forward(x.q, x.k, x.v) - exact)).item() / 5;
    }
    return err;
}

TEST_CASE("rfa equals its dense form φ(Q̂)φ(K̂)ᵀV / floored row sums, causal and not", "[attention][rfa]") {
    for (bool causal : {false, true}) {
        INFO("causal = " << causal);
        auto attn = make_rfa({{"features", int64_t(16)}, {"seed", int64_t(4)}, {"causal", causal}}, 6);
        attn->eval();
        QKV x = random_qkv(2, 2, 10, 6, 12);
        require_close(attn->forward(x.q, x.k, x.v),
                      attention::dense_rfa(attn->frequencies(), 1.f, x.q, x.k, x.v, causal), 1e-4f);
    }
}

TEST_CASE("rfa gradients match finite differences, with and without causal masking", "[attention][rfa]") {
    check_attention_gradients("rfa", {{"seed", int64_t(1)}});
    check_attention_gradients("rfa", {{"seed", int64_t(2)}, {"features", int64_t(8)}, {"causal", true}});
}

TEST_CASE("causal rfa: later tokens never change earlier outputs", "[attention][rfa]") {
    check_causal_no_leak("rfa", {{"causal", true}, {"seed", int64_t(3)}});
}

TEST_CASE("rfa features are [sin, cos](W q/|q|)/sqrt(M) of its frequency buffer, fed to kernel_attention",
          "[attention][rfa]") {
    const int64_t M = 6, D = 4;
    auto attn = make_rfa({{"features", M}, {"seed", int64_t(5)}}, D);
    attn->eval();
    REQUIRE(attn->named_buffers().size() == 1);
    REQUIRE(attn->named_buffers()[0].first == "frequencies");
    std::vector<float> W = attn->frequencies().to_vector();
    QKV x = random_qkv(1, 2, 5, D, 6);
    std::vector<float> q = x.q.to_vector(), expected;
    for (int64_t row = 0; row < 10; ++row) {
        double norm = 0;
        for (int64_t d = 0; d < D; ++d) norm += double(q[size_t(row * D + d)]) * q[size_t(row * D + d)];
        std::vector<double> proj(size_t(M), 0.0);
        for (int64_t m = 0; m < M; ++m)
            for (int64_t d = 0; d < D; ++d) proj[size_t(m)] += W[size_t(m * D + d)] * q[size_t(row * D + d)] / std::sqrt(norm);
        for (int64_t m = 0; m < M; ++m) expected.push_back(float(std::sin(proj[size_t(m)]) / std::sqrt(double(M))));
        for (int64_t m = 0; m < M; ++m) expected.push_back(float(std::cos(proj[size_t(m)]) / std::sqrt(double(M))));
    }
    require_close(attn->features(x.q), expected, 1e-5f);
    require_close(attn->forward(x.q, x.k, x.v),
                  attention::kernel_attention(attn->features(x.q), attn->features(x.k), x.v, false, std::exp(-2.f)), 1e-6f);
}

TEST_CASE("rfa (sigma=1) error against softmax(q^k^T)V shrinks as the number of features grows", "[attention][rfa]") {
    std::vector<double> errors;
    for (int64_t M : {16, 64, 256, 1024}) {
        errors.push_back(rfa_error(M));
        WARN("rfa, sigma=1: M=" << M << " mean |error| = " << errors.back());
    }
    for (size_t i = 1; i < errors.size(); ++i) REQUIRE(errors[i] < errors[i - 1]);
    REQUIRE(errors.back() < 0.02);
}

TEST_CASE("rfa features estimate the Gaussian kernel exp(-|x-y|^2/2sigma^2) of unit vectors (sigma=0.5)",
          "[attention][rfa]") {
    const int64_t D = 16;
    const float sigma = 0.5f;
    auto attn = make_rfa({{"features", int64_t(20000)}, {"sigma", double(sigma)}, {"seed", int64_t(10)}}, D);
    NoGradGuard no_grad;
    Generator g(11);
    Tensor x = Tensor::randn({8, D}, g), y = Tensor::randn({8, D}, g);
    y = concat({y.narrow(0, 0, 4), x.narrow(0, 4, 4) + y.narrow(0, 4, 4) * 0.3f}, 0);  // some close pairs
    std::vector<float> estimate = sum(attn->features(x) * attn->features(y), {-1}).to_vector();
    auto unit = [](const Tensor& t) { return t / sqrt(sum(t * t, {-1}, true)); };
    std::vector<float> dist2 = sum(pow(unit(x) - unit(y), 2.f), {-1}).to_vector();
    for (size_t i = 0; i < 8; ++i) {
        float kernel = std::exp(-dist2[i] / (2 * sigma * sigma)), other = std::exp(-sigma * sigma * dist2[i] / 2);
        INFO("pair " << i << ": |x-y|^2 = " << dist2[i] << ", estimate " << estimate[i] << ", kernel " << kernel
                     << ", exp(-sigma^2|x-y|^2/2) = " << other);
        REQUIRE(std::fabs(estimate[i] - kernel) < 0.02f);
    }
}

TEST_CASE("rfa is deterministic in eval mode and redraws its frequencies every training forward only with redraw=true",
          "[attention][rfa]") {
    QKV x = random_qkv(1, 2, 5, 4, 8);
    NoGradGuard no_grad;
    auto fixed = make_rfa({{"seed", int64_t(9)}}, 4);
    Tensor a = fixed->forward(x.q, x.k, x.v), b = fixed->forward(x.q, x.k, x.v);  // train mode, redraw=false
    REQUIRE(a.to_vector() == b.to_vector());

    auto redrawing = make_rfa({{"seed", int64_t(9)}, {"redraw", true}}, 4);
    redrawing->eval();
    Tensor e1 = redrawing->forward(x.q, x.k, x.v), e2 = redrawing->forward(x.q, x.k, x.v);
    REQUIRE(e1.to_vector() == e2.to_vector());
    REQUIRE(e1.to_vector() == a.to_vector());  // same seed, nothing redrawn yet
    redrawing->train();
    std::vector<float> W0 = redrawing->frequencies().to_vector();
    Tensor t1 = redrawing->forward(x.q, x.k, x.v);
    std::vector<float> W1 = redrawing->frequencies().to_vector();
    Tensor t2 = redrawing->forward(x.q, x.k, x.v);
    REQUIRE(W1 != W0);
    REQUIRE(redrawing->frequencies().to_vector() != W1);
    REQUIRE(t1.to_vector() != t2.to_vector());
    REQUIRE(redrawing->named_buffers()[0].second.to_vector() == redrawing->frequencies().to_vector());
    redrawing->eval();  // eval keeps the last drawn frequencies
    REQUIRE(redrawing->forward(x.q, x.k, x.v).to_vector() == t2.to_vector());
}

TEST_CASE("rfa rejects bad options with the option, the value and what is allowed", "[attention][rfa][errors]") {
    REQUIRE_THROWS_WITH(attention::make_attention("rfa", {{"features", int64_t(0)}}, {8, 4, 2}),
                        Catch::Contains("rfa: option features=0 is invalid; need at least 1"));
    REQUIRE_THROWS_WITH(attention::make_attention("rfa", {{"sigma", 0.0}}, {8, 4, 2}),
                        Catch::Contains("rfa: option sigma=0 is invalid; need sigma > 0"));
    REQUIRE_THROWS_WITH(attention::make_attention("rfa", {{"seed", int64_t(-5)}}, {8, 4, 2}),
                        Catch::Contains("rfa: option seed=-5 is invalid"));
    REQUIRE_THROWS_WITH(attention::make_attention("rfa", {}, {}), Catch::Contains("rfa: the head dim must be known"));
}

TEST_CASE("rfa memory grows linearly in N (forward + backward)", "[attention][rfa][memory]") {
    for (bool causal : {false, true}) {
        REQUIRE(peak_ratio("rfa", {{"causal", causal}}) < 2.5);
    }
}

TEST_CASE("rfa fused op equals its composed reference, outputs and gradients, over several chunks",
          "[attention][rfa][fused]") {
    for (bool causal : {false, true})
        for (int64_t N : {1, 64, 150}) {
            INFO("N=" << N << " causal=" << causal);
            auto attn = std::dynamic_pointer_cast<attention::RandomFeatureAttention>(attention::make_attention(
                "rfa", {{"features", int64_t(24)}, {"seed", int64_t(5)}, {"causal", causal}}, {N, 8, 2}));
            auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
                attn->reference = reference;
                return attn->forward(q, k, v);
            };
            check_fast_path_equals_reference(run, random_qkv(2, 2, N, 8, uint64_t(N), 1.5f), 1e-4f);
        }
}

TEST_CASE("gradcheck: rfa fused op across chunk boundaries, causal and not", "[attention][rfa][fused]") {
    for (bool causal : {false, true}) {
        INFO("causal=" << causal);
        check_attention_gradients("rfa", {{"features", int64_t(6)}, {"seed", int64_t(2)}, {"causal", causal}}, 70, 3);
    }
}

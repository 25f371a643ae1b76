// test_attention_performer.cpp — Performer / FAVOR+ (attention/kernel/performer.h).
#include <cmath>

#include "attention/kernel/performer.h"
#include "attention/reference/kernel.h"
#include "attention/reference/softmax.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static std::shared_ptr<attention::PerformerAttention> make_performer(const attention::Options& opts, int64_t D) {
    auto attn = std::dynamic_pointer_cast<attention::PerformerAttention>(attention::make_attention("performer", opts, {0, D, 2}));
    REQUIRE(attn != nullptr);
    return attn;
}

TEST_CASE("performer gradients match finite differences, with and without causal masking", "[attention][performer]") {
    check_attention_gradients("performer", {{"seed", int64_t(1)}});
    check_attention_gradients("performer", {{"seed", int64_t(2)}, {"features", int64_t(8)}, {"causal", true}});
}

TEST_CASE("causal performer: later tokens never change earlier outputs", "[attention][performer]") {
    check_causal_no_leak("performer", {{"causal", true}, {"seed", int64_t(3)}});
}

TEST_CASE("performer equals D^-1 phi(Q)(phi(K)^T V) with the unstabilized features exp(Wx - |x|^2/2)/sqrt(M)",
          "[attention][performer]") {
    NoGradGuard no_grad;
    QKV x = random_qkv(2, 2, 9, 8, 4);
    for (bool causal : {false, true}) {
        INFO("causal = " << causal);
        auto attn = make_performer({{"features", int64_t(12)}, {"seed", int64_t(4)}, {"causal", causal}}, 8);
        attn->eval();
        require_close(attn->forward(x.q, x.k, x.v), attention::dense_performer(attn->projection(), x.q, x.k, x.v, causal), 1e-5f);
    }
}

TEST_CASE("performer projection: orthogonal rows within each block of D, chi-distributed lengths", "[attention][performer]") {
    const int64_t D = 8, M = 2 * D + 3;  // two full blocks and a partial one
    auto attn = make_performer({{"features", M}, {"seed", int64_t(5)}}, D);
    REQUIRE(attn->named_buffers().size() == 1);
    REQUIRE(attn->named_buffers()[0].first == "projection");
    std::vector<float> W = attn->projection().to_vector();
    auto dot = [&](int64_t r, int64_t s) {
        double acc = 0;
        for (int64_t d = 0; d < D; ++d) acc += double(W[size_t(r * D + d)]) * W[size_t(s * D + d)];
        return acc;
    };
    std::vector<double> lengths;
    for (int64_t r = 0; r < M; ++r) lengths.push_back(std::sqrt(dot(r, r)));
    for (int64_t r = 0; r < M; ++r)
        for (int64_t s = r + 1; s < M && s / D == r / D; ++s) {
            INFO("rows " << r << " and " << s);
            REQUIRE(std::fabs(dot(r, s)) < 1e-5 * lengths[size_t(r)] * lengths[size_t(s)]);
        }
    REQUIRE(std::fabs(dot(0, D)) > 1e-3 * lengths[0] * lengths[size_t(D)]);  // different blocks are independent
    REQUIRE(*std::min_element(lengths.begin(), lengths.end()) < *std::max_element(lengths.begin(), lengths.end()) - 0.1);

    // E‖w‖² = D: each row alone is distributed as N(0, I_D).
    Generator g(6);
    std::vector<float> big = attention::orthogonal_gaussian_rows(4096, 16, g).to_vector();
    double mean_sq = 0;
    for (float w : big) mean_sq += double(w) * w / 4096;
    WARN("performer: mean squared row length over 4096 rows, D=16: " << mean_sq);
    REQUIRE(std::fabs(mean_sq - 16) < 0.5);
}

TEST_CASE("performer stays finite where unstabilized features underflow, and averages the values convexly",
          "[attention][performer]") {
    NoGradGuard no_grad;
    QKV x = random_qkv(1, 2, 16, 16, 7, 30.f);  // |x|²/2 ≈ 1800: exp() of the raw exponent is 0
    auto attn = make_performer({{"seed", int64_t(7)}}, 16);
    attn->eval();
    std::vector<float> naive = attention::dense_performer(attn->projection(), x.q, x.k, x.v, false).to_vector();
    REQUIRE_FALSE(std::isfinite(naive[0]));
    std::vector<float> out = attn->forward(x.q, x.k, x.v).to_vector(), v = x.v.to_vector();
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t d = 0; d < 16; ++d) {
            float lo = INFINITY, hi = -INFINITY;
            for (int64_t j = 0; j < 16; ++j) lo = std::min(lo, v[size_t((h * 16 + j) * 16 + d)]), hi = std::max(hi, v[size_t((h * 16 + j) * 16 + d)]);
            for (int64_t i = 0; i < 16; ++i) {
                float o = out[size_t((h * 16 + i) * 16 + d)];
                REQUIRE(std::isfinite(o));
                REQUIRE(o >= lo - 1e-4f);
                REQUIRE(o <= hi + 1e-4f);
            }
        }
}

TEST_CASE("performer error against softmax(QK^T/sqrt(D))V shrinks as the number of features grows", "[attention][performer]") {
    const int64_t N = 128, D = 16;
    NoGradGuard no_grad;
    QKV x = random_qkv(1, 2, N, D, 42, 0.5f);  // q, k ~ N(0, 1)/D^{1/4}
    Tensor exact = attention::dense_softmax(x.q, x.k, x.v);  // softmax(QKᵀ/√D)V, √D = 4
    std::vector<double> errors;
    for (int64_t M : {16, 64, 256, 1024}) {
        double err = 0;
        for (int64_t seed = 0; seed < 5; ++seed) {
            auto attn = attention::make_attention("performer", {{"features", M}, {"seed", seed}}, {N, D, 2});
            attn->eval();
            err += mean(abs(attn->forward(x.q, x.k, x.v) - exact)).item() / 5;
        }
        errors.push_back(err);
        WARN("performer: M=" << M << " mean |error| = " << err);
    }
    for (size_t i = 1; i < errors.size(); ++i) REQUIRE(errors[i] < errors[i - 1]);
    REQUIRE(errors.back() < 0.01);
}

TEST_CASE("performer redraws its projection every redraw_interval training forwards and never in eval mode",
          "[attention][performer]") {
    QKV x = random_qkv(1, 2, 5, 4, 8);
    NoGradGuard no_grad;
    auto attn = make_performer({{"seed", int64_t(9)}, {"redraw_interval", int64_t(2)}}, 4);
    std::vector<std::vector<float>> W;
    for (int step = 0; step < 5; ++step) {
        attn->forward(x.q, x.k, x.v);
        W.push_back(attn->projection().to_vector());
    }
    REQUIRE(W[0] == W[1]);  // forwards 1, 2: the initial projection
    REQUIRE(W[2] != W[1]);  // forward 3: redrawn
    REQUIRE(W[3] == W[2]);
    REQUIRE(W[4] != W[3]);
    REQUIRE(attn->named_buffers()[0].second.to_vector() == W[4]);
    attn->eval();
    Tensor a = attn->forward(x.q, x.k, x.v);
    for (int step = 0; step < 3; ++step) REQUIRE(attn->forward(x.q, x.k, x.v).to_vector() == a.to_vector());
    REQUIRE(attn->projection().to_vector() == W[4]);

    auto never = make_performer({{"seed", int64_t(9)}}, 4);
    std::vector<float> W0 = never->projection().to_vector();
    for (int step = 0; step < 3; ++step) never->forward(x.q, x.k, x.v);
    REQUIRE(never->projection().to_vector() == W0);
}

TEST_CASE("performer rejects bad options with the option, the value and what is allowed", "[attention][performer][errors]") {
    REQUIRE_THROWS_WITH(attention::make_attention("performer", {{"features", int64_t(0)}}, {8, 4, 2}),
                        Catch::Contains("performer: option features=0 is invalid; need at least 1"));
    REQUIRE_THROWS_WITH(attention::make_attention("performer", {{"redraw_interval", int64_t(-1)}}, {8, 4, 2}),
                        Catch::Contains("performer: option redraw_interval=-1 is invalid"));
    REQUIRE_THROWS_WITH(attention::make_attention("performer", {}, {}), Catch::Contains("performer: the head dim must be known"));
}

TEST_CASE("performer memory grows linearly in N (forward + backward)", "[attention][performer][memory]") {
    for (bool causal : {false, true}) {
        REQUIRE(peak_ratio("performer", {{"causal", causal}}) < 2.5);
    }
}

TEST_CASE("performer fused op equals its composed reference, outputs and gradients, over several chunks",
          "[attention][performer][fused]") {
    for (bool causal : {false, true})
        for (int64_t N : {1, 64, 150}) {
            INFO("N=" << N << " causal=" << causal);
            auto attn = std::dynamic_pointer_cast<attention::PerformerAttention>(attention::make_attention(
                "performer", {{"features", int64_t(24)}, {"seed", int64_t(5)}, {"causal", causal}}, {N, 8, 2}));
            auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
                attn->reference = reference;
                return attn->forward(q, k, v);
            };
            check_fast_path_equals_reference(run, random_qkv(2, 2, N, 8, uint64_t(N), 1.5f), 1e-4f);
        }
}

TEST_CASE("gradcheck: performer fused op across chunk boundaries, causal and not", "[attention][performer][fused]") {
    for (bool causal : {false, true}) {
        INFO("causal=" << causal);
        check_attention_gradients("performer", {{"features", int64_t(6)}, {"seed", int64_t(2)}, {"causal", causal}}, 70, 3);
    }
}

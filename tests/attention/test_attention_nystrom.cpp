// test_attention_nystrom.cpp — Nyströmformer (attention/low_rank/nystrom.h).
#include <cmath>

#include "attention/low_rank/nystrom.h"
#include "attention/low_rank/nystrom_kernel.h"
#include "attention/reference/low_rank.h"
#include "attention/reference/softmax.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static float max_abs_diff(const Tensor& a, const Tensor& b) { return max(abs(a - b)).item(); }

TEST_CASE("nystrom gradients match finite differences: even and uneven segments, convolution weights",
          "[attention][nystrom]") {
    check_attention_gradients("nystrom", {{"landmarks", int64_t(3)}}, 6, 4);
    check_attention_gradients("nystrom", {{"landmarks", int64_t(3)}}, 7, 4);
    check_attention_gradients("nystrom", {{"landmarks", int64_t(2)}, {"conv_kernel", int64_t(3)}}, 6, 4);
}

TEST_CASE("segment_means_matrix puts every token in one segment of floor(N/m) or ceil(N/m) tokens", "[attention][nystrom]") {
    std::vector<float> P = attention::segment_means_matrix(4, 13).to_vector();  // segments 0-2, 3-5, 6-8, 9-12
    std::vector<int64_t> first{0, 3, 6, 9, 13};
    for (int64_t s = 0; s < 4; ++s)
        for (int64_t j = 0; j < 13; ++j) {
            bool inside = j >= first[size_t(s)] && j < first[size_t(s + 1)];
            REQUIRE(P[size_t(s * 13 + j)] == (inside ? 1.f / float(first[size_t(s + 1)] - first[size_t(s)]) : 0.f));
        }
    std::vector<float> identity(25, 0.f);  // m = N: segments of one token
    for (int64_t i = 0; i < 5; ++i) identity[size_t(i * 6)] = 1.f;
    require_close(attention::segment_means_matrix(5, 5), identity, 0.f);
}

static Tensor eye(int64_t m) {
    Tensor I = Tensor::zeros({m, m});
    for (int64_t i = 0; i < m; ++i) I.data()[i * (m + 1)] = 1.f;
    return I;
}

TEST_CASE("iterative_pinv inverts a well-conditioned softmax matrix in the default 6 iterations", "[attention][nystrom]") {
    Generator g(2);
    Tensor A = softmax(Tensor::randn({3, 8, 8}, g) * 0.5f + eye(8) * 3.f, -1);  // diagonally dominant
    float err = max_abs_diff(matmul(A, attention::iterative_pinv(A, 6)), eye(8));
    WARN("nystrom: max |A Z - I| after 6 iterations: " << err);
    REQUIRE(err < 1e-5f);
}

// Rounding noise along A's null space grows by q(0) = 13/4 per step once the rest has
// converged, so many more steps than needed slowly break ZAZ = Z in float32 (≈4e-3 after 15).
TEST_CASE("iterative_pinv of a singular matrix satisfies the Moore-Penrose conditions", "[attention][nystrom]") {
    Generator g(3);
    Tensor rows = softmax(Tensor::randn({6, 6}, g) * 0.5f + eye(6) * 3.f, -1);
    Tensor A = concat({rows.narrow(0, 0, 5), rows.narrow(0, 4, 1)}, 0);  // rows 4 and 5 equal: rank 5
    Tensor Z = attention::iterative_pinv(A, 8), AZ = matmul(A, Z), ZA = matmul(Z, A);
    float e[4] = {max_abs_diff(matmul(AZ, A), A), max_abs_diff(matmul(ZA, Z), Z), max_abs_diff(AZ, AZ.T()),
                  max_abs_diff(ZA, ZA.T())};
    WARN("nystrom: Moore-Penrose residuals |AZA-A| " << e[0] << ", |ZAZ-Z| " << e[1] << ", |AZ-(AZ)^T| " << e[2]
                                                     << ", |ZA-(ZA)^T| " << e[3] << ", max |Z| " << max(abs(Z)).item());
    for (float r : e) REQUIRE(r < 1e-5f);
}

// The iteration first grows each eigenvalue s²/(‖A‖₁‖A‖∞) of A Z₀ by ~3.25× per step, then
// converges fast; full N×N softmax matrices of random tokens have s_min² ~ 1e-4..1e-5,
// so the paper's 6 steps (meant for the m×m landmark matrix) leave errors of a few 1e-2
// here. With 15 steps the error is ~1e-6 (more steps start to amplify rounding).
TEST_CASE("nystrom equals its dense form: the N×N matrix F·pinv(A)·B built explicitly, applied to V",
          "[attention][nystrom]") {
    for (auto [N, m] : {std::pair<int64_t, int64_t>{16, 4}, {13, 4}, {9, 9}}) {
        auto attn = attention::make_attention("nystrom", {{"landmarks", m}}, {N, 4, 2});
        QKV x = random_qkv(2, 2, N, 4, 3, 1.5f);
        INFO("N=" << N << " m=" << m);
        require_close(attn->forward(x.q, x.k, x.v), attention::dense_nystrom(x.q, x.k, x.v, m, 6), 1e-4f);
    }
}

TEST_CASE("nystrom with m = N landmarks (segments of one token) equals softmax attention", "[attention][nystrom]") {
    const int64_t N = 16, D = 8;
    NoGradGuard no_grad;
    QKV x = random_qkv(2, 2, N, D, 11);
    Tensor exact = attention::dense_softmax(x.q, x.k, x.v);
    auto error = [&](int64_t iterations) {
        auto attn = attention::make_attention("nystrom", {{"landmarks", N}, {"pinv_iterations", iterations}}, {N, D, 2});
        return max_abs_diff(attn->forward(x.q, x.k, x.v), exact);
    };
    float e6 = error(6), e10 = error(10), e15 = error(15);
    WARN("nystrom, m = N = " << N << ": max |error| after 6 iterations " << e6 << ", 10: " << e10 << ", 15: " << e15);
    REQUIRE(e10 < e6);
    REQUIRE(e15 < e10);
    REQUIRE(e15 < 1e-4f);
}

TEST_CASE("nystrom is exact when q and k are constant on each of its uneven segments (N=13, m=4)", "[attention][nystrom]") {
    const int64_t N = 13, D = 4;
    std::vector<int64_t> segment_of{0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3};
    Generator g(12);
    std::vector<float> q_seg = Tensor::randn({2, 4, D}, g).to_vector(), k_seg = Tensor::randn({2, 4, D}, g).to_vector();
    std::vector<float> q, k;
    for (int64_t h = 0; h < 2; ++h)
        for (int64_t j = 0; j < N; ++j)
            for (int64_t d = 0; d < D; ++d) {
                q.push_back(q_seg[size_t((h * 4 + segment_of[size_t(j)]) * D + d)]);
                k.push_back(k_seg[size_t((h * 4 + segment_of[size_t(j)]) * D + d)]);
            }
    Tensor qt = Tensor::from_vector(q, {1, 2, N, D}), kt = Tensor::from_vector(k, {1, 2, N, D});
    Tensor v = Tensor::randn({1, 2, N, D}, g);
    auto attn = attention::make_attention("nystrom", {{"landmarks", int64_t(4)}, {"pinv_iterations", int64_t(12)}}, {N, D, 2});
    float err = max_abs_diff(attn->forward(qt, kt, v), attention::dense_softmax(qt, kt, v));
    WARN("nystrom, piecewise-constant q, k on segments 3,3,3,4: max |error| = " << err);
    REQUIRE(err < 1e-4f);
}

TEST_CASE("nystrom conv_kernel adds the zero-padded depthwise convolution of V along the sequence", "[attention][nystrom]") {
    const int64_t N = 7, D = 3, H = 2, K = 3;
    NoGradGuard no_grad;
    QKV x = random_qkv(1, H, N, D, 13);
    auto plain = attention::make_attention("nystrom", {{"landmarks", int64_t(3)}}, {N, D, H});
    auto conv = attention::make_attention("nystrom", {{"landmarks", int64_t(3)}, {"conv_kernel", K}}, {N, D, H});
    REQUIRE(conv->named_parameters().size() == 1);
    REQUIRE(conv->named_parameters()[0].first == "conv_weight");
    std::vector<float> w = conv->named_parameters()[0].second.to_vector(), v = x.v.to_vector(), expected;
    for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < N; ++i)
            for (int64_t d = 0; d < D; ++d) {
                float acc = 0;
                for (int64_t t = 0; t < K; ++t) {
                    int64_t j = i + t - K / 2;
                    if (j >= 0 && j < N) acc += w[size_t(h * K + t)] * v[size_t((h * N + j) * D + d)];
                }
                expected.push_back(acc);
            }
    require_close(conv->forward(x.q, x.k, x.v) - plain->forward(x.q, x.k, x.v), expected, 1e-5f);
}

TEST_CASE("nystrom rejects bad options with the option, the value and what is allowed", "[attention][nystrom][errors]") {
    REQUIRE_THROWS_WITH(attention::make_attention("nystrom", {{"landmarks", int64_t(0)}}, {8, 4, 2}),
                        Catch::Contains("nystrom: option landmarks=0 is invalid; need 1 <= landmarks <= N"));
    REQUIRE_THROWS_WITH(attention::make_attention("nystrom", {{"conv_kernel", int64_t(4)}}, {8, 4, 2}),
                        Catch::Contains("nystrom: option conv_kernel=4 is invalid; use 0 (no convolution) or an odd kernel size"));
    REQUIRE_THROWS_WITH(attention::make_attention("nystrom", {{"pinv_iterations", int64_t(0)}}, {8, 4, 2}),
                        Catch::Contains("nystrom: option pinv_iterations=0 is invalid"));
    QKV x = random_qkv(1, 2, 6, 4, 1);
    REQUIRE_THROWS_WITH(attention::make_attention("nystrom", {{"landmarks", int64_t(8)}}, {6, 4, 2}),
                        Catch::Contains("option landmarks=8 is too large for a sequence of 6 tokens"));
    auto attn = attention::make_attention("nystrom", {{"landmarks", int64_t(8)}}, {0, 4, 2});  // N unknown when built
    REQUIRE_THROWS_WITH(attn->forward(x.q, x.k, x.v),
                        Catch::Contains("nystrom: option landmarks=8 exceeds the sequence length (6 queries, 6 keys)"));
}

TEST_CASE("nystrom memory grows linearly in N (forward + backward)", "[attention][nystrom][memory]") {
    for (int64_t conv_kernel : {0, 3}) {
        attention::Options opts{{"conv_kernel", conv_kernel}};
        REQUIRE(peak_ratio("nystrom", opts) < 2.5);
    }
}

// q, k, v as strided views of a packed [B, N, 3, H, D] projection, as MultiHeadAttention passes them.
static QKV packed_views(int64_t B, int64_t H, int64_t N, int64_t D, uint64_t seed) {
    Generator g(seed);
    Tensor qkv = Tensor::randn({B, N, 3, H, D}, g) * 1.5f;
    Tensor heads = qkv.permute({2, 0, 3, 1, 4});
    return {heads.narrow(0, 0, 1).squeeze(0), heads.narrow(0, 1, 1).squeeze(0), heads.narrow(0, 2, 1).squeeze(0)};
}

TEST_CASE("nystrom fused op equals its composed reference, outputs and gradients, over several chunks",
          "[attention][nystrom][fused]") {
    struct Case {
        int64_t N, Nk, m, iterations, conv_kernel;
    };
    for (Case c : {Case{16, 16, 4, 6, 0}, Case{13, 13, 4, 6, 0}, Case{150, 150, 16, 6, 0}, Case{70, 70, 1, 3, 0},
                   Case{9, 9, 9, 6, 0}, Case{20, 33, 5, 4, 0}, Case{40, 300, 6, 6, 0}, Case{130, 130, 8, 6, 3}}) {
        INFO("N=" << c.N << " Nk=" << c.Nk << " m=" << c.m << " iterations=" << c.iterations << " conv=" << c.conv_kernel);
        auto attn = std::dynamic_pointer_cast<attention::NystromAttention>(attention::make_attention(
            "nystrom", {{"landmarks", c.m}, {"pinv_iterations", c.iterations}, {"conv_kernel", c.conv_kernel}},
            {c.N, 8, 2}));
        auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
            attn->reference = reference;
            return attn->forward(q, k, v);
        };
        QKV x = random_qkv(2, 2, c.N, 8, uint64_t(c.N), 1.5f);
        if (c.Nk != c.N) {  // (300 keys: several key chunks, so B̃'s online softmax rescales)
            QKV y = random_qkv(2, 2, c.Nk, 8, uint64_t(c.Nk) + 7, 1.5f);
            x.k = y.k, x.v = y.v;
        }
        check_fast_path_equals_reference(run, x, 1e-4f);
        if (c.Nk == c.N) check_fast_path_equals_reference(run, packed_views(1, 2, c.N, 8, uint64_t(c.N) + 1), 1e-4f);
    }
}

TEST_CASE("gradcheck: nystrom fused op across chunk boundaries, uneven segments, N queries and Nk keys",
          "[attention][nystrom][fused][gradcheck]") {
    Generator g(21);
    auto input = [&](int64_t n, int64_t d) { return away_from_zero(Tensor::randn({1, 2, n, d}, g), 0.03f); };
    std::vector<Tensor> inputs{input(70, 3), input(45, 3), input(45, 2)};
    require_gradcheck([](const std::vector<Tensor>& in) { return attention::nystrom_attention_fused(in[0], in[1], in[2], 4, 6); },
                      inputs);
}

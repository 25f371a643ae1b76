// test_ops_forward.cpp — forward values of every op against hand-computed or
// closed-form results, and numerical stability at extreme logits.
#include <cmath>

#include "tests/support/helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static Tensor vec(std::vector<float> v) { return Tensor::from_vector(v, {int64_t(v.size())}); }

TEST_CASE("unary ops match their closed forms", "[ops]") {
    Tensor x = vec({-1.5f, -0.5f, 0.25f, 2.f});
    auto each = [&](auto f) {
        std::vector<float> out;
        for (float v : x.to_vector()) out.push_back(f(v));
        return out;
    };
    require_close(neg(x), each([](float v) { return -v; }));
    require_close(exp(x), each([](float v) { return std::exp(v); }));
    require_close(abs(x), {1.5f, 0.5f, 0.25f, 2.f});
    require_close(tanh(x), each([](float v) { return std::tanh(v); }));
    require_close(sigmoid(x), each([](float v) { return 1.f / (1.f + std::exp(-v)); }));
    require_close(relu(x), {0, 0, 0.25f, 2});
    require_close(elu(x), each([](float v) { return v > 0 ? v : std::exp(v) - 1.f; }));
    require_close(sin(x), each([](float v) { return std::sin(v); }));
    require_close(cos(x), each([](float v) { return std::cos(v); }));
    Tensor p = vec({0.25f, 1.f, 4.f});
    require_close(log(p), {std::log(0.25f), 0.f, std::log(4.f)});
    require_close(sqrt(p), {0.5f, 1.f, 2.f});
    require_close(rsqrt(p), {2.f, 1.f, 0.5f});
    require_close(pow(p, 1.5f), {0.125f, 1.f, 8.f});
    require_close(x + 1.f, {-0.5f, 0.5f, 1.25f, 3.f});
    require_close(2.f * x, {-3.f, -1.f, 0.5f, 4.f});
    require_close(1.f - x, {2.5f, 1.5f, 0.75f, -1.f});
    require_close(1.f / vec({2.f, 4.f}), {0.5f, 0.25f});
}

TEST_CASE("sin and cos stay within 3e-7 of the exact values from -1e4 to 1e4", "[ops]") {
    std::vector<float> xs;
    for (int i = 0; i <= 20000; ++i) xs.push_back(-20.f + 0.002f * float(i));                  // dense near 0
    for (int i = 0; i <= 20000; ++i) xs.push_back(-1e4f + 1.0000371f * float(i));              // wide range
    for (int k = -6; k <= 6; ++k) xs.push_back(float(k) * 1.5707963267948966f);               // multiples of π/2
    Tensor x = Tensor::from_vector(xs, {int64_t(xs.size())});
    Tensor s = sin(x), c = cos(x);
    double worst = 0;
    for (size_t i = 0; i < xs.size(); ++i) {
        double v = double(xs[i]);
        worst = std::max({worst, std::fabs(double(s.data()[i]) - std::sin(v)), std::fabs(double(c.data()[i]) - std::cos(v))});
    }
    INFO("largest |error| " << worst);
    REQUIRE(worst < 3e-7);  // against the exact sin/cos of the float input
}

TEST_CASE("gelu matches the erf form and the tanh approximation", "[ops]") {
    Tensor x = vec({-3.f, -1.f, 0.f, 0.5f, 2.f});
    // GELU(x) = x·Φ(x); reference values of Φ from the standard normal table
    require_close(gelu(x), {-3.f * 0.0013499f, -1.f * 0.1586553f, 0.f, 0.5f * 0.6914625f, 2.f * 0.9772499f}, 1e-5f);
    std::vector<float> approx;
    for (float v : x.to_vector())
        approx.push_back(0.5f * v * (1.f + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v))));
    require_close(gelu(x, GeluApprox::Tanh), approx);
}

TEST_CASE("binary ops broadcast like NumPy", "[ops]") {
    Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor row = vec({10, 20, 30});
    Tensor col = Tensor::from_vector({1, 2}, {2, 1});
    require_close(a + row, {11, 22, 33, 14, 25, 36});
    require_close(a - col, {0, 1, 2, 2, 3, 4});
    require_close(a * col, {1, 2, 3, 8, 10, 12});
    require_close(a / row, {0.1f, 0.1f, 0.1f, 0.4f, 0.25f, 0.2f});
    require_close(pow(col, vec({1, 2, 3})), {1, 1, 1, 2, 4, 8});
    require_close(maximum(a, Tensor::scalar(3.5f)), {3.5f, 3.5f, 3.5f, 4, 5, 6});
    require_close(minimum(a, Tensor::scalar(3.5f)), {1, 2, 3, 3.5f, 3.5f, 3.5f});
    REQUIRE((col + row).shape() == Shape{2, 3});
}

TEST_CASE("reductions over all elements and along dims", "[ops]") {
    Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    REQUIRE(sum(a).item() == 21.f);
    REQUIRE(mean(a).item() == 3.5f);
    require_close(sum(a, {0}), {5, 7, 9});
    require_close(sum(a, {1}), {6, 15});
    REQUIRE(sum(a, {1}, true).shape() == Shape{2, 1});
    require_close(mean(a, {-1}), {2, 5});
    require_close(max(a, 1), {3, 6});
    require_close(min(a, 0), {1, 2, 3});
    REQUIRE(max(a).item() == 6.f);
    REQUIRE(min(a).item() == 1.f);
    Tensor b = Tensor::arange(24).reshape({2, 3, 4});
    require_close(sum(b, {0, 2}), {0 + 1 + 2 + 3 + 12 + 13 + 14 + 15, 4 + 5 + 6 + 7 + 16 + 17 + 18 + 19,
                                   8 + 9 + 10 + 11 + 20 + 21 + 22 + 23});
    require_close(sum(b.transpose(0, 2), {0}), sum(b, {2}).transpose(0, 1).contiguous().to_vector());
}

TEST_CASE("a large sum is accurate", "[ops]") {
    Tensor big = Tensor::full({1 << 22}, 0.1f);  // 4M × 0.1
    REQUIRE(sum(big).item() == Approx(419430.4f).epsilon(1e-6));
}

TEST_CASE("a long column sum does not drift (float only within blocks of rows)", "[ops]") {
    Tensor col = Tensor::full({1 << 18, 3}, 0.1f);  // 262,144 × 0.1 per column
    Tensor s = sum(col, {0});
    for (int64_t o = 0; o < 3; ++o) REQUIRE(s.data()[o] == Approx(26214.4f).epsilon(1e-6));
}

TEST_CASE("sums over the leading dim match a double loop, narrow and wide", "[ops]") {
    for (auto [R, O] : {std::pair<int64_t, int64_t>{8320, 7}, {3000, 130}, {5, 5000}}) {
        Generator g(uint64_t(R + O));
        Tensor x = Tensor::randn({R, O}, g);
        Tensor s = sum(x, {0});
        const float* px = x.data();
        for (int64_t o = 0; o < O; o += std::max<int64_t>(1, O / 17)) {
            double expect = 0;
            for (int64_t r = 0; r < R; ++r) expect += px[r * O + o];
            INFO("[" << R << ", " << O << "] column " << o);
            REQUIRE(s.data()[o] == Approx(expect).margin(1e-4));
        }
    }
}

TEST_CASE("matmul: 2-D, batched, broadcast-batched, transposed views and vectors", "[ops]") {
    Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = Tensor::from_vector({1, 0, 0, 1, 1, 1}, {3, 2});
    require_close(matmul(a, b), {4, 5, 10, 11});
    require_close(matmul(a, a.T()), {14, 32, 32, 77});       // transposed view, no copy
    require_close(matmul(a.T(), a), {17, 22, 27, 22, 29, 36, 27, 36, 45});
    Tensor batch = stack({a, 2.f * a}, 0);                    // [2,2,3]
    require_close(matmul(batch, b), {4, 5, 10, 11, 8, 10, 20, 22});
    Tensor bb = stack({b, b}, 0).unsqueeze(0);                // [1,2,3,2] broadcasts with [2,2,3]
    REQUIRE(matmul(batch, bb).shape() == Shape{1, 2, 2, 2});
    require_close(matmul(a, vec({1, 1, 1})), {6, 15});
    require_close(matmul(vec({1, 1}), a), {5, 7, 9});
    Generator g(3);
    Tensor x = Tensor::randn({4, 5, 6}, g), y = Tensor::randn({4, 6, 7}, g);
    Tensor z = matmul(x, y);
    for (int64_t i = 0; i < 4; ++i) require_close(z.slice(0, i, i + 1).squeeze(0), matmul(x.slice(0, i, i + 1).squeeze(0), y.slice(0, i, i + 1).squeeze(0)), 1e-5f);
}

TEST_CASE("linear equals x Wᵀ + b", "[ops]") {
    Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
    Tensor w = Tensor::from_vector({1, 0, 0, 1, 1, 1}, {3, 2});
    Tensor b = vec({0.5f, -1, 0});
    require_close(linear(x, w, b), {1.5f, 1, 3, 3.5f, 3, 7});
    require_close(linear(x, w, Tensor()), {1, 2, 3, 3, 4, 7});
}

TEST_CASE("softmax and log_softmax are correct and stable at logits of ±1e4", "[ops][stability]") {
    Tensor x = Tensor::from_vector({1, 2, 3, 1e4f, -1e4f, 0}, {2, 3});
    float e1 = std::exp(1.f), e2 = std::exp(2.f), e3 = std::exp(3.f), s = e1 + e2 + e3;
    require_close(softmax(x, 1), {e1 / s, e2 / s, e3 / s, 1, 0, 0});
    require_close(log_softmax(x, 1), {std::log(e1 / s), std::log(e2 / s), std::log(e3 / s), 0, -2e4f, -1e4f});
    Tensor col = softmax(x, 0);  // along a non-last dim
    require_close(col.sum({0}), {1, 1, 1});
    for (float v : softmax(Tensor::full({4}, 1e4f), 0).to_vector()) REQUIRE(v == Approx(0.25f));
    Tensor masked = Tensor::full({3}, -INFINITY);
    require_close(softmax(masked, 0), {0, 0, 0});  // fully masked row: zeros, not NaN
}

TEST_CASE("cross_entropy matches -log softmax, with smoothing and reductions, stable at ±1e4", "[ops][stability]") {
    Tensor logits = Tensor::from_vector({2, 1, 0.1f, 0.5f, 2.5f, 0.3f}, {2, 3});
    Tensor t = Tensor::from_indices({0, 1}, {2});
    std::vector<float> ls = log_softmax(logits, 1).to_vector();
    float l0 = -ls[0], l1 = -ls[4];
    require_close(cross_entropy(logits, t, 0.f, Reduction::None), {l0, l1});
    REQUIRE(cross_entropy(logits, t).item() == Approx((l0 + l1) / 2));
    REQUIRE(cross_entropy(logits, t, 0.f, Reduction::Sum).item() == Approx(l0 + l1));
    float eps = 0.1f;
    float s0 = (1 - eps) * l0 + eps / 3 * (-ls[0] - ls[1] - ls[2]);
    REQUIRE(cross_entropy(logits, t, eps, Reduction::None).to_vector()[0] == Approx(s0));
    Tensor extreme = Tensor::from_vector({1e4f, -1e4f, 0}, {1, 3});
    REQUIRE(cross_entropy(extreme, Tensor::from_indices({0}, {1})).item() == Approx(0.f).margin(1e-6));
    REQUIRE(cross_entropy(extreme, Tensor::from_indices({1}, {1})).item() == Approx(2e4f));
    REQUIRE_THROWS_WITH(cross_entropy(logits, Tensor::from_indices({0, 3}, {2})),
                        Catch::Contains("target 3 at row 1 outside [0, 3)"));
}

TEST_CASE("layer_norm normalizes each row then scales and shifts", "[ops]") {
    Tensor x = Tensor::from_vector({1, 2, 3, 4, -2, 0, 2, 4}, {2, 4});
    Tensor y = layer_norm(x, Tensor(), Tensor(), 0.f);
    float r = 1.f / std::sqrt(1.25f);
    require_close(y.slice(0, 0, 1), {-1.5f * r, -0.5f * r, 0.5f * r, 1.5f * r});
    Tensor yw = layer_norm(x, vec({2, 2, 2, 2}), vec({1, 1, 1, 1}), 0.f);
    require_close(yw.slice(0, 0, 1), {1 - 3 * r, 1 - r, 1 + r, 1 + 3 * r});
    require_close(mean(y, {1}), {0, 0}, 1e-5f);
}

TEST_CASE("dropout keeps the expectation and is seeded", "[ops]") {
    Tensor x = Tensor::ones({100000});
    Generator g1(5), g2(5);
    Tensor y1 = dropout(x, 0.3f, true, g1), y2 = dropout(x, 0.3f, true, g2);
    REQUIRE(y1.to_vector() == y2.to_vector());
    REQUIRE(mean(y1).item() == Approx(1.f).epsilon(0.01));
    float zeros = 0;
    for (float v : y1.to_vector()) zeros += v == 0.f;
    REQUIRE(zeros / 100000 == Approx(0.3f).epsilon(0.03));
    REQUIRE(dropout(x, 0.3f, false, g1).raw() == x.raw());  // eval: identity
    REQUIRE_THROWS_WITH(dropout(x, 1.5f, true, g1), Catch::Contains("dropout: probability must be in [0, 1], got 1.5"));
}

TEST_CASE("masked_fill, where and cumsum", "[ops]") {
    Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
    Tensor m = Tensor::from_bools({true, false}, {2});
    require_close(masked_fill(x, m, -9), {-9, 2, -9, 4});
    require_close(where(Tensor::from_bools({true, false, false, true}, {2, 2}), x, Tensor::scalar(0.f)), {1, 0, 0, 4});
    require_close(cumsum(x, 1), {1, 3, 3, 7});
    require_close(cumsum(x, 0), {1, 2, 4, 6});
}

TEST_CASE("gather, index_select and embedding pick the indexed entries", "[ops]") {
    Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    require_close(gather(x, 1, Tensor::from_indices({2, 0, 1, 1}, {2, 2})), {3, 1, 5, 5});
    require_close(index_select(x, 1, Tensor::from_indices({2, 2, 0}, {3})), {3, 3, 1, 6, 6, 4});
    Tensor w = Tensor::from_vector({0, 0, 1, 1, 2, 2}, {3, 2});
    Tensor e = embedding(w, Tensor::from_indices({2, 0, 1, 2}, {2, 2}));
    REQUIRE(e.shape() == Shape{2, 2, 2});
    require_close(e, {2, 2, 0, 0, 1, 1, 2, 2});
    REQUIRE_THROWS_WITH(embedding(w, Tensor::from_indices({3}, {1})), Catch::Contains("index 3 out of range for dim 0 of size 3"));
}

TEST_CASE("argmax, argsort and topk return int64 positions", "[ops]") {
    Tensor x = Tensor::from_vector({3, 1, 4, 1, 5, 9, 2, 6}, {2, 4});
    REQUIRE(argmax(x, 1).to_indices() == std::vector<int64_t>{2, 1});
    REQUIRE(argmax(x, 0).to_indices() == std::vector<int64_t>{1, 1, 0, 1});
    REQUIRE(argsort(x, 1).to_indices() == std::vector<int64_t>{1, 3, 0, 2, 2, 0, 3, 1});
    auto [values, indices] = topk(x, 2, 1);
    require_close(values, {4, 3, 9, 6});
    REQUIRE(indices.to_indices() == std::vector<int64_t>{2, 0, 1, 3});
    auto [small, small_idx] = topk(x, 1, 1, false);
    require_close(small, {1, 2});
}

// test_attention_helpers.cpp — the shared attention test helpers themselves.
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

TEST_CASE("gradient checks keep their inputs away from a kink at 0", "[attention][gradcheck]") {
    Tensor x = Tensor::from_vector({0.f, 0.01f, -0.02f, 0.5f, -1.f, -0.03f}, {6});
    REQUIRE(away_from_zero(x, 0.03f).to_vector() == std::vector<float>{0.03f, 0.03f, -0.03f, 0.5f, -1.f, -0.03f});
}

TEST_CASE("a ReLU feature map passes the attention gradient check", "[attention][gradcheck]") {
    // φ(x) = relu(x): the kink at 0 that made gradient checks flaky before their inputs were kept away from it
    auto relu_attention = [](const Tensor& q, const Tensor& k, const Tensor& v) {
        Tensor a = matmul(relu(q), relu(k).transpose(-2, -1)) + 1.f;
        return matmul(a, v) / sum(a, {-1}, true);
    };
    QKV r = random_qkv(1, 2, 5, 4, 3);
    const float margin = 3.f * GradcheckOptions{}.eps;
    std::vector<Tensor> in{away_from_zero(r.q, margin), away_from_zero(r.k, margin), away_from_zero(r.v, margin)};
    require_gradcheck([&](const std::vector<Tensor>& x) { return relu_attention(x[0], x[1], x[2]); }, in);
}

// test_attention_causal_product.cpp — the fused causal linear-attention product.
#include "attention/kernel/causal_product.h"
#include "attention/reference/kernel.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

TEST_CASE("causal_product equals the masked quadratic form, with Dv != D and strided inputs", "[attention][causal_product]") {
    Generator g(11);
    Tensor qk = Tensor::randn({2, 7, 2, 3, 5}, g).permute({2, 0, 3, 1, 4});  // [2, B, H, N, D] views
    Tensor q = qk.narrow(0, 0, 1).squeeze(0), k = qk.narrow(0, 1, 1).squeeze(0);
    Tensor v = Tensor::randn({2, 3, 4, 7}, g).transpose(-1, -2);              // [B, H, N, Dv=4], not unit-stride
    require_close(attention::causal_product(q, k, v), attention::dense_causal_product(q, k, v), 1e-5f);
}

TEST_CASE("gradcheck: causal_product with respect to q, k and v", "[attention][causal_product][gradcheck]") {
    std::vector<Tensor> inputs{randn({2, 2, 6, 3}, 1), randn({2, 2, 6, 3}, 2, true), randn({2, 2, 6, 4}, 3)};
    require_gradcheck([](const std::vector<Tensor>& in) { return attention::causal_product(in[0], in[1], in[2]); },
                      inputs);
}

TEST_CASE("causal_product rejects mismatched shapes naming them", "[attention][causal_product]") {
    Tensor q = Tensor::zeros({1, 2, 5, 3}), k = Tensor::zeros({1, 2, 5, 4}), v = Tensor::zeros({1, 2, 5, 3});
    REQUIRE_THROWS_WITH(attention::causal_product(q, k, v), Catch::Contains("[1,2,5,4]"));
}

// test_attention_efficient.cpp — efficient attention ρ_q(Q)(ρ_k(K)ᵀV) (Shen et al., 2021).
#include "attention/kernel/efficient.h"
#include "attention/reference/kernel.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

TEST_CASE("efficient attention equals the quadratic order (ρ_q(Q)ρ_k(K)ᵀ)V", "[attention][efficient]") {
    QKV x = random_qkv(2, 3, 9, 5, 1, 2.f);
    Tensor expected = attention::dense_efficient(x.q, x.k, x.v);  // N×N first
    require_close(attention::make_attention("efficient")->forward(x.q, x.k, x.v), expected, 1e-5f);
}

TEST_CASE("efficient attention outputs are convex combinations of values: constant values pass through", "[attention][efficient]") {
    QKV x = random_qkv(1, 2, 7, 4, 2, 3.f);
    Tensor v = Tensor::full({1, 2, 7, 4}, 0.5f);
    require_close(attention::make_attention("efficient")->forward(x.q, x.k, v), v, 1e-5f);
}

TEST_CASE("gradcheck: efficient attention", "[attention][efficient][gradcheck]") { check_attention_gradients("efficient"); }

TEST_CASE("efficient attention memory grows linearly in N", "[attention][efficient][memory]") {
    check_memory_subquadratic("efficient");
}

TEST_CASE("efficient fused op equals its composed reference, outputs and gradients, over several chunks",
          "[attention][efficient][fused]") {
    for (int64_t N : {1, 64, 150}) {
        INFO("N=" << N);
        auto attn = std::dynamic_pointer_cast<attention::EfficientAttention>(attention::make_attention("efficient"));
        auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
            attn->reference = reference;
            return attn->forward(q, k, v);
        };
        check_fast_path_equals_reference(run, random_qkv(2, 2, N, 8, uint64_t(N), 2.f), 1e-4f);
    }
}

TEST_CASE("gradcheck: efficient fused op across chunk boundaries", "[attention][efficient][fused]") {
    check_attention_gradients("efficient", {}, 70, 3);
}

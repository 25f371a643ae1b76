// test_attention_linear.cpp — linear attention Q(KᵀV)/D, the worked example.
#include "attention/kernel/linear.h"
#include "attention/kernel/linear_op.h"
#include "attention/reference/kernel.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

// q, k, v as MultiHeadAttention makes them: strided views of one [B, N, 3, H, D] tensor.
static QKV strided_qkv(int64_t B, int64_t H, int64_t N, int64_t D, uint64_t seed) {
    Generator g(seed);
    Tensor qkv = Tensor::randn({B, N, 3, H, D}, g).permute({2, 0, 3, 1, 4});
    return {qkv.narrow(0, 0, 1).squeeze(0), qkv.narrow(0, 1, 1).squeeze(0), qkv.narrow(0, 2, 1).squeeze(0)};
}

TEST_CASE("linear attention Q(KᵀV)/D equals the quadratic form (QKᵀ/D)V", "[attention][linear]") {
    QKV x = strided_qkv(2, 3, 9, 5, 1);
    auto attn = attention::make_attention("linear");
    require_close(attn->forward(x.q, x.k, x.v), attention::dense_linear(x.q, x.k, x.v, false), 1e-5f);
}

TEST_CASE("causal linear attention equals the masked quadratic form", "[attention][linear]") {
    QKV x = strided_qkv(2, 3, 9, 5, 2);
    auto attn = attention::make_attention("linear", {{"causal", true}});
    require_close(attn->forward(x.q, x.k, x.v), attention::dense_linear(x.q, x.k, x.v, true), 1e-5f);
}

TEST_CASE("causal linear attention: future tokens never change past outputs", "[attention][linear]") {
    check_causal_no_leak("linear", {{"causal", true}});
}

TEST_CASE("gradcheck: linear attention, causal and not", "[attention][linear][gradcheck]") {
    check_attention_gradients("linear");
    check_attention_gradients("linear", {{"causal", true}});
}

TEST_CASE("linear attention memory grows linearly in N, causal and not", "[attention][linear][memory]") {
    check_memory_subquadratic("linear");
    check_memory_subquadratic("linear", {{"causal", true}});
}

TEST_CASE("linear fused op equals its composed reference, outputs and gradients, contiguous and strided",
          "[attention][linear][fused]") {
    for (int64_t N : {1, 7, 150}) {
        INFO("N=" << N);
        auto attn = std::dynamic_pointer_cast<attention::LinearAttention>(attention::make_attention("linear"));
        auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
            attn->reference = reference;
            return attn->forward(q, k, v);
        };
        check_fast_path_equals_reference(run, random_qkv(2, 2, N, 8, uint64_t(N), 2.f), 1e-4f);
        check_fast_path_equals_reference(run, strided_qkv(1, 2, N, 8, uint64_t(N) + 1), 1e-4f);
    }
}

TEST_CASE("gradcheck: linear fused op with more rows than a register block", "[attention][linear][fused]") {
    check_attention_gradients("linear", {}, 70, 3);
}

TEST_CASE("linear fused op rejects q, k, v of mismatched shapes", "[attention][linear][fused]") {
    Tensor a = Tensor::zeros({1, 2, 5, 4}), b = Tensor::zeros({1, 2, 6, 4});
    REQUIRE_THROWS_WITH(attention::linear_attention_fused(a, b, a, 1.f), Catch::Contains("expected q, k [B,H,N,D]"));
}

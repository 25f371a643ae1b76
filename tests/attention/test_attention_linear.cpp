// test_attention_linear.cpp — linear attention Q(KᵀV)/D, the worked example.
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

// q, k, v as MultiHeadAttention makes them: strided views of one [B, N, 3, H, D] tensor.
static QKV strided_qkv(int64_t B, int64_t H, int64_t N, int64_t D, uint64_t seed) {
    Generator g(seed);
    Tensor qkv = Tensor::randn({B, N, 3, H, D}, g).permute({2, 0, 3, 1, 4});
    return {qkv.narrow(0, 0, 1).squeeze(0), qkv.narrow(0, 1, 1).squeeze(0), qkv.narrow(0, 2, 1).squeeze(0)};
}

// The quadratic order: the N×N matrix QKᵀ/D first (masked to j ≤ i when causal).
static Tensor dense_linear(const QKV& x, bool causal) {
    Tensor scores = matmul(x.q, x.k.transpose(-2, -1)) * (1.f / float(x.q.size(-1)));
    if (causal) scores = masked_fill(scores, attention::causal_mask(x.q.size(2), x.k.size(2)), 0.f);
    return matmul(scores, x.v);
}

TEST_CASE("linear attention Q(KᵀV)/D equals the quadratic form (QKᵀ/D)V", "[attention]") {
    QKV x = strided_qkv(2, 3, 9, 5, 1);
    auto attn = attention::make_attention("linear");
    require_close(attn->forward(x.q, x.k, x.v), dense_linear(x, false), 1e-5f);
}

TEST_CASE("causal linear attention equals the masked quadratic form", "[attention]") {
    QKV x = strided_qkv(2, 3, 9, 5, 2);
    auto attn = attention::make_attention("linear", {{"causal", true}});
    require_close(attn->forward(x.q, x.k, x.v), dense_linear(x, true), 1e-5f);
}

TEST_CASE("causal linear attention: future tokens never change past outputs", "[attention]") {
    check_causal_no_leak("linear", {{"causal", true}});
}

TEST_CASE("gradcheck: linear attention, causal and not", "[attention][gradcheck]") {
    check_attention_gradients("linear");
    check_attention_gradients("linear", {{"causal", true}});
}

TEST_CASE("linear attention memory grows linearly in N, causal and not", "[attention][memory]") {
    check_memory_subquadratic("linear");
    check_memory_subquadratic("linear", {{"causal", true}});
}

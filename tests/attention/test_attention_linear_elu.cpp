// test_attention_linear_elu.cpp — Katharopoulos et al. linear attention, φ(x) = elu(x) + 1.
#include "attention/kernel/linear_elu.h"
#include "attention/reference/kernel.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static std::shared_ptr<attention::LinearEluAttention> make_linear_elu(bool causal) {
    return std::dynamic_pointer_cast<attention::LinearEluAttention>(
        attention::make_attention("linear_elu", {{"causal", causal}}));
}

TEST_CASE("linear_elu attention equals the row-normalized quadratic form φ(Q)φ(K)ᵀV", "[attention][linear_elu]") {
    QKV x = random_qkv(2, 3, 9, 5, 1, 2.f);
    require_close(make_linear_elu(false)->forward(x.q, x.k, x.v), attention::dense_linear_elu(x.q, x.k, x.v, false), 1e-5f);
}

TEST_CASE("causal linear_elu attention equals the masked, row-normalized quadratic form", "[attention][linear_elu]") {
    QKV x = random_qkv(2, 3, 9, 5, 2, 2.f);
    require_close(make_linear_elu(true)->forward(x.q, x.k, x.v), attention::dense_linear_elu(x.q, x.k, x.v, true), 1e-5f);
}

TEST_CASE("linear_elu step() token by token equals the causal parallel form at every position", "[attention][linear_elu]") {
    const int64_t B = 2, H = 3, N = 9, D = 5, Dv = 4;
    Generator g(3);
    Tensor q = Tensor::randn({B, H, N, D}, g), k = Tensor::randn({B, H, N, D}, g), v = Tensor::randn({B, H, N, Dv}, g);
    auto attn = make_linear_elu(true);
    Tensor parallel = attn->forward(q, k, v);
    attention::LinearAttentionState state = attention::LinearAttentionState::zeros(B, H, D, Dv);
    for (int64_t t = 0; t < N; ++t) {
        auto token = [t](const Tensor& x) { return x.narrow(2, t, 1).squeeze(2); };
        Tensor out_t = attn->step(state, token(q), token(k), token(v));
        INFO("position " << t);
        require_close(out_t, token(parallel), 1e-5f);
    }
}

TEST_CASE("linear_elu step() rejects a state of the wrong shape", "[attention][linear_elu]") {
    auto attn = make_linear_elu(true);
    attention::LinearAttentionState state = attention::LinearAttentionState::zeros(1, 2, 4, 4);
    Tensor x = Tensor::zeros({1, 2, 5});
    REQUIRE_THROWS_WITH(attn->step(state, x, x, x), Catch::Contains("LinearAttentionState::zeros"));
}

TEST_CASE("causal linear_elu attention: future tokens never change past outputs", "[attention][linear_elu]") {
    check_causal_no_leak("linear_elu", {{"causal", true}});
}

TEST_CASE("gradcheck: linear_elu attention, causal and not", "[attention][linear_elu][gradcheck]") {
    check_attention_gradients("linear_elu");
    check_attention_gradients("linear_elu", {{"causal", true}});
}

TEST_CASE("linear_elu attention memory grows linearly in N, causal and not", "[attention][linear_elu][memory]") {
    check_memory_subquadratic("linear_elu");
    check_memory_subquadratic("linear_elu", {{"causal", true}});
}

TEST_CASE("linear_elu attention rejects a negative eps", "[attention][linear_elu]") {
    REQUIRE_THROWS_WITH(attention::make_attention("linear_elu", {{"eps", -1.0}}),
                        Catch::Contains("option eps must be >= 0, got -1"));
}

// q, k, v as strided views of a packed [B, N, 3, H, D] projection, as MultiHeadAttention passes them.
static QKV packed_views(int64_t B, int64_t H, int64_t N, int64_t D, uint64_t seed) {
    Generator g(seed);
    Tensor qkv = Tensor::randn({B, N, 3, H, D}, g) * 1.5f;
    Tensor heads = qkv.permute({2, 0, 3, 1, 4});
    return {heads.narrow(0, 0, 1).squeeze(0), heads.narrow(0, 1, 1).squeeze(0), heads.narrow(0, 2, 1).squeeze(0)};
}

TEST_CASE("linear_elu fused op equals its composed reference, outputs and gradients, over several chunks",
          "[attention][linear_elu][fused]") {
    for (bool causal : {false, true})
        for (int64_t N : {1, 64, 150}) {
            INFO("N=" << N << " causal=" << causal);
            auto attn = make_linear_elu(causal);
            auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
                attn->reference = reference;
                return attn->forward(q, k, v);
            };
            check_fast_path_equals_reference(run, random_qkv(2, 2, N, 8, uint64_t(N), 2.f), 1e-4f);
            check_fast_path_equals_reference(run, packed_views(1, 2, N, 8, uint64_t(N) + 1), 1e-4f);
        }
}

TEST_CASE("gradcheck: linear_elu fused op across chunk boundaries, causal and not", "[attention][linear_elu][fused]") {
    for (bool causal : {false, true}) {
        INFO("causal=" << causal);
        check_attention_gradients("linear_elu", {{"causal", causal}}, 70, 3);
    }
}

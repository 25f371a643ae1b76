// test_attention_linformer.cpp — Linformer softmax(Q(EK)ᵀ/√D)(FV) (Wang et al., 2020).
#include "attention/low_rank/linformer.h"
#include "attention/reference/low_rank.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static std::shared_ptr<attention::LinformerAttention> make_linformer(const attention::Options& opts, int64_t N) {
    return std::dynamic_pointer_cast<attention::LinformerAttention>(attention::make_attention("linformer", opts, {N, 4, 2}));
}

TEST_CASE("linformer with k=N and identity projections equals softmax attention", "[attention][linformer]") {
    const int64_t N = 7;
    auto attn = make_linformer({{"k", N}}, N);
    std::vector<float> eye(size_t(N * N), 0.f);
    for (int64_t i = 0; i < N; ++i) eye[size_t(i * N + i)] = 1.f;
    copy_(attn->E, Tensor::from_vector(eye, {N, N}));
    copy_(attn->F, Tensor::from_vector(eye, {N, N}));
    QKV x = random_qkv(2, 2, N, 4, 1, 2.f);
    require_close(attn->forward(x.q, x.k, x.v), attention::make_attention("softmax")->forward(x.q, x.k, x.v), 1e-5f);
}

TEST_CASE("linformer equals its dense form softmax((QKᵀ)Eᵀ/√D)(FV)", "[attention][linformer]") {
    auto attn = make_linformer({{"k", int64_t(5)}}, 11);
    QKV x = random_qkv(2, 3, 11, 4, 6, 1.5f);
    require_close(attn->forward(x.q, x.k, x.v), attention::dense_linformer(attn->E, attn->F, x.q, x.k, x.v), 1e-5f);
}

TEST_CASE("gradcheck: linformer, q, k, v and the projections E and F", "[attention][linformer][gradcheck]") {
    check_attention_gradients("linformer", {{"k", int64_t(3)}});
    check_attention_gradients("linformer", {{"k", int64_t(3)}, {"share_kv", true}});
}

TEST_CASE("linformer registers E and F of shape [k, N], or one with share_kv", "[attention][linformer]") {
    auto separate = make_linformer({{"k", int64_t(3)}}, 10);
    REQUIRE(separate->named_parameters().size() == 2);
    REQUIRE(separate->E.shape() == Shape{3, 10});
    REQUIRE(separate->F.shape() == Shape{3, 10});
    auto shared = make_linformer({{"k", int64_t(3)}, {"share_kv", true}}, 10);
    REQUIRE(shared->named_parameters().size() == 1);
    REQUIRE(shared->num_parameters() == 30);
}

TEST_CASE("linformer clamps k to the sequence length", "[attention][linformer]") {
    REQUIRE(make_linformer({}, 10)->proj_len == 10);  // default k = 32
    REQUIRE(make_linformer({}, 65)->proj_len == 32);
}

TEST_CASE("linformer needs seq_len and inputs of exactly that length", "[attention][linformer]") {
    REQUIRE_THROWS_WITH(attention::make_attention("linformer", {}, {0, 4, 2}), Catch::Contains("seq_len must be > 0"));
    REQUIRE_THROWS_WITH(attention::make_attention("linformer", {{"k", int64_t(0)}}, {8, 4, 2}),
                        Catch::Contains("option k must be >= 1, got 0"));
    auto attn = make_linformer({}, 8);
    QKV x = random_qkv(1, 2, 6, 4, 1);
    REQUIRE_THROWS_WITH(attn->forward(x.q, x.k, x.v), Catch::Contains("built for seq_len 8 tokens, got k/v with N = 6"));
}

TEST_CASE("linformer memory grows linearly in N at fixed k", "[attention][linformer][memory]") {
    check_memory_subquadratic("linformer");
}

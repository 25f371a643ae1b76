// test_attention_taylor.cpp — first-order Taylor linear attention, sim = 1 + q̂·k̂.
#include "attention/kernel/taylor.h"
#include "attention/reference/kernel.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

TEST_CASE("taylor attention equals the row-normalized quadratic form with sim = 1 + q̂·k̂", "[attention][taylor]") {
    QKV x = random_qkv(2, 3, 9, 5, 1, 2.f);
    require_close(attention::make_attention("taylor")->forward(x.q, x.k, x.v), attention::dense_taylor(x.q, x.k, x.v, false), 1e-5f);
}

TEST_CASE("causal taylor attention equals the masked, row-normalized quadratic form", "[attention][taylor]") {
    QKV x = random_qkv(2, 3, 9, 5, 2, 2.f);
    auto attn = attention::make_attention("taylor", {{"causal", true}});
    require_close(attn->forward(x.q, x.k, x.v), attention::dense_taylor(x.q, x.k, x.v, true), 1e-5f);
}

TEST_CASE("taylor attention does not depend on the length of q and k", "[attention][taylor]") {
    QKV x = random_qkv(1, 2, 6, 4, 3);
    auto attn = attention::make_attention("taylor");
    require_close(attn->forward(x.q * 5.f, x.k * 0.1f, x.v), attn->forward(x.q, x.k, x.v), 1e-5f);
}

TEST_CASE("causal taylor attention: future tokens never change past outputs", "[attention][taylor]") {
    check_causal_no_leak("taylor", {{"causal", true}});
}

TEST_CASE("gradcheck: taylor attention, causal and not", "[attention][taylor][gradcheck]") {
    check_attention_gradients("taylor");
    check_attention_gradients("taylor", {{"causal", true}});
}

TEST_CASE("taylor attention memory grows linearly in N, causal and not", "[attention][taylor][memory]") {
    check_memory_subquadratic("taylor");
    check_memory_subquadratic("taylor", {{"causal", true}});
}

TEST_CASE("taylor fused op equals its composed reference, outputs and gradients, over several chunks",
          "[attention][taylor][fused]") {
    for (bool causal : {false, true})
        for (int64_t N : {1, 64, 150}) {
            INFO("N=" << N << " causal=" << causal);
            auto attn = std::dynamic_pointer_cast<attention::TaylorAttention>(
                attention::make_attention("taylor", {{"causal", causal}}));
            auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
                attn->reference = reference;
                return attn->forward(q, k, v);
            };
            check_fast_path_equals_reference(run, random_qkv(2, 2, N, 8, uint64_t(N), 2.f), 1e-4f);
        }
}

TEST_CASE("gradcheck: taylor fused op across chunk boundaries, causal and not", "[attention][taylor][fused]") {
    for (bool causal : {false, true}) {
        INFO("causal=" << causal);
        check_attention_gradients("taylor", {{"causal", causal}}, 70, 3);
    }
}

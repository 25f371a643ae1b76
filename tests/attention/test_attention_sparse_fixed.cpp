// Sparse Transformer, fixed pattern: own block plus the summary columns of every block,
// exactly as its dense pattern.
#include "attention/sparse/sparse_fixed.h"
#include "tests/support/sparse_attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static std::shared_ptr<attention::SparseFixedAttention> fixed(const attention::Options& opts) {
    return std::dynamic_pointer_cast<attention::SparseFixedAttention>(attention::make_attention("sparse_fixed", opts));
}

TEST_CASE("sparse_fixed pattern: same block of l, or j mod l ≥ l − c, causal keeps j ≤ i", "[attention][sparse_fixed]") {
    auto attn = fixed({{"stride", int64_t(4)}, {"summary", int64_t(2)}});
    Tensor blocked = attention::dense_blocked(*attn, 14);
    auto sees = [&](int64_t i, int64_t j) { return blocked.at({i, j}) == 0.f; };
    // token 5 is in block [4, 8); summary columns 2, 3, 6, 7, 10, 11
    for (int64_t j = 0; j < 14; ++j)
        REQUIRE(sees(5, j) == ((j >= 4 && j < 8) || j == 2 || j == 3 || j == 10 || j == 11));
    attn->causal = true;
    blocked = attention::dense_blocked(*attn, 14);
    for (int64_t j = 0; j < 14; ++j) REQUIRE(sees(5, j) == (j == 4 || j == 5 || j == 2 || j == 3));
}

TEST_CASE("sparse_fixed equals softmax masked to its own pattern, outputs and gradients", "[attention][sparse_fixed]") {
    struct Case {
        int64_t N, stride, summary;
        bool causal;
    };
    for (Case c : {Case{23, 4, 1, false}, Case{24, 4, 2, false}, Case{23, 4, 2, true}, Case{30, 0, 1, false},
                   Case{30, 0, 1, true}, Case{7, 1, 1, false}, Case{6, 8, 3, false}}) {
        INFO("N=" << c.N << " stride=" << c.stride << " summary=" << c.summary << " causal=" << c.causal);
        auto attn = fixed({{"stride", c.stride}, {"summary", c.summary}, {"causal", c.causal}});
        require_equals_masked(*attn, random_qkv(2, 3, c.N, 8, uint64_t(c.N), 2.f), attention::dense_blocked(*attn, c.N));
    }
}

TEST_CASE("sparse_fixed with stride ≥ N equals full softmax", "[attention][sparse_fixed]") {
    const int64_t N = 13;
    QKV x = random_qkv(2, 2, N, 8, 4);
    for (bool causal : {false, true}) {
        auto attn = attention::make_attention("sparse_fixed", {{"stride", N}, {"causal", causal}});
        auto full = attention::make_attention("softmax", {{"causal", causal}});
        require_close(attn->forward(x.q, x.k, x.v), full->forward(x.q, x.k, x.v), 1e-5f);
    }
}

TEST_CASE("sparse_fixed causal: later tokens never change earlier outputs", "[attention][sparse_fixed]") {
    check_causal_no_leak("sparse_fixed", {{"stride", int64_t(3)}, {"summary", int64_t(2)}, {"causal", true}}, 11);
}

TEST_CASE("gradcheck: sparse_fixed (padding, summary, causal)", "[attention][sparse_fixed][gradcheck]") {
    check_attention_gradients("sparse_fixed", {{"stride", int64_t(3)}}, 8, 4);
    check_attention_gradients("sparse_fixed", {{"stride", int64_t(3)}, {"summary", int64_t(2)}, {"causal", true}}, 8, 4);
}

TEST_CASE("sparse_fixed memory grows as N√N", "[attention][sparse_fixed][memory]") {
    // l = √N, c = 1: scores N·(l + N/l) ~ 2N√N, so doubling N costs 2·√2 ≈ 2.8 (plus the linear
    // O(N·D) terms, which pull it lower); full softmax gives ~4
    REQUIRE(peak_ratio("sparse_fixed", {}) < 3.2);
}

TEST_CASE("sparse_fixed rejects bad options", "[attention][sparse_fixed][errors]") {
    REQUIRE_THROWS_WITH(attention::make_attention("sparse_fixed", {{"summary", int64_t(0)}}),
                        Catch::Contains("sparse_fixed: summary must be ≥ 1, got 0"));
    REQUIRE_THROWS_WITH(attention::make_attention("sparse_fixed", {{"stride", int64_t(2)}, {"summary", int64_t(3)}}),
                        Catch::Contains("sparse_fixed: summary must be ≤ stride, got summary 3 and stride 2"));
    QKV x = random_qkv(1, 1, 4, 4, 1);  // default stride ⌈√4⌉ = 2 < summary 3
    REQUIRE_THROWS_WITH(attention::make_attention("sparse_fixed", {{"summary", int64_t(3)}})->forward(x.q, x.k, x.v),
                        Catch::Contains("sparse_fixed: summary 3 is larger than the stride 2 (⌈√N⌉ for N = 4)"));
}

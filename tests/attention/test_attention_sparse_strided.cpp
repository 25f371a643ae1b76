// Sparse Transformer, strided pattern: window of l plus every l-th token, exactly as its dense pattern.
#include "attention/sparse/sparse_strided.h"
#include "tests/support/sparse_attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static std::shared_ptr<attention::SparseStridedAttention> strided(const attention::Options& opts) {
    return std::dynamic_pointer_cast<attention::SparseStridedAttention>(attention::make_attention("sparse_strided", opts));
}

TEST_CASE("sparse_strided pattern: |i−j| < l or l divides i−j, causal keeps j ≤ i", "[attention][sparse_strided]") {
    auto attn = strided({{"stride", int64_t(3)}});
    Tensor blocked = attention::dense_blocked(*attn, 14);
    auto sees = [&](int64_t i, int64_t j) { return blocked.at({i, j}) == 0.f; };
    for (int64_t j = 0; j < 14; ++j) REQUIRE(sees(7, j) == (j == 1 || j == 4 || (j >= 5 && j <= 10) || j == 13));
    attn->causal = true;
    blocked = attention::dense_blocked(*attn, 14);
    for (int64_t j = 0; j < 14; ++j) REQUIRE(sees(7, j) == (j == 1 || j == 4 || (j >= 5 && j <= 7)));
    REQUIRE(strided({})->stride_for(65) == 9);  // default l = ⌈√N⌉
    REQUIRE(strided({})->stride_for(64) == 8);
}

TEST_CASE("sparse_strided equals softmax masked to its own pattern, outputs and gradients", "[attention][sparse_strided]") {
    struct Case {
        int64_t N, stride;
        bool causal;
    };
    // N not a multiple of l (padding), N a multiple, the default l = ⌈√N⌉, l = 1, l > N
    for (Case c : {Case{23, 4, false}, Case{24, 4, false}, Case{23, 4, true}, Case{30, 0, false}, Case{30, 0, true},
                   Case{9, 1, false}, Case{6, 8, false}}) {
        INFO("N=" << c.N << " stride=" << c.stride << " causal=" << c.causal);
        auto attn = strided({{"stride", c.stride}, {"causal", c.causal}});
        require_equals_masked(*attn, random_qkv(2, 3, c.N, 8, uint64_t(c.N), 2.f), attention::dense_blocked(*attn, c.N));
    }
}

TEST_CASE("sparse_strided with stride ≥ N equals full softmax", "[attention][sparse_strided]") {
    const int64_t N = 13;
    QKV x = random_qkv(2, 2, N, 8, 4);
    for (bool causal : {false, true}) {
        auto attn = attention::make_attention("sparse_strided", {{"stride", N}, {"causal", causal}});
        auto full = attention::make_attention("softmax", {{"causal", causal}});
        require_close(attn->forward(x.q, x.k, x.v), full->forward(x.q, x.k, x.v), 1e-5f);
    }
}

TEST_CASE("sparse_strided causal: later tokens never change earlier outputs", "[attention][sparse_strided]") {
    check_causal_no_leak("sparse_strided", {{"stride", int64_t(3)}, {"causal", true}}, 11);
}

TEST_CASE("gradcheck: sparse_strided (padding, causal)", "[attention][sparse_strided][gradcheck]") {
    check_attention_gradients("sparse_strided", {{"stride", int64_t(3)}}, 8, 4);
    check_attention_gradients("sparse_strided", {{"stride", int64_t(3)}, {"causal", true}}, 8, 4);
}

TEST_CASE("sparse_strided memory grows as N√N", "[attention][sparse_strided][memory]") {
    // l = √N: scores N·(3l + N/l) ~ 4N√N, so doubling N costs 2·√2 ≈ 2.8 (plus the linear
    // O(N·D) terms, which pull it lower); full softmax gives ~4
    REQUIRE(peak_ratio("sparse_strided", {}) < 3.2);
}

TEST_CASE("sparse_strided rejects bad options", "[attention][sparse_strided][errors]") {
    REQUIRE_THROWS_WITH(attention::make_attention("sparse_strided", {{"stride", int64_t(-1)}}),
                        Catch::Contains("sparse_strided: stride must be ≥ 1 (or 0 for ⌈√N⌉), got -1"));
    QKV x = random_qkv(1, 1, 4, 4, 1);
    REQUIRE_THROWS_WITH(attention::make_attention("sparse_strided")->forward(x.q, x.k.narrow(2, 0, 3), x.v.narrow(2, 0, 3)),
                        Catch::Contains("sparse_strided attention: self-attention only, got 4 queries and 3 keys"));
}

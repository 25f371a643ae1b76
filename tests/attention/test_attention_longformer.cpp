// Longformer: sliding window (+ dilation) and global tokens, exactly as its dense pattern.
#include "attention/sparse/longformer.h"
#include "tests/support/sparse_attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

static std::shared_ptr<attention::LongformerAttention> longformer(const attention::Options& opts) {
    return std::dynamic_pointer_cast<attention::LongformerAttention>(attention::make_attention("longformer", opts));
}

TEST_CASE("longformer pattern: w/2 tokens each side at dilation d, global first tokens", "[attention][longformer]") {
    auto attn = longformer({{"window", int64_t(4)}, {"dilation", int64_t(2)}, {"global_tokens", int64_t(1)}});
    Tensor blocked = attention::dense_blocked(*attn, 12);
    auto sees = [&](int64_t i, int64_t j) { return blocked.at({i, j}) == 0.f; };
    // token 6: itself, 6 ± 2, 6 ± 4, and the global token 0
    for (int64_t j = 0; j < 12; ++j) REQUIRE(sees(6, j) == (j == 0 || j == 2 || j == 4 || j == 6 || j == 8 || j == 10));
    for (int64_t j = 0; j < 12; ++j) REQUIRE(sees(0, j));  // the global token sees everything ...
    for (int64_t i = 0; i < 12; ++i) REQUIRE(sees(i, 0));  // ... and is seen by everything
    attn->causal = true;
    blocked = attention::dense_blocked(*attn, 12);
    for (int64_t j = 0; j < 12; ++j) REQUIRE(sees(6, j) == (j == 0 || j == 2 || j == 4 || j == 6));
}

TEST_CASE("longformer equals softmax masked to its own pattern, outputs and gradients", "[attention][longformer]") {
    struct Case {
        int64_t N, window, dilation, global;
        bool causal;
    };
    for (Case c : {Case{23, 4, 1, 1, false}, Case{29, 4, 3, 2, false}, Case{17, 6, 1, 0, false}, Case{21, 4, 2, 3, true},
                   Case{5, 8, 1, 9, false}}) {
        INFO("N=" << c.N << " window=" << c.window << " dilation=" << c.dilation << " global=" << c.global
                  << " causal=" << c.causal);
        auto attn = longformer({{"window", c.window}, {"dilation", c.dilation}, {"global_tokens", c.global},
                                {"causal", c.causal}});
        require_equals_masked(*attn, random_qkv(2, 3, c.N, 8, uint64_t(c.N), 2.f), attention::dense_blocked(*attn, c.N));
    }
}

TEST_CASE("longformer with window ≥ 2N equals full softmax", "[attention][longformer]") {
    const int64_t N = 13;
    QKV x = random_qkv(2, 2, N, 8, 4);
    for (bool causal : {false, true}) {
        auto attn = attention::make_attention("longformer", {{"window", 2 * N}, {"causal", causal}});
        auto full = attention::make_attention("softmax", {{"causal", causal}});
        require_close(attn->forward(x.q, x.k, x.v), full->forward(x.q, x.k, x.v), 1e-5f);
    }
}

TEST_CASE("longformer causal: later tokens never change earlier outputs", "[attention][longformer]") {
    check_causal_no_leak("longformer", {{"window", int64_t(4)}, {"causal", true}}, 10);
    check_causal_no_leak("longformer", {{"window", int64_t(4)}, {"dilation", int64_t(2)}, {"global_tokens", int64_t(2)},
                                        {"causal", true}}, 10);
}

TEST_CASE("gradcheck: longformer (window, dilation, global, causal)", "[attention][longformer][gradcheck]") {
    check_attention_gradients("longformer", {{"window", int64_t(2)}}, 7, 4);
    check_attention_gradients("longformer", {{"window", int64_t(4)}, {"dilation", int64_t(2)}, {"global_tokens", int64_t(2)}}, 9, 4);
    check_attention_gradients("longformer", {{"window", int64_t(2)}, {"causal", true}}, 7, 4);
}

// The band kernel (longformer_kernel.cpp) works in tiles of 16 queries, transposes whole
// blocks of 16 rows when D is a multiple of 16, slides its key gradients from tile to tile and
// folds the global queries into the same pass: shapes that cross each of those edges.
TEST_CASE("longformer band kernel equals the composed reference across tiles, edges and global tokens",
          "[attention][longformer][fused]") {
    struct Case {
        int64_t N, D, window, dilation, global;
        bool causal;
    };
    for (Case c : {Case{75, 32, 8, 1, 1, false},   // N not a multiple of 16: a short last tile
                   Case{75, 32, 8, 1, 1, true},
                   Case{64, 16, 8, 1, 0, false},   // N a multiple of 16, no global token
                   Case{50, 32, 40, 1, 3, false},  // a reach of 20 > 16: key gradients held over two tiles
                   Case{47, 32, 6, 3, 2, true},    // dilation with global tokens at the start
                   Case{20, 32, 4, 1, 20, false},  // every token global: the band has no query
                   Case{9, 16, 8, 2, 1, false}}) { // fewer tokens than one tile
        INFO("N=" << c.N << " D=" << c.D << " window=" << c.window << " dilation=" << c.dilation
                  << " global=" << c.global << " causal=" << c.causal);
        auto attn = longformer({{"window", c.window}, {"dilation", c.dilation}, {"global_tokens", c.global},
                                {"causal", c.causal}});
        auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
            attn->reference = reference;
            return attn->forward(q, k, v);
        };
        check_fast_path_equals_reference(run, random_qkv(2, 2, c.N, c.D, uint64_t(c.N), 2.f), 1e-5f);
    }
}

TEST_CASE("longformer band kernel takes strided q, k, v views (the packed projection's heads)",
          "[attention][longformer][fused]") {
    const int64_t B = 2, N = 41, H = 2, D = 16;
    Generator g(5);
    Tensor qkv = Tensor::randn({B, N, 3, H, D}, g).permute({2, 0, 3, 1, 4});  // [3, B, H, N, D] views
    Tensor q = qkv.narrow(0, 0, 1).squeeze(0), k = qkv.narrow(0, 1, 1).squeeze(0), v = qkv.narrow(0, 2, 1).squeeze(0);
    auto attn = longformer({{"global_tokens", int64_t(2)}});
    Tensor strided = attn->forward(q, k, v);
    attn->reference = true;
    require_close(strided, attn->forward(q.contiguous(), k.contiguous(), v.contiguous()), 1e-5f);
}

TEST_CASE("longformer band kernel writes large outputs around the cache with the same bits",
          "[attention][longformer][fused]") {
    // 9 batch elements of 1 MB each: together 9 MB, past the 8 MB from which the kernel stores
    // out, dq, dk, dv with non-temporal stores; each element alone stays below it.
    const int64_t B = 9, H = 1, N = 1000, D = 256;
    auto attn = longformer({{"global_tokens", int64_t(2)}});
    QKV x = random_qkv(B, H, N, D, 21, 2.f);
    Generator g(4);
    const Tensor w = Tensor::randn({B, H, N, D}, g);
    auto run = [&](int64_t b0, int64_t n) {  // out and dq, dk, dv of batch elements b0 … b0 + n − 1
        Tensor q = x.q.narrow(0, b0, n).detach().requires_grad_(), k = x.k.narrow(0, b0, n).detach().requires_grad_(),
               v = x.v.narrow(0, b0, n).detach().requires_grad_();
        Tensor out = attn->forward(q, k, v);
        (out * w.narrow(0, b0, n)).sum().backward();
        return std::vector<Tensor>{out.detach(), q.grad(), k.grad(), v.grad()};
    };
    const std::vector<Tensor> all = run(0, B);
    for (int64_t b = 0; b < B; ++b) {
        INFO("batch element " << b);
        const std::vector<Tensor> one = run(b, 1);
        for (size_t t = 0; t < one.size(); ++t)
            REQUIRE(all[t].narrow(0, b, 1).contiguous().to_vector() == one[t].contiguous().to_vector());
    }
}

TEST_CASE("longformer with more global tokens than the band kernel keeps runs the block-sparse op",
          "[attention][longformer][fused]") {
    const int64_t N = 90, g = attention::kLongformerBandMaxGlobals + 3;
    REQUIRE_FALSE(attention::longformer_band_supported(g));
    auto attn = longformer({{"global_tokens", g}});
    auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
        attn->reference = reference;
        return attn->forward(q, k, v);
    };
    check_fast_path_equals_reference(run, random_qkv(1, 2, N, 8, 13, 2.f), 1e-5f);
}

TEST_CASE("gradcheck: longformer band kernel over two tiles with global tokens", "[attention][longformer][gradcheck]") {
    check_attention_gradients("longformer", {{"window", int64_t(4)}, {"global_tokens", int64_t(2)}}, 21, 16);
}

TEST_CASE("longformer memory grows linearly with N", "[attention][longformer][memory]") {
    // window 8, one global token: scores N·(2w + 1) plus the global row; softmax would give ~4
    REQUIRE(peak_ratio("longformer", {}) < 2.5);
}

TEST_CASE("longformer rejects bad options", "[attention][longformer][errors]") {
    REQUIRE_THROWS_WITH(attention::make_attention("longformer", {{"window", int64_t(7)}}),
                        Catch::Contains("longformer: window must be an even number ≥ 2 (window/2 tokens on each side), got 7"));
    REQUIRE_THROWS_WITH(attention::make_attention("longformer", {{"dilation", int64_t(0)}}),
                        Catch::Contains("longformer: dilation must be ≥ 1, got 0"));
    REQUIRE_THROWS_WITH(attention::make_attention("longformer", {{"global_tokens", int64_t(-1)}}),
                        Catch::Contains("longformer: global_tokens must be ≥ 0, got -1"));
}

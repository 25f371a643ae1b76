// What the sparse variants (longformer, bigbird, sparse_strided, sparse_fixed, reformer) share:
// strided inputs as MultiHeadAttention passes them, and use inside a ViT.
#include <cmath>

#include "attention/sparse/bigbird.h"
#include "attention/sparse/longformer.h"
#include "attention/sparse/sparse_fixed.h"
#include "attention/sparse/sparse_strided.h"
#include "nn/models/vit.h"
#include "tests/support/sparse_attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

struct Variant {
    std::string name;
    attention::Options opts;
};

static std::vector<Variant> sparse_variants() {
    return {{"longformer", {{"window", int64_t(4)}, {"dilation", int64_t(2)}}},
            {"bigbird", {{"block", int64_t(3)}, {"random_blocks", int64_t(1)}, {"seed", int64_t(1)}}},
            {"sparse_strided", {}},
            {"sparse_fixed", {{"stride", int64_t(3)}, {"summary", int64_t(2)}}},
            {"reformer", {{"buckets", int64_t(4)}, {"chunk", int64_t(4)}, {"seed", int64_t(1)}}}};
}

TEST_CASE("sparse variants take strided q, k, v views as MultiHeadAttention passes them", "[attention][sparse]") {
    const int64_t B = 2, N = 17, H = 2, D = 8;
    Generator g(3);
    Tensor qkv = Tensor::randn({B, N, 3, H, D}, g).permute({2, 0, 3, 1, 4});  // [3, B, H, N, D] views
    Tensor q = qkv.narrow(0, 0, 1).squeeze(0), k = qkv.narrow(0, 1, 1).squeeze(0), v = qkv.narrow(0, 2, 1).squeeze(0);
    REQUIRE_FALSE(q.is_contiguous());
    for (const Variant& var : sparse_variants()) {
        INFO(var.name);
        auto attn = attention::make_attention(var.name, var.opts, {N, D, H});
        attn->eval();
        require_close(attn->forward(q, k, v), attn->forward(q.contiguous(), k.contiguous(), v.contiguous()), 1e-6f);
    }
}

TEST_CASE("a tiny ViT runs forward and backward with every sparse variant", "[attention][sparse][nn]") {
    for (const Variant& var : sparse_variants()) {
        INFO(var.name);
        manual_seed(1);
        nn::ViTConfig c;
        c.image_size = 8, c.patch_size = 2, c.num_classes = 3;  // 16 patches + cls = 17 tokens
        c.dim = 16, c.depth = 2, c.heads = 2, c.drop_path = 0.0;
        c.attention = var.name, c.attention_options = var.opts;
        nn::VisionTransformer vit(c);
        Generator g(2);
        Tensor loss = cross_entropy(vit.forward(Tensor::randn({4, 3, 8, 8}, g)), Tensor::from_indices({0, 1, 2, 0}, {4}));
        REQUIRE(std::isfinite(loss.item()));
        loss.backward();
        Tensor gq = vit.blocks[0]->attn->qkv->weight.grad();
        REQUIRE(gq.defined());
        REQUIRE(sum(abs(gq)).item() > 0.f);
    }
}

// Sets the `reference` switch of a block-sparse variant.
static void set_reference(attention::Attention& attn, bool reference) {
    auto* sparse = dynamic_cast<attention::SparsePatternAttention*>(&attn);
    REQUIRE(sparse != nullptr);  // a block-sparse variant
    sparse->reference = reference;
}

TEST_CASE("block-sparse variants: the fused op equals the composed reference, outputs and gradients",
          "[attention][sparse][fused]") {
    for (bool causal : {false, true})
        for (int64_t N : {1, 17, 100}) {
            for (Variant var : sparse_variants()) {
                if (var.name == "reformer") continue;
                if (N == 1) var.opts = {};  // one token: the options above exceed it (rejected), the defaults adapt
                var.opts.set("causal", causal);
                INFO(var.name << " N=" << N << " causal=" << causal);
                auto attn = attention::make_attention(var.name, var.opts, {N, 8, 2});
                auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
                    set_reference(*attn, reference);
                    return attn->forward(q, k, v);
                };
                check_fast_path_equals_reference(run, random_qkv(2, 2, N, 8, uint64_t(N), 2.f), 1e-5f);
            }
        }
}

TEST_CASE("block-sparse kernel tiles that differ from the pattern's blocks: the fused op equals the reference",
          "[attention][sparse][fused]") {
    // sparse_strided l = 40 runs its local part in query tiles of at most 2 vectors (narrower than l);
    // bigbird's blocks of 8 and longformer's window of 8 are packed into query blocks of a full vector.
    const std::vector<Variant> tiled = {{"sparse_strided", {{"stride", int64_t(40)}}},
                                        {"bigbird", {{"seed", int64_t(2)}}},
                                        {"longformer", {}},
                                        {"longformer", {{"window", int64_t(6)}, {"dilation", int64_t(3)}}}};
    for (bool causal : {false, true})
        for (Variant var : tiled) {
            var.opts.set("causal", causal);
            INFO(var.name << " causal=" << causal);
            const int64_t N = 150;
            auto attn = attention::make_attention(var.name, var.opts, {N, 8, 2});
            auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
                set_reference(*attn, reference);
                return attn->forward(q, k, v);
            };
            check_fast_path_equals_reference(run, random_qkv(1, 2, N, 8, 11, 2.f), 1e-5f);
        }
}

TEST_CASE("longformer with several global tokens (dense rows): the fused op equals the reference",
          "[attention][sparse][fused]") {
    for (bool causal : {false, true}) {
        INFO("causal=" << causal);
        auto attn = attention::make_attention("longformer", {{"global_tokens", int64_t(5)}, {"causal", causal}}, {40, 8, 2});
        auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
            set_reference(*attn, reference);
            return attn->forward(q, k, v);
        };
        check_fast_path_equals_reference(run, random_qkv(1, 2, 40, 8, 7, 2.f), 1e-5f);
    }
}

TEST_CASE("gradcheck: the fused block-sparse op through sparse_strided and longformer", "[attention][sparse][fused]") {
    check_attention_gradients("sparse_strided", {{"stride", int64_t(3)}}, 11, 3);
    check_attention_gradients("longformer", {{"window", int64_t(2)}, {"global_tokens", int64_t(2)}, {"causal", true}}, 9, 3);
}

TEST_CASE("block-sparse layouts: a block's keys as runs of evenly spaced tokens, spelled out exactly",
          "[attention][sparse][fused]") {
    const int64_t N = 100;
    std::vector<std::vector<int64_t>> blocks = {{0, 1}, {2, 3}, {4, 5}};
    // the primes below 100 are scattered: more than kMaxKeyRuns runs
    std::vector<std::vector<int64_t>> keys = {{3, 0, 1, 2}, {0, 10, 11, 12, 13}, {2,  3,  5,  7,  11, 13, 17, 19, 23,
                                                                               29, 31, 37, 41, 43, 47, 53, 59, 61,
                                                                               67, 71, 73, 79, 83, 89, 97}};
    std::vector<int64_t> dense;
    for (int64_t i = 6; i < N; ++i) dense.push_back(i);
    auto all = [](int64_t, int64_t) { return true; };
    attention::SparseLayout L = attention::make_sparse_layout(N, 2, blocks, keys, dense, all);
    REQUIRE(L.run_offset.size() == 4);
    CHECK(L.run_offset[1] - L.run_offset[0] == 1);  // 0 1 2 3: one run of step 1
    CHECK(L.run_offset[2] - L.run_offset[1] == 2);  // a global token and a window: 0 10, then 11 12 13
    CHECK(L.run_offset[3] - L.run_offset[2] == 0);  // scattered keys are gathered
    for (int64_t b = 0; b < 2; ++b) {
        std::vector<int64_t> spelled;
        for (int64_t r = L.run_offset[size_t(b)]; r < L.run_offset[size_t(b + 1)]; ++r) {
            const attention::KeyRun& run = L.key_runs[size_t(r)];
            CHECK(run.slot == int64_t(spelled.size()));
            for (int64_t c = 0; c < run.count; ++c) spelled.push_back(run.first + c * run.step);
        }
        CHECK(spelled == std::vector<int64_t>(L.key_rows.begin() + b * L.block_keys,
                                              L.key_rows.begin() + b * L.block_keys + L.key_count[size_t(b)]));
    }
}

TEST_CASE("block-sparse blocks with scattered keys (gathered, not read as runs): the fused op equals the reference",
          "[attention][sparse][fused]") {
    // bigbird with blocks of 1 and 12 random blocks: a query block of 16 sees about 200 scattered keys.
    for (bool causal : {false, true}) {
        INFO("causal=" << causal);
        const int64_t N = 80;
        auto attn = attention::make_attention(
            "bigbird", {{"block", int64_t(1)}, {"random_blocks", int64_t(12)}, {"seed", int64_t(3)}, {"causal", causal}},
            {N, 8, 2});
        auto run = [&](bool reference, const Tensor& q, const Tensor& k, const Tensor& v) {
            set_reference(*attn, reference);
            return attn->forward(q, k, v);
        };
        check_fast_path_equals_reference(run, random_qkv(1, 2, N, 8, 5, 2.f), 1e-5f);
    }
}

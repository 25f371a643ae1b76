// What the sparse variants (longformer, bigbird, sparse_strided, sparse_fixed, reformer) share:
// strided inputs as MultiHeadAttention passes them, and use inside a ViT.
#include <cmath>

#include "nn/vit.h"
#include "sparse_attention_helpers.h"

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

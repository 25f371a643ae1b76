// test_nn_modules.cpp — module registry, layers, MultiHeadAttention and the ViT.
#include "tests/support/attention_helpers.h"
#include "nn/models/vit.h"

using namespace attnlab;
using namespace attnlab::testing;

static nn::ViTConfig tiny_vit(const std::string& attention = "softmax") {
    nn::ViTConfig c;
    c.image_size = 8, c.patch_size = 4, c.channels = 3, c.num_classes = 3;  // 4 patches + cls = 5 tokens
    c.dim = 16, c.depth = 2, c.heads = 2, c.mlp_ratio = 2.0, c.dropout = 0.0, c.drop_path = 0.0;
    c.attention = attention;
    return c;
}

TEST_CASE("parameters get hierarchical PyTorch-style names", "[nn]") {
    nn::VisionTransformer vit(tiny_vit());
    std::vector<std::string> names;
    for (auto& [n, p] : vit.named_parameters()) names.push_back(n);
    auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
    REQUIRE(has("patch_embed.proj.weight"));
    REQUIRE(has("cls_token.token"));
    REQUIRE(has("pos_embed.weight"));
    REQUIRE(has("blocks.1.attn.qkv.weight"));
    REQUIRE(has("blocks.0.mlp.fc2.bias"));
    REQUIRE(has("head.weight"));
    for (auto& [n, p] : vit.named_parameters()) REQUIRE(p.requires_grad());
}

TEST_CASE("parameter count and summary of a ViT", "[nn]") {
    nn::ViTConfig c = tiny_vit();
    nn::VisionTransformer vit(c);
    int64_t C = 16, H = 32, T = 5;
    int64_t block = 2 * (2 * C) + (3 * C * C + 3 * C) + (C * C + C) + (H * C + H) + (C * H + C);
    int64_t expected = (48 * C + C) + C + T * C + 2 * block + 2 * C + (C * 3 + 3);
    REQUIRE(vit.num_parameters() == expected);
    std::string s = vit.summary();
    REQUIRE(s.find("blocks.0.attn.qkv.weight") != std::string::npos);
    REQUIRE(s.find(std::to_string(expected)) != std::string::npos);
}

TEST_CASE("ViT initialization follows the DeiT recipe", "[nn]") {
    manual_seed(0);
    nn::ViTConfig c = tiny_vit();
    c.dim = 64, c.heads = 4;
    nn::VisionTransformer vit(c);
    Tensor w = vit.blocks[0]->attn->qkv->weight;
    REQUIRE(std::sqrt(mean(w * w).item()) == Approx(0.02f * 0.88f).epsilon(0.1));
    REQUIRE(max(abs(w)).item() <= 0.04f);
    REQUIRE(max(abs(vit.blocks[0]->attn->qkv->bias)).item() == 0.f);
    REQUIRE(min(vit.norm->weight).item() == 1.f);
}

TEST_CASE("ViT maps images to logits and checks its input", "[nn][errors]") {
    nn::VisionTransformer vit(tiny_vit());
    Generator g(1);
    Tensor logits = vit.forward(Tensor::randn({4, 3, 8, 8}, g));
    REQUIRE(logits.shape() == Shape{4, 3});
    REQUIRE_THROWS_WITH(vit.forward(Tensor::zeros({4, 3, 16, 16})), Catch::Contains("PatchEmbed: images [4,3,16,16], expected [B, 3, 8, 8]"));
    nn::ViTConfig bad = tiny_vit();
    bad.heads = 3;
    REQUIRE_THROWS_WITH(nn::VisionTransformer(bad), Catch::Contains("dim 16 must be divisible by heads 3"));
    bad = tiny_vit("no_such_attention");
    REQUIRE_THROWS_WITH(nn::VisionTransformer(bad), Catch::Contains("unknown attention variant 'no_such_attention'; valid variants: softmax"));
}

TEST_CASE("ViT config round-trips through JSON", "[nn]") {
    nn::ViTConfig c = tiny_vit();
    c.attention_options = {{"causal", false}};
    nn::ViTConfig d = nn::ViTConfig::from_json(c.to_json());
    REQUIRE(d.to_json() == c.to_json());
    nlohmann::json j = c.to_json();
    j["pooling"] = "max";
    REQUIRE_THROWS_WITH(nn::ViTConfig::from_json(j), Catch::Contains("pooling must be 'cls' or 'mean', got 'max'"));
}

TEST_CASE("image_to_patches groups p×p pixels of every channel", "[nn]") {
    Tensor img = Tensor::arange(2 * 4 * 4).reshape({1, 2, 4, 4});  // C=2, 4×4
    Tensor p = nn::image_to_patches(img, 2);                     // [1, 4, 8]
    REQUIRE(p.shape() == Shape{1, 4, 8});
    // patch 0 = rows 0-1, cols 0-1, in (row, col, channel) order
    require_close(p.narrow(1, 0, 1).reshape({8}), {0, 16, 1, 17, 4, 20, 5, 21});
}

TEST_CASE("MultiHeadAttention equals a per-head computation written out by hand", "[nn]") {
    manual_seed(3);
    nn::MultiHeadAttention mha(8, 2);
    Generator g(4);
    Tensor x = Tensor::randn({2, 5, 8}, g);
    Tensor y = mha.forward(x);
    Tensor qkv = linear(x, mha.qkv->weight, mha.qkv->bias);  // [2,5,24]
    std::vector<Tensor> heads;
    for (int64_t h = 0; h < 2; ++h) {
        Tensor q = qkv.narrow(2, h * 4, 4), k = qkv.narrow(2, 8 + h * 4, 4), v = qkv.narrow(2, 16 + h * 4, 4);
        heads.push_back(matmul(softmax(matmul(q, k.T()) * 0.5f, -1), v));
    }
    Tensor expected = linear(concat(heads, 2), mha.proj->weight, mha.proj->bias);
    require_close(y, expected, 1e-5f);
}

TEST_CASE("gradcheck: MultiHeadAttention, inputs and all parameters", "[nn][gradcheck]") {
    manual_seed(5);
    nn::MultiHeadAttention mha(8, 2);
    for (Tensor& p : mha.parameters()) mul_(p, 3.f);  // larger weights: a more demanding check
    std::vector<Tensor> inputs{randn({2, 4, 8}, 6)};
    for (Tensor& p : mha.parameters()) inputs.push_back(p);
    GradcheckOptions opts;
    opts.eps = 3e-3f;  // sharp softmax at 3× weights: a smaller step keeps truncation error down
    require_gradcheck([&](const std::vector<Tensor>& in) { return mha.forward(in[0]); }, inputs, opts);
}

TEST_CASE("gradcheck: a tiny ViT end to end (dim 16, depth 2, 4 patches)", "[nn][gradcheck]") {
    manual_seed(8);
    nn::VisionTransformer vit(tiny_vit());
    for (auto& [n, p] : vit.named_parameters()) add_(p, Tensor::randn(p.shape(), default_generator()) * 0.3f);
    vit.eval();
    Tensor images = randn({2, 3, 8, 8}, 9);
    std::vector<Tensor> inputs{images};
    for (Tensor& p : vit.parameters()) inputs.push_back(p);
    Tensor labels = Tensor::from_indices({0, 2}, {2});
    GradcheckOptions opts;
    opts.max_checks_per_input = 20;
    require_gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(vit.forward(in[0]), labels); }, inputs, opts);
}

TEST_CASE("dropout and drop_path are active only in train mode", "[nn]") {
    nn::ViTConfig c = tiny_vit();
    c.dropout = 0.3, c.drop_path = 0.3;
    nn::VisionTransformer vit(c);
    Generator g(2);
    Tensor x = Tensor::randn({3, 3, 8, 8}, g);
    vit.eval();
    Tensor a = vit.forward(x), b = vit.forward(x);
    REQUIRE(a.to_vector() == b.to_vector());
    vit.train();
    REQUIRE(vit.forward(x).to_vector() != a.to_vector());
}

TEST_CASE("the attention registry lists variants and rejects bad names and options", "[attention][errors]") {
    REQUIRE_FALSE(attention::attention_variants().empty());
    REQUIRE(attention::attention_info("softmax").complexity.find("N²") != std::string::npos);
    REQUIRE_THROWS_WITH(attention::make_attention("softmax", {{"window", int64_t(3)}}),
                        Catch::Contains("unknown option 'window' for attention softmax; valid options: causal"));
    REQUIRE_THROWS_WITH(attention::make_attention("softmax", {{"causal", int64_t(1)}}),
                        Catch::Contains("option 'causal' must be a bool, got int 1"));
    auto parsed = attention::Options::parse({"causal=true"}, attention::attention_info("softmax").options, "softmax");
    REQUIRE(parsed.get_bool("causal"));
    REQUIRE_THROWS_WITH(attention::Options::parse({"causal=maybe"}, attention::attention_info("softmax").options, "softmax"),
                        Catch::Contains("attention option causal=maybe for softmax: expected a bool"));
}

TEST_CASE("softmax attention: gradients, causal masking, equals the dense masked reference", "[attention]") {
    check_attention_gradients("softmax");
    check_attention_gradients("softmax", {{"causal", true}});
    check_causal_no_leak("softmax", {{"causal", true}});
    QKV x = random_qkv(2, 2, 7, 4, 1);
    auto attn = attention::make_attention("softmax", {{"causal", true}});
    require_close(attn->forward(x.q, x.k, x.v), attention::masked_softmax_attention(x.q, x.k, x.v, attention::causal_mask(7, 7)), 1e-5f);
}

// The fused op against softmax(s·Q Kᵀ [+ causal mask]) V written with three ops:
// outputs within 2e-5, gradients of q, k, v (for a random output weighting) within grad_tol.
static void check_fused_equals_reference(QKV& x, bool causal, float grad_tol, uint64_t seed) {
    const int64_t N = x.q.size(2), M = x.k.size(2), D = x.q.size(3);
    Tensor fused = scaled_dot_product_attention(x.q, x.k, x.v, causal);
    Tensor ref = causal ? attention::masked_softmax_attention(x.q, x.k, x.v, attention::causal_mask(N, M))
                        : matmul(softmax(matmul(x.q, x.k.T()) * (1.f / std::sqrt(float(D))), -1), x.v);
    require_close(fused, ref, 2e-5f);
    Generator g(seed);
    Tensor w = Tensor::randn(fused.shape(), g);
    std::vector<Tensor> grads_fused;
    for (Tensor* t : {&x.q, &x.k, &x.v}) t->raw()->grad = Tensor();
    (fused * w).sum().backward();
    for (Tensor* t : {&x.q, &x.k, &x.v}) grads_fused.push_back(t->grad()), t->raw()->grad = Tensor();
    (ref * w).sum().backward();
    require_close(grads_fused[0], x.q.grad(), grad_tol);
    require_close(grads_fused[1], x.k.grad(), grad_tol);
    require_close(grads_fused[2], x.v.grad(), grad_tol);
}

TEST_CASE("fused attention equals the three-op reference, with and without causal mask, at tile edges", "[attention]") {
    for (int64_t N : {1, 7, 64, 65, 130, 200}) {
        for (bool causal : {false, true}) {
            INFO("N=" << N << " causal=" << causal);
            QKV x = random_qkv(2, 3, N, 8, uint64_t(N), 2.f);
            check_fused_equals_reference(x, causal, 5e-5f, 9);
        }
    }
}

// Short key ranges (M ≤ 128) take the dense per-head path with transposed
// scores and small::gemm; longer ones the tiled path. Head sizes 16, 32, 40
// reach the 16-wide, 32-wide and scalar column code; N = 17 and 65 pad the
// queries; N ≠ M is cross attention; 129 is the first tiled length.
TEST_CASE("fused attention equals the reference on both paths, head sizes 16-40, cross attention", "[attention]") {
    struct Case {
        int64_t N, M, D;
        bool causal;
    };
    const Case cases[] = {{17, 17, 16, false}, {65, 65, 32, false}, {65, 65, 32, true},  {128, 128, 40, true},
                          {20, 70, 32, false}, {90, 9, 16, false},  {129, 129, 32, true}, {40, 129, 32, false}};
    for (const Case& c : cases) {
        INFO("N=" << c.N << " M=" << c.M << " D=" << c.D << " causal=" << c.causal);
        Generator g(uint64_t(c.N * 1000 + c.M));
        QKV x{leaf(Tensor::randn({2, 2, c.N, c.D}, g) * 2.f), leaf(Tensor::randn({2, 2, c.M, c.D}, g) * 2.f),
              leaf(Tensor::randn({2, 2, c.M, c.D}, g))};
        check_fused_equals_reference(x, c.causal, 1e-4f, uint64_t(c.D));
    }
    // finite differences on the dense path's vector code (D = 16, padded queries)
    require_gradcheck([](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[2], true); },
                      {randn({1, 1, 17, 16}, 4), randn({1, 1, 17, 16}, 5), randn({1, 1, 17, 16}, 6)});
}

// Without a backward to follow, the dense path divides O by the row sums
// instead of normalizing the scores: same output as the training path.
TEST_CASE("fused attention in inference equals the training path's output, dense and tiled", "[attention]") {
    for (int64_t N : {9, 65, 130})
        for (bool causal : {false, true}) {
            INFO("N=" << N << " causal=" << causal);
            QKV x = random_qkv(2, 3, N, 32, uint64_t(N) + 11, 2.f);
            Tensor with_grad = scaled_dot_product_attention(x.q, x.k, x.v, causal);
            REQUIRE(with_grad.requires_grad());
            NoGradGuard no_grad;
            Tensor inference = scaled_dot_product_attention(x.q, x.k, x.v, causal);
            REQUIRE_FALSE(inference.requires_grad());
            require_close(inference, with_grad, 1e-6f);
        }
}

TEST_CASE("packed fused attention equals the op on split q, k, v: outputs and the one packed gradient", "[attention]") {
    for (int64_t N : {65, 130})  // dense and tiled paths
        for (bool causal : {false, true}) {
            INFO("N=" << N << " causal=" << causal);
            const int64_t B = 2, H = 3, D = 16;
            Generator g(uint64_t(N) + 7);
            Tensor qkv = leaf(Tensor::randn({B, N, 3 * H * D}, g) * 1.5f);
            Tensor packed = scaled_dot_product_attention_packed(qkv, H, causal);
            Tensor split = qkv.reshape({B, N, 3, H, D}).permute({2, 0, 3, 1, 4});
            Tensor ref = scaled_dot_product_attention(split.narrow(0, 0, 1).squeeze(0), split.narrow(0, 1, 1).squeeze(0),
                                                      split.narrow(0, 2, 1).squeeze(0), causal);
            require_close(packed, ref, 1e-6f);
            Tensor w = Tensor::randn(packed.shape(), g);
            (packed * w).sum().backward();
            Tensor grad_packed = qkv.grad();
            qkv.raw()->grad = Tensor();
            (ref * w).sum().backward();
            require_close(grad_packed, qkv.grad(), 1e-6f);
        }
    require_gradcheck([](const std::vector<Tensor>& in) { return scaled_dot_product_attention_packed(in[0], 2, true); },
                      {randn({1, 9, 3 * 2 * 16}, 8)});
    REQUIRE_THROWS_WITH(scaled_dot_product_attention_packed(Tensor::zeros({2, 5, 40}), 3),
                        Catch::Contains("[2,5,40] with 3 heads") && Catch::Contains("expected [B, N, 3·heads·D]"));
}

TEST_CASE("fused attention accepts the strided q, k, v views of a qkv projection", "[attention]") {
    Generator g(4);
    Tensor qkv = Tensor::randn({2, 5, 3, 2, 4}, g).permute({2, 0, 3, 1, 4});  // [3,B,H,N,D], strided
    Tensor q = qkv.narrow(0, 0, 1).squeeze(0), k = qkv.narrow(0, 1, 1).squeeze(0), v = qkv.narrow(0, 2, 1).squeeze(0);
    REQUIRE_FALSE(q.is_contiguous());
    require_close(scaled_dot_product_attention(q, k, v), scaled_dot_product_attention(q.contiguous(), k.contiguous(), v.contiguous()), 1e-6f);
    require_gradcheck([](const std::vector<Tensor>& in) { return scaled_dot_product_attention(in[0], in[1], in[2], true); },
                      {randn({1, 2, 70, 4}, 1), randn({1, 2, 70, 4}, 2), randn({1, 2, 70, 4}, 3)});
}

// The dense path (≤ 128 keys) keeps Pᵀ ([B·H, M, Np] floats) for the backward
// only when one can follow: inference allocates just the output.
TEST_CASE("dense fused attention keeps the probabilities only when a backward can follow", "[attention][memory]") {
    const int64_t B = 4, H = 2, N = 65, D = 16;
    const double out_bytes = double(B * H * N * D) * sizeof(float), probs_bytes = double(B * H * N * N) * sizeof(float);
    auto extra_peak = [&](bool grad) {
        QKV x = random_qkv(B, H, N, D, 6);
        NoGradGuard restore_on_return;  // then the mode under test
        set_grad_enabled(grad);
        reset_storage_peak();
        size_t base = storage_bytes_in_use();
        Tensor out = scaled_dot_product_attention(x.q, x.k, x.v);
        return double(storage_bytes_peak() - base);
    };
    double inference = extra_peak(false), training = extra_peak(true);
    INFO("extra peak bytes: inference " << inference << ", training " << training << ", output " << out_bytes);
    REQUIRE(inference < out_bytes + probs_bytes / 4);  // output (+ allocator rounding), no probabilities
    REQUIRE(training >= out_bytes + probs_bytes);      // output and Pᵀ (N padded to the vector width)
}

TEST_CASE("fused attention memory grows linearly in N", "[attention]") {
    auto peak = [](int64_t N) {
        QKV x = random_qkv(1, 2, N, 16, 3);
        reset_storage_peak();
        size_t base = storage_bytes_in_use();
        scaled_dot_product_attention(x.q, x.k, x.v).sum().backward();
        return double(storage_bytes_peak() - base);
    };
    double a = peak(1024), b = peak(2048);
    INFO("peak bytes N=1024: " << a << ", N=2048: " << b);
    REQUIRE(b / a < 2.3);
}

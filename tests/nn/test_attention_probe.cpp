// test_attention_probe.cpp — swapping a trained model's attention at load time,
// capturing its q, k, v, and the relative error against exact softmax attention.
#include <filesystem>

#include "attention/registry.h"
#include "tests/support/helpers.h"
#include "nn/study/attention_probe.h"
#include "nn/io/checkpoint.h"
#include "nn/io/classifier.h"
#include "tests/support/temp_dir.h"

using namespace attnlab;
using namespace attnlab::testing;

// 8×8 images, patch 4: 4 patches + the class token = 5 tokens.
static nn::ViTConfig tiny_vit() {
    nn::ViTConfig c;
    c.image_size = 8, c.patch_size = 4, c.channels = 3, c.num_classes = 3;
    c.dim = 16, c.depth = 2, c.heads = 2, c.mlp_ratio = 2.0, c.dropout = 0.0, c.drop_path = 0.0;
    return c;
}

static Tensor logits_of(nn::VisionTransformer& m, const Tensor& x) {
    NoGradGuard no_grad;
    m.eval();
    return m.forward(x);
}

TEST_CASE("a trained model's attention can be swapped at load time without retraining", "[study][swap]") {
    TempDir dir;
    manual_seed(3);
    nn::VisionTransformer trained(tiny_vit());
    nn::save_checkpoint(dir.file("model"), trained, nn::vit_config_json(tiny_vit()));
    Generator g(4);
    Tensor x = Tensor::randn({2, 3, 8, 8}, g);
    const std::vector<float> original = logits_of(trained, x).to_vector();

    // A window covering every pair of the 5 tokens: the same attention, so the same logits.
    nn::AttentionSwap full{"longformer", {{"window", int64_t(8)}, {"global_tokens", int64_t(0)}}};
    auto swapped = nn::load_vit(dir.file("model"), &full);
    CHECK(swapped->config.attention == "longformer");
    CHECK_THAT(logits_of(*swapped, x).to_vector(), Catch::Matchers::Approx(original).margin(1e-5));
    // An approximation: the same weights, other logits.
    nn::AttentionSwap elu{"linear_elu", {}};
    auto approx = nn::load_vit(dir.file("model"), &elu);
    CHECK(approx->num_parameters() == trained.num_parameters());
    CHECK(nn::relative_error(logits_of(*approx, x), Tensor::from_vector(original, {2, 3})) > 1e-4);
    // A variant with random buffers of its own (performer's features) draws them from its seed.
    nn::AttentionSwap favor{"performer", {{"features", int64_t(16)}, {"seed", int64_t(1)}}};
    auto performer = nn::load_vit(dir.file("model"), &favor);
    CHECK(performer->num_parameters() == trained.num_parameters());
    CHECK(nn::relative_error(logits_of(*performer, x), Tensor::from_vector(original, {2, 3})) > 1e-4);
    // A variant with weights of its own cannot take over trained weights.
    nn::AttentionSwap linformer{"linformer", {}};
    CHECK_THROWS_WITH(nn::load_vit(dir.file("model"), &linformer),
                      Catch::Contains("attention swap to linformer") && Catch::Contains("without weights of their own"));
    // The command-line form: no variant keeps the checkpoint's own, options are checked.
    nn::AttentionSwap parsed = nn::parse_attention_swap(dir.file("model"), "", {"causal=true"});
    CHECK(parsed.variant == "softmax");
    CHECK(parsed.options.get_bool("causal"));
    CHECK_THROWS_WITH(nn::parse_attention_swap(dir.file("model"), "performer", {"landmarks=3"}),
                      Catch::Contains("unknown option 'landmarks' for attention performer"));
}

TEST_CASE("capture_qkv records every block's q, k, v and leaves the model's output unchanged", "[study][swap]") {
    manual_seed(5);
    nn::VisionTransformer model(tiny_vit());
    Generator g(6);
    Tensor x = Tensor::randn({3, 3, 8, 8}, g);
    const std::vector<float> before = logits_of(model, x).to_vector();
    std::vector<nn::QKV> qkv = nn::capture_qkv(model, x);
    REQUIRE(qkv.size() == 2);
    CHECK(qkv[1].q.shape() == Shape{3, 2, 5, 8});
    CHECK(qkv[1].v.shape() == Shape{3, 2, 5, 8});
    CHECK(logits_of(model, x).to_vector() == before);  // the original attention is back in place
    CHECK(model.blocks[0]->attn->attn->describe().find("Recording") == std::string::npos);
    // Exact softmax against itself: no error.
    CHECK(nn::approximation_error("softmax", {}, qkv[0], 0) == 0.0);
}

TEST_CASE("approximation_error is 0 for an exact equivalent and shrinks with the random-feature budget",
          "[study][swap]") {
    CHECK(nn::relative_error(Tensor::from_vector({3, 4}, {2}), Tensor::from_vector({3, 4}, {2})) == 0.0);
    CHECK(nn::relative_error(Tensor::from_vector({3, 5}, {2}), Tensor::from_vector({3, 4}, {2})) == Approx(0.2));
    CHECK_THROWS_WITH(nn::relative_error(Tensor::zeros({2}), Tensor::zeros({2})), Catch::Contains("all zeros"));
    Generator g(7);
    // Small q and k (logits within about ±1): the regime where random features estimate well.
    nn::QKV x{Tensor::randn({1, 2, 64, 16}, g) * 0.3f, Tensor::randn({1, 2, 64, 16}, g) * 0.3f,
              Tensor::randn({1, 2, 64, 16}, g)};
    CHECK(nn::approximation_error("longformer", {{"window", int64_t(128)}, {"global_tokens", int64_t(0)}}, x, 0) < 1e-5);
    auto mean_error = [&](int64_t features) {
        double sum = 0;
        for (uint64_t seed = 0; seed < 3; ++seed)
            sum += nn::approximation_error("performer", {{"features", features}}, x, seed);
        return sum / 3;
    };
    const double few = mean_error(8), many = mean_error(256);
    INFO("performer error with 8 features " << few << ", with 256 features " << many);
    CHECK(many < 0.5 * few);
    // The same seed draws the same features: the measurement is reproducible.
    CHECK(nn::approximation_error("performer", {}, x, 1) == nn::approximation_error("performer", {}, x, 1));
}

// test_pixel_transformer.cpp — the decoder-only pixel transformer: causal masking,
// gradients, shapes and its config.
#include <catch2/catch.hpp>

#include "attention/registry.h"
#include "tests/support/helpers.h"
#include "nn/pixel/bits_per_dim.h"
#include "tests/support/pixel_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;
using Catch::Matchers::Contains;

// Changing pixel t (and everything after it) never changes the logits at positions <= t.
static void check_no_future_leak(const std::string& attention) {
    auto model = tiny_pixel_model(attention, 3);
    NoGradGuard no_grad;
    const int64_t N = model->config.seq_len();
    Tensor pixels = random_pixels(2, N, 11);
    Tensor base = model->forward(pixels);
    for (int64_t t = 0; t < N; ++t) {
        Tensor changed = pixels.clone();
        int64_t* p = changed.data_as<int64_t>();
        for (int64_t b = 0; b < 2; ++b)
            for (int64_t j = t; j < N; ++j) p[b * N + j] = (p[b * N + j] + 97 + j) % 256;
        Tensor out = model->forward(changed);
        INFO(attention << ": logits at positions <= " << t << " changed when pixels >= " << t << " changed");
        require_close(out.narrow(1, 0, t + 1), base.narrow(1, 0, t + 1), 1e-5f);
        if (t + 1 < N) {  // and the model does look at pixel t from position t+1 on
            INFO(attention << ": logits at position " << t + 1 << " ignore pixel " << t);
            Tensor d = abs(out.narrow(1, t + 1, 1) - base.narrow(1, t + 1, 1));
            REQUIRE(max(d).item() > 1e-4f);
        }
    }
}

TEST_CASE("pixel transformer with causal softmax: changing a future pixel never changes earlier logits", "[pixel][gen]") {
    check_no_future_leak("softmax");
}

TEST_CASE("pixel transformer with causal linear_elu: changing a future pixel never changes earlier logits", "[pixel][gen]") {
    check_no_future_leak("linear_elu");
}

TEST_CASE("pixel transformer: every causal variant of the registry keeps the future out", "[pixel][gen]") {
    for (const std::string& name : nn::causal_attention_names()) {
        if (name == "softmax" || name == "linear_elu") continue;  // above, with the stronger check
        auto model = tiny_pixel_model(name, 4);
        NoGradGuard no_grad;
        const int64_t N = model->config.seq_len();
        Tensor pixels = random_pixels(1, N, 12);
        Tensor base = model->forward(pixels);
        const int64_t t = N / 2;
        Tensor changed = pixels.clone();
        for (int64_t j = t; j < N; ++j) changed.data_as<int64_t>()[j] = (changed.data_as<int64_t>()[j] + 31) % 256;
        INFO(name << ": logits at positions <= " << t << " changed when later pixels changed");
        require_close(model->forward(changed).narrow(1, 0, t + 1), base.narrow(1, 0, t + 1), 1e-5f);
    }
}

TEST_CASE("pixel transformer gradients match finite differences (softmax and linear_elu, tiny config)", "[pixel][gen]") {
    for (const char* attention : {"softmax", "linear_elu"}) {
        INFO(attention);
        auto model = tiny_pixel_model(attention, 5, 1, 2, 3, 8, 1, 2);
        model->train();
        Tensor pixels = random_pixels(2, model->config.seq_len(), 13);
        std::vector<Tensor> params = model->parameters();
        GradcheckOptions gc;
        gc.max_checks_per_input = 12;
        require_gradcheck([&](const std::vector<Tensor>&) { return nn::pixel_nll(model->forward(pixels), pixels); },
                          params, gc);
    }
}

TEST_CASE("pixel transformer: logits are [B, N, 256] and a fresh model is close to 8 bits/dim", "[pixel][gen]") {
    nn::PixelTransformerConfig cfg;
    cfg.height = 4, cfg.width = 5, cfg.channels = 3, cfg.dim = 16, cfg.heads = 2;
    manual_seed(1);
    nn::PixelTransformer model(cfg);
    Tensor pixels = random_pixels(3, 60, 1);
    Tensor logits = model.forward(pixels);
    REQUIRE(logits.shape() == Shape{3, 60, 256});
    REQUIRE(nn::bits_per_dim(logits, pixels) == Approx(8.0).margin(0.05));  // 0.02-std init: logits ≈ 0
}

TEST_CASE("pixel transformer: shift_right puts the start token first and drops the last pixel", "[pixel][gen]") {
    Tensor pixels = Tensor::from_indices({5, 6, 7, 1, 2, 3}, {2, 3});
    REQUIRE(nn::PixelTransformer::shift_right(pixels).to_indices() == std::vector<int64_t>{256, 5, 6, 256, 1, 2});
}

TEST_CASE("pixel transformer config: JSON round trip, and errors naming what is wrong", "[pixel][gen]") {
    nn::PixelTransformerConfig cfg;
    cfg.channels = 3, cfg.height = 32, cfg.width = 32, cfg.dim = 96, cfg.depth = 3, cfg.heads = 3;
    cfg.attention = "linear_elu";
    cfg.attention_options = {{"eps", 1e-5}};
    nn::PixelTransformerConfig back = nn::PixelTransformerConfig::from_json(cfg.to_json());
    REQUIRE(back.to_json() == cfg.to_json());
    REQUIRE(back.seq_len() == 3072);

    nn::PixelTransformerConfig bad = cfg;
    bad.attention = "linformer";
    REQUIRE_THROWS_WITH(bad.validate(), Contains("'linformer' has no causal mask") && Contains("softmax, linear"));
    bad = cfg;
    bad.attention_options = {{"causal", false}};
    REQUIRE_THROWS_WITH(bad.validate(), Contains("causal=false is not allowed"));
    bad = cfg;
    bad.heads = 5;
    REQUIRE_THROWS_WITH(bad.validate(), Contains("dim 96 must be divisible by heads 5"));
    bad = cfg;
    bad.attention = "nope";
    REQUIRE_THROWS_WITH(bad.validate(), Contains("unknown attention variant 'nope'"));
}

TEST_CASE("pixel transformer: wrong inputs are rejected with their shapes", "[pixel][gen]") {
    auto model = tiny_pixel_model("softmax");
    REQUIRE_THROWS_WITH(model->forward(random_pixels(2, 5, 1)), Contains("expected pixels [B, 12]") && Contains("[2,5]"));
    nn::DecodingState st = model->begin_decoding(2);
    REQUIRE_THROWS_WITH(model->step(st, Tensor::from_indices({1, 2, 3}, {3})), Contains("expected Int64 inputs [2]"));
    model->train();
    REQUIRE_THROWS_WITH(model->step(st, Tensor::from_indices({1, 2}, {2})), Contains("call eval() first"));
    auto performer = tiny_pixel_model("performer");
    REQUIRE(performer->step_kind() == nn::StepKind::None);
    REQUIRE_THROWS_WITH(performer->begin_decoding(1), Contains("'performer' has no one-token step"));
}

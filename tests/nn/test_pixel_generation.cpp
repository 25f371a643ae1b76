// test_pixel_generation.cpp — the three generation paths: recurrent linear
// attention, softmax with a KV cache, and the uncached prefix re-run all compute
// what the parallel causal model computes; sampling and completion.
#include <catch2/catch.hpp>

#include <cmath>

#include "attention/registry.h"
#include "attention/softmax/softmax.h"
#include "tests/support/attention_helpers.h"
#include "tests/support/helpers.h"
#include "nn/pixel/pixel_generation.h"
#include "tests/support/pixel_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;
using nn::GenerationPath;
using Catch::Matchers::Contains;

TEST_CASE("softmax step() with a KV cache equals causal softmax attention at every position", "[pixel][gen]") {
    auto attn = std::dynamic_pointer_cast<attention::SoftmaxAttention>(
        attention::make_attention("softmax", {{"causal", true}}));
    QKV x = random_qkv(2, 3, 7, 4, 21);
    NoGradGuard no_grad;
    Tensor full = attn->forward(x.q, x.k, x.v);  // [B, H, N, D]
    attention::KVCache cache = attention::KVCache::empty(2, 3, 7, 4);
    for (int64_t t = 0; t < 7; ++t) {
        auto at = [&](const Tensor& a) { return a.detach().narrow(2, t, 1).squeeze(2); };
        Tensor out = attn->step(cache, at(x.q), at(x.k), at(x.v));
        INFO("position " << t);
        require_close(out, full.narrow(2, t, 1).squeeze(2), 1e-5f);
    }
    REQUIRE(cache.length == 7);
    REQUIRE_THROWS_WITH(attn->step(cache, x.q.detach().narrow(2, 0, 1).squeeze(2), x.k.detach().narrow(2, 0, 1).squeeze(2),
                                   x.v.detach().narrow(2, 0, 1).squeeze(2)),
                        Contains("KV cache is full (capacity 7 tokens)"));
}

TEST_CASE("recurrent linear_elu generation path gives the parallel causal model's logits at every position", "[pixel][gen]") {
    auto model = tiny_pixel_model("linear_elu", 7, 3, 2, 3);  // 18 tokens, channels interleaved
    Tensor pixels = random_pixels(3, 18, 5);
    Tensor parallel = model->forward(pixels);
    require_close(nn::path_logits(*model, pixels, GenerationPath::Recurrent), parallel, 1e-4f);
    // ... and the prefix re-run of the parallel model gives them too
    require_close(nn::path_logits(*model, pixels, GenerationPath::Uncached), parallel, 1e-4f);
}

TEST_CASE("KV-cached softmax generation path equals the uncached prefix re-run and the parallel model", "[pixel][gen]") {
    auto model = tiny_pixel_model("softmax", 8, 1, 4, 4);
    Tensor pixels = random_pixels(2, 16, 6);
    Tensor cached = nn::path_logits(*model, pixels, GenerationPath::KVCache);
    Tensor uncached = nn::path_logits(*model, pixels, GenerationPath::Uncached);
    require_close(cached, uncached, 1e-4f);
    require_close(cached, model->forward(pixels), 1e-4f);
    // a prefix of the image: the first L positions only
    require_close(nn::path_logits(*model, pixels.narrow(1, 0, 5).contiguous(), GenerationPath::KVCache),
                  cached.narrow(1, 0, 5), 1e-4f);
}

TEST_CASE("every causal variant: the uncached prefix re-run gives the parallel model's logits (the causal prefix contract)",
          "[pixel][gen][causal]") {
    for (const std::string& name : nn::causal_attention_names()) {
        INFO(name);
        auto model = tiny_pixel_model(name, 4);  // 12 tokens; variants with defaults, causal forced on
        Tensor pixels = random_pixels(2, 12, 7);
        require_close(nn::path_logits(*model, pixels, GenerationPath::Uncached), model->forward(pixels), 1e-4f);
    }
}

TEST_CASE("from the same seed, recurrent/KV-cache generation and the uncached re-run sample the same images", "[pixel][gen]") {
    for (const char* attention : {"linear_elu", "softmax"}) {
        INFO(attention);
        auto model = tiny_pixel_model(attention, 9);
        nn::GenerateOptions o;
        o.seed = 42;
        o.path = nn::supported_paths(*model).front();
        REQUIRE(o.path != GenerationPath::Uncached);
        Tensor fast = nn::generate(*model, 4, o);
        o.path = GenerationPath::Uncached;
        Tensor slow = nn::generate(*model, 4, o);
        REQUIRE(fast.shape() == Shape{4, 12});
        REQUIRE(fast.to_indices() == slow.to_indices());
        o.seed = 43;  // and the seed matters
        REQUIRE(nn::generate(*model, 4, o).to_indices() != slow.to_indices());
    }
}

TEST_CASE("completion keeps the given top rows and samples only the rest", "[pixel][gen]") {
    auto model = tiny_pixel_model("linear_elu", 10);
    Tensor prefix = random_pixels(3, 6, 8);  // the top half of 3x4 images
    nn::GenerateOptions o;
    o.path = GenerationPath::Recurrent;
    Tensor out = nn::generate(*model, 3, o, prefix);
    REQUIRE(out.narrow(1, 0, 6).contiguous().to_indices() == prefix.to_indices());
    o.path = GenerationPath::Uncached;
    REQUIRE(nn::generate(*model, 3, o, prefix).to_indices() == out.to_indices());
    REQUIRE_THROWS_WITH(nn::generate(*model, 2, o, prefix), Contains("prefix must be Int64 [2, P] with P < 12"));
}

TEST_CASE("sample_rows draws each value with its softmax probability", "[pixel][gen]") {
    const std::vector<float> p = {0.1f, 0.2f, 0.7f};
    std::vector<float> logits;
    const int64_t B = 20000;
    for (int64_t b = 0; b < B; ++b)
        for (float x : p) logits.push_back(std::log(x) + 3.f);  // shifted: softmax is shift-invariant
    Generator g(3);
    std::vector<int64_t> x = nn::sample_rows(Tensor::from_vector(logits, {B, 3}), 1.f, g);
    std::vector<double> freq(3, 0.0);
    for (int64_t v : x) freq[size_t(v)] += 1.0 / double(B);
    for (size_t k = 0; k < 3; ++k) REQUIRE(freq[k] == Approx(p[k]).margin(0.015));
    // a low temperature concentrates on the most likely value
    std::vector<int64_t> cold = nn::sample_rows(Tensor::from_vector(logits, {B, 3}), 0.05f, g);
    REQUIRE(std::count(cold.begin(), cold.end(), 2) > B * 99 / 100);
}

TEST_CASE("generation paths a model cannot take are refused, naming the ones it can", "[pixel][gen]") {
    auto softmax = tiny_pixel_model("softmax");
    nn::GenerateOptions o;
    o.path = GenerationPath::Recurrent;
    REQUIRE_THROWS_WITH(nn::generate(*softmax, 1, o),
                        Contains("'recurrent' needs linear_elu attention; this model uses 'softmax', which supports: "
                                 "kv-cache, uncached"));
    auto performer = tiny_pixel_model("performer");
    REQUIRE(nn::supported_paths(*performer) == std::vector<GenerationPath>{GenerationPath::Uncached});
    REQUIRE(nn::parse_generation_path("kv-cache") == GenerationPath::KVCache);
    REQUIRE_THROWS_WITH(nn::parse_generation_path("fast"), Contains("valid paths: recurrent, kv-cache, uncached"));
}

TEST_CASE("time_generation counts only complete images and reports a rate", "[pixel][gen]") {
    auto model = tiny_pixel_model("linear_elu");
    nn::GenerationTiming t = nn::time_generation(*model, GenerationPath::Recurrent, 5, 2, 0);
    REQUIRE(t.images == 5);
    REQUIRE(t.tokens_per_image == 12);
    REQUIRE(t.seconds > 0);
    REQUIRE(t.cpu_seconds > 0);
    REQUIRE(t.images_per_second() == Approx(5.0 / t.seconds));
}

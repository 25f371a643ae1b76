// test_pixel_bits_per_dim.cpp — bits/dim on distributions whose answer is known,
// and the token layout of images.
#include <catch2/catch.hpp>
#include <stb_image.h>

#include <cmath>
#include <memory>

#include "datasets/formats/image_io.h"
#include "tests/support/helpers.h"
#include "nn/pixel/bits_per_dim.h"
#include "tests/support/pixel_helpers.h"
#include "tests/support/temp_dir.h"

using namespace attnlab;
using namespace attnlab::testing;

TEST_CASE("bits/dim of the uniform distribution over 256 values is exactly 8", "[pixel][gen]") {
    Tensor logits = Tensor::full({3, 10, 256}, 1.5f);
    REQUIRE(nn::bits_per_dim(logits, random_pixels(3, 10, 1)) == Approx(8.0).epsilon(1e-6));
}

TEST_CASE("bits/dim of a dyadic distribution is the mean of -log2 p of the targets", "[pixel][gen]") {
    // p = (1/2, 1/4, 1/8, 1/8): the targets 0, 1, 2, 3 cost 1, 2, 3, 3 bits
    const float row[4] = {std::log(0.5f), std::log(0.25f), std::log(0.125f), std::log(0.125f)};
    std::vector<float> logits(16);
    for (size_t i = 0; i < 16; ++i) logits[i] = row[i % 4];
    Tensor l = Tensor::from_vector(logits, {2, 2, 4});
    REQUIRE(nn::bits_per_dim(l, Tensor::from_indices({0, 1, 2, 3}, {2, 2})) == Approx((1 + 2 + 3 + 3) / 4.0));
    REQUIRE(nn::bits_per_dim(l, Tensor::from_indices({0, 0, 0, 0}, {2, 2})) == Approx(1.0));
    REQUIRE(nn::nats_to_bits(std::log(2.0)) == Approx(1.0));
}

TEST_CASE("evaluate_bits_per_dim of a model with zero head is 8 bits/dim on any images", "[pixel][gen]") {
    auto model = tiny_pixel_model("softmax", 0, 1, 3, 4);
    fill_(model->head->weight, 0.f);
    fill_(model->head->bias, 0.f);
    datasets::ImageDataset set;
    set.channels = 1, set.height = 3, set.width = 4, set.class_names = {"x"};
    for (int i = 0; i < 5; ++i) {
        set.labels.push_back(0);
        for (int p = 0; p < 12; ++p) set.pixels.push_back(uint8_t(i * 40 + p));
    }
    nn::BitsPerDimResult r = nn::evaluate_bits_per_dim(*model, set, 2);
    REQUIRE(r.images == 5);
    REQUIRE(r.bits_per_dim == Approx(8.0).epsilon(1e-6));
    REQUIRE(nn::evaluate_bits_per_dim(*model, set, 2, 3).images == 3);
}

TEST_CASE("image tokens run in raster order with a pixel's channels adjacent, tokens_to_images inverts", "[pixel][gen]") {
    datasets::ImageDataset set;
    set.channels = 3, set.height = 2, set.width = 2, set.class_names = {"x"};
    set.labels = {0};
    set.pixels = {1, 2, 3, 4,  11, 12, 13, 14,  21, 22, 23, 24};  // planes R, G, B of one 2x2 image
    Tensor tokens = nn::image_tokens(set, 0, 1);
    REQUIRE(tokens.to_indices() == std::vector<int64_t>{1, 11, 21, 2, 12, 22, 3, 13, 23, 4, 14, 24});
    Tensor images = nn::tokens_to_images(tokens, 3, 2, 2);  // back to [B, C, H, W] / 255
    REQUIRE(images.shape() == Shape{1, 3, 2, 2});
    std::vector<float> expected;
    for (uint8_t b : set.pixels) expected.push_back(float(b) / 255.f);
    require_close(images, expected, 1e-6f);
}

TEST_CASE("a PNG grid of generated images decodes with stb_image to the expected size", "[pixel][gen]") {
    TempDir dir;
    Tensor tokens = random_pixels(5, 28 * 28, 3);
    datasets::write_png_grid(dir.file("samples.png"), nn::tokens_to_images(tokens, 1, 28, 28), 4);
    int w = 0, h = 0, c = 0;
    std::unique_ptr<unsigned char, void (*)(void*)> px(stbi_load(dir.file("samples.png").c_str(), &w, &h, &c, 0),
                                                        stbi_image_free);
    REQUIRE(px != nullptr);
    REQUIRE(w == 4 * (28 + 2) + 2);  // 4 columns, 2 rows, 2 pixels of padding
    REQUIRE(h == 2 * (28 + 2) + 2);
    REQUIRE(c == 1);
    REQUIRE(int(px.get()[2 * w + 2]) == tokens.to_indices()[0]);  // the first pixel of the first image
}

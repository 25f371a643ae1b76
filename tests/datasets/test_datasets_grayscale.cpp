// test_datasets_grayscale.cpp — BT.601 gray levels and the one-channel datasets of the LRA Image task.
#include "datasets/grayscale.h"
#include "tests/support/helpers.h"
#include "tests/support/synthetic_images.h"

using namespace attnlab;
using namespace attnlab::datasets;
using Catch::Matchers::Contains;

TEST_CASE("gray levels weigh R, G, B by 0.299, 0.587, 0.114", "[datasets][grayscale]") {
    // Two pixels: pure red 200 and (10, 100, 250).
    const std::vector<uint8_t> image{200, 10, 0, 100, 0, 250};  // [C=3, H=1, W=2]
    const std::vector<float> gray = gray_levels(image.data(), 3, 1, 2);
    REQUIRE(gray.size() == 2);
    CHECK(gray[0] == Approx(59.8f));
    CHECK(gray[1] == Approx(0.299f * 10 + 0.587f * 100 + 0.114f * 250));  // 90.19
    const std::vector<uint8_t> one_channel{7, 9};
    CHECK(gray_levels(one_channel.data(), 1, 1, 2) == std::vector<float>{7.f, 9.f});
}

TEST_CASE("to_grayscale rounds every image to one channel and keeps labels and class names", "[datasets][grayscale]") {
    ImageDataset rgb;
    rgb.channels = 3, rgb.height = 1, rgb.width = 2;
    rgb.class_names = {"a", "b"};
    rgb.pixels = {200, 10, 0, 100, 0, 250,     // image 0: gray 59.8, 90.19
                  255, 255, 255, 255, 255, 255};  // image 1: white stays 255 (weights sum to 1)
    rgb.labels = {1, 0};
    const ImageDataset grey = to_grayscale(rgb);
    CHECK(grey.channels == 1);
    CHECK(grey.height == 1);
    CHECK(grey.width == 2);
    CHECK(grey.pixels == std::vector<uint8_t>{60, 90, 255, 255});
    CHECK(grey.labels == rgb.labels);
    CHECK(grey.class_names == rgb.class_names);
    grey.validate("grey");
    CHECK(to_grayscale(grey).pixels == grey.pixels);  // already one channel: unchanged

    ImageDataset two = rgb;
    two.channels = 2, two.width = 3;  // same bytes seen as 2 channels of 1 x 3
    REQUIRE_THROWS_WITH(to_grayscale(two), Contains("2 channels, expected 3 (RGB) or 1"));
}

TEST_CASE("to_grayscale of CIFAR-like images matches the formula pixel by pixel", "[datasets][grayscale]") {
    const ImageDataset rgb = attnlab::testing::synthetic_images(4, 7);
    const ImageDataset grey = to_grayscale(rgb);
    REQUIRE(grey.pixels.size() == size_t(4 * 32 * 32));
    const int64_t plane = 32 * 32;
    for (int64_t i = 0; i < 4; ++i)
        for (int64_t p = 0; p < plane; p += 37) {
            const uint8_t* img = rgb.image(i);
            const double expected = 0.299 * img[p] + 0.587 * img[plane + p] + 0.114 * img[2 * plane + p];
            CHECK(std::abs(double(grey.image(i)[p]) - expected) <= 0.5 + 1e-4);
        }
}

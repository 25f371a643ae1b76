// test_datasets_transforms.cpp — normalization, padded crop, flip and the
// counter-based per-sample randomness behind them.
#include "datasets/augment/transforms.h"
#include "tests/support/helpers.h"
#include "tests/support/synthetic_images.h"

using namespace attnlab;
using namespace attnlab::datasets;
using Catch::Matchers::Contains;

namespace {

constexpr int64_t C = 3, H = 5, W = 6;

// Distinct bytes, none zero: value(c, y, x) = 1 + c*60 + y*10 + x.
std::vector<uint8_t> test_image() { return attnlab::testing::ramp_image_bytes(C, H, W); }

uint8_t at(const std::vector<uint8_t>& img, int64_t c, int64_t y, int64_t x) {
    return img[size_t((c * H + y) * W + x)];
}

std::vector<float> transformed(const AugmentOptions& options, uint64_t seed, int64_t epoch, int64_t index) {
    std::vector<uint8_t> img = test_image(), scratch;
    std::vector<float> out(img.size());
    transform_image(img.data(), C, H, W, options, Normalization::cifar10(), seed, epoch, index, scratch,
                    out.data());
    return out;
}

}  // namespace

TEST_CASE("CIFAR-10 normalization maps byte x of channel c to (x/255 - mean[c]) / std[c]", "[datasets][transforms]") {
    std::vector<uint8_t> img = test_image();
    std::vector<float> out(img.size());
    normalize_image(img.data(), C, H, W, Normalization::cifar10(), out.data());
    for (int64_t c = 0; c < C; ++c) {
        float expected = (float(at(img, c, 2, 3)) / 255.f - kCifar10Mean[size_t(c)]) / kCifar10Std[size_t(c)];
        REQUIRE(out[size_t((c * H + 2) * W + 3)] == Approx(expected).epsilon(1e-5));
    }
    REQUIRE(kCifar10Mean[0] == 0.4914f);
    REQUIRE(kCifar10Std[2] == 0.2616f);
}

TEST_CASE("normalization without statistics is x / 255, and statistics must match the channel count", "[datasets][transforms]") {
    std::vector<uint8_t> img = test_image();
    std::vector<float> out(img.size());
    normalize_image(img.data(), C, H, W, Normalization::none(), out.data());
    REQUIRE(out[7] == Approx(img[7] / 255.f));
    Normalization grey{{0.5f}, {0.25f}};
    REQUIRE_THROWS_WITH(normalize_image(img.data(), C, H, W, grey, out.data()),
                        Contains("1 means and 1 stds") && Contains("3 channels"));
    normalize_image(img.data(), 1, H, W, grey, out.data());  // one channel: fine
    REQUIRE(out[0] == Approx((img[0] / 255.f - 0.5f) / 0.25f));
}

TEST_CASE("padded crop keeps the shape and moves the content by the window offset", "[datasets][transforms]") {
    std::vector<uint8_t> img = test_image(), out(img.size());
    const int64_t padding = 4, top = 5, left = 2;  // content moves up by 1 and right by 2
    crop_padded(img.data(), C, H, W, padding, top, left, out.data());
    const int64_t dy = top - padding, dx = left - padding;  // out(y, x) = img(y + dy, x + dx)
    for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                int64_t sy = y + dy, sx = x + dx;
                bool inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
                REQUIRE(at(out, c, y, x) == (inside ? at(img, c, sy, sx) : 0));
            }
}

TEST_CASE("padded crop at the centre is the identity, far corners are all padding", "[datasets][transforms]") {
    std::vector<uint8_t> img = test_image(), out(img.size());
    crop_padded(img.data(), C, H, W, 4, 4, 4, out.data());
    REQUIRE(out == img);
    crop_padded(img.data(), C, H, W, 8, 0, 16, out.data());  // shifted by more than the image
    REQUIRE(out == std::vector<uint8_t>(img.size(), 0));
    REQUIRE_THROWS_WITH(crop_padded(img.data(), C, H, W, 4, 9, 0, out.data()), Contains("[0, 8]"));
}

TEST_CASE("horizontal flip mirrors columns and twice is the identity", "[datasets][transforms]") {
    std::vector<uint8_t> img = test_image(), once(img.size()), twice(img.size());
    flip_horizontal(img.data(), C, H, W, once.data());
    REQUIRE(at(once, 1, 2, 0) == at(img, 1, 2, W - 1));
    REQUIRE(at(once, 2, 4, 1) == at(img, 2, 4, W - 2));
    flip_horizontal(once.data(), C, H, W, twice.data());
    REQUIRE(twice == img);
}

TEST_CASE("the same (seed, epoch, index) gives the same augmented image", "[datasets][transforms]") {
    AugmentOptions on{true, 4, true};
    for (int64_t index : {0, 7, 49999})
        REQUIRE(transformed(on, 11, 3, index) == transformed(on, 11, 3, index));
}

TEST_CASE("augmentation draws differ between epochs, samples and seeds", "[datasets][transforms]") {
    AugmentOptions options{true, 4, true};
    auto draws = [&](uint64_t seed, int64_t epoch, int64_t first_index) {
        std::vector<int64_t> out;
        for (int64_t i = first_index; i < first_index + 32; ++i) {
            SampleRandom random(seed, epoch, i);
            AugmentDraw d = draw_augment(options, random);
            out.insert(out.end(), {d.crop_top, d.crop_left, int64_t(d.flip)});
        }
        return out;
    };
    REQUIRE(draws(1, 0, 0) == draws(1, 0, 0));
    REQUIRE(draws(1, 0, 0) != draws(1, 1, 0));
    REQUIRE(draws(1, 0, 0) != draws(2, 0, 0));
    REQUIRE(draws(1, 0, 0) != draws(1, 0, 32));
    REQUIRE(transformed(options, 1, 0, 5) != transformed(options, 1, 1, 5));
}

TEST_CASE("crop offsets cover [0, 2*padding] and flips happen about half the time", "[datasets][transforms]") {
    AugmentOptions options{true, 4, true};
    std::vector<int64_t> top_counts(9, 0);
    int64_t flips = 0;
    const int64_t n = 9000;
    for (int64_t i = 0; i < n; ++i) {
        SampleRandom random(3, 0, i);
        AugmentDraw d = draw_augment(options, random);
        REQUIRE(d.crop_left >= 0);
        REQUIRE(d.crop_left <= 8);
        ++top_counts[size_t(d.crop_top)];
        flips += d.flip;
    }
    for (int64_t count : top_counts) REQUIRE(count == Approx(n / 9).margin(150));
    REQUIRE(flips == Approx(n / 2).margin(250));
}

TEST_CASE("switching one augmentation off leaves the other's draw unchanged", "[datasets][transforms]") {
    for (int64_t i = 0; i < 20; ++i) {
        SampleRandom a(5, 2, i), b(5, 2, i);
        AugmentDraw both = draw_augment({true, 4, true}, a);
        AugmentDraw flip_only = draw_augment({false, 4, true}, b);
        REQUIRE(flip_only.flip == both.flip);
        REQUIRE(flip_only.crop_top == 4);
    }
}

TEST_CASE("without augmentation transform_image is plain normalization", "[datasets][transforms]") {
    std::vector<uint8_t> img = test_image();
    std::vector<float> expected(img.size());
    normalize_image(img.data(), C, H, W, Normalization::cifar10(), expected.data());
    REQUIRE(transformed(AugmentOptions{}, 1, 0, 0) == expected);
}

TEST_CASE("transform_image equals normalize(flip(crop(image))) with the drawn parameters", "[datasets][transforms]") {
    AugmentOptions options{true, 4, true};
    for (int64_t index = 0; index < 8; ++index) {
        SampleRandom random(9, 1, index);
        AugmentDraw d = draw_augment(options, random);
        std::vector<uint8_t> img = test_image(), cropped(img.size()), flipped(img.size());
        crop_padded(img.data(), C, H, W, 4, d.crop_top, d.crop_left, cropped.data());
        if (d.flip) flip_horizontal(cropped.data(), C, H, W, flipped.data());
        else flipped = cropped;
        std::vector<float> expected(img.size());
        normalize_image(flipped.data(), C, H, W, Normalization::cifar10(), expected.data());
        REQUIRE(transformed(options, 9, 1, index) == expected);
    }
}

// test_datasets_trivial_augment.cpp — each TrivialAugment operation against
// its formula on small images, the magnitude table, and the per-sample draw.
#include "datasets/augment/transforms.h"
#include "datasets/augment/trivial_augment.h"
#include "tests/support/helpers.h"
#include "tests/support/synthetic_images.h"

#include <map>
#include <set>

using namespace attnlab;
using namespace attnlab::datasets;

namespace {

struct Image {
    int64_t C, H, W;
    std::vector<uint8_t> bytes;
    uint8_t at(int64_t c, int64_t y, int64_t x) const { return bytes[size_t((c * H + y) * W + x)]; }
};

// value(c, y, x) = 1 + c*60 + y*10 + x: distinct and never 0.
Image ramp(int64_t C, int64_t H, int64_t W) { return {C, H, W, attnlab::testing::ramp_image_bytes(C, H, W)}; }

Image apply(const Image& img, AugmentOp op, float magnitude) {
    Image out{img.C, img.H, img.W, std::vector<uint8_t>(img.bytes.size(), 77)};
    apply_augment_op(img.bytes.data(), img.C, img.H, img.W, op, magnitude, out.bytes.data());
    return out;
}

}  // namespace

TEST_CASE("magnitudes follow the TrivialAugment wide space", "[datasets][trivial_augment]") {
    CHECK(augment_magnitude(AugmentOp::ShearX, 0, false) == 0.f);
    CHECK(augment_magnitude(AugmentOp::ShearX, 30, false) == Approx(0.99f));
    CHECK(augment_magnitude(AugmentOp::ShearY, 15, true) == Approx(-0.495f));
    CHECK(augment_magnitude(AugmentOp::TranslateX, 30, true) == Approx(-32.f));
    CHECK(augment_magnitude(AugmentOp::Rotate, 10, false) == Approx(45.f));
    CHECK(augment_magnitude(AugmentOp::Brightness, 30, true) == Approx(-0.99f));
    CHECK(augment_magnitude(AugmentOp::Posterize, 0, false) == 8.f);
    CHECK(augment_magnitude(AugmentOp::Posterize, 12, false) == 6.f);  // 8 - round(2.4)
    CHECK(augment_magnitude(AugmentOp::Posterize, 13, false) == 5.f);  // 8 - round(2.6)
    CHECK(augment_magnitude(AugmentOp::Posterize, 30, false) == 2.f);
    CHECK(augment_magnitude(AugmentOp::Solarize, 0, true) == 255.f);  // unsigned: the sign is ignored
    CHECK(augment_magnitude(AugmentOp::Solarize, 30, false) == 0.f);
    CHECK(augment_magnitude(AugmentOp::Equalize, 20, true) == 0.f);
    CHECK_THROWS_WITH(augment_magnitude(AugmentOp::Rotate, 31, false), Catch::Matchers::Contains("bin 31"));
    CHECK(augment_op_name(AugmentOp::AutoContrast) == "AutoContrast");
}

TEST_CASE("zero-magnitude geometric ops and factor-1 colour ops are the identity", "[datasets][trivial_augment]") {
    const Image img = ramp(3, 5, 6);
    for (AugmentOp op : {AugmentOp::Identity, AugmentOp::ShearX, AugmentOp::ShearY, AugmentOp::TranslateX,
                         AugmentOp::TranslateY, AugmentOp::Rotate, AugmentOp::Brightness, AugmentOp::Color,
                         AugmentOp::Contrast, AugmentOp::Sharpness}) {
        INFO(augment_op_name(op));
        CHECK(apply(img, op, 0.f).bytes == img.bytes);
    }
    CHECK(apply(img, AugmentOp::Posterize, 8.f).bytes == img.bytes);
    CHECK(apply(img, AugmentOp::Solarize, 255.f).bytes == img.bytes);  // no byte of the ramp reaches 255
}

TEST_CASE("translate shifts by whole pixels and fills with zeros", "[datasets][trivial_augment]") {
    const Image img = ramp(3, 5, 6);
    const Image right = apply(img, AugmentOp::TranslateX, 2.9f);  // int(2.9) = 2 pixels
    const Image up = apply(img, AugmentOp::TranslateY, -1.f);
    for (int64_t c = 0; c < 3; ++c)
        for (int64_t y = 0; y < 5; ++y)
            for (int64_t x = 0; x < 6; ++x) {
                CHECK(right.at(c, y, x) == (x >= 2 ? img.at(c, y, x - 2) : 0));
                CHECK(up.at(c, y, x) == (y + 1 < 5 ? img.at(c, y + 1, x) : 0));
            }
}

TEST_CASE("shear moves row y by s*(y + 1/2) pixels, rotate by 90 degrees is exact", "[datasets][trivial_augment]") {
    const Image img = ramp(1, 4, 8);
    const Image sheared = apply(img, AugmentOp::ShearX, 1.f);  // row y reads x + y + 0.5 -> round up: x + y + 1
    for (int64_t y = 0; y < 4; ++y)
        for (int64_t x = 0; x < 8; ++x) CHECK(sheared.at(0, y, x) == (x + y + 1 < 8 ? img.at(0, y, x + y + 1) : 0));

    const Image square = ramp(2, 4, 4);
    const Image rotated = apply(square, AugmentOp::Rotate, 90.f);
    const Image back = apply(apply(rotated, AugmentOp::Rotate, 90.f), AugmentOp::Rotate, 180.f);
    CHECK(back.bytes == square.bytes);  // four quarter turns, nothing lost
    std::multiset<uint8_t> before(square.bytes.begin(), square.bytes.end()),
        after(rotated.bytes.begin(), rotated.bytes.end());
    CHECK(before == after);  // a permutation of the pixels
    CHECK(rotated.bytes != square.bytes);
    for (int64_t c = 0; c < 2; ++c)  // quarter turn about the centre: out(y, x) = in(3 - x, y)
        for (int64_t y = 0; y < 4; ++y)
            for (int64_t x = 0; x < 4; ++x) CHECK(rotated.at(c, y, x) == square.at(c, 3 - x, y));
}

TEST_CASE("colour operations blend with black, gray, mean gray and a blur", "[datasets][trivial_augment]") {
    Image img{3, 1, 2, {100, 200, 50, 10, 0, 250}};  // pixel 0 = (100, 50, 0), pixel 1 = (200, 10, 250)
    SECTION("brightness scales and clamps") {
        CHECK(apply(img, AugmentOp::Brightness, 0.5f).bytes == std::vector<uint8_t>{150, 255, 75, 15, 0, 255});
        CHECK(apply(img, AugmentOp::Brightness, -0.5f).bytes == std::vector<uint8_t>{50, 100, 25, 5, 0, 125});
    }
    SECTION("color at factor 0.01 is almost gray, and a gray image is unchanged") {
        const float g0 = 0.299f * 100 + 0.587f * 50, g1 = 0.299f * 200 + 0.587f * 10 + 0.114f * 250;
        const Image out = apply(img, AugmentOp::Color, -0.99f);
        for (int64_t c = 0; c < 3; ++c) {
            CHECK(std::abs(out.at(c, 0, 0) - g0) <= 1.5f);
            CHECK(std::abs(out.at(c, 0, 1) - g1) <= 2.5f);
        }
        Image gray{3, 1, 2, {30, 90, 30, 90, 30, 90}};
        CHECK(apply(gray, AugmentOp::Color, 0.9f).bytes == gray.bytes);
    }
    SECTION("contrast blends with the mean gray level") {
        const float g0 = 0.299f * 100 + 0.587f * 50, g1 = 0.299f * 200 + 0.587f * 10 + 0.114f * 250;
        const float mu = 0.5f * (g0 + g1);
        const Image out = apply(img, AugmentOp::Contrast, -0.5f);
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t x = 0; x < 2; ++x) CHECK(std::abs(out.at(c, 0, x) - (mu + 0.5f * (img.at(c, 0, x) - mu))) <= 0.51f);
    }
    SECTION("sharpness changes inner pixels only") {
        Image dot{1, 3, 3, {10, 10, 10, 10, 140, 10, 10, 10, 10}};
        // blur of the centre = (5*140 + 8*10) / 13 = 60; factor 2: 60 + 2*(140 - 60) = 220
        const Image out = apply(dot, AugmentOp::Sharpness, 1.f);
        CHECK(out.at(0, 1, 1) == 220);
        for (int64_t i : {0, 1, 2, 3, 5, 6, 7, 8}) CHECK(out.bytes[size_t(i)] == 10);
        const Image soft = apply(dot, AugmentOp::Sharpness, -1.f);  // factor 0: the blur itself
        CHECK(soft.at(0, 1, 1) == 60);
    }
}

TEST_CASE("posterize, solarize, autocontrast and equalize match their lookup tables", "[datasets][trivial_augment]") {
    Image img{1, 1, 4, {0, 37, 128, 255}};
    CHECK(apply(img, AugmentOp::Posterize, 2.f).bytes == std::vector<uint8_t>{0, 0, 128, 192});
    CHECK(apply(img, AugmentOp::Posterize, 5.f).bytes == std::vector<uint8_t>{0, 32, 128, 248});
    CHECK(apply(img, AugmentOp::Solarize, 128.f).bytes == std::vector<uint8_t>{0, 37, 127, 0});
    CHECK(apply(img, AugmentOp::Solarize, 0.f).bytes == std::vector<uint8_t>{255, 218, 127, 0});

    Image narrow{2, 1, 3, {50, 100, 150, 7, 7, 7}};  // channel 1 is constant: left as is
    CHECK(apply(narrow, AugmentOp::AutoContrast, 0.f).bytes == std::vector<uint8_t>{0, 128, 255, 7, 7, 7});

    // 510 pixels at 10, 255 at 20, 255 at 30: step = (1020 - 255) / 255 = 3;
    // level 10 -> (0 + 1) / 3 = 0, level 20 -> (510 + 1) / 3 = 170, level 30 -> (765 + 1) / 3 = 255.
    Image levels{1, 1, 1020, {}};
    levels.bytes.assign(510, 10);
    levels.bytes.insert(levels.bytes.end(), 255, 20);
    levels.bytes.insert(levels.bytes.end(), 255, 30);
    const Image eq = apply(levels, AugmentOp::Equalize, 0.f);
    CHECK(eq.bytes[0] == 0);
    CHECK(eq.bytes[600] == 170);
    CHECK(eq.bytes[1000] == 255);
    Image flat{1, 1, 4, {9, 9, 9, 9}};  // step 0: unchanged
    CHECK(apply(flat, AugmentOp::Equalize, 0.f).bytes == flat.bytes);
}

TEST_CASE("TrivialAugment draws every op and bin about equally often, from words 3 to 5", "[datasets][trivial_augment]") {
    std::map<int, int> ops, bins;
    int negatives = 0;
    const int samples = 14000;
    for (int i = 0; i < samples; ++i) {
        SampleRandom random(3, 1, i);
        AugmentDraw d = draw_augment({true, 4, true, true}, random);
        ++ops[int(d.trivial.op)], ++bins[d.trivial.bin], negatives += d.trivial.negative;
        SampleRandom plain(3, 1, i);
        AugmentDraw p = draw_augment({true, 4, true, false}, plain);
        REQUIRE(p.crop_top == d.crop_top);  // switching TrivialAugment on keeps crop and flip draws
        REQUIRE(p.crop_left == d.crop_left);
        REQUIRE(p.flip == d.flip);
        REQUIRE(p.trivial.op == AugmentOp::Identity);
    }
    REQUIRE(ops.size() == size_t(kAugmentOpCount));
    for (auto [op, n] : ops) CHECK(std::abs(n - samples / kAugmentOpCount) < 150);  // ~4 sigma of 1000
    REQUIRE(bins.size() == size_t(kMagnitudeBins));
    CHECK(std::abs(negatives - samples / 2) < 250);
}

TEST_CASE("transform_image applies the drawn TrivialAugment op after crop and flip", "[datasets][trivial_augment]") {
    const Image img = ramp(3, 5, 6);
    const AugmentOptions with{true, 2, true, true}, without{true, 2, true, false};
    int changed = 0;
    for (int64_t index = 0; index < 40; ++index) {
        std::vector<uint8_t> scratch;
        std::vector<float> a(img.bytes.size()), b(img.bytes.size()), expected(img.bytes.size());
        transform_image(img.bytes.data(), 3, 5, 6, with, Normalization::none(), 5, 0, index, scratch, a.data());
        transform_image(img.bytes.data(), 3, 5, 6, without, Normalization::none(), 5, 0, index, scratch, b.data());
        // Rebuild it by hand: crop/flip bytes (from `without`), then the op.
        SampleRandom random(5, 0, index);
        const AugmentDraw d = draw_augment(with, random);
        std::vector<uint8_t> base(img.bytes.size()), op_out(img.bytes.size());
        for (size_t i = 0; i < base.size(); ++i) base[i] = uint8_t(std::lround(b[i] * 255.f));
        apply_augment_op(base.data(), 3, 5, 6, d.trivial.op, d.trivial.magnitude(), op_out.data());
        for (size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(op_out[i] / 255.f).margin(1e-6));
        changed += a != b;
    }
    CHECK(changed > 20);  // most draws change the image (Identity and no-op magnitudes do not)
}

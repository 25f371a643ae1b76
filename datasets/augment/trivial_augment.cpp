// trivial_augment.cpp — the 14 TrivialAugment operations on byte images and
// the per-sample draw (formulas in trivial_augment.h).
#include "datasets/augment/trivial_augment.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/util/error.h"
#include "datasets/augment/transforms.h"
#include "datasets/grayscale.h"

namespace attnlab::datasets {

namespace {

uint8_t to_byte(float v) { return uint8_t(std::clamp(v, 0.f, 255.f) + 0.5f); }

// out[c, y, x] = image[c, round(d*x + e*y + f), round(a*x + b*y + c0)], 0 when
// that source pixel is outside the image (nearest-neighbour inverse mapping).
void sample_affine(const uint8_t* image, int64_t C, int64_t H, int64_t W, float a, float b, float c0,
                   float d, float e, float f, uint8_t* out) {
    for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
            const auto sx = int64_t(std::floor(a * float(x) + b * float(y) + c0 + 0.5f));
            const auto sy = int64_t(std::floor(d * float(x) + e * float(y) + f + 0.5f));
            const bool inside = sx >= 0 && sx < W && sy >= 0 && sy < H;
            for (int64_t ch = 0; ch < C; ++ch)
                out[(ch * H + y) * W + x] = inside ? image[(ch * H + sy) * W + sx] : uint8_t(0);
        }
}

// out = base + factor * (image - base), base given per pixel of the plane.
void blend_with(const uint8_t* image, int64_t C, int64_t plane, const std::vector<float>& base, float factor,
                uint8_t* out) {
    for (int64_t ch = 0; ch < C; ++ch)
        for (int64_t i = 0; i < plane; ++i) {
            const float b = base[size_t(i)];
            out[ch * plane + i] = to_byte(b + factor * (float(image[ch * plane + i]) - b));
        }
}

void sharpness(const uint8_t* image, int64_t C, int64_t H, int64_t W, float factor, uint8_t* out) {
    std::memcpy(out, image, size_t(C * H * W));  // border pixels stay as they are
    for (int64_t ch = 0; ch < C; ++ch) {
        const uint8_t* src = image + ch * H * W;
        for (int64_t y = 1; y + 1 < H; ++y)
            for (int64_t x = 1; x + 1 < W; ++x) {
                float sum = 4.f * src[y * W + x];  // centre weight 5 = 4 + its share of the 3x3 sum
                for (int64_t dy = -1; dy <= 1; ++dy)
                    for (int64_t dx = -1; dx <= 1; ++dx) sum += src[(y + dy) * W + x + dx];
                const float blur = sum / 13.f, v = src[y * W + x];
                out[(ch * H + y) * W + x] = to_byte(blur + factor * (v - blur));
            }
    }
}

void auto_contrast(const uint8_t* image, int64_t C, int64_t plane, uint8_t* out) {
    for (int64_t ch = 0; ch < C; ++ch) {
        const uint8_t* src = image + ch * plane;
        const auto [lo_it, hi_it] = std::minmax_element(src, src + plane);
        const float lo = *lo_it, hi = *hi_it;
        for (int64_t i = 0; i < plane; ++i)
            out[ch * plane + i] = hi > lo ? to_byte((float(src[i]) - lo) * 255.f / (hi - lo)) : src[i];
    }
}

// PIL's ImageOps.equalize per channel: step = (pixels - count of the last
// occupied level) / 255; level i maps to (pixels below i + step/2) / step.
void equalize(const uint8_t* image, int64_t C, int64_t plane, uint8_t* out) {
    for (int64_t ch = 0; ch < C; ++ch) {
        const uint8_t* src = image + ch * plane;
        std::array<int64_t, 256> histogram{};
        for (int64_t i = 0; i < plane; ++i) ++histogram[src[i]];
        int64_t last = 255;
        while (histogram[size_t(last)] == 0) --last;
        const int64_t step = (plane - histogram[size_t(last)]) / 255;
        if (step == 0) {
            std::memcpy(out + ch * plane, src, size_t(plane));
            continue;
        }
        std::array<uint8_t, 256> lut{};
        int64_t below = 0;
        for (size_t level = 0; level < 256; ++level) {
            lut[level] = uint8_t(std::min<int64_t>(255, (below + step / 2) / step));
            below += histogram[level];
        }
        for (int64_t i = 0; i < plane; ++i) out[ch * plane + i] = lut[src[i]];
    }
}

}  // namespace

std::string augment_op_name(AugmentOp op) {
    static const char* names[kAugmentOpCount] = {
        "Identity", "ShearX",     "ShearY", "TranslateX", "TranslateY", "Rotate",       "Brightness",
        "Color",    "Contrast", "Sharpness", "Posterize", "Solarize",   "AutoContrast", "Equalize"};
    const int i = int(op);
    check(i >= 0 && i < kAugmentOpCount, "augment_op_name: op ", i, " is not one of the ", kAugmentOpCount, " ops");
    return names[i];
}

float augment_magnitude(AugmentOp op, int bin, bool negative) {
    check(bin >= 0 && bin < kMagnitudeBins, "augment_magnitude: bin ", bin, "; expected 0..", kMagnitudeBins - 1);
    const float t = float(bin) / float(kMagnitudeBins - 1);  // 0 ... 1
    const float sign = negative ? -1.f : 1.f;
    switch (op) {
        case AugmentOp::ShearX:
        case AugmentOp::ShearY:
        case AugmentOp::Brightness:
        case AugmentOp::Color:
        case AugmentOp::Contrast:
        case AugmentOp::Sharpness: return sign * 0.99f * t;
        case AugmentOp::TranslateX:
        case AugmentOp::TranslateY: return sign * 32.f * t;
        case AugmentOp::Rotate: return sign * 135.f * t;
        case AugmentOp::Posterize: return float(8 - int(std::lround(float(bin) / 5.f)));
        case AugmentOp::Solarize: return 255.f * (1.f - t);
        default: return 0.f;
    }
}

void apply_augment_op(const uint8_t* image, int64_t C, int64_t H, int64_t W, AugmentOp op, float magnitude,
                      uint8_t* out) {
    check(C > 0 && H > 0 && W > 0, "apply_augment_op: image of ", C, "x", H, "x", W, "; expected positive sizes");
    const int64_t plane = H * W, bytes = C * plane;
    switch (op) {
        case AugmentOp::Identity: std::memcpy(out, image, size_t(bytes)); return;
        case AugmentOp::ShearX:  // pixel centres: src x + 0.5 = x + 0.5 + s * (y + 0.5)
            sample_affine(image, C, H, W, 1.f, magnitude, 0.5f * magnitude, 0.f, 1.f, 0.f, out);
            return;
        case AugmentOp::ShearY:
            sample_affine(image, C, H, W, 1.f, 0.f, 0.f, magnitude, 1.f, 0.5f * magnitude, out);
            return;
        case AugmentOp::TranslateX:
            sample_affine(image, C, H, W, 1.f, 0.f, -std::trunc(magnitude), 0.f, 1.f, 0.f, out);
            return;
        case AugmentOp::TranslateY:
            sample_affine(image, C, H, W, 1.f, 0.f, 0.f, 0.f, 1.f, -std::trunc(magnitude), out);
            return;
        case AugmentOp::Rotate: {  // src = centre + R(-θ) (dst - centre)
            const double rad = double(magnitude) * M_PI / 180.0;
            const float cs = float(std::cos(rad)), sn = float(std::sin(rad));
            const float cx = 0.5f * float(W - 1), cy = 0.5f * float(H - 1);
            sample_affine(image, C, H, W, cs, sn, cx - cs * cx - sn * cy, -sn, cs, cy + sn * cx - cs * cy, out);
            return;
        }
        case AugmentOp::Brightness:
            for (int64_t i = 0; i < bytes; ++i) out[i] = to_byte((1.f + magnitude) * float(image[i]));
            return;
        case AugmentOp::Color: blend_with(image, C, plane, gray_levels(image, C, H, W), 1.f + magnitude, out); return;
        case AugmentOp::Contrast: {
            const std::vector<float> gray = gray_levels(image, C, H, W);
            double sum = 0;
            for (float g : gray) sum += g;
            blend_with(image, C, plane, std::vector<float>(size_t(plane), float(sum / double(plane))),
                       1.f + magnitude, out);
            return;
        }
        case AugmentOp::Sharpness: sharpness(image, C, H, W, 1.f + magnitude, out); return;
        case AugmentOp::Posterize: {
            const int bits = std::clamp(int(magnitude), 0, 8);
            const auto mask = uint8_t(0xFF00u >> bits);  // top `bits` bits of a byte
            for (int64_t i = 0; i < bytes; ++i) out[i] = image[i] & mask;
            return;
        }
        case AugmentOp::Solarize:
            for (int64_t i = 0; i < bytes; ++i) out[i] = float(image[i]) >= magnitude ? uint8_t(255 - image[i]) : image[i];
            return;
        case AugmentOp::AutoContrast: auto_contrast(image, C, plane, out); return;
        case AugmentOp::Equalize: equalize(image, C, plane, out); return;
    }
    check(false, "apply_augment_op: op ", int(op), " is not one of the ", kAugmentOpCount, " ops");
}

TrivialAugmentDraw draw_trivial_augment(SampleRandom& random) {
    TrivialAugmentDraw draw;
    draw.op = AugmentOp(random.below(kAugmentOpCount));
    draw.bin = int(random.below(kMagnitudeBins));
    draw.negative = random.coin();
    return draw;
}

}  // namespace attnlab::datasets

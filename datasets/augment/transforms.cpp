// transforms.cpp — crop, flip, normalize, the composed pipeline and the per-sample Philox stream
// (see transforms.h for the formulas and the randomness scheme).
#include "datasets/augment/transforms.h"

#include <algorithm>
#include <cstring>

#include "core/util/error.h"
#include "core/util/rng.h"

namespace attnlab::datasets {

void normalize_image(const uint8_t* image, int64_t C, int64_t H, int64_t W,
                     const Normalization& norm, float* out) {
    const bool identity = norm.mean.empty() && norm.std.empty();
    check(identity || (int64_t(norm.mean.size()) == C && int64_t(norm.std.size()) == C),
          "normalize_image: ", norm.mean.size(), " means and ", norm.std.size(),
          " stds for an image of ", C, " channels; expected ", C, " of each (or none)");
    const int64_t plane = H * W;
    for (int64_t c = 0; c < C; ++c) {
        // (x/255 - mean)/std = x * scale + shift
        float scale = 1.f / 255.f, shift = 0.f;
        if (!identity) {
            check(norm.std[size_t(c)] > 0.f, "normalize_image: std of channel ", c, " is ",
                  norm.std[size_t(c)], "; expected > 0");
            scale = 1.f / (255.f * norm.std[size_t(c)]);
            shift = -norm.mean[size_t(c)] / norm.std[size_t(c)];
        }
        const uint8_t* src = image + c * plane;
        float* dst = out + c * plane;
        for (int64_t i = 0; i < plane; ++i) dst[i] = float(src[i]) * scale + shift;
    }
}

void crop_padded(const uint8_t* image, int64_t C, int64_t H, int64_t W, int64_t padding,
                 int64_t top, int64_t left, uint8_t* out) {
    check(padding >= 0 && top >= 0 && top <= 2 * padding && left >= 0 && left <= 2 * padding,
          "crop_padded: window at (", top, ", ", left, ") with padding ", padding,
          "; expected top and left in [0, ", 2 * padding, "]");
    const int64_t dy = top - padding, dx = left - padding;  // source = output + (dy, dx)
    // Output columns [x0, x1) read inside the image; the rest are padding.
    const int64_t x0 = std::clamp<int64_t>(-dx, 0, W), x1 = std::clamp<int64_t>(W - dx, 0, W);
    for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y) {
            uint8_t* row = out + (c * H + y) * W;
            const int64_t sy = y + dy;
            if (sy < 0 || sy >= H || x0 >= x1) {
                std::memset(row, 0, size_t(W));
                continue;
            }
            std::memset(row, 0, size_t(x0));
            std::memcpy(row + x0, image + (c * H + sy) * W + x0 + dx, size_t(x1 - x0));
            std::memset(row + x1, 0, size_t(W - x1));
        }
}

void flip_horizontal(const uint8_t* image, int64_t C, int64_t H, int64_t W, uint8_t* out) {
    for (int64_t row = 0; row < C * H; ++row) {
        const uint8_t* src = image + row * W;
        uint8_t* dst = out + row * W;
        for (int64_t x = 0; x < W; ++x) dst[x] = src[W - 1 - x];
    }
}

// splitmix64 finalizer: spreads (seed, epoch) over all 64 key bits.
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

SampleRandom::SampleRandom(uint64_t seed, int64_t epoch, int64_t sample_index)
    : key_(mix64(mix64(seed + 0x9E3779B97F4A7C15ull) ^ uint64_t(epoch))),
      first_counter_(uint64_t(sample_index) << 16) {
    check(sample_index >= 0 && sample_index < (int64_t(1) << 48), "SampleRandom: sample index ",
          sample_index, " is outside [0, 2^48)");
}

uint32_t SampleRandom::next_word() {
    if (used_ == 4) {
        check(block_ < (uint64_t(1) << 16), "SampleRandom: more than 2^18 draws for one sample");
        words_ = Generator::philox(key_, first_counter_ + block_++);
        used_ = 0;
    }
    return words_[size_t(used_++)];
}

int64_t SampleRandom::below(int64_t n) {
    check(n > 0 && n <= (int64_t(1) << 32), "SampleRandom::below: need 0 < n <= 2^32, got ", n);
    return int64_t((uint64_t(next_word()) * uint64_t(n)) >> 32);  // bias < n / 2^32
}

AugmentDraw draw_augment(const AugmentOptions& options, SampleRandom& random) {
    const int64_t positions = 2 * options.crop_padding + 1;
    AugmentDraw draw;
    draw.crop_top = random.below(positions);   // word 0
    draw.crop_left = random.below(positions);  // word 1
    draw.flip = random.coin();                 // word 2
    draw.trivial = draw_trivial_augment(random);  // words 3, 4, 5
    if (!options.trivial_augment) draw.trivial = {};
    if (!options.random_crop) draw.crop_top = draw.crop_left = options.crop_padding;
    if (!options.random_flip) draw.flip = false;
    return draw;
}

void transform_image(const uint8_t* image, int64_t C, int64_t H, int64_t W,
                     const AugmentOptions& augment, const Normalization& norm, uint64_t seed,
                     int64_t epoch, int64_t sample_index, std::vector<uint8_t>& scratch, float* out) {
    check(augment.crop_padding >= 0, "transform_image: crop_padding must be >= 0, got ",
          augment.crop_padding);
    const int64_t bytes = C * H * W;
    scratch.resize(size_t(2 * bytes));
    uint8_t* buffers[2] = {scratch.data(), scratch.data() + bytes};
    int next_buffer = 0;
    const uint8_t* current = image;

    SampleRandom random(seed, epoch, sample_index);
    const AugmentDraw draw = draw_augment(augment, random);
    if (augment.random_crop) {
        crop_padded(current, C, H, W, augment.crop_padding, draw.crop_top, draw.crop_left,
                    buffers[next_buffer]);
        current = buffers[next_buffer], next_buffer ^= 1;
    }
    if (draw.flip) {
        flip_horizontal(current, C, H, W, buffers[next_buffer]);
        current = buffers[next_buffer], next_buffer ^= 1;
    }
    if (draw.trivial.op != AugmentOp::Identity) {
        apply_augment_op(current, C, H, W, draw.trivial.op, draw.trivial.magnitude(), buffers[next_buffer]);
        current = buffers[next_buffer], next_buffer ^= 1;
    }
    // Further per-image augmentations (Cutout/random erasing, ...) go here:
    // bytes -> bytes into buffers[next_buffer], randomness from `random` (after
    // the six words above, so existing draws keep their values), and their
    // switches in AugmentOptions. Batch-level mixing (Mixup, CutMix) is in
    // nn/train/trainer_step.cpp.

    normalize_image(current, C, H, W, norm, out);
}

}  // namespace attnlab::datasets

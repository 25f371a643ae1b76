// transforms.h — per-image preprocessing: augmentation and normalization.
//
// Each function works on one image; bytes [C, H, W] go in, floats [C, H, W]
// come out. transform_image composes them the way the DataLoader uses them:
//   bytes -> random crop (zero padding) -> random horizontal flip
//         -> TrivialAugment (optional, trivial_augment.h)
//         -> normalize: out[c] = (x / 255 - mean[c]) / std[c]
// Randomness is counter-based: sample i of epoch e draws from the Philox block
// stream philox(key(seed, e), i * 2^16 + k), k = 0, 1, ... So a sample gets the
// same crop and flip whatever the thread count, the batch it lands in or the
// epochs run before (a resumed run is bit-identical).
// Cost: O(C*H*W) per image, a few byte copies plus one multiply-add per value.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

#include "datasets/augment/trivial_augment.h"

namespace attnlab::datasets {

// ---- normalization ---------------------------------------------------------
// Per-channel statistics of the CIFAR-10 training set (pixel values in [0, 1]).
inline constexpr std::array<float, 3> kCifar10Mean{0.4914f, 0.4822f, 0.4465f};
inline constexpr std::array<float, 3> kCifar10Std{0.2470f, 0.2435f, 0.2616f};

struct Normalization {
    std::vector<float> mean, std;  // one value per channel; both empty: out = x / 255
    static Normalization none() { return {}; }
    static Normalization cifar10() {
        return {{kCifar10Mean.begin(), kCifar10Mean.end()}, {kCifar10Std.begin(), kCifar10Std.end()}};
    }
};

// out[c, y, x] = (image[c, y, x] / 255 - mean[c]) / std[c].
void normalize_image(const uint8_t* image, int64_t C, int64_t H, int64_t W,
                     const Normalization& norm, float* out);

// ---- geometry (bytes in, bytes out; out must not alias image) --------------
// The H x W window at (top, left) of the image zero-padded by `padding` pixels
// on every side: out[c, y, x] = image[c, y + top - padding, x + left - padding],
// 0 outside the image. top, left in [0, 2*padding]; top = left = padding is
// the identity.
void crop_padded(const uint8_t* image, int64_t C, int64_t H, int64_t W, int64_t padding,
                 int64_t top, int64_t left, uint8_t* out);
// out[c, y, x] = image[c, y, W - 1 - x].
void flip_horizontal(const uint8_t* image, int64_t C, int64_t H, int64_t W, uint8_t* out);

// ---- per-sample randomness -------------------------------------------------
// The random stream of one sample in one epoch: 32-bit words from Philox
// blocks (key(seed, epoch), sample_index * 2^16 + k). sample_index < 2^48.
class SampleRandom {
public:
    SampleRandom(uint64_t seed, int64_t epoch, int64_t sample_index);
    uint32_t next_word();
    int64_t below(int64_t n);  // uniform in [0, n), n <= 2^32
    bool coin() { return (next_word() & 1u) != 0; }
    float uniform() { return float(next_word() >> 8) * (1.0f / 16777216.0f); }  // [0, 1)

private:
    uint64_t key_, first_counter_;
    uint64_t block_ = 0;
    std::array<uint32_t, 4> words_{};
    int used_ = 4;  // words of words_ already handed out
};

// ---- the composed pipeline -------------------------------------------------
struct AugmentOptions {
    bool random_crop = false;  // pad by crop_padding, take a random H x W window
    int64_t crop_padding = 4;
    bool random_flip = false;  // mirror left-right with probability 1/2
    bool trivial_augment = false;  // then one random TrivialAugment op (trivial_augment.h)
};

// What was drawn for one sample. Each augmentation owns fixed words of the
// stream (crop: words 0 and 1, flip: word 2, TrivialAugment: words 3 to 5),
// drawn whether or not it is enabled, so switching one on or off leaves the
// others' draws unchanged.
struct AugmentDraw {
    int64_t crop_top = 0, crop_left = 0;  // in [0, 2*padding]
    bool flip = false;
    TrivialAugmentDraw trivial;  // Identity when trivial_augment is off
};
AugmentDraw draw_augment(const AugmentOptions& options, SampleRandom& random);

// Sample `sample_index` of `epoch`: bytes [C, H, W] -> augmented, normalized
// floats [C, H, W]. `scratch` is resized as needed; reuse it across calls.
void transform_image(const uint8_t* image, int64_t C, int64_t H, int64_t W,
                     const AugmentOptions& augment, const Normalization& norm, uint64_t seed,
                     int64_t epoch, int64_t sample_index, std::vector<uint8_t>& scratch, float* out);

}  // namespace attnlab::datasets

// trivial_augment.h — TrivialAugment (Müller & Hutter 2021, "TrivialAugment:
// Tuning-free Yet State-of-the-Art Data Augmentation"), the "wide" space.
//
// Per image: pick one of 14 operations uniformly, pick a magnitude bin
// b uniformly in [0, 30], and for signed operations a sign, then apply
//   op(image, magnitude(op, b, sign)).
// No hyperparameters to tune: that is the point of the method. Operations
// and magnitudes (same as torchvision's TrivialAugmentWide, nearest-neighbour
// sampling, fill 0):
//   Identity
//   ShearX/ShearY    s in ±[0, 0.99]   src x = x + s*y   (resp. y = y + s*x)
//   TranslateX/Y     t in ±[0, 32] px  src x = x - int(t)
//   Rotate           θ in ±[0, 135]°   about the image centre
//   Brightness       f = 1 + m, m in ±[0, 0.99]: out = f*x
//   Color            out = gray + f*(x - gray)          (saturation)
//   Contrast         out = μ + f*(x - μ), μ = mean gray level of the image
//   Sharpness        out = blur + f*(x - blur), 3x3 kernel [1 1 1; 1 5 1; 1 1 1]/13
//                    on inner pixels (border pixels unchanged)
//   Posterize        keep the top 8 - round(b/5) bits (8 ... 2)
//   Solarize         x >= t -> 255 - x, t = 255 * (1 - b/30)
//   AutoContrast     per channel: stretch [min, max] to [0, 255]
//   Equalize         per channel: histogram equalization (PIL's lookup table)
// gray = 0.299 R + 0.587 G + 0.114 B; results are rounded and clamped to
// [0, 255]. Colour operations on a 1-channel image use the channel as gray.
// Cost: O(C*H*W) per image (one pass, or two for the histogram ones).
#pragma once
#include <cstdint>
#include <string>

namespace attnlab::datasets {

class SampleRandom;

enum class AugmentOp {
    Identity, ShearX, ShearY, TranslateX, TranslateY, Rotate, Brightness,
    Color, Contrast, Sharpness, Posterize, Solarize, AutoContrast, Equalize,
};
inline constexpr int kAugmentOpCount = 14;
inline constexpr int kMagnitudeBins = 31;

std::string augment_op_name(AugmentOp op);

// The op's magnitude at bin b in [0, kMagnitudeBins): shear factor, pixels,
// degrees, enhancement m (factor 1 + m), bits kept or solarize threshold.
// `negative` flips the sign of the signed ops and is ignored by the others.
float augment_magnitude(AugmentOp op, int bin, bool negative);

// Applies one operation: bytes [C, H, W] in, bytes [C, H, W] out (out must
// not alias image).
void apply_augment_op(const uint8_t* image, int64_t C, int64_t H, int64_t W, AugmentOp op,
                      float magnitude, uint8_t* out);

struct TrivialAugmentDraw {
    AugmentOp op = AugmentOp::Identity;
    int bin = 0;
    bool negative = false;
    float magnitude() const { return augment_magnitude(op, bin, negative); }
};
// Draws three words from `random`: the op, the bin and the sign.
TrivialAugmentDraw draw_trivial_augment(SampleRandom& random);

}  // namespace attnlab::datasets

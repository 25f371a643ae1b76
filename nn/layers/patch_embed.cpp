// patch_embed.cpp — see patch_embed.h.
#include "nn/layers/patch_embed.h"

#include "core/ops/ops.h"

namespace attnlab::nn {

Tensor image_to_patches(const Tensor& images, int64_t p) {
    check(images.dim() == 4, "image_to_patches: expected images [B, C, H, W], got ", to_string(images.shape()));
    int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
    check(H % p == 0 && W % p == 0, "image_to_patches: image ", H, "x", W, " is not divisible by patch size ", p);
    // [B, C, H/p, p, W/p, p] -> [B, H/p, W/p, p, p, C] -> [B, N, p·p·C]
    return images.reshape({B, C, H / p, p, W / p, p}).permute({0, 2, 4, 3, 5, 1}).reshape({B, (H / p) * (W / p), p * p * C});
}

PatchEmbed::PatchEmbed(int64_t img, int64_t patch, int64_t ch, int64_t d)
    : image_size(img), patch_size(patch), channels(ch), dim(d), grid(img / std::max<int64_t>(patch, 1)) {
    check(patch > 0 && img % patch == 0, "PatchEmbed: image size ", img, " is not divisible by patch size ", patch);
    proj = register_module("proj", std::make_shared<Linear>(patch * patch * ch, d));
}

Tensor PatchEmbed::forward(const Tensor& images) {
    check(images.dim() == 4 && images.size(1) == channels && images.size(2) == image_size && images.size(3) == image_size,
          "PatchEmbed: images ", to_string(images.shape()), ", expected [B, ", channels, ", ", image_size, ", ",
          image_size, "]");
    return proj->forward(image_to_patches(images, patch_size));
}

std::string PatchEmbed::describe() const {
    return cat("PatchEmbed(", image_size, "px, patch ", patch_size, " -> ", num_patches(), " tokens of ", dim, ")");
}

}  // namespace attnlab::nn

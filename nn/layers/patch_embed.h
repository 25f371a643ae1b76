// patch_embed.h — image to patch tokens (Dosovitskiy et al., 2021), without convolution.
//
// images [B, C, H, W] -> patches [B, N, p·p·C] with N = (H/p)(W/p), each patch
// flattened in (row, column, channel) order -> Linear(p·p·C, dim) -> [B, N, dim].
// Equivalent to a stride-p convolution with a p×p kernel. Cost: 2·B·N·p²C·dim flops.
#pragma once
#include "nn/layers/linear.h"

namespace attnlab::nn {

class PatchEmbed : public UnaryModule {
public:
    PatchEmbed(int64_t image_size, int64_t patch_size, int64_t channels, int64_t dim);
    Tensor forward(const Tensor& images) override;
    std::string describe() const override;
    int64_t num_patches() const { return grid * grid; }

    int64_t image_size, patch_size, channels, dim, grid;
    std::shared_ptr<Linear> proj;
};

// images [B, C, H, W] -> [B, (H/p)(W/p), p·p·C] (a copy; no parameters).
Tensor image_to_patches(const Tensor& images, int64_t patch_size);

}  // namespace attnlab::nn

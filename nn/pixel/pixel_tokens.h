// pixel_tokens.h — images as token sequences for autoregressive pixel models.
//
// An image of C channels, H rows and W columns (bytes; [C, H, W] planes as in
// datasets::ImageDataset) becomes N = H·W·C tokens in raster order with the
// channels of a pixel next to each other:
//   token (y·W + x)·C + c = pixel[c][y][x]        (r, g, b of pixel 0, then of pixel 1, ...)
// so the top k rows of an image are exactly its first k·W·C tokens (what
// completion conditions on), and each value is predicted from the pixels above
// and to the left plus the earlier channels of its own pixel (PixelCNN's order).
// Token values are the bytes 0..255. Cost: O(N) per image.
#pragma once
#include <cstdint>
#include <vector>

#include "core/tensor/tensor.h"
#include "datasets/image_dataset.h"

namespace attnlab::nn {

inline constexpr int64_t kPixelLevels = 256;  // 8-bit values: the vocabulary of pixel tokens

// Images indices[i] of `set` as Int64 tokens [indices.size(), H·W·C].
Tensor image_tokens(const datasets::ImageDataset& set, const std::vector<int64_t>& indices);
// Images [begin, begin + count) of `set`.
Tensor image_tokens(const datasets::ImageDataset& set, int64_t begin, int64_t count);

// Int64 tokens [B, H·W·C] -> Float32 images [B, C, H, W] in [0, 1] (value / 255), for write_png_grid.
Tensor tokens_to_images(const Tensor& tokens, int64_t channels, int64_t height, int64_t width);

}  // namespace attnlab::nn

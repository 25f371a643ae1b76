// image_io.h — reading image files into tensors and writing PNGs (via stb).
//
// load_image decodes PNG/JPEG/BMP/... with stb_image, converts to the asked
// number of channels (1 grey, 3 RGB, 4 RGBA), resizes with stb_image_resize
// when the size differs, and returns float [C, H, W] in [0, 1] (byte / 255).
// write_png writes interleaved [H, W, C] bytes; write_png_grid tiles a batch
// [N, C, H, W] of [0, 1] floats into one picture (e.g. generated samples).
// Writes are atomic: a temporary file beside the target, then a rename, so a
// reader never sees half a PNG. Cost: O(pixels) plus the codec.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor/tensor.h"

namespace attnlab::datasets {

// The image as bytes [C, H, W] (planes, like ImageDataset), resized to height x width.
std::vector<uint8_t> load_image_bytes(const std::string& path, int64_t channels, int64_t height,
                                      int64_t width);
// The image as float [C, H, W] in [0, 1], resized to height x width.
Tensor load_image(const std::string& path, int64_t channels, int64_t height, int64_t width);

// pixels: interleaved [H, W, C] bytes, C in 1..4.
void write_png(const std::string& path, const uint8_t* pixels, int64_t width, int64_t height,
               int64_t channels);

// images: [N, C, H, W] float in [0, 1] (clamped), C in {1, 3, 4}. Tiles are laid
// out row by row, cols = min(columns, N) per row, with `padding` background
// pixels between and around them: the PNG is cols*(W+padding)+padding wide
// and rows*(H+padding)+padding high, rows = ceil(N / cols).
void write_png_grid(const std::string& path, const Tensor& images, int64_t columns,
                    int64_t padding = 2, uint8_t background = 255);

}  // namespace attnlab::datasets

// grayscale.h — colour images to grey levels.
//
//   gray = 0.299 R + 0.587 G + 0.114 B     (ITU-R BT.601 luma, as PIL's convert("L"))
//
// TrivialAugment's Color and Contrast blend with these levels; to_grayscale turns a whole
// RGB dataset into one channel, the input of the Long Range Arena "Image" task (CIFAR-10 as
// 1024 grey pixel tokens). Cost: O(H·W) per image.
#pragma once
#include <cstdint>
#include <vector>

#include "datasets/image_dataset.h"

namespace attnlab::datasets {

// Gray level of every pixel of a [C, H, W] byte image, unrounded; the channel itself when C != 3.
std::vector<float> gray_levels(const uint8_t* image, int64_t C, int64_t H, int64_t W);

// The dataset with every image replaced by its gray levels rounded to bytes: C = 1. A
// one-channel dataset comes back unchanged; any other channel count but 3 is an error.
ImageDataset to_grayscale(const ImageDataset& dataset);

}  // namespace attnlab::datasets

// grayscale.cpp — BT.601 gray levels of byte images (formula in grayscale.h).
#include "datasets/grayscale.h"

#include <cmath>

#include "core/util/error.h"

namespace attnlab::datasets {

std::vector<float> gray_levels(const uint8_t* image, int64_t C, int64_t H, int64_t W) {
    const int64_t plane = H * W;
    std::vector<float> gray(static_cast<size_t>(plane));
    for (int64_t i = 0; i < plane; ++i)
        gray[size_t(i)] = C == 3 ? 0.299f * image[i] + 0.587f * image[plane + i] + 0.114f * image[2 * plane + i]
                                 : float(image[i]);
    return gray;
}

ImageDataset to_grayscale(const ImageDataset& dataset) {
    if (dataset.channels == 1) return dataset;
    check(dataset.channels == 3, "to_grayscale: images have ", dataset.channels, " channels, expected 3 (RGB) or 1");
    ImageDataset out;
    out.channels = 1, out.height = dataset.height, out.width = dataset.width;
    out.class_names = dataset.class_names;
    out.labels = dataset.labels;
    const int64_t plane = dataset.height * dataset.width;
    out.pixels.resize(size_t(dataset.size() * plane));
    for (int64_t i = 0; i < dataset.size(); ++i) {
        const std::vector<float> gray = gray_levels(dataset.image(i), 3, dataset.height, dataset.width);
        for (int64_t p = 0; p < plane; ++p)  // gray is in [0, 255]: rounding cannot overflow a byte
            out.pixels[size_t(i * plane + p)] = uint8_t(std::lround(gray[size_t(p)]));
    }
    return out;
}

}  // namespace attnlab::datasets

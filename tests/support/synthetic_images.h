// synthetic_images.h — small learnable image sets in memory or as CIFAR-10 binary files.
//
// Class c of K: a bright horizontal band at rows [c·H/K, (c+1)·H/K) on a noisy
// background, so a tiny model learns it in a few steps.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "core/util/rng.h"
#include "datasets/image_dataset.h"
#include "tests/support/temp_dir.h"

namespace attnlab::testing {

inline datasets::ImageDataset synthetic_images(int64_t n, uint64_t seed, int64_t classes = 10, int64_t size = 32) {
    datasets::ImageDataset ds;
    ds.channels = 3, ds.height = size, ds.width = size;
    for (int64_t c = 0; c < classes; ++c) ds.class_names.push_back("class" + std::to_string(c));
    Generator g(seed);
    for (int64_t i = 0; i < n; ++i) {
        int64_t label = g.randint(classes);
        ds.labels.push_back(label);
        for (int64_t ch = 0; ch < 3; ++ch)
            for (int64_t y = 0; y < size; ++y)
                for (int64_t x = 0; x < size; ++x) {
                    bool band = y * classes / size == label;
                    float v = (band ? 200.f : 60.f) + 40.f * g.normal();
                    ds.pixels.push_back(uint8_t(std::clamp(v, 0.f, 255.f)));
                }
    }
    return ds;
}

// Bytes [C, H, W] with value(c, y, x) = 1 + c*60 + y*10 + x: distinct and never
// 0 for C <= 4, H, W <= 10, so a test can tell every pixel (and padding) apart.
inline std::vector<uint8_t> ramp_image_bytes(int64_t C, int64_t H, int64_t W) {
    std::vector<uint8_t> img(size_t(C * H * W));
    for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) img[size_t((c * H + y) * W + x)] = uint8_t(1 + c * 60 + y * 10 + x);
    return img;
}

// Writes data_batch_1..5.bin (per_batch records each) and test_batch.bin (test records).
inline void write_synthetic_cifar(const std::string& dir, int64_t per_batch, int64_t test, uint64_t seed = 1) {
    auto write = [&](const std::string& name, const datasets::ImageDataset& ds) {
        std::vector<uint8_t> bytes;
        for (int64_t i = 0; i < ds.size(); ++i) {
            bytes.push_back(uint8_t(ds.labels[size_t(i)]));
            bytes.insert(bytes.end(), ds.pixels.begin() + i * 3072, ds.pixels.begin() + (i + 1) * 3072);
        }
        write_bytes(dir + "/" + name, bytes);
    };
    for (int b = 1; b <= 5; ++b) write("data_batch_" + std::to_string(b) + ".bin", synthetic_images(per_batch, seed + uint64_t(b)));
    write("test_batch.bin", synthetic_images(test, seed + 100));
}

}  // namespace attnlab::testing

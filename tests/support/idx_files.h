// idx_files.h — tiny image sets in the IDX format of MNIST and Fashion-MNIST
// (datasets/formats/idx.h), written for tests: n side×side grey images, each a
// bright stripe (250) at a random row on dark noise (0..19), labelled
// row % 10, so that a small model can learn them in a few steps.
// Files: <dir>/<prefix>-images-idx3-ubyte<suffix> and -labels-idx1-ubyte<suffix>;
// suffix ".gz" writes them gzip-compressed (the names Fashion-MNIST ships).
#pragma once
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "core/util/rng.h"
#include "tests/support/temp_dir.h"

namespace attnlab::testing {

inline void put_u32(std::vector<uint8_t>& out, uint32_t v) {  // big-endian, as IDX wants
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

// `bytes` into `path`, gzip-compressed when the name ends in ".gz".
inline void write_maybe_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
    if (!path.ends_with(".gz")) return write_bytes(path, bytes);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
    REQUIRE(gzclose(f) == Z_OK);
}

inline void write_tiny_mnist(const std::string& dir, const std::string& prefix, uint32_t n, uint32_t side, uint64_t seed,
                             const std::string& suffix = "") {
    std::vector<uint8_t> images, labels;
    put_u32(images, 0x00000803u), put_u32(images, n), put_u32(images, side), put_u32(images, side);
    put_u32(labels, 0x00000801u), put_u32(labels, n);
    Generator g(seed);
    for (uint32_t i = 0; i < n; ++i) {
        int64_t row = g.randint(side);
        labels.push_back(uint8_t(row % 10));
        for (uint32_t y = 0; y < side; ++y)
            for (uint32_t x = 0; x < side; ++x) images.push_back(int64_t(y) == row ? 250 : uint8_t(g.randint(20)));
    }
    write_maybe_gzip(dir + "/" + prefix + "-images-idx3-ubyte" + suffix, images);
    write_maybe_gzip(dir + "/" + prefix + "-labels-idx1-ubyte" + suffix, labels);
}

}  // namespace attnlab::testing

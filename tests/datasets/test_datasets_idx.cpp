// test_datasets_idx.cpp — IDX (MNIST format) files, plain and gzip, and
// Fashion-MNIST from Debian's dataset-fashion-mnist package.
#include <zlib.h>

#include <filesystem>

#include "datasets/formats/idx.h"
#include "tests/support/helpers.h"
#include "tests/support/temp_dir.h"

using namespace attnlab;
using namespace attnlab::datasets;
using attnlab::testing::TempDir;
using attnlab::testing::write_bytes;
using Catch::Matchers::Contains;

namespace {

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(uint8_t(v >> shift));
}

// An IDX unsigned-byte file: magic 0x000008<ndims>, dims, then values.
std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& values) {
    std::vector<uint8_t> out;
    put_u32(out, 0x00000800u | uint32_t(dims.size()));
    for (uint32_t d : dims) put_u32(out, d);
    out.insert(out.end(), values.begin(), values.end());
    return out;
}

std::vector<uint8_t> counting(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = uint8_t(i * 3);
    return v;
}

void write_gzip(const std::string& path, const std::vector<uint8_t>& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    gzwrite(f, bytes.data(), unsigned(bytes.size()));
    gzclose(f);
}

}  // namespace

TEST_CASE("Fashion-MNIST from the Debian package: 60000/10000 grey 28x28 images, labels 0..9", "[datasets][idx]") {
    if (!std::filesystem::exists(std::string(kFashionMnistDir) + "/t10k-images-idx3-ubyte.gz")) {
        WARN("skipped: Fashion-MNIST not found at " << kFashionMnistDir
                                                   << " (apt-get install dataset-fashion-mnist)");
        return;
    }
    ImageDataset test = load_fashion_mnist(Split::Test);
    REQUIRE(test.size() == 10000);
    REQUIRE(test.channels == 1);
    REQUIRE(test.height == 28);
    REQUIRE(test.width == 28);
    REQUIRE(test.class_names.size() == 10);
    REQUIRE(test.class_counts() == std::vector<int64_t>(10, 1000));
    REQUIRE(test.labels[0] == 9);  // the first test image is an ankle boot
    ImageDataset train = load_fashion_mnist(Split::Train);
    REQUIRE(train.size() == 60000);
    REQUIRE(train.class_counts() == std::vector<int64_t>(10, 6000));
}

TEST_CASE("IDX images and labels load the same from plain and gzip files", "[datasets][idx]") {
    TempDir tmp;
    std::vector<uint8_t> images = idx_bytes({2, 3, 4}, counting(24));
    std::vector<uint8_t> labels = idx_bytes({2}, {7, 1});
    write_bytes(tmp.file("images"), images);
    write_bytes(tmp.file("labels"), labels);
    write_gzip(tmp.file("images.gz"), images);
    write_gzip(tmp.file("labels.gz"), labels);
    ImageDataset plain = load_idx_dataset(tmp.file("images"), tmp.file("labels"));
    ImageDataset gz = load_idx_dataset(tmp.file("images.gz"), tmp.file("labels.gz"));
    REQUIRE(plain.size() == 2);
    REQUIRE(plain.channels == 1);
    REQUIRE(plain.height == 3);
    REQUIRE(plain.width == 4);
    REQUIRE(plain.labels == std::vector<int64_t>{7, 1});
    REQUIRE(plain.pixels == counting(24));
    REQUIRE(plain.num_classes() == 8);  // names "0".."7" made up from the largest label
    REQUIRE(gz.pixels == plain.pixels);
    REQUIRE(gz.labels == plain.labels);
}

TEST_CASE("an IDX file with a wrong magic number is rejected showing the magic", "[datasets][idx]") {
    TempDir tmp;
    std::vector<uint8_t> bytes = idx_bytes({2}, {1, 2});
    bytes[2] = 0x0D;  // float type
    write_bytes(tmp.file("labels"), bytes);
    REQUIRE_THROWS_WITH(read_idx_file(tmp.file("labels")),
                        Contains("labels") && Contains("0x00000D01") && Contains("0x00000801"));
}

TEST_CASE("an IDX file shorter than its dimensions say is rejected as truncated", "[datasets][idx]") {
    TempDir tmp;
    write_gzip(tmp.file("images.gz"), idx_bytes({2, 3, 4}, counting(20)));
    REQUIRE_THROWS_WITH(read_idx_file(tmp.file("images.gz")),
                        Contains("images.gz") && Contains("truncated") &&
                            Contains("need 24 bytes") && Contains("found only 20"));
}

TEST_CASE("an IDX file longer than its dimensions say is rejected", "[datasets][idx]") {
    TempDir tmp;
    write_bytes(tmp.file("labels"), idx_bytes({2}, {1, 2, 3}));
    REQUIRE_THROWS_WITH(read_idx_file(tmp.file("labels")), Contains("more data than its dimensions"));
}

TEST_CASE("IDX images and labels must agree in count and dimensions", "[datasets][idx]") {
    TempDir tmp;
    write_bytes(tmp.file("images"), idx_bytes({2, 2, 2}, counting(8)));
    write_bytes(tmp.file("labels3"), idx_bytes({3}, {0, 1, 2}));
    REQUIRE_THROWS_WITH(load_idx_dataset(tmp.file("images"), tmp.file("labels3")),
                        Contains("2 images") && Contains("3 labels"));
    REQUIRE_THROWS_WITH(load_idx_dataset(tmp.file("labels3"), tmp.file("labels3")),
                        Contains("expected 3 (magic 0x00000803"));
}

TEST_CASE("IDX labels beyond the class names are rejected", "[datasets][idx]") {
    TempDir tmp;
    write_bytes(tmp.file("images"), idx_bytes({2, 1, 1}, {0, 0}));
    write_bytes(tmp.file("labels"), idx_bytes({2}, {0, 2}));
    REQUIRE_THROWS_WITH(load_idx_dataset(tmp.file("images"), tmp.file("labels"), {"a", "b"}),
                        Contains("label 1 is 2") && Contains("0..1"));
}

TEST_CASE("a missing IDX file and a missing Fashion-MNIST directory are named", "[datasets][idx]") {
    REQUIRE_THROWS_WITH(read_idx_file("/nonexistent/x-idx3-ubyte"), Contains("/nonexistent/x-idx3-ubyte"));
    REQUIRE_THROWS_WITH(load_fashion_mnist(Split::Test, "/nonexistent"),
                        Contains("/nonexistent") && Contains("dataset-fashion-mnist"));
}

// test_fuzz_readers.cpp — a seeded mutation fuzzer for every file reader: CIFAR
// binaries, IDX, config.json, PNG/JPEG/BMP images (safetensors has its own in
// test_checkpoint.cpp). Each trial truncates, flips, overwrites or duplicates
// bytes of a seed file from tests/fuzz_corpus/ and reads the result: the reader
// must return or throw attnlab::Error, never crash, hang or throw anything else.
// Also: error messages quoting a corrupt file escape its binary bytes.
// `make test-asan` runs these under AddressSanitizer; the trial count keeps each
// under a few seconds (ATTNLAB_FUZZ_TRIALS raises it for a longer local run).
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>

#include "core/util/file_kind.h"
#include "core/util/rng.h"
#include "datasets/formats/cifar.h"
#include "datasets/formats/idx.h"
#include "datasets/formats/image_io.h"
#include "tests/support/helpers.h"
#include "nn/io/checkpoint.h"
#include "tests/support/temp_dir.h"

using namespace attnlab;
using namespace attnlab::testing;
namespace fs = std::filesystem;

namespace {

std::string corpus_file(const std::string& name) {
    std::ifstream f(std::string(ATTNLAB_SOURCE_DIR) + "/tests/fuzz_corpus/" + name, std::ios::binary);
    REQUIRE(f.good());
    return std::string((std::istreambuf_iterator<char>(f)), {});
}

int fuzz_trials(int default_trials) {
    const char* env = std::getenv("ATTNLAB_FUZZ_TRIALS");
    return env ? std::max(1, std::atoi(env)) : default_trials;
}

// One mutation of `seed`: truncate, flip bits, overwrite bytes (biased to the first
// `head` bytes, where headers live), or splice a copy of a chunk somewhere else.
std::string mutate(const std::string& seed, Generator& g, size_t head) {
    std::string b = seed;
    switch (g.randint(4)) {
        case 0: b.resize(size_t(g.randint(int64_t(b.size()) + 1))); break;
        case 1:
        case 2: {
            for (int n = 1 + int(g.randint(8)); n > 0 && !b.empty(); --n) {
                size_t limit = g.randint(2) ? std::min(b.size(), head) : b.size();
                size_t at = size_t(g.randint(int64_t(limit)));
                b[at] = g.randint(2) ? char(b[at] ^ (1 << g.randint(8))) : char(g.randint(256));
            }
            break;
        }
        default: {
            size_t from = size_t(g.randint(int64_t(b.size()))), len = size_t(g.randint(64));
            std::string chunk = b.substr(from, len);
            b.insert(size_t(g.randint(int64_t(b.size()) + 1)), chunk);
        }
    }
    return b;
}

// Writes each mutation to `path` and calls `read`; counts loads and clean rejections.
void fuzz_file(const std::string& seed, size_t head, const std::string& path, uint64_t rng_seed, int trials,
               const std::function<void()>& read) {
    Generator g(rng_seed);
    int loaded = 0, rejected = 0;
    for (int t = 0; t < trials; ++t) {
        std::string bytes = mutate(seed, g, head);
        std::ofstream(path, std::ios::binary | std::ios::trunc).write(bytes.data(), std::streamsize(bytes.size()));
        try {
            read();
            ++loaded;
        } catch (const Error&) {
            ++rejected;
        }  // anything else escapes and fails the test
    }
    INFO(loaded << " loaded, " << rejected << " rejected");
    REQUIRE(loaded + rejected == trials);
    REQUIRE(rejected > 0);
}

}  // namespace

TEST_CASE("fuzz: mutated CIFAR binary files load or throw Error", "[fuzz][datasets]") {
    TempDir dir;
    const std::string path = dir.file("data_batch_1.bin");
    fuzz_file(corpus_file("cifar10_3records.bin"), 3073, path, 1, fuzz_trials(300), [&] {
        datasets::ImageDataset ds = datasets::load_cifar10_file(path);
        for (int64_t label : ds.labels) REQUIRE((label >= 0 && label < 10));
    });
}

TEST_CASE("fuzz: mutated IDX files load or throw Error", "[fuzz][datasets]") {
    TempDir dir;
    const std::string images = dir.file("images-idx3-ubyte"), labels = dir.file("labels-idx1-ubyte");
    fuzz_file(corpus_file("images.idx3-ubyte"), 16, images, 2, fuzz_trials(300), [&] { datasets::read_idx_file(images); });
    fuzz_file(corpus_file("labels.idx1-ubyte"), 8, labels, 3, fuzz_trials(300), [&] { datasets::read_idx_file(labels); });
    std::ofstream(dir.file("good-images"), std::ios::binary) << corpus_file("images.idx3-ubyte");
    fuzz_file(corpus_file("labels.idx1-ubyte"), 8, labels, 4, fuzz_trials(100),
              [&] { datasets::load_idx_dataset(dir.file("good-images"), labels, {"a", "b", "c", "d"}); });
}

TEST_CASE("fuzz: mutated config.json files parse or throw Error", "[fuzz][checkpoint]") {
    TempDir dir;
    fs::create_directories(dir.file("model"));
    fuzz_file(corpus_file("config.json"), 1 << 20, dir.file("model/config.json"), 5, fuzz_trials(400),
              [&] { nn::read_vit_config(dir.file("model")); });
}

TEST_CASE("fuzz: mutated PNG, JPEG and BMP images decode or throw Error", "[fuzz][datasets]") {
    TempDir dir;
    uint64_t seed = 6;
    for (const char* name : {"tiny.png", "tiny.jpg", "tiny.bmp"}) {
        INFO(name);
        const std::string path = dir.file(name);
        fuzz_file(corpus_file(name), 128, path, seed++, fuzz_trials(200), [&] {
            Tensor img = datasets::load_image(path, 3, 8, 8);
            REQUIRE(img.shape() == Shape{3, 8, 8});
        });
    }
}

TEST_CASE("safetensors and config.json errors show binary bytes escaped, never raw", "[safetensors][errors]") {
    // A tensor name with JSON-escaped control bytes (an ANSI colour sequence): the parsed name holds them raw.
    std::string header = "{\"w\\u0001\\u001b[31m\": 7}";
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((header.size() >> (8 * i)) & 0xff);
    bytes += header;
    auto has_raw_bytes = [](const std::string& s) {
        for (unsigned char c : s)
            if ((c < 0x20 && c != '\n') || c == 0x7f || c == 0xff) return true;
        return false;
    };
    try {
        nn::safetensors_from_bytes(bytes, "fuzz");
        FAIL("a header with a non-object entry must be rejected");
    } catch (const Error& e) {
        INFO(e.what());
        REQUIRE_FALSE(has_raw_bytes(e.what()));
        REQUIRE_THAT(std::string(e.what()), Catch::Contains("w\\x01\\x1b[31m"));
    }
    TempDir dir;
    fs::create_directories(dir.file("model"));
    write_text(dir.file("model/config.json"), std::string("{\"dim\": \x01\x1b[2J\xfe}"));
    try {
        nn::read_vit_config(dir.file("model"));
        FAIL("invalid JSON must be rejected");
    } catch (const Error& e) {
        INFO(e.what());
        REQUIRE_FALSE(has_raw_bytes(e.what()));
    }
    REQUIRE(printable("caf\xc3\xa9 \x01") == "caf\xc3\xa9 \\x01");  // valid UTF-8 kept
}

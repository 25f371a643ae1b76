// test_datasets_cifar.cpp — the CIFAR-10/100 binary loaders: the real files
// when present beside the repository, generated files for every error.
#include <cstdlib>
#include <filesystem>

#include "datasets/formats/cifar.h"
#include "tests/support/helpers.h"
#include "tests/support/temp_dir.h"

using namespace attnlab;
using namespace attnlab::datasets;
using attnlab::testing::shared_data;
using attnlab::testing::TempDir;
using attnlab::testing::write_bytes;
using Catch::Matchers::Contains;

namespace {

// Pixel byte p of generated record r: distinct per record and position.
uint8_t pattern(int64_t r, int64_t p) { return uint8_t((r * 37 + p * 5) % 251); }

// Records with the given labels (label_bytes leading bytes each) and pattern pixels.
std::vector<uint8_t> cifar_records(const std::vector<std::vector<uint8_t>>& label_bytes) {
    std::vector<uint8_t> bytes;
    for (size_t r = 0; r < label_bytes.size(); ++r) {
        bytes.insert(bytes.end(), label_bytes[r].begin(), label_bytes[r].end());
        for (int64_t p = 0; p < kCifarImageBytes; ++p) bytes.push_back(pattern(int64_t(r), p));
    }
    return bytes;
}

std::vector<uint8_t> cifar10_records(const std::vector<uint8_t>& labels) {
    std::vector<std::vector<uint8_t>> l;
    for (uint8_t x : labels) l.push_back({x});
    return cifar_records(l);
}

}  // namespace

TEST_CASE("CIFAR-10 files beside the repo hold 10000 labelled 32x32 RGB images each", "[datasets][cifar]") {
    std::string dir = shared_data("cifar-10-batches-bin");
    if (dir.empty()) {
        WARN("skipped: CIFAR-10 not found at ../shared/data/cifar-10-batches-bin");
        return;
    }
    ImageDataset batch1 = load_cifar10_file(dir + "/data_batch_1.bin");
    REQUIRE(batch1.size() == 10000);
    REQUIRE(batch1.channels == 3);
    REQUIRE(batch1.height == 32);
    REQUIRE(batch1.width == 32);
    REQUIRE(batch1.pixels.size() == size_t(10000 * 3072));
    REQUIRE(batch1.class_names == cifar10_standard_class_names());
    batch1.validate("data_batch_1");  // every label in 0..9

    ImageDataset test = load_cifar10(dir, Split::Test);
    REQUIRE(test.size() == 10000);
    REQUIRE(test.class_counts() == std::vector<int64_t>(10, 1000));
}

TEST_CASE("the CIFAR-10 training split is the five batches in order, 5000 per class", "[datasets][cifar]") {
    std::string dir = shared_data("cifar-10-batches-bin");
    if (dir.empty()) {
        WARN("skipped: CIFAR-10 not found at ../shared/data/cifar-10-batches-bin");
        return;
    }
    ImageDataset train = load_cifar10(dir, Split::Train);
    REQUIRE(train.size() == 50000);
    REQUIRE(train.class_counts() == std::vector<int64_t>(10, 5000));
    ImageDataset batch2 = load_cifar10_file(dir + "/data_batch_2.bin");
    REQUIRE(train.labels[10000] == batch2.labels[0]);
    REQUIRE(std::equal(batch2.image(0), batch2.image(1), train.image(10000)));
}

TEST_CASE("the shared CIFAR-10 copy has the official labels and nearly the official pixels", "[datasets][cifar]") {
    std::string dir = shared_data("cifar-10-batches-bin");
    std::string genuine_dir = shared_data("cifar-10-genuine-subset");
    if (dir.empty() || genuine_dir.empty()) {
        WARN("skipped: ../shared/data/cifar-10-batches-bin or cifar-10-genuine-subset not found");
        return;
    }
    struct Pair { const char* copy; const char* genuine; int64_t records; };
    for (Pair pair : {Pair{"data_batch_1.bin", "data_batch_1_first4000.bin", 4000},
                      Pair{"test_batch.bin", "test_batch_first1017.bin", 1017}}) {
        INFO(pair.copy);
        ImageDataset copy = load_cifar10_file(dir + "/" + pair.copy).subset(0, pair.records);
        ImageDataset genuine = load_cifar10_file(genuine_dir + "/" + pair.genuine);
        REQUIRE(genuine.size() == pair.records);
        REQUIRE(copy.labels == genuine.labels);
        double squared_error = 0;
        for (size_t i = 0; i < copy.pixels.size(); ++i) {
            double d = double(copy.pixels[i]) - double(genuine.pixels[i]);
            squared_error += d * d;
        }
        double mse = squared_error / double(copy.pixels.size());
        INFO("mean squared error per byte " << mse);
        REQUIRE(mse < 150.0);  // the readme states PSNR about 30.5 dB, i.e. MSE about 58
    }
}

TEST_CASE("a generated CIFAR-10 file round-trips labels and CHW pixels", "[datasets][cifar]") {
    TempDir tmp;
    write_bytes(tmp.file("tiny.bin"), cifar10_records({3, 0, 9}));
    ImageDataset d = load_cifar10_file(tmp.file("tiny.bin"));
    REQUIRE(d.size() == 3);
    REQUIRE(d.labels == std::vector<int64_t>{3, 0, 9});
    REQUIRE(d.class_names[3] == "cat");
    for (int64_t r = 0; r < 3; ++r)
        for (int64_t p : {0, 1023, 1024, 2048, 3071})  // first red, last red, first green, first blue, last blue
            REQUIRE(d.image(r)[p] == pattern(r, p));
}

TEST_CASE("CIFAR-10 class names come from batches.meta.txt when present", "[datasets][cifar]") {
    TempDir tmp;
    write_bytes(tmp.file("data.bin"), cifar10_records({1}));
    attnlab::testing::write_text(tmp.file("batches.meta.txt"),
                                 "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n\n");
    REQUIRE(load_cifar10_file(tmp.file("data.bin")).class_names[1] == "b");
}

TEST_CASE("a truncated CIFAR-10 file is rejected with its size and the bytes left over", "[datasets][cifar]") {
    TempDir tmp;
    std::vector<uint8_t> bytes = cifar10_records({1, 2});
    bytes.resize(bytes.size() - 100);
    write_bytes(tmp.file("cut.bin"), bytes);
    REQUIRE_THROWS_WITH(load_cifar10_file(tmp.file("cut.bin")),
                        Contains("cut.bin") && Contains("6046 bytes") &&
                            Contains("not a multiple of the record size 3073") &&
                            Contains("1 whole records and 2973 bytes left over") &&
                            Contains("truncated"));
}

TEST_CASE("a CIFAR-10 label of 10 is rejected naming the file, record and value", "[datasets][cifar]") {
    TempDir tmp;
    write_bytes(tmp.file("bad_label.bin"), cifar10_records({0, 9, 10}));
    REQUIRE_THROWS_WITH(load_cifar10_file(tmp.file("bad_label.bin")),
                        Contains("bad_label.bin") && Contains("record 2") &&
                            Contains("label 10") && Contains("0..9"));
}

TEST_CASE("an empty CIFAR-10 file is rejected as empty", "[datasets][cifar]") {
    TempDir tmp;
    write_bytes(tmp.file("empty.bin"), {});
    REQUIRE_THROWS_WITH(load_cifar10_file(tmp.file("empty.bin")),
                        Contains("empty.bin") && Contains("is empty"));
}

TEST_CASE("a missing CIFAR-10 batch names the file, the directory and how to get the data", "[datasets][cifar]") {
    TempDir tmp;
    write_bytes(tmp.file("data_batch_1.bin"), cifar10_records({1}));
    REQUIRE_THROWS_WITH(load_cifar10(tmp.path().string(), Split::Train),
                        Contains("data_batch_2.bin") && Contains(tmp.path().string()) &&
                            Contains("make data") && Contains("--data DIR") &&
                            Contains("CIFAR10_DIR"));
    REQUIRE_THROWS_WITH(load_cifar10(tmp.file("nowhere"), Split::Test),
                        Contains("test_batch.bin") && Contains("does not exist"));
}

TEST_CASE("a CIFAR-100 file read as CIFAR-10 gets a hint", "[datasets][cifar]") {
    TempDir tmp;
    write_bytes(tmp.file("train.bin"), cifar_records({{1, 2}, {3, 4}, {5, 6}}));
    REQUIRE_THROWS_WITH(load_cifar10_file(tmp.file("train.bin")), Contains("CIFAR-100 file?"));
}

TEST_CASE("CIFAR-100 records give fine or coarse labels", "[datasets][cifar]") {
    TempDir tmp;
    write_bytes(tmp.file("test.bin"), cifar_records({{4, 99}, {19, 0}}));
    ImageDataset fine = load_cifar100(tmp.path().string(), Split::Test, Cifar100Labels::Fine);
    ImageDataset coarse = load_cifar100(tmp.path().string(), Split::Test, Cifar100Labels::Coarse);
    REQUIRE(fine.labels == std::vector<int64_t>{99, 0});
    REQUIRE(coarse.labels == std::vector<int64_t>{4, 19});
    REQUIRE(fine.num_classes() == 100);
    REQUIRE(fine.class_names[99] == "worm");
    REQUIRE(coarse.num_classes() == 20);
    REQUIRE(fine.image(1)[5] == pattern(1, 5));
}

TEST_CASE("a CIFAR-100 fine label of 100 is rejected", "[datasets][cifar]") {
    TempDir tmp;
    write_bytes(tmp.file("train.bin"), cifar_records({{0, 100}}));
    REQUIRE_THROWS_WITH(load_cifar100(tmp.path().string(), Split::Train),
                        Contains("record 0") && Contains("fine label 100") && Contains("0..99"));
}

TEST_CASE("the CIFAR-10 directory is --data, else $CIFAR10_DIR, else data/cifar-10-batches-bin", "[datasets][cifar]") {
    const char* saved = std::getenv("CIFAR10_DIR");
    std::string saved_value = saved ? saved : "";
    ::unsetenv("CIFAR10_DIR");
    REQUIRE(resolve_cifar10_dir("") == "data/cifar-10-batches-bin");
    ::setenv("CIFAR10_DIR", "/env/dir", 1);
    REQUIRE(resolve_cifar10_dir("") == "/env/dir");
    REQUIRE(resolve_cifar10_dir("/cli/dir") == "/cli/dir");
    if (saved) ::setenv("CIFAR10_DIR", saved_value.c_str(), 1);
    else ::unsetenv("CIFAR10_DIR");
}

TEST_CASE("subset, select and append copy the right images", "[datasets][cifar]") {
    TempDir tmp;
    write_bytes(tmp.file("d.bin"), cifar10_records({0, 1, 2, 3}));
    ImageDataset d = load_cifar10_file(tmp.file("d.bin"));
    ImageDataset middle = d.subset(1, 3);
    REQUIRE(middle.labels == std::vector<int64_t>{1, 2});
    REQUIRE(middle.image(0)[7] == pattern(1, 7));
    ImageDataset picked = d.select({3, 0, 3});
    REQUIRE(picked.labels == std::vector<int64_t>{3, 0, 3});
    REQUIRE(picked.image(1)[7] == pattern(0, 7));
    picked.append(middle);
    REQUIRE(picked.size() == 5);
    REQUIRE(picked.image(4)[7] == pattern(2, 7));
    REQUIRE_THROWS_WITH(d.subset(2, 5), Contains("[2, 5)"));
    REQUIRE_THROWS_WITH(d.select({4}), Contains("index 4"));
}

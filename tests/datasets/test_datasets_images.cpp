// test_datasets_images.cpp — image files: decoding and resizing (stb),
// PNG and grid writing, and class-per-folder image sets.
#include <stb_image.h>

#include <filesystem>

#include "datasets/formats/cifar.h"
#include "datasets/formats/image_folder.h"
#include "datasets/formats/image_io.h"
#include "tests/support/helpers.h"
#include "tests/support/temp_dir.h"

using namespace attnlab;
using namespace attnlab::datasets;
using attnlab::testing::shared_data;
using attnlab::testing::TempDir;
using Catch::Matchers::Contains;

namespace {

// An interleaved [h, w, c] image whose pixel (y, x, ch) is value(y, x, ch).
std::vector<uint8_t> pattern_hwc(int64_t h, int64_t w, int64_t c) {
    std::vector<uint8_t> out(size_t(h * w * c));
    for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x)
            for (int64_t ch = 0; ch < c; ++ch) out[size_t((y * w + x) * c + ch)] = uint8_t(y * 20 + x * 3 + ch * 50);
    return out;
}

}  // namespace

TEST_CASE("write_png then load_image gives the pixels back as CHW floats in [0, 1]", "[datasets][image]") {
    TempDir tmp;
    write_png(tmp.file("p.png"), pattern_hwc(4, 5, 3).data(), 5, 4, 3);
    Tensor t = load_image(tmp.file("p.png"), 3, 4, 5);
    REQUIRE(t.shape() == Shape{3, 4, 5});
    REQUIRE(t.at({0, 0, 0}) == 0.f);
    REQUIRE(t.at({2, 3, 4}) == Approx((3 * 20 + 4 * 3 + 2 * 50) / 255.f));
    REQUIRE(t.at({1, 2, 1}) == Approx((2 * 20 + 1 * 3 + 50) / 255.f));
    auto entries = std::distance(std::filesystem::directory_iterator(tmp.path()), {});
    REQUIRE(entries == 1);  // the temporary file was renamed, not left behind
}

TEST_CASE("load_image resizes to the asked size and converts channels", "[datasets][image]") {
    TempDir tmp;
    std::vector<uint8_t> flat(16 * 8 * 3, 200);
    write_png(tmp.file("flat.png"), flat.data(), 8, 16, 3);
    Tensor grey = load_image(tmp.file("flat.png"), 1, 4, 6);
    REQUIRE(grey.shape() == Shape{1, 4, 6});
    for (float v : grey.to_vector()) REQUIRE(v == Approx(200 / 255.f).margin(1.5 / 255));
}

TEST_CASE("load_image names the file and stb's reason when it cannot decode", "[datasets][image]") {
    TempDir tmp;
    attnlab::testing::write_text(tmp.file("fake.png"), "not an image");
    REQUIRE_THROWS_WITH(load_image(tmp.file("fake.png"), 3, 8, 8),
                        Contains("fake.png") && Contains("cannot decode"));
    REQUIRE_THROWS_WITH(load_image(tmp.file("absent.png"), 3, 8, 8),
                        Contains("absent.png") && Contains("cannot find"));
}

TEST_CASE("write_png_grid tiles N images into ceil(N/columns) rows with padding", "[datasets][image]") {
    TempDir tmp;
    Generator g(0);
    Tensor images = Tensor::rand({5, 3, 8, 6}, g);  // N=5, H=8, W=6
    write_png_grid(tmp.file("grid.png"), images, 3, 2);
    int w = 0, h = 0, c = 0;
    REQUIRE(stbi_info(tmp.file("grid.png").c_str(), &w, &h, &c) == 1);
    REQUIRE(w == 3 * (6 + 2) + 2);
    REQUIRE(h == 2 * (8 + 2) + 2);
    REQUIRE(c == 3);
    // Tile 4 (row 1, column 1) starts at (2 + 10, 2 + 8).
    Tensor grid = load_image(tmp.file("grid.png"), 3, h, w);
    REQUIRE(grid.at({1, 12, 10}) == Approx(images.at({4, 1, 0, 0})).margin(0.5 / 255 + 1e-6));
    REQUIRE(grid.at({0, 0, 0}) == 1.f);  // white background
}

TEST_CASE("write_png_grid rejects tensors that are not [N, C, H, W] images", "[datasets][image]") {
    TempDir tmp;
    REQUIRE_THROWS_WITH(write_png_grid(tmp.file("g.png"), Tensor::zeros({3, 8, 8}), 4),
                        Contains("[N, C, H, W]") && Contains("[3,8,8]"));
    REQUIRE_THROWS_WITH(write_png_grid(tmp.file("g.png"), Tensor::zeros({1, 2, 8, 8}), 4),
                        Contains("1, 3 or 4 channels"));
}

TEST_CASE("write_png names a directory that does not exist", "[datasets][image]") {
    TempDir tmp;
    std::vector<uint8_t> px(4, 0);
    REQUIRE_THROWS_WITH(write_png(tmp.file("no/such/dir/x.png"), px.data(), 2, 2, 1),
                        Contains("x.png") && Contains("does not exist"));
}

TEST_CASE("an image folder gives sorted classes, sorted files and resized images", "[datasets][image]") {
    TempDir tmp;
    std::filesystem::create_directories(tmp.path() / "zebra");
    std::filesystem::create_directories(tmp.path() / "ant");
    std::vector<uint8_t> dark(4 * 4 * 3, 10), light(4 * 4 * 3, 240);
    write_png(tmp.file("zebra/b.png"), dark.data(), 4, 4, 3);
    write_png(tmp.file("zebra/a.PNG"), light.data(), 4, 4, 3);
    write_png(tmp.file("ant/only.png"), dark.data(), 4, 4, 3);
    attnlab::testing::write_text(tmp.file("zebra/notes.txt"), "ignored");
    ImageDataset d = load_image_folder(tmp.path().string(), 3, 2, 2);
    REQUIRE(d.class_names == std::vector<std::string>{"ant", "zebra"});
    REQUIRE(d.labels == std::vector<int64_t>{0, 1, 1});
    REQUIRE(d.height == 2);
    REQUIRE(d.pixels.size() == 3 * 12);
    REQUIRE(int(d.image(1)[0]) == Approx(240).margin(1));  // zebra/a.PNG sorts before zebra/b.png
    REQUIRE(int(d.image(2)[0]) == Approx(10).margin(1));
}

TEST_CASE("image folder errors name the root, the empty class and the bad file", "[datasets][image]") {
    TempDir tmp;
    REQUIRE_THROWS_WITH(load_image_folder(tmp.file("missing"), 3, 8, 8),
                        Contains("missing") && Contains("not a directory"));
    REQUIRE_THROWS_WITH(load_image_folder(tmp.path().string(), 3, 8, 8), Contains("no subfolders"));
    std::filesystem::create_directories(tmp.path() / "cat");
    REQUIRE_THROWS_WITH(load_image_folder(tmp.path().string(), 3, 8, 8),
                        Contains("cat") && Contains("no image files"));
    attnlab::testing::write_text(tmp.file("cat/broken.jpg"), "garbage");
    REQUIRE_THROWS_WITH(load_image_folder(tmp.path().string(), 3, 8, 8),
                        Contains("broken.jpg") && Contains("cannot decode"));
}

TEST_CASE("the shared CIFAR-10 JPEG sample loads as 10 classes of 10 images close to the originals", "[datasets][image]") {
    std::string root = shared_data("cifar-10-images-sample/test");
    std::string genuine = shared_data("cifar-10-genuine-subset/test_batch_first1017.bin");
    if (root.empty()) {
        WARN("skipped: ../shared/data/cifar-10-images-sample not found");
        return;
    }
    ImageDataset sample = load_image_folder(root, 3, 32, 32);
    REQUIRE(sample.size() == 100);
    REQUIRE(sample.class_names == cifar10_standard_class_names());
    REQUIRE(sample.class_counts() == std::vector<int64_t>(10, 10));
    if (genuine.empty()) {
        WARN("skipped the pixel comparison: cifar-10-genuine-subset not found");
        return;
    }
    // <class>/0000.jpg is the first image of that class in test_batch.bin.
    ImageDataset test = load_cifar10_file(genuine);
    for (int64_t label = 0; label < 10; ++label) {
        int64_t first = int64_t(std::find(test.labels.begin(), test.labels.end(), label) - test.labels.begin());
        REQUIRE(first < test.size());
        const uint8_t* jpeg = sample.image(label * 10);
        const uint8_t* original = test.image(first);
        double squared_error = 0;
        for (int64_t p = 0; p < kCifarImageBytes; ++p) {
            double d = double(jpeg[p]) - double(original[p]);
            squared_error += d * d;
        }
        INFO("class " << label << ": mean squared error " << squared_error / kCifarImageBytes);
        REQUIRE(squared_error / kCifarImageBytes < 300.0);
    }
}

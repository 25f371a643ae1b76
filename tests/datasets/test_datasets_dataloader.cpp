// test_datasets_dataloader.cpp — batches, epoch order, reproducibility and the
// background worker's life cycle (stop mid-epoch, exceptions).
#include <algorithm>
#include <chrono>
#include <map>
#include <stdexcept>

#include "datasets/dataloader.h"
#include "tests/support/helpers.h"

using namespace attnlab;
using namespace attnlab::datasets;
using Catch::Matchers::Contains;

namespace {

// n images of 3x4x4 whose every byte is the image's index (mod 256); label = index % 10.
ImageDataset numbered_dataset(int64_t n) {
    ImageDataset d;
    d.channels = 3, d.height = 4, d.width = 4;
    d.class_names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    for (int64_t i = 0; i < n; ++i) {
        d.pixels.insert(d.pixels.end(), 48, uint8_t(i % 256));
        d.labels.push_back(i % 10);
    }
    return d;
}

std::vector<Batch> whole_epoch(DataLoader& loader, int64_t epoch) {
    std::vector<Batch> batches;
    loader.start_epoch(epoch);
    for (Batch b; loader.next(b);) batches.push_back(b);
    return batches;
}

std::vector<int64_t> visited(const std::vector<Batch>& batches) {
    std::vector<int64_t> out;
    for (const Batch& b : batches) out.insert(out.end(), b.indices.begin(), b.indices.end());
    return out;
}

}  // namespace

TEST_CASE("batches are [B, C, H, W] float32 images with int64 labels, the last one smaller", "[datasets][dataloader]") {
    ImageDataset d = numbered_dataset(10);
    DataLoader loader(d, {.batch_size = 4, .shuffle = false});
    REQUIRE(loader.batches_per_epoch() == 3);
    std::vector<Batch> batches = whole_epoch(loader, 0);
    REQUIRE(batches.size() == 3);
    REQUIRE(batches[0].images.shape() == Shape{4, 3, 4, 4});
    REQUIRE(batches[0].images.dtype() == DType::Float32);
    REQUIRE(batches[0].images.is_contiguous());
    REQUIRE(batches[0].labels.shape() == Shape{4});
    REQUIRE(batches[0].labels.dtype() == DType::Int64);
    REQUIRE(batches[2].images.shape() == Shape{2, 3, 4, 4});
    REQUIRE(batches[2].labels.to_indices() == std::vector<int64_t>{8, 9});
    REQUIRE(batches[1].images.at({1, 2, 3, 3}) == Approx(5 / 255.f));  // image 5, pixels / 255
}

TEST_CASE("drop_last leaves out the incomplete final batch", "[datasets][dataloader]") {
    ImageDataset d = numbered_dataset(10);
    DataLoader loader(d, {.batch_size = 4, .drop_last = true});
    REQUIRE(loader.batches_per_epoch() == 2);
    std::vector<Batch> batches = whole_epoch(loader, 0);
    REQUIRE(batches.size() == 2);
    for (const Batch& b : batches) REQUIRE(b.size() == 4);
}

TEST_CASE("a shuffled epoch visits every index exactly once, labels matching", "[datasets][dataloader]") {
    ImageDataset d = numbered_dataset(103);
    DataLoader loader(d, {.batch_size = 16, .shuffle = true, .seed = 4});
    std::vector<Batch> batches = whole_epoch(loader, 0);
    std::vector<int64_t> order = visited(batches);
    REQUIRE(order == loader.epoch_order(0));
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 103; ++i) REQUIRE(sorted[size_t(i)] == i);
    REQUIRE(order != sorted);
    for (const Batch& b : batches)
        for (int64_t k = 0; k < b.size(); ++k) {
            REQUIRE(b.labels.to_indices()[size_t(k)] == b.indices[size_t(k)] % 10);
            REQUIRE(b.images.at({k, 0, 0, 0}) == Approx(float(b.indices[size_t(k)] % 256) / 255.f));
        }
}

TEST_CASE("the same seed and epoch give identical batches, even from a fresh loader", "[datasets][dataloader]") {
    ImageDataset d = numbered_dataset(50);
    DataLoaderOptions options{.batch_size = 8, .shuffle = true, .seed = 7, .augment = true,
                              .normalize = {{0.5f, 0.5f, 0.5f}, {0.2f, 0.2f, 0.2f}}};
    DataLoader first(d, options), resumed(d, options);
    whole_epoch(first, 0);
    whole_epoch(first, 1);
    std::vector<Batch> a = whole_epoch(first, 2);
    std::vector<Batch> b = whole_epoch(resumed, 2);  // a run resumed at epoch 2
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        REQUIRE(a[i].indices == b[i].indices);
        REQUIRE(a[i].images.to_vector() == b[i].images.to_vector());
    }
}

TEST_CASE("augmented images of a sample do not depend on the batch size", "[datasets][dataloader]") {
    ImageDataset d = numbered_dataset(30);
    DataLoader small(d, {.batch_size = 3, .shuffle = true, .seed = 1, .augment = true});
    DataLoader large(d, {.batch_size = 16, .shuffle = true, .seed = 1, .augment = true});
    auto by_index = [](const std::vector<Batch>& batches) {
        std::map<int64_t, std::vector<float>> images;
        for (const Batch& b : batches)
            for (int64_t k = 0; k < b.size(); ++k) images[b.indices[size_t(k)]] = b.images.slice(0, k, k + 1).to_vector();
        return images;
    };
    REQUIRE(by_index(whole_epoch(small, 3)) == by_index(whole_epoch(large, 3)));
}

TEST_CASE("different epochs visit the data in different orders", "[datasets][dataloader]") {
    ImageDataset d = numbered_dataset(64);
    DataLoader loader(d, {.batch_size = 64, .shuffle = true, .seed = 2});
    REQUIRE(visited(whole_epoch(loader, 0)) != visited(whole_epoch(loader, 1)));
    DataLoader unshuffled(d, {.batch_size = 64, .shuffle = false});
    REQUIRE(visited(whole_epoch(unshuffled, 0)) == visited(whole_epoch(unshuffled, 5)));
}

TEST_CASE("abandoning an epoch midway (restart or destruction) neither hangs nor leaks", "[datasets][dataloader]") {
    ImageDataset d = numbered_dataset(200);
    auto start = std::chrono::steady_clock::now();
    {
        DataLoader loader(d, {.batch_size = 2, .seed = 3, .prefetch = 1});
        loader.start_epoch(0);
        Batch b;
        REQUIRE(loader.next(b));
        loader.start_epoch(1);  // the worker of epoch 0 is blocked on a full queue
        REQUIRE(loader.next(b));
        REQUIRE(loader.epoch() == 1);
        REQUIRE(b.indices.front() == loader.epoch_order(1).front());
    }  // destroyed mid-epoch 1
    { DataLoader never_started(d, {}); }
    {
        DataLoader started_not_read(d, {.batch_size = 1});
        started_not_read.start_epoch(0);
    }
    REQUIRE(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

TEST_CASE("after the last batch next() keeps returning false", "[datasets][dataloader]") {
    ImageDataset d = numbered_dataset(5);
    DataLoader loader(d, {.batch_size = 5});
    loader.start_epoch(0);
    Batch b;
    REQUIRE(loader.next(b));
    REQUIRE_FALSE(loader.next(b));
    REQUIRE_FALSE(loader.next(b));
}

TEST_CASE("an exception in the worker reaches next(), after the batches made before it", "[datasets][dataloader]") {
    ImageDataset d = numbered_dataset(20);
    DataLoaderOptions options{.batch_size = 4, .shuffle = false};
    options.extra_transform = [](float*, int64_t index, int64_t) {
        if (index == 9) throw std::runtime_error("cannot transform image 9");
    };
    DataLoader loader(d, options);
    loader.start_epoch(0);
    Batch b;
    REQUIRE(loader.next(b));  // images 0..3
    REQUIRE(loader.next(b));  // images 4..7
    REQUIRE_THROWS_WITH(loader.next(b), Contains("cannot transform image 9"));
    REQUIRE_FALSE(loader.next(b));
    loader.start_epoch(1);  // a new epoch starts cleanly, and fails at the same place
    REQUIRE(loader.next(b));
    REQUIRE(loader.next(b));
    REQUIRE_THROWS(loader.next(b));
}

TEST_CASE("the loader checks its options and the dataset up front", "[datasets][dataloader]") {
    ImageDataset d = numbered_dataset(4);
    REQUIRE_THROWS_WITH(DataLoader(d, {.batch_size = 0}), Contains("batch_size"));
    REQUIRE_THROWS_WITH(DataLoader(d, {.normalize = {{0.5f}, {0.5f}}}), Contains("3 channels"));
    ImageDataset empty = numbered_dataset(0);
    REQUIRE_THROWS_WITH(DataLoader(empty, {}), Contains("empty"));
    DataLoader loader(d, {});
    Batch b;
    REQUIRE_THROWS_WITH(loader.next(b), Contains("start_epoch"));
}

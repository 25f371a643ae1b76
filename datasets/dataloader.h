// dataloader.h — batches of float images from an ImageDataset, prepared on a
// background thread while the training step runs.
//
//   DataLoader loader(train_set, {.batch_size = 128, .shuffle = true, .seed = 1,
//                                 .augment = true, .normalize = Normalization::cifar10()});
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//       loader.start_epoch(epoch);
//       for (Batch batch; loader.next(batch);) train_step(batch.images, batch.labels);
//   }
//
// Order: epoch e visits the dataset in permutation(seed, e) (or 0..N-1 without
// shuffle), so a run resumed at epoch e sees exactly the batches it would have
// seen. Each image goes through transform_image (transforms.h) with its own
// counter-based randomness, independent of batch size and thread count.
// Threading: start_epoch launches one worker that fills a queue of at most
// `prefetch` ready batches; next() pops one, waiting only if the worker is
// behind. An exception in the worker is rethrown by next() after the batches
// made before it. start_epoch and the destructor stop the worker cleanly.
// Cost per batch: B*C*H*W byte reads and float writes (about 0.5 ms for 128 CIFAR
// images), on the worker thread.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "core/tensor/tensor.h"
#include "datasets/image_dataset.h"
#include "datasets/augment/transforms.h"

namespace attnlab::datasets {

struct DataLoaderOptions {
    int64_t batch_size = 128;
    bool shuffle = true;
    bool drop_last = false;  // skip the last batch when it would be smaller than batch_size
    uint64_t seed = 0;       // shuffling and augmentation
    bool augment = false;    // random crop (zero padding crop_padding) + random horizontal flip
    bool trivial_augment = false;  // then one TrivialAugment op per image (trivial_augment.h)
    int64_t crop_padding = 4;
    Normalization normalize = {};  // empty: pixels / 255
    int64_t prefetch = 2;     // batches prepared ahead
    // Data-parallel training: this loader delivers only part `shard` of `shards`
    // equal-as-possible contiguous parts of every batch (the batches themselves,
    // their order and each image's augmentation do not change).
    int64_t shard = 0, shards = 1;
    // Optional extra per-image step run on the worker after transform_image:
    // (float image [C, H, W], dataset index, epoch). For experiments; may throw.
    std::function<void(float* image, int64_t index, int64_t epoch)> extra_transform = nullptr;
};

struct Batch {
    Tensor images;                 // [B, C, H, W] float32, contiguous
    Tensor labels;                 // [B] int64
    std::vector<int64_t> indices;  // [B] dataset indices of the images
    int64_t first = 0;             // with shards: these are samples [first, first + B) ...
    int64_t global_size = 0;       // ... of a batch of global_size (one shard: first 0, global_size B)
    int64_t size() const { return int64_t(indices.size()); }
};

class DataLoader {
public:
    // `dataset` is read, not copied: it must outlive the loader and not change.
    DataLoader(const ImageDataset& dataset, DataLoaderOptions options);
    DataLoader(ImageDataset&& temporary, DataLoaderOptions options) = delete;  // would dangle
    ~DataLoader();
    DataLoader(const DataLoader&) = delete;
    DataLoader& operator=(const DataLoader&) = delete;

    // Begins epoch `epoch` (>= 0), abandoning the current one if unfinished.
    void start_epoch(int64_t epoch);
    // The next batch of the current epoch into `batch`; false when the epoch is over.
    bool next(Batch& batch);

    int64_t batches_per_epoch() const;
    int64_t epoch() const { return epoch_; }
    // The order in which epoch `epoch` visits the dataset indices.
    std::vector<int64_t> epoch_order(int64_t epoch) const;
    const DataLoaderOptions& options() const { return options_; }

private:
    Batch make_batch(int64_t batch_number, std::vector<uint8_t>& scratch) const;
    void run_worker();
    void stop_worker();

    const ImageDataset& dataset_;
    const DataLoaderOptions options_;
    const AugmentOptions augment_;

    int64_t epoch_ = -1;
    std::vector<int64_t> order_;  // this epoch's visiting order (read-only while the worker runs)

    std::thread worker_;
    std::mutex mutex_;
    std::condition_variable changed_;  // queue, stop or finished changed
    std::deque<Batch> ready_;          // guarded by mutex_
    bool stop_ = false;                // guarded by mutex_
    bool worker_done_ = false;         // guarded by mutex_
    std::exception_ptr error_;         // guarded by mutex_
};

}  // namespace attnlab::datasets

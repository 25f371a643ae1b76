// dataloader.cpp — epoch order, batch assembly and the prefetching worker
// (see dataloader.h). One mutex and one condition variable guard the queue:
// the worker waits while `prefetch` batches are ready, next() waits while none is.
#include "datasets/dataloader.h"

#include <algorithm>

#include "core/util/error.h"
#include "core/util/rng.h"

namespace attnlab::datasets {

DataLoader::DataLoader(const ImageDataset& dataset, DataLoaderOptions options)
    : dataset_(dataset),
      options_(std::move(options)),
      augment_{options_.augment, options_.crop_padding, options_.augment, options_.trivial_augment} {
    dataset_.validate("DataLoader");
    check(dataset_.size() > 0, "DataLoader: the dataset is empty");
    check(options_.batch_size > 0, "DataLoader: batch_size must be > 0, got ", options_.batch_size);
    check(options_.prefetch > 0, "DataLoader: prefetch must be > 0, got ", options_.prefetch);
    check(options_.shards >= 1 && options_.shard >= 0 && options_.shard < options_.shards, "DataLoader: shard ",
          options_.shard, " of ", options_.shards, " does not exist");
    check(options_.crop_padding >= 0, "DataLoader: crop_padding must be >= 0, got ",
          options_.crop_padding);
    const Normalization& norm = options_.normalize;
    check((norm.mean.empty() && norm.std.empty()) ||
              (int64_t(norm.mean.size()) == dataset_.channels &&
               int64_t(norm.std.size()) == dataset_.channels),
          "DataLoader: normalize has ", norm.mean.size(), " means and ", norm.std.size(),
          " stds; the images have ", dataset_.channels, " channels");
}

DataLoader::~DataLoader() { stop_worker(); }

int64_t DataLoader::batches_per_epoch() const {
    const int64_t n = dataset_.size(), b = options_.batch_size;
    return options_.drop_last ? n / b : (n + b - 1) / b;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
    if (!options_.shuffle) {
        std::vector<int64_t> order(size_t(dataset_.size()));
        for (int64_t i = 0; i < dataset_.size(); ++i) order[size_t(i)] = i;
        return order;
    }
    // Epoch e uses Philox counters from e * 2^40 on (N < 2^40 draws), under a
    // key apart from the augmentation keys: the order depends on (seed, e) only.
    Generator shuffle_rng;
    shuffle_rng.set_state(options_.seed ^ 0x5DEECE66DA3B9C01ull, uint64_t(epoch) << 40);
    return shuffle_rng.permutation(dataset_.size());
}

void DataLoader::start_epoch(int64_t epoch) {
    check(epoch >= 0, "DataLoader::start_epoch: epoch must be >= 0, got ", epoch);
    stop_worker();
    epoch_ = epoch;
    order_ = epoch_order(epoch);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_.clear();
        stop_ = false;
        worker_done_ = false;
        error_ = nullptr;
    }
    try {
        worker_ = std::thread([this] { run_worker(); });
    } catch (...) {  // no thread: let next() end the epoch instead of waiting forever
        std::lock_guard<std::mutex> lock(mutex_);
        worker_done_ = true;
        throw;
    }
}

bool DataLoader::next(Batch& batch) {
    check(epoch_ >= 0, "DataLoader::next: call start_epoch(epoch) before next()");
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !ready_.empty() || worker_done_; });
    if (!ready_.empty()) {
        batch = std::move(ready_.front());
        ready_.pop_front();
        lock.unlock();
        changed_.notify_all();  // room for the worker
        return true;
    }
    if (error_) {
        std::exception_ptr error = error_;
        error_ = nullptr;  // reported once; the epoch is over
        std::rethrow_exception(error);
    }
    return false;
}

void DataLoader::run_worker() {
    std::vector<uint8_t> scratch;
    try {
        for (int64_t b = 0; b < batches_per_epoch(); ++b) {
            {
                std::unique_lock<std::mutex> lock(mutex_);
                changed_.wait(lock, [&] { return stop_ || int64_t(ready_.size()) < options_.prefetch; });
                if (stop_) break;
            }
            Batch batch = make_batch(b, scratch);  // the slow part, outside the lock
            {
                std::lock_guard<std::mutex> lock(mutex_);
                if (stop_) break;
                ready_.push_back(std::move(batch));
            }
            changed_.notify_all();
        }
    } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        error_ = std::current_exception();
    }
    {
        std::lock_guard<std::mutex> lock(mutex_);
        worker_done_ = true;
    }
    changed_.notify_all();
}

void DataLoader::stop_worker() {
    if (!worker_.joinable()) return;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
    }
    changed_.notify_all();
    worker_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    ready_.clear();  // tensors of the abandoned epoch go back to the allocator
}

Batch DataLoader::make_batch(int64_t batch_number, std::vector<uint8_t>& scratch) const {
    const int64_t batch_begin = batch_number * options_.batch_size;
    const int64_t global_size = std::min(batch_begin + options_.batch_size, dataset_.size()) - batch_begin;
    const int64_t begin = batch_begin + global_size * options_.shard / options_.shards;
    const int64_t end = batch_begin + global_size * (options_.shard + 1) / options_.shards;
    const int64_t count = end - begin;
    const int64_t C = dataset_.channels, H = dataset_.height, W = dataset_.width;

    Batch batch;
    batch.first = begin - batch_begin, batch.global_size = global_size;
    batch.indices.assign(order_.begin() + begin, order_.begin() + end);
    batch.images = Tensor::empty({count, C, H, W});
    batch.labels = Tensor::empty({count}, DType::Int64);
    float* images = batch.images.data();
    int64_t* labels = batch.labels.data_as<int64_t>();
    for (int64_t k = 0; k < count; ++k) {
        const int64_t index = batch.indices[size_t(k)];
        float* image = images + k * C * H * W;
        transform_image(dataset_.image(index), C, H, W, augment_, options_.normalize,
                        options_.seed, epoch_, index, scratch, image);
        if (options_.extra_transform) options_.extra_transform(image, index, epoch_);
        labels[k] = dataset_.labels[size_t(index)];
    }
    // Batch-level augmentations (Mixup, CutMix) would mix `images` and soften
    // `labels` here, with randomness keyed by (seed, epoch, batch_number).
    return batch;
}

}  // namespace attnlab::datasets

// storage.h — the flat, 64-byte aligned memory block behind tensors.
//
// Several tensors (views) may share one Storage through shared_ptr; the block
// is freed when the last view goes away. Allocation goes through allocate()/
// release() so a caching allocator can be slotted in without touching tensors.
#pragma once
#include <cstddef>
#include <memory>

namespace attnlab {

struct Storage {
    explicit Storage(size_t bytes);  // uninitialized memory
    ~Storage();
    Storage(const Storage&) = delete;
    Storage& operator=(const Storage&) = delete;

    void* data = nullptr;
    size_t bytes = 0;
};

// Bytes currently held by all live Storage blocks, and the high-water mark.
size_t storage_bytes_in_use();
size_t storage_bytes_peak();
void reset_storage_peak();

}  // namespace attnlab

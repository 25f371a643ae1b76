// storage.h — the flat, 64-byte aligned memory block behind tensors, and the
// caching allocator that recycles blocks between training steps.
//
// Several tensors (views) may share one Storage through shared_ptr; the block
// goes back to the allocator when the last view goes away. A training step
// allocates the same sizes every iteration, so freed blocks ≥ 4 KB are kept
// in per-size-class free lists and handed out again: no page faults and no
// trips to the kernel after the first step. Sizes are rounded up to 1/8 of
// their power of two (≤ 12.5% slack). Idle cached bytes are capped
// (ATTNLAB_CACHE_LIMIT_MB, default 2048); ATTNLAB_NO_CACHE=1 or a sanitizer
// build turns caching off so that use-after-free is caught.
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
    size_t bytes = 0;     // requested size
    size_t capacity = 0;  // size of the block actually held
};

// Bytes requested by all live Storage blocks, and their high-water mark.
size_t storage_bytes_in_use();
size_t storage_bytes_peak();
void reset_storage_peak();
// An upper bound on the bytes of live tensors (0, the default: none). A tensor that would pass
// it throws OutOfMemoryError instead of being allocated, so that a run too large for the machine
// stops with a message rather than swapping or meeting the kernel's OOM killer.
void set_storage_limit(size_t bytes);
size_t storage_limit();
// Bytes held idle in the allocator's cache; empty_cache() returns them to the system.
size_t storage_bytes_cached();
void empty_cache();

}  // namespace attnlab

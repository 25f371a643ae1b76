// storage.cpp — aligned blocks through a size-class caching allocator (see storage.h).
#include "core/tensor/storage.h"

#include <atomic>
#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/util/error.h"

namespace attnlab {

namespace {

std::atomic<size_t> g_in_use{0};
std::atomic<size_t> g_peak{0};
std::atomic<size_t> g_limit{0};  // 0: no limit

std::string megabytes(size_t bytes) { return std::to_string((bytes + (1 << 20) - 1) >> 20) + " MB"; }

// Instead of a bare std::bad_alloc: how much was asked for, and how much is already in use.
[[noreturn]] void throw_out_of_memory(size_t bytes) {
    throw OutOfMemoryError(cat("out of memory: cannot allocate a tensor of ", megabytes(bytes), " (", bytes, " bytes; ",
                    megabytes(g_in_use.load()), " already in use by tensors). Use a smaller batch, model or "
                    "sequence, or check the attention options"));
}

class BlockCache {
public:
    static BlockCache& instance() {
        static BlockCache* cache = new BlockCache();  // never destroyed: tensors may outlive statics
        return *cache;
    }

    // Size class of a request: small requests stay exact (malloc is fast there).
    static size_t size_class(size_t n) {
        if (n < kMinCached) return (n + 63) / 64 * 64 + (n == 0 ? 64 : 0);
        size_t step = std::bit_floor(n) / 8;
        return (n + step - 1) / step * step;
    }

    void* take(size_t capacity) {
        if (enabled_ && capacity >= kMinCached) {
            std::lock_guard<std::mutex> lock(mutex_);
            auto it = free_.find(capacity);
            if (it != free_.end() && !it->second.empty()) {
                void* p = it->second.back();
                it->second.pop_back();
                cached_ -= capacity;
                return p;
            }
        }
        void* p = std::aligned_alloc(64, capacity);
        if (!p) {  // give the cache back and try once more
            release_all();
            p = std::aligned_alloc(64, capacity);
            if (!p) throw_out_of_memory(capacity);
        }
        return p;
    }

    void give(void* p, size_t capacity) {
        if (enabled_ && capacity >= kMinCached) {
            std::lock_guard<std::mutex> lock(mutex_);
            if (cached_ + capacity <= limit_) {
                free_[capacity].push_back(p);
                cached_ += capacity;
                return;
            }
        }
        std::free(p);
    }

    void release_all() {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& [size, blocks] : free_)
            for (void* p : blocks) std::free(p);
        free_.clear();
        cached_ = 0;
    }

    size_t cached() {
        std::lock_guard<std::mutex> lock(mutex_);
        return cached_;
    }

private:
    static constexpr size_t kMinCached = 4096;

    BlockCache() {
#if defined(ATTNLAB_SANITIZE) || defined(__SANITIZE_ADDRESS__)
        enabled_ = false;
#endif
        if (const char* off = std::getenv("ATTNLAB_NO_CACHE"); off && std::string(off) == "1") enabled_ = false;
        if (const char* mb = std::getenv("ATTNLAB_CACHE_LIMIT_MB")) limit_ = size_t(std::atoll(mb)) << 20;
    }

    std::mutex mutex_;
    std::unordered_map<size_t, std::vector<void*>> free_;
    size_t cached_ = 0;
    size_t limit_ = size_t(2048) << 20;
    bool enabled_ = true;
};

}  // namespace

// The limit of set_storage_limit, checked before the block is taken.
static void check_limit(size_t n) {
    const size_t limit = g_limit.load(), in_use = g_in_use.load();
    if (limit == 0 || in_use + n <= limit) return;
    throw OutOfMemoryError(cat("out of memory: a tensor of ", megabytes(n), " would bring live tensors to ",
                               megabytes(in_use + n), ", above the memory limit of ", megabytes(limit),
                               ". Use a smaller batch, model or sequence, or raise the limit"));
}

Storage::Storage(size_t n) : bytes(n), capacity(BlockCache::size_class(n)) {
    check_limit(n);
    data = BlockCache::instance().take(capacity);
    size_t now = g_in_use.fetch_add(n) + n;
    size_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
}

Storage::~Storage() {
    BlockCache::instance().give(data, capacity);
    g_in_use.fetch_sub(bytes);
}

size_t storage_bytes_in_use() { return g_in_use.load(); }
size_t storage_bytes_peak() { return g_peak.load(); }
void reset_storage_peak() { g_peak.store(g_in_use.load()); }
void set_storage_limit(size_t bytes) { g_limit.store(bytes); }
size_t storage_limit() { return g_limit.load(); }
size_t storage_bytes_cached() { return BlockCache::instance().cached(); }
void empty_cache() { BlockCache::instance().release_all(); }

}  // namespace attnlab

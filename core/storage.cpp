// storage.cpp — aligned allocation with a byte counter (see storage.h).
#include "core/storage.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace attnlab {

static std::atomic<size_t> g_in_use{0};
static std::atomic<size_t> g_peak{0};

Storage::Storage(size_t n) : bytes(n) {
    size_t rounded = (n + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    data = std::aligned_alloc(64, rounded);
    if (!data) throw std::bad_alloc();
    size_t now = g_in_use.fetch_add(n) + n;
    size_t peak = g_peak.load();
    while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
    }
}

Storage::~Storage() {
    std::free(data);
    g_in_use.fetch_sub(bytes);
}

size_t storage_bytes_in_use() { return g_in_use.load(); }
size_t storage_bytes_peak() { return g_peak.load(); }
void reset_storage_peak() { g_peak.store(g_in_use.load()); }

}  // namespace attnlab

// reference_mode.cpp — see reference_mode.h.
#include "core/util/reference_mode.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace attnlab {

namespace {
int from_environment() {
    const char* v = std::getenv("ATTNLAB_REFERENCE");
    return v && *v && std::strcmp(v, "0") != 0 ? 1 : 0;
}
std::atomic<int> g_mode{-1};  // -1: not read yet
}  // namespace

bool reference_mode() {
    int m = g_mode.load(std::memory_order_relaxed);
    if (m < 0) g_mode.store(m = from_environment(), std::memory_order_relaxed);
    return m == 1;
}

void set_reference_mode(bool on) { g_mode.store(on ? 1 : 0, std::memory_order_relaxed); }

}  // namespace attnlab

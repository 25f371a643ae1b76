// profiler.h — where the time of a training step goes, per op.
//
// ProfileScope marks a region ("linear", "gemm", "layer_norm backward", ...).
// Scopes nest; each region is charged its *exclusive* time (its own time minus
// that of the scopes inside it), so the rows of the report add up to the
// profiled total. gemm() also counts flops, giving achieved GFLOP/s. Off by
// default: a disabled scope costs one branch. Scopes opened inside OpenMP
// parallel regions are ignored (their time belongs to the enclosing scope).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace attnlab::profiler {

void enable(bool on);
bool enabled();
void reset();
void add_flops(double flops);  // charged to the innermost open scope

struct Entry {
    std::string name;
    double seconds = 0;  // exclusive
    int64_t calls = 0;
    double flops = 0;
};
std::vector<Entry> entries();  // sorted by time, largest first
// A table of the entries with % of `total_seconds` (the measured step time) and GFLOP/s.
std::string report(double total_seconds, int64_t steps);

class Scope {
public:
    explicit Scope(const char* name) : active_(enabled()) {
        if (active_) open(name);
    }
    explicit Scope(const std::string& name) : active_(enabled()) {
        if (active_) open(name.c_str());
    }
    ~Scope() {
        if (active_) close();
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    void open(const char* name);
    void close();
    bool active_;
    bool pushed_ = false;
};

}  // namespace attnlab::profiler

#define ATTNLAB_PROFILE_CONCAT2(a, b) a##b
#define ATTNLAB_PROFILE_CONCAT(a, b) ATTNLAB_PROFILE_CONCAT2(a, b)
// PROFILE_SCOPE("name"); times the rest of the enclosing block.
#define PROFILE_SCOPE(name) ::attnlab::profiler::Scope ATTNLAB_PROFILE_CONCAT(profile_scope_, __LINE__)(name)

// profiler.cpp — exclusive-time accounting with a stack of open scopes (see profiler.h).
#include "core/util/profiler.h"

#include <omp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>

namespace attnlab::profiler {

namespace {

using Clock = std::chrono::steady_clock;

std::atomic<bool> g_enabled{false};
std::mutex g_mutex;
std::map<std::string, Entry> g_entries;

struct Frame {
    std::string name;
    Clock::time_point start;
    double child_seconds = 0;
    double flops = 0;
};
thread_local std::vector<Frame> t_stack;

}  // namespace

void enable(bool on) { g_enabled = on; }
bool enabled() { return g_enabled.load(std::memory_order_relaxed); }

void reset() {
    std::lock_guard<std::mutex> lock(g_mutex);
    g_entries.clear();
}

void add_flops(double flops) {
    if (enabled() && !omp_in_parallel() && !t_stack.empty()) t_stack.back().flops += flops;
}

void Scope::open(const char* name) {
    if (omp_in_parallel()) return;
    t_stack.push_back({name, Clock::now()});
    pushed_ = true;
}

void Scope::close() {
    if (!pushed_) return;
    Frame f = t_stack.back();
    t_stack.pop_back();
    double total = std::chrono::duration<double>(Clock::now() - f.start).count();
    if (!t_stack.empty()) t_stack.back().child_seconds += total;
    std::lock_guard<std::mutex> lock(g_mutex);
    Entry& e = g_entries[f.name];
    e.name = f.name;
    e.seconds += total - f.child_seconds;
    e.calls += 1;
    e.flops += f.flops;
}

std::vector<Entry> entries() {
    std::lock_guard<std::mutex> lock(g_mutex);
    std::vector<Entry> out;
    for (auto& [name, e] : g_entries) out.push_back(e);
    std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.seconds > b.seconds; });
    return out;
}

std::string report(double total_seconds, int64_t steps) {
    std::vector<Entry> es = entries();
    std::string s;
    char line[200];
    std::snprintf(line, sizeof line, "%-36s %10s %7s %9s %9s\n", "op (exclusive time)", "ms/step", "share", "calls/st",
                  "GFLOP/s");
    s += line;
    double accounted = 0, flops = 0;
    for (const Entry& e : es) {
        accounted += e.seconds;
        flops += e.flops;
        char gf[32] = "";
        if (e.flops > 0) std::snprintf(gf, sizeof gf, "%9.1f", e.flops / e.seconds / 1e9);
        std::snprintf(line, sizeof line, "%-36s %10.2f %6.1f%% %9.1f %9s\n", e.name.c_str(), 1e3 * e.seconds / double(steps),
                      100.0 * e.seconds / total_seconds, double(e.calls) / double(steps), gf);
        s += line;
    }
    std::snprintf(line, sizeof line, "%-36s %10.2f %6.1f%%\n", "(outside any scope)",
                  1e3 * (total_seconds - accounted) / double(steps), 100.0 * (total_seconds - accounted) / total_seconds);
    s += line;
    std::snprintf(line, sizeof line, "step: %.2f ms, %.1f GFLOP/step in gemm, %.1f GFLOP/s over the whole step\n",
                  1e3 * total_seconds / double(steps), flops / double(steps) / 1e9, flops / total_seconds / 1e9);
    s += line;
    return s;
}

}  // namespace attnlab::profiler

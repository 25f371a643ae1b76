// bench_timing.h — the benchmarks' one timer: the median wall time of `reps`
// calls of f after one untimed warm-up call (the median ignores the odd
// outlier from a shared machine better than the mean).
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

inline double median_seconds(const std::function<void()>& f, int reps) {
    f();  // warm-up
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        f();
        t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

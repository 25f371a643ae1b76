// parallel.h — OpenMP parallel loops above a size threshold.
//
// parallel_for(begin, end, grain, f) calls f(b, e) on contiguous chunks of
// [begin, end), one per thread, but only when the range is larger than
// `grain` and we are not already inside a parallel region; small ops stay
// serial and cheap. OpenBLAS (OpenMP build) shares this thread pool and runs
// single-threaded when called from inside a parallel region, so the 2 cores
// are never oversubscribed.
#pragma once
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace attnlab {

int num_threads();
void set_num_threads(int n);  // our loops and OpenBLAS alike

// Like parallel_for, but f(chunk, b, e) also gets the chunk number in
// [0, num_threads()), for per-thread partial results.
template <class F>
void parallel_for_chunks(int64_t begin, int64_t end, int64_t grain, const F& f) {
    int64_t n = end - begin;
    if (n <= 0) return;
    int threads = omp_in_parallel() ? 1 : num_threads();
    int64_t g = std::max<int64_t>(grain, 1);
    int64_t chunks = std::min<int64_t>(threads, (n + g - 1) / g);
    if (chunks <= 1) {
        f(0, begin, end);
        return;
    }
#pragma omp parallel num_threads(int(chunks))
    {
        int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        int64_t b = begin + n * t / nt, e = begin + n * (t + 1) / nt;
        if (b < e) f(int(t), b, e);
    }
}

template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& f) {
    parallel_for_chunks(begin, end, grain, [&](int, int64_t b, int64_t e) { f(b, e); });
}

// Like parallel_for, but [begin, end) is cut into `pieces` chunks handed out
// one at a time to whichever thread is free: for long loops whose halves may
// take unequal time (a vCPU slowed by the host, cache misses in one half), so
// that no thread idles at the end while the other finishes. Each index is
// still processed by exactly one call f(b, e).
template <class F>
void parallel_for_balanced(int64_t begin, int64_t end, int64_t pieces, const F& f) {
    const int64_t n = end - begin;
    if (n <= 0) return;
    const int threads = omp_in_parallel() ? 1 : num_threads();
    pieces = std::min(std::max<int64_t>(pieces, 1), n);
    if (threads <= 1 || pieces <= 1) {
        f(begin, end);
        return;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
    for (int64_t c = 0; c < pieces; ++c) {
        const int64_t b = begin + n * c / pieces, e = begin + n * (c + 1) / pieces;
        if (b < e) f(b, e);
    }
}

}  // namespace attnlab

// bench_roofline.h — the two ceilings of a roofline, measured in the running
// process so that they share its threads and its (possibly busy) cores:
//   FMA peak:   every thread runs independent chains of vector fused multiply-adds
//               (enough chains to hide the FMA latency), 2 flops per lane;
//   bandwidth:  a streaming triad a = b + s·c over arrays far larger than the caches
//               (STREAM's counting: 3 arrays × 4 bytes per element).
// Each is the best of a few short trials (a ceiling, not a typical value).
// A kernel doing F flops and moving Q bytes cannot take less than
//   roofline time = max(F / peak, Q / bandwidth).
#pragma once
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/kernels/parallel.h"

struct MachineCeilings {
    double flops_per_second = 0, bytes_per_second = 0;
    double roofline_seconds(double flops, double bytes) const {
        return std::max(flops / flops_per_second, bytes / bytes_per_second);
    }
};

namespace roofline_detail {

constexpr int kChains = 12;  // independent accumulators per thread

// The widest float vector the compiler may use; ROOFLINE_SIMD(op) names its intrinsic.
#if defined(__AVX512F__)
using Vec = __m512;
#define ROOFLINE_SIMD(op) _mm512_##op
#elif defined(__AVX__)
using Vec = __m256;
#define ROOFLINE_SIMD(op) _mm256_##op
#else
using Vec = __m128;
#define ROOFLINE_SIMD(op) _mm_##op
#endif
constexpr int kLanes = int(sizeof(Vec) / sizeof(float));
inline Vec splat(float x) { return ROOFLINE_SIMD(set1_ps)(x); }
inline float first(Vec v) { return ROOFLINE_SIMD(cvtss_f32)(v); }
// a·b + c: one fused instruction where the CPU has FMA, else a multiply and an add.
inline Vec fma(Vec a, Vec b, Vec c) {
#if defined(__FMA__)
    return ROOFLINE_SIMD(fmadd_ps)(a, b, c);
#else
    return ROOFLINE_SIMD(add_ps)(ROOFLINE_SIMD(mul_ps)(a, b), c);
#endif
}
#undef ROOFLINE_SIMD

// Runs `iterations` rounds of kChains FMAs on one thread; returns a value so the work is kept.
inline float fma_chains(int64_t iterations) {
    Vec acc[kChains];
    for (int c = 0; c < kChains; ++c) acc[c] = splat(float(c));
    const Vec m = splat(0.999999f), a = splat(1e-7f);
    for (int64_t it = 0; it < iterations; ++it)
        for (int c = 0; c < kChains; ++c) acc[c] = fma(acc[c], m, a);
    float s = 0;
    for (int c = 0; c < kChains; ++c) s += first(acc[c]);
    return s;
}

template <class F>
double best_seconds(int trials, const F& f) {
    double best = 1e30;
    for (int t = 0; t < trials; ++t) {
        auto t0 = std::chrono::steady_clock::now();
        f();
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

}  // namespace roofline_detail

// Peak FMA throughput of all attnlab::num_threads() threads, flops per second.
inline double measure_fma_peak() {
    using namespace roofline_detail;
    const int threads = attnlab::num_threads();
    const int64_t iterations = 2'000'000;
    std::vector<float> sink(size_t(threads), 0.f);
    double seconds = best_seconds(5, [&] {
        attnlab::parallel_for_chunks(0, threads, 1, [&](int t, int64_t, int64_t) { sink[size_t(t)] += fma_chains(iterations); });
    });
    volatile float keep = sink[0];
    (void)keep;
    return 2.0 * kLanes * kChains * double(iterations) * threads / seconds;
}

// Streaming triad bandwidth of all threads, bytes per second.
inline double measure_memory_bandwidth() {
    const int64_t n = int64_t(1) << 24;  // 64 MB per array, beyond the last-level cache
    std::vector<float> a(static_cast<size_t>(n)), b(static_cast<size_t>(n), 1.f), c(static_cast<size_t>(n), 2.f);
    float* pa = a.data();
    const float *pb = b.data(), *pc = c.data();
    auto triad = [=] {
        attnlab::parallel_for(0, n, 1 << 16, [=](int64_t lo, int64_t hi) {
#pragma omp simd
            for (int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + 0.5f * pc[i];
        });
    };
    triad();  // first touch
    double seconds = roofline_detail::best_seconds(5, triad);
    return 3.0 * 4.0 * double(n) / seconds;
}

inline MachineCeilings measure_machine() { return {measure_fma_peak(), measure_memory_bandwidth()}; }

// rng.cpp — Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as
// 1, 2, 3", SC'11) and the distributions built on it. Normals use Box–Muller on
// two words of one block; truncated normals resample with fresh keys.
#include "core/util/rng.h"

#include <cmath>

#include "core/util/error.h"
#include "core/kernels/parallel.h"

namespace attnlab {

std::array<uint32_t, 4> Generator::philox(uint64_t key, uint64_t counter) {
    uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = uint32_t(key), k1 = uint32_t(key >> 32);
    for (int round = 0; round < 10; ++round) {
        uint64_t p0 = uint64_t(0xD2511F53u) * c0;
        uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
        uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
        uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
        c0 = n0, c1 = uint32_t(p1), c2 = n2, c3 = uint32_t(p0);
        k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
    }
    return {c0, c1, c2, c3};
}

static inline float to_unit(uint32_t w) { return float(w >> 8) * (1.0f / 16777216.0f); }  // [0,1)

static inline float box_muller(uint32_t w0, uint32_t w1) {
    double u1 = (double(w0) + 1.0) / 4294967296.0;  // (0, 1]
    double u2 = double(w1) / 4294967296.0;
    return float(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
}

void Generator::fill_uniform(float* out, int64_t n, float low, float high) {
    uint64_t base = offset_, key = seed_;
    parallel_for(0, n, 1 << 14, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[i] = low + (high - low) * to_unit(philox(key, base + i)[0]);
    });
    offset_ += uint64_t(n);
}

void Generator::fill_normal(float* out, int64_t n, float mean, float std) {
    uint64_t base = offset_, key = seed_;
    parallel_for(0, n, 1 << 14, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) {
            auto w = philox(key, base + i);
            out[i] = mean + std * box_muller(w[0], w[1]);
        }
    });
    offset_ += uint64_t(n);
}

void Generator::fill_trunc_normal(float* out, int64_t n, float std, float a, float b) {
    check(a < b, "trunc_normal: need a < b, got a=", a, " b=", b);
    uint64_t base = offset_, key = seed_;
    parallel_for(0, n, 1 << 14, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) {
            float z = 0.f;
            for (uint64_t attempt = 0;; ++attempt) {  // P(accept) > 0.95 for [-2, 2]
                auto w = philox(key ^ (attempt * 0x9E3779B97F4A7C15ull), base + i);
                z = box_muller(w[0], w[1]);
                if (z >= a && z <= b) break;
                z = box_muller(w[2], w[3]);
                if (z >= a && z <= b) break;
                check(attempt < 1000, "trunc_normal: interval [", a, ", ", b, "] too unlikely");
            }
            out[i] = std * z;
        }
    });
    offset_ += uint64_t(n);
}

void Generator::fill_bernoulli(float* out, int64_t n, float p) {
    uint64_t base = offset_, key = seed_;
    parallel_for(0, n, 1 << 14, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) out[i] = to_unit(philox(key, base + i)[0]) < p ? 1.f : 0.f;
    });
    offset_ += uint64_t(n);
}

float Generator::uniform() { return to_unit(philox(seed_, offset_++)[0]); }

float Generator::normal() {
    auto w = philox(seed_, offset_++);
    return box_muller(w[0], w[1]);
}

int64_t Generator::randint(int64_t n) {
    check(n > 0, "randint: need n > 0, got ", n);
    auto w = philox(seed_, offset_++);
    uint64_t r = (uint64_t(w[0]) << 32) | w[1];
    return int64_t(r % uint64_t(n));  // bias < n / 2^64: negligible
}

float Generator::gamma(float shape) {
    check(shape > 0.f, "gamma: shape must be positive, got ", shape);
    if (shape < 1.f) {  // Gamma(a) = Gamma(a + 1) · U^(1/a)
        float u = std::max(uniform(), 1e-30f);
        return gamma(shape + 1.f) * std::pow(u, 1.f / shape);
    }
    const float d = shape - 1.f / 3.f, c = 1.f / std::sqrt(9.f * d);
    for (;;) {
        float x = normal(), v = 1.f + c * x;
        if (v <= 0.f) continue;
        v = v * v * v;
        float u = std::max(uniform(), 1e-30f);
        if (std::log(u) < 0.5f * x * x + d - d * v + d * std::log(v)) return d * v;
    }
}

float Generator::beta(float a, float b) {
    float x = gamma(a), y = gamma(b);
    return x / (x + y);
}

std::vector<int64_t> Generator::permutation(int64_t n) {
    std::vector<int64_t> p(size_t(std::max<int64_t>(n, 0)));
    for (int64_t i = 0; i < n; ++i) p[size_t(i)] = i;
    for (int64_t i = n - 1; i > 0; --i) std::swap(p[size_t(i)], p[size_t(randint(i + 1))]);
    return p;
}

Generator& default_generator() {
    static Generator gen(0);
    return gen;
}

void manual_seed(uint64_t seed) { default_generator().set_state(seed, 0); }

}  // namespace attnlab

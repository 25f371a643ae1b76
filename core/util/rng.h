// rng.h — seeded, counter-based random numbers (Philox4x32-10).
//
// Philox maps (key = seed, counter) to four random 32-bit words with ten
// rounds of multiply/xor. Element i of a bulk draw uses counter offset+i, so a
// draw gives the same numbers whatever the number of threads filling it, and
// the whole generator state is two integers (seed, offset) that checkpoints
// save and restore exactly.
#pragma once
#include <array>
#include <cstdint>
#include <vector>

namespace attnlab {

class Generator {
public:
    explicit Generator(uint64_t seed = 0) : seed_(seed) {}

    uint64_t seed() const { return seed_; }
    uint64_t offset() const { return offset_; }  // counters consumed so far
    void set_state(uint64_t seed, uint64_t offset) { seed_ = seed, offset_ = offset; }

    // Bulk fills: n values, counters offset..offset+n-1, then offset += n.
    void fill_uniform(float* out, int64_t n, float low, float high);
    void fill_normal(float* out, int64_t n, float mean, float std);
    void fill_trunc_normal(float* out, int64_t n, float std, float a, float b);
    void fill_bernoulli(float* out, int64_t n, float p);  // 1 with probability p, else 0

    // Single draws (each consumes one counter).
    float uniform();               // [0, 1)
    float normal();                // N(0, 1)
    int64_t randint(int64_t n);    // uniform in [0, n)
    float gamma(float shape);      // Gamma(shape, 1), Marsaglia–Tsang (a few counters)
    float beta(float a, float b);  // Beta(a, b) = X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b)
    std::vector<int64_t> permutation(int64_t n);  // Fisher-Yates shuffle of 0..n-1

    // The raw block function: four words for (key, counter).
    static std::array<uint32_t, 4> philox(uint64_t key, uint64_t counter);

private:
    uint64_t seed_ = 0;
    uint64_t offset_ = 0;
};

// Process-wide generator for code that does not take one explicitly.
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace attnlab

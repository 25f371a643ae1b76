// column_softmax.h — softmax down the columns of a row-major block and its backward,
// for the low-rank kernels (nystrom_kernel.cpp, linformer_kernel.cpp). They keep their
// score blocks transposed, [keys, queries], so every max, sum and dot product runs
// across contiguous columns, vectorized, with no horizontal reduction per query.
//
//   forward:   x[:, c] <- softmax(x[:, c])                                   (in place)
//   backward:  dy[:, c] <- scale · y[:, c] ⊙ (dy[:, c] − Σ_r y[r, c] dy[r, c])  (in place)
//
// x, y, dy are [rows, cols] with row stride cols. Columns go in strips of 16 whose
// running max / sum / dot live in registers (a fixed-size local array), not in memory,
// so consecutive rows do not wait on a store. Time O(rows·cols), three passes over the
// block (forward), two (backward).
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/kernels/fastmath.h"

namespace attnlab::attention {

namespace column_softmax_detail {

constexpr int64_t kStrip = 16;

// One strip of W columns (W = kStrip, or fewer at the end: then w < kStrip is used).
template <int64_t W>
inline void forward_strip(float* x, int64_t rows, int64_t ld, int64_t w) {
    float mx[kStrip], sum[kStrip];
#pragma omp simd
    for (int64_t c = 0; c < (W ? W : w); ++c) mx[c] = x[c], sum[c] = 0.f;
    for (int64_t r = 1; r < rows; ++r)
#pragma omp simd
        for (int64_t c = 0; c < (W ? W : w); ++c) mx[c] = std::max(mx[c], x[r * ld + c]);
    for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
        for (int64_t c = 0; c < (W ? W : w); ++c) {
            const float e = fast::exp(x[r * ld + c] - mx[c]);
            x[r * ld + c] = e;
            sum[c] += e;
        }
#pragma omp simd
    for (int64_t c = 0; c < (W ? W : w); ++c) sum[c] = 1.f / sum[c];
    for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
        for (int64_t c = 0; c < (W ? W : w); ++c) x[r * ld + c] *= sum[c];
}

template <int64_t W>
inline void backward_strip(const float* y, float* dy, int64_t rows, int64_t ld, float scale, int64_t w) {
    float dot[kStrip];
#pragma omp simd
    for (int64_t c = 0; c < (W ? W : w); ++c) dot[c] = 0.f;
    for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
        for (int64_t c = 0; c < (W ? W : w); ++c) dot[c] += y[r * ld + c] * dy[r * ld + c];
    for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
        for (int64_t c = 0; c < (W ? W : w); ++c) dy[r * ld + c] = scale * y[r * ld + c] * (dy[r * ld + c] - dot[c]);
}

}  // namespace column_softmax_detail

inline void softmax_columns(float* x, int64_t rows, int64_t cols) {
    using namespace column_softmax_detail;
    int64_t c0 = 0;
    for (; c0 + kStrip <= cols; c0 += kStrip) forward_strip<kStrip>(x + c0, rows, cols, kStrip);
    if (c0 < cols) forward_strip<0>(x + c0, rows, cols, cols - c0);
}

inline void softmax_columns_backward(const float* y, float* dy, int64_t rows, int64_t cols, float scale) {
    using namespace column_softmax_detail;
    int64_t c0 = 0;
    for (; c0 + kStrip <= cols; c0 += kStrip) backward_strip<kStrip>(y + c0, dy + c0, rows, cols, scale, kStrip);
    if (c0 < cols) backward_strip<0>(y + c0, dy + c0, rows, cols, scale, cols - c0);
}

}  // namespace attnlab::attention

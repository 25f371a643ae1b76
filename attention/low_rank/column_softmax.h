// column_softmax.h — softmax down the columns of a row-major block and its backward,
// for the low-rank kernels (nystrom_kernel.cpp, linformer_kernel.cpp). They keep their
// score blocks transposed, [keys, queries], so every max, sum and dot product runs
// across contiguous columns, vectorized, with no horizontal reduction per query.
//
//   forward:   x[:, c] <- softmax(x[:, c])                                   (in place)
//   backward:  dy[:, c] <- scale · y[:, c] ⊙ (dy[:, c] − Σ_r y[r, c] dy[r, c])  (in place)
//
// x, y, dy are [rows, cols] with row stride cols; t is scratch of 2·cols floats.
// Time O(rows·cols), three passes over the block (forward), two (backward).
#pragma once
#include <algorithm>
#include <cstdint>

#include "core/kernels/fastmath.h"

namespace attnlab::attention {

inline void softmax_columns(float* x, int64_t rows, int64_t cols, float* t) {
    float *mx = t, *inv = t + cols;
    std::copy(x, x + cols, mx);
    for (int64_t r = 1; r < rows; ++r)
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) mx[c] = std::max(mx[c], x[r * cols + c]);
    std::fill(inv, inv + cols, 0.f);
    for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) {
            const float e = fast::exp(x[r * cols + c] - mx[c]);
            x[r * cols + c] = e;
            inv[c] += e;
        }
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) inv[c] = 1.f / inv[c];
    for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) x[r * cols + c] *= inv[c];
}

inline void softmax_columns_backward(const float* y, float* dy, int64_t rows, int64_t cols, float scale, float* t) {
    float* dot = t;
    std::fill(dot, dot + cols, 0.f);
    for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) dot[c] += y[r * cols + c] * dy[r * cols + c];
    for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
        for (int64_t c = 0; c < cols; ++c) dy[r * cols + c] = scale * y[r * cols + c] * (dy[r * cols + c] - dot[c]);
}

}  // namespace attnlab::attention

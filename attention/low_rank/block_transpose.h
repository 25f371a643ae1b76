// block_transpose.h — dst = srcᵀ for the chunk transposes of the low-rank kernels
// (nystrom_kernel.cpp, linformer_kernel.cpp), in 4×4 blocks held in SSE registers:
// 4 loads, 8 shuffles and 4 stores per 16 floats, where an element-by-element copy
// (small::transpose_padded) does 16 scalar loads and inserts. Edge rows and columns
// go one element at a time. Time O(rows·cols), no allocation.
#pragma once
#include <cstdint>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

namespace attnlab::attention {

// dst [cols, rows] (row stride ld_dst) = srcᵀ, src [rows, cols] (row stride ld_src).
inline void block_transpose(const float* src, int64_t ld_src, int64_t rows, int64_t cols, float* dst,
                            int64_t ld_dst) {
    int64_t r = 0;
#if defined(__SSE__)
    for (; r + 4 <= rows; r += 4) {
        const float* s = src + r * ld_src;
        int64_t c = 0;
        for (; c + 4 <= cols; c += 4) {
            __m128 a = _mm_loadu_ps(s + c), b = _mm_loadu_ps(s + ld_src + c), e = _mm_loadu_ps(s + 2 * ld_src + c),
                   f = _mm_loadu_ps(s + 3 * ld_src + c);
            _MM_TRANSPOSE4_PS(a, b, e, f);
            float* d = dst + c * ld_dst + r;
            _mm_storeu_ps(d, a);
            _mm_storeu_ps(d + ld_dst, b);
            _mm_storeu_ps(d + 2 * ld_dst, e);
            _mm_storeu_ps(d + 3 * ld_dst, f);
        }
        for (; c < cols; ++c)
            for (int64_t i = 0; i < 4; ++i) dst[c * ld_dst + r + i] = s[i * ld_src + c];
    }
#endif
    for (; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) dst[c * ld_dst + r] = src[r * ld_src + c];
}

}  // namespace attnlab::attention

// transpose16.h — a 16 × 16 block of floats transposed (and scaled) in registers, for the sparse
// kernels that hold tiles transposed (longformer_kernel.cpp, block_sparse_key_lanes.cpp):
//   dst[c·ldd + i] = mul · src[i·lds + c],   i, c < 16
// With AVX-512: 16 loads, 64 shuffles, 16 stores (a scalar transpose is one scattered store per
// float, which the profiles showed costing more than the products); else a plain loop.
#pragma once
#include <cstdint>

#if defined(__AVX512F__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"  // GCC 12 flags the header's own _mm512_undefined_pd
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif

namespace attnlab::attention {

// Stream = true: non-temporal stores (dst rows 64-byte aligned), for output rows no one reads soon.
template <bool Stream = false>
inline void transpose16(const float* src, int64_t lds, float* dst, int64_t ldd, float mul) {
#if defined(__AVX512F__)
    __m512 r[16], t[16];
    const __m512 m = _mm512_set1_ps(mul);
    for (int i = 0; i < 16; ++i) r[i] = _mm512_mul_ps(m, _mm512_loadu_ps(src + i * lds));
    for (int i = 0; i < 8; ++i) {  // per 128-bit lane L: pairs of rows interleaved
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    auto lo = [](__m512 a, __m512 b) { return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); };
    auto hi = [](__m512 a, __m512 b) { return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(a), _mm512_castps_pd(b))); };
    for (int i = 0; i < 4; ++i) {  // r[4i + k], lane L: column 4L + k of rows 4i … 4i + 3
        r[4 * i] = lo(t[4 * i], t[4 * i + 2]), r[4 * i + 1] = hi(t[4 * i], t[4 * i + 2]);
        r[4 * i + 2] = lo(t[4 * i + 1], t[4 * i + 3]), r[4 * i + 3] = hi(t[4 * i + 1], t[4 * i + 3]);
    }
    auto store = [](float* p, __m512 x) {
        if constexpr (Stream) _mm512_stream_ps(p, x);
        else _mm512_storeu_ps(p, x);
    };
    for (int k = 0; k < 4; ++k) {  // column 4L + k: lane L of r[k], r[4 + k], r[8 + k], r[12 + k]
        const __m512 a = _mm512_shuffle_f32x4(r[k], r[4 + k], 0x88), b = _mm512_shuffle_f32x4(r[k], r[4 + k], 0xdd);
        const __m512 c = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0x88), d = _mm512_shuffle_f32x4(r[8 + k], r[12 + k], 0xdd);
        store(dst + k * ldd, _mm512_shuffle_f32x4(a, c, 0x88));
        store(dst + (4 + k) * ldd, _mm512_shuffle_f32x4(b, d, 0x88));
        store(dst + (8 + k) * ldd, _mm512_shuffle_f32x4(a, c, 0xdd));
        store(dst + (12 + k) * ldd, _mm512_shuffle_f32x4(b, d, 0xdd));
    }
#else
    for (int i = 0; i < 16; ++i)
        for (int c = 0; c < 16; ++c) dst[c * ldd + i] = mul * src[i * lds + c];
#endif
}

// Orders the non-temporal stores of transpose16<true> before what follows (other threads' reads).
inline void stream_fence() {
#if defined(__AVX512F__)
    _mm_sfence();
#endif
}

}  // namespace attnlab::attention

// row_math.h — the kernel family's per-row loops (D or M floats, a few vectors): exp over a
// row known to be ≤ 0 (elu(x) + 1 below 0, efficient's softmaxes after their max is
// subtracted), a row's softmax, and a dot product of two rows.
//
// exp: the inputs that fast::exp (core/kernels/fastmath.h) has to clamp on both sides never
// occur, so the clamps and the select are left out:
//
//   exp(x) = 2ⁿ·e^r,  n = round(x·log2 e),  r = x − n·ln 2 (ln 2 in two parts, as fast::exp),
//   e^r by the same degree-6 Taylor polynomial as fast::exp (relative error < 2e-7),
//
// and with AVX-512 2ⁿ·p is one vscalefps, which also gives 0 for n far below −126 (no clamp).
// Elsewhere each element goes through fast::exp. Cost: about 12 vector instructions per
// 16 floats (fast::exp inlined in a select: about 25).
// Max and sum of a row (softmax, dot): with AVX-512 the lanes are reduced as a tree
// (sum16, max16), where GCC's "omp simd reduction" adds the 16 lanes one after another.
// Reference mode does not reach these loops: the variants' composed references use the ops.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "core/kernels/fastmath.h"

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace attnlab::attention {

#if defined(__AVX512F__)
// e^x for 16 lanes of x ≤ 0.
// (The maskz_ forms with every lane set: the plain ones start from _mm512_undefined_ps, which
// GCC 12 reports as maybe uninitialized.)
inline __m512 exp_nonpositive16(__m512 x) {
    constexpr __mmask16 all = 0xFFFF;
    const __m512 n = _mm512_maskz_roundscale_ps(all, _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.f / 720.f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
    return _mm512_maskz_scalef_ps(all, p, n);
}

// The sum and the max of the 16 lanes, as a tree of halves (GCC 12's _mm512_reduce_add_ps
// and _mm512_reduce_max_ps start from undefined registers, which it then warns about).
typedef float Lanes16 __attribute__((vector_size(64)));
typedef float Lanes8 __attribute__((vector_size(32)));
typedef float Lanes4 __attribute__((vector_size(16)));
template <class Op>
inline float reduce16(__m512 v, Op op) {
    const Lanes16 a = Lanes16(v);
    const Lanes8 b = op(__builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7),
                        __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15));
    const Lanes4 c = op(__builtin_shufflevector(b, b, 0, 1, 2, 3), __builtin_shufflevector(b, b, 4, 5, 6, 7));
    return op(op(c[0], c[2]), op(c[1], c[3]));
}
inline float sum16(__m512 v) {
    return reduce16(v, [](auto x, auto y) { return x + y; });
}
inline float max16(__m512 v) {
    return reduce16(v, [](auto x, auto y) { return x > y ? x : y; });
}

// The lanes of [i, n) that a 16-wide step starting at i covers.
inline __mmask16 tail_mask(int64_t i, int64_t n) {
    return n - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (n - i)) - 1u);
}
#endif

// y[i] = exp(x[i] − shift[i]) for i < n, every x[i] − shift[i] ≤ 0 (shift = null: 0). y may be x.
inline void exp_nonpositive(const float* x, const float* shift, float* y, int64_t n) {
#if defined(__AVX512F__)
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(i, n);
        __m512 v = _mm512_maskz_loadu_ps(k, x + i);
        if (shift) v = _mm512_sub_ps(v, _mm512_maskz_loadu_ps(k, shift + i));
        _mm512_mask_storeu_ps(y + i, k, exp_nonpositive16(v));
    }
#else
    for (int64_t i = 0; i < n; ++i) y[i] = fast::exp(x[i] - (shift ? shift[i] : 0.f));
#endif
}

// y[i] = exp(x[i] − shift) for i < n, every x[i] ≤ shift. y may be x.
inline void exp_nonpositive(const float* x, float shift, float* y, int64_t n) {
#if defined(__AVX512F__)
    const __m512 s = _mm512_set1_ps(shift);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(i, n);
        _mm512_mask_storeu_ps(y + i, k, exp_nonpositive16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), s)));
    }
#else
    for (int64_t i = 0; i < n; ++i) y[i] = fast::exp(x[i] - shift);
#endif
}

#if defined(__AVX512F__)
// elu(v) + 1 for 16 lanes.
inline __m512 elu_plus_one16(__m512 v) {
    const __m512 zero = _mm512_setzero_ps();
    const __m512 e = exp_nonpositive16(_mm512_maskz_min_ps(0xFFFF, v, zero));
    return _mm512_mask_add_ps(e, _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), v, _mm512_set1_ps(1.f));
}
#endif

// y[i] = x[i] + 1 where x[i] > 0, else exp(x[i]) (elu(x) + 1), for i < n.
inline void elu_plus_one(const float* x, float* y, int64_t n) {
#if defined(__AVX512F__)
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, elu_plus_one16(_mm512_loadu_ps(x + i)));
    if (i < n) {
        const __mmask16 k = tail_mask(i, n);
        _mm512_mask_storeu_ps(y + i, k, elu_plus_one16(_mm512_maskz_loadu_ps(k, x + i)));
    }
#else
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] + 1.f : fast::exp(x[i]);
#endif
}

// Σ_i x[i]·y[i] for i < n.
inline float dot(const float* x, const float* y, int64_t n) {
#if defined(__AVX512F__)
    __m512 acc = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(i, n);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(k, x + i), _mm512_maskz_loadu_ps(k, y + i), acc);
    }
    return sum16(acc);
#else
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; ++i) s += x[i] * y[i];
    return s;
#endif
}

// y = softmax(x) over the n entries of one row: exp(x − max x) / Σ exp(x − max x).
inline void softmax_row(const float* x, float* y, int64_t n) {
#if defined(__AVX512F__)
    __m512 mx = _mm512_set1_ps(-INFINITY);
    for (int64_t i = 0; i < n; i += 16)
        mx = _mm512_maskz_max_ps(0xFFFF, mx, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), tail_mask(i, n), x + i));
    exp_nonpositive(x, max16(mx), y, n);
    __m512 sum = _mm512_setzero_ps();
    for (int64_t i = 0; i < n; i += 16) sum = _mm512_add_ps(sum, _mm512_maskz_loadu_ps(tail_mask(i, n), y + i));
    const __m512 inv = _mm512_set1_ps(1.f / sum16(sum));
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(i, n);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, y + i), inv));
    }
#else
    float mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
    exp_nonpositive(x, mx, y, n);
    float sum = 0.f;
    for (int64_t i = 0; i < n; ++i) sum += y[i];
    const float inv = 1.f / sum;
    for (int64_t i = 0; i < n; ++i) y[i] *= inv;
#endif
}

}  // namespace attnlab::attention

// exp_rows.h — exp over a row of floats known to be ≤ 0, for the kernel family's feature maps
// (elu(x) + 1 below 0, efficient's softmaxes after their max is subtracted, performer's
// shifted features): the inputs that fast::exp (core/kernels/fastmath.h) has to clamp on both
// sides never occur, so the clamps and the select are left out.
//
//   exp(x) = 2ⁿ·e^r,  n = round(x·log2 e),  r = x − n·ln 2 (ln 2 in two parts, as fast::exp),
//   e^r by the same degree-6 Taylor polynomial as fast::exp (relative error < 2e-7),
//
// and with AVX-512 2ⁿ·p is one vscalefps, which also gives 0 for n far below −126 (no clamp).
// Elsewhere each element goes through fast::exp. Cost: about 12 vector instructions per
// 16 floats (fast::exp inlined in a select: about 25). Reference mode does not reach these
// loops: the variants' composed references use the ops' own exp.
#pragma once
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

// y[i] = x[i] + 1 where x[i] > 0, else exp(x[i]) (elu(x) + 1), for i < n.
inline void elu_plus_one(const float* x, float* y, int64_t n) {
#if defined(__AVX512F__)
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 k = tail_mask(i, n);
        const __m512 v = _mm512_maskz_loadu_ps(k, x + i), zero = _mm512_setzero_ps();
        const __m512 e = exp_nonpositive16(_mm512_maskz_min_ps(0xFFFF, v, zero));
        const __mmask16 pos = _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ);
        _mm512_mask_storeu_ps(y + i, k, _mm512_mask_add_ps(e, pos, v, _mm512_set1_ps(1.f)));
    }
#else
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.f ? x[i] + 1.f : fast::exp(x[i]);
#endif
}

}  // namespace attnlab::attention

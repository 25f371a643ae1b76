// fastmath.h — branch-free exp, tanh and erf that the compiler vectorizes.
//
// libm's expf/erff are scalar calls, so a loop over them runs one element at a
// time. These versions are plain arithmetic, inlined into the kernels' loops,
// and become AVX-512/AVX2 code:
//   exp(x):  x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 Taylor
//            polynomial, 2^n by writing n into the float's exponent bits.
//            Inputs are clamped to [-88, 88] (88 gives 1.65e38).
//            Relative error < 2e-7 on [-87, 88]; inputs below -87.3 give 0.
//   tanh(x): 1 - 2/(e^{2x} + 1) (absolute error < 2e-7).
//   erf(x):  Abramowitz & Stegun 7.1.26, |error| < 1.5e-7.
#pragma once
#include <bit>
#include <cstdint>

namespace attnlab::fast {

inline float exp(float x) {
    constexpr float kLog2e = 1.44269504088896341f, kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
    constexpr float kRound = 12582912.f;  // 1.5·2^23: (v + kRound) - kRound rounds v to an integer
    x = x < -88.f ? -88.f : (x > 88.f ? 88.f : x);
    float n = (x * kLog2e + kRound) - kRound;  // floorf would not vectorize without -fno-trapping-math
    float r = x - n * kLn2Hi - n * kLn2Lo;
    float p = 1.f / 720.f;
    p = p * r + 1.f / 120.f;
    p = p * r + 1.f / 24.f;
    p = p * r + 1.f / 6.f;
    p = p * r + 0.5f;
    p = p * r + 1.f;
    p = p * r + 1.f;
    int32_t e = (int32_t(n) + 127) << 23;  // n ≥ -127 here, so e ≥ 0 (e = 0 encodes 0.0)
    return p * std::bit_cast<float>(e);
}

inline float tanh(float x) { return 1.f - 2.f / (fast::exp(2.f * x) + 1.f); }

inline float erf(float x) {
    constexpr float p = 0.3275911f, a1 = 0.254829592f, a2 = -0.284496736f, a3 = 1.421413741f, a4 = -1.453152027f,
                    a5 = 1.061405429f;
    float ax = x < 0.f ? -x : x;
    float t = 1.f / (1.f + p * ax);
    float poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))));
    float y = 1.f - poly * fast::exp(-ax * ax);
    return x < 0.f ? -y : y;
}

}  // namespace attnlab::fast

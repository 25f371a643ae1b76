// fastmath.h — branch-free exp, tanh and erf that the compiler vectorizes.
//
// libm's expf/erff are scalar calls, so a loop over them runs one element at a
// time. These versions are plain arithmetic, inlined into the kernels' loops,
// and become AVX-512/AVX2 code (on AVX2 only with -fno-trapping-math, set in
// CMakeLists.txt: their selects and clamps guard divisions, and without masked
// instructions GCC may not compute both sides unless FP ops cannot trap):
//   exp(x):  x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 Taylor
//            polynomial, 2^n by writing n into the float's exponent bits.
//            Inputs are clamped to [-88, 88] (88 gives 1.65e38).
//            Relative error < 2e-7 on [-87, 88]; inputs below -87.3 give 0.
//   tanh(x): 1 - 2/(e^{2x} + 1), and below |x| < 1/8 its Taylor series to x^7
//            so that small inputs keep their relative accuracy (error < 3e-7
//            absolute, < 1e-6 relative).
//   erf(x):  Abramowitz & Stegun 7.1.26, |error| < 1.5e-7.
//   sin(x), cos(x): x = k·π + r with |r| ≤ π/2 (π split in three parts, Cody
//            and Waite, so k·π is exact for |k| < 2^16), then sin r by its
//            odd Taylor polynomial to r^11, negated for odd k; cos x is
//            (-1)^k sin r with x = (k - ½)·π + r. |error| < 2e-7 for |x| < 1e5.
// Reference path: ops take the functions from a math policy, FastMath or
// StdMath (<cmath>), and with_math picks StdMath in reference mode
// (ATTNLAB_REFERENCE=1, core/util/reference_mode.h), once per op call.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

#include "core/util/reference_mode.h"

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

inline float tanh(float x) {
    float big = 1.f - 2.f / (fast::exp(2.f * x) + 1.f);
    float x2 = x * x;
    float small = x + x * x2 * (-1.f / 3.f + x2 * (2.f / 15.f + x2 * (-17.f / 315.f)));
    return (x2 < 1.f / 64.f) ? small : big;
}

// erf(x); also stores e^{-x²}, which it computes anyway, in gauss (erf' = 2/√π · e^{-x²}).
inline float erf(float x, float& gauss) {
    constexpr float p = 0.3275911f, a1 = 0.254829592f, a2 = -0.284496736f, a3 = 1.421413741f, a4 = -1.453152027f,
                    a5 = 1.061405429f;
    float ax = x < 0.f ? -x : x;
    float t = 1.f / (1.f + p * ax);
    float poly = t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5))));
    gauss = fast::exp(-ax * ax);
    float y = 1.f - poly * gauss;
    return x < 0.f ? -y : y;
}

inline float erf(float x) {
    float gauss;
    return erf(x, gauss);
}

namespace detail {
constexpr float kInvPi = 0.318309886183790671f, kRound = 12582912.f;  // 1/π; 1.5·2^23 rounds to an integer
constexpr float kPiA = 3.140625f, kPiB = 9.67502593994140625e-4f, kPiC = 1.509957990978376432e-7f;  // A+B+C = π

// sin r for |r| ≤ π/2, with its sign flipped when k is odd.
inline float sin_reduced(float r, float k) {
    float r2 = r * r;
    float p = -2.5052108385441718775e-8f;  // -1/11!
    p = p * r2 + 2.7557319223985890653e-6f;
    p = p * r2 - 1.9841269841269841270e-4f;
    p = p * r2 + 8.3333333333333333333e-3f;
    p = p * r2 - 1.6666666666666666667e-1f;
    float s = r + r * r2 * p;
    uint32_t sign = uint32_t(int32_t(k)) << 31;  // odd k -> sign bit
    return std::bit_cast<float>(std::bit_cast<uint32_t>(s) ^ sign);
}
}  // namespace detail

inline float sin(float x) {
    using namespace detail;
    float k = (x * kInvPi + kRound) - kRound;  // nearest integer to x/π
    float r = ((x - k * kPiA) - k * kPiB) - k * kPiC;
    return sin_reduced(r, k);
}

inline float cos(float x) {
    using namespace detail;
    float k = (x * kInvPi + 0.5f + kRound) - kRound;  // nearest integer to x/π + ½
    float m = k - 0.5f;                                // x = m·π + r, cos x = (-1)^k sin r
    float r = ((x - m * kPiA) - m * kPiB) - m * kPiC;
    return sin_reduced(r, k);
}

}  // namespace attnlab::fast

namespace attnlab {

// The functions above, as a policy an op's loops are written against.
struct FastMath {
    static float exp(float x) { return fast::exp(x); }
    static float tanh(float x) { return fast::tanh(x); }
    static float erf(float x) { return fast::erf(x); }
    static float erf(float x, float& gauss) { return fast::erf(x, gauss); }  // gauss = e^{-x²}
    static float sin(float x) { return fast::sin(x); }
    static float cos(float x) { return fast::cos(x); }
};

// The same functions from <cmath>: the reference the fast ones are held to.
struct StdMath {
    static float exp(float x) { return std::exp(x); }
    static float tanh(float x) { return std::tanh(x); }
    static float erf(float x) { return std::erf(x); }
    static float erf(float x, float& gauss) {
        gauss = std::exp(-x * x);
        return std::erf(x);
    }
    static float sin(float x) { return std::sin(x); }
    static float cos(float x) { return std::cos(x); }
};

// f(StdMath{}) in reference mode, else f(FastMath{}): one check per op call, outside its loops.
template <class F>
decltype(auto) with_math(F&& f) {
    if (reference_mode()) return f(StdMath{});
    return f(FastMath{});
}

}  // namespace attnlab

// ops_unary.cpp — element-wise functions of one tensor, y = f(x), and their
// gradients dx = dy · f'(x). Each op states f and f' side by side; f' is
// written in terms of the saved input x or, when cheaper, the saved output y.
// Cost: O(numel) time, one output tensor.
// exp, tanh, sigmoid, gelu, elu, sin, cos use fast:: math (core/kernels/fastmath.h),
// or std:: math in reference mode (ATTNLAB_REFERENCE=1), chosen by with_math.
#include <cmath>

#include "core/autograd/autograd.h"
#include "core/kernels/fastmath.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/tensor/strided.h"

namespace attnlab {

using detail::map_binary;
using detail::map_unary;

// y = f(x); backward dx = dy * df(x), saving the input.
template <class F, class DF>
static Tensor unary_saving_input(const char* name, const Tensor& x, F f, DF df) {
    detail::check_float(name, x);
    Tensor y = map_unary(x, f);
    if (!any_requires_grad({x})) return y;
    return record(name, y, {x}, [x = x.detach(), df, name](const Tensor& dy) {
        return std::vector<Tensor>{map_binary(dy, x, [df](float g, float a) { return g * df(a); }, name)};
    });
}

// y = f(x); backward dx = dy * df(y), saving the output.
template <class F, class DF>
static Tensor unary_saving_output(const char* name, const Tensor& x, F f, DF df) {
    detail::check_float(name, x);
    Tensor y = map_unary(x, f);
    if (!any_requires_grad({x})) return y;
    return record(name, y, {x}, [y = y.detach(), df, name](const Tensor& dy) {
        return std::vector<Tensor>{map_binary(dy, y, [df](float g, float b) { return g * df(b); }, name)};
    });
}

Tensor neg(const Tensor& x) {
    detail::check_float("neg", x);
    Tensor y = map_unary(x, [](float a) { return -a; });
    return record("neg", y, {x}, [](const Tensor& dy) { return std::vector<Tensor>{neg(dy)}; });
}

Tensor exp(const Tensor& x) {  // (e^x)' = e^x = y
    return with_math([&](auto m) {
        return unary_saving_output("exp", x, [m](float a) { return m.exp(a); }, [](float y) { return y; });
    });
}

Tensor log(const Tensor& x) {  // (ln x)' = 1/x
    return unary_saving_input("log", x, [](float a) { return std::log(a); }, [](float a) { return 1.f / a; });
}

Tensor sqrt(const Tensor& x) {  // (√x)' = 1/(2√x) = 0.5/y
    return unary_saving_output("sqrt", x, [](float a) { return std::sqrt(a); }, [](float y) { return 0.5f / y; });
}

Tensor rsqrt(const Tensor& x) {  // (x^-½)' = -½ x^-3/2 = -½ y³
    return unary_saving_output("rsqrt", x, [](float a) { return 1.f / std::sqrt(a); },
                               [](float y) { return -0.5f * y * y * y; });
}

Tensor abs(const Tensor& x) {  // |x|' = sign(x), 0 at 0
    return unary_saving_input("abs", x, [](float a) { return std::fabs(a); },
                              [](float a) { return a > 0.f ? 1.f : a < 0.f ? -1.f : 0.f; });
}

Tensor tanh(const Tensor& x) {  // tanh' = 1 - y²
    return with_math([&](auto m) {
        return unary_saving_output("tanh", x, [m](float a) { return m.tanh(a); }, [](float y) { return 1.f - y * y; });
    });
}

Tensor sigmoid(const Tensor& x) {  // σ' = y (1 - y)
    return with_math([&](auto m) {
        return unary_saving_output("sigmoid", x, [m](float a) { return 1.f / (1.f + m.exp(-a)); },
                                   [](float y) { return y * (1.f - y); });
    });
}

Tensor relu(const Tensor& x) {  // relu' = 1 where y > 0
    return unary_saving_output("relu", x, [](float a) { return a > 0.f ? a : 0.f; },
                               [](float y) { return y > 0.f ? 1.f : 0.f; });
}

// GELU(x) = x Φ(x). Exact: Φ(x) = ½(1 + erf(x/√2)), Φ'(x) = e^{-x²/2}/√(2π)
// (one exp for both: erf(u) already forms e^{-u²} = e^{-x²/2}).
// Tanh approximation: ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³).
Tensor gelu(const Tensor& x, GeluApprox approx) {
    PROFILE_SCOPE("gelu");
    constexpr float kInvSqrt2 = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;
    constexpr float kSqrt2OverPi = 0.79788456080286536f, kCubic = 0.044715f;
    return with_math([&](auto m) {
        if (approx == GeluApprox::None)
            return unary_saving_input(
                "gelu", x, [m](float a) { return 0.5f * a * (1.f + m.erf(a * kInvSqrt2)); },
                [m](float a) {
                    float gauss;  // e^{-a²/2}
                    float cdf = 0.5f * (1.f + m.erf(a * kInvSqrt2, gauss));
                    return cdf + a * kInvSqrt2Pi * gauss;
                });
        return unary_saving_input(
            "gelu_tanh", x,
            [m](float a) { return 0.5f * a * (1.f + m.tanh(kSqrt2OverPi * (a + kCubic * a * a * a))); },
            [m](float a) {
                float t = m.tanh(kSqrt2OverPi * (a + kCubic * a * a * a));
                return 0.5f * (1.f + t) + 0.5f * a * (1.f - t * t) * kSqrt2OverPi * (1.f + 3.f * kCubic * a * a);
            });
    });
}

Tensor elu(const Tensor& x, float alpha) {  // x > 0 ? x : α(eˣ - 1); derivative 1 or α eˣ
    return with_math([&](auto m) {
        return unary_saving_input(
            "elu", x, [alpha, m](float a) { return a > 0.f ? a : alpha * (m.exp(a) - 1.f); },
            [alpha, m](float a) { return a > 0.f ? 1.f : alpha * m.exp(a); });
    });
}

Tensor sin(const Tensor& x) {
    return with_math([&](auto m) {
        return unary_saving_input("sin", x, [m](float a) { return m.sin(a); }, [m](float a) { return m.cos(a); });
    });
}

Tensor cos(const Tensor& x) {
    return with_math([&](auto m) {
        return unary_saving_input("cos", x, [m](float a) { return m.cos(a); }, [m](float a) { return -m.sin(a); });
    });
}

Tensor pow(const Tensor& x, float p) {  // (x^p)' = p x^(p-1)
    return unary_saving_input("pow", x, [p](float a) { return std::pow(a, p); },
                              [p](float a) { return p * std::pow(a, p - 1.f); });
}

Tensor add_scalar(const Tensor& x, float s) {  // (x + s)' = 1
    detail::check_float("add_scalar", x);
    Tensor y = map_unary(x, [s](float a) { return a + s; });
    return record("add_scalar", y, {x}, [](const Tensor& dy) { return std::vector<Tensor>{dy}; });
}

Tensor mul_scalar(const Tensor& x, float s) {  // (s x)' = s
    detail::check_float("mul_scalar", x);
    Tensor y = map_unary(x, [s](float a) { return a * s; });
    return record("mul_scalar", y, {x}, [s](const Tensor& dy) { return std::vector<Tensor>{mul_scalar(dy, s)}; });
}

}  // namespace attnlab

// ops_softmax.cpp — fused, numerically stable softmax and log_softmax.
//
// softmax:     y_i = e^(x_i - m) / Σ_j e^(x_j - m),  m = max_j x_j
//              dx_i = y_i (dy_i - Σ_j dy_j y_j)
// log_softmax: y_i = x_i - m - log Σ_j e^(x_j - m)
//              dx_i = dy_i - e^(y_i) Σ_j dy_j
// Subtracting the row maximum keeps every exponent ≤ 0, so logits of ±1e4 are
// fine. A row that is entirely -inf (fully masked) gives zeros, not NaN.
// Cost: O(numel) time; the output is saved for backward.
// e^x is fast::exp, or std::exp in reference mode (ATTNLAB_REFERENCE=1; with_math).
#include <cmath>
#include <limits>

#include "core/autograd/autograd.h"
#include "core/kernels/fastmath.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/tensor/strided.h"

namespace attnlab {

template <class Math>
static void softmax_rows(const float* x, float* y, int64_t rows, int64_t n, bool log_out, Math) {
    parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
            const float* xr = x + r * n;
            float* yr = y + r * n;
            float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
            for (int64_t i = 0; i < n; ++i) m = std::max(m, xr[i]);
            if (m == -std::numeric_limits<float>::infinity()) {  // fully masked row
                for (int64_t i = 0; i < n; ++i) yr[i] = log_out ? m : 0.f;
                continue;
            }
            float s = 0.f;
            if (log_out) {
#pragma omp simd reduction(+ : s)
                for (int64_t i = 0; i < n; ++i) s += Math::exp(xr[i] - m);
                float lse = m + std::log(s);
#pragma omp simd
                for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] - lse;
            } else {
#pragma omp simd reduction(+ : s)
                for (int64_t i = 0; i < n; ++i) {
                    yr[i] = Math::exp(xr[i] - m);
                    s += yr[i];
                }
                float inv = 1.f / s;
#pragma omp simd
                for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
            }
        }
    });
}

template <class Math>
static void softmax_rows_backward(const float* y, const float* dy, float* dx, int64_t rows, int64_t n, bool log_out,
                                  Math) {
    parallel_for(0, rows, std::max<int64_t>(1, 16384 / std::max<int64_t>(n, 1)), [&](int64_t lo, int64_t hi) {
        for (int64_t r = lo; r < hi; ++r) {
            const float *yr = y + r * n, *gr = dy + r * n;
            float* dr = dx + r * n;
            float s = 0.f;
            if (log_out) {
#pragma omp simd reduction(+ : s)
                for (int64_t i = 0; i < n; ++i) s += gr[i];
#pragma omp simd
                for (int64_t i = 0; i < n; ++i) dr[i] = gr[i] - Math::exp(yr[i]) * s;
            } else {
#pragma omp simd reduction(+ : s)
                for (int64_t i = 0; i < n; ++i) s += gr[i] * yr[i];
#pragma omp simd
                for (int64_t i = 0; i < n; ++i) dr[i] = yr[i] * (gr[i] - s);
            }
        }
    });
}

// Runs a row kernel with `dim` moved last, then moves it back.
static Tensor along_last(const Tensor& x, int64_t d, const std::function<void(const Tensor&, const Tensor&)>& kernel) {
    bool last = d == x.dim() - 1;
    Tensor xt = contiguous(last ? x : transpose(x, d, -1));
    Tensor yt = Tensor::empty(xt.shape());
    kernel(xt, yt);
    return last ? yt : contiguous(transpose(yt, d, -1));
}

static Tensor softmax_impl(const char* name, const Tensor& x, int64_t dim, bool log_out) {
    PROFILE_SCOPE("softmax");
    detail::check_float(name, x);
    if (x.dim() == 0) return softmax_impl(name, reshape(x, {1}), 0, log_out).reshape({});
    int64_t d = normalize_dim(dim, x.dim(), name);
    int64_t n = x.shape()[size_t(d)];
    Tensor y = along_last(x.detach(), d, [&](const Tensor& in, const Tensor& out) {
        with_math([&](auto m) { softmax_rows(in.data(), out.data(), in.numel() / std::max<int64_t>(n, 1), n, log_out, m); });
    });
    return record(name, y, {x}, [y = y.detach(), d, n, log_out](const Tensor& dy) {
        bool last = d == y.dim() - 1;
        Tensor yt = contiguous(last ? y : transpose(y, d, -1));
        Tensor dx = along_last(dy, d, [&](const Tensor& g, const Tensor& out) {
            with_math([&](auto m) {
                softmax_rows_backward(yt.data(), g.data(), out.data(), g.numel() / std::max<int64_t>(n, 1), n, log_out, m);
            });
        });
        return std::vector<Tensor>{dx};
    });
}

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl("softmax", x, dim, false); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl("log_softmax", x, dim, true); }

}  // namespace attnlab

// grad_clip.cpp — see grad_clip.h.
#include "nn/optim/grad_clip.h"

#include <cmath>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/kernels/parallel.h"

namespace attnlab::nn {

// Σ x² in double: fixed 8192-element blocks summed in parallel, then the block
// sums added in order, so the result is the same for every thread count.
static double sum_of_squares(const float* x, int64_t n) {
    constexpr int64_t block = 8192;
    int64_t blocks = (n + block - 1) / block;
    std::vector<double> partial(size_t(blocks), 0.0);
    parallel_for(0, blocks, kOptimizerParallelGrain / block, [&](int64_t b, int64_t e) {
        for (int64_t k = b; k < e; ++k) {
            const float* p = x + k * block;
            int64_t len = std::min(block, n - k * block);
            double s = 0.0;
#pragma omp simd reduction(+ : s)
            for (int64_t i = 0; i < len; ++i) s += double(p[i]) * double(p[i]);
            partial[size_t(k)] = s;
        }
    });
    double total = 0.0;
    for (double s : partial) total += s;
    return total;
}

static bool all_finite(const float* x, int64_t n) {
    int bad = 0;
    parallel_for(0, n, kOptimizerParallelGrain, [&](int64_t b, int64_t e) {
        int local = 0;
#pragma omp simd reduction(| : local)
        for (int64_t i = b; i < e; ++i) local |= !std::isfinite(x[i]);
        if (local) {
#pragma omp atomic write
            bad = 1;
        }
    });
    return !bad;
}

static void scale(float* x, int64_t n, float s) {
    parallel_for(0, n, kOptimizerParallelGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
        for (int64_t i = b; i < e; ++i) x[i] *= s;
    });
}

// The clipping factor, or 1 when no clipping is needed (or the norm is not finite).
static double clip_factor(double norm, double max_norm) {
    check(max_norm > 0 && std::isfinite(max_norm), "clip_grad_norm: max_norm must be finite and > 0, got ", max_norm);
    if (!std::isfinite(norm)) return 1.0;
    return std::min(1.0, max_norm / (norm + 1e-6));
}

static std::vector<Tensor> defined_grads(const std::vector<Tensor>& params) {
    std::vector<Tensor> out;
    for (const Tensor& p : params)
        if (p.defined() && p.grad().defined()) out.push_back(p.grad());
    return out;
}

double grad_norm(const Optimizer& opt) {
    opt.sync_grads();
    Tensor g = opt.flat_grads();
    return std::sqrt(sum_of_squares(g.data(), g.numel()));
}

double grad_norm(const std::vector<Tensor>& params) {
    double total = 0.0;
    for (const Tensor& g : defined_grads(params)) {
        Tensor c = g.contiguous();
        total += sum_of_squares(c.data(), c.numel());
    }
    return std::sqrt(total);
}

double clip_grad_norm(Optimizer& opt, double max_norm) {
    double norm = grad_norm(opt);
    double f = clip_factor(norm, max_norm);
    if (f < 1.0) {
        Tensor g = opt.flat_grads();
        scale(g.data(), g.numel(), float(f));
    }
    return norm;
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
    double norm = grad_norm(params);
    double f = clip_factor(norm, max_norm);
    if (f < 1.0) {
        NoGradGuard no_grad;
        for (const Tensor& g : defined_grads(params)) mul_(g, float(f));
    }
    return norm;
}

bool grads_are_finite(const Optimizer& opt) {
    opt.sync_grads();
    Tensor g = opt.flat_grads();
    return all_finite(g.data(), g.numel());
}

bool grads_are_finite(const std::vector<Tensor>& params) {
    for (const Tensor& g : defined_grads(params)) {
        Tensor c = g.contiguous();
        if (!all_finite(c.data(), c.numel())) return false;
    }
    return true;
}

}  // namespace attnlab::nn

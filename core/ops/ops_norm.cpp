// ops_norm.cpp — fused layer normalization over the last dim (size C).
//
// forward:  μ = mean(x), σ⁻¹ = 1/sqrt(var(x) + eps), x̂ = (x - μ) σ⁻¹, y = x̂ w + b
// backward: g = dy w
//           dx = σ⁻¹ (g - mean(g) - x̂ mean(g x̂))
//           dw = Σ_rows dy x̂,  db = Σ_rows dy
// Saves x, μ and σ⁻¹ (two floats per row). Cost: O(R·C) time for R rows.
#include <cmath>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/tensor/strided.h"

namespace attnlab {

namespace {

// One row of C: its mean μ, σ⁻¹, and y = x̂ w + b (w, b null: 1 and 0).
void forward_row(const float* __restrict x, const float* w, const float* b, int64_t C, float eps,
                 float* __restrict y, float& mean, float& rstd) {
    float s = 0.f;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < C; ++i) s += x[i];
    float m = s / float(C), v = 0.f;
#pragma omp simd reduction(+ : v)
    for (int64_t i = 0; i < C; ++i) v += (x[i] - m) * (x[i] - m);
    float rs = 1.f / std::sqrt(v / float(C) + eps);
    mean = m, rstd = rs;
#pragma omp simd
    for (int64_t i = 0; i < C; ++i) {
        float h = (x[i] - m) * rs;
        y[i] = (w ? h * w[i] : h) + (b ? b[i] : 0.f);
    }
}

// One row's backward: dy x̂ and dy added into dw_acc and db_acc, then (dx not null)
// dx = σ⁻¹ (g − mean(g) − x̂ mean(g x̂)) with g = dy w.
void backward_row(const float* __restrict x, const float* __restrict dy, const float* __restrict w, float m,
                  float rs, int64_t C, float* __restrict dx, float* __restrict dw_acc, float* __restrict db_acc) {
    float sum_g = 0.f, sum_gh = 0.f;
#pragma omp simd reduction(+ : sum_g, sum_gh)
    for (int64_t i = 0; i < C; ++i) {
        float h = (x[i] - m) * rs, g = dy[i] * w[i];
        sum_g += g;
        sum_gh += g * h;
        dw_acc[i] += dy[i] * h;
        db_acc[i] += dy[i];
    }
    if (!dx) return;
    const float mg = sum_g / float(C), mgh = sum_gh / float(C);
#pragma omp simd
    for (int64_t i = 0; i < C; ++i) {
        float h = (x[i] - m) * rs;
        dx[i] = rs * (dy[i] * w[i] - mg - h * mgh);
    }
}

}  // namespace

Tensor layer_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias, float eps) {
    PROFILE_SCOPE("layer_norm");
    detail::check_float("layer_norm", x_in);
    check(x_in.dim() >= 1, "layer_norm: input must have at least one dim");
    const int64_t C = x_in.size(-1);
    for (const Tensor* p : {&weight, &bias})
        if (p->defined())
            check(p->dim() == 1 && p->size(0) == C, "layer_norm: weight/bias ", to_string(p->shape()),
                  " for input ", to_string(x_in.shape()), " (expected [", C, "])");
    Tensor x = contiguous(x_in.detach());
    const int64_t R = x.numel() / std::max<int64_t>(C, 1), grain = std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1));
    Tensor y = Tensor::empty(x.shape()), mu = Tensor::empty({R}), rstd = Tensor::empty({R});
    Tensor w = weight.defined() ? contiguous(weight.detach()) : Tensor();
    Tensor b = bias.defined() ? contiguous(bias.detach()) : Tensor();
    {
        const float *px = x.data(), *pw = w.defined() ? w.data() : nullptr, *pb = b.defined() ? b.data() : nullptr;
        float *py = y.data(), *pm = mu.data(), *pr = rstd.data();
        parallel_for(0, R, grain, [&](int64_t lo, int64_t hi) {
            for (int64_t r = lo; r < hi; ++r) forward_row(px + r * C, pw, pb, C, eps, py + r * C, pm[r], pr[r]);
        });
    }
    bool gx = x_in.requires_grad(), gw = weight.requires_grad(), gb = bias.requires_grad();
    return record("layer_norm", y, {x_in, weight, bias}, [=, xshape = x_in.shape()](const Tensor& dy_in) {
        Tensor dy = contiguous(dy_in);
        Tensor w1 = w.defined() ? w : Tensor::ones({C});  // no affine weight: w = 1
        Tensor dx = gx ? Tensor::empty(x.shape()) : Tensor();
        const float *pg = dy.data(), *px = x.data(), *pm = mu.data(), *pr = rstd.data(), *pw = w1.data();
        float* pdx = gx ? dx.data() : nullptr;
        int nt = num_threads();
        std::vector<float> dw_part(size_t(nt * C), 0.f), db_part(size_t(nt * C), 0.f);  // per chunk, then summed
        parallel_for_chunks(0, R, grain, [&](int chunk, int64_t lo, int64_t hi) {
            for (int64_t r = lo; r < hi; ++r)
                backward_row(px + r * C, pg + r * C, pw, pm[r], pr[r], C, pdx ? pdx + r * C : nullptr,
                             dw_part.data() + chunk * C, db_part.data() + chunk * C);
        });
        Tensor dw, db;
        if (gw || gb) {
            dw = Tensor::zeros({C}), db = Tensor::zeros({C});
            for (int t = 0; t < nt; ++t)
                for (int64_t i = 0; i < C; ++i) {
                    dw.data()[i] += dw_part[size_t(t * C + i)];
                    db.data()[i] += db_part[size_t(t * C + i)];
                }
        }
        return std::vector<Tensor>{gx ? dx.reshape(xshape) : Tensor(), gw ? dw : Tensor(), gb ? db : Tensor()};
    });
}

}  // namespace attnlab

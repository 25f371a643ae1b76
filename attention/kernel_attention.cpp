// kernel_attention.cpp — see kernel_attention.h.
//
// causal_linear_product, per (batch, head), with S and R running M×D states:
//   forward:   S += b_i v_iᵀ;          out_i = Sᵀ a_i                       (i = 0 .. N-1)
//   backward:  S += b_i v_iᵀ;          da_i  = S dout_i                     (i = 0 .. N-1)
//              R += a_i dout_iᵀ;       db_i  = R v_i,   dv_i = Rᵀ b_i       (i = N-1 .. 0)
// since out_i = Σ_{j≤i} (a_i·b_j) v_j gives da_i = Σ_{j≤i} b_j (v_j·dout_i),
// db_j = Σ_{i≥j} a_i (dout_i·v_j) and dv_j = Σ_{i≥j} (a_i·b_j) dout_i.
#include "attention/kernel_attention.h"

#include <algorithm>
#include <vector>

#include "core/autograd.h"
#include "core/ops.h"
#include "core/parallel.h"
#include "core/rng.h"

namespace attnlab::attention {

// S += x yᵀ for x [M], y [D], S [M, D] row-major.
static inline void add_outer(float* S, const float* x, const float* y, int64_t M, int64_t D) {
    for (int64_t m = 0; m < M; ++m) {
        float xm = x[m];
        float* Sm = S + m * D;
        for (int64_t d = 0; d < D; ++d) Sm[d] += xm * y[d];
    }
}

// out = Sᵀ x for S [M, D], x [M] -> out [D].
static inline void mat_t_vec(float* out, const float* S, const float* x, int64_t M, int64_t D) {
    std::fill(out, out + D, 0.f);
    for (int64_t m = 0; m < M; ++m) {
        float xm = x[m];
        const float* Sm = S + m * D;
        for (int64_t d = 0; d < D; ++d) out[d] += xm * Sm[d];
    }
}

// out = S y for S [M, D], y [D] -> out [M].
static inline void mat_vec(float* out, const float* S, const float* y, int64_t M, int64_t D) {
    for (int64_t m = 0; m < M; ++m) {
        const float* Sm = S + m * D;
        float acc = 0.f;
        for (int64_t d = 0; d < D; ++d) acc += Sm[d] * y[d];
        out[m] = acc;
    }
}

static int64_t grain_for(int64_t N, int64_t M, int64_t D) {
    return std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(N * M * D, 1));
}

Tensor causal_linear_product(const Tensor& a_in, const Tensor& b_in, const Tensor& v_in) {
    check(a_in.dim() >= 2 && a_in.shape() == b_in.shape() && v_in.dim() == a_in.dim() &&
              std::equal(v_in.shape().begin(), v_in.shape().end() - 1, a_in.shape().begin()),
          "causal_linear_product: expected a, b [..., N, M] and v [..., N, D], got ", to_string(a_in.shape()), ", ",
          to_string(b_in.shape()), ", ", to_string(v_in.shape()));
    Tensor a = contiguous(a_in.detach()), b = contiguous(b_in.detach()), v = contiguous(v_in.detach());
    const int64_t N = a.size(-2), M = a.size(-1), D = v.size(-1);
    const int64_t rows = a.numel() / std::max<int64_t>(N * M, 1);  // B·H
    Tensor out = Tensor::empty(v.shape());
    const float *pa = a.data(), *pb = b.data(), *pv = v.data();
    float* po = out.data();
    parallel_for(0, rows, grain_for(N, M, D), [&](int64_t lo, int64_t hi) {
        std::vector<float> S(size_t(M * D));
        for (int64_t r = lo; r < hi; ++r) {
            std::fill(S.begin(), S.end(), 0.f);
            for (int64_t i = 0; i < N; ++i) {
                int64_t am = (r * N + i) * M, vd = (r * N + i) * D;
                add_outer(S.data(), pb + am, pv + vd, M, D);
                mat_t_vec(po + vd, S.data(), pa + am, M, D);
            }
        }
    });
    return record("causal_linear_product", out, {a_in, b_in, v_in}, [a, b, v, N, M, D, rows](const Tensor& dout_in) {
        Tensor dout = contiguous(dout_in);
        Tensor da = Tensor::empty(a.shape()), db = Tensor::empty(b.shape()), dv = Tensor::empty(v.shape());
        const float *pa = a.data(), *pb = b.data(), *pv = v.data(), *pg = dout.data();
        float *pda = da.data(), *pdb = db.data(), *pdv = dv.data();
        parallel_for(0, rows, grain_for(N, M, D), [&](int64_t lo, int64_t hi) {
            std::vector<float> S(size_t(M * D));
            for (int64_t r = lo; r < hi; ++r) {
                std::fill(S.begin(), S.end(), 0.f);  // S_i = Σ_{j≤i} b_j v_jᵀ
                for (int64_t i = 0; i < N; ++i) {
                    int64_t am = (r * N + i) * M, vd = (r * N + i) * D;
                    add_outer(S.data(), pb + am, pv + vd, M, D);
                    mat_vec(pda + am, S.data(), pg + vd, M, D);
                }
                std::fill(S.begin(), S.end(), 0.f);  // now R_i = Σ_{t≥i} a_t dout_tᵀ
                for (int64_t i = N; i-- > 0;) {
                    int64_t am = (r * N + i) * M, vd = (r * N + i) * D;
                    add_outer(S.data(), pa + am, pg + vd, M, D);
                    mat_vec(pdb + am, S.data(), pv + vd, M, D);
                    mat_t_vec(pdv + vd, S.data(), pb + am, M, D);
                }
            }
        });
        return std::vector<Tensor>{da, db, dv};
    });
}

Tensor kernel_attention(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, bool causal, float min_mean_kernel) {
    const int64_t N = phi_q.size(-2), Nk = phi_k.size(-2);
    Tensor num, den, floor;
    if (!causal) {
        num = matmul(phi_q, matmul(phi_k.transpose(-2, -1), v));                  // [B,H,N,M]·[B,H,M,D]
        den = matmul(phi_q, sum(phi_k, {-2}, true).transpose(-2, -1));             // [B,H,N,M]·[B,H,M,1]
        floor = Tensor::scalar(float(Nk) * min_mean_kernel);
    } else {
        check(N == Nk, "kernel_attention: causal needs as many keys as queries, got ", N, " and ", Nk);
        num = causal_linear_product(phi_q, phi_k, v);                              // [B,H,N,D]
        den = sum(phi_q * cumsum(phi_k, -2), {-1}, true);                          // [B,H,N,1]
        floor = reshape((Tensor::arange(N) + 1.f) * min_mean_kernel, {N, 1});      // n_i = i + 1
    }
    return num / maximum(den, floor);
}

uint64_t resolve_seed(const char* who, int64_t seed) {
    check(seed >= -1, who, ": option seed=", seed, " is invalid; use a seed >= 0, or -1 to draw one from the global generator");
    return seed >= 0 ? uint64_t(seed) : uint64_t(default_generator().randint(int64_t(1) << 62));
}

}  // namespace attnlab::attention

// causal_product.cpp — see causal_product.h. One head at a time; heads run in
// parallel. The inner loops run along Dv over unit-stride rows, so they vectorize.
#include "attention/kernel/causal_product.h"

#include <algorithm>
#include <vector>

#include "attention/head_rows.h"
#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/kernels/parallel.h"

namespace attnlab::attention {

namespace {

// Runs head_fn(bh, scratch) for every head bh, in parallel, with a zeroed
// scratch buffer of `scratch_size` floats per thread.
template <class F>
void for_each_head(int64_t heads, int64_t work_per_head, int64_t scratch_size, const F& head_fn) {
    int64_t grain = std::max<int64_t>(1, (1 << 16) / std::max<int64_t>(work_per_head, 1));
    parallel_for(0, heads, grain, [&](int64_t lo, int64_t hi) {
        std::vector<float> scratch(static_cast<size_t>(scratch_size));
        for (int64_t bh = lo; bh < hi; ++bh) {
            std::fill(scratch.begin(), scratch.end(), 0.f);
            head_fn(bh, scratch.data());
        }
    });
}

// Forward of head bh: S += k_i v_iᵀ, then out_i = S_iᵀ q_i, in one pass over S [D, Dv] per token.
void forward_head(const HeadRows& Q, const HeadRows& K, const HeadRows& V, const HeadRows& O, int64_t bh, int64_t N,
                  int64_t D, int64_t Dv, float* S) {
    const float *qh = Q.at(bh, 0), *kh = K.at(bh, 0), *vh = V.at(bh, 0);
    float* oh = O.at(bh, 0);
    for (int64_t i = 0; i < N; ++i) {
        const float *qi = qh + i * Q.row, *ki = kh + i * K.row, *vi = vh + i * V.row;
        float* oi = oh + i * O.row;
        std::fill(oi, oi + Dv, 0.f);
        for (int64_t d = 0; d < D; ++d) {
            float* Sd = S + d * Dv;
            const float kd = ki[d], qd = qi[d];
#pragma omp simd
            for (int64_t e = 0; e < Dv; ++e) {
                Sd[e] += kd * vi[e];
                oi[e] += qd * Sd[e];
            }
        }
    }
}

// dq_i = S_i g_i for head bh: S rebuilt token by token, as in the forward.
void query_grads_head(const HeadRows& K, const HeadRows& V, const HeadRows& G, const HeadRows& dQ, int64_t bh,
                      int64_t N, int64_t D, int64_t Dv, float* S) {
    const float *kh = K.at(bh, 0), *vh = V.at(bh, 0), *gh = G.at(bh, 0);
    float* dqh = dQ.at(bh, 0);
    for (int64_t i = 0; i < N; ++i) {
        const float *ki = kh + i * K.row, *vi = vh + i * V.row, *gi = gh + i * G.row;
        float* dqi = dqh + i * dQ.row;
        for (int64_t d = 0; d < D; ++d) {
            float* Sd = S + d * Dv;
            const float kd = ki[d];
            float acc = 0.f;
#pragma omp simd reduction(+ : acc)
            for (int64_t e = 0; e < Dv; ++e) {
                Sd[e] += kd * vi[e];
                acc += Sd[e] * gi[e];
            }
            dqi[d] = acc;
        }
    }
}

// dk_j = R_j v_j, dv_j = R_jᵀ k_j for head bh: R_j = Σ_{i≥j} q_i g_iᵀ [D, Dv] grows from the last token back.
void key_value_grads_head(const HeadRows& Q, const HeadRows& K, const HeadRows& V, const HeadRows& G,
                          const HeadRows& dK, const HeadRows& dV, int64_t bh, int64_t N, int64_t D, int64_t Dv,
                          float* R) {
    const float *qh = Q.at(bh, 0), *kh = K.at(bh, 0), *vh = V.at(bh, 0), *gh = G.at(bh, 0);
    float *dkh = dK.at(bh, 0), *dvh = dV.at(bh, 0);
    for (int64_t j = N - 1; j >= 0; --j) {
        const float *qj = qh + j * Q.row, *kj = kh + j * K.row, *vj = vh + j * V.row, *gj = gh + j * G.row;
        float *dkj = dkh + j * dK.row, *dvj = dvh + j * dV.row;
        std::fill(dvj, dvj + Dv, 0.f);
        for (int64_t d = 0; d < D; ++d) {
            float* Rd = R + d * Dv;
            const float qd = qj[d], kd = kj[d];
            float acc = 0.f;
#pragma omp simd reduction(+ : acc)
            for (int64_t e = 0; e < Dv; ++e) {
                Rd[e] += qd * gj[e];
                acc += Rd[e] * vj[e];
                dvj[e] += kd * Rd[e];
            }
            dkj[d] = acc;
        }
    }
}

}  // namespace

Tensor causal_product(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in) {
    check(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4 && q_in.shape() == k_in.shape() &&
              v_in.size(0) == q_in.size(0) && v_in.size(1) == q_in.size(1) && v_in.size(2) == q_in.size(2),
          "causal_product: expected q, k [B,H,N,D] and v [B,H,N,Dv], got ", to_string(q_in.shape()), ", ",
          to_string(k_in.shape()), ", ", to_string(v_in.shape()));
    const int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2), D = q_in.size(3), Dv = v_in.size(3);
    Tensor q = unit_last_stride(q_in.detach()), k = unit_last_stride(k_in.detach()), v = unit_last_stride(v_in.detach());
    Tensor out = Tensor::empty({B, H, N, Dv});
    {
        HeadRows Q(q), K(k), V(v), O(out);
        for_each_head(B * H, N * D * Dv, D * Dv,
                      [&](int64_t bh, float* S) { forward_head(Q, K, V, O, bh, N, D, Dv, S); });
    }
    return record("causal_product", out, {q_in, k_in, v_in}, [q, k, v](const Tensor& g_in) {
        const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3), Dv = v.size(3);
        Tensor g = unit_last_stride(g_in);
        Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()), dv = Tensor::empty(v.shape());
        HeadRows Q(q), K(k), V(v), G(g), dQ(dq), dK(dk), dV(dv);
        for_each_head(B * H, N * D * Dv, D * Dv,
                      [&](int64_t bh, float* S) { query_grads_head(K, V, G, dQ, bh, N, D, Dv, S); });
        for_each_head(B * H, N * D * Dv, D * Dv,
                      [&](int64_t bh, float* R) { key_value_grads_head(Q, K, V, G, dK, dV, bh, N, D, Dv, R); });
        return std::vector<Tensor>{dq, dk, dv};
    });
}

}  // namespace attnlab::attention

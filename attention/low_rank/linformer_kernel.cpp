// linformer_kernel.cpp — see linformer_kernel.h. One head at a time, heads in
// parallel; every product is a single-threaded small::gemm on per-thread scratch.
#include "attention/low_rank/linformer_kernel.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "attention/head_rows.h"
#include "attention/low_rank/block_transpose.h"
#include "attention/low_rank/column_softmax.h"
#include "core/autograd/autograd.h"
#include "core/kernels/parallel.h"
#include "core/kernels/small_gemm.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"

namespace attnlab::attention {

namespace {

constexpr int64_t kChunk = 64;  // rows of P per chunk

struct Dims {
    int64_t N, Nk, D, Dv, k;
    float scale;
};

// Per-thread scratch: one chunk of Qᵀ [D, C], Gᵀ [Dv, C], Pᵀ and dPᵀ [k, C]; dK' [k, D], dV' [k, Dv].
struct Scratch {
    std::vector<float> qT, gT, pT, dpT, dkp, dvp;
    explicit Scratch(const Dims& d)
        : qT(size_t(d.D * kChunk)), gT(size_t(d.Dv * kChunk)), pT(size_t(d.k * kChunk)), dpT(size_t(d.k * kChunk)),
          dkp(size_t(d.k * d.D)), dvp(size_t(d.k * d.Dv)) {}
};

// C = alpha·op(A)·B (+ C) with small::gemm (B untransposed); tall products in blocks of 12 rows.
void mm(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
        int64_t ldb, bool acc, float* C, int64_t ldc) {
    if (trans_a) small::gemm<true, 12>(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
    else small::gemm<false, 12>(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

// Pᵀ [k, rows] for query rows [c0, c0 + rows): softmax over k of s K' Q_cᵀ (Q_cᵀ left in s.qT).
void p_chunk(const Dims& d, const float* kp, const float* Q, int64_t ldq, int64_t c0, int64_t rows, Scratch& s) {
    block_transpose(Q + c0 * ldq, ldq, rows, d.D, s.qT.data(), rows);
    mm(false, d.k, rows, d.D, d.scale, kp, d.D, s.qT.data(), rows, false, s.pT.data(), rows);
    softmax_columns(s.pT.data(), d.k, rows);
}

// One head's output; also stores its K' = E K [k, D] and V' = F V [k, Dv] in kp, vp for the backward.
void forward_head(const Dims& d, const float* E, const float* F, const HeadRows& Q, const HeadRows& K,
                  const HeadRows& V, const HeadRows& O, int64_t bh, float* kp, float* vp, Scratch& s) {
    mm(false, d.k, d.D, d.Nk, 1.f, E, d.Nk, K.at(bh, 0), K.row, false, kp, d.D);
    mm(false, d.k, d.Dv, d.Nk, 1.f, F, d.Nk, V.at(bh, 0), V.row, false, vp, d.Dv);
    for (int64_t c0 = 0; c0 < d.N; c0 += kChunk) {
        const int64_t rows = std::min(kChunk, d.N - c0);
        p_chunk(d, kp, Q.at(bh, 0), Q.row, c0, rows, s);
        mm(true, rows, d.Dv, d.k, 1.f, s.pT.data(), rows, vp, d.Dv, false, O.at(bh, c0), O.row);  // out = P V'
    }
}

// One head's dq, dk, dv from its saved K', V'; also stores dK'ᵀ [D, k] and dV'ᵀ [Dv, k] in dkpT, dvpT.
void backward_head(const Dims& d, const float* E, const float* F, const HeadRows& Q, const HeadRows& G,
                   const HeadRows& dQ, const HeadRows& dK, const HeadRows& dV, int64_t bh, const float* kp,
                   const float* vp, Scratch& s, float* dkpT, float* dvpT) {
    const int64_t kk = d.k, D = d.D, Dv = d.Dv;
    const float *q = Q.at(bh, 0), *g = G.at(bh, 0);
    std::fill(s.dkp.begin(), s.dkp.end(), 0.f);
    std::fill(s.dvp.begin(), s.dvp.end(), 0.f);
    for (int64_t c0 = 0; c0 < d.N; c0 += kChunk) {
        const int64_t rows = std::min(kChunk, d.N - c0);
        p_chunk(d, kp, q, Q.row, c0, rows, s);
        const float* gc = g + c0 * G.row;
        block_transpose(gc, G.row, rows, Dv, s.gT.data(), rows);
        mm(false, kk, Dv, rows, 1.f, s.pT.data(), rows, gc, G.row, true, s.dvp.data(), Dv);      // dV' += Pᵀ G
        mm(false, kk, rows, Dv, 1.f, vp, Dv, s.gT.data(), rows, false, s.dpT.data(), rows);     // dPᵀ = V' Gᵀ
        softmax_columns_backward(s.pT.data(), s.dpT.data(), kk, rows, d.scale);      // dSᵀ (scaled)
        mm(true, rows, D, kk, 1.f, s.dpT.data(), rows, kp, D, false, dQ.at(bh, c0), dQ.row);     // dQ = dS K'
        mm(false, kk, D, rows, 1.f, s.dpT.data(), rows, q + c0 * Q.row, Q.row, true, s.dkp.data(), D);  // dK' += dSᵀ Q
    }
    mm(true, d.Nk, D, kk, 1.f, E, d.Nk, s.dkp.data(), D, false, dK.at(bh, 0), dK.row);   // dK = Eᵀ dK'
    mm(true, d.Nk, Dv, kk, 1.f, F, d.Nk, s.dvp.data(), Dv, false, dV.at(bh, 0), dV.row);  // dV = Fᵀ dV'
    block_transpose(s.dkp.data(), D, kk, D, dkpT, kk);
    block_transpose(s.dvp.data(), Dv, kk, Dv, dvpT, kk);
}

// dE [k, Nk] = Σ_heads dK'_h K_hᵀ from X = K (or V, for dF) and dX'ᵀ [BH, Dx, k]: blocks of
// 64 key rows in parallel, each summing over the heads in order (the same result for any
// number of threads).
Tensor projection_grad(const Dims& d, const HeadRows& X, int64_t BH, int64_t Dx, const Tensor& dxpT) {
    Tensor dE = Tensor::empty({d.k, d.Nk});
    float* de = dE.data();
    const float* dxt = dxpT.data();
    parallel_for(0, (d.Nk + kChunk - 1) / kChunk, 1, [&](int64_t lo, int64_t hi) {
        std::vector<float> block(size_t(kChunk * d.k));
        for (int64_t b = lo; b < hi; ++b) {
            const int64_t j0 = b * kChunk, rows = std::min(kChunk, d.Nk - j0);
            for (int64_t bh = 0; bh < BH; ++bh)  // dEᵀ rows j0.. = Σ_h X_h[j0..] dX'_hᵀ
                mm(false, rows, d.k, Dx, 1.f, X.at(bh, j0), X.row, dxt + bh * Dx * d.k, d.k, bh > 0, block.data(), d.k);
            for (int64_t i = 0; i < d.k; ++i)  // contiguous runs of dE's rows (the block is in L1)
                for (int64_t r = 0; r < rows; ++r) de[i * d.Nk + j0 + r] = block[size_t(r * d.k + i)];
        }
    });
    return dE;
}

}  // namespace

Tensor linformer_attention_fused(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& E_in,
                                 const Tensor& F_in) {
    PROFILE_SCOPE("linformer_attention_fused");
    check(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4 && q_in.size(0) == k_in.size(0) &&
              q_in.size(1) == k_in.size(1) && q_in.size(3) == k_in.size(3) && v_in.size(0) == k_in.size(0) &&
              v_in.size(1) == k_in.size(1) && v_in.size(2) == k_in.size(2),
          "linformer_attention_fused: expected q [B,H,N,D], k [B,H,Nk,D], v [B,H,Nk,Dv], got ",
          to_string(q_in.shape()), ", ", to_string(k_in.shape()), ", ", to_string(v_in.shape()));
    check(E_in.dim() == 2 && E_in.shape() == F_in.shape() && E_in.size(1) == k_in.size(2),
          "linformer_attention_fused: expected E, F [k, Nk] with Nk = ", k_in.size(2), ", got ",
          to_string(E_in.shape()), ", ", to_string(F_in.shape()));
    const int64_t B = q_in.size(0), H = q_in.size(1);
    const Dims d{q_in.size(2), k_in.size(2), q_in.size(3), v_in.size(3), E_in.size(0), 1.f / std::sqrt(float(q_in.size(3)))};
    Tensor q = unit_last_stride(q_in.detach()), k = unit_last_stride(k_in.detach()), v = unit_last_stride(v_in.detach());
    Tensor E = contiguous(E_in.detach()), F = contiguous(F_in.detach());
    Tensor out = heads_output(B, H, d.N, d.Dv);  // [B,N,H,Dv] memory: the head merge is a view
    Tensor kp = Tensor::empty({B, H, d.k, d.D}), vp = Tensor::empty({B, H, d.k, d.Dv});  // K', V', kept for backward
    {
        HeadRows Q(q), K(k), V(v), O(out);
        const float *e = E.data(), *f = F.data();
        float *kp_p = kp.data(), *vp_p = vp.data();
        parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch s(d);
            for (int64_t bh = lo; bh < hi; ++bh)
                forward_head(d, e, f, Q, K, V, O, bh, kp_p + bh * d.k * d.D, vp_p + bh * d.k * d.Dv, s);
        });
    }
    return record("linformer_attention_fused", out, {q_in, k_in, v_in, E_in, F_in}, [q, k, v, E, F, kp, vp, d](const Tensor& g_in) {
        PROFILE_SCOPE("linformer_attention_fused backward");
        Tensor g = unit_last_stride(g_in);
        Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()), dv = Tensor::empty(v.shape());
        const int64_t BH = q.size(0) * q.size(1);
        Tensor dkpT = Tensor::empty({BH, d.D, d.k}), dvpT = Tensor::empty({BH, d.Dv, d.k});  // dK'ᵀ, dV'ᵀ per head
        HeadRows Q(q), K(k), V(v), G(g), dQ(dq), dK(dk), dV(dv);
        const float *e = E.data(), *f = F.data(), *kp_p = kp.data(), *vp_p = vp.data();
        float *dkpT_p = dkpT.data(), *dvpT_p = dvpT.data();
        parallel_for_balanced(0, BH, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch s(d);
            for (int64_t bh = lo; bh < hi; ++bh)
                backward_head(d, e, f, Q, G, dQ, dK, dV, bh, kp_p + bh * d.k * d.D, vp_p + bh * d.k * d.Dv, s,
                              dkpT_p + bh * d.D * d.k, dvpT_p + bh * d.Dv * d.k);
        });
        return std::vector<Tensor>{dq, dk, dv, projection_grad(d, K, BH, d.D, dkpT), projection_grad(d, V, BH, d.Dv, dvpT)};
    });
}

}  // namespace attnlab::attention

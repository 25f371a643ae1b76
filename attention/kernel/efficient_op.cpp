// efficient_op.cpp — see efficient_op.h. One head at a time, heads in parallel; the chunk
// products are single-threaded small::gemm calls reading q, k, v rows where they are; the
// row softmax and the exps are the vectorized loops of row_math.h.
#include "attention/kernel/efficient_op.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "attention/head_rows.h"
#include "attention/kernel/row_math.h"
#include "core/autograd/autograd.h"
#include "core/kernels/parallel.h"
#include "core/kernels/small_gemm.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"

namespace attnlab::attention {

namespace {

constexpr int64_t kChunk = 64;  // C rows per chunk

struct Dims {
    int64_t N, D, Dv;
    int64_t saved() const { return D * Dv + 2 * D; }  // per head: Ctx, m, s
};

// Per-thread scratch: ρ of a chunk and its gradient [C, D]; Ctxᵀ or dCtxᵀ [Dv, D]; dCtx [D, Dv].
struct Scratch {
    std::vector<float> rho, drho, trans, dctx;
    explicit Scratch(const Dims& d)
        : rho(size_t(kChunk * d.D)), drho(size_t(kChunk * d.D)), trans(size_t(d.D * d.Dv)), dctx(size_t(d.D * d.Dv)) {}
};

// ρ_q rows: softmax over the D features of each of `rows` query rows.
void row_softmax(const HeadRows& Q, int64_t bh, int64_t c0, int64_t rows, int64_t D, float* out) {
    for (int64_t r = 0; r < rows; ++r) softmax_row(Q.at(bh, c0 + r), out + r * D, D);
}

// exp(k_jd − m_d)·scale_d for `rows` key rows (scale = null: 1).
void column_exps(const HeadRows& K, int64_t bh, int64_t c0, int64_t rows, int64_t D, const float* m,
                 const float* scale, float* out) {
    for (int64_t r = 0; r < rows; ++r) {
        float* o = out + r * D;
        exp_nonpositive(K.at(bh, c0 + r), m, o, D);
        if (!scale) continue;
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) o[d] *= scale[d];
    }
}

// The running column max m over the keys so far, raised to cover the chunk's rows; where m_d
// grows, the sums made with the old m_d (row d of Ctx and s_d) are rescaled by exp(m_old − m_new),
// so one pass over the keys gives the sums with the final (exact) max, as flash attention does.
void raise_column_max(const HeadRows& K, int64_t bh, int64_t c0, int64_t rows, int64_t D, float* m, float* ctx,
                      int64_t Dv, float* s) {
    thread_local std::vector<float> chunk_max;
    chunk_max.assign(m, m + D);
    for (int64_t r = 0; r < rows; ++r) {
        const float* x = K.at(bh, c0 + r);
#pragma omp simd
        for (int64_t d = 0; d < D; ++d) chunk_max[size_t(d)] = std::max(chunk_max[size_t(d)], x[d]);
    }
    for (int64_t d = 0; d < D; ++d) {
        if (!(chunk_max[size_t(d)] > m[d])) continue;
        if (m[d] > -INFINITY) {  // (nothing summed yet while m_d is −∞)
            const float scale = std::exp(m[d] - chunk_max[size_t(d)]);
            for (int64_t e = 0; e < Dv; ++e) ctx[d * Dv + e] *= scale;
            s[d] *= scale;
        }
        m[d] = chunk_max[size_t(d)];
    }
}

// Prefetches the rows of the chunk after the one at c0 (none past N).
void prefetch_next(const HeadRows& X, int64_t bh, int64_t c0, int64_t N, int64_t cols) {
    prefetch_rows(X, bh, std::min(c0 + kChunk, N), std::min(c0 + 2 * kChunk, N), cols);
}

// Xᵀ [cols, rows] of the contiguous X [rows, cols].
void transpose(const float* X, int64_t rows, int64_t cols, float* t) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = X[r * cols + c];
}

// Ctx = ρ_k(K)ᵀ V, then out = ρ_q(Q) Ctx; saves [Ctx, m, 1/s].
void forward_head(const HeadRows& Q, const HeadRows& K, const HeadRows& V, const HeadRows& O, int64_t bh,
                  const Dims& dims, float* saved, Scratch& s) {
    const int64_t N = dims.N, D = dims.D, Dv = dims.Dv;
    float *ctx = saved, *m = saved + D * Dv, *inv_s = m + D;
    std::fill(m, m + D, -INFINITY);
    std::fill(ctx, ctx + D * Dv, 0.f);
    std::fill(inv_s, inv_s + D, 0.f);
    for (int64_t c0 = 0; c0 < N; c0 += kChunk) {  // Σ_j exp(k_j − m) v_jᵀ and s, m the running column max
        const int64_t rows = std::min(kChunk, N - c0);
        prefetch_next(K, bh, c0, N, D);
        prefetch_next(V, bh, c0, N, Dv);
        raise_column_max(K, bh, c0, rows, D, m, ctx, Dv, inv_s);
        column_exps(K, bh, c0, rows, D, m, nullptr, s.rho.data());
        for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) inv_s[d] += s.rho[size_t(r * D + d)];
        small::gemm<true>(D, Dv, rows, 1.f, s.rho.data(), D, V.at(bh, c0), V.row, true, ctx, Dv);
    }
    for (int64_t d = 0; d < D; ++d) {
        inv_s[d] = 1.f / inv_s[d];
        for (int64_t e = 0; e < Dv; ++e) ctx[d * Dv + e] *= inv_s[d];
    }
    for (int64_t c0 = 0; c0 < N; c0 += kChunk) {
        const int64_t rows = std::min(kChunk, N - c0);
        prefetch_next(Q, bh, c0, N, D);
        row_softmax(Q, bh, c0, rows, D, s.rho.data());
        small::gemm<false>(rows, Dv, D, 1.f, s.rho.data(), D, ctx, Dv, false, O.at(bh, c0), O.row);
    }
}

void backward_head(const HeadRows& Q, const HeadRows& K, const HeadRows& V, const HeadRows& G, const HeadRows& dQ,
                   const HeadRows& dK, const HeadRows& dV, int64_t bh, const Dims& dims, const float* saved,
                   Scratch& s) {
    const int64_t N = dims.N, D = dims.D, Dv = dims.Dv;
    const float *ctx = saved, *m = saved + D * Dv, *inv_s = m + D;
    float* dctx = s.dctx.data();
    std::fill(dctx, dctx + D * Dv, 0.f);
    transpose(ctx, D, Dv, s.trans.data());
    for (int64_t c0 = 0; c0 < N; c0 += kChunk) {  // queries: dCtx += ρ_qᵀ g, dq through the row softmax
        const int64_t rows = std::min(kChunk, N - c0);
        float *rho = s.rho.data(), *drho = s.drho.data();
        prefetch_next(Q, bh, c0, N, D);
        prefetch_next(G, bh, c0, N, Dv);
        row_softmax(Q, bh, c0, rows, D, rho);
        small::gemm<true>(D, Dv, rows, 1.f, rho, D, G.at(bh, c0), G.row, true, dctx, Dv);
        small::gemm<false>(rows, D, Dv, 1.f, G.at(bh, c0), G.row, s.trans.data(), D, false, drho, D);
        for (int64_t r = 0; r < rows; ++r) {
            const float *p = rho + r * D, *dp = drho + r * D;
            const float pdp = dot(p, dp, D);
            float* dq = dQ.at(bh, c0 + r);
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) dq[d] = p[d] * (dp[d] - pdp);
        }
    }
    std::vector<float> c(size_t(D), 0.f);  // c_d = Σ_e Ctx_de dCtx_de
    for (int64_t d = 0; d < D; ++d)
        for (int64_t e = 0; e < Dv; ++e) c[size_t(d)] += ctx[d * Dv + e] * dctx[d * Dv + e];
    transpose(dctx, D, Dv, s.trans.data());
    for (int64_t c0 = 0; c0 < N; c0 += kChunk) {  // keys: dv = ρ_k dCtx, dk through the column softmax
        const int64_t rows = std::min(kChunk, N - c0);
        float *rho = s.rho.data(), *drho = s.drho.data();
        prefetch_next(K, bh, c0, N, D);
        prefetch_next(V, bh, c0, N, Dv);
        column_exps(K, bh, c0, rows, D, m, inv_s, rho);
        small::gemm<false>(rows, Dv, D, 1.f, rho, D, dctx, Dv, false, dV.at(bh, c0), dV.row);
        small::gemm<false>(rows, D, Dv, 1.f, V.at(bh, c0), V.row, s.trans.data(), D, false, drho, D);
        for (int64_t r = 0; r < rows; ++r) {
            float* dk = dK.at(bh, c0 + r);
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) dk[d] = rho[r * D + d] * (drho[r * D + d] - c[size_t(d)]);
        }
    }
}

// The op on q, k, v (views of `qkv` when heads > 0, the gradient then going to qkv whole).
Tensor fused(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& qkv, int64_t heads) {
    PROFILE_SCOPE("efficient_attention");
    check_fused_qkv("efficient_attention_fused", q_in, k_in, v_in);
    const int64_t B = q_in.size(0), H = q_in.size(1);
    const Dims d{q_in.size(2), q_in.size(3), v_in.size(3)};
    Tensor q = unit_last_stride(q_in.detach()), k = unit_last_stride(k_in.detach()), v = unit_last_stride(v_in.detach());
    Tensor out = heads_output(B, H, d.N, d.Dv), saved = Tensor::empty({B, H, d.saved()});
    {
        HeadRows Q(q), K(k), V(v), O(out);
        float* saved_p = saved.data();
        parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch s(d);
            for (int64_t bh = lo; bh < hi; ++bh) forward_head(Q, K, V, O, bh, d, saved_p + bh * d.saved(), s);
        });
    }
    const std::vector<Tensor> inputs = heads > 0 ? std::vector<Tensor>{qkv} : std::vector<Tensor>{q_in, k_in, v_in};
    return record("efficient_attention", out, inputs,
                  [q, k, v, saved, d, heads, packed_shape = heads > 0 ? qkv.shape() : Shape{}](const Tensor& g_in) {
                      Tensor g = unit_last_stride(g_in);
                      QkvGrads grads(q, k, v, packed_shape, heads);
                      HeadRows Q(q), K(k), V(v), G(g), dQ(grads.dq), dK(grads.dk), dV(grads.dv);
                      const float* saved_p = saved.data();
                      parallel_for_balanced(0, q.size(0) * q.size(1), 8 * num_threads(), [&](int64_t lo, int64_t hi) {
                          Scratch s(d);
                          for (int64_t bh = lo; bh < hi; ++bh)
                              backward_head(Q, K, V, G, dQ, dK, dV, bh, d, saved_p + bh * d.saved(), s);
                      });
                      return grads.list();
                  });
}

}  // namespace

Tensor efficient_attention_fused(const Tensor& q, const Tensor& k, const Tensor& v) {
    return fused(q, k, v, Tensor(), 0);
}

Tensor efficient_attention_fused_packed(const Tensor& qkv_in, int64_t heads) {
    Tensor qkv = unit_last_stride(qkv_in.detach());
    auto views = split_packed_qkv(qkv, heads);
    return fused(views[0], views[1], views[2], qkv_in, heads);
}

}  // namespace attnlab::attention

// linear_op.cpp — see linear_op.h. One head at a time, heads in parallel; every
// product is a single-threaded small::gemm over the head's rows.
#include "attention/kernel/linear_op.h"

#include <vector>

#include "attention/head_rows.h"
#include "core/autograd/autograd.h"
#include "core/kernels/parallel.h"
#include "core/kernels/small_gemm.h"
#include "core/util/profiler.h"

namespace attnlab::attention {

namespace {

struct Dims {
    int64_t N, D, Dv;
};

// Xᵀ [cols, rows] of X [rows, cols] (contiguous) into t.
void transpose_into(const float* X, int64_t rows, int64_t cols, float* t) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) t[c * rows + r] = X[r * cols + c];
}

// KV = scale·Kᵀ V (saved), out = Q KV.
void forward_head(const HeadRows& Q, const HeadRows& K, const HeadRows& V, const HeadRows& O, int64_t bh,
                  const Dims& d, float scale, float* KV) {
    small::gemm<true>(d.D, d.Dv, d.N, scale, K.at(bh, 0), K.row, V.at(bh, 0), V.row, false, KV, d.Dv);
    small::gemm<false>(d.N, d.Dv, d.D, 1.f, Q.at(bh, 0), Q.row, KV, d.Dv, false, O.at(bh, 0), O.row);
}

// dQ = G KVᵀ, dKV = Qᵀ G, dK = scale·V dKVᵀ, dV = scale·K dKV; t, dkv: D×Dv scratch.
void backward_head(const HeadRows& Q, const HeadRows& K, const HeadRows& V, const HeadRows& G, const HeadRows& dQ,
                   const HeadRows& dK, const HeadRows& dV, int64_t bh, const Dims& d, float scale, const float* KV,
                   float* t, float* dkv) {
    transpose_into(KV, d.D, d.Dv, t);  // KVᵀ [Dv, D]
    small::gemm<false>(d.N, d.D, d.Dv, 1.f, G.at(bh, 0), G.row, t, d.D, false, dQ.at(bh, 0), dQ.row);
    small::gemm<true>(d.D, d.Dv, d.N, 1.f, Q.at(bh, 0), Q.row, G.at(bh, 0), G.row, false, dkv, d.Dv);
    small::gemm<false>(d.N, d.Dv, d.D, scale, K.at(bh, 0), K.row, dkv, d.Dv, false, dV.at(bh, 0), dV.row);
    transpose_into(dkv, d.D, d.Dv, t);  // dKVᵀ [Dv, D]
    small::gemm<false>(d.N, d.D, d.Dv, scale, V.at(bh, 0), V.row, t, d.D, false, dK.at(bh, 0), dK.row);
}

}  // namespace

Tensor linear_attention_fused(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, float scale) {
    PROFILE_SCOPE("linear_attention");
    check_fused_qkv("linear_attention_fused", q_in, k_in, v_in);
    const int64_t B = q_in.size(0), H = q_in.size(1);
    const Dims d{q_in.size(2), q_in.size(3), v_in.size(3)};
    Tensor q = unit_last_stride(q_in.detach()), k = unit_last_stride(k_in.detach()), v = unit_last_stride(v_in.detach());
    Tensor out = heads_output(B, H, d.N, d.Dv), kv = Tensor::empty({B, H, d.D, d.Dv});
    {
        HeadRows Q(q), K(k), V(v), O(out);
        float* kv_p = kv.data();
        parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            for (int64_t bh = lo; bh < hi; ++bh) forward_head(Q, K, V, O, bh, d, scale, kv_p + bh * d.D * d.Dv);
        });
    }
    return record("linear_attention", out, {q_in, k_in, v_in}, [q, k, v, kv, d, scale](const Tensor& g_in) {
        Tensor g = unit_last_stride(g_in);
        Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()), dv = Tensor::empty(v.shape());
        HeadRows Q(q), K(k), V(v), G(g), dQ(dq), dK(dk), dV(dv);
        const float* kv_p = kv.data();
        parallel_for_balanced(0, q.size(0) * q.size(1), 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            std::vector<float> t(size_t(d.D * d.Dv)), dkv(size_t(d.D * d.Dv));
            for (int64_t bh = lo; bh < hi; ++bh)
                backward_head(Q, K, V, G, dQ, dK, dV, bh, d, scale, kv_p + bh * d.D * d.Dv, t.data(), dkv.data());
        });
        return std::vector<Tensor>{dq, dk, dv};
    });
}

}  // namespace attnlab::attention

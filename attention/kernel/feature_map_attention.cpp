// feature_map_attention.cpp — see feature_map_attention.h. One head at a time,
// heads in parallel; the chunk products are single-threaded gemm calls.
#include "attention/kernel/feature_map_attention.h"

#include <algorithm>
#include <vector>

#include "attention/head_rows.h"
#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/kernels/parallel.h"
#include "core/util/profiler.h"
#include "core/kernels/small_gemm.h"

namespace attnlab::attention {

namespace {

constexpr int64_t kChunk = 64;  // C rows per chunk


// Sizes of one call: M features, E = Dv + 1 extended value columns.
struct Dims {
    int64_t N, D, Dv, M, E;
};

// Per-thread scratch: φ(Q_c), φ(K_c), their gradients [C, M]; V'_c, g'_c, num'_c, dV'_c [C, E];
// A, dA [C, C]; the running state S' or R [M, E].
struct Scratch {
    std::vector<float> pq, pk, dpq, dpk, vv, gg, num, dvv, A, dA, state, reverse;
    std::vector<float> state_t, chunk_t;  // transposed copies, so that every product's B is untransposed
    explicit Scratch(const Dims& d) {
        for (auto* b : {&pq, &pk, &dpq, &dpk}) b->resize(size_t(kChunk * d.M));
        for (auto* b : {&vv, &gg, &num, &dvv}) b->resize(size_t(kChunk * d.E));
        A.resize(size_t(kChunk * kChunk));
        dA.resize(size_t(kChunk * kChunk));
        state.resize(size_t(d.M * d.E));
        reverse.resize(size_t(d.M * d.E));
        state_t.resize(size_t(d.M * d.E));
        chunk_t.resize(size_t(std::max(d.M, d.E) * kChunk));
    }
};

// C = alpha·op(A)·B + beta·C (beta 0 or 1) on one chunk, with the register-blocked small::gemm:
// no call overhead at these sizes (B is always given untransposed, see transposed()).
void product(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda, const float* B,
             int64_t ldb, float beta, float* C, int64_t ldc) {
    if (trans_a) small::gemm<true>(m, n, k, alpha, A, lda, B, ldb, beta != 0.f, C, ldc);
    else small::gemm<false>(m, n, k, alpha, A, lda, B, ldb, beta != 0.f, C, ldc);
}

// Xᵀ [cols, rows] of X [rows, cols] (row stride ld) into t.
const float* transposed(const float* X, int64_t rows, int64_t cols, int64_t ld, std::vector<float>& t) {
    small::transpose_padded(X, ld, rows, cols, t.data(), rows);
    return t.data();
}

// V'_c = [V_c, 1]: `rows` rows of v (row stride ld) into vv [rows, Dv + 1].
void extend_values(const float* v, int64_t ld, int64_t rows, int64_t Dv, float* vv) {
    for (int64_t r = 0; r < rows; ++r) {
        std::copy(v + r * ld, v + r * ld + Dv, vv + r * (Dv + 1));
        vv[r * (Dv + 1) + Dv] = 1.f;
    }
}

// Zeroes the strictly upper triangle of a [rows, rows] block (keys after the query).
void keep_lower(float* A, int64_t rows) {
    for (int64_t r = 0; r < rows; ++r) std::fill(A + r * rows + r + 1, A + (r + 1) * rows, 0.f);
}

void forward_head(const FeatureMap& phi_q, const FeatureMap& phi_k, const HeadRows& Q, const HeadRows& K,
                  const HeadRows& V, const HeadRows& O, int64_t bh, const Dims& d, bool causal, float eps,
                  float min_mean_kernel, float* den, uint8_t* floored, float* saved_state, Scratch& s) {
    const int64_t N = d.N, D = d.D, Dv = d.Dv, M = d.M, E = d.E;
    float* S = s.state.data();
    std::fill(S, S + M * E, 0.f);
    if (!causal)  // S' = Σ_c φ(K_c)ᵀ V'_c
        for (int64_t c0 = 0; c0 < N; c0 += kChunk) {
            const int64_t rows = std::min(kChunk, N - c0);
            phi_k.forward(bh, K.at(bh, c0), K.row, rows, D, s.pk.data());
            extend_values(V.at(bh, c0), V.row, rows, Dv, s.vv.data());
            product(true, M, E, rows, 1.f, s.pk.data(), M, s.vv.data(), E, 1.f, S, E);
        }
    for (int64_t c0 = 0; c0 < N; c0 += kChunk) {
        const int64_t rows = std::min(kChunk, N - c0);
        phi_q.forward(bh, Q.at(bh, c0), Q.row, rows, D, s.pq.data());
        float* num = s.num.data();
        if (causal) {  // num'_c = tril(φQ_c φK_cᵀ) V'_c + φQ_c S'_prev, then S'_prev += φK_cᵀ V'_c
            phi_k.forward(bh, K.at(bh, c0), K.row, rows, D, s.pk.data());
            extend_values(V.at(bh, c0), V.row, rows, Dv, s.vv.data());
            product(false, rows, rows, M, 1.f, s.pq.data(), M, transposed(s.pk.data(), rows, M, M, s.chunk_t), rows,
                    0.f, s.A.data(), rows);
            keep_lower(s.A.data(), rows);
            product(false, rows, E, rows, 1.f, s.A.data(), rows, s.vv.data(), E, 0.f, num, E);
            product(false, rows, E, M, 1.f, s.pq.data(), M, S, E, 1.f, num, E);
            product(true, M, E, rows, 1.f, s.pk.data(), M, s.vv.data(), E, 1.f, S, E);
        } else {
            product(false, rows, E, M, 1.f, s.pq.data(), M, S, E, 0.f, num, E);
        }
        for (int64_t r = 0; r < rows; ++r) {
            const float raw = num[r * E + Dv] + eps, floor = float(causal ? c0 + r + 1 : N) * min_mean_kernel;
            const float dn = std::max(raw, floor), inv = 1.f / dn;
            float* o = O.at(bh, c0 + r);
            for (int64_t e = 0; e < Dv; ++e) o[e] = num[r * E + e] * inv;
            den[c0 + r] = dn;
            floored[c0 + r] = raw < floor;
        }
    }
    if (saved_state) std::copy(S, S + M * E, saved_state);
}

// g'_c rows: [g_i / den_i, −(g_i·out_i) / den_i] (0 for a floored den_i).
void extended_grads(const HeadRows& G, const HeadRows& O, int64_t bh, int64_t c0, int64_t rows, int64_t Dv,
                    const float* den, const uint8_t* floored, float* gg) {
    const int64_t E = Dv + 1;
    for (int64_t r = 0; r < rows; ++r) {
        const float *g = G.at(bh, c0 + r), *o = O.at(bh, c0 + r);
        const float inv = 1.f / den[c0 + r];
        float dot = 0.f;
        for (int64_t e = 0; e < Dv; ++e) {
            gg[r * E + e] = g[e] * inv;
            dot += g[e] * o[e];
        }
        gg[r * E + Dv] = floored[c0 + r] ? 0.f : -dot * inv;
    }
}

// dv rows from dV'_c (its last column is the normalizer's, dropped).
void store_value_grads(const float* dvv, int64_t rows, int64_t Dv, const HeadRows& dV, int64_t bh, int64_t c0) {
    for (int64_t r = 0; r < rows; ++r) std::copy(dvv + r * (Dv + 1), dvv + r * (Dv + 1) + Dv, dV.at(bh, c0 + r));
}

void backward_head(const FeatureMap& phi_q, const FeatureMap& phi_k, const HeadRows& Q, const HeadRows& K, const HeadRows& V, const HeadRows& O,
                   const HeadRows& G, const HeadRows& dQ, const HeadRows& dK, const HeadRows& dV, int64_t bh,
                   const Dims& d, bool causal, const float* den, const uint8_t* floored, const float* saved_state,
                   Scratch& s) {
    const int64_t N = d.N, D = d.D, Dv = d.Dv, M = d.M, E = d.E;
    float *state = s.state.data(), *R = s.reverse.data();
    // queries, in order: dφ(Q_c) = tril(g'_c V'_cᵀ) φ(K_c) + g'_c S'_prevᵀ (non-causal: g'_c S'ᵀ);
    // non-causal, R = Σ_i φ(q_i) g'_iᵀ is summed on the way (causal: built from the last chunk back)
    if (causal) std::fill(state, state + M * E, 0.f);
    else std::copy(saved_state, saved_state + M * E, state);
    std::fill(R, R + M * E, 0.f);
    for (int64_t c0 = 0; c0 < N; c0 += kChunk) {
        const int64_t rows = std::min(kChunk, N - c0);
        phi_q.forward(bh, Q.at(bh, c0), Q.row, rows, D, s.pq.data());
        extended_grads(G, O, bh, c0, rows, Dv, den, floored, s.gg.data());
        product(false, rows, M, E, 1.f, s.gg.data(), E, transposed(state, M, E, E, s.state_t), M, 0.f, s.dpq.data(),
                M);
        if (causal) {
            phi_k.forward(bh, K.at(bh, c0), K.row, rows, D, s.pk.data());
            extend_values(V.at(bh, c0), V.row, rows, Dv, s.vv.data());
            product(false, rows, rows, E, 1.f, s.gg.data(), E, transposed(s.vv.data(), rows, E, E, s.chunk_t), rows,
                    0.f, s.dA.data(), rows);
            keep_lower(s.dA.data(), rows);
            product(false, rows, M, rows, 1.f, s.dA.data(), rows, s.pk.data(), M, 1.f, s.dpq.data(), M);
            product(true, M, E, rows, 1.f, s.pk.data(), M, s.vv.data(), E, 1.f, state, E);
        } else {
            product(true, M, E, rows, 1.f, s.pq.data(), M, s.gg.data(), E, 1.f, R, E);
        }
        phi_q.backward(bh, Q.at(bh, c0), Q.row, rows, D, s.pq.data(), s.dpq.data(), dQ.at(bh, c0), dQ.row);
    }
    // keys: dφ(K_c) = V'_c Rᵀ (+ tril(g'_c V'_cᵀ)ᵀ φ(Q_c)),  dV'_c = φ(K_c) R (+ tril(φQ_c φK_cᵀ)ᵀ g'_c)
    const int64_t last = (N - 1) / kChunk * kChunk;
    for (int64_t c0 = causal ? last : 0; causal ? c0 >= 0 : c0 < N; c0 += causal ? -kChunk : kChunk) {
        const int64_t rows = std::min(kChunk, N - c0);
        phi_k.forward(bh, K.at(bh, c0), K.row, rows, D, s.pk.data());
        extend_values(V.at(bh, c0), V.row, rows, Dv, s.vv.data());
        product(false, rows, M, E, 1.f, s.vv.data(), E, transposed(R, M, E, E, s.state_t), M, 0.f, s.dpk.data(), M);
        product(false, rows, E, M, 1.f, s.pk.data(), M, R, E, 0.f, s.dvv.data(), E);
        if (causal) {
            phi_q.forward(bh, Q.at(bh, c0), Q.row, rows, D, s.pq.data());
            extended_grads(G, O, bh, c0, rows, Dv, den, floored, s.gg.data());
            product(false, rows, rows, M, 1.f, s.pq.data(), M, transposed(s.pk.data(), rows, M, M, s.chunk_t), rows,
                    0.f, s.A.data(), rows);
            keep_lower(s.A.data(), rows);
            product(false, rows, rows, E, 1.f, s.gg.data(), E, transposed(s.vv.data(), rows, E, E, s.chunk_t), rows,
                    0.f, s.dA.data(), rows);
            keep_lower(s.dA.data(), rows);
            product(true, rows, M, rows, 1.f, s.dA.data(), rows, s.pq.data(), M, 1.f, s.dpk.data(), M);
            product(true, rows, E, rows, 1.f, s.A.data(), rows, s.gg.data(), E, 1.f, s.dvv.data(), E);
            product(true, M, E, rows, 1.f, s.pq.data(), M, s.gg.data(), E, 1.f, R, E);
        }
        phi_k.backward(bh, K.at(bh, c0), K.row, rows, D, s.pk.data(), s.dpk.data(), dK.at(bh, c0), dK.row);
        store_value_grads(s.dvv.data(), rows, Dv, dV, bh, c0);
    }
}

}  // namespace

Tensor feature_map_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                             std::shared_ptr<const FeatureMap> phi_q, std::shared_ptr<const FeatureMap> phi_k,
                             bool causal, float eps, float min_mean_kernel) {
    PROFILE_SCOPE("feature_map_attention");
    check(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4 && q_in.shape() == k_in.shape() &&
              v_in.size(0) == q_in.size(0) && v_in.size(1) == q_in.size(1) && v_in.size(2) == q_in.size(2),
          "feature_map_attention: expected q, k [B,H,N,D] and v [B,H,N,Dv] with the same B, H, N, got ",
          to_string(q_in.shape()), ", ", to_string(k_in.shape()), ", ", to_string(v_in.shape()));
    const int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2), D = q_in.size(3), Dv = v_in.size(3);
    const Dims d{N, D, Dv, phi_q->features(D), Dv + 1};
    check(phi_k->features(D) == d.M, "feature_map_attention: φ_q has ", d.M, " features, φ_k ", phi_k->features(D));
    Tensor q = unit_last_stride(q_in.detach()), k = unit_last_stride(k_in.detach()), v = unit_last_stride(v_in.detach());
    Tensor out = heads_output(B, H, N, Dv), den = Tensor::empty({B, H, N});
    Tensor state = causal ? Tensor() : Tensor::empty({B, H, d.M, d.E});
    auto floored = std::make_shared<std::vector<uint8_t>>(size_t(B * H * N));  // den_i floored: no gradient
    {
        HeadRows Q(q), K(k), V(v), O(out);
        float *den_p = den.data(), *state_p = state.defined() ? state.data() : nullptr;
        parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch s(d);
            for (int64_t bh = lo; bh < hi; ++bh)
                forward_head(*phi_q, *phi_k, Q, K, V, O, bh, d, causal, eps, min_mean_kernel, den_p + bh * N,
                             floored->data() + bh * N, state_p ? state_p + bh * d.M * d.E : nullptr, s);
        });
    }
    return record("feature_map_attention", out, {q_in, k_in, v_in},
                  [q, k, v, out_saved = out.detach(), den, floored, state, phi_q, phi_k, causal, d](const Tensor& g_in) {
                      Tensor g = unit_last_stride(g_in);
                      Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()), dv = Tensor::empty(v.shape());
                      HeadRows Q(q), K(k), V(v), O(out_saved), G(g), dQ(dq), dK(dk), dV(dv);
                      const float* den_p = den.data();
                      const float* state_p = state.defined() ? state.data() : nullptr;
                      parallel_for_balanced(0, q.size(0) * q.size(1), 8 * num_threads(), [&](int64_t lo, int64_t hi) {
                          Scratch s(d);
                          for (int64_t bh = lo; bh < hi; ++bh)
                              backward_head(*phi_q, *phi_k, Q, K, V, O, G, dQ, dK, dV, bh, d, causal,
                                            den_p + bh * d.N, floored->data() + bh * d.N,
                                            state_p ? state_p + bh * d.M * d.E : nullptr, s);
                      });
                      return std::vector<Tensor>{dq, dk, dv};
                  });
}

}  // namespace attnlab::attention

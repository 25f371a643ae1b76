// feature_map_attention.cpp — see feature_map_attention.h. One head at a time,
// heads in parallel; the chunk products are single-threaded small::gemm calls.
// The normalizer column of V' = [V, 1] is kept apart (z, rowsum, rank-1 terms, all
// vectorized over M) so that every product has exactly Dv columns: no scalar column
// tail in small::gemm when Dv is a multiple of the vector width. The rows of the
// next chunk are prefetched while the current one is worked on (q, k, v are often
// strided views of the packed projection: rows 3·H·D floats apart).
#include "attention/kernel/feature_map_attention.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "attention/head_rows.h"
#include "attention/kernel/row_math.h"
#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/kernels/parallel.h"
#include "core/util/profiler.h"
#include "core/kernels/small_gemm.h"

namespace attnlab::attention {

namespace {

constexpr int64_t kChunk = 64;  // C rows per chunk

// Sizes of one call: M features, the first Mg of them depending on x (the rest constant:
// their dφ is never formed, but for the normalizer's use below), Dv value columns.
struct Dims {
    int64_t N, D, Dv, M, Mg;
    float eps, min_mean_kernel;  // den_i = max(φ(q_i)·z_i + eps, n_i·min_mean_kernel)
};

// Per-thread scratch: φ(Q_c), φ(K_c), their gradients [C, M]; g_c/den, num_c [C, Dv]; the
// normalizer parts [C]; A, dA [C, C]; the running state S or Rv [M, Dv] with z or rz [M].
struct Scratch {
    std::vector<float> pq, pk, dpq, dpk, gs, num, gz, rowsum, den, A, dA, S, z, Rv, rz;
    std::vector<uint8_t> floored;  // the chunk's den_i and whether it is floored
    std::vector<float> state_t, chunk_t;  // transposed copies, so that every product's B is untransposed
    explicit Scratch(const Dims& d) {
        for (auto* b : {&pq, &pk, &dpq, &dpk}) b->resize(size_t(kChunk * d.M));
        for (auto* b : {&gs, &num}) b->resize(size_t(kChunk * d.Dv));
        for (auto* b : {&gz, &rowsum, &den}) b->resize(size_t(kChunk));
        floored.resize(size_t(kChunk));
        for (auto* b : {&A, &dA}) b->resize(size_t(kChunk * kChunk));
        for (auto* b : {&S, &Rv, &state_t}) b->resize(size_t(d.M * d.Dv));
        for (auto* b : {&z, &rz}) b->resize(size_t(d.M));
        chunk_t.resize(size_t(std::max(d.M, d.Dv) * kChunk));
    }
};

// C = alpha·op(A)·B (+ C when accumulate) on one chunk, with the register-blocked small::gemm.
void product(bool trans_a, int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B, int64_t ldb,
             bool accumulate, float* C, int64_t ldc) {
    if (trans_a) small::gemm<true>(m, n, k, 1.f, A, lda, B, ldb, accumulate, C, ldc);
    else small::gemm<false>(m, n, k, 1.f, A, lda, B, ldb, accumulate, C, ldc);
}

// Xᵀ [cols, rows] of X [rows, cols] (row stride ld) into t.
const float* transposed(const float* X, int64_t rows, int64_t cols, int64_t ld, std::vector<float>& t) {
    small::transpose_padded(X, ld, rows, cols, t.data(), rows);
    return t.data();
}

// Zeroes the strictly upper triangle of a [rows, rows] block (keys after the query).
void keep_lower(float* A, int64_t rows) {
    for (int64_t r = 0; r < rows; ++r) std::fill(A + r * rows + r + 1, A + (r + 1) * rows, 0.f);
}

// acc[m] += Σ_r w_r·X[r, m] (w = null: all 1) over `rows` rows of X [rows, M].
void add_weighted_rows(const float* X, const float* w, int64_t rows, int64_t M, float* acc) {
    for (int64_t r = 0; r < rows; ++r) {
        const float wr = w ? w[r] : 1.f;
        const float* x = X + r * M;
#pragma omp simd
        for (int64_t m = 0; m < M; ++m) acc[m] += wr * x[m];
    }
}

// out[r] = X[r, ·]·y (+ out[r] when accumulate), X [rows, M].
void row_dots(const float* X, const float* y, int64_t rows, int64_t M, bool accumulate, float* out) {
    for (int64_t r = 0; r < rows; ++r) {
        const float s = dot(X + r * M, y, M);
        out[r] = accumulate ? out[r] + s : s;
    }
}

// X[r, m] += w_r·y[m] for m < cols (the rank-1 normalizer term), X [rows, ldx].
void add_outer(const float* w, const float* y, int64_t rows, int64_t cols, float* X, int64_t ldx) {
    for (int64_t r = 0; r < rows; ++r) {
        const float wr = w[r];
        float* x = X + r * ldx;
#pragma omp simd
        for (int64_t m = 0; m < cols; ++m) x[m] += wr * y[m];
    }
}

// dphi[r, m] = gs_r·S[m, ·] for the constant features m in [Mg, M) (each a dot of Dv): the
// non-causal normalizer gradient needs all of gs Sᵀ, the main product forms its first Mg columns.
void constant_feature_columns(const float* gs, const float* S, int64_t rows, int64_t Dv, int64_t Mg, int64_t M,
                              float* dphi) {
    for (int64_t m = Mg; m < M; ++m)
        for (int64_t r = 0; r < rows; ++r) {
            float t = 0.f;
#pragma omp simd reduction(+ : t)
            for (int64_t e = 0; e < Dv; ++e) t += gs[r * Dv + e] * S[m * Dv + e];
            dphi[r * M + m] = t;
        }
}

// Prefetches the rows of the chunk starting at c0 (none past N or before 0).
void prefetch_chunk(const HeadRows& X, int64_t bh, int64_t c0, int64_t N, int64_t cols) {
    if (c0 >= 0) prefetch_rows(X, bh, c0, std::min(c0 + kChunk, N), cols);
}

// φ(K_c) for a running_shift() map: the exponents, the shift raised to their max (the sums S, z
// made with the old shift rescaled by exp(old − new)), then φ = exp(e − shift).
void shifted_key_features(const FeatureMap& phi, const HeadRows& K, int64_t bh, int64_t c0, int64_t rows,
                          const Dims& d, float& shift, float* S, float* z, float* pk) {
    phi.exponent(bh, K.at(bh, c0), K.row, rows, d.D, pk);
    float mx = shift;
    for (int64_t i = 0; i < rows * d.M; ++i) mx = std::max(mx, pk[i]);
    if (mx > shift) {
        if (shift > -INFINITY) {  // (nothing summed while the shift is −∞)
            const float scale = std::exp(shift - mx);
            for (int64_t i = 0; i < d.M * d.Dv; ++i) S[i] *= scale;
            for (int64_t m = 0; m < d.M; ++m) z[m] *= scale;
        }
        shift = mx;
    }
    phi.exp_shifted(pk, rows, shift);
}

// The chunk's den_i = max(rs_i + eps, n_i·min_mean_kernel), n_i = N, or c0 + r + 1 keys when
// causal, and whether the floor applies (no gradient through den_i then).
void denominators(const float* rs, int64_t rows, int64_t c0, const Dims& d, bool causal, float* den,
                  uint8_t* floored) {
    for (int64_t r = 0; r < rows; ++r) {
        const float raw = rs[r] + d.eps, floor = float(causal ? c0 + r + 1 : d.N) * d.min_mean_kernel;
        den[r] = std::max(raw, floor);
        floored[r] = raw < floor;
    }
}

// Non-causal, before the queries: S = Σ_c φ(K_c)ᵀ V_c, z = Σ_c colsum φ(K_c) (into s.S, s.z, zeroed);
// a running_shift() map's shift is found on the way and recorded for the backward.
void key_state(const FeatureMap& phi_k, const HeadRows& K, const HeadRows& V, int64_t bh, const Dims& d,
               Scratch& s) {
    const int64_t N = d.N, D = d.D, Dv = d.Dv, M = d.M;
    float *S = s.S.data(), *z = s.z.data();
    float shift = -INFINITY;  // φ_k's running shift (running_shift() maps)
    for (int64_t c0 = 0; c0 < N; c0 += kChunk) {
        const int64_t rows = std::min(kChunk, N - c0);
        prefetch_chunk(K, bh, c0 + kChunk, N, D);
        prefetch_chunk(V, bh, c0 + kChunk, N, Dv);
        if (phi_k.running_shift()) shifted_key_features(phi_k, K, bh, c0, rows, d, shift, S, z, s.pk.data());
        else phi_k.forward(bh, K.at(bh, c0), K.row, rows, D, s.pk.data());
        product(true, M, Dv, rows, s.pk.data(), M, V.at(bh, c0), V.row, true, S, Dv);
        add_weighted_rows(s.pk.data(), nullptr, rows, M, z);
    }
    if (phi_k.running_shift()) phi_k.set_shift(bh, shift);
}

// Causal: A = tril(φ(Q_c) φ(K_c)ᵀ) [rows, rows] into s.A, from φ(Q_c) in s.pq and φ(K_c) in s.pk.
void masked_scores(Scratch& s, int64_t rows, int64_t M) {
    product(false, rows, rows, M, s.pq.data(), M, transposed(s.pk.data(), rows, M, M, s.chunk_t), rows, false,
            s.A.data(), rows);
    keep_lower(s.A.data(), rows);
}

// Causal, one chunk of queries (φ(Q_c) in s.pq): num_c = tril(φQ_c φK_cᵀ) V_c + φQ_c S_prev and the
// row sums rs = tril(φQ_c φK_cᵀ) 1 + φQ_c z_prev, into s.num and s.rowsum; then S, z += the chunk's keys.
void causal_chunk(const FeatureMap& phi_k, const HeadRows& K, const HeadRows& V, int64_t bh, int64_t c0,
                  int64_t rows, const Dims& d, Scratch& s) {
    const int64_t N = d.N, D = d.D, Dv = d.Dv, M = d.M;
    float *S = s.S.data(), *z = s.z.data(), *num = s.num.data(), *rs = s.rowsum.data();
    prefetch_chunk(K, bh, c0 + kChunk, N, D);
    prefetch_chunk(V, bh, c0 + kChunk, N, Dv);
    phi_k.forward(bh, K.at(bh, c0), K.row, rows, D, s.pk.data());
    masked_scores(s, rows, M);
    for (int64_t r = 0; r < rows; ++r) {  // (the upper triangle is 0: whole rows, vectorized)
        const float* a = s.A.data() + r * rows;
        float t = 0.f;
#pragma omp simd reduction(+ : t)
        for (int64_t j = 0; j < rows; ++j) t += a[j];
        rs[r] = t;
    }
    product(false, rows, Dv, rows, s.A.data(), rows, V.at(bh, c0), V.row, false, num, Dv);
    product(false, rows, Dv, M, s.pq.data(), M, S, Dv, true, num, Dv);
    row_dots(s.pq.data(), z, rows, M, true, rs);
    product(true, M, Dv, rows, s.pk.data(), M, V.at(bh, c0), V.row, true, S, Dv);
    add_weighted_rows(s.pk.data(), nullptr, rows, M, z);
}

// One head's forward: the key state first (non-causal), then the queries chunk by chunk, each
// output row normalized by its den_i; what the backward needs goes to den/floored (causal) or
// saved_state (non-causal: [S, z]).
void forward_head(const FeatureMap& phi_q, const FeatureMap& phi_k, const HeadRows& Q, const HeadRows& K,
                  const HeadRows& V, const HeadRows& O, int64_t bh, const Dims& d, bool causal, float* den,
                  uint8_t* floored, float* saved_state, Scratch& s) {
    const int64_t N = d.N, D = d.D, Dv = d.Dv, M = d.M;
    float *S = s.S.data(), *z = s.z.data();
    std::fill(S, S + M * Dv, 0.f);
    std::fill(z, z + M, 0.f);
    if (!causal) key_state(phi_k, K, V, bh, d, s);
    for (int64_t c0 = 0; c0 < N; c0 += kChunk) {
        const int64_t rows = std::min(kChunk, N - c0);
        prefetch_chunk(Q, bh, c0 + kChunk, N, D);
        phi_q.forward(bh, Q.at(bh, c0), Q.row, rows, D, s.pq.data());
        float *num = s.num.data(), *rs = s.rowsum.data();
        if (causal) {
            causal_chunk(phi_k, K, V, bh, c0, rows, d, s);
        } else {
            product(false, rows, Dv, M, s.pq.data(), M, S, Dv, false, num, Dv);
            row_dots(s.pq.data(), z, rows, M, false, rs);
        }
        denominators(rs, rows, c0, d, causal, s.den.data(), s.floored.data());
        for (int64_t r = 0; r < rows; ++r) {
            const float inv = 1.f / s.den[size_t(r)];
            float* o = O.at(bh, c0 + r);
#pragma omp simd
            for (int64_t e = 0; e < Dv; ++e) o[e] = num[r * Dv + e] * inv;
        }
        if (causal) {  // kept for the backward (non-causal, it finds them again from φ(Q_c) and z)
            std::copy(s.den.begin(), s.den.begin() + rows, den + c0);
            std::copy(s.floored.begin(), s.floored.begin() + rows, floored + c0);
        }
    }
    if (saved_state) {  // [S (M·Dv), z (M)]
        std::copy(S, S + M * Dv, saved_state);
        std::copy(z, z + M, saved_state + M * Dv);
    }
}

// The chunk's g'_i = [g_i / den_i, −(g_i·out_i) / den_i] as gs [rows, Dv] and gz [rows] (0 where den_i is floored;
// den, floored: the chunk's rows). Without the output (O null, non-causal) only gs: gz comes from normalizer_grads().
void extended_grads(const HeadRows& G, const HeadRows* O, int64_t bh, int64_t c0, int64_t rows, int64_t Dv,
                    const float* den, const uint8_t* floored, float* gs, float* gz) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* g = G.at(bh, c0 + r);
        const float inv = 1.f / den[r];
#pragma omp simd
        for (int64_t e = 0; e < Dv; ++e) gs[r * Dv + e] = g[e] * inv;
        if (!O) continue;
        gz[r] = floored[r] ? 0.f : -dot(g, O->at(bh, c0 + r), Dv) * inv;
    }
}

// Non-causal gz_i = −(g_i·out_i) / den_i without the output: out_i = φ(q_i)ᵀ S / den_i gives
// g_i·out_i = φ(q_i)·(S gs_i), and S gs_i is row i of gs Sᵀ, already in dpq.
void normalizer_grads(const float* pq, const float* dpq, int64_t rows, int64_t M, const float* den,
                      const uint8_t* floored, float* gz) {
    for (int64_t r = 0; r < rows; ++r) gz[r] = floored[r] ? 0.f : -dot(pq + r * M, dpq + r * M, M) / den[r];
}

// dA = tril(g'_c V'_cᵀ) = tril(gs V_cᵀ + gz 1ᵀ) [rows, rows].
void masked_grad_scores(const Scratch& s, const HeadRows& V, int64_t bh, int64_t c0, int64_t rows, int64_t Dv,
                        std::vector<float>& chunk_t, float* dA) {
    product(false, rows, rows, Dv, s.gs.data(), Dv, transposed(V.at(bh, c0), rows, Dv, V.row, chunk_t), rows, false,
            dA, rows);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t j = 0; j <= r; ++j) dA[r * rows + j] += s.gz[size_t(r)];
    keep_lower(dA, rows);
}

// What one head's backward reads and writes (O, the output, only when causal), and what its
// forward kept for it: causal, den_i and whether it is floored [N]; non-causal, [S, z].
struct HeadGrads {
    const HeadRows &Q, &K, &V;
    const HeadRows* O;
    const HeadRows &G, &dQ, &dK, &dV;
};
struct Kept {
    const float* den;
    const uint8_t* floored;
    const float* state;
};

// Queries, in order: dφ(Q_c) = tril(g'_c V'_cᵀ) φ(K_c) + gs S_prevᵀ + gz z_prevᵀ (non-causal: S, z),
// then dQ_c through φ_q. Non-causal, R = Σ_i φ(q_i) g'_iᵀ = [Rv, rz] is summed on the way.
void backward_queries(const FeatureMap& phi_q, const FeatureMap& phi_k, const HeadGrads& x, int64_t bh,
                      const Dims& d, bool causal, const Kept& kept, Scratch& s) {
    const int64_t N = d.N, D = d.D, Dv = d.Dv, M = d.M, Mg = d.Mg;
    float *S = s.S.data(), *z = s.z.data(), *gs = s.gs.data(), *gz = s.gz.data();
    if (causal) {
        std::fill(S, S + M * Dv, 0.f);
        std::fill(z, z + M, 0.f);
    } else {
        std::copy(kept.state, kept.state + M * Dv, S);
        std::copy(kept.state + M * Dv, kept.state + M * Dv + M, z);
        transposed(S, M, Dv, Dv, s.state_t);  // constant: once per head
    }
    for (int64_t c0 = 0; c0 < N; c0 += kChunk) {
        const int64_t rows = std::min(kChunk, N - c0);
        prefetch_chunk(x.Q, bh, c0 + kChunk, N, D);
        prefetch_chunk(x.G, bh, c0 + kChunk, N, Dv);
        if (x.O) prefetch_chunk(*x.O, bh, c0 + kChunk, N, Dv);
        phi_q.forward(bh, x.Q.at(bh, c0), x.Q.row, rows, D, s.pq.data());
        const float* den = causal ? kept.den + c0 : s.den.data();
        const uint8_t* floored = causal ? kept.floored + c0 : s.floored.data();
        if (!causal) {  // den_c again, as the forward found it: φ(Q_c) z + eps, floored
            row_dots(s.pq.data(), z, rows, M, false, s.rowsum.data());
            denominators(s.rowsum.data(), rows, c0, d, causal, s.den.data(), s.floored.data());
        }
        extended_grads(x.G, x.O, bh, c0, rows, Dv, den, floored, gs, gz);
        if (causal) transposed(S, M, Dv, Dv, s.state_t);
        product(false, rows, Mg, Dv, gs, Dv, s.state_t.data(), M, false, s.dpq.data(), M);
        if (!causal) {
            if (Mg < M) constant_feature_columns(gs, S, rows, Dv, Mg, M, s.dpq.data());
            normalizer_grads(s.pq.data(), s.dpq.data(), rows, M, den, floored, gz);
        }
        add_outer(gz, z, rows, Mg, s.dpq.data(), M);
        if (causal) {
            prefetch_chunk(x.K, bh, c0 + kChunk, N, D);
            prefetch_chunk(x.V, bh, c0 + kChunk, N, Dv);
            phi_k.forward(bh, x.K.at(bh, c0), x.K.row, rows, D, s.pk.data());
            masked_grad_scores(s, x.V, bh, c0, rows, Dv, s.chunk_t, s.dA.data());
            product(false, rows, Mg, rows, s.dA.data(), rows, s.pk.data(), M, true, s.dpq.data(), M);
            product(true, M, Dv, rows, s.pk.data(), M, x.V.at(bh, c0), x.V.row, true, S, Dv);
            add_weighted_rows(s.pk.data(), nullptr, rows, M, z);
        } else {
            product(true, M, Dv, rows, s.pq.data(), M, gs, Dv, true, s.Rv.data(), Dv);
            add_weighted_rows(s.pq.data(), gz, rows, M, s.rz.data());
        }
        phi_q.backward(bh, x.Q.at(bh, c0), x.Q.row, rows, D, s.pq.data(), s.dpq.data(), x.dQ.at(bh, c0), x.dQ.row);
    }
}

// Keys: dφ(K_c) = V_c Rvᵀ + 1 rzᵀ (+ tril(g'_c V'_cᵀ)ᵀ φ(Q_c)), dV_c = φ(K_c) Rv (+ tril(φQ_c φK_cᵀ)ᵀ gs),
// then dK_c through φ_k. Causal, from the last chunk back, R summed on the way; non-causal, R is
// the queries' whole sum.
void backward_keys(const FeatureMap& phi_q, const FeatureMap& phi_k, const HeadGrads& x, int64_t bh,
                   const Dims& d, bool causal, const Kept& kept, Scratch& s) {
    const int64_t N = d.N, D = d.D, Dv = d.Dv, M = d.M, Mg = d.Mg;
    float *Rv = s.Rv.data(), *rz = s.rz.data(), *gs = s.gs.data(), *gz = s.gz.data();
    if (!causal) transposed(Rv, M, Dv, Dv, s.state_t);  // final: once per head
    const int64_t last = (N - 1) / kChunk * kChunk, step = causal ? -kChunk : kChunk;
    for (int64_t c0 = causal ? last : 0; causal ? c0 >= 0 : c0 < N; c0 += step) {
        const int64_t rows = std::min(kChunk, N - c0);
        prefetch_chunk(x.K, bh, c0 + step, N, D);
        prefetch_chunk(x.V, bh, c0 + step, N, Dv);
        phi_k.forward(bh, x.K.at(bh, c0), x.K.row, rows, D, s.pk.data());
        if (causal) transposed(Rv, M, Dv, Dv, s.state_t);
        product(false, rows, Mg, Dv, x.V.at(bh, c0), x.V.row, s.state_t.data(), M, false, s.dpk.data(), M);
        for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
            for (int64_t m = 0; m < Mg; ++m) s.dpk[size_t(r * M + m)] += rz[m];
        product(false, rows, Dv, M, s.pk.data(), M, Rv, Dv, false, x.dV.at(bh, c0), x.dV.row);
        if (causal) {
            prefetch_chunk(x.Q, bh, c0 + step, N, D);
            prefetch_chunk(x.G, bh, c0 + step, N, Dv);
            prefetch_chunk(*x.O, bh, c0 + step, N, Dv);
            phi_q.forward(bh, x.Q.at(bh, c0), x.Q.row, rows, D, s.pq.data());
            extended_grads(x.G, x.O, bh, c0, rows, Dv, kept.den + c0, kept.floored + c0, gs, gz);
            masked_scores(s, rows, M);
            masked_grad_scores(s, x.V, bh, c0, rows, Dv, s.chunk_t, s.dA.data());
            product(true, rows, Mg, rows, s.dA.data(), rows, s.pq.data(), M, true, s.dpk.data(), M);
            product(true, rows, Dv, rows, s.A.data(), rows, gs, Dv, true, x.dV.at(bh, c0), x.dV.row);
            product(true, M, Dv, rows, s.pq.data(), M, gs, Dv, true, Rv, Dv);
            add_weighted_rows(s.pq.data(), gz, rows, M, rz);
        }
        phi_k.backward(bh, x.K.at(bh, c0), x.K.row, rows, D, s.pk.data(), s.dpk.data(), x.dK.at(bh, c0), x.dK.row);
    }
}

// One head's backward: the pass over the queries, then the one over the keys, both using
// R = [Rv, rz] (summed by the query pass when non-causal, by the key pass when causal).
void backward_head(const FeatureMap& phi_q, const FeatureMap& phi_k, const HeadGrads& x, int64_t bh, const Dims& d,
                   bool causal, const Kept& kept, Scratch& s) {
    std::fill(s.Rv.begin(), s.Rv.end(), 0.f);
    std::fill(s.rz.begin(), s.rz.end(), 0.f);
    backward_queries(phi_q, phi_k, x, bh, d, causal, kept, s);
    backward_keys(phi_q, phi_k, x, bh, d, causal, kept, s);
}

// The op on q, k, v (views of `qkv` when heads > 0, the gradient then going to qkv whole).
Tensor fused(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& qkv, int64_t heads,
             std::shared_ptr<const FeatureMap> phi_q, std::shared_ptr<const FeatureMap> phi_k, bool causal, float eps,
             float min_mean_kernel) {
    PROFILE_SCOPE("feature_map_attention");
    check_fused_qkv("feature_map_attention", q_in, k_in, v_in);
    const int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2), D = q_in.size(3), Dv = v_in.size(3);
    const Dims d{N, D, Dv, phi_q->features(D), phi_q->varying_features(D), eps, min_mean_kernel};
    check(phi_k->features(D) == d.M && phi_k->varying_features(D) == d.Mg, "feature_map_attention: φ_q has ", d.M,
          " features (", d.Mg, " varying), φ_k ", phi_k->features(D), " (", phi_k->varying_features(D), ")");
    Tensor q = unit_last_stride(q_in.detach()), k = unit_last_stride(k_in.detach()), v = unit_last_stride(v_in.detach());
    // Kept for the backward: causal, the output, den [B,H,N] and where it is floored; non-causal,
    // [S, z] per head (den is found again from φ(Q) and z).
    Tensor out = heads_output(B, H, N, Dv), den = causal ? Tensor::empty({B, H, N}) : Tensor();
    Tensor state = causal ? Tensor() : Tensor::empty({B, H, d.M * d.Dv + d.M});
    auto floored = std::make_shared<std::vector<uint8_t>>(causal ? size_t(B * H * N) : 0);  // no gradient there
    {
        HeadRows Q(q), K(k), V(v), O(out);
        float *den_p = causal ? den.data() : nullptr, *state_p = causal ? nullptr : state.data();
        parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch s(d);
            for (int64_t bh = lo; bh < hi; ++bh)
                forward_head(*phi_q, *phi_k, Q, K, V, O, bh, d, causal, causal ? den_p + bh * N : nullptr,
                             causal ? floored->data() + bh * N : nullptr,
                             causal ? nullptr : state_p + bh * (d.M * d.Dv + d.M), s);
        });
    }
    const std::vector<Tensor> inputs = heads > 0 ? std::vector<Tensor>{qkv} : std::vector<Tensor>{q_in, k_in, v_in};
    return record("feature_map_attention", out, inputs,
                  [q, k, v, out_saved = causal ? out.detach() : Tensor(), den, floored, state, phi_q, phi_k, causal,
                   d, heads, packed_shape = heads > 0 ? qkv.shape() : Shape{}](const Tensor& g_in) {
                      Tensor g = unit_last_stride(g_in);
                      QkvGrads grads(q, k, v, packed_shape, heads);
                      HeadRows Q(q), K(k), V(v), G(g), dQ(grads.dq), dK(grads.dk), dV(grads.dv);
                      std::optional<HeadRows> O;  // the output, kept only when causal
                      if (causal) O.emplace(out_saved);
                      const float* den_p = causal ? den.data() : nullptr;
                      const float* state_p = causal ? nullptr : state.data();
                      parallel_for_balanced(0, q.size(0) * q.size(1), 8 * num_threads(), [&](int64_t lo, int64_t hi) {
                          Scratch s(d);
                          const HeadGrads x{Q, K, V, O ? &*O : nullptr, G, dQ, dK, dV};
                          for (int64_t bh = lo; bh < hi; ++bh) {
                              const Kept kept{causal ? den_p + bh * d.N : nullptr,
                                              causal ? floored->data() + bh * d.N : nullptr,
                                              causal ? nullptr : state_p + bh * (d.M * d.Dv + d.M)};
                              backward_head(*phi_q, *phi_k, x, bh, d, causal, kept, s);
                          }
                      });
                      return grads.list();
                  });
}

}  // namespace

Tensor feature_map_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                             std::shared_ptr<const FeatureMap> phi_q, std::shared_ptr<const FeatureMap> phi_k,
                             bool causal, float eps, float min_mean_kernel) {
    return fused(q, k, v, Tensor(), 0, std::move(phi_q), std::move(phi_k), causal, eps, min_mean_kernel);
}

Tensor feature_map_attention_packed(const Tensor& qkv_in, int64_t heads, std::shared_ptr<const FeatureMap> phi_q,
                                    std::shared_ptr<const FeatureMap> phi_k, bool causal, float eps,
                                    float min_mean_kernel) {
    Tensor qkv = unit_last_stride(qkv_in.detach());
    auto views = split_packed_qkv(qkv, heads);
    return fused(views[0], views[1], views[2], qkv_in, heads, std::move(phi_q), std::move(phi_k), causal, eps,
                 min_mean_kernel);
}

}  // namespace attnlab::attention

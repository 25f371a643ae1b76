// nystrom_kernel.cpp — see nystrom_kernel.h. One head at a time, heads in
// parallel; every product is a single-threaded small::gemm on per-thread scratch.
#include "attention/low_rank/nystrom_kernel.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "attention/head_rows.h"
#include "attention/low_rank/block_transpose.h"
#include "attention/low_rank/column_softmax.h"
#include "core/autograd/autograd.h"
#include "core/kernels/fastmath.h"
#include "core/kernels/parallel.h"
#include "core/kernels/small_gemm.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"

namespace attnlab::attention {

namespace {

constexpr int64_t kChunk = 64;  // rows of F̃ per chunk

struct Dims {
    int64_t N, Nk, D, Dv, m, it;
    float scale;
};

// Per-thread scratch. The landmark part of one head (what forward and backward share):
// Q̃, K̃ [m, D] and their transposes, Ã [m, m], the iterates (Z_t, ÃZ_t, T1_t, T2_t, T3_t per
// iteration, then the final Z), B̃ᵀ [Nk, m], W, Y [m, Dv]; then the backward's own buffers.
// Chunks of F̃ are kept transposed, F̃ᵀ_c [m, C] (with Q_cᵀ [D, C], Gᵀ_c [Dv, C]), so that the
// softmax runs down columns (column_softmax.h).
struct Scratch {
    std::vector<float> ql, kl, qlT, klT, A, iter, bt, W, Y;
    std::vector<float> rowsm, fT, dfT, YT, WT, dY, dW, dWT, dZ, dA, g, dT, dAZ, tmp, dql, dkl, dbt, t;
    float n1 = 0.f, ninf = 0.f;
    explicit Scratch(const Dims& d) {
        const size_t m = size_t(d.m), mm = m * m;
        for (auto* b : {&ql, &kl, &qlT, &klT, &dql, &dkl}) b->resize(m * size_t(d.D));
        for (auto* b : {&W, &Y, &WT, &dY, &dW, &dWT}) b->resize(m * size_t(d.Dv));
        for (auto* b : {&A, &dZ, &dA, &g, &dT, &dAZ, &tmp}) b->resize(mm);
        iter.resize(mm * size_t(5 * d.it + 1));
        bt.resize(size_t(d.Nk) * m);
        fT.resize(size_t(kChunk) * m);
        dfT.resize(size_t(kChunk) * m);
        rowsm.resize(size_t(kChunk) * m);
        YT.resize(m * size_t(d.Dv));
        t.resize(mm);
    }
    float* Z(int64_t t_, int64_t part, int64_t m) { return iter.data() + (5 * t_ + part) * m * m; }  // part 0..4
};

// C = alpha·op(A)·B (+ C) with small::gemm (B untransposed); tall products in blocks of 12 rows.
void mm(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
        int64_t ldb, bool acc, float* C, int64_t ldc) {
    if (trans_a) small::gemm<true, 12>(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
    else small::gemm<false, 12>(M, N, K, alpha, A, lda, B, ldb, acc, C, ldc);
}

// The same with op(B) = Bᵀ for square m×m operands (B transposed into t first).
void mm_bt(bool trans_a, int64_t m, float alpha, const float* A, const float* B, bool acc, float* C,
           std::vector<float>& t) {
    block_transpose(B, m, m, m, t.data(), m);
    mm(trans_a, m, m, m, alpha, A, m, t.data(), m, acc, C, m);
}

void transpose(const float* X, int64_t rows, int64_t cols, float* XT) { block_transpose(X, cols, rows, cols, XT, rows); }

// Row softmax of x [rows, n] in place.
void softmax_rows(float* x, int64_t rows, int64_t n) {
    for (int64_t r = 0; r < rows; ++r) {
        float* xr = x + r * n;
        float mx = xr[0];
#pragma omp simd reduction(max : mx)
        for (int64_t j = 1; j < n; ++j) mx = std::max(mx, xr[j]);
        float s = 0.f;
#pragma omp simd reduction(+ : s)
        for (int64_t j = 0; j < n; ++j) {
            const float e = fast::exp(xr[j] - mx);
            xr[j] = e;
            s += e;
        }
        const float inv = 1.f / s;
#pragma omp simd
        for (int64_t j = 0; j < n; ++j) xr[j] *= inv;
    }
}

// dy <- scale · y ⊙ (dy − rowsum(dy ⊙ y)) on [rows, n] (Ã's softmax).
void softmax_rows_backward(const float* y, float* dy, int64_t rows, int64_t n, float scale) {
    for (int64_t r = 0; r < rows; ++r) {
        const float* yr = y + r * n;
        float* gr = dy + r * n;
        float dot = 0.f;
        for (int64_t j = 0; j < n; ++j) dot += yr[j] * gr[j];
        for (int64_t j = 0; j < n; ++j) gr[j] = scale * yr[j] * (gr[j] - dot);
    }
}

// Asks for the rows of the chunk kAhead chunks after c0 of head bh of X (prefetch_rows,
// head_rows.h) while this chunk's products run. The query and gradient rows are read one chunk
// at a time: without it each chunk's first product waits on memory (Q is no longer in L2 once
// a head's Q outgrows it, N ≥ 8192 at D = 32; G is read nowhere before).
constexpr int64_t kAhead = 4;
void prefetch_chunk(const HeadRows& X, int64_t bh, int64_t cols, int64_t c0, int64_t N) {
    const int64_t lo = std::min(c0 + kAhead * kChunk, N);
    prefetch_rows(X, bh, lo, std::min(lo + kChunk, N), cols);
}

int64_t seg_lo(int64_t s, int64_t N, int64_t m) { return s * N / m; }

// means [m, D] of the m segments of x's N rows (row stride ld). A strip of 16 columns is
// summed over four rows at a time into four register accumulators (fixed-size local
// arrays), so the adds of consecutive rows do not wait on each other or on a store.
void segment_means(const float* x, int64_t ld, int64_t N, int64_t D, int64_t m, float* means) {
    constexpr int64_t W = 16;
    for (int64_t s = 0; s < m; ++s) {
        const int64_t lo = seg_lo(s, N, m), hi = seg_lo(s + 1, N, m);
        const float w = 1.f / float(hi - lo);
        for (int64_t d0 = 0; d0 < D; d0 += W) {
            const int64_t width = std::min(W, D - d0);
            float a0[W] = {}, a1[W] = {}, a2[W] = {}, a3[W] = {};
            int64_t j = lo;
            if (width == W)
                for (; j + 4 <= hi; j += 4) {
                    const float* r = x + j * ld + d0;
#pragma omp simd
                    for (int64_t d = 0; d < W; ++d) {
                        a0[d] += r[d];
                        a1[d] += r[ld + d];
                        a2[d] += r[2 * ld + d];
                        a3[d] += r[3 * ld + d];
                    }
                }
            for (; j < hi; ++j)
                for (int64_t d = 0; d < width; ++d) a0[d] += x[j * ld + d0 + d];
            for (int64_t d = 0; d < width; ++d) means[s * D + d0 + d] = w * ((a0[d] + a1[d]) + (a2[d] + a3[d]));
        }
    }
}

// dx[j] += dmeans[segment of j] / |segment| (Pᵀ dmeans).
void spread_segments(const float* dmeans, int64_t N, int64_t D, int64_t m, float* dx, int64_t ld) {
    for (int64_t s = 0; s < m; ++s) {
        const int64_t lo = seg_lo(s, N, m), hi = seg_lo(s + 1, N, m);
        const float w = 1.f / float(hi - lo);
        for (int64_t j = lo; j < hi; ++j)
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) dx[j * ld + d] += w * dmeans[s * D + d];
    }
}

// ‖A‖₁ (max column sum of |A|) and ‖A‖∞ (max row sum), summed in the composed ops' order.
void norms(const float* A, int64_t m, float& n1, float& ninf) {
    n1 = ninf = -INFINITY;
    for (int64_t j = 0; j < m; ++j) {
        float c = 0.f;
        for (int64_t i = 0; i < m; ++i) c += std::fabs(A[i * m + j]);
        n1 = std::max(n1, c);
    }
    for (int64_t i = 0; i < m; ++i) {
        float r = 0.f;
        for (int64_t j = 0; j < m; ++j) r += std::fabs(A[i * m + j]);
        ninf = std::max(ninf, r);
    }
}

// The pseudo-inverse iteration on s.A, keeping every iterate in s.iter; returns the final Z.
const float* pinv_forward(Scratch& s, int64_t m, int64_t it) {
    const float* A = s.A.data();
    norms(A, m, s.n1, s.ninf);
    const float c = s.n1 * s.ninf;
    float* Z0 = s.Z(0, 0, m);
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < m; ++j) Z0[i * m + j] = A[j * m + i] / c;
    for (int64_t t = 0; t < it; ++t) {
        float *Z = s.Z(t, 0, m), *AZ = s.Z(t, 1, m), *T1 = s.Z(t, 2, m), *T2 = s.Z(t, 3, m), *T3 = s.Z(t, 4, m);
        mm(false, m, m, m, 1.f, A, m, Z, m, false, AZ, m);
        for (int64_t e = 0; e < m * m; ++e) T1[e] = -AZ[e];
        for (int64_t i = 0; i < m; ++i) T1[i * m + i] += 7.f;
        mm(false, m, m, m, -1.f, AZ, m, T1, m, false, T2, m);
        for (int64_t i = 0; i < m; ++i) T2[i * m + i] += 15.f;
        mm(false, m, m, m, -1.f, AZ, m, T2, m, false, T3, m);
        for (int64_t i = 0; i < m; ++i) T3[i * m + i] += 13.f;
        mm(false, m, m, m, 0.25f, Z, m, T3, m, false, s.Z(t + 1, 0, m), m);
    }
    return s.Z(it, 0, m);
}

// Back through the iterations, last first: g holds dZ_{t+1} on entry to step t and dZ_t after
// it; dÃ accumulates the AZ = Ã Z terms.
void backward_iterations(Scratch& s, int64_t m, int64_t it) {
    const float* A = s.A.data();
    float *g = s.dZ.data(), *dA = s.dA.data(), *dT = s.dT.data(), *dAZ = s.dAZ.data(), *tmp = s.tmp.data();
    const int64_t mm2 = m * m;
    for (int64_t t = it - 1; t >= 0; --t) {
        const float *Z = s.Z(t, 0, m), *AZ = s.Z(t, 1, m), *T1 = s.Z(t, 2, m), *T2 = s.Z(t, 3, m),
                    *T3 = s.Z(t, 4, m);
        // Z' = ¼ Z T3:  dZ = ¼ g T3ᵀ,  dT3 = ¼ Zᵀ g
        mm(true, m, m, m, 0.25f, Z, m, g, m, false, dT, m);
        mm_bt(false, m, 0.25f, g, T3, false, tmp, s.t);  // tmp accumulates dZ_t
        // T3 = 13I − AZ T2:  dAZ = −dT3 T2ᵀ,  dT2 = −AZᵀ dT3
        mm_bt(false, m, -1.f, dT, T2, false, dAZ, s.t);
        mm(true, m, m, m, -1.f, AZ, m, dT, m, false, g, m);  // g now holds dT2
        // T2 = 15I − AZ T1:  dAZ −= dT2 T1ᵀ,  dT1 = −AZᵀ dT2
        mm_bt(false, m, -1.f, g, T1, true, dAZ, s.t);
        mm(true, m, m, m, -1.f, AZ, m, g, m, false, dT, m);  // dT holds dT1
        // T1 = 7I − AZ:  dAZ −= dT1
        for (int64_t e = 0; e < mm2; ++e) dAZ[e] -= dT[e];
        // AZ = Ã Z:  dÃ += dAZ Zᵀ,  dZ += Ãᵀ dAZ
        mm_bt(false, m, 1.f, dAZ, Z, true, dA, s.t);
        mm(true, m, m, m, 1.f, A, m, dAZ, m, true, tmp, m);
        std::copy(tmp, tmp + mm2, g);
    }
}

// Through the max over column sums (‖·‖₁) or row sums (‖·‖∞) of |Ã|: dn split among ties,
// through |x|' = sign x.
void backward_norm(Scratch& s, int64_t m, bool columns, float dn) {
    const float* A = s.A.data();
    float* dA = s.dA.data();
    std::vector<float>& sums = s.t;
    auto sign = [](float x) { return float((x > 0.f) - (x < 0.f)); };
    const float target = columns ? s.n1 : s.ninf;
    int64_t ties = 0;
    for (int64_t a = 0; a < m; ++a) {
        float r = 0.f;
        for (int64_t b = 0; b < m; ++b) r += std::fabs(columns ? A[b * m + a] : A[a * m + b]);
        sums[size_t(a)] = r;
        ties += r == target;
    }
    for (int64_t a = 0; a < m; ++a)
        if (sums[size_t(a)] == target)
            for (int64_t b = 0; b < m; ++b) {
                const int64_t e = columns ? b * m + a : a * m + b;
                dA[e] += dn / float(ties) * sign(A[e]);
            }
}

// dÃ (into s.dA, overwritten) from dZ (s.dZ, the gradient of the final iterate), in reverse.
void pinv_backward(Scratch& s, int64_t m, int64_t it) {
    float* dA = s.dA.data();
    std::fill(dA, dA + m * m, 0.f);
    backward_iterations(s, m, it);
    const float *A = s.A.data(), *g = s.dZ.data();
    // Z₀ = Ãᵀ / c, c = ‖Ã‖₁‖Ã‖∞:  dÃ += gᵀ / c,  dc = −Σ g ⊙ Ãᵀ / c²
    const float c = s.n1 * s.ninf;
    float dot = 0.f;
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < m; ++j) {
            dA[j * m + i] += g[i * m + j] / c;
            dot += g[i * m + j] * A[j * m + i];
        }
    const float dc = -dot / (c * c), dn1 = dc * s.ninf, dninf = dc * s.n1;
    backward_norm(s, m, /*columns=*/true, dn1);
    backward_norm(s, m, /*columns=*/false, dninf);
}

// The landmark part of one head into s: Q̃, K̃ (and transposes), Ã, the iterates, B̃ᵀ, W, Y.
void landmarks(const Dims& d, const float* Q, int64_t ldq, const float* K, int64_t ldk, const float* V, int64_t ldv,
               Scratch& s) {
    const int64_t m = d.m;
    segment_means(Q, ldq, d.N, d.D, m, s.ql.data());
    segment_means(K, ldk, d.Nk, d.D, m, s.kl.data());
    transpose(s.ql.data(), m, d.D, s.qlT.data());
    transpose(s.kl.data(), m, d.D, s.klT.data());
    mm(false, m, m, d.D, d.scale, s.ql.data(), d.D, s.klT.data(), m, false, s.A.data(), m);
    softmax_rows(s.A.data(), m, m);
    const float* Z = pinv_forward(s, m, d.it);
    mm(false, d.Nk, m, d.D, d.scale, K, ldk, s.qlT.data(), m, false, s.bt.data(), m);  // (s Q̃ Kᵀ)ᵀ
    softmax_columns(s.bt.data(), d.Nk, m);
    mm(true, m, d.Dv, d.Nk, 1.f, s.bt.data(), m, V, ldv, false, s.W.data(), d.Dv);  // W = B̃ V
    mm(false, m, d.Dv, m, 1.f, Z, m, s.W.data(), d.Dv, false, s.Y.data(), d.Dv);
}

// F̃ᵀ [m, rows] for query rows [c0, c0 + rows): softmax over m of s K̃ Q_cᵀ. The product is
// made as s Q_c K̃ᵀ [rows, m] and then transposed (m < D: fewer elements than Q_c).
void f_chunk(const Dims& d, const float* Q, int64_t ldq, int64_t c0, int64_t rows, Scratch& s) {
    mm(false, rows, d.m, d.D, d.scale, Q + c0 * ldq, ldq, s.klT.data(), d.m, false, s.rowsm.data(), d.m);
    block_transpose(s.rowsm.data(), d.m, rows, d.m, s.fT.data(), rows);
    softmax_columns(s.fT.data(), d.m, rows);
}

void forward_head(const Dims& d, const HeadRows& Q, const HeadRows& K, const HeadRows& V, const HeadRows& O, int64_t bh,
                  Scratch& s) {
    landmarks(d, Q.at(bh, 0), Q.row, K.at(bh, 0), K.row, V.at(bh, 0), V.row, s);
    for (int64_t c0 = 0; c0 < d.N; c0 += kChunk) {
        const int64_t rows = std::min(kChunk, d.N - c0);
        prefetch_chunk(Q, bh, d.D, c0, d.N);
        f_chunk(d, Q.at(bh, 0), Q.row, c0, rows, s);
        mm(true, rows, d.Dv, d.m, 1.f, s.fT.data(), rows, s.Y.data(), d.Dv, false, O.at(bh, c0), O.row);  // F̃ Y
    }
}

void backward_head(const Dims& d, const HeadRows& Q, const HeadRows& K, const HeadRows& V, const HeadRows& G,
                   const HeadRows& dQ, const HeadRows& dK, const HeadRows& dV, int64_t bh, Scratch& s) {
    const int64_t m = d.m, D = d.D, Dv = d.Dv;
    const float *q = Q.at(bh, 0), *k = K.at(bh, 0), *v = V.at(bh, 0), *g = G.at(bh, 0);
    float *dq = dQ.at(bh, 0), *dk = dK.at(bh, 0), *dv = dV.at(bh, 0);
    landmarks(d, q, Q.row, k, K.row, v, V.row, s);
    transpose(s.Y.data(), m, Dv, s.YT.data());
    std::fill(s.dY.begin(), s.dY.end(), 0.f);
    std::fill(s.dkl.begin(), s.dkl.end(), 0.f);
    // out = F̃ Y, F̃ = softmax(s Q K̃ᵀ), chunk by chunk
    for (int64_t c0 = 0; c0 < d.N; c0 += kChunk) {
        const int64_t rows = std::min(kChunk, d.N - c0);
        prefetch_chunk(Q, bh, D, c0, d.N);
        prefetch_chunk(G, bh, Dv, c0, d.N);
        f_chunk(d, q, Q.row, c0, rows, s);
        const float* gc = g + c0 * G.row;
        mm(false, m, Dv, rows, 1.f, s.fT.data(), rows, gc, G.row, true, s.dY.data(), Dv);       // dY += F̃ᵀ G
        mm(false, rows, m, Dv, 1.f, gc, G.row, s.YT.data(), m, false, s.rowsm.data(), m);      // dF̃ = G Yᵀ
        block_transpose(s.rowsm.data(), m, rows, m, s.dfT.data(), rows);
        softmax_columns_backward(s.fT.data(), s.dfT.data(), m, rows, d.scale);    // dS₁ᵀ (scaled)
        mm(true, rows, D, m, 1.f, s.dfT.data(), rows, s.kl.data(), D, false, dq + c0 * dQ.row, dQ.row);  // dQ = dS₁ K̃
        mm(false, m, D, rows, 1.f, s.dfT.data(), rows, q + c0 * Q.row, Q.row, true, s.dkl.data(), D);  // dK̃ += dS₁ᵀ Q
    }
    // Y = Z W
    const float* Z = s.Z(d.it, 0, m);
    transpose(s.W.data(), m, Dv, s.WT.data());
    mm(true, m, Dv, m, 1.f, Z, m, s.dY.data(), Dv, false, s.dW.data(), Dv);           // dW = Zᵀ dY
    mm(false, m, m, Dv, 1.f, s.dY.data(), Dv, s.WT.data(), m, false, s.dZ.data(), m);  // dZ = dY Wᵀ
    pinv_backward(s, m, d.it);
    // Ã = softmax(s Q̃ K̃ᵀ)
    softmax_rows_backward(s.A.data(), s.dA.data(), m, m, d.scale);
    mm(false, m, D, m, 1.f, s.dA.data(), m, s.kl.data(), D, false, s.dql.data(), D);  // dQ̃ = dS₂ K̃
    mm(true, m, D, m, 1.f, s.dA.data(), m, s.ql.data(), D, true, s.dkl.data(), D);    // dK̃ += dS₂ᵀ Q̃
    // W = B̃ V, B̃ᵀ = softmax over N of s K Q̃ᵀ
    s.dbt.resize(s.bt.size());
    transpose(s.dW.data(), m, Dv, s.dWT.data());
    mm(false, d.Nk, m, Dv, 1.f, v, V.row, s.dWT.data(), m, false, s.dbt.data(), m);    // dB̃ᵀ = V dWᵀ
    mm(false, d.Nk, Dv, m, 1.f, s.bt.data(), m, s.dW.data(), Dv, false, dv, dV.row);    // dV = B̃ᵀ dW
    softmax_columns_backward(s.bt.data(), s.dbt.data(), d.Nk, m, d.scale);         // dS₃ᵀ (scaled)
    mm(false, d.Nk, D, m, 1.f, s.dbt.data(), m, s.ql.data(), D, false, dk, dK.row);     // dK = dS₃ᵀ Q̃
    mm(true, m, D, d.Nk, 1.f, s.dbt.data(), m, k, K.row, true, s.dql.data(), D);        // dQ̃ += dS₃ K
    // Q̃ = P Q, K̃ = P K
    spread_segments(s.dql.data(), d.N, D, m, dq, dQ.row);
    spread_segments(s.dkl.data(), d.Nk, D, m, dk, dK.row);
}

}  // namespace

Tensor nystrom_attention_fused(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, int64_t landmarks_,
                               int64_t iterations) {
    PROFILE_SCOPE("nystrom_attention_fused");
    check(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4 && q_in.size(0) == k_in.size(0) &&
              q_in.size(1) == k_in.size(1) && q_in.size(3) == k_in.size(3) && v_in.size(0) == k_in.size(0) &&
              v_in.size(1) == k_in.size(1) && v_in.size(2) == k_in.size(2),
          "nystrom_attention_fused: expected q [B,H,N,D], k [B,H,Nk,D], v [B,H,Nk,Dv], got ", to_string(q_in.shape()),
          ", ", to_string(k_in.shape()), ", ", to_string(v_in.shape()));
    const int64_t B = q_in.size(0), H = q_in.size(1);
    const Dims d{q_in.size(2), k_in.size(2), q_in.size(3), v_in.size(3), landmarks_, iterations,
                 1.f / std::sqrt(float(q_in.size(3)))};
    check(d.m >= 1 && d.m <= d.N && d.m <= d.Nk, "nystrom_attention_fused: landmarks=", d.m,
          " must be in 1..min(N, Nk) = ", std::min(d.N, d.Nk));
    check(d.it >= 1, "nystrom_attention_fused: iterations=", d.it, " must be >= 1");
    Tensor q = unit_last_stride(q_in.detach()), k = unit_last_stride(k_in.detach()), v = unit_last_stride(v_in.detach());
    Tensor out = heads_output(B, H, d.N, d.Dv);  // [B,N,H,Dv] memory: the head merge is a view
    {
        HeadRows Q(q), K(k), V(v), O(out);
        parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch s(d);
            for (int64_t bh = lo; bh < hi; ++bh) forward_head(d, Q, K, V, O, bh, s);
        });
    }
    return record("nystrom_attention_fused", out, {q_in, k_in, v_in}, [q, k, v, d](const Tensor& g_in) {
        PROFILE_SCOPE("nystrom_attention_fused backward");
        Tensor g = unit_last_stride(g_in);
        Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()), dv = Tensor::empty(v.shape());
        HeadRows Q(q), K(k), V(v), G(g), dQ(dq), dK(dk), dV(dv);
        parallel_for_balanced(0, q.size(0) * q.size(1), 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch s(d);
            for (int64_t bh = lo; bh < hi; ++bh) backward_head(d, Q, K, V, G, dQ, dK, dV, bh, s);
        });
        return std::vector<Tensor>{dq, dk, dv};
    });
}

}  // namespace attnlab::attention

// block_sparse_key_lanes.cpp — the fused sparse_attention op's blocks of few queries
// (Block::mask_r set, by use_key_lanes: bigbird's blocks of 8 queries and their 48 keys, and the
// dense rows of such a layout), forward and backward. The rest of the op: block_sparse_kernel.cpp.
//
// Such a block holds its scores S [nq, nk padded to the vector width] with the keys along the
// lanes, so that a block of few queries fills the vectors with its own keys; its rows are masked
// and normalized one query at a time, with the same online softmax as the other blocks:
//   forward:  S = s·Qb Kbᵀ + mask;  m' = max(m_i, rowmax S_r),  P_r = e^(S_r − m'),
//             l_i = e^(m_i − m')·l_i + rowsum P_r,  acc_i = e^(m_i − m')·acc_i + (P Vb)_r
//   backward: P = e^(S − L_i),  dS = P ∘ (dOb Vbᵀ − Δ);  dQb += s·dS Kb,  dKb += s·dSᵀ Qb,  dVb += Pᵀ dOb
// Its keys are runs of consecutive tokens (lane_runs): Kbᵀ and Vbᵀ come from one copy of the head
// made per head, in transposed chunks of 8 tokens (read in place by chunk_gemm.h when the runs are
// whole chunks, else copied into a tile); Vb, Kb and the dKb, dVb rows are read and added in place
// run by run (rows8_gemm.h), and a block of consecutive live queries reads Qb, dOb and adds dQb in
// place. No gathers. The keys of the block 8 ahead (kPrefetchAhead, block_sparse_kernel.cpp) are
// prefetched into L2.
// Cost per block: 7 products of nq × nk × D (S twice, dP, P·V, dQ, dK, dV) and nq·nk exps twice.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <vector>

#include "attention/sparse/block_sparse_block.h"
#include "attention/sparse/chunk_gemm.h"
#include "attention/sparse/rows8_gemm.h"
#include "attention/sparse/transpose16.h"
#include "core/kernels/fastmath.h"
#include "core/kernels/small_gemm.h"

namespace attnlab::attention::block_sparse {

namespace {

// Row maximum and sum over n (a multiple of kLanes) floats in vector registers: a running scalar
// is one serial chain, and GCC left these loops scalar.
inline float row_max(const float* s, int64_t n, float m) {
    small::VecF v = small::load_vec(s);
    for (int64_t c = small::kLanes; c < n; c += small::kLanes) {
        const small::VecF x = small::load_vec(s + c);
        v = v > x ? v : x;
    }
#if defined(__AVX512F__)
    const float vm = _mm512_reduce_max_ps(v);  // (a shuffle tree: lane by lane was most of the row's time)
    return m > vm ? m : vm;
#else
    for (int l = 0; l < small::kLanes; ++l) m = m > v[l] ? m : v[l];
    return m;
#endif
}
inline float row_sum(const float* s, int64_t n) {
    small::VecF v = small::VecF{};
    for (int64_t c = 0; c < n; c += small::kLanes) v += small::load_vec(s + c);
#if defined(__AVX512F__)
    return _mm512_reduce_add_ps(v);
#else
    float sum = 0.f;
    for (int l = 0; l < small::kLanes; ++l) sum += v[l];
    return sum;
#endif
}

// s += mask (−inf where blocked); returns max(m, max_c s_c).
[[gnu::noinline]] float mask_row(float* __restrict s, const float* __restrict mask, int64_t n, float m) {
    for (int64_t c = 0; c < lanes(n); ++c) s[c] += mask[c];
    return row_max(s, n, m);
}

// s = e^(s − shift) (−inf gives 0); returns Σ_c s_c.
[[gnu::noinline]] float exp_row(float* __restrict s, float shift, int64_t n) {
    for (int64_t c = 0; c < lanes(n); ++c) s[c] = fast::exp(s[c] - shift);
    return row_sum(s, n);
}

// p = e^(s + mask − L), ds = p (dp − Δ) (in place: s → p, dp → ds).
[[gnu::noinline]] void grad_row(float* __restrict s, float* __restrict dp, const float* __restrict mask, float L,
                                float delta, int64_t n) {
    for (int64_t c = 0; c < lanes(n); ++c) {
        const float p = fast::exp(s[c] + mask[c] - L);
        s[c] = p;
        dp[c] = p * (dp[c] - delta);
    }
}

// Head bh of X [N, D] as chunks of kChunk tokens, each chunk transposed [D, kChunk]:
//   xt[(i / kChunk)·kChunk·D + d·kChunk + i % kChunk] = X[i][d]
// made once per head (N·D floats), so that a key-lanes block's Kbᵀ takes kChunk keys at a time as
// one short vector per d, from D rows of one contiguous chunk (its cache lines, as few as the keys').
constexpr int64_t kChunk = chunk::kWidth;
typedef chunk::Vec8 ChunkVec;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12, on the _mm512_undefined_* inside transpose16
void head_chunks_t(const HeadRows& X, int64_t bh, int64_t N, int64_t D, std::vector<float>& xt) {
    const int64_t chunks = (N + kChunk - 1) / kChunk;
    xt.resize(size_t(chunks * kChunk * D));
    int64_t c = 0;
    if (D % 16 == 0)  // two chunks at a time, 16 × 16 in registers (transpose16.h), then split
        for (; (c + 2) * kChunk <= N; c += 2)
            for (int64_t d0 = 0; d0 < D; d0 += 16) {
                alignas(64) float t[16 * 16];  // t[dd·16 + i] = X[16c/2 + i][d0 + dd]
                transpose16(X.at(bh, c * kChunk) + d0, X.row, t, 16, 1.f);
                for (int64_t dd = 0; dd < 16; ++dd)
                    for (int64_t h = 0; h < 2; ++h) {
                        ChunkVec v;
                        std::memcpy(&v, t + dd * 16 + h * kChunk, sizeof v);
                        std::memcpy(xt.data() + ((c + h) * D + d0 + dd) * kChunk, &v, sizeof v);
                    }
            }
    for (; c < chunks; ++c) {
        float* dst = xt.data() + c * kChunk * D;
        const int64_t n = std::min(kChunk, N - c * kChunk);
        for (int64_t i = 0; i < n; ++i) {
            const float* x = X.at(bh, c * kChunk + i);
            for (int64_t d = 0; d < D; ++d) dst[d * kChunk + i] = x[d];
        }
        for (int64_t i = n; i < kChunk; ++i)  // (the last chunk's missing tokens: never read)
            for (int64_t d = 0; d < D; ++d) dst[d * kChunk + i] = 0.f;
    }
}
#pragma GCC diagnostic pop

// The chunked transposed head of X for head bh, made on first use (tag: the head it holds).
const float* head_t(const HeadRows& X, int64_t bh, int64_t D, std::vector<float>& xt, int64_t& tag, int64_t N) {
    if (tag != bh) head_chunks_t(X, bh, N, D, xt), tag = bh;
    return xt.data();
}

// Asks for the cache lines the next key-lanes block reads: its keys' chunks in the transposed
// heads hts (the random blocks are far from this block's, where no hardware prefetcher looks)
// and its key rows in Xs.
void prefetch_next(const Block& blk, std::initializer_list<const float*> hts, int64_t D,
                   std::initializer_list<const HeadRows*> Xs, int64_t bh) {
    auto l2 = [](const float* p) { __builtin_prefetch(p, 0, 2); };  // into L2: a block's rows and chunks
    for (int64_t r = 0; r < blk.n_next_runs; ++r) {                  // fill the 32 KB L1 already
        const KeyRun& run = blk.next_runs[r];
        const int64_t c0 = run.first / kChunk, c1 = (run.first + run.count - 1) / kChunk;
        for (const float* ht : hts)
            for (const float* p = ht + c0 * kChunk * D; p < ht + (c1 + 1) * kChunk * D; p += 16) l2(p);
        for (const HeadRows* X : Xs)
            for (int64_t i = run.first; i < run.first + run.count; ++i)
                for (int64_t d = 0; d < D; d += 16) l2(X->at(bh, i) + d);
    }
}

// A key-lanes block's Xbᵀ [D, nkp] (zero padding keys) from the chunked transposed head ht, run by
// run: whole chunks as one vector per d, the keys of partial chunks one by one.
void lane_tile(const Block& blk, const float* ht, int64_t D, float* xt) {
    const int64_t nkp = padded(blk.nk);
    for (int64_t r = 0; r < blk.n_lane_runs; ++r) {
        const KeyRun& run = blk.lane_runs[r];
        for (int64_t j = 0; j < run.count;) {
            const int64_t tok = run.first + j, slot = run.slot + j;
            const float* src = ht + (tok / kChunk) * kChunk * D + tok % kChunk;
            if (tok % kChunk == 0 && j + kChunk <= run.count) {
                for (int64_t d = 0; d < D; ++d) {
                    ChunkVec v;
                    std::memcpy(&v, src + d * kChunk, sizeof v);
                    std::memcpy(xt + d * nkp + slot, &v, sizeof v);
                }
                j += kChunk;
            } else {
                for (int64_t d = 0; d < D; ++d) xt[d * nkp + slot] = src[d * kChunk];
                ++j;
            }
        }
    }
    for (int64_t d = 0; d < D; ++d)
        for (int64_t c = blk.nk; c < nkp; ++c) xt[d * nkp + c] = 0.f;
}

// The block's keys as whole chunks of the chunked transposed head ht (of N tokens), their
// addresses in `out`: false when a run does not start at a chunk or ends inside one (then
// lane_tile copies them), but for the last run ending at token N, in the last chunk, whose
// missing tokens are zeros (their score columns are padding slots, blocked by the mask).
bool whole_chunks(const Block& blk, const float* ht, int64_t D, int64_t N, std::vector<const float*>& out) {
    out.clear();
    for (int64_t r = 0; r < blk.n_lane_runs; ++r) {
        const KeyRun& run = blk.lane_runs[r];
        const bool ends_at_n = r == blk.n_lane_runs - 1 && run.first + run.count == N;
        if (run.first % kChunk != 0 || (run.count % kChunk != 0 && !ends_at_n)) return false;
        for (int64_t j = 0; j < run.count; j += kChunk) out.push_back(ht + (run.first + j) * D);
    }
    return true;
}

// S [nq, nkp] = alpha·A Xbᵀ for A [nq, D], the keys' transposed rows from the chunked head ht:
// read in place when they are whole chunks (chunk_gemm.h; the padding columns zeroed), else
// copied into the tile xt first.
void lane_scores(const Block& blk, const float* A, int64_t lda, const float* ht, int64_t D, int64_t N, float alpha,
                 std::vector<const float*>& chunks, std::vector<float>& xt, float* S) {
    const int64_t nq = blk.nq, nkp = padded(blk.nk);
    if (whole_chunks(blk, ht, D, N, chunks)) {
        const int64_t nc = int64_t(chunks.size());
        chunk::scores(nq, nc, D, alpha, A, lda, chunks.data(), S, nkp);
        for (int64_t r = 0; r < nq; ++r) std::fill(S + r * nkp + nc * kChunk, S + (r + 1) * nkp, 0.f);
        return;
    }
    xt.resize(size_t(D * nkp));
    lane_tile(blk, ht, D, xt.data());
    small::gemm<false>(nq, nkp, D, alpha, A, lda, xt.data(), nkp, false, S, nkp);
}

// C [nq, D] = alpha·A Xb (+ C when acc) for A [nq, nkp] (keys along the lanes), Xb's rows read in
// place run by run.
void lanes_times_rows(const Block& blk, const float* A, int64_t nkp, const HeadRows& X, int64_t bh, int64_t D,
                      float alpha, bool acc, float* C, int64_t ldc) {
    for (int64_t r = 0; r < blk.n_lane_runs; ++r, acc = true) {
        const KeyRun& run = blk.lane_runs[r];
        gemm_rows8<false>(blk.nq, D, run.count, alpha, A + run.slot, nkp, X.at(bh, run.first), X.row, acc, C, ldc);
    }
}

// dXb += alpha·Aᵀ Yb (A [nq, nkp], Yb [nq, D]) added in place into the key rows of dX, run by run.
void lanes_add_to_rows(const Block& blk, const float* A, int64_t nkp, const float* Yb, int64_t ldy, int64_t D,
                       float alpha, const HeadRows& dX, int64_t bh) {
    for (int64_t r = 0; r < blk.n_lane_runs; ++r) {
        const KeyRun& run = blk.lane_runs[r];
        gemm_rows8<true>(run.count, D, blk.nq, alpha, A + run.slot, nkp, Yb, ldy, true, dX.at(bh, run.first), dX.row);
    }
}

// True when the block's query slots are consecutive tokens, all live (bigbird's blocks but the
// short last one): their rows are then read, and their gradient rows written, in place.
bool queries_in_place(const Block& blk) {
    for (int64_t r = 0; r < blk.nq; ++r)
        if (!is_live(blk, r) || blk.queries[r] != blk.queries[0] + r) return false;
    return true;
}

// The block's query rows of X, [nq, D] with row stride ld: in place, or gathered into xb (the slots
// that are not live zeroed).
struct QueryRows {
    const float* x;
    int64_t ld;
};
QueryRows query_rows(const Block& blk, bool in_place, const HeadRows& X, int64_t bh, int64_t D,
                     std::vector<float>& xb) {
    if (in_place) return {X.at(bh, blk.queries[0]), X.row};
    xb.resize(size_t(blk.nq * D));
    gather(X, bh, blk.queries, blk.nq, D, xb.data());
    for (int64_t r = 0; r < blk.nq; ++r)
        if (!is_live(blk, r)) std::fill(xb.data() + r * D, xb.data() + (r + 1) * D, 0.f);
    return {xb.data(), D};
}

}  // namespace

void forward_key_lanes_block(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                             const HeadRows& O, int64_t bh, int64_t D, float scale, Scratch& w) {
    const int64_t nq = blk.nq, nkp = padded(blk.nk);
    const QueryRows q = query_rows(blk, queries_in_place(blk), Q, bh, D, w.qb);
    const float* kt = head_t(K, bh, D, w.kt_head, w.kt_bh, w.n);
    prefetch_next(blk, {kt}, D, {&V}, bh);
    w.S.resize(size_t(nq * nkp)), w.pv.resize(size_t(nq * D));
    w.m_old.resize(size_t(nq)), w.m_new.resize(size_t(nq)), w.sum.resize(size_t(nq));
    float* S = w.S.data();
    lane_scores(blk, q.x, q.ld, kt, D, w.n, scale, w.chunks, w.qt, S);  // S = s·Qb Kbᵀ
    for (int64_t r = 0; r < nq; ++r) {  // m' = max(m_i, max S_r + mask), P_r = e^(S_r − m')
        float* s = S + r * nkp;
        w.m_new[size_t(r)] = kNegInf;
        if (is_live(blk, r)) {
            const float m_old = w.m[size_t(blk.queries[r])];
            const float mx = mask_row(s, blk.mask_r + r * blk.mask_ld, nkp, m_old);
            w.m_old[size_t(r)] = m_old, w.m_new[size_t(r)] = mx;
            if (mx != kNegInf) {
                w.sum[size_t(r)] = exp_row(s, mx, nkp);
                continue;
            }
        }
        std::fill(s, s + nkp, 0.f);  // not live, or no allowed key yet: no weight
    }
    lanes_times_rows(blk, S, nkp, V, bh, D, 1.f, false, w.pv.data(), D);  // P Vb
    for (int64_t r = 0; r < nq; ++r) {
        if (w.m_new[size_t(r)] == kNegInf) continue;
        const int64_t i = blk.queries[r];
        const float m_old = w.m_old[size_t(r)], alpha = m_old == kNegInf ? 0.f : fast::exp(m_old - w.m_new[size_t(r)]);
        w.l[size_t(i)] = w.l[size_t(i)] * alpha + w.sum[size_t(r)];
        w.m[size_t(i)] = w.m_new[size_t(r)];
        float* acc = O.at(bh, i);
        const float* pv = w.pv.data() + r * D;
        for (int64_t d = 0; d < D; ++d) acc[d] = acc[d] * alpha + pv[d];
    }
}

void backward_key_lanes_block(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                              const HeadRows& dO, const float* lse, const float* delta, const HeadRows& dQ,
                              const HeadRows& dK, const HeadRows& dV, int64_t bh, int64_t D, float scale,
                              Scratch& w) {
    const int64_t nq = blk.nq, nkp = padded(blk.nk);
    const bool in_place = queries_in_place(blk);
    const QueryRows q = query_rows(blk, in_place, Q, bh, D, w.qb);     // Qb
    const QueryRows g = query_rows(blk, in_place, dO, bh, D, w.dob);  // dOb (rows that are not live: 0)
    const float *kt = head_t(K, bh, D, w.kt_head, w.kt_bh, w.n), *vt = head_t(V, bh, D, w.vt_head, w.vt_bh, w.n);
    prefetch_next(blk, {kt, vt}, D, {&K, &dK, &dV}, bh);
    w.S.resize(size_t(nq * nkp)), w.dS.resize(size_t(nq * nkp)), w.dqb.resize(size_t(nq * D));
    float *P = w.S.data(), *dS = w.dS.data();
    lane_scores(blk, q.x, q.ld, kt, D, w.n, scale, w.chunks, w.qt, P);  // S = s·Qb Kbᵀ
    lane_scores(blk, g.x, g.ld, vt, D, w.n, 1.f, w.chunks, w.dot, dS);  // dP = dOb Vbᵀ
    for (int64_t r = 0; r < nq; ++r) {  // a slot that is not live (or sees no key) gets L = +∞, so P = 0
        const int64_t i = blk.queries[r];
        const bool live = is_live(blk, r) && lse[i] != kNegInf;
        grad_row(P + r * nkp, dS + r * nkp, blk.mask_r + r * blk.mask_ld, live ? lse[i] : INFINITY,
                 live ? delta[i] : 0.f, nkp);
    }
    lanes_add_to_rows(blk, dS, nkp, q.x, q.ld, D, scale, dK, bh);  // dKb += s·dSᵀ Qb
    lanes_add_to_rows(blk, P, nkp, g.x, g.ld, D, 1.f, dV, bh);     // dVb += Pᵀ dOb
    if (in_place)  // dQb += s·dS Kb, in place
        return lanes_times_rows(blk, dS, nkp, K, bh, D, scale, true, dQ.at(bh, blk.queries[0]), dQ.row);
    lanes_times_rows(blk, dS, nkp, K, bh, D, scale, false, w.dqb.data(), D);  // dQb = s·dS Kb
    for (int64_t r = 0; r < nq; ++r) {
        if (!is_live(blk, r)) continue;
        float* dq = dQ.at(bh, blk.queries[r]);
        for (int64_t d = 0; d < D; ++d) dq[d] += w.dqb[size_t(r * D + d)];
    }
}

}  // namespace attnlab::attention::block_sparse

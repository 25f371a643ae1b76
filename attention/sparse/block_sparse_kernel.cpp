// block_sparse_kernel.cpp — the fused sparse_attention op (see block_sparse.h): the blocks
// of one or more SparseLayouts, with an online softmax per query, forward and backward.
//
// Per head and block (nq query slots gathered into per-thread scratch; nk key slots read in place
// as runs of evenly spaced tokens, or gathered when they are too scattered), scale s:
//   forward:  S = s·Qb Kbᵀ, −inf where blocked; for each live query row r (token i):
//               m' = max(m_i, rowmax S_r),  P_r = e^(S_r − m'),  α = e^(m_i − m'),
//               l_i = α·l_i + rowsum P_r,   acc_i = α·acc_i + (P Vb)_r,   m_i = m'
//             and once all blocks are done: out_i = acc_i / l_i, L_i = m_i + log l_i (saved).
//   backward: Δ_i = dO_i·O_i;  P = e^(S − L_i);  dVb = Pᵀ dOb;  dS = P ∘ (dOb Vbᵀ − Δ);
//             dQb = s·dS Kb;  dKb = s·dSᵀ Qb;  rows added back to the tokens they came from.
// The scores are held transposed, Sᵀ [nk, np] with the query slots padded to the vector
// width, and the mask with them, so that the masking, the online softmax and dS all run as
// vector loops along the queries, one key row at a time. A layout marked by use_key_lanes
// (bigbird: blocks of 8 queries and their 48 keys) holds S [nq, nk padded to the vector
// width] instead, so that a block of few queries fills the lanes with its own keys; its rows
// are masked and normalized one query at a time. Its keys are runs of consecutive tokens
// (lane_runs): Kbᵀ and Vbᵀ come from one copy of the head made per head, in transposed chunks
// of 8 tokens (read in place by chunk_gemm.h when the runs are whole chunks, else copied into a
// tile); Vb, Kb and the dKb, dVb rows are read and added in place run by run, and a block of
// consecutive live queries reads Qb, dOb and adds dQb in place. No gathers.
// A slot is live when its token's output comes from it (out_index): padding slots and
// block slots overridden by a dense row are skipped. The dense rows are one more block:
// their G queries against all N keys (row by row, one key at a time, when G ≤ 4; keys along
// the lanes, as one run of N keys, in a use_key_lanes layout). A token with no allowed key
// gets out_i = 0.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <memory>
#include <vector>

#include "attention/sparse/block_sparse.h"
#include "attention/sparse/chunk_gemm.h"
#include "attention/sparse/rows8_gemm.h"
#include "attention/sparse/transpose16.h"
#include "attention/head_rows.h"
#include "core/autograd/autograd.h"
#include "core/kernels/fastmath.h"
#include "core/ops/ops.h"
#include "core/kernels/parallel.h"
#include "core/util/profiler.h"
#include "core/kernels/small_gemm.h"

namespace attnlab::attention {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One block: nq queries (token rows) against nk keys (token rows; null = 0..nk−1). Its mask
// (and bias) come as one additive score tile, transposed: [nk, padded(nq)], −inf where blocked
// (and in the padding slots), else 0 or the bias.
struct Block {
    const int64_t* queries;
    int64_t nq;
    const int64_t* keys;
    int64_t nk;
    const float* mask_t;  // [nk, np] added to the scaled scores
    const uint8_t* live;  // [nq], 1 = the slot's output counts
    const uint8_t* open;  // [nk], 1 = the key is allowed in every query slot: its mask row is
                          // skipped (padding slots then keep finite scores, never read); or null
    const KeyRun* runs = nullptr;  // the keys as runs of evenly spaced tokens, read and updated in
    int64_t n_runs = 0;            // place; none: gathered
    const float* mask_r = nullptr;  // set: keys along the lanes (use_key_lanes), mask [nq, mask_ld]
    int64_t mask_ld = 0;
    const KeyRun* lane_runs = nullptr;  // with mask_r: the keys as runs of consecutive tokens
    int64_t n_lane_runs = 0;
    const KeyRun* next_runs = nullptr;  // and those of a block ahead (prefetched while this one runs)
    int64_t n_next_runs = 0;
};

using BlockVisitor = std::function<void(const Block&)>;
using BlockSource = std::function<void(int64_t bh, const BlockVisitor&)>;  // the blocks of head bh

// Query slots rounded up to the vector width: the scores are kept transposed, Sᵀ = s·Kb Qbᵀ
// [nk, np], so that the products, the masking and the softmax all run along the (padded)
// queries with full vectors, and only the few queries, not the many keys, are transposed.
// Query r's scores are column r; padding columns come from zero queries and are never written back.
int64_t padded(int64_t nq) { return padded_slots(nq); }

// How many blocks ahead a key-lanes block prefetches the keys of (Block::next_runs), into L2:
// at N = 16384 a head's K, V, dK, dV (2 MB each at D = 32) are past the 1 MB L2, and a block's
// random key blocks are misses. 8 blocks ahead into L2 measured faster than 1 or 3 into L1 (the
// lines were gone from the 32 KB L1 again before their use) and no slower than 16.
constexpr int64_t kPrefetchAhead = 8;

void for_each_block(const SparseLayout& L, const BlockVisitor& f) {
    const int64_t bs = L.block_size, kb = L.block_keys, np = padded(bs), kp = padded(kb);
    const bool lanes = !L.mask_r.empty();
    auto lane_runs = [&](int64_t b) { return lanes && b < L.blocks ? L.lane_runs.data() + L.lane_run_offset[size_t(b)] : nullptr; };
    auto lane_count = [&](int64_t b) {
        return lanes && b < L.blocks ? L.lane_run_offset[size_t(b + 1)] - L.lane_run_offset[size_t(b)] : 0;
    };
    for (int64_t b = 0; b < L.blocks; ++b)
        if (L.key_count[size_t(b)] > 0)  // (trailing padding key slots are left out)
            f(Block{L.query_rows.data() + b * bs, bs, L.key_rows.data() + b * kb, L.key_count[size_t(b)],
                    L.mask_t.data() + b * kb * np, L.live.data() + b * bs, L.open_keys.data() + b * kb,
                    L.key_runs.data() + L.run_offset[size_t(b)], L.run_offset[size_t(b + 1)] - L.run_offset[size_t(b)],
                    lanes ? L.mask_r.data() + b * bs * kp : nullptr, kp, lane_runs(b), lane_count(b),
                    lane_runs(b + kPrefetchAhead), lane_count(b + kPrefetchAhead)});
    const KeyRun all{0, 0, L.seq_len, 1};  // the dense rows see every key
    if (!L.dense_rows.empty()) {
        Block dense{L.dense_rows.data(), int64_t(L.dense_rows.size()), nullptr, L.seq_len, L.dense_mask_t.data(),
                    L.live.data() + L.blocks * bs, L.dense_open_keys.data(), &all, 1};
        if (!L.dense_mask_r.empty())  // keys along the lanes too (for more than kRowByRow rows)
            dense.mask_r = L.dense_mask_r.data(), dense.mask_ld = padded(L.seq_len), dense.lane_runs = L.dense_runs.data(),
            dense.n_lane_runs = 1;
        f(dense);
    }
}

// HeadBlocks keep their masks and biases as [nq, nk]: made one transposed tile here, block by block.
void for_each_block(const HeadBlocks& h, const BlockVisitor& f) {
    const int64_t blocks = h.nq > 0 ? int64_t(h.queries.size()) / h.nq : 0, nq = h.nq, nk = h.nk, np = padded(nq);
    std::vector<float> mask(size_t(nk * np));
    for (int64_t b = 0; b < blocks; ++b) {
        std::fill(mask.begin(), mask.end(), kNegInf);
        for (int64_t r = 0; r < nq; ++r)
            for (int64_t c = 0; c < nk; ++c) {
                const size_t at = size_t((b * nq + r) * nk + c);
                if (!h.blocked[at]) mask[size_t(c * np + r)] = h.bias.empty() ? 0.f : h.bias[at];
            }
        f(Block{h.queries.data() + b * nq, nq, h.keys.data() + b * nk, nk, mask.data(), h.live.data() + b * nq,
                nullptr});
    }
}

// rows [n, D] <- the given token rows of a head.
void gather(const HeadRows& X, int64_t bh, const int64_t* rows, int64_t n, int64_t D, float* out) {
    const float* head = X.at(bh, 0);
    for (int64_t r = 0; r < n; ++r) {
        const float* x = head + (rows ? rows[r] : r) * X.row;
        int64_t d = 0;  // (vector copies: std::copy was a memmove call per row, 7 % of bigbird's time)
        for (; d + small::kLanes <= D; d += small::kLanes) small::store_vec(out + r * D + d, small::load_vec(x + d));
        for (; d < D; ++d) out[r * D + d] = x[d];
    }
}

// Rows slot … slot + count − 1 of a block's Xb, the first at x, one every ld floats.
struct RowRun {
    const float* x;
    int64_t ld, slot, count;
};

// A block's Xb [nk, D] as runs of rows: its key runs read in place in the head, or else one run
// gathered into `xb`.
void key_rows(const Block& blk, const HeadRows& X, int64_t bh, int64_t D, std::vector<float>& xb,
              std::vector<RowRun>& out) {
    out.clear();
    if (blk.n_runs > 0) {
        for (int64_t r = 0; r < blk.n_runs; ++r) {
            const KeyRun& run = blk.runs[r];
            out.push_back(RowRun{X.at(bh, run.first), run.step * X.row, run.slot, run.count});
        }
        return;
    }
    xb.resize(size_t(blk.nk * D));
    gather(X, bh, blk.keys, blk.nk, D, xb.data());
    out.push_back(RowRun{xb.data(), D, 0, blk.nk});
}

// Sᵀ [nk, np] = alpha·Xb Ybᵀ, Yb given transposed (yt [D, np]): one product per run of Xb's rows.
void scores_t(const std::vector<RowRun>& xb, const float* yt, int64_t np, int64_t D, float alpha, float* ST) {
    for (const RowRun& r : xb) small::gemm<false>(r.count, np, D, alpha, r.x, r.ld, yt, np, false, ST + r.slot * np, np);
}

// C [nq, D] = alpha·(Aᵀ)ᵀ Xb = alpha·A Xb for A given transposed (at [nk, np]): the runs' products summed.
void times_rows(const float* at, int64_t np, const std::vector<RowRun>& xb, int64_t nq, int64_t D, float alpha,
                float* C) {
    bool acc = false;
    for (const RowRun& r : xb) {
        small::gemm<true>(nq, D, r.count, alpha, at + r.slot * np, np, r.x, r.ld, acc, C, D);
        acc = true;
    }
}

struct Scratch {
    std::vector<float> qb, qt, kb, vb, S, pv, dob, dot, dS, dqb, dkb, dvb, delta;
    std::vector<float> m_old, m_new, shift, sum;  // per query slot of a block
    std::vector<float> m, l;                      // per token of the head
    std::vector<RowRun> kr, vr;                   // the block's key and value rows
    // Key-lanes blocks: K and V of head kt_bh / vt_bh as transposed chunks (head_chunks_t), and N.
    std::vector<float> kt_head, vt_head;
    int64_t kt_bh = -1, vt_bh = -1, n = 0;
    std::vector<const float*> chunks;  // a key-lanes block's keys as chunks of such a head
};

bool is_live(const Block& blk, int64_t r) { return blk.live[r] != 0; }

// np is a multiple of kLanes, and saying so (lanes(np)) lets GCC drop the scalar tail of the
// loops below. The mask is float, not bytes: a byte operand makes GCC take 64 slots per step,
// and the usual np = 16 or 32 then ran in the scalar tail.
inline int64_t lanes(int64_t np) {
    if (np % small::kLanes != 0) __builtin_unreachable();
    return np;
}

// The three passes over a block's Sᵀ [nk, np], one key row at a time. Each is one call per
// block (noinline keeps restrict meaning no aliasing), its loops along the np query slots.

// Sᵀ += mask (−inf where blocked; rows of open keys skip it); mx[r] = max(mx[r], column r of Sᵀ).
[[gnu::noinline]] void mask_scores(float* __restrict ST, const float* __restrict mask, const uint8_t* open,
                                   float* __restrict mx, int64_t nk, int64_t np) {
    for (int64_t c = 0; c < nk; ++c) {
        float* s = ST + c * np;
        const float* m = mask + c * np;
        if (open && open[c])
            for (int64_t r = 0; r < lanes(np); ++r) mx[r] = mx[r] > s[r] ? mx[r] : s[r];
        else
            for (int64_t r = 0; r < lanes(np); ++r) {
                const float x = s[r] + m[r];
                s[r] = x;
                mx[r] = mx[r] > x ? mx[r] : x;
            }
    }
}

// Pᵀ = e^(Sᵀ − shift) (−inf gives 0); sum[r] += column r of Pᵀ.
[[gnu::noinline]] void exp_scores(float* __restrict ST, const float* __restrict shift, float* __restrict sum,
                                  int64_t nk, int64_t np) {
    for (int64_t c = 0; c < nk; ++c) {
        float* s = ST + c * np;
        for (int64_t r = 0; r < lanes(np); ++r) {
            const float p = fast::exp(s[r] - shift[r]);
            s[r] = p;
            sum[r] += p;
        }
    }
}

// Pᵀ = e^(Sᵀ + mask − L) (0 where blocked); dSᵀ = Pᵀ ∘ (dPᵀ − Δ) (in place: S → P, dP → dS).
[[gnu::noinline]] void grad_scores(float* __restrict ST, float* __restrict dPT, const float* __restrict mask,
                                   const uint8_t* open, const float* __restrict L, const float* __restrict delta,
                                   int64_t nk, int64_t np) {
    for (int64_t c = 0; c < nk; ++c) {
        float *s = ST + c * np, *dp = dPT + c * np;
        const float* m = mask + c * np;
        if (open && open[c])
            for (int64_t r = 0; r < lanes(np); ++r) {
                const float p = fast::exp(s[r] - L[r]);
                s[r] = p;
                dp[r] = p * (dp[r] - delta[r]);
            }
        else
            for (int64_t r = 0; r < lanes(np); ++r) {
                const float p = fast::exp(s[r] + m[r] - L[r]);
                s[r] = p;
                dp[r] = p * (dp[r] - delta[r]);
            }
    }
}

// A dense row's query against all N keys, one key at a time (no transposed tile: with few dense
// rows its padding slots would cost np / G times the rows themselves). The same online update.
// Dense blocks of at most kRowByRow queries go this way.
constexpr int64_t kRowByRow = 4;

bool row_by_row(const Block& blk) { return !blk.keys && blk.nq <= kRowByRow; }

// The additive mask of slot r at key j (0 for open keys).
inline float mask_at(const Block& blk, int64_t r, int64_t j, int64_t np) {
    return blk.open && blk.open[j] ? 0.f : blk.mask_t[j * np + r];
}

[[gnu::noinline]] void forward_row(const Block& blk, int64_t r, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                 const HeadRows& O, int64_t bh, int64_t D, float scale, Scratch& w) {
    if (!is_live(blk, r)) return;
    const int64_t i = blk.queries[r], N = blk.nk, np = padded(blk.nq);
    w.S.resize(size_t(N)), w.pv.assign(size_t(D), 0.f);
    float *s = w.S.data(), *pv = w.pv.data();
    const float* q = Q.at(bh, i);
    const float m_old = w.m[size_t(i)];
    float mx = m_old;
    for (int64_t j = 0; j < N; ++j) {  // s_j = s·q·k_j + mask, m' = max(m_i, max_j s_j)
        s[j] = scale * small::dot(q, K.at(bh, j), D) + mask_at(blk, r, j, np);
        mx = mx > s[j] ? mx : s[j];
    }
    if (mx == kNegInf) return;  // no allowed key yet
    float sum = 0.f;
    for (int64_t j = 0; j < N; ++j) {  // p_j = e^(s_j − m'), Σ p_j (a vector loop along the keys)
        s[j] = fast::exp(s[j] - mx);
        sum += s[j];
    }
    for (int64_t j = 0; j < N; ++j) {  // Σ p_j v_j
        const float* v = V.at(bh, j);
        for (int64_t d = 0; d < D; ++d) pv[d] += s[j] * v[d];
    }
    const float alpha = m_old == kNegInf ? 0.f : fast::exp(m_old - mx);
    w.l[size_t(i)] = w.l[size_t(i)] * alpha + sum;
    w.m[size_t(i)] = mx;
    float* acc = O.at(bh, i);
    for (int64_t d = 0; d < D; ++d) acc[d] = acc[d] * alpha + pv[d];
}

// Its backward: p_j = e^(s_j − L_i), ds_j = p_j (dO_i·v_j − Δ_i); dv_j += p_j dO_i, dk_j += s·ds_j q_i,
// dq_i += s·Σ ds_j k_j. In three passes over the keys: the dot products, then p and ds as vector
// loops along the keys, then the updates.
[[gnu::noinline]] void backward_row(const Block& blk, int64_t r, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                  const HeadRows& dO, const float* lse, const float* delta, const HeadRows& dQ, const HeadRows& dK,
                  const HeadRows& dV, int64_t bh, int64_t D, float scale, Scratch& w) {
    if (!is_live(blk, r)) return;
    const int64_t i = blk.queries[r], N = blk.nk, np = padded(blk.nq);
    if (lse[i] == kNegInf) return;  // sees no key: no gradient
    w.S.resize(size_t(N)), w.dS.resize(size_t(N)), w.dqb.assign(size_t(D), 0.f);
    float *p = w.S.data(), *ds = w.dS.data(), *dqi = w.dqb.data();
    const float *q = Q.at(bh, i), *g = dO.at(bh, i), L = lse[i], dl = delta[i];
    for (int64_t j = 0; j < N; ++j) {  // s_j + mask − L_i, dO_i·v_j
        p[j] = scale * small::dot(q, K.at(bh, j), D) + mask_at(blk, r, j, np) - L;
        ds[j] = small::dot(g, V.at(bh, j), D);
    }
    for (int64_t j = 0; j < N; ++j) {
        const float pj = fast::exp(p[j]);
        p[j] = pj;
        ds[j] = pj * (ds[j] - dl);
    }
    for (int64_t j = 0; j < N; ++j) {
        if (p[j] == 0.f) continue;  // blocked
        const float pj = p[j], sds = scale * ds[j], dsj = ds[j];
        const float* k = K.at(bh, j);
        float *dk = dK.at(bh, j), *dv = dV.at(bh, j);
        for (int64_t d = 0; d < D; ++d) dv[d] += pj * g[d], dk[d] += sds * q[d], dqi[d] += dsj * k[d];
    }
    float* dq = dQ.at(bh, i);
    for (int64_t d = 0; d < D; ++d) dq[d] += scale * dqi[d];
}

// ---- blocks with the keys along the lanes (Block::mask_r): S [nq, nkp], one query row at a time ----

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

[[gnu::noinline]] void forward_block_rows(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
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

[[gnu::noinline]] void backward_block_rows(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
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

[[gnu::noinline]] void forward_block(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                   const HeadRows& O, int64_t bh, int64_t D, float scale, Scratch& w) {
    if (row_by_row(blk)) {
        for (int64_t r = 0; r < blk.nq; ++r) forward_row(blk, r, Q, K, V, O, bh, D, scale, w);
        return;
    }
    if (blk.mask_r) return forward_block_rows(blk, Q, K, V, O, bh, D, scale, w);
    const int64_t nq = blk.nq, nk = blk.nk, np = padded(nq);
    w.qb.resize(size_t(nq * D)), w.qt.resize(size_t(D * np)), w.S.resize(size_t(nk * np)), w.pv.resize(size_t(nq * D));
    w.m_old.resize(size_t(np)), w.m_new.resize(size_t(np)), w.shift.resize(size_t(np)), w.sum.resize(size_t(np));
    gather(Q, bh, blk.queries, nq, D, w.qb.data());
    small::transpose_padded(w.qb.data(), D, nq, D, w.qt.data(), np);
    key_rows(blk, K, bh, D, w.kb, w.kr);
    key_rows(blk, V, bh, D, w.vb, w.vr);
    float *ST = w.S.data(), *m_old = w.m_old.data(), *m_new = w.m_new.data(), *shift = w.shift.data(),
          *sum = w.sum.data();
    scores_t(w.kr, w.qt.data(), np, D, scale, ST);  // Sᵀ = s·Kb Qbᵀ
    for (int64_t r = 0; r < np; ++r) m_old[r] = r < nq && is_live(blk, r) ? w.m[size_t(blk.queries[r])] : kNegInf;
    std::copy(m_old, m_old + np, m_new);
    mask_scores(ST, blk.mask_t, blk.open, m_new, nk, np);  // m' = max(m_i, rowmax S_r)
    for (int64_t r = 0; r < np; ++r) shift[r] = m_new[r] == kNegInf ? 0.f : m_new[r], sum[r] = 0.f;
    exp_scores(ST, shift, sum, nk, np);  // P = e^(S − m'), blocked (−inf) → 0
    times_rows(ST, np, w.vr, nq, D, 1.f, w.pv.data());  // P Vb = (Pᵀ)ᵀ Vb
    for (int64_t r = 0; r < nq; ++r) {
        if (!is_live(blk, r) || m_new[r] == kNegInf) continue;  // not live, or no allowed key yet
        const int64_t i = blk.queries[r];
        const float alpha = m_old[r] == kNegInf ? 0.f : fast::exp(m_old[r] - m_new[r]);
        w.l[size_t(i)] = w.l[size_t(i)] * alpha + sum[r];
        w.m[size_t(i)] = m_new[r];
        float* acc = O.at(bh, i);
        const float* pv = w.pv.data() + r * D;
        for (int64_t d = 0; d < D; ++d) acc[d] = acc[d] * alpha + pv[d];
    }
}

[[gnu::noinline]] void backward_block(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                    const HeadRows& dO, const float* lse, const float* delta, const HeadRows& dQ, const HeadRows& dK,
                    const HeadRows& dV, int64_t bh, int64_t D, float scale, Scratch& w) {
    constexpr float kInf = std::numeric_limits<float>::infinity();
    if (row_by_row(blk)) {
        for (int64_t r = 0; r < blk.nq; ++r) backward_row(blk, r, Q, K, V, dO, lse, delta, dQ, dK, dV, bh, D, scale, w);
        return;
    }
    if (blk.mask_r) return backward_block_rows(blk, Q, K, V, dO, lse, delta, dQ, dK, dV, bh, D, scale, w);
    const int64_t nq = blk.nq, nk = blk.nk, np = padded(nq);
    w.qb.resize(size_t(nq * D)), w.qt.resize(size_t(D * np)), w.dob.resize(size_t(nq * D)), w.dot.resize(size_t(D * np));
    w.S.resize(size_t(nk * np)), w.dS.resize(size_t(nk * np)), w.dqb.resize(size_t(nq * D));
    w.shift.resize(size_t(np)), w.sum.resize(size_t(np));
    gather(Q, bh, blk.queries, nq, D, w.qb.data());
    gather(dO, bh, blk.queries, nq, D, w.dob.data());
    for (int64_t r = 0; r < nq; ++r)  // rows that are not live take no gradient
        if (!is_live(blk, r)) std::fill(w.dob.data() + r * D, w.dob.data() + (r + 1) * D, 0.f);
    small::transpose_padded(w.qb.data(), D, nq, D, w.qt.data(), np);
    small::transpose_padded(w.dob.data(), D, nq, D, w.dot.data(), np);
    key_rows(blk, K, bh, D, w.kb, w.kr);
    key_rows(blk, V, bh, D, w.vb, w.vr);
    float *PT = w.S.data(), *dST = w.dS.data(), *L = w.shift.data(), *dlt = w.sum.data();
    scores_t(w.kr, w.qt.data(), np, D, scale, PT);  // Sᵀ = s·Kb Qbᵀ
    scores_t(w.vr, w.dot.data(), np, D, 1.f, dST);  // dPᵀ = Vb dObᵀ
    for (int64_t r = 0; r < np; ++r) {  // a slot that is not live (or sees no key) gets L = +∞, so P = 0
        const int64_t i = r < nq ? blk.queries[r] : 0;
        const bool live = r < nq && is_live(blk, r) && lse[i] != kNegInf;
        L[r] = live ? lse[i] : kInf;
        dlt[r] = live ? delta[i] : 0.f;
    }
    grad_scores(PT, dST, blk.mask_t, blk.open, L, dlt, nk, np);  // P = e^(S − L_i), dSᵀ = Pᵀ ∘ (dPᵀ − Δ)
    times_rows(dST, np, w.kr, nq, D, scale, w.dqb.data());  // dQb = s·dS Kb
    for (int64_t r = 0; r < nq; ++r) {
        if (!is_live(blk, r)) continue;
        float* dq = dQ.at(bh, blk.queries[r]);
        for (int64_t d = 0; d < D; ++d) dq[d] += w.dqb[size_t(r * D + d)];
    }
    if (blk.n_runs > 0) {  // keys in runs: dV += Pᵀ dOb, dK += s·dSᵀ Qb in place, run by run
        for (int64_t r = 0; r < blk.n_runs; ++r) {
            const KeyRun& run = blk.runs[r];
            small::gemm<false>(run.count, D, nq, 1.f, PT + run.slot * np, np, w.dob.data(), D, true,
                               dV.at(bh, run.first), run.step * dV.row);
            small::gemm<false>(run.count, D, nq, scale, dST + run.slot * np, np, w.qb.data(), D, true,
                               dK.at(bh, run.first), run.step * dK.row);
        }
        return;
    }
    w.dkb.resize(size_t(nk * D)), w.dvb.resize(size_t(nk * D));
    small::gemm<false>(nk, D, nq, 1.f, PT, np, w.dob.data(), D, false, w.dvb.data(), D);    // dVb = Pᵀ dOb
    small::gemm<false>(nk, D, nq, scale, dST, np, w.qb.data(), D, false, w.dkb.data(), D);  // dKb = s·dSᵀ Qb
    for (int64_t c = 0; c < nk; ++c) {
        float *dk = dK.at(bh, blk.keys[c]), *dv = dV.at(bh, blk.keys[c]);
        for (int64_t d = 0; d < D; ++d) dk[d] += w.dkb[size_t(c * D + d)], dv[d] += w.dvb[size_t(c * D + d)];
    }
}

}  // namespace

Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseLayout& layout) {
    return sparse_attention(q, k, v, std::vector<const SparseLayout*>{&layout});
}

// The op over any block source; `keep` holds what the source reads alive until the backward.
static Tensor fused_sparse_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                     const BlockSource& blocks, std::shared_ptr<const void> keep) {
    PROFILE_SCOPE("sparse_attention");
    check(q_in.dim() == 4 && q_in.shape() == k_in.shape() && k_in.shape() == v_in.shape(),
          "sparse_attention: expected q, k, v [B,H,N,D] of one shape, got ", to_string(q_in.shape()), ", ",
          to_string(k_in.shape()), ", ", to_string(v_in.shape()));
    const int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2), D = q_in.size(3);
    const float scale = 1.f / std::sqrt(float(D));
    Tensor q = unit_last_stride(q_in.detach()), k = unit_last_stride(k_in.detach()), v = unit_last_stride(v_in.detach());
    Tensor out = heads_output(B, H, N, D, /*zeroed=*/true), lse = Tensor::empty({B, H, N});
    {
        HeadRows Q(q), K(k), V(v), O(out);
        float* lse_p = lse.data();
        parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch w;
            w.n = N;
            for (int64_t bh = lo; bh < hi; ++bh) {
                w.m.assign(size_t(N), kNegInf);
                w.l.assign(size_t(N), 0.f);
                blocks(bh, [&](const Block& blk) { forward_block(blk, Q, K, V, O, bh, D, scale, w); });
                for (int64_t i = 0; i < N; ++i) {  // out_i = acc_i / l_i, L_i = m_i + log l_i
                    const float l = w.l[size_t(i)], inv = l > 0.f ? 1.f / l : 0.f;
                    float* o = O.at(bh, i);
                    for (int64_t d = 0; d < D; ++d) o[d] *= inv;
                    lse_p[bh * N + i] = l > 0.f ? w.m[size_t(i)] + std::log(l) : kNegInf;
                }
            }
        });
    }
    return record("sparse_attention", out, {q_in, k_in, v_in},
                  [q, k, v, out_saved = out.detach(), lse, blocks, keep, scale](const Tensor& g_in) {
                      Tensor g = unit_last_stride(g_in);
                      const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
                      Tensor dq = Tensor::zeros(q.shape()), dk = Tensor::zeros(k.shape()), dv = Tensor::zeros(v.shape());
                      HeadRows Q(q), K(k), V(v), O(out_saved), G(g), dQ(dq), dK(dk), dV(dv);
                      parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
                          Scratch w;
                          w.n = N;
                          for (int64_t bh = lo; bh < hi; ++bh) {
                              w.delta.resize(size_t(N));
                              for (int64_t i = 0; i < N; ++i)  // Δ_i = dO_i · O_i (in vector partial sums)
                                  w.delta[size_t(i)] = small::dot(G.at(bh, i), O.at(bh, i), D);
                              blocks(bh, [&](const Block& blk) {
                                  backward_block(blk, Q, K, V, G, lse.data() + bh * N, w.delta.data(), dQ, dK, dV, bh,
                                                 D, scale, w);
                              });
                          }
                      });
                      return std::vector<Tensor>{dq, dk, dv};
                  });
}

Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                        const std::vector<const SparseLayout*>& layouts_in) {
    auto layouts = std::make_shared<std::vector<SparseLayout>>();  // copied: the caller may rebuild its own
    for (const SparseLayout* L : layouts_in) layouts->push_back(*L);
    return sparse_attention(q, k, v, std::shared_ptr<const std::vector<SparseLayout>>(std::move(layouts)));
}

Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                        std::shared_ptr<const std::vector<SparseLayout>> layouts) {
    for (const SparseLayout& L : *layouts)
        check(L.seq_len == q.size(2), "sparse_attention: layout built for N = ", L.seq_len, ", got ", q.size(2),
              " tokens");
    const std::vector<SparseLayout>* all = layouts.get();
    return fused_sparse_attention(q, k, v, [all](int64_t, const BlockVisitor& f) {
        for (const SparseLayout& L : *all) for_each_block(L, f);
    }, layouts);
}

Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                        std::shared_ptr<const std::vector<HeadBlocks>> heads) {
    check(q.dim() == 4 && int64_t(heads->size()) == q.size(0) * q.size(1), "sparse_attention: ", heads->size(),
          " head block lists for q ", to_string(q.shape()));
    const std::vector<HeadBlocks>* all = heads.get();
    return fused_sparse_attention(q, k, v, [all](int64_t bh, const BlockVisitor& f) {
        for_each_block((*all)[size_t(bh)], f);
    }, heads);
}

}  // namespace attnlab::attention

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
// width] instead, so that a block of few queries fills the lanes with its own keys: that path
// is block_sparse_key_lanes.cpp (what both share: block_sparse_block.h).
// A slot is live when its token's output comes from it (out_index): padding slots and
// block slots overridden by a dense row are skipped. The dense rows are one more block:
// their G queries against all N keys (row by row, one key at a time, when G ≤ 4; keys along
// the lanes, as one run of N keys, in a use_key_lanes layout). A token with no allowed key
// gets out_i = 0.
#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <vector>

#include "attention/sparse/block_sparse.h"
#include "attention/sparse/block_sparse_block.h"
#include "attention/head_rows.h"
#include "core/autograd/autograd.h"
#include "core/kernels/fastmath.h"
#include "core/ops/ops.h"
#include "core/kernels/parallel.h"
#include "core/util/profiler.h"
#include "core/kernels/small_gemm.h"

namespace attnlab::attention {

namespace {

using namespace block_sparse;

using BlockVisitor = std::function<void(const Block&)>;
using BlockSource = std::function<void(int64_t bh, const BlockVisitor&)>;  // the blocks of head bh

// How many blocks ahead a key-lanes block prefetches the keys of (Block::next_runs), into L2:
// at N = 16384 a head's K, V, dK, dV (2 MB each at D = 32) are past the 1 MB L2, and a block's
// random key blocks are misses. Into L1 the lines are gone from the 32 KB again before their
// use; how far ahead was chosen by measurement (results/code_notes.md).
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

[[gnu::noinline]] void forward_block(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                   const HeadRows& O, int64_t bh, int64_t D, float scale, Scratch& w) {
    if (row_by_row(blk)) {
        for (int64_t r = 0; r < blk.nq; ++r) forward_row(blk, r, Q, K, V, O, bh, D, scale, w);
        return;
    }
    if (blk.mask_r) return forward_key_lanes_block(blk, Q, K, V, O, bh, D, scale, w);
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
    if (blk.mask_r) return backward_key_lanes_block(blk, Q, K, V, dO, lse, delta, dQ, dK, dV, bh, D, scale, w);
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

// One head's forward: every block through the online softmax, then out_i = acc_i / l_i and
// L_i = m_i + log l_i (−inf and a zero row for a query that sees no key).
static void forward_head(const BlockSource& blocks, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                         const HeadRows& O, float* lse, int64_t bh, int64_t N, int64_t D, float scale, Scratch& w) {
    w.m.assign(size_t(N), kNegInf);
    w.l.assign(size_t(N), 0.f);
    blocks(bh, [&](const Block& blk) { forward_block(blk, Q, K, V, O, bh, D, scale, w); });
    for (int64_t i = 0; i < N; ++i) {
        const float l = w.l[size_t(i)], inv = l > 0.f ? 1.f / l : 0.f;
        float* o = O.at(bh, i);
        for (int64_t d = 0; d < D; ++d) o[d] *= inv;
        lse[i] = l > 0.f ? w.m[size_t(i)] + std::log(l) : kNegInf;
    }
}

// One head's backward: Δ_i = dO_i · O_i (in vector partial sums), then every block.
static void backward_head(const BlockSource& blocks, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                          const HeadRows& O, const HeadRows& G, const float* lse, const HeadRows& dQ,
                          const HeadRows& dK, const HeadRows& dV, int64_t bh, int64_t N, int64_t D, float scale,
                          Scratch& w) {
    w.delta.resize(size_t(N));
    for (int64_t i = 0; i < N; ++i) w.delta[size_t(i)] = small::dot(G.at(bh, i), O.at(bh, i), D);
    blocks(bh, [&](const Block& blk) {
        backward_block(blk, Q, K, V, G, lse, w.delta.data(), dQ, dK, dV, bh, D, scale, w);
    });
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
        parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch w;
            w.n = N;
            for (int64_t bh = lo; bh < hi; ++bh) forward_head(blocks, Q, K, V, O, lse.data() + bh * N, bh, N, D, scale, w);
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
                          for (int64_t bh = lo; bh < hi; ++bh)
                              backward_head(blocks, Q, K, V, O, G, lse.data() + bh * N, dQ, dK, dV, bh, N, D, scale, w);
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

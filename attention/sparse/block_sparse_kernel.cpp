// block_sparse_kernel.cpp — the fused sparse_attention op (see block_sparse.h): the blocks
// of one or more SparseLayouts, with an online softmax per query, forward and backward.
//
// Per head and block (nq query slots, nk key slots, gathered into per-thread scratch), scale s:
//   forward:  S = s·Qb Kbᵀ, −inf where blocked; for each live query row r (token i):
//               m' = max(m_i, rowmax S_r),  P_r = e^(S_r − m'),  α = e^(m_i − m'),
//               l_i = α·l_i + rowsum P_r,   acc_i = α·acc_i + (P Vb)_r,   m_i = m'
//             and once all blocks are done: out_i = acc_i / l_i, L_i = m_i + log l_i (saved).
//   backward: Δ_i = dO_i·O_i;  P = e^(S − L_i);  dVb = Pᵀ dOb;  dS = P ∘ (dOb Vbᵀ − Δ);
//             dQb = s·dS Kb;  dKb = s·dSᵀ Qb;  rows added back to the tokens they came from.
// A slot is live when its token's output comes from it (out_index): padding slots and
// block slots overridden by a dense row are skipped. The dense rows are one more block:
// their G queries against all N keys. A token with no allowed key gets out_i = 0.
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <vector>

#include "attention/sparse/block_sparse.h"
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

// One block: nq queries (token rows) against nk keys (token rows; null = 0..nk−1).
struct Block {
    const int64_t* queries;
    int64_t nq;
    const int64_t* keys;
    int64_t nk;
    const uint8_t* blocked;  // [nq, nk], 1 = blocked
    const uint8_t* live;     // [nq], 1 = the slot's output counts
    const float* bias;       // [nq, nk] added to the scores, or null
};

using BlockVisitor = std::function<void(const Block&)>;
using BlockSource = std::function<void(int64_t bh, const BlockVisitor&)>;  // the blocks of head bh

void for_each_block(const SparseLayout& L, const BlockVisitor& f) {
    const int64_t bs = L.block_size, kb = L.block_keys;
    for (int64_t b = 0; b < L.blocks; ++b)
        f(Block{L.query_rows.data() + b * bs, bs, L.key_rows.data() + b * kb, kb, L.blocked.data() + b * bs * kb,
                L.live.data() + b * bs, nullptr});
    if (!L.dense_rows.empty())
        f(Block{L.dense_rows.data(), int64_t(L.dense_rows.size()), nullptr, L.seq_len, L.dense_blocked.data(),
                L.live.data() + L.blocks * bs, nullptr});
}

void for_each_block(const HeadBlocks& h, const BlockVisitor& f) {
    const int64_t blocks = h.nq > 0 ? int64_t(h.queries.size()) / h.nq : 0;
    for (int64_t b = 0; b < blocks; ++b)
        f(Block{h.queries.data() + b * h.nq, h.nq, h.keys.data() + b * h.nk, h.nk, h.blocked.data() + b * h.nq * h.nk,
                h.live.data() + b * h.nq, h.bias.empty() ? nullptr : h.bias.data() + b * h.nq * h.nk});
}

// Sᵀ [nk, np] += the block's bias (transposed).
void add_bias(const Block& blk, int64_t np, float* ST) {
    if (!blk.bias) return;
    for (int64_t r = 0; r < blk.nq; ++r)
        for (int64_t c = 0; c < blk.nk; ++c) ST[c * np + r] += blk.bias[r * blk.nk + c];
}


// rows [n, D] <- the given token rows of a head; or, transposed, [D, n].
void gather(const HeadRows& X, int64_t bh, const int64_t* rows, int64_t n, int64_t D, float* out, bool transposed) {
    for (int64_t r = 0; r < n; ++r) {
        const float* x = X.at(bh, rows ? rows[r] : r);
        if (transposed)
            for (int64_t d = 0; d < D; ++d) out[d * n + r] = x[d];
        else
            std::copy(x, x + D, out + r * D);
    }
}

// Xb [nk, D] with its row stride: the head itself for dense rows, else gathered into `xb`.
const float* key_rows(const Block& blk, const HeadRows& X, int64_t bh, int64_t D, std::vector<float>& xb, int64_t& ld) {
    if (!blk.keys) {
        ld = X.row;
        return X.at(bh, 0);
    }
    xb.resize(size_t(blk.nk * D));
    gather(X, bh, blk.keys, blk.nk, D, xb.data(), false);
    ld = D;
    return xb.data();
}

struct Scratch {
    std::vector<float> qb, qt, kb, vb, S, pv, dob, dot, dS, dqb, dkb, dvb, alpha, delta;
    std::vector<float> m, l;  // per token of the head
};

bool is_live(const Block& blk, int64_t r) { return blk.live[r] != 0; }

// Query slots rounded up to the vector width: the scores are kept transposed, Sᵀ = s·Kb Qbᵀ
// [nk, np], so that the products run along the (padded) queries and the D columns with full
// vectors, and only the few queries, not the many keys, are transposed. Query r's scores are
// column r; padding columns come from zero queries and are never read.
int64_t padded(int64_t nq) { return (nq + small::kLanes - 1) / small::kLanes * small::kLanes; }

void forward_block(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                   const HeadRows& O, int64_t bh, int64_t D, float scale, Scratch& w) {
    const int64_t nq = blk.nq, nk = blk.nk, np = padded(nq);
    w.qb.resize(size_t(nq * D)), w.qt.resize(size_t(D * np)), w.S.resize(size_t(nk * np));
    w.pv.resize(size_t(nq * D)), w.alpha.resize(size_t(nq));
    gather(Q, bh, blk.queries, nq, D, w.qb.data(), false);
    small::transpose_padded(w.qb.data(), D, nq, D, w.qt.data(), np);
    int64_t ldk, ldv;
    const float* kb = key_rows(blk, K, bh, D, w.kb, ldk);
    const float* vb = key_rows(blk, V, bh, D, w.vb, ldv);
    float* ST = w.S.data();
    small::gemm<false>(nk, np, D, scale, kb, ldk, w.qt.data(), np, false, ST, np);  // Sᵀ = s·Kb Qbᵀ
    add_bias(blk, np, ST);
    for (int64_t r = 0; r < nq; ++r) {
        const uint8_t* blocked = blk.blocked + r * nk;
        const int64_t i = blk.queries[r];
        float row_max = kNegInf;
        if (is_live(blk, r))
            for (int64_t c = 0; c < nk; ++c)
                if (!blocked[c]) row_max = std::max(row_max, ST[c * np + r]);
        if (row_max == kNegInf) {  // not live, or no allowed key in this block
            for (int64_t c = 0; c < nk; ++c) ST[c * np + r] = 0.f;
            w.alpha[size_t(r)] = -1.f;  // marks "nothing to add"
            continue;
        }
        const float m_new = std::max(w.m[size_t(i)], row_max);
        float sum = 0.f;
        for (int64_t c = 0; c < nk; ++c) {
            float& p = ST[c * np + r];
            p = blocked[c] ? 0.f : fast::exp(p - m_new);
            sum += p;
        }
        const float alpha = w.m[size_t(i)] == kNegInf ? 0.f : fast::exp(w.m[size_t(i)] - m_new);
        w.l[size_t(i)] = w.l[size_t(i)] * alpha + sum;
        w.m[size_t(i)] = m_new;
        w.alpha[size_t(r)] = alpha;
    }
    small::gemm<true>(nq, D, nk, 1.f, ST, np, vb, ldv, false, w.pv.data(), D);  // P Vb = (Pᵀ)ᵀ Vb
    for (int64_t r = 0; r < nq; ++r) {
        const float alpha = w.alpha[size_t(r)];
        if (alpha < 0.f) continue;
        float* acc = O.at(bh, blk.queries[r]);
        const float* pv = w.pv.data() + r * D;
        for (int64_t d = 0; d < D; ++d) acc[d] = acc[d] * alpha + pv[d];
    }
}

void backward_block(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                    const HeadRows& dO, const float* lse, const float* delta, const HeadRows& dQ, const HeadRows& dK,
                    const HeadRows& dV, int64_t bh, int64_t D, float scale, Scratch& w) {
    const int64_t nq = blk.nq, nk = blk.nk, np = padded(nq);
    w.qb.resize(size_t(nq * D)), w.qt.resize(size_t(D * np)), w.dob.resize(size_t(nq * D)), w.dot.resize(size_t(D * np));
    w.S.resize(size_t(nk * np)), w.dS.resize(size_t(nk * np)), w.dqb.resize(size_t(nq * D));
    gather(Q, bh, blk.queries, nq, D, w.qb.data(), false);
    gather(dO, bh, blk.queries, nq, D, w.dob.data(), false);
    for (int64_t r = 0; r < nq; ++r)  // rows that are not live take no gradient
        if (!is_live(blk, r)) std::fill(w.dob.data() + r * D, w.dob.data() + (r + 1) * D, 0.f);
    small::transpose_padded(w.qb.data(), D, nq, D, w.qt.data(), np);
    small::transpose_padded(w.dob.data(), D, nq, D, w.dot.data(), np);
    int64_t ldk, ldv;
    const float* kb = key_rows(blk, K, bh, D, w.kb, ldk);
    const float* vb = key_rows(blk, V, bh, D, w.vb, ldv);
    float *PT = w.S.data(), *dST = w.dS.data();
    small::gemm<false>(nk, np, D, scale, kb, ldk, w.qt.data(), np, false, PT, np);  // Sᵀ = s·Kb Qbᵀ
    add_bias(blk, np, PT);
    small::gemm<false>(nk, np, D, 1.f, vb, ldv, w.dot.data(), np, false, dST, np);  // dPᵀ = Vb dObᵀ
    for (int64_t r = 0; r < nq; ++r) {
        const uint8_t* blocked = blk.blocked + r * nk;
        const int64_t i = blk.queries[r];
        const float L_i = lse[i], dlt = delta[i];
        const bool live = is_live(blk, r) && L_i != kNegInf;
        for (int64_t c = 0; c < nk; ++c) {
            float &p = PT[c * np + r], &ds = dST[c * np + r];
            p = live && !blocked[c] ? fast::exp(p - L_i) : 0.f;
            ds = p * (ds - dlt);  // dSᵀ = Pᵀ ∘ (dPᵀ − Δ)
        }
    }
    small::gemm<true>(nq, D, nk, scale, dST, np, kb, ldk, false, w.dqb.data(), D);  // dQb = s·dS Kb
    for (int64_t r = 0; r < nq; ++r) {
        if (!is_live(blk, r)) continue;
        float* dq = dQ.at(bh, blk.queries[r]);
        for (int64_t d = 0; d < D; ++d) dq[d] += w.dqb[size_t(r * D + d)];
    }
    if (!blk.keys) {  // dense rows: dV += Pᵀ dOb, dK += s·dSᵀ Qb straight into the head
        small::gemm<false>(nk, D, nq, 1.f, PT, np, w.dob.data(), D, true, dV.at(bh, 0), dV.row);
        small::gemm<false>(nk, D, nq, scale, dST, np, w.qb.data(), D, true, dK.at(bh, 0), dK.row);
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
                          for (int64_t bh = lo; bh < hi; ++bh) {
                              w.delta.resize(size_t(N));
                              for (int64_t i = 0; i < N; ++i) {  // Δ_i = dO_i · O_i
                                  const float *gi = G.at(bh, i), *oi = O.at(bh, i);
                                  float s = 0.f;
                                  for (int64_t d = 0; d < D; ++d) s += gi[d] * oi[d];
                                  w.delta[size_t(i)] = s;
                              }
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
    auto layouts = std::make_shared<std::vector<SparseLayout>>();  // copied: a variant may rebuild its own
    for (const SparseLayout* L : layouts_in) {
        check(L->seq_len == q.size(2), "sparse_attention: layout built for N = ", L->seq_len, ", got ", q.size(2),
              " tokens");
        layouts->push_back(*L);
    }
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

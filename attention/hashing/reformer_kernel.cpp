// reformer_kernel.cpp — see reformer_kernel.h: the hash rounds of a head (integer work) and
// the fused LSH chunk attention, forward and backward, one head per task.
//
// Per head and round the rows are gathered once in sorted order, so a chunk's queries and its
// 2m keys are contiguous slices; scores are kept transposed, Sᵀ [nk, np] (np = queries
// padded to the vector width), as in the block-sparse kernel (block_sparse_kernel.cpp). The
// rounds add into head-local [N, D] buffers (L2-sized at N ≈ 1k), so the strided [B, N, H, D]
// output and gradients are written once per row, never zero-filled or read back.
#include "attention/hashing/reformer_kernel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>

#include "attention/head_rows.h"
#include "core/autograd/autograd.h"
#include "core/kernels/fastmath.h"
#include "core/kernels/parallel.h"
#include "core/kernels/small_gemm.h"
#include "core/util/error.h"
#include "core/util/profiler.h"

namespace attnlab::attention {

LshRounds::LshRounds(const int32_t* bucket, int64_t nh_, int64_t N_, int64_t m_, int64_t nbuckets)
    : nh(nh_), N(N_), m(m_), order(size_t(nh * N)), pos(size_t(nh * N)), place(size_t(nh * N)), alone(size_t(nh * N)) {
    std::vector<int64_t> start(size_t(nbuckets) + 1);
    for (int64_t r = 0; r < nh; ++r) {
        const int32_t* h = bucket + r * N;
        int32_t* ord = order.data() + r * N;
        std::fill(start.begin(), start.end(), 0);  // counting sort by bucket; stable, so by position within one
        for (int64_t i = 0; i < N; ++i) ++start[size_t(h[i]) + 1];
        for (int64_t b = 0; b < nbuckets; ++b) start[size_t(b) + 1] += start[size_t(b)];
        for (int64_t i = 0; i < N; ++i) ord[start[size_t(h[i])]++] = int32_t(i);
        for (int64_t p = 0; p < N; ++p) {
            const int64_t i = ord[p];
            pos[size_t(r * N + i)] = int32_t(p);
            int32_t& here = place[size_t(i * nh + r)];
            if (p == 0) here = 0;
            else if (h[i] != h[ord[p - 1]]) here = place[size_t(int64_t(ord[p - 1]) * nh + r)] + 2;
            else here = place[size_t(int64_t(ord[p - 1]) * nh + r)] + (p % m == 0);
        }
        // A bucket is a run of sorted positions and i's keys are the window [(c−1)m, (c+1)m), so
        // some other token of its bucket is a key exactly when a neighbour p ± 1 is one.
        for (int64_t p = 0; p < N; ++p) {
            const int64_t lo = (p / m - 1) * m, hi = (p / m + 1) * m;
            const bool before = p - 1 >= lo && p - 1 >= 0 && h[ord[p - 1]] == h[ord[p]];
            const bool after = p + 1 < hi && p + 1 < N && h[ord[p + 1]] == h[ord[p]];
            alone[size_t(int64_t(ord[p]) * nh + r)] = !before && !after;
        }
    }
}

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

int64_t padded(int64_t n) { return (n + small::kLanes - 1) / small::kLanes * small::kLanes; }

// One head's work space, reused across heads by a thread.
struct Scratch {
    std::vector<float> rn;             // [N] the inverse norms r_j of the queries (k_j = r_j q_j)
    std::vector<float> qs, ks, vs;     // [N, D] q, k, v rows of the round in sorted order
    std::vector<float> qt, S, pv, alpha, mx, sum;  // one chunk
    std::vector<float> m, l;           // [N] running max and sum of the online softmax
    std::vector<float> acc;            // [N, D] the head's output rows before 1/l (forward)
    std::vector<float> bias_for;       // [nh + 1]: −log c for a pair attended in c rounds, −∞ for c = 0
    std::vector<int32_t> ps;           // [nh, ps_ld] the places (LshRounds) of the round's tokens in sorted order
    std::vector<int32_t> bucket;       // [nh, N] the head's buckets, when hashed again (backward)
    int64_t ps_ld = 0;                 // N + one vector of padding
    LshRounds rounds;                  // the head's rounds
    std::vector<float> dos, dot, dS, dqs, dks, dvs, lse_s, delta_s, delta;  // backward
    std::vector<float> dq_acc, dv_acc;  // [N, D] the head's dq, dv summed over the rounds (backward)
};

// The chunk c of round r: queries at sorted positions p0 … p0+nq−1, keys kp0 … p0+nq−1.
struct Chunk {
    int64_t r, p0, nq, kp0, nk, np;
};

Chunk chunk_of(const LshRounds& R, int64_t r, int64_t c) {
    const int64_t p0 = c * R.m, nq = std::min(R.m, R.N - p0), kp0 = std::max<int64_t>(0, p0 - R.m);
    return Chunk{r, p0, nq, kp0, p0 + nq - kp0, padded(nq)};
}

// w.bias_for: −∞, then −log c for c = 1 … n_h.
void bias_table(int64_t nh, Scratch& w) {
    w.bias_for.assign(1, kNegInf);
    for (int64_t c = 1; c <= nh; ++c) w.bias_for.push_back(-std::log(float(c)));
}

// r_j = (‖q_j‖² + 10⁻¹²)^(−½) for the N rows of head bh (the keys k_j = r_j q_j are made from
// the sorted query rows of each round, gather_round).
void inverse_norms(const HeadRows& Q, int64_t bh, int64_t N, int64_t D, Scratch& w) {
    w.rn.resize(size_t(N));
    for (int64_t j = 0; j < N; ++j)
        w.rn[size_t(j)] = 1.f / std::sqrt(small::dot(Q.at(bh, j), Q.at(bh, j), D) + 1e-12f);
}

// dst[0 … D) = src[0 … D), in registers (a copy call per short row costs more than the row).
inline void copy_row(const float* src, float* dst, int64_t D) {
    int64_t d = 0;
    for (; d + small::kLanes <= D; d += small::kLanes) small::store_vec(dst + d, small::load_vec(src + d));
    for (; d < D; ++d) dst[d] = src[d];
}

// out [N, D] <- rows of X (a head's rows, or a [N, D] buffer) in round r's sorted order. The
// source rows are asked for a few positions ahead (random rows: no hardware prefetch).
void gather_sorted(const float* X, int64_t ld, const int32_t* ord, int64_t N, int64_t D, std::vector<float>& out) {
    constexpr int64_t kAhead = 8;
    out.resize(size_t(N * D));
    for (int64_t p = 0; p < N; ++p) {
        if (p + kAhead < N)
            for (int64_t b = 0; b < D; b += 64 / int64_t(sizeof(float))) __builtin_prefetch(X + ord[p + kAhead] * ld + b);
        copy_row(X + ord[p] * ld, out.data() + p * D, D);
    }
}

// The round's q, k, v rows and places in sorted order; a key row is made from its query row as
// it is gathered (k_j = r_j q_j).
void gather_round(const LshRounds& R, int64_t r, const HeadRows& Q, const HeadRows& V, int64_t bh, int64_t D,
                  Scratch& w) {
    const int32_t* ord = R.order.data() + r * R.N;
    gather_sorted(Q.at(bh, 0), Q.row, ord, R.N, D, w.qs);
    w.ks.resize(size_t(R.N * D));
    for (int64_t p = 0; p < R.N; ++p) {
        const float *q = w.qs.data() + p * D, rj = w.rn[size_t(ord[p])];
        float* k = w.ks.data() + p * D;
        for (int64_t d = 0; d < D; ++d) k[d] = q[d] * rj;
    }
    gather_sorted(V.at(bh, 0), V.row, ord, R.N, D, w.vs);
    w.ps_ld = R.N + small::kLanes;  // a vector may start at any query slot
    w.ps.assign(size_t(R.nh * w.ps_ld), 0);
    for (int64_t t = 0; t < R.nh; ++t)
        for (int64_t p = 0; p < R.N; ++p) w.ps[size_t(t * w.ps_ld + p)] = R.place[size_t(int64_t(ord[p]) * R.nh + t)];
}

// One vector register of query slots (small::kLanes): places and counts as int32 lanes.
typedef int32_t VecI __attribute__((vector_size(4 * small::kLanes)));
typedef uint32_t VecU __attribute__((vector_size(4 * small::kLanes)));

VecI load_ints(const int32_t* p) {
    VecI v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

// −log c for a register of counts c (0 … n_h; −∞ for 0): one lane permute of the table when
// it fits a register, else a select per count.
small::VecF bias_of(VecI c, const float* bias_for, int64_t nh, small::VecF table) {
    if (nh < small::kLanes) return __builtin_shuffle(table, c);
    small::VecF bias = small::VecF{} + kNegInf;
    for (int32_t k = 1; k <= nh; ++k) bias = c == k ? small::VecF{} + bias_for[k] : bias;
    return bias;
}

// Sᵀ [nk, np] += the bias of query slot a and key slot s: −log c_ij where the query attends
// to the key in this round, −∞ elsewhere (within the window: the keys of its bucket; itself
// only when alone, in as many rounds as it is alone). A register of query slots at a time.
void add_chunk_bias(const LshRounds& R, const Chunk& ch, Scratch& w) {
    const int64_t nh = R.nh, r = ch.r, ld = w.ps_ld;
    const int32_t* ord = R.order.data() + r * R.N;
    const int32_t* ps = w.ps.data();  // [nh, ld]
    const float* bias_for = w.bias_for.data();
    small::VecF table = small::VecF{} + kNegInf;  // lane c: bias_for[c]
    for (int64_t c = 0; c <= nh && c < small::kLanes; ++c) table[c] = bias_for[c];
    for (int64_t s = 0; s < ch.nk; ++s) {  // row s of Sᵀ: key slot s against every query slot a
        const int64_t kp = ch.kp0 + s;
        float* row = w.S.data() + s * ch.np;
        const int64_t self = kp - ch.p0;  // the query slot of the key's own token, if in this chunk
        const float raw_self = self >= 0 ? row[self] : 0.f;
        for (int64_t a = 0; a < ch.np; a += small::kLanes) {  // padding slots get some bias, never read
            // c_ij: −1 per round where the places are near (vector comparisons give −1)
            const VecI seen = VecU(load_ints(ps + r * ld + ch.p0 + a) - ps[r * ld + kp]) <= 1u;
            VecI c = seen;
            for (int64_t t = 0; t < nh; ++t)
                if (t != r) c += VecU(load_ints(ps + t * ld + ch.p0 + a) - ps[t * ld + kp]) <= 1u;
            c = -(c & seen);  // 0 where not attended in round r
            small::store_vec(row + a, small::load_vec(row + a) + bias_of(c, bias_for, nh, table));
        }
        if (self >= 0) {  // itself: attended only when alone, in as many rounds as it is alone
            const int64_t i = ord[kp];
            int64_t alone = 0;
            for (int64_t t = 0; t < nh; ++t) alone += R.alone[size_t(i * nh + t)];
            row[self] = raw_self + bias_for[R.alone[size_t(i * nh + r)] ? alone : 0];
        }
    }
}

// Sᵀ [nk, np] = Kb Qbᵀ/√D + biasᵀ for the chunk (from the sorted rows in w).
void chunk_scores(const LshRounds& R, const Chunk& ch, int64_t D, float scale, Scratch& w) {
    w.qt.resize(size_t(D * ch.np)), w.S.resize(size_t(ch.nk * ch.np));
    small::transpose_padded(w.qs.data() + ch.p0 * D, D, ch.nq, D, w.qt.data(), ch.np);
    small::gemm<false>(ch.nk, ch.np, D, scale, w.ks.data() + ch.kp0 * D, D, w.qt.data(), ch.np, false, w.S.data(), ch.np);
    add_chunk_bias(R, ch, w);
}

// mx [np] = the column maxima of Sᵀ [nk, np], a register of columns at a time.
void column_max(const float* ST, int64_t nk, int64_t np, float* mx) {
    for (int64_t a = 0; a < np; a += small::kLanes) {
        small::VecF m = small::VecF{} + kNegInf;
        for (int64_t s = 0; s < nk; ++s) {
            const small::VecF x = small::load_vec(ST + s * np + a);
            m = x > m ? x : m;
        }
        small::store_vec(mx + a, m);
    }
}

// Sᵀ <- e^(Sᵀ − mx) column-wise, and sum [np] its column sums (a register of columns at a time,
// the sum kept in it; each column summed over s in order).
void exp_columns(float* ST, int64_t nk, int64_t np, const float* mx, float* sum) {
    for (int64_t a = 0; a < np; a += small::kLanes) {
        float part[small::kLanes] = {};
        for (int64_t s = 0; s < nk; ++s) {
            float* x = ST + s * np + a;
            for (int l = 0; l < small::kLanes; ++l) {
                x[l] = fast::exp(x[l] - mx[a + l]);
                part[l] += x[l];
            }
        }
        std::copy(part, part + small::kLanes, sum + a);
    }
}

// The online softmax update of the chunk's query rows: m_i, l_i and acc_i (w.acc row i).
void forward_chunk(const LshRounds& R, const Chunk& ch, int64_t D, float scale, Scratch& w) {
    chunk_scores(R, ch, D, scale, w);
    const int32_t* ord = R.order.data() + ch.r * R.N;
    const int64_t nq = ch.nq, nk = ch.nk, np = ch.np;
    float* ST = w.S.data();
    w.alpha.resize(size_t(nq)), w.mx.resize(size_t(np)), w.sum.resize(size_t(np)), w.pv.resize(size_t(nq * D));
    float *mx = w.mx.data(), *sum = w.sum.data(), *alpha = w.alpha.data();
    // Every query has a finite score in every round (itself when alone, else a neighbour of its
    // bucket), so every column of Sᵀ has a finite maximum; e^(−∞) is 0 (fast::exp clamps).
    column_max(ST, nk, np, mx);
    for (int64_t a = 0; a < nq; ++a) {
        const float m_old = w.m[size_t(ord[ch.p0 + a])];
        const float m_new = std::max(m_old, mx[a]);
        alpha[a] = m_old == kNegInf ? 0.f : fast::exp(m_old - m_new);
        mx[a] = m_new;
    }
    std::fill(mx + nq, mx + np, 0.f);  // padding slots: any finite shift (never read)
    exp_columns(ST, nk, np, mx, sum);
    for (int64_t a = 0; a < nq; ++a) {
        const int64_t i = ord[ch.p0 + a];
        w.l[size_t(i)] = w.l[size_t(i)] * alpha[a] + sum[a];
        w.m[size_t(i)] = mx[a];
    }
    small::gemm<true>(ch.nq, D, ch.nk, 1.f, ST, ch.np, w.vs.data() + ch.kp0 * D, D, false, w.pv.data(), D);  // P Vb
    for (int64_t a = 0; a < nq; ++a) {
        float* acc = w.acc.data() + ord[ch.p0 + a] * D;
        const float* pv = w.pv.data() + a * D;
        for (int64_t d = 0; d < D; ++d) acc[d] = acc[d] * alpha[a] + pv[d];
    }
}

void forward_head(const LshRounds& R, const HeadRows& Q, const HeadRows& V, const HeadRows& O, float* lse, int64_t bh,
                  int64_t D, float scale, Scratch& w) {
    const int64_t N = R.N, nc = (N + R.m - 1) / R.m;
    inverse_norms(Q, bh, N, D, w);
    bias_table(R.nh, w);
    w.m.assign(size_t(N), kNegInf), w.l.assign(size_t(N), 0.f), w.acc.assign(size_t(N * D), 0.f);
    for (int64_t r = 0; r < R.nh; ++r) {
        gather_round(R, r, Q, V, bh, D, w);
        for (int64_t c = 0; c < nc; ++c) forward_chunk(R, chunk_of(R, r, c), D, scale, w);
    }
    for (int64_t i = 0; i < N; ++i) {  // out_i = acc_i / l_i, L_i = m_i + log l_i
        const float l = w.l[size_t(i)], inv = l > 0.f ? 1.f / l : 0.f;
        const float* acc = w.acc.data() + i * D;
        float* o = O.at(bh, i);
        for (int64_t d = 0; d < D; ++d) o[d] = acc[d] * inv;
        lse[i] = l > 0.f ? w.m[size_t(i)] + std::log(l) : kNegInf;
    }
}

// One chunk's gradients into the round's sorted dQ (written), dK and dV (accumulated).
void backward_chunk(const LshRounds& R, const Chunk& ch, int64_t D, float scale, Scratch& w) {
    chunk_scores(R, ch, D, scale, w);
    const int64_t np = ch.np, nk = ch.nk, nq = ch.nq;
    w.dot.resize(size_t(D * np)), w.dS.resize(size_t(nk * np));
    small::transpose_padded(w.dos.data() + ch.p0 * D, D, nq, D, w.dot.data(), np);
    float *PT = w.S.data(), *dST = w.dS.data();
    small::gemm<false>(nk, np, D, 1.f, w.vs.data() + ch.kp0 * D, D, w.dot.data(), np, false, dST, np);  // dPᵀ = Vb dObᵀ
    const float *L = w.lse_s.data() + ch.p0, *dlt = w.delta_s.data() + ch.p0;  // L finite: see forward_chunk
    for (int64_t s = 0; s < nk; ++s) {
        float *p = PT + s * np, *ds = dST + s * np;
        for (int64_t a = 0; a < nq; ++a) {
            p[a] = fast::exp(p[a] - L[a]);
            ds[a] = p[a] * (ds[a] - dlt[a]);  // dSᵀ = Pᵀ ∘ (dPᵀ − Δ)
        }
    }
    const float* qb = w.qs.data() + ch.p0 * D;
    const float* dob = w.dos.data() + ch.p0 * D;
    small::gemm<true>(nq, D, nk, scale, dST, np, w.ks.data() + ch.kp0 * D, D, false, w.dqs.data() + ch.p0 * D, D);
    small::gemm<false>(nk, D, nq, scale, dST, np, qb, D, true, w.dks.data() + ch.kp0 * D, D);  // dKb += s·dSᵀ Qb
    small::gemm<false>(nk, D, nq, 1.f, PT, np, dob, D, true, w.dvs.data() + ch.kp0 * D, D);    // dVb += Pᵀ dOb
}

// The round's key gradients, through the normalization, added to its sorted query gradients:
// dq_j += r_j (dk_j − (k_j·dk_j) k_j), linear in dk_j, so one round at a time (one scatter less).
void key_grads_into_queries(const int32_t* ord, int64_t N, int64_t D, Scratch& w) {
    for (int64_t p = 0; p < N; ++p) {
        const float *k = w.ks.data() + p * D, *dk = w.dks.data() + p * D;
        const float kdk = small::dot(k, dk, D), r = w.rn[size_t(ord[p])];
        float* dq = w.dqs.data() + p * D;
        for (int64_t d = 0; d < D; ++d) dq[d] += r * (dk[d] - kdk * k[d]);
    }
}

// A round's sorted rows added back to the tokens they came from.
void scatter_add(const float* sorted, const int32_t* ord, int64_t N, int64_t D, float* X, int64_t ld) {
    for (int64_t p = 0; p < N; ++p) {
        const float* s = sorted + p * D;
        float* x = X + ord[p] * ld;
        for (int64_t d = 0; d < D; ++d) x[d] += s[d];
    }
}

// Row i of the head's [N, D] buffer into X's row i (zeros where buf is null), for every i.
void write_rows(const float* buf, int64_t N, int64_t D, const HeadRows& X, int64_t bh) {
    for (int64_t i = 0; i < N; ++i) {
        float* x = X.at(bh, i);
        if (buf) copy_row(buf + i * D, x, D);
        else std::fill(x, x + D, 0.f);
    }
}

// The gradients of head bh: every row of dQ and dV written once (and of dK, the packed
// gradient's unused k slice, zeroed when given), from head-local sums over the rounds.
void backward_head(const LshRounds& R, const HeadRows& Q, const HeadRows& V, const HeadRows& O, const HeadRows& G,
                   const float* lse, const HeadRows& dQ, const HeadRows& dV, const HeadRows* dK, int64_t bh, int64_t D,
                   float scale, Scratch& w) {
    const int64_t N = R.N, nc = (N + R.m - 1) / R.m;
    inverse_norms(Q, bh, N, D, w);
    bias_table(R.nh, w);
    w.delta.resize(size_t(N));
    constexpr int64_t kAhead = 8;  // rows of dO and O asked for ahead of their use (strided rows)
    for (int64_t i = 0; i < N; ++i) {  // Δ_i = dO_i · O_i (in vector partial sums)
        prefetch_rows(G, bh, std::min(i + kAhead, N), std::min(i + kAhead + 1, N), D);
        prefetch_rows(O, bh, std::min(i + kAhead, N), std::min(i + kAhead + 1, N), D);
        w.delta[size_t(i)] = small::dot(G.at(bh, i), O.at(bh, i), D);
    }
    w.dq_acc.assign(size_t(N * D), 0.f), w.dv_acc.assign(size_t(N * D), 0.f);
    w.lse_s.resize(size_t(N)), w.delta_s.resize(size_t(N));
    for (int64_t r = 0; r < R.nh; ++r) {
        const int32_t* ord = R.order.data() + r * N;
        gather_round(R, r, Q, V, bh, D, w);
        gather_sorted(G.at(bh, 0), G.row, ord, N, D, w.dos);
        for (int64_t p = 0; p < N; ++p) w.lse_s[size_t(p)] = lse[ord[p]], w.delta_s[size_t(p)] = w.delta[size_t(ord[p])];
        w.dqs.resize(size_t(N * D)), w.dks.assign(size_t(N * D), 0.f), w.dvs.assign(size_t(N * D), 0.f);
        for (int64_t c = 0; c < nc; ++c) backward_chunk(R, chunk_of(R, r, c), D, scale, w);
        key_grads_into_queries(ord, N, D, w);
        scatter_add(w.dqs.data(), ord, N, D, w.dq_acc.data(), D);
        scatter_add(w.dvs.data(), ord, N, D, w.dv_acc.data(), D);
    }
    write_rows(w.dq_acc.data(), N, D, dQ, bh);
    write_rows(w.dv_acc.data(), N, D, dV, bh);
    if (dK) write_rows(nullptr, N, D, *dK, bh);
}

// w.rounds <- the rounds of head bh, from the kept buckets or, without them, hashed again.
const LshRounds& sort_rounds(const LshHashes& x, int64_t bh, int64_t N, Scratch& w) {
    const int32_t* bucket = x.bucket.data() + bh * x.nh * N;
    if (x.bucket.empty()) {
        w.bucket.resize(size_t(x.nh * N));
        x.rehash(bh, w.bucket.data());
        bucket = w.bucket.data();
    }
    w.rounds = LshRounds(bucket, x.nh, N, x.m, x.buckets);
    return w.rounds;
}

}  // namespace

namespace {

void check_lsh_args(const Tensor& q_in, const Tensor& v_in, const LshHashes& hashes) {
    check(q_in.dim() == 4 && q_in.shape() == v_in.shape(), "lsh_chunk_attention: expected q, v [B,H,N,D] of one shape, got ",
          to_string(q_in.shape()), ", ", to_string(v_in.shape()));
    const int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2);
    const bool on_demand = hashes.bucket.empty() && hashes.rehash;  // each head hashed when needed
    check((on_demand || int64_t(hashes.bucket.size()) == B * H * hashes.nh * N) && hashes.m >= 1 && hashes.m <= N,
          "lsh_chunk_attention: ", hashes.bucket.size(), " buckets (", hashes.nh, " rounds) and chunk ", hashes.m,
          " for q ", to_string(q_in.shape()), ": expected B·H·n_h·N buckets and 1 ≤ chunk ≤ N");
    for (int32_t b : hashes.bucket)
        check(b >= 0 && b < hashes.buckets, "lsh_chunk_attention: bucket ", b, " outside 0 … ", hashes.buckets - 1);
}

// The backward, head by head: dq, dv (dk too when packed: zero, the keys are the queries),
// or one dqkv of packed_shape when heads > 0.
std::vector<Tensor> lsh_backward(const Tensor& g_in, const Tensor& q, const Tensor& v, const Tensor& out,
                                 const Tensor& lse, const LshHashes& hashes, float scale, int64_t heads,
                                 const Shape& packed_shape) {
    Tensor g = unit_last_stride(g_in);
    const int64_t BH = q.size(0) * q.size(1), N = q.size(2), D = q.size(3);
    Tensor dqkv, dq, dk, dv;  // not zero-filled: every row written once by its head
    if (heads > 0) {
        dqkv = Tensor::empty(packed_shape);
        auto views = split_packed_qkv(dqkv, heads);
        dq = views[0], dk = views[1], dv = views[2];
    } else {
        dq = Tensor::empty(q.shape()), dv = Tensor::empty(v.shape());
    }
    HeadRows Q(q), V(v), O(out), G(g), dQ(dq), dV(dv);
    std::optional<HeadRows> dK;
    if (heads > 0) dK.emplace(dk);
    parallel_for_balanced(0, BH, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
        Scratch w;
        for (int64_t bh = lo; bh < hi; ++bh)
            backward_head(sort_rounds(hashes, bh, N, w), Q, V, O, G, lse.data() + bh * N, dQ, dV, dK ? &*dK : nullptr,
                          bh, D, scale, w);
    });
    return heads > 0 ? std::vector<Tensor>{dqkv} : std::vector<Tensor>{dq, dv};
}

// The op on q, v (strided views allowed); packed (heads > 0): q, v are views of qkv, the op's
// input is qkv and its backward writes one gradient of qkv's shape (the k slice zero: shared QK).
Tensor lsh_op(const Tensor& q_in, const Tensor& v_in, std::shared_ptr<const LshHashes> hashes, const Tensor& qkv,
              int64_t heads) {
    PROFILE_SCOPE("lsh_chunk_attention");
    check_lsh_args(q_in, v_in, *hashes);
    const int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2), D = q_in.size(3);
    const float scale = 1.f / std::sqrt(float(D));
    Tensor q = unit_last_stride(q_in.detach()), v = unit_last_stride(v_in.detach());
    Tensor out = heads_output(B, H, N, D), lse = Tensor::empty({B, H, N});  // [B,N,H,D] memory
    {
        HeadRows Q(q), V(v), O(out);
        float* L = lse.data();
        parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch w;
            for (int64_t bh = lo; bh < hi; ++bh) forward_head(sort_rounds(*hashes, bh, N, w), Q, V, O, L + bh * N, bh, D, scale, w);
        });
    }
    const bool packed = heads > 0;
    std::vector<Tensor> inputs = packed ? std::vector<Tensor>{qkv} : std::vector<Tensor>{q_in, v_in};
    if (hashes->rehash)  // the backward hashes each head again: keep no buckets
        hashes = std::make_shared<const LshHashes>(LshHashes{{}, hashes->nh, hashes->buckets, hashes->m, hashes->rehash});
    return record("lsh_chunk_attention", out, inputs,
                  [q, v, out_saved = out.detach(), lse, hashes, scale, heads,
                   packed_shape = packed ? qkv.shape() : Shape{}](const Tensor& g_in) {
                      return lsh_backward(g_in, q, v, out_saved, lse, *hashes, scale, heads, packed_shape);
                  });
}

}  // namespace

Tensor lsh_chunk_attention(const Tensor& q, const Tensor& v, std::shared_ptr<const LshHashes> hashes) {
    return lsh_op(q, v, std::move(hashes), Tensor(), 0);
}

Tensor lsh_chunk_attention_packed(const Tensor& qkv, int64_t heads, std::shared_ptr<const LshHashes> hashes) {
    auto [q, k, v] = split_packed_qkv(qkv, heads);
    return lsh_op(q, v, std::move(hashes), qkv, heads);
}

}  // namespace attnlab::attention

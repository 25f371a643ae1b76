// longformer_kernel.cpp — the fused longformer op (longformer.h's pattern), forward and
// backward, as a band: every query's window is the same offsets t·d (t = −w/2 … w/2, causal:
// … 0), so a tile of T = 16 consecutive queries against the T + 2h keys around them
// (h = (w/2)·d) computes exactly its w + 1 keys per query, every loop a vector along the
// tile's 16 queries (or, for the global queries, its 16 keys). Per head, scale s = 1/√D:
//   forward, tile of queries i0 … i0+15 (qᵀ, kᵀ, vᵀ held transposed [D, lanes]):
//     S_t[r] = s·q_{i0+r}·k_{i0+r+td}  (−inf unless i0+r+td is a non-global token < N)
//     S_g[r] = s·q_{i0+r}·k_g          (g < G, the global keys)
//     out_i = Σ softmax(S)·v, written once, normalized in the same pass; L_i = m_i + log l_i
//   the G global queries see every key: an online softmax per lane over each tile's own 16
//   keys, its lanes merged once at the end.
//   backward, the same tiles: p = e^(S − L_i), dS = p ∘ (dO_i·v_j − Δ_i), Δ_i = Σ_j p dO_i·v_j
//     (= dO_i·O_i, from the tile's own products: O is read back only for the global queries);
//     dq_i = s·Σ dS k_j written once per row; dk_j = s·Σ dS q_i and dv_j = Σ p dO_i gathered in
//     transposed [D, C + 2h] accumulators that slide every C = 64 queries: a key's row is
//     written once, when the last tile that sees it is done (no zero-fill, no second pass);
//     the G global keys' own sums are added to their rows at the end.
// Outputs of 8 MB or more (out, dq, dk, dv) are stored around the cache (non-temporal stores:
// no read for ownership, a quarter of the traffic; results/code_notes.md).
// Time O(N·(w + 1 + 2G)·D) per head (the exact pairs, plus the 16-lane padding of the last
// tile), memory O(N) saved (L_i) beyond q, k, v, out; the held tiles, [D, C + 2h] (9 KB at
// D = 32, w = 8), stay in L1/L2.
// Reference: the block-sparse composition (block_sparse.h), held equal by the tests.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "attention/head_rows.h"
#include "attention/sparse/longformer.h"
#include "attention/sparse/transpose16.h"
#include "core/autograd/autograd.h"
#include "core/kernels/fastmath.h"
#include "core/kernels/parallel.h"
#include "core/kernels/small_gemm.h"
#include "core/util/profiler.h"

namespace attnlab::attention {

namespace {

constexpr int64_t T = 16;  // queries per tile: the lanes of every vector loop
// Keys are transposed C at a time (with the 2h around them), and the held columns slide once
// per C: sliding per tile of 16 would be a memmove per row (results/code_notes.md).
constexpr int64_t C = 64;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// The band's shape for one call.
struct Band {
    int64_t N, D, G;       // tokens, head dim, global tokens (≤ N)
    int64_t dil, h, W;     // dilation d, reach h = (w/2)·d, key columns held C + 2h
    int64_t t_lo, t_hi;    // window offsets t_lo … t_hi (in steps of d)
    float scale;
    bool causal;
    bool stream;  // outputs written around the cache (kStreamBytes)
};

// ---- vector loops along the T lanes of transposed tiles ([D, ld]: row d, lane r at d·ld + r) ----

using small::VecF;
constexpr int kV = int(T / small::kLanes);  // vectors per lane row
inline VecF lane_vec(const float* p, int v) { return small::load_vec(p + v * small::kLanes); }

// Written with explicit vectors (small_gemm.h's VecF): as plain float loops GCC vectorized the
// dot products across d instead of the lanes, in scalar registers.

// s[r] = Σ_d a[d·lda + r] · x[d]   (x a row)
[[gnu::noinline]] void dot_row(const float* __restrict a, int64_t lda, const float* __restrict x, int64_t D,
                               float* __restrict s) {
    VecF acc[2][kV] = {};
    for (int64_t d = 0; d < D; ++d)
        for (int v = 0; v < kV; ++v) acc[d & 1][v] += lane_vec(a + d * lda, v) * x[d];
    for (int v = 0; v < kV; ++v) small::store_vec(s + v * small::kLanes, acc[0][v] + acc[1][v]);
}

// c[d·ldc + r] += p[r] · b[d·ldb + r]
[[gnu::noinline]] void axpy_lanes(const float* __restrict p, const float* __restrict b, int64_t ldb, int64_t D,
                                  float* __restrict c, int64_t ldc) {
    VecF pv[kV];
    for (int v = 0; v < kV; ++v) pv[v] = lane_vec(p, v);
    for (int64_t d = 0; d < D; ++d)
        for (int v = 0; v < kV; ++v)
            small::store_vec(c + d * ldc + v * small::kLanes, lane_vec(c + d * ldc, v) + pv[v] * lane_vec(b + d * ldb, v));
}

// c[d·ldc + r] += p[r] · x[d]   (x a row)
[[gnu::noinline]] void axpy_row(const float* __restrict p, const float* __restrict x, int64_t D, float* __restrict c,
                                int64_t ldc) {
    VecF pv[kV];
    for (int v = 0; v < kV; ++v) pv[v] = lane_vec(p, v);
    for (int64_t d = 0; d < D; ++d)
        for (int v = 0; v < kV; ++v)
            small::store_vec(c + d * ldc + v * small::kLanes, lane_vec(c + d * ldc, v) + pv[v] * x[d]);
}

// ---- the window's offsets, several at a time: one load of the tile row serves them all ----

// s[u·T + r] = Σ_d a[d·T + r] · b[d·ldb + r + u·step], u < U
template <int U>
[[gnu::noinline]] void band_dots(const float* __restrict a, const float* __restrict b, int64_t ldb, int64_t step,
                                 int64_t D, float* __restrict s) {
    VecF acc[U][kV];
    for (int u = 0; u < U; ++u)
        for (int v = 0; v < kV; ++v) acc[u][v] = VecF{};
    for (int64_t d = 0; d < D; ++d) {
        VecF x[kV];
        for (int v = 0; v < kV; ++v) x[v] = small::load_vec(a + d * T + v * small::kLanes);
#pragma GCC unroll 16
        for (int u = 0; u < U; ++u)
            for (int v = 0; v < kV; ++v) acc[u][v] += x[v] * small::load_vec(b + d * ldb + u * step + v * small::kLanes);
    }
    for (int u = 0; u < U; ++u)
        for (int v = 0; v < kV; ++v) small::store_vec(s + u * T + v * small::kLanes, acc[u][v]);
}

// out[d·T + r] += Σ_u p[u·T + r] · b[d·ldb + r + u·step], u < U
template <int U>
[[gnu::noinline]] void band_sum(const float* __restrict p, const float* __restrict b, int64_t ldb, int64_t step,
                                int64_t D, float* __restrict out) {
    VecF pu[U][kV];
    for (int u = 0; u < U; ++u)
        for (int v = 0; v < kV; ++v) pu[u][v] = small::load_vec(p + u * T + v * small::kLanes);
    for (int64_t d = 0; d < D; ++d)
        for (int v = 0; v < kV; ++v) {
            VecF o0 = small::load_vec(out + d * T + v * small::kLanes), o1 = VecF{};
#pragma GCC unroll 16
            for (int u = 0; u < U; u += 2) {  // two chains
                o0 += pu[u][v] * small::load_vec(b + d * ldb + u * step + v * small::kLanes);
                if (u + 1 < U) o1 += pu[u + 1][v] * small::load_vec(b + d * ldb + (u + 1) * step + v * small::kLanes);
            }
            small::store_vec(out + d * T + v * small::kLanes, o0 + o1);
        }
}

// f.template operator()<U>(u0) over u0 = 0 … n − 1 in chunks of at most 8 offsets.
template <class F>
void in_chunks(int64_t n, const F& f) {
    int64_t u0 = 0;
    for (; u0 + 8 <= n; u0 += 8) f.template operator()<8>(u0);
    switch (n - u0) {
        case 1: f.template operator()<1>(u0); break;
        case 2: f.template operator()<2>(u0); break;
        case 3: f.template operator()<3>(u0); break;
        case 4: f.template operator()<4>(u0); break;
        case 5: f.template operator()<5>(u0); break;
        case 6: f.template operator()<6>(u0); break;
        case 7: f.template operator()<7>(u0); break;
        default: break;
    }
}

// Columns c … c + n − 1 of dst [D, ld] <- mul · rows first … first + n − 1 of X (zero outside [0, N)).
void load_cols(const HeadRows& X, int64_t bh, int64_t first, int64_t n, int64_t N, int64_t D, float mul, float* dst,
               int64_t ld) {
    const float* head = X.at(bh, 0);
    int64_t c = 0;
    if (D % 16 == 0 && first >= 0)  // whole blocks of 16 rows
        for (; c + 16 <= n && first + c + 16 <= N; c += 16)
            for (int64_t d = 0; d < D; d += 16) transpose16(head + (first + c) * X.row + d, X.row, dst + d * ld + c, ld, mul);
    for (; c < n; ++c) {
        const int64_t j = first + c;
        if (j < 0 || j >= N) {
            for (int64_t d = 0; d < D; ++d) dst[d * ld + c] = 0.f;
            continue;
        }
        const float* x = head + j * X.row;
        for (int64_t d = 0; d < D; ++d) dst[d * ld + c] = mul * x[d];
    }
}

constexpr int64_t kStreamBytes = int64_t(8) << 20;  // outputs of 8 MB or more

// Rows first … first + n − 1 of X (those in [lo, N)) <- mul · columns 0 … n − 1 of src [D, ld].
void store_cols(const float* src, int64_t ld, int64_t first, int64_t n, int64_t lo, int64_t N, int64_t D, float mul,
                const HeadRows& X, int64_t bh, bool stream_ok = false) {
    float* head = X.at(bh, 0);
    int64_t c = std::max<int64_t>(0, lo - first);
    // Rows of a large output go around the cache (no read for ownership: a quarter of the
    // traffic); the rows of a small one stay for the next op.
    const bool stream = stream_ok && X.row % 16 == 0 && reinterpret_cast<uintptr_t>(head) % 64 == 0;
    if (D % 16 == 0)
        for (; c + 16 <= n && first + c + 16 <= N; c += 16)
            for (int64_t d = 0; d < D; d += 16) {
                float* rows = head + (first + c) * X.row + d;
                if (stream) transpose16<true>(src + d * ld + c, ld, rows, X.row, mul);
                else transpose16(src + d * ld + c, ld, rows, X.row, mul);
            }
    for (; c < n && first + c < N; ++c) {
        float* x = head + (first + c) * X.row;
        for (int64_t d = 0; d < D; ++d) x[d] = mul * src[d * ld + c];
    }
}

// Moves columns C … W − 1 of a [D, W] tile to 0 … W − C − 1 and, when asked, zeroes the last C
// (else the caller loads them), for the next C queries.
void slide(float* tile, int64_t D, int64_t W, bool zero_new) {
    for (int64_t d = 0; d < D; ++d) {
        float* row = tile + d * W;
        int64_t c = 0;
        for (; c + small::kLanes <= W - C; c += small::kLanes) small::store_vec(row + c, small::load_vec(row + c + C));
        for (; c < W - C; ++c) row[c] = row[c + C];
        if (zero_new) std::fill(row + W - C, row + W, 0.f);
    }
}

// 0 where query i0 + r may see key i0 + r + off through the window, else −inf.
void window_mask(const Band& b, int64_t i0, int64_t off, float* mask) {
    for (int64_t r = 0; r < T; ++r) {
        const int64_t i = i0 + r, j = i + off;
        mask[r] = i >= b.G && i < b.N && j >= b.G && j < b.N ? 0.f : kNegInf;
    }
}

// Per-lane online-softmax state of one global query (lanes = keys of a tile).
struct GlobalLanes {
    std::vector<float> m, l, acc;  // [T], [T], [D, T]
};

struct Scratch {
    std::vector<float> qt, kt, vt, dot, ot, dqt, dkt, dvt;  // tiles [D, T] or [D, W]
    std::vector<float> s, dp, mask;                          // [offsets + G, T]
    std::vector<float> gq, gdo, gacc;                        // global query rows (scaled), dO rows, per-lane sums
    std::vector<float> dkg, dvg;                             // [G, D, T] global keys' per-lane gradient sums
    std::vector<GlobalLanes> glob;
    int64_t col = 0;  // the tile's first query i0 as a column of the held keys: i0 − c0
};

int64_t offsets(const Band& b) { return b.t_hi - b.t_lo + 1; }

// ---- forward ----

void forward_tile(const Band& b, int64_t i0, const HeadRows& K, const HeadRows& V, const HeadRows& O, float* lse,
                  int64_t bh, Scratch& w) {
    const int64_t D = b.D, W = b.W, nt = offsets(b), ns = nt + b.G;
    float *s = w.s.data(), *mask = w.mask.data(), *ot = w.ot.data();
    const float* k0 = w.kt.data() + w.col + b.h + b.t_lo * b.dil;  // column of offset t_lo
    in_chunks(nt, [&]<int U>(int64_t u0) {  // the window: S_t = s·q·k_{i+td}
        band_dots<U>(w.qt.data(), k0 + u0 * b.dil, W, b.dil, D, s + u0 * T);
    });
    for (int64_t u = 0; u < nt; ++u) {
        window_mask(b, i0, (b.t_lo + u) * b.dil, mask);
        for (int64_t r = 0; r < T; ++r) s[u * T + r] += mask[r];
    }
    for (int64_t g = 0; g < b.G; ++g) dot_row(w.qt.data(), T, K.at(bh, g), D, s + (nt + g) * T);  // S_g = s·q·k_g
    float m[T], l[T] = {};
    std::fill(m, m + T, kNegInf);
    for (int64_t u = 0; u < ns; ++u)
        for (int64_t r = 0; r < T; ++r) m[r] = std::max(m[r], s[u * T + r]);
    for (int64_t r = 0; r < T; ++r) m[r] = m[r] == kNegInf ? 0.f : m[r];  // lanes with no query
    for (int64_t u = 0; u < ns; ++u)
        for (int64_t r = 0; r < T; ++r) {
            const float p = fast::exp(s[u * T + r] - m[r]);
            s[u * T + r] = p;
            l[r] += p;
        }
    std::fill(w.ot.begin(), w.ot.end(), 0.f);
    const float* v0 = w.vt.data() + w.col + b.h + b.t_lo * b.dil;
    in_chunks(nt, [&]<int U>(int64_t u0) { band_sum<U>(s + u0 * T, v0 + u0 * b.dil, W, b.dil, D, ot); });
    for (int64_t g = 0; g < b.G; ++g) axpy_row(s + (nt + g) * T, V.at(bh, g), D, ot, T);
    float inv[T];
    for (int64_t r = 0; r < T; ++r) inv[r] = 1.f / l[r];
    for (int64_t d = 0; d < D; ++d)
        for (int64_t r = 0; r < T; ++r) ot[d * T + r] *= inv[r];
    store_cols(ot, T, i0, T, b.G, b.N, D, 1.f, O, bh, b.stream);  // out_i = acc / l, written once
    for (int64_t r = 0; r < T; ++r)
        if (i0 + r >= b.G && i0 + r < b.N) lse[i0 + r] = m[r] + std::log(l[r]);
}

// Global query gq against this tile's own keys i0 … i0+15 (columns h … h+15 of kᵀ, vᵀ).
void forward_global(const Band& b, int64_t i0, int64_t gq, const float* q, Scratch& w) {
    const int64_t D = b.D, W = b.W;
    GlobalLanes& st = w.glob[size_t(gq)];
    float s[T];
    dot_row(w.kt.data() + w.col + b.h, W, q, D, s);
    for (int64_t r = 0; r < T; ++r) {
        const int64_t j = i0 + r;
        if (j >= b.N || (b.causal && j > gq)) s[r] = kNegInf;
    }
    float alpha[T], p[T];
    for (int64_t r = 0; r < T; ++r) {
        const float m_new = std::max(st.m[size_t(r)], s[r]);
        alpha[r] = st.m[size_t(r)] == kNegInf ? 0.f : fast::exp(st.m[size_t(r)] - m_new);
        p[r] = s[r] == kNegInf ? 0.f : fast::exp(s[r] - m_new);
        st.l[size_t(r)] = st.l[size_t(r)] * alpha[r] + p[r];
        st.m[size_t(r)] = m_new;
    }
    float* acc = st.acc.data();
    for (int64_t d = 0; d < D; ++d)
        for (int64_t r = 0; r < T; ++r) acc[d * T + r] *= alpha[r];
    axpy_lanes(p, w.vt.data() + w.col + b.h, W, D, acc, T);
}

// Merges a global query's lanes: out = Σ_r e^(m_r − M) acc_r / Σ_r e^(m_r − M) l_r.
void finish_global(const Band& b, int64_t gq, const HeadRows& O, float* lse, int64_t bh, Scratch& w) {
    const GlobalLanes& st = w.glob[size_t(gq)];
    float M = kNegInf, wt[T], L = 0.f;
    for (int64_t r = 0; r < T; ++r) M = std::max(M, st.m[size_t(r)]);
    for (int64_t r = 0; r < T; ++r) {
        wt[r] = st.m[size_t(r)] == kNegInf ? 0.f : std::exp(st.m[size_t(r)] - M);
        L += wt[r] * st.l[size_t(r)];
    }
    float* o = O.at(bh, gq);
    for (int64_t d = 0; d < b.D; ++d) {
        float x = 0.f;
        for (int64_t r = 0; r < T; ++r) x += wt[r] * st.acc[size_t(d * T + r)];
        o[d] = x / L;
    }
    lse[gq] = M + std::log(L);
}

void forward_head(const Band& b, const HeadRows& Q, const HeadRows& K, const HeadRows& V, const HeadRows& O,
                  float* lse, int64_t bh, Scratch& w) {
    const int64_t D = b.D, W = b.W;
    w.qt.resize(size_t(D * T)), w.kt.resize(size_t(D * W)), w.vt.resize(size_t(D * W)), w.ot.resize(size_t(D * T));
    w.s.resize(size_t((offsets(b) + b.G) * T)), w.mask.resize(size_t(T));
    w.glob.resize(size_t(b.G));
    w.gq.resize(size_t(b.G * D));
    for (int64_t g = 0; g < b.G; ++g) {
        GlobalLanes& st = w.glob[size_t(g)];
        st.m.assign(size_t(T), kNegInf), st.l.assign(size_t(T), 0.f), st.acc.assign(size_t(D * T), 0.f);
        const float* q = Q.at(bh, g);
        for (int64_t d = 0; d < D; ++d) w.gq[size_t(g * D + d)] = b.scale * q[d];
    }
    load_cols(K, bh, -b.h, W, b.N, D, 1.f, w.kt.data(), W);
    load_cols(V, bh, -b.h, W, b.N, D, 1.f, w.vt.data(), W);
    for (int64_t c0 = 0; c0 < b.N; c0 += C) {
        if (c0 > 0) {  // keys c0 − h … c0 + C + h − 1: slide by C, load the C new ones
            slide(w.kt.data(), D, W, false), slide(w.vt.data(), D, W, false);
            load_cols(K, bh, c0 + b.h, C, b.N, D, 1.f, w.kt.data() + W - C, W);
            load_cols(V, bh, c0 + b.h, C, b.N, D, 1.f, w.vt.data() + W - C, W);
        }
        for (int64_t i0 = c0; i0 < std::min(b.N, c0 + C); i0 += T) {
            w.col = i0 - c0;
            load_cols(Q, bh, i0, T, b.N, D, b.scale, w.qt.data(), T);
            forward_tile(b, i0, K, V, O, lse, bh, w);
            for (int64_t g = 0; g < b.G; ++g) forward_global(b, i0, g, w.gq.data() + g * D, w);
        }
    }
    for (int64_t g = 0; g < b.G; ++g) finish_global(b, g, O, lse, bh, w);
    stream_fence();
}

// ---- backward ----

struct Grads {
    const HeadRows &Q, &K, &V, &O, &dO, &dQ, &dK, &dV;
    const float* lse;
};

void backward_tile(const Band& b, int64_t i0, const Grads& x, int64_t bh, Scratch& w) {
    const int64_t D = b.D, W = b.W, nt = offsets(b), ns = nt + b.G;
    float *s = w.s.data(), *dp = w.dp.data(), *mask = w.mask.data();  // [nt + G, T]: the window, then the global keys
    float L[T], delta[T] = {};
    for (int64_t r = 0; r < T; ++r) {  // lanes without a (non-global) query: L = +∞, so p = 0
        const int64_t i = i0 + r;
        L[r] = i >= b.G && i < b.N ? x.lse[i] : std::numeric_limits<float>::infinity();
    }
    const int64_t c0 = w.col + b.h + b.t_lo * b.dil;  // column of offset t_lo
    in_chunks(nt, [&]<int U>(int64_t u0) {
        band_dots<U>(w.qt.data(), w.kt.data() + c0 + u0 * b.dil, W, b.dil, D, s + u0 * T);    // S
        band_dots<U>(w.dot.data(), w.vt.data() + c0 + u0 * b.dil, W, b.dil, D, dp + u0 * T);  // dP = dO·v
    });
    for (int64_t g = 0; g < b.G; ++g) {
        dot_row(w.qt.data(), T, x.K.at(bh, g), D, s + (nt + g) * T);
        dot_row(w.dot.data(), T, x.V.at(bh, g), D, dp + (nt + g) * T);
    }
    for (int64_t u = 0; u < ns; ++u) {  // P = e^(S − L); Δ_i = dO_i·O_i = Σ_j p_ij dO_i·v_j (O is not read)
        if (u < nt) window_mask(b, i0, (b.t_lo + u) * b.dil, mask);
        for (int64_t r = 0; r < T; ++r) {
            const float p = fast::exp(s[u * T + r] + (u < nt ? mask[r] : 0.f) - L[r]);
            s[u * T + r] = p;
            delta[r] += p * dp[u * T + r];
        }
    }
    for (int64_t u = 0; u < ns; ++u)  // dS = P ∘ (dP − Δ)
        for (int64_t r = 0; r < T; ++r) dp[u * T + r] = s[u * T + r] * (dp[u * T + r] - delta[r]);
    std::fill(w.dqt.begin(), w.dqt.end(), 0.f);
    in_chunks(nt, [&]<int U>(int64_t u0) {  // dq += dS k
        band_sum<U>(dp + u0 * T, w.kt.data() + c0 + u0 * b.dil, W, b.dil, D, w.dqt.data());
    });
    for (int64_t u = 0; u < nt; ++u) {
        const int64_t col = c0 + u * b.dil;
        axpy_lanes(dp + u * T, w.qt.data(), T, D, w.dkt.data() + col, W);  // dk += dS (s·q)
        axpy_lanes(s + u * T, w.dot.data(), T, D, w.dvt.data() + col, W);  // dv += p dO
    }
    for (int64_t g = 0; g < b.G; ++g) {  // the global keys: sums per lane, added to their rows at the end
        const float *ds = dp + (nt + g) * T, *p = s + (nt + g) * T;
        axpy_row(ds, x.K.at(bh, g), D, w.dqt.data(), T);
        axpy_lanes(ds, w.qt.data(), T, D, w.dkg.data() + g * D * T, T);
        axpy_lanes(p, w.dot.data(), T, D, w.dvg.data() + g * D * T, T);
    }
    store_cols(w.dqt.data(), T, i0, T, b.G, b.N, D, b.scale, x.dQ, bh, b.stream);  // dq_i = s·Σ dS k, written once
}

// Global query gq against this tile's own keys i0 … i0+15.
void backward_global(const Band& b, int64_t i0, int64_t gq, const Grads& x, int64_t bh, Scratch& w) {
    const int64_t D = b.D, W = b.W;
    const float *q = w.gq.data() + gq * D, *g = w.gdo.data() + gq * D, L = x.lse[gq];
    float s[T], dp[T];
    float delta = 0.f;
    const float* o = x.O.at(bh, gq);
    for (int64_t d = 0; d < D; ++d) delta += g[d] * o[d];
    dot_row(w.kt.data() + w.col + b.h, W, q, D, s);
    dot_row(w.vt.data() + w.col + b.h, W, g, D, dp);
    for (int64_t r = 0; r < T; ++r) {
        const int64_t j = i0 + r;
        const bool seen = j < b.N && (!b.causal || j <= gq);
        const float p = seen ? fast::exp(s[r] - L) : 0.f;
        s[r] = p;
        dp[r] = p * (dp[r] - delta);
    }
    axpy_lanes(dp, w.kt.data() + w.col + b.h, W, D, w.gacc.data() + gq * D * T, T);  // dq_g, per lane
    axpy_row(dp, q, D, w.dkt.data() + w.col + b.h, W);
    axpy_row(s, g, D, w.dvt.data() + w.col + b.h, W);
}

// The backward's scratch sized (and its accumulators zeroed), and the global tokens' scaled
// queries and output gradients gathered as rows.
void begin_backward(const Band& b, const Grads& x, int64_t bh, Scratch& w) {
    const int64_t D = b.D, W = b.W, G = b.G;
    for (auto* t : {&w.qt, &w.dot, &w.dqt}) t->resize(size_t(D * T));
    for (auto* t : {&w.kt, &w.vt}) t->resize(size_t(D * W));
    w.dkt.assign(size_t(D * W), 0.f), w.dvt.assign(size_t(D * W), 0.f);
    w.s.resize(size_t((offsets(b) + G) * T)), w.dp.resize(size_t((offsets(b) + G) * T)), w.mask.resize(size_t(T));
    w.gq.resize(size_t(G * D)), w.gdo.resize(size_t(G * D));
    w.gacc.assign(size_t(G * D * T), 0.f), w.dkg.assign(size_t(G * D * T), 0.f), w.dvg.assign(size_t(G * D * T), 0.f);
    for (int64_t g = 0; g < G; ++g) {
        const float *q = x.Q.at(bh, g), *d_o = x.dO.at(bh, g);
        for (int64_t d = 0; d < D; ++d) w.gq[size_t(g * D + d)] = b.scale * q[d], w.gdo[size_t(g * D + d)] = d_o[d];
    }
}

// The global query rows' dq, and the global keys' sums from the window queries, out of the
// per-lane accumulators.
void finish_global_rows(const Band& b, const Grads& x, int64_t bh, const Scratch& w) {
    const int64_t D = b.D;
    for (int64_t g = 0; g < b.G; ++g) {
        float *dq = x.dQ.at(bh, g), *dk = x.dK.at(bh, g), *dv = x.dV.at(bh, g);
        for (int64_t d = 0; d < D; ++d) {
            float sq = 0.f, sk = 0.f, sv = 0.f;
            for (int64_t r = 0; r < T; ++r) {
                const size_t at = size_t((g * D + d) * T + r);
                sq += w.gacc[at], sk += w.dkg[at], sv += w.dvg[at];
            }
            dq[d] = b.scale * sq, dk[d] += sk, dv[d] += sv;
        }
    }
}

// One head's backward: the window of keys and values slides along the sequence in chunks of C
// columns; each chunk's queries go through in tiles of T, and a key's dk, dv rows are stored
// once no later query can see it.
void backward_head(const Band& b, const Grads& x, int64_t bh, Scratch& w) {
    const int64_t D = b.D, W = b.W, G = b.G;
    begin_backward(b, x, bh, w);
    load_cols(x.K, bh, -b.h, W, b.N, D, 1.f, w.kt.data(), W);
    load_cols(x.V, bh, -b.h, W, b.N, D, 1.f, w.vt.data(), W);
    for (int64_t c0 = 0; c0 < b.N; c0 += C) {
        if (c0 > 0) {
            slide(w.kt.data(), D, W, false), slide(w.vt.data(), D, W, false);
            load_cols(x.K, bh, c0 + b.h, C, b.N, D, 1.f, w.kt.data() + W - C, W);
            load_cols(x.V, bh, c0 + b.h, C, b.N, D, 1.f, w.vt.data() + W - C, W);
        }
        for (int64_t i0 = c0; i0 < std::min(b.N, c0 + C); i0 += T) {
            w.col = i0 - c0;
            load_cols(x.Q, bh, i0, T, b.N, D, b.scale, w.qt.data(), T);
            load_cols(x.dO, bh, i0, T, b.N, D, 1.f, w.dot.data(), T);
            backward_tile(b, i0, x, bh, w);
            for (int64_t g = 0; g < G; ++g) backward_global(b, i0, g, x, bh, w);
        }
        // keys c0 − h … c0 − h + C − 1 are seen by no later query: their rows are written once
        store_cols(w.dkt.data(), W, c0 - b.h, C, 0, b.N, D, 1.f, x.dK, bh, b.stream);
        store_cols(w.dvt.data(), W, c0 - b.h, C, 0, b.N, D, 1.f, x.dV, bh, b.stream);
        slide(w.dkt.data(), D, W, true), slide(w.dvt.data(), D, W, true);
    }
    const int64_t next = (b.N + C - 1) / C * C;  // the keys still held: next − h … next + h − 1
    store_cols(w.dkt.data(), W, next - b.h, W - C, 0, b.N, D, 1.f, x.dK, bh);
    store_cols(w.dvt.data(), W, next - b.h, W - C, 0, b.N, D, 1.f, x.dV, bh);
    finish_global_rows(b, x, bh, w);
    stream_fence();
}

}  // namespace

bool longformer_band_supported(int64_t global_tokens) { return global_tokens <= kLongformerBandMaxGlobals; }

Tensor longformer_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, int64_t window,
                            int64_t dilation, int64_t global_tokens, bool causal) {
    PROFILE_SCOPE("longformer_attention");
    check(q_in.dim() == 4 && q_in.shape() == k_in.shape() && k_in.shape() == v_in.shape(),
          "longformer_attention: expected q, k, v [B,H,N,D] of one shape, got ", to_string(q_in.shape()), ", ",
          to_string(k_in.shape()), ", ", to_string(v_in.shape()));
    check(window >= 2 && window % 2 == 0 && dilation >= 1 && longformer_band_supported(global_tokens),
          "longformer_attention: expected an even window ≥ 2, dilation ≥ 1 and at most ", kLongformerBandMaxGlobals,
          " global tokens, got ", window, ", ", dilation, ", ", global_tokens);
    const int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2), D = q_in.size(3);
    const int64_t h = window / 2 * dilation;
    const Band band{N, D, std::min(global_tokens, N), dilation, h, C + 2 * h, -window / 2, causal ? 0 : window / 2,
                    1.f / std::sqrt(float(D)), causal, B * H * N * D * int64_t(sizeof(float)) >= kStreamBytes};
    Tensor q = unit_last_stride(q_in.detach()), k = unit_last_stride(k_in.detach()), v = unit_last_stride(v_in.detach());
    Tensor out = heads_output(B, H, N, D), lse = Tensor::empty({B, H, N});
    {
        HeadRows Q(q), K(k), V(v), O(out);
        parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
            Scratch w;
            for (int64_t bh = lo; bh < hi; ++bh) forward_head(band, Q, K, V, O, lse.data() + bh * N, bh, w);
        });
    }
    return record("longformer_attention", out, {q_in, k_in, v_in},
                  [q, k, v, out_saved = out.detach(), lse, band](const Tensor& g_in) {
                      Tensor g = unit_last_stride(g_in);
                      const int64_t N = q.size(2);
                      Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()), dv = Tensor::empty(v.shape());
                      HeadRows Q(q), K(k), V(v), O(out_saved), dO(g), dQ(dq), dK(dk), dV(dv);
                      parallel_for_balanced(0, q.size(0) * q.size(1), 8 * num_threads(), [&](int64_t lo, int64_t hi) {
                          Scratch w;
                          for (int64_t bh = lo; bh < hi; ++bh)
                              backward_head(band, Grads{Q, K, V, O, dO, dQ, dK, dV, lse.data() + bh * N}, bh, w);
                      });
                      return std::vector<Tensor>{dq, dk, dv};
                  });
}

}  // namespace attnlab::attention

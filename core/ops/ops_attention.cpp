// ops_attention.cpp — fused exact softmax attention that never forms the N×M
// matrix (FlashAttention: Dao et al., 2022; Dao, 2023), forward and backward.
//
// Per head, with scale s (usually 1/√D):
//   forward: for each query tile, walk the key tiles keeping a running row max
//            m, row sum l and unnormalized output acc ("online softmax"):
//              S = s·Q_i K_jᵀ,  m' = max(m, rowmax S),  P = e^(S - m'),
//              l = l·e^(m - m') + rowsum P,  acc = acc·e^(m - m') + P V_j
//            then O_i = acc / l and L_i = m + log l (saved for backward).
//   backward: Δ_i = rowsum(dO_i ∘ O_i); for each key tile j and query tile i:
//              P = e^(s·Q_i K_jᵀ - L_i),  dV_j += Pᵀ dO_i,  dP = dO_i V_jᵀ,
//              dS = P ∘ (dP - Δ_i),  dQ_i += s·dS K_j,  dK_j += s·dSᵀ Q_i
// Time O(N·M·D) like the dense form; memory O((N + M)·D) per head plus one
// tile of scores per thread, instead of O(N·M) (the dense path for M ≤ 128
// keeps N·M ≤ 128·N per head for its backward). With causal, key tiles past
// the diagonal are skipped (about half the work). Heads run in parallel;
// the tile products are single-threaded sgemm calls. Key ranges of at most
// 128 (a ViT's 65 tokens) take a dense per-head path instead (see below),
// which, when a backward will follow, keeps P (at most 128 per query) so the
// backward need not recompute it.
// Reference path: in reference mode (ATTNLAB_REFERENCE=1) both ops run
// scaled_dot_product_attention_reference, the composed matmul-softmax-matmul.
#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd/autograd.h"
#include "core/kernels/blas.h"
#include "core/kernels/fastmath.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/util/reference_mode.h"
#include "core/kernels/small_gemm.h"
#include "core/tensor/strided.h"

namespace attnlab {

namespace {

constexpr int64_t kQueryTile = 64, kKeyTile = 128;
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// Where head (b, h) of a [B, H, N, D] tensor with unit stride in D starts, and its row stride.
struct HeadView {
    const float* base;
    int64_t stride_b, stride_h, row;
    const float* head(int64_t b, int64_t h) const { return base + b * stride_b + h * stride_h; }
};

HeadView head_view(const Tensor& t) {
    return {t.data(), t.strides()[0], t.strides()[1], t.strides()[2]};
}

// A [B,H,N,D] tensor whose last dim is contiguous (views from the qkv projection are).
Tensor unit_inner_stride(const Tensor& t) { return t.strides()[3] == 1 || t.size(3) == 1 ? t : contiguous(t); }

// Masks scores S[r][c] of query row i0+r and key j0+c when the key is in the future.
void mask_future(float* S, int64_t rows, int64_t cols, int64_t i0, int64_t j0, int64_t ld) {
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = std::max<int64_t>(0, i0 + r - j0 + 1); c < cols; ++c) S[r * ld + c] = kNegInf;
}

void attention_forward_head(const float* q, const float* k, const float* v, int64_t ldq, int64_t ldk, int64_t ldv,
                            float* out, int64_t ldo, float* lse, int64_t N, int64_t M, int64_t D, float scale, bool causal,
                            std::vector<float>& S, std::vector<float>& acc) {
    S.resize(size_t(kQueryTile * kKeyTile));
    acc.resize(size_t(kQueryTile * D));
    float m[kQueryTile], l[kQueryTile];
    for (int64_t i0 = 0; i0 < N; i0 += kQueryTile) {
        const int64_t rows = std::min(kQueryTile, N - i0);
        const int64_t key_end = causal ? std::min(M, i0 + rows) : M;
        std::fill(m, m + rows, kNegInf);
        std::fill(l, l + rows, 0.f);
        std::fill(acc.begin(), acc.begin() + rows * D, 0.f);
        for (int64_t j0 = 0; j0 < key_end; j0 += kKeyTile) {
            const int64_t cols = std::min(kKeyTile, key_end - j0);
            gemm(false, true, rows, cols, D, scale, q + i0 * ldq, ldq, k + j0 * ldk, ldk, 0.f, S.data(), cols);
            if (causal) mask_future(S.data(), rows, cols, i0, j0, cols);
            for (int64_t r = 0; r < rows; ++r) {
                float* s = S.data() + r * cols;
                float row_max = m[r];
#pragma omp simd reduction(max : row_max)
                for (int64_t c = 0; c < cols; ++c) row_max = std::max(row_max, s[c]);
                float sum = 0.f;
#pragma omp simd reduction(+ : sum)
                for (int64_t c = 0; c < cols; ++c) {
                    s[c] = fast::exp(s[c] - row_max);
                    sum += s[c];
                }
                float alpha = m[r] == kNegInf ? 0.f : fast::exp(m[r] - row_max);
                l[r] = l[r] * alpha + sum;
                m[r] = row_max;
                float* a = acc.data() + r * D;
#pragma omp simd
                for (int64_t d = 0; d < D; ++d) a[d] *= alpha;
            }
            gemm(false, false, rows, D, cols, 1.f, S.data(), cols, v + j0 * ldv, ldv, 1.f, acc.data(), D);
        }
        for (int64_t r = 0; r < rows; ++r) {
            float inv = l[r] > 0.f ? 1.f / l[r] : 0.f;
            float* o = out + (i0 + r) * ldo;
            const float* a = acc.data() + r * D;
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) o[d] = a[d] * inv;
            lse[i0 + r] = l[r] > 0.f ? m[r] + std::log(l[r]) : kNegInf;
        }
    }
}

// Δ_i = dO_i · O_i for the N rows of one head (the softmax backward's row term).
void output_dots(const float* dout, int64_t lddo, const float* out, int64_t ldo, int64_t N, int64_t D, float* delta) {
    for (int64_t i = 0; i < N; ++i) {
        float s = 0.f;
#pragma omp simd reduction(+ : s)
        for (int64_t d = 0; d < D; ++d) s += dout[i * lddo + d] * out[i * ldo + d];
        delta[i] = s;
    }
}

// Short key ranges (M ≤ kDenseKeys, e.g. a ViT's 65 tokens) fit one tile: the
// whole score block is formed per head in a thread's scratch, with the
// register-blocked small::gemm instead of sgemm calls (whose fixed cost is
// large at this size). Same formulas as above with a single key tile, but the
// scores are kept transposed, Sᵀ = s·K Qᵀ of shape [M, Np] (Np = N rounded up
// to the vector width, padding columns from zero queries): the softmax over
// keys then runs down the columns, 8 or 16 queries per vector instruction,
// with no horizontal reductions in 65-element rows. Products with Qᵀ, dOᵀ use
// a transposed copy. When the forward is given `probs` (training), it leaves
// the normalized Pᵀ there and the backward starts from it.
constexpr int64_t kDenseKeys = 128;

int64_t padded_queries(int64_t N) { return (N + small::kLanes - 1) / small::kLanes * small::kLanes; }

struct DenseScratch {
    std::vector<float> qt, dot, ST, dST, row_a, row_b;  // Qᵀ, dOᵀ [D, Np]; Sᵀ (inference), dSᵀ [M, Np]; per query
};

// Sᵀ = s·K Qᵀ of one head into ST ([M, Np]); future keys (c > r) -inf when causal.
void transposed_scores(const float* q, const float* k, int64_t ldq, int64_t ldk, int64_t N, int64_t M, int64_t D,
                       float scale, bool causal, float* ST, DenseScratch& w) {
    const int64_t Np = padded_queries(N);
    w.qt.resize(size_t(D * Np));
    small::transpose_padded(q, ldq, N, D, w.qt.data(), Np);
    small::gemm<false>(M, Np, D, scale, k, ldk, w.qt.data(), Np, false, ST, Np);
    if (causal)
        for (int64_t c = 1; c < M; ++c) std::fill(ST + c * Np, ST + c * Np + std::min(c, Np), kNegInf);
}

// Sᵀ → e^(Sᵀ - m) in place, m the column (query) maxima; returns 1 / l, l the column sums.
// Every query has a key (causal needs N = M: the diagonal), so l > 0.
const float* exp_down_columns(float* ST, int64_t M, int64_t Np, bool causal, DenseScratch& w) {
    w.row_a.assign(size_t(Np), kNegInf);
    w.row_b.assign(size_t(Np), 0.f);
    float *row_max = w.row_a.data(), *row_sum = w.row_b.data();
    for (int64_t c = 0; c < M; ++c) {
        const float* s = ST + c * Np;
#pragma omp simd
        for (int64_t r = 0; r < Np; ++r) row_max[r] = std::max(row_max[r], s[r]);
    }
    for (int64_t c = 0; c < M; ++c) {
        float* s = ST + c * Np;
        if (causal) {  // masked scores: e^-inf = 0 exactly (fast::exp is not asked for it)
#pragma omp simd
            for (int64_t r = 0; r < Np; ++r) {
                s[r] = s[r] == kNegInf ? 0.f : fast::exp(s[r] - row_max[r]);
                row_sum[r] += s[r];
            }
        } else {
#pragma omp simd
            for (int64_t r = 0; r < Np; ++r) {
                s[r] = fast::exp(s[r] - row_max[r]);
                row_sum[r] += s[r];
            }
        }
    }
    float* inv_sum = row_sum;
#pragma omp simd
    for (int64_t r = 0; r < Np; ++r) inv_sum[r] = 1.f / row_sum[r];
    return inv_sum;
}

// Pᵀ of one head into probs ([M, Np]), O = P V into out. When probs is null
// (no backward follows) the unnormalized e^(Sᵀ - m) stays in the thread's
// scratch and O = (e^(S - m) V) / l: one pass over N×D numbers instead of M×Np.
void dense_forward_head(const float* q, const float* k, const float* v, int64_t ldq, int64_t ldk, int64_t ldv,
                        float* out, int64_t ldo, float* probs, int64_t N, int64_t M, int64_t D, float scale,
                        bool causal, DenseScratch& w) {
    const int64_t Np = padded_queries(N);
    float* ST = probs;  // Sᵀ, becomes Pᵀ in place
    if (!ST) {
        w.ST.resize(size_t(M * Np));
        ST = w.ST.data();
    }
    transposed_scores(q, k, ldq, ldk, N, M, D, scale, causal, ST, w);
    const float* inv_sum = exp_down_columns(ST, M, Np, causal, w);
    if (!probs) {  // no backward follows: O = (e^(S-m) V) / l, dividing the N×D output instead of the M×Np scores
        small::gemm<true>(N, D, M, 1.f, ST, Np, v, ldv, false, out, ldo);
        for (int64_t r = 0; r < N; ++r) {
            float* o = out + r * ldo;
            const float inv = inv_sum[r];
#pragma omp simd
            for (int64_t d = 0; d < D; ++d) o[d] *= inv;
        }
        return;
    }
    for (int64_t c = 0; c < M; ++c) {  // Pᵀ /= l: the probabilities the backward starts from
        float* p = ST + c * Np;
#pragma omp simd
        for (int64_t r = 0; r < Np; ++r) p[r] *= inv_sum[r];
    }
    small::gemm<true>(N, D, M, 1.f, ST, Np, v, ldv, false, out, ldo);  // O = (Pᵀ)ᵀ V
}

// Backward of one head from the forward's Pᵀ (causal: already 0 above the diagonal).
void dense_backward_head(const float* q, const float* k, const float* v, int64_t ldq, int64_t ldk, int64_t ldv,
                         const float* out, int64_t ldo, const float* dout, int64_t lddo, const float* PT, float* dq,
                         float* dk, float* dv, int64_t ldg, int64_t N, int64_t M, int64_t D, float scale,
                         DenseScratch& w) {
    const int64_t Np = padded_queries(N);
    w.row_b.assign(size_t(Np), 0.f);  // Δ (padding queries: 0)
    float* delta = w.row_b.data();
    output_dots(dout, lddo, out, ldo, N, D, delta);
    w.dot.resize(size_t(D * Np));
    w.dST.resize(size_t(M * Np));
    small::transpose_padded(dout, lddo, N, D, w.dot.data(), Np);
    float* dST = w.dST.data();
    small::gemm<false>(M, D, N, 1.f, PT, Np, dout, lddo, false, dv, ldg);             // dV = Pᵀ dO
    small::gemm<false>(M, Np, D, 1.f, v, ldv, w.dot.data(), Np, false, dST, Np);      // dPᵀ = V dOᵀ
    for (int64_t c = 0; c < M; ++c) {
        const float* p = PT + c * Np;
        float* ds = dST + c * Np;
#pragma omp simd
        for (int64_t r = 0; r < Np; ++r) ds[r] = p[r] * (ds[r] - delta[r]);  // dSᵀ = Pᵀ ∘ (dPᵀ - Δ)
    }
    small::gemm<true>(N, D, M, scale, dST, Np, k, ldk, false, dq, ldg);   // dQ = s·dS K
    small::gemm<false>(M, D, N, scale, dST, Np, q, ldq, false, dk, ldg);  // dK = s·dSᵀ Q
}

void attention_backward_head(const float* q, const float* k, const float* v, int64_t ldq, int64_t ldk, int64_t ldv,
                             const float* out, int64_t ldo, const float* dout, int64_t lddo, const float* lse, float* dq,
                             float* dk, float* dv, int64_t ldg, int64_t N, int64_t M, int64_t D, float scale,
                             bool causal, std::vector<float>& P, std::vector<float>& dS, std::vector<float>& delta) {
    P.resize(size_t(kQueryTile * kKeyTile));
    dS.resize(size_t(kQueryTile * kKeyTile));
    delta.resize(size_t(N));
    output_dots(dout, lddo, out, ldo, N, D, delta.data());
    for (int64_t i = 0; i < N; ++i) std::fill(dq + i * ldg, dq + i * ldg + D, 0.f);
    for (int64_t j0 = 0; j0 < M; j0 += kKeyTile) {
        const int64_t cols = std::min(kKeyTile, M - j0);
        for (int64_t j = j0; j < j0 + cols; ++j) {
            std::fill(dk + j * ldg, dk + j * ldg + D, 0.f);
            std::fill(dv + j * ldg, dv + j * ldg + D, 0.f);
        }
        const int64_t first_query = causal ? (j0 / kQueryTile) * kQueryTile : 0;
        for (int64_t i0 = first_query; i0 < N; i0 += kQueryTile) {
            const int64_t rows = std::min(kQueryTile, N - i0);
            gemm(false, true, rows, cols, D, scale, q + i0 * ldq, ldq, k + j0 * ldk, ldk, 0.f, P.data(), cols);
            if (causal) mask_future(P.data(), rows, cols, i0, j0, cols);
            for (int64_t r = 0; r < rows; ++r) {
                float* p = P.data() + r * cols;
                const float L = lse[i0 + r];
#pragma omp simd
                for (int64_t c = 0; c < cols; ++c) p[c] = fast::exp(p[c] - L);
            }
            // dV_j += Pᵀ dO_i ;  dP = dO_i V_jᵀ
            gemm(true, false, cols, D, rows, 1.f, P.data(), cols, dout + i0 * lddo, lddo, 1.f, dv + j0 * ldg, ldg);
            gemm(false, true, rows, cols, D, 1.f, dout + i0 * lddo, lddo, v + j0 * ldv, ldv, 0.f, dS.data(), cols);
            for (int64_t r = 0; r < rows; ++r) {
                const float* p = P.data() + r * cols;
                float* ds = dS.data() + r * cols;
                const float dlt = delta[size_t(i0 + r)];
#pragma omp simd
                for (int64_t c = 0; c < cols; ++c) ds[c] = p[c] * (ds[c] - dlt);
            }
            // dQ_i += s·dS K_j ;  dK_j += s·dSᵀ Q_i
            gemm(false, false, rows, D, cols, scale, dS.data(), cols, k + j0 * ldk, ldk, 1.f, dq + i0 * ldg, ldg);
            gemm(true, false, cols, D, rows, scale, dS.data(), cols, q + i0 * ldq, ldq, 1.f, dk + j0 * ldg, ldg);
        }
    }
}

// Forward of every head: O (a [B,H,N,D] view) and what the backward starts
// from (see Saved below): the tiled path's log-sum-exp L [B,H,N] into lse, the
// dense path's Pᵀ [B·H, M, Np] into probs when that is not null.
void forward_all_heads(const HeadView& Q, const HeadView& K, const HeadView& V, const HeadView& O, float* lse,
                       float* probs, int64_t B, int64_t H, int64_t N, int64_t M, int64_t D, float scale, bool causal) {
    profiler::add_flops(4.0 * double(B * H) * double(N) * double(M) * double(D) * (causal ? 0.5 : 1.0));  // Q Kᵀ, P V
    const bool dense = M <= kDenseKeys;
    parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
        std::vector<float> S, acc;
        DenseScratch scratch;
        for (int64_t bh = lo; bh < hi; ++bh) {
            const int64_t b = bh / H, h = bh % H;
            float* out = const_cast<float*>(O.head(b, h));
            if (dense)
                dense_forward_head(Q.head(b, h), K.head(b, h), V.head(b, h), Q.row, K.row, V.row, out, O.row,
                                   probs ? probs + bh * M * padded_queries(N) : nullptr, N, M, D, scale, causal,
                                   scratch);
            else
                attention_forward_head(Q.head(b, h), K.head(b, h), V.head(b, h), Q.row, K.row, V.row, out, O.row,
                                       lse + bh * N, N, M, D, scale, causal, S, acc);
        }
    });
}

// Backward of every head into dQ, dK, dV, given as views with unit stride in D
// and one row stride for all three (contiguous [B,H,N,D] tensors: D; the slots
// of a packed [B,N,3,H,D] one: 3·H·D). The dense path starts from the
// forward's `probs`; the tiled one recomputes P from L.
void backward_all_heads(const HeadView& Q, const HeadView& K, const HeadView& V, const HeadView& O,
                        const HeadView& dO, const float* lse, const float* probs, const HeadView& dQ,
                        const HeadView& dK, const HeadView& dV, int64_t B, int64_t H, int64_t N, int64_t M, int64_t D,
                        float scale, bool causal) {
    const bool dense = M <= kDenseKeys;
    const double products = dense ? 4.0 : 5.0;  // dV, dP, dQ, dK (+ Q Kᵀ again when tiled)
    profiler::add_flops(2.0 * products * double(B * H) * double(N) * double(M) * double(D) * (causal ? 0.5 : 1.0));
    parallel_for_balanced(0, B * H, 8 * num_threads(), [&](int64_t lo, int64_t hi) {
        std::vector<float> P, dS, delta;
        DenseScratch scratch;
        for (int64_t bh = lo; bh < hi; ++bh) {
            const int64_t b = bh / H, h = bh % H;
            float *dq = const_cast<float*>(dQ.head(b, h)), *dk = const_cast<float*>(dK.head(b, h)),
                  *dv = const_cast<float*>(dV.head(b, h));
            if (dense)
                dense_backward_head(Q.head(b, h), K.head(b, h), V.head(b, h), Q.row, K.row, V.row, O.head(b, h), O.row,
                                    dO.head(b, h), dO.row, probs + bh * M * padded_queries(N), dq, dk, dv, dQ.row, N,
                                    M, D, scale, scratch);
            else
                attention_backward_head(Q.head(b, h), K.head(b, h), V.head(b, h), Q.row, K.row, V.row, O.head(b, h),
                                        O.row, dO.head(b, h), dO.row, lse + bh * N, dq, dk, dv, dQ.row, N, M, D,
                                        scale, causal, P, dS, delta);
        }
    });
}

// Slot `which` (0 q, 1 k, 2 v) of a packed [B, N, 3·H·D] tensor, as the heads of a [B,H,N,D] view.
HeadView packed_slot(const Tensor& qkv, int64_t which, int64_t H, int64_t D) {
    const int64_t width = qkv.size(2);
    return {qkv.data() + which * H * D, qkv.size(1) * width, D, width};
}

// What the backward starts from besides q, k, v and O: the tiled path's L
// (always: its forward needs the buffer), the dense path's Pᵀ (only when a
// backward can follow). The other one stays undefined.
struct Saved {
    Tensor lse, probs;
    Saved(const std::vector<Tensor>& inputs, int64_t B, int64_t H, int64_t N, int64_t M) {
        if (M > kDenseKeys) lse = Tensor::empty({B, H, N});
        else if (any_requires_grad(inputs)) probs = Tensor::empty({B * H, M, padded_queries(N)});
    }
};

float* data_or_null(const Tensor& t) { return t.defined() ? t.data() : nullptr; }

// [N, M] Bool mask, true where key j is in the future of query i (j > i).
Tensor future_mask(int64_t N, int64_t M) {
    std::vector<bool> blocked(size_t(N * M));
    for (int64_t i = 0; i < N; ++i)
        for (int64_t j = i + 1; j < M; ++j) blocked[size_t(i * M + j)] = true;
    return Tensor::from_bools(blocked, {N, M});
}

}  // namespace

Tensor scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, bool causal,
                                              float scale) {
    if (scale == 0.f) scale = 1.f / std::sqrt(float(q.size(-1)));
    Tensor scores = mul_scalar(matmul(q, transpose(k, -2, -1)), scale);  // [B, H, N, M]
    if (causal) scores = masked_fill(scores, future_mask(q.size(-2), k.size(-2)), kNegInf);
    return matmul(softmax(scores, -1), v);
}

Tensor scaled_dot_product_attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, bool causal,
                                    float scale) {
    PROFILE_SCOPE("scaled_dot_product_attention");
    for (const Tensor* t : {&q_in, &k_in, &v_in}) detail::check_float("scaled_dot_product_attention", *t);
    check(q_in.dim() == 4 && k_in.dim() == 4 && v_in.dim() == 4 && q_in.size(0) == k_in.size(0) &&
              q_in.size(1) == k_in.size(1) && q_in.size(3) == k_in.size(3) && k_in.shape() == v_in.shape(),
          "scaled_dot_product_attention: q ", to_string(q_in.shape()), ", k ", to_string(k_in.shape()), ", v ",
          to_string(v_in.shape()), ": expected [B,H,N,D], [B,H,M,D], [B,H,M,D]");
    const int64_t B = q_in.size(0), H = q_in.size(1), N = q_in.size(2), M = k_in.size(2), D = q_in.size(3);
    check(!causal || N == M, "scaled_dot_product_attention: causal needs as many queries as keys, got ", N, " and ", M);
    if (scale == 0.f) scale = 1.f / std::sqrt(float(D));
    if (reference_mode()) return scaled_dot_product_attention_reference(q_in, k_in, v_in, causal, scale);
    Tensor q = unit_inner_stride(q_in.detach()), k = unit_inner_stride(k_in.detach()), v = unit_inner_stride(v_in.detach());
    // out is stored [B, N, H, D] and returned as its [B, H, N, D] view, so that
    // merging heads back to [B, N, H·D] afterwards needs no copy.
    Tensor out = permute(Tensor::empty({B, N, H, D}), {0, 2, 1, 3});
    Saved saved({q_in, k_in, v_in}, B, H, N, M);
    forward_all_heads(head_view(q), head_view(k), head_view(v), head_view(out), data_or_null(saved.lse),
                      data_or_null(saved.probs), B, H, N, M, D, scale, causal);
    return record("scaled_dot_product_attention", out, {q_in, k_in, v_in},
                  [q, k, v, out_saved = out.detach(), saved, causal, scale](const Tensor& dout_in) {
                      Tensor dout = unit_inner_stride(dout_in);  // e.g. the [B, N, H, D] layout of the next projection's gradient
                      const int64_t B = q.size(0), H = q.size(1), N = q.size(2), M = k.size(2), D = q.size(3);
                      Tensor dq = Tensor::empty(q.shape()), dk = Tensor::empty(k.shape()), dv = Tensor::empty(v.shape());
                      backward_all_heads(head_view(q), head_view(k), head_view(v), head_view(out_saved),
                                         head_view(dout), data_or_null(saved.lse), data_or_null(saved.probs),
                                         head_view(dq), head_view(dk), head_view(dv), B, H, N, M, D, scale, causal);
                      return std::vector<Tensor>{dq, dk, dv};
                  });
}

Tensor scaled_dot_product_attention_packed(const Tensor& qkv_in, int64_t heads, bool causal, float scale) {
    PROFILE_SCOPE("scaled_dot_product_attention");
    detail::check_float("scaled_dot_product_attention_packed", qkv_in);
    check(qkv_in.dim() == 3 && heads > 0 && qkv_in.size(2) % (3 * heads) == 0,
          "scaled_dot_product_attention_packed: qkv ", to_string(qkv_in.shape()), " with ", heads,
          " heads: expected [B, N, 3·heads·D]");
    const int64_t B = qkv_in.size(0), N = qkv_in.size(1), H = heads, D = qkv_in.size(2) / (3 * heads);
    if (scale == 0.f) scale = 1.f / std::sqrt(float(D));
    if (reference_mode()) {  // split [B, N, 3, H, D] into q, k, v views [B, H, N, D]
        Tensor slots = permute(reshape(qkv_in, {B, N, 3, H, D}), {2, 0, 3, 1, 4});
        auto slot = [&](int64_t i) { return squeeze(narrow(slots, 0, i, 1), 0); };
        return scaled_dot_product_attention_reference(slot(0), slot(1), slot(2), causal, scale);
    }
    Tensor qkv = qkv_in.detach().contiguous();
    Tensor out = permute(Tensor::empty({B, N, H, D}), {0, 2, 1, 3});
    Saved saved({qkv_in}, B, H, N, N);
    forward_all_heads(packed_slot(qkv, 0, H, D), packed_slot(qkv, 1, H, D), packed_slot(qkv, 2, H, D),
                      head_view(out), data_or_null(saved.lse), data_or_null(saved.probs), B, H, N, N, D, scale, causal);
    return record("scaled_dot_product_attention", out, {qkv_in},
                  [qkv, out_saved = out.detach(), saved, H, D, causal, scale](const Tensor& dout_in) {
                      Tensor dout = unit_inner_stride(dout_in);
                      const int64_t B = qkv.size(0), N = qkv.size(1);
                      Tensor dqkv = Tensor::empty(qkv.shape());  // every element is written: no zero fill
                      backward_all_heads(packed_slot(qkv, 0, H, D), packed_slot(qkv, 1, H, D),
                                         packed_slot(qkv, 2, H, D), head_view(out_saved), head_view(dout),
                                         data_or_null(saved.lse), data_or_null(saved.probs), packed_slot(dqkv, 0, H, D),
                                         packed_slot(dqkv, 1, H, D), packed_slot(dqkv, 2, H, D), B, H, N, N, D, scale,
                                         causal);
                      return std::vector<Tensor>{dqkv};
                  });
}

}  // namespace attnlab

// feature_map_attention.h — kernelized linear attention as one fused op with a
// hand-written backward, for feature maps φ applied row by row (linear_elu's
// elu(x)+1, taylor's [1, x̂], performer's and rfa's random features). The
// composed version (φ by differentiable ops, then matmul / causal_product /
// cumsum, or kernel_attention) stays in each variant as its reference.
//
//   out_i = φ_q(q_i)ᵀ S_i / den_i,   S_i = Σ_j φ_k(k_j) v_jᵀ [M, Dv],   z_i = Σ_j φ_k(k_j) [M]
//   den_i = max(φ_q(q_i)ᵀ z_i + eps, n_i·min_mean_kernel)   (n_i keys seen: N, or i + 1)
//
// with j over all keys, or j ≤ i when causal. Where the floor applies, den_i
// gets no gradient (as maximum() in the composed form). The normalizer is the extra
// value column of v'_j = [v_j, 1], S'_i = [S_i, z_i] [M, Dv+1]; in the code that column
// is kept apart (z, row sums, rank-1 terms) so each product has exactly Dv columns.
// Rows are processed in chunks of C:
//   non-causal: S' = Σ_chunks φ(K_c)ᵀ V'_c, then out_c = φ(Q_c) S' (normalized)
//   causal:     num'_c = tril(φ(Q_c) φ(K_c)ᵀ) V'_c + φ(Q_c) S'_prev, then
//               S'_prev += φ(K_c)ᵀ V'_c        (blocked prefix sums: GEMMs, no per-token loop)
// Backward, with g'_i = [g_i / den_i, −(g_i·out_i) / den_i] (second part 0 where floored):
//   dφ(q_i) = S'_i g'_i,   dφ(k_j) = R_j v'_j,   dv'_j = R_jᵀ φ(k_j),   R_j = Σ_{i ≥ j} φ(q_i) g'_iᵀ
// (non-causal: S'_i = S', R_j = R for all), again chunked: within a chunk the
// masked C×C products, across chunks the running S' (forward order) and R
// (reverse order). Then dq, dk through φ's own backward.
// Constant features (FeatureMap::varying_features) get no dφ columns, but for gs S_mᵀ in
// the non-causal normalizer (a dot of Dv per row and constant).
// Non-causal, the output is not kept: g_i·out_i = φ(q_i)·(S g_i) / den_i, and S g_i / den_i
// is row i of the product gs Sᵀ that dφ(q) needs anyway (gs = rows g_i / den_i).
// Time O(N·M·Dv + N·C·(M + Dv)) per head; memory kept for the backward: non-causal, S, z
// [B,H,M·(Dv+1)] (the backward finds den_i again as φ(q_i)·z + eps, bit for bit as the forward
// did); causal, the output and the row denominators [B,H,N]; a few C×max(M, C, Dv) scratch
// blocks per thread.
// Packed entry (feature_map_attention_packed): q, k, v are read from the [B, N, 3·H·D]
// projection where they are and the three gradients are written into one tensor of its shape. φ(Q), φ(K) are recomputed
// chunk by chunk, never stored whole.
#pragma once
#include <memory>

#include "core/tensor/tensor.h"

namespace attnlab::attention {

// φ: R^D -> R^M on rows, with its backward. `bh` is the (batch·head) the rows
// belong to, for maps with a per-head constant (performer's key shift).
struct FeatureMap {
    virtual ~FeatureMap() = default;
    virtual int64_t features(int64_t D) const = 0;  // M
    // Features [0, Mg) depend on x, [Mg, M) are constants (taylor's 1): their dφ is not formed
    // (backward must not read it), so every gradient product is Mg wide. Mg = M by default.
    virtual int64_t varying_features(int64_t D) const { return features(D); }
    // Maps whose features are exp(e(x) − c_bh), c_bh the max of e over the head's keys (performer's
    // keys): with running_shift() true the op finds c_bh in its non-causal pass over the keys (the
    // running max, the sums so far rescaled by exp(c_old − c_new) where it grows, as flash
    // attention does), then records it with set_shift() for forward() in the backward.
    virtual bool running_shift() const { return false; }
    virtual void exponent(int64_t bh, const float* x, int64_t ldx, int64_t rows, int64_t D, float* e) const {}
    virtual void exp_shifted(float* e, int64_t rows, float shift) const {}  // φ from e [rows, M], in place
    virtual void set_shift(int64_t bh, float shift) const {}
    // phi [rows, M] (contiguous) = φ(x) for x [rows, D] with row stride ldx.
    virtual void forward(int64_t bh, const float* x, int64_t ldx, int64_t rows, int64_t D, float* phi) const = 0;
    // dx [rows, D] (row stride lddx) = (∂φ/∂x)ᵀ dphi, given x and its phi from forward.
    virtual void backward(int64_t bh, const float* x, int64_t ldx, int64_t rows, int64_t D, const float* phi,
                          const float* dphi, float* dx, int64_t lddx) const = 0;
};

// q, k [B,H,N,D], v [B,H,N,Dv] (last dim unit stride or not) -> [B,H,N,Dv]; differentiable in
// q, k, v. φ_q and φ_k must have the same number of features.
Tensor feature_map_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                             std::shared_ptr<const FeatureMap> phi_q, std::shared_ptr<const FeatureMap> phi_k,
                             bool causal, float eps, float min_mean_kernel = 0.f);

// The same on the packed qkv projection [B, N, 3·heads·D] (laid out [B, N, 3, heads, D]; q, k, v
// are its strided views, see split_packed_qkv), as Attention::forward_packed receives it: the
// backward returns one gradient [B, N, 3·heads·D], its q, k, v slices written in place by the
// kernel (no zero-filled buffer, no three gradients added into it).
Tensor feature_map_attention_packed(const Tensor& qkv, int64_t heads, std::shared_ptr<const FeatureMap> phi_q,
                                    std::shared_ptr<const FeatureMap> phi_k, bool causal, float eps,
                                    float min_mean_kernel = 0.f);

}  // namespace attnlab::attention

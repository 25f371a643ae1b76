// sparse_strided.h — the "strided" pattern of the Sparse Transformer (Child, Gray, Radford,
// Sutskever, 2019, "Generating Long Sequences with Sparse Transformers"), with the two heads of
// the factorization merged into one attention (the paper's "merged" variant: A = A(1) ∪ A(2)):
//
//   i attends to j  if  |i − j| < l        (A(1): a window of l tokens)
//                   or  l divides i − j    (A(2): every l-th token)
//                   (causal, as in the paper: and j ≤ i, so A(1) is the previous l − 1 tokens)
//   out_i = Σ_{allowed j} softmax_j(q_i·k_j / √D) v_j
// Non-causal (for the ViT): the symmetric extension, i.e. the window reaches l − 1 tokens on
// each side and the stride columns run through the whole sequence.
// No single blocking serves both sets (a block of consecutive queries needs every residue of
// A(2); a residue class needs every window of A(1)), so two score blocks share one softmax row:
//   local:   query block t (tokens t·l … t·l + l − 1) against key blocks t−1, t, t+1, masked to
//            |i − j| < l (block_sparse)                                  [B,H,T,l,≤3l]
//   strided: X [B,H,N,D] viewed [B,H,T,l,D] and transposed to [B,H,l,T,D]: row r of that view
//            is the subsequence r, r+l, r+2l, …, so Q_r K_rᵀ holds every score with l | i − j;
//            j = i is masked there (the local block has it)                [B,H,l,T,T]
// The strided scores are transposed back to [B,H,T,l,T] and concatenated to the local ones;
// one softmax; each part's probabilities multiply its own values, and the two outputs add up.
// N is padded to T·l (T = ⌈N/l⌉) with masked keys. That composition is the reference
// (reference = true); the fast path gives the same two parts as two SparseLayouts (local, and
// one block per residue class with j = i left to the local part) to the fused
// sparse_attention, which merges them in one online softmax per query.
// Time O(N·(3l + N/l)·D), memory O(N·(3l + N/l)) per head: O(N√N·D) with l = √N.
// Cost (attention/cost.h): forward 4·B·H·D·pairs flops, pairs = Σ_i (allowed keys of i) ≈
// N(2l + N/l) (causal ≈ half; counted exactly by sparse_strided_pairs), backward twice that;
// traffic q, k, v, out, the row log-sum-exp and the gradients.
// Options: stride l (int, default 0 = ⌈√N⌉), causal (bool, default false).
#pragma once
#include "attention/attention.h"
#include "attention/sparse/block_sparse.h"

namespace attnlab::attention {

class SparseStridedAttention : public Attention {
public:
    SparseStridedAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    std::string describe() const override;

    int64_t stride_for(int64_t N) const;                // l: the option, or ⌈√N⌉ when it is 0
    bool allows(int64_t i, int64_t j, int64_t l) const;  // the pattern, true = i may attend to j
    Tensor blocked_mask(int64_t N) const;               // dense Bool [N, N], true = blocked (for tests)
    bool reference = false;  // true: the composed ops (block_sparse's reference) instead of the fused op

    int64_t stride;

private:
    void prepare(int64_t N);   // the local layout and the strided mask for N tokens
    SparseLayout local_;       // A(1): blocks of l consecutive queries
    Tensor strided_mask_;      // Bool [l, T, T], true = blocked: j = i, padding keys, (causal) the future
    SparseLayout strided_;     // A(2) without j = i: one block per residue class, for the fused op
    bool prepared_causal_ = false;
};

}  // namespace attnlab::attention

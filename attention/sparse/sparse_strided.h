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
// sparse_attention, which merges them in one online softmax per query. Its local part is cut
// into tiles of t = min(l, 2 vectors) consecutive queries (32 with AVX-512) against the t + 2l − 2
// keys within l − 1 of the tile, instead of blocks of l against 3l keys, and j = i moves to the
// strided part, whose non-causal blocks then allow every pair (make_fused_layouts).
// Time O(N·(3l + N/l)·D), memory O(N·(3l + N/l)) per head: O(N√N·D) with l = √N.
// Cost (attention/cost.h): forward 4·B·H·D·pairs flops, pairs = Σ_i (allowed keys of i) ≈
// N(2l + N/l) (causal ≈ half; counted exactly by sparse_strided_pairs), backward twice that;
// traffic q, k, v, out, the row log-sum-exp and the gradients.
// Options (types and defaults: attention/registry.cpp): stride l (0 = ⌈√N⌉, N the model's sequence length), causal.
#pragma once
#include "attention/sparse/sparse_pattern.h"

namespace attnlab::attention {

class SparseStridedAttention : public SparsePatternAttention {
public:
    SparseStridedAttention(const Options& opts, const AttentionContext& ctx);
    std::string describe() const override;
    bool allowed(int64_t i, int64_t j, int64_t N) const override;

    // l: the option, or when it is 0 ⌈√N⌉ of the model's N (AttentionContext::seq_len; of the
    // input's N without one), so that a prefix keeps the whole sequence's pattern.
    int64_t stride_for(int64_t N) const;

    int64_t stride;

protected:
    int64_t model_len_;  // AttentionContext::seq_len, 0 when unknown

    // {local, strided}: A(1) in blocks of l consecutive queries; A(2) without j = i, one block
    // per residue class.
    std::vector<SparseLayout> make_layouts(int64_t N) const override;
    // {local, strided} for the fused op: the same pattern, but the local part in tiles of at most
    // two vectors of consecutive queries (kLanes·2), each against the keys within l − 1 of the
    // tile, instead of blocks of l against 3l keys ((t + 2l − 2)/t key slots per query instead
    // of 3), and j = i in the strided part, so that non-causal residue blocks need no mask.
    std::vector<SparseLayout> make_fused_layouts(int64_t N) const override;
    // The composition above on the local layout and the [B,H,l,T,T] strided scores.
    Tensor composed(const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<SparseLayout>& L) const override;
};

}  // namespace attnlab::attention

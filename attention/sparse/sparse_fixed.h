// sparse_fixed.h — the "fixed" pattern of the Sparse Transformer (Child, Gray, Radford,
// Sutskever, 2019, "Generating Long Sequences with Sparse Transformers"), with the two heads of
// the factorization merged into one attention (the paper's "merged" variant: A = A(1) ∪ A(2)):
//
//   i attends to j  if  ⌊j/l⌋ = ⌊i/l⌋       (A(1): the same block of l tokens)
//                   or  j mod l ≥ l − c     (A(2): the last c "summary" columns of every block)
//                   (causal, as in the paper: and j ≤ i)
//   out_i = Σ_{allowed j} softmax_j(q_i·k_j / √D) v_j
// Non-causal (for the ViT): the same two sets without j ≤ i, i.e. a token sees its whole
// block and the summary columns of every block, before and after it.
// Computed by block_sparse: query block t (the l tokens of block t) gathers its own l keys
// plus the c·⌈N/l⌉ summary keys (causal: only those up to block t).
// Time O(N·(l + c·N/l)·D), memory O(N·(l + c·N/l)) per head: O(N√N·D) with l = √N.
// Cost (attention/cost.h): forward 4·B·H·D·pairs flops, pairs ≈ N(l + c·N/l) (causal ≈
// half; counted exactly by sparse_fixed_pairs), backward twice that; traffic q, k, v, out,
// the row log-sum-exp and the gradients.
// Options (types and defaults: attention/registry.cpp): stride l (0 = ⌈√N⌉, N the model's sequence length), summary c (1 ≤ c ≤ l), causal.
#pragma once
#include "attention/sparse/sparse_pattern.h"

namespace attnlab::attention {

class SparseFixedAttention : public SparsePatternAttention {
public:
    SparseFixedAttention(const Options& opts, const AttentionContext& ctx);
    std::string describe() const override;
    bool allowed(int64_t i, int64_t j, int64_t N) const override;

    // l: the option, or when it is 0 ⌈√N⌉ of the model's N (AttentionContext::seq_len; of the
    // input's N without one), so that a prefix keeps the whole sequence's pattern.
    int64_t stride_for(int64_t N) const;

    int64_t stride, summary;

protected:
    int64_t model_len_;  // AttentionContext::seq_len, 0 when unknown

    std::vector<SparseLayout> make_layouts(int64_t N) const override;
};

}  // namespace attnlab::attention

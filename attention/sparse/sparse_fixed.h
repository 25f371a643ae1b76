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
// Options: stride l (int, default 0 = ⌈√N⌉), summary c (int, default 1; 1 ≤ c ≤ l),
// causal (bool, default false).
#pragma once
#include "attention/attention.h"
#include "attention/sparse/block_sparse.h"

namespace attnlab::attention {

class SparseFixedAttention : public Attention {
public:
    SparseFixedAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    std::string describe() const override;

    int64_t stride_for(int64_t N) const;                // l: the option, or ⌈√N⌉ when it is 0
    bool allows(int64_t i, int64_t j, int64_t l) const;  // the pattern, true = i may attend to j
    Tensor blocked_mask(int64_t N) const;               // dense Bool [N, N], true = blocked (for tests)
    bool reference = false;  // true: the composed ops (block_sparse's reference) instead of the fused op

    int64_t stride, summary;

private:
    const SparseLayout& layout(int64_t N);
    SparseLayout layout_;
    bool layout_causal_ = false;
};

}  // namespace attnlab::attention

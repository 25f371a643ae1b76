// longformer.h — Longformer attention (Beltagy, Peters, Cohan, 2020, "Longformer: The
// Long-Document Transformer"): a sliding window plus a few global tokens.
//
//   i attends to j  if  |i − j| ≤ (w/2)·d  and  d divides i − j     (sliding window, dilation d)
//                   or  i < g  or  j < g                            (the first g tokens are global)
//                   (causal: and j ≤ i, which keeps the left half of the window)
//   out_i = Σ_{allowed j} softmax_j(q_i·k_j / √D) v_j
// Every token sees w/2 tokens on each side plus itself (w + 1 keys, fewer near the ends),
// spread over w·d + 1 positions, plus the g global tokens; a global token sees everything and
// is seen by everything. The default g = 1 is the ViT class token.
// Computed by block_sparse: the non-global queries are grouped by residue mod d, then into
// blocks of w consecutive ones; a block gathers the 2w keys of its window span plus the g
// global keys; the g global queries are dense rows over all N keys.
// Time O(N·(2w + g)·D), memory O(N·(2w + g)) per head (the window part costs 2× the exact
// w + 1 keys per query: the price of dense blocks).
// Cost (attention/cost.h): forward 4·B·H·D·pairs flops, pairs ≈ N(w + 1 + 2g) (counted
// exactly by longformer_pairs), backward twice that; traffic q, k, v, out, the row
// log-sum-exp and the gradients.
// Options: window w (int, default 8; even, ≥ 2), dilation d (int, default 1), global_tokens g
// (int, default 1; 0 = none, more than N = all), causal (bool, default false).
#pragma once
#include "attention/attention.h"
#include "attention/sparse/block_sparse.h"

namespace attnlab::attention {

class LongformerAttention : public Attention {
public:
    LongformerAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    std::string describe() const override;

    bool allows(int64_t i, int64_t j) const;  // the pattern, true = i may attend to j
    Tensor blocked_mask(int64_t N) const;     // dense Bool [N, N], true = blocked (for tests)
    bool reference = false;  // true: the composed ops (block_sparse's reference) instead of the fused op

    int64_t window, dilation, global_tokens;

private:
    const SparseLayout& layout(int64_t N);
    SparseLayout layout_;
    bool layout_causal_ = false;
};

}  // namespace attnlab::attention

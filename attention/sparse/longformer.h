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
// blocks of t = w rounded up to the kernel's vector width (padded_slots, 16 with AVX-512)
// consecutive ones, so that no score lane is padding; a block gathers the t + w keys of its
// window span plus the g global keys; the g global queries are dense rows over all N keys.
// Time O(N·(t + w + g)·D), memory O(N·(t + w + g)) per head (the window part costs
// (t + w)/(w + 1) times the exact w + 1 keys per query: the price of dense blocks).
// Cost (attention/cost.h): forward 4·B·H·D·pairs flops, pairs ≈ N(w + 1 + 2g) (counted
// exactly by longformer_pairs), backward twice that; traffic q, k, v, out, the row
// log-sum-exp and the gradients.
// Options (types and defaults: attention/registry.cpp): window w (even, ≥ 2), dilation d, global_tokens g
// (0 = none, more than N = all), causal.
#pragma once
#include "attention/sparse/sparse_pattern.h"

namespace attnlab::attention {

class LongformerAttention : public SparsePatternAttention {
public:
    LongformerAttention(const Options& opts, const AttentionContext& ctx);
    std::string describe() const override;
    bool allowed(int64_t i, int64_t j, int64_t N) const override;

    int64_t window, dilation, global_tokens;

protected:
    std::vector<SparseLayout> make_layouts(int64_t N) const override;
};

}  // namespace attnlab::attention

// bigbird.h — BigBird attention, ITC form (Zaheer, Guruganesh, Dubey, Ainslie, Alberti,
// Ontañón, Pham, Ravula, Wang, Yang, Ahmed, 2020, "Big Bird: Transformers for Longer
// Sequences"): block-sparse sliding window + global blocks + random blocks.
//
// Tokens are cut into nb = ⌈N/b⌉ blocks of b (the last one may be shorter; its missing keys
// simply do not exist). With β(i) = ⌊i/b⌋ the block of token i:
//   i attends to j  if  |β(i) − β(j)| ≤ 1             (window of 3 blocks, clipped at the ends)
//                   or  β(i) < g  or  β(j) < g        (the first g blocks are global)
//                   or  β(j) ∈ R[β(i)]                (r random key blocks per query block)
//                   (causal: and j ≤ i)
//   out_i = Σ_{allowed j} softmax_j(q_i·k_j / √D) v_j
// R is drawn per N from a seeded Generator: for every non-global query block, r distinct
// blocks among those outside its window and outside the global blocks (causal: only earlier
// ones), or all of them when fewer exist. It is the buffer "random_blocks" (Int64 [nb, r],
// -1 = none): fixed in eval mode; redrawn at every training forward only with redraw=true.
// Computed by block_sparse: each non-global query block gathers its (3 + g + r)·b keys; the
// g·b global queries are dense rows over all N keys.
// Time O(N·b·(3 + g + r)·D), memory O(N·b·(3 + g + r)) per head (plus g·b·N for the
// global rows).
// Cost (attention/cost.h): forward 4·B·H·D·pairs flops, pairs ≈ N·b(3 + g + r) + g·b·N
// (bigbird_pairs), backward twice that; traffic q, k, v, out, the row log-sum-exp, gradients.
// Options: block b (int, default 8), global_blocks g (int, default 1), random_blocks r (int,
// default 2), redraw (bool, default false), seed (int, default -1: drawn from
// default_generator() at construction), causal (bool, default false).
#pragma once
#include "attention/attention.h"
#include "attention/sparse/block_sparse.h"
#include "core/util/rng.h"

namespace attnlab::attention {

class BigBirdAttention : public Attention {
public:
    BigBirdAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    std::string describe() const override;
    nn::RandomState random_state() const override { return generator_state(gen_); }
    void set_random_state(const nn::RandomState& s) override { restore_generator(gen_, s, 2, "bigbird"); }

    // The pattern for N tokens with the current random blocks (drawn for N if they were drawn
    // for another length, never redrawn otherwise); dense Bool [N, N], true = blocked (for tests).
    Tensor blocked_mask(int64_t N);
    bool reference = false;  // true: the composed ops (block_sparse's reference) instead of the fused op

    int64_t block, global_blocks, random_blocks;
    bool redraw;
    Tensor random_table;  // Int64 [nb, r], buffer "random_blocks"

private:
    bool allows(int64_t i, int64_t j, const std::vector<int64_t>& table) const;
    void draw_random_blocks(int64_t nb);
    const SparseLayout& layout(int64_t N);  // draws R for N if needed, rebuilds when R or N changed

    Generator gen_;
    SparseLayout layout_;
    bool layout_causal_ = false;
    std::vector<int64_t> layout_table_;  // the R the layout was built from
};

}  // namespace attnlab::attention

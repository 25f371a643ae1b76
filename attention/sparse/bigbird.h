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
// Computed by block_sparse: each non-global query block sees its (3 + g + r)·b keys and, in the
// fused op, holds its scores with the keys along the vector lanes (use_key_lanes), so a query
// scores exactly the keys of its pattern (the composed reference gathers them, and groups
// ⌊16/b⌋ blocks when b is below the vector width, with the union of their keys); the fused op
// reads them in place as 3–5 runs of consecutive tokens, their transposed rows from chunks of
// 8 tokens made once per head. The g·b global queries are dense rows over all N keys.
// Time O(N·b·(3 + g + r)·D), memory O(N·b·(3 + g + r)) per head (plus g·b·N for the
// global rows).
// Cost (attention/cost.h): forward 4·B·H·D·pairs flops, pairs ≈ N·b(3 + g + r) + g·b·N
// (bigbird_pairs), backward twice that; traffic q, k, v, out, the row log-sum-exp, gradients.
// Options (types and defaults: attention/registry.cpp): block b, global_blocks g, random_blocks r,
// redraw, seed (-1: drawn from default_generator() at construction), causal.
#pragma once
#include "attention/sparse/sparse_pattern.h"
#include "core/util/rng.h"

namespace attnlab::attention {

class BigBirdAttention : public SparsePatternAttention {
public:
    BigBirdAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;  // redraws R first when asked
    std::string describe() const override;
    nn::RandomState random_state() const override { return generator_state(gen_); }
    void set_random_state(const nn::RandomState& s) override { restore_generator(gen_, s, 2, "bigbird"); }

    // The pattern with the current random blocks R; prepare(N) draws R for N if it was drawn
    // for another length (causal: for a shorter one; a prefix takes the first rows of R), and
    // never redraws it otherwise.
    bool allowed(int64_t i, int64_t j, int64_t N) const override;
    void prepare(int64_t N) override;

    int64_t block, global_blocks, random_blocks;
    bool redraw;
    Tensor random_table;  // Int64 [nb, r], buffer "random_blocks"

protected:
    std::vector<SparseLayout> make_layouts(int64_t N) const override;
    std::vector<SparseLayout> make_fused_layouts(int64_t N) const override;
    std::vector<int64_t> pattern_state() const override { return table_; }  // the layout is rebuilt when R changes

private:
    void draw_random_blocks(int64_t nb);
    // Query blocks of `group` consecutive blocks, each with the union of their keys.
    SparseLayout blocked_layout(int64_t N, int64_t group) const;

    Generator gen_;
    std::vector<int64_t> table_;  // random_table as a host vector, [nb·r]
};

}  // namespace attnlab::attention

// sparse_pattern.h — the base of the sparse variants (longformer, bigbird, sparse_strided,
// sparse_fixed): a variant states which (i, j) pairs it allows and how to block its queries;
// this class does the rest — forward, the layout cache, the switch to the composed reference.
//
//   out_i = Σ_{j : allowed(i, j, N)} softmax_j(q_i·k_j / √D) v_j     (no allowed key: out_i = 0)
//
// A variant implements
//   allowed(i, j, N)   the pattern for N tokens (causal included: j ≤ i when causal);
//   make_layouts(N)    one SparseLayout (block_sparse.h) of query blocks and candidate keys, or
//                      several whose patterns partition allowed() (sparse_strided);
// and may override
//   prepare(N)         make allowed() valid for N (bigbird draws its random blocks);
//   pattern_state()    what else the pattern depends on, so the cached layout is rebuilt
//                      when it changes (bigbird's random blocks);
//   composed(q, k, v)  the reference path (default: sparse_attention_reference of the layout).
// The layouts are built once per (N, causal, pattern_state()) (and per path: make_fused_layouts). forward runs the fused
// sparse_attention, or the composed reference when `reference` or reference_mode() is set.
// attention/reference/sparse.h turns allowed() into a dense O(N²) mask for the tests.
// Time and memory: those of block_sparse for the variant's layouts.
#pragma once
#include <memory>
#include <vector>

#include "attention/attention.h"
#include "attention/sparse/block_sparse.h"

namespace attnlab::attention {

class SparsePatternAttention : public Attention {
public:
    SparsePatternAttention(const Options& opts, const char* name) : Attention(opts), name_(name) {}
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;

    // true: query i may attend to key j in a sequence of N tokens (after prepare(N)).
    virtual bool allowed(int64_t i, int64_t j, int64_t N) const = 0;
    // Makes allowed() valid for N tokens; the default has nothing to do.
    virtual void prepare(int64_t) {}

    bool reference = false;  // true: the composed ops (block_sparse's reference) instead of the fused op

protected:
    virtual std::vector<SparseLayout> make_layouts(int64_t N) const = 0;
    // The layouts the fused op runs; the default is make_layouts(N). A variant whose composed
    // reference needs its blocks in one shape may tile the same pattern differently for the
    // kernel (sparse_strided: narrower local query tiles, so fewer masked pairs are computed).
    virtual std::vector<SparseLayout> make_fused_layouts(int64_t N) const { return make_layouts(N); }
    virtual std::vector<int64_t> pattern_state() const { return {}; }
    virtual Tensor composed(const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<SparseLayout>& L) const;
    // allowed() for N tokens as a Pattern, for make_sparse_layout.
    Pattern pattern(int64_t N) const {
        return [this, N](int64_t i, int64_t j) { return allowed(i, j, N); };
    }

private:
    // The layouts for N tokens: the reference's (make_layouts) or the fused op's (make_fused_layouts),
    // each built on first use and kept while N, causal and pattern_state() stay the same.
    std::shared_ptr<const std::vector<SparseLayout>> layouts(int64_t N, bool fused);

    const char* name_;
    std::shared_ptr<const std::vector<SparseLayout>> layouts_, fused_;  // shared with the ops that use them
    int64_t layouts_n_ = -1;
    bool layouts_causal_ = false;
    std::vector<int64_t> layouts_state_;
};

}  // namespace attnlab::attention

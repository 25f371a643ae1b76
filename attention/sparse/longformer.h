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
// Computed by the band kernel (longformer_kernel.cpp): tiles of 16 consecutive queries, each
// query scoring exactly its w + 1 window offsets and the g global keys as vector loops along the
// tile, every output and gradient row written once; the g global queries run an online softmax
// over every tile's keys in the same pass. Time O(N·(w + 1 + 2g)·D), memory O(N) per head
// beyond q, k, v, out (its tiles stay in L1/L2).
// Reference (ATTNLAB_REFERENCE=1 or `reference`; also the fused path for more than
// kLongformerBandMaxGlobals global tokens): block_sparse, the non-global queries grouped by
// residue mod d into blocks of t = w rounded up to the vector width, each gathering the t + w
// keys of its window span plus the g global keys; the global queries are dense rows over all N
// keys. Time O(N·(t + w + g)·D), memory O(N·(t + w + g)) per head.
// Cost (attention/cost.h): forward 4·B·H·D·pairs flops, pairs ≈ N(w + 1 + 2g) (counted
// exactly by longformer_pairs), backward twice that; traffic q, k, v, out, the row
// log-sum-exp and the gradients.
// Options (types and defaults: attention/registry.cpp): window w (even, ≥ 2), dilation d, global_tokens g
// (0 = none, more than N = all), causal.
#pragma once
#include "attention/sparse/sparse_pattern.h"

namespace attnlab::attention {

// The band kernel keeps per-lane sums for each global token: beyond this many it is not used.
constexpr int64_t kLongformerBandMaxGlobals = 64;
bool longformer_band_supported(int64_t global_tokens);

// q, k, v [B,H,N,D] -> [B,H,N,D]: the pattern above as one fused op (longformer_kernel.cpp),
// global_tokens ≤ kLongformerBandMaxGlobals.
Tensor longformer_attention(const Tensor& q, const Tensor& k, const Tensor& v, int64_t window, int64_t dilation,
                            int64_t global_tokens, bool causal);

class LongformerAttention : public SparsePatternAttention {
public:
    LongformerAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;  // the band kernel when it applies
    std::string describe() const override;
    bool allowed(int64_t i, int64_t j, int64_t N) const override;

    int64_t window, dilation, global_tokens;

protected:
    std::vector<SparseLayout> make_layouts(int64_t N) const override;
};

}  // namespace attnlab::attention

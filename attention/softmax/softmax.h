// softmax.h — full scaled dot-product attention (Vaswani et al., 2017).
//
//   A = softmax(Q Kᵀ / √D)   (row-wise; with causal=true, A_ij = 0 for j > i)
//   out = A V
// Time O(N²D). Computed by the fused scaled_dot_product_attention op
// (core/ops/ops_attention.cpp), which streams key tiles with an online softmax, so
// memory is O(N·D) per head (up to 128 keys: one dense block per head, whose
// probabilities, at most 128 per query, are kept for the backward);
// MultiHeadAttention hands it the packed qkv projection (forward_packed), so
// backward writes one gradient. reference.cpp has the plain three-op version;
// reference mode (ATTNLAB_REFERENCE=1, core/util/reference_mode.h) makes the
// fused op run its composed form (scaled_dot_product_attention_reference).
// Cost (attention/cost.h): forward 4·B·H·N²·D flops (causal: N(N+1)/2 pairs instead of N²),
// backward twice that; traffic q, k, v, out, the row log-sum-exp and the gradients.
// Options: causal (bool, default false).
//
// Autoregressive inference with a key/value cache (step()): token t appends
// k_t, v_t to the cache and attends to the t+1 cached rows,
//   out_t = softmax(q_t K_{0..t}ᵀ / √D) V_{0..t}      O(t·D) time per token and head,
// so generating N tokens costs O(N²D), against O(N³D) for re-running the
// causal forward on every prefix. Memory: the cache, O(N·D) per head.
#pragma once
#include "attention/attention.h"

namespace attnlab::attention {

// Keys and values of the tokens seen so far, per batch entry and head; rows [0, length) are filled.
struct KVCache {
    Tensor k, v;  // [B, H, capacity, D] each, allocated once
    int64_t length = 0;

    static KVCache empty(int64_t B, int64_t H, int64_t capacity, int64_t D);  // before the first token
};

class SoftmaxAttention : public Attention {
public:
    SoftmaxAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    // The fused op on the packed projection: one gradient tensor in backward.
    Tensor forward_packed(const Tensor& qkv, int64_t heads) override;
    std::string describe() const override { return causal ? "SoftmaxAttention(causal)" : "SoftmaxAttention"; }

    // One autoregressive token: q_t, k_t, v_t [B, H, D] -> out_t [B, H, D]. Appends k_t, v_t to
    // `cache`; the outputs equal the causal forward's, position by position. Inference only:
    // no gradient flows into the cache.
    Tensor step(KVCache& cache, const Tensor& q_t, const Tensor& k_t, const Tensor& v_t) const;

    // The Attention decoding interface (attention.h): when causal, begin_decoding() allocates a
    // KV cache of N rows per (batch, head) and decode_step() is step() on it.
    Decoding decoding() const override { return causal ? Decoding::KVCache : Decoding::None; }
    std::unique_ptr<DecodeState> begin_decoding(int64_t B, int64_t H, int64_t N, int64_t D) const override;
    Tensor decode_step(DecodeState& state, const Tensor& q_t, const Tensor& k_t, const Tensor& v_t) const override;
};

}  // namespace attnlab::attention

// softmax_decoding.h — softmax attention with the Attention decoding interface (attention.h):
// begin_decoding() allocates a KV cache of N rows per (batch, head), decode_step() is
// SoftmaxAttention::step on it (out_t = softmax(q_t K_{0..t}ᵀ/√D) V_{0..t}, O(t·D) per token
// and head). The registry's "softmax" is this class.
// (It lives outside attention/softmax/ only while that folder is being reworked on another
// branch; its three overrides belong in SoftmaxAttention itself.)
#pragma once
#include "attention/softmax/softmax.h"

namespace attnlab::attention {

class DecodingSoftmaxAttention : public SoftmaxAttention {
public:
    using SoftmaxAttention::SoftmaxAttention;
    Decoding decoding() const override { return causal ? Decoding::KVCache : Decoding::None; }
    std::unique_ptr<DecodeState> begin_decoding(int64_t B, int64_t H, int64_t N, int64_t D) const override;
    Tensor decode_step(DecodeState& state, const Tensor& q_t, const Tensor& k_t, const Tensor& v_t) const override;
};

}  // namespace attnlab::attention

// softmax.h — full scaled dot-product attention (Vaswani et al., 2017).
//
//   A = softmax(Q Kᵀ / √D)   (row-wise; with causal=true, A_ij = 0 for j > i)
//   out = A V
// Time O(N²D). Computed by the fused scaled_dot_product_attention op
// (core/ops_attention.cpp), which streams key tiles with an online softmax, so
// memory is O(N·D) per head; reference.cpp has the plain three-op version.
// Options: causal (bool, default false).
#pragma once
#include "attention/attention.h"

namespace attnlab::attention {

class SoftmaxAttention : public Attention {
public:
    SoftmaxAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    std::string describe() const override { return causal ? "SoftmaxAttention(causal)" : "SoftmaxAttention"; }
};

}  // namespace attnlab::attention

// softmax.cpp — see softmax.h. The composed form
//   masked_fill(Q Kᵀ/√D, future, -inf) -> softmax -> · V
// is attention::masked_softmax_attention in reference.cpp; here the fused op.
#include "attention/softmax.h"

#include "core/ops.h"

namespace attnlab::attention {

SoftmaxAttention::SoftmaxAttention(const Options& opts, const AttentionContext&) { causal = opts.get_bool("causal"); }

Tensor SoftmaxAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("softmax attention", q, k, v);
    return scaled_dot_product_attention(q, k, v, causal);
}

}  // namespace attnlab::attention

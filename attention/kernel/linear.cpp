// linear.cpp — see linear.h. The non-causal fast path is linear_attention_fused
// (linear_op.h, hand-written backward); the causal form and the reference are composed
// of differentiable ops, so their backward comes from matmul's and causal_product's.
#include "attention/kernel/linear.h"

#include "attention/kernel/causal_product.h"
#include "attention/kernel/linear_op.h"
#include "core/ops/ops.h"
#include "core/util/reference_mode.h"

namespace attnlab::attention {

LinearAttention::LinearAttention(const Options& opts, const AttentionContext&) : Attention(opts) {}

Tensor LinearAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("linear attention", q, k, v);
    const float scale = 1.f / float(q.size(-1));  // 1/√D on queries times 1/√D on keys
    if (causal) return causal_product(q, k, v) * scale;  // out_i = Σ_{j≤i} (q_i·k_j) v_j / D
    if (!reference && !reference_mode()) return linear_attention_fused(q, k, v, scale);
    Tensor kv = matmul(k.transpose(-2, -1), v) * scale;  // [B,H,D,D] = Σ_j k_j v_jᵀ / D
    return matmul(q, kv);                                 // [B,H,N,D]
}

}  // namespace attnlab::attention

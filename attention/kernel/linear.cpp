// linear.cpp — see linear.h. Composed of differentiable ops, so the backward
// comes from matmul's (and causal_product's) backward.
#include "attention/kernel/linear.h"

#include "attention/kernel/causal_product.h"
#include "core/ops/ops.h"

namespace attnlab::attention {

LinearAttention::LinearAttention(const Options& opts, const AttentionContext&) : Attention(opts) {}

Tensor LinearAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("linear attention", q, k, v);
    const float scale = 1.f / float(q.size(-1));  // 1/√D on queries times 1/√D on keys
    if (causal) return causal_product(q, k, v) * scale;  // out_i = Σ_{j≤i} (q_i·k_j) v_j / D
    Tensor kv = matmul(k.transpose(-2, -1), v) * scale;  // [B,H,D,D] = Σ_j k_j v_jᵀ / D
    return matmul(q, kv);                                 // [B,H,N,D]
}

}  // namespace attnlab::attention

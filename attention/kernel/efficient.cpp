// efficient.cpp — see efficient.h. Fast path: the fused efficient_attention_fused
// (efficient_op.h); reference: composed of differentiable ops.
#include "attention/kernel/efficient.h"

#include "attention/kernel/efficient_op.h"
#include "core/ops/ops.h"
#include "core/util/reference_mode.h"

namespace attnlab::attention {

EfficientAttention::EfficientAttention(const Options&, const AttentionContext&) {}

Tensor EfficientAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("efficient attention", q, k, v);
    if (!reference && !reference_mode()) return efficient_attention_fused(q, k, v);
    Tensor rq = softmax(q, -1);                           // ρ_q: over D, per query     [B,H,N,D]
    Tensor rk = softmax(k, 2);                            // ρ_k: over N, per feature   [B,H,N,D]
    Tensor context = matmul(rk.transpose(-2, -1), v);     // [B,H,D,Dv]
    return matmul(rq, context);                           // [B,H,N,Dv]
}

Tensor EfficientAttention::forward_packed(const Tensor& qkv, int64_t heads) {
    if (reference || reference_mode()) return Attention::forward_packed(qkv, heads);
    return efficient_attention_fused_packed(qkv, heads);
}

}  // namespace attnlab::attention

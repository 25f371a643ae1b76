// linear_op.h — non-causal linear attention out = Q (Kᵀ V)·scale as one op with a
// hand-written backward, on raw head rows (strided views read where they are).
//
//   forward:  KV = scale·Kᵀ V [D, Dv] per head, out = Q KV
//   backward: dQ = G KVᵀ,  dKV = Qᵀ G,  dK = scale·V dKVᵀ,  dV = scale·K dKV
//
// Each is one register-blocked small::gemm over all N rows of a head (k = N for the
// two D×Dv sums): no transposed copies of Q, K, V or G, which the composed
// matmul(kᵀ, v) and its backward make (the composed form in linear.cpp stays the reference).
// Time 4·N·D·Dv flops forward, 8·N·D·Dv backward per head; memory kept for the backward:
// KV [B,H,D,Dv] and q, k, v; scratch two D×Dv blocks per thread.
#pragma once
#include "core/tensor/tensor.h"

namespace attnlab::attention {

// q, k [B,H,N,D], v [B,H,N,Dv] (last dim unit stride or not) -> [B,H,N,Dv] (memory [B,N,H,Dv]);
// differentiable in q, k, v.
Tensor linear_attention_fused(const Tensor& q, const Tensor& k, const Tensor& v, float scale);

}  // namespace attnlab::attention

// softmax.h — the dense softmax reference, for tests: out = softmax(QKᵀ/√D + mask) V, forming
// the N×N matrix (the mask: −inf where j > i when causal). Time O(N²·D), memory O(N²).
// masked_softmax_attention (attention/softmax/reference.h) takes any boolean mask.
#pragma once
#include "attention/softmax/reference.h"

namespace attnlab::attention {

// q [B,H,N,D], k, v [B,H,M,D] -> [B,H,N,D].
Tensor dense_softmax(const Tensor& q, const Tensor& k, const Tensor& v, bool causal = false);

}  // namespace attnlab::attention

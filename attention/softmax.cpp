// softmax.cpp — see softmax.h. Built from differentiable ops, so its backward
// is the composition of matmul, softmax and masked_fill backwards.
#include "attention/softmax.h"

#include <cmath>

#include "attention/reference.h"
#include "core/ops.h"

namespace attnlab::attention {

SoftmaxAttention::SoftmaxAttention(const Options& opts, const AttentionContext&) { causal = opts.get_bool("causal"); }

Tensor SoftmaxAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("softmax attention", q, k, v);
    Tensor scores = matmul(q, k.transpose(-2, -1)) * (1.f / std::sqrt(float(q.size(-1))));  // [B,H,N,N]
    if (causal) scores = masked_fill(scores, causal_mask(q.size(2), k.size(2)), -INFINITY);
    return matmul(softmax(scores, -1), v);
}

}  // namespace attnlab::attention

// softmax.cpp — see softmax.h.
#include "attention/reference/softmax.h"

#include <cmath>

#include "core/ops/ops.h"

namespace attnlab::attention {

Tensor dense_softmax(const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
    if (causal) return masked_softmax_attention(q, k, v, causal_mask(q.size(2), k.size(2)));
    return matmul(softmax(matmul(q, k.T()) / std::sqrt(float(q.size(-1))), -1), v);
}

}  // namespace attnlab::attention

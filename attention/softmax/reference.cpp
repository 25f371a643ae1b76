// reference.cpp — see reference.h.
#include "attention/softmax/reference.h"

#include <cmath>

#include "core/ops/ops.h"

namespace attnlab::attention {

Tensor causal_mask(int64_t n, int64_t m) {
    std::vector<bool> blocked(size_t(n * m));
    for (int64_t i = 0; i < n; ++i)
        for (int64_t j = 0; j < m; ++j) blocked[size_t(i * m + j)] = j > i;
    return Tensor::from_bools(blocked, {n, m});
}

Tensor masked_softmax_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& blocked, float scale) {
    if (scale == 0.f) scale = 1.f / std::sqrt(float(q.size(-1)));
    Tensor scores = masked_fill(matmul(q, k.transpose(-2, -1)) * scale, blocked, -INFINITY);
    return matmul(softmax(scores, -1), v);
}

}  // namespace attnlab::attention

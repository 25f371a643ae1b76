// low_rank.cpp — see low_rank.h.
#include "attention/reference/low_rank.h"

#include <cmath>

#include "core/ops/ops.h"

namespace attnlab::attention {

Tensor dense_linformer(const Tensor& E, const Tensor& F, const Tensor& q, const Tensor& k, const Tensor& v) {
    Tensor scores = matmul(matmul(q, k.transpose(-2, -1)), E.T()) * (1.f / std::sqrt(float(q.size(-1))));  // [B,H,N,k]
    return matmul(softmax(scores, -1), matmul(F, v));
}

}  // namespace attnlab::attention

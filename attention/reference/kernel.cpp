// kernel.cpp — see kernel.h.
#include "attention/reference/kernel.h"

#include <cmath>

#include "attention/softmax/reference.h"
#include "core/ops/ops.h"

namespace attnlab::attention {

// A with the entries j > i set to 0 when causal.
static Tensor maybe_causal(const Tensor& a, bool causal) {
    return causal ? masked_fill(a, causal_mask(a.size(-2), a.size(-1)), 0.f) : a;
}

Tensor dense_linear(const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
    Tensor a = maybe_causal(matmul(q, k.transpose(-2, -1)) * (1.f / float(q.size(-1))), causal);
    return matmul(a, v);
}

Tensor dense_linear_elu(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float eps) {
    Tensor a = maybe_causal(matmul(elu(q) + 1.f, (elu(k) + 1.f).transpose(-2, -1)), causal);
    return matmul(a, v) / (sum(a, {-1}, true) + eps);
}

Tensor dense_taylor(const Tensor& q, const Tensor& k, const Tensor& v, bool causal, float eps) {
    auto unit = [](const Tensor& x) { return x / sqrt(sum(x * x, {-1}, true)); };
    Tensor a = maybe_causal(matmul(unit(q), unit(k).transpose(-2, -1)) + 1.f, causal);
    return matmul(a, v) / (sum(a, {-1}, true) + eps);
}

Tensor dense_efficient(const Tensor& q, const Tensor& k, const Tensor& v) {
    return matmul(matmul(softmax(q, -1), softmax(k, 2).transpose(-2, -1)), v);  // N×N first
}

Tensor dense_kernel_attention(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, bool causal) {
    Tensor a = maybe_causal(matmul(phi_q, phi_k.T()), causal);
    return matmul(a, v) / sum(a, {-1}, true);
}

Tensor dense_causal_product(const Tensor& q, const Tensor& k, const Tensor& v) {
    return matmul(maybe_causal(matmul(q, k.transpose(-2, -1)), true), v);
}

Tensor dense_performer(const Tensor& W, const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
    const float M = float(W.size(0)), D = float(W.size(1));
    auto phi = [&](const Tensor& t) {
        Tensor x = t / std::pow(D, 0.25f);
        return exp(matmul(x, W.T()) - sum(x * x, {-1}, true) * 0.5f) / std::sqrt(M);
    };
    return dense_kernel_attention(phi(q), phi(k), v, causal);
}

}  // namespace attnlab::attention

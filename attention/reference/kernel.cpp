// kernel.cpp — see kernel.h.
#include "attention/reference/kernel.h"

#include <algorithm>
#include <cmath>
#include <vector>

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

Tensor dense_rfa(const Tensor& W, float sigma, const Tensor& q, const Tensor& k, const Tensor& v, bool causal) {
    const int64_t N = q.size(2), Nk = k.size(2);
    auto phi = [&](const Tensor& x) {
        Tensor wx = matmul(x / sqrt(sum(x * x, {-1}, true)), W.T());
        return concat({sin(wx), cos(wx)}, -1) * (1.f / std::sqrt(float(W.size(0))));
    };
    Tensor a = maybe_causal(matmul(phi(q), phi(k).T()), causal);  // [B,H,N,Nk]
    const float floor = std::max(std::exp(-2.f / (sigma * sigma)), 1e-6f);
    std::vector<float> n(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) n[size_t(i)] = float(causal ? i + 1 : Nk) * floor;
    return matmul(a, v) / maximum(sum(a, {-1}, true), Tensor::from_vector(n, {N, 1}));
}

}  // namespace attnlab::attention

// kernel_attention.cpp — see kernel_attention.h.
#include "attention/kernel/kernel_attention.h"

#include "attention/kernel/causal_product.h"

#include <algorithm>
#include <vector>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/kernels/parallel.h"
#include "core/util/rng.h"

namespace attnlab::attention {

Tensor kernel_attention(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, bool causal, float min_mean_kernel) {
    const int64_t N = phi_q.size(-2), Nk = phi_k.size(-2);
    Tensor num, den, floor;
    if (!causal) {
        num = matmul(phi_q, matmul(phi_k.transpose(-2, -1), v));                  // [B,H,N,M]·[B,H,M,D]
        den = matmul(phi_q, sum(phi_k, {-2}, true).transpose(-2, -1));             // [B,H,N,M]·[B,H,M,1]
        floor = Tensor::scalar(float(Nk) * min_mean_kernel);
    } else {
        check(N == Nk, "kernel_attention: causal needs as many keys as queries, got ", N, " and ", Nk);
        num = causal_product(phi_q, phi_k, v);                              // [B,H,N,D]
        den = sum(phi_q * cumsum(phi_k, -2), {-1}, true);                          // [B,H,N,1]
        floor = reshape((Tensor::arange(N) + 1.f) * min_mean_kernel, {N, 1});      // n_i = i + 1
    }
    return num / maximum(den, floor);
}

}  // namespace attnlab::attention

// test_attention_kernel_attention.cpp — the shared core of rfa and performer:
// attention through a feature map, with and without causal prefix sums.
#include "attention/kernel/kernel_attention.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

// out = (φ(Q)φ(K)ᵀ ⊙ mask) V / rowsum, forming the N×N matrix.
static Tensor dense_kernel_attention(const Tensor& phi_q, const Tensor& phi_k, const Tensor& v, bool causal) {
    Tensor scores = matmul(phi_q, phi_k.T());
    if (causal) scores = masked_fill(scores, attention::causal_mask(phi_q.size(-2), phi_k.size(-2)), 0.f);
    return matmul(scores, v) / sum(scores, {-1}, true);
}

TEST_CASE("kernel_attention equals the dense phi(Q)phi(K)^T formula, with and without causal masking",
          "[attention][kernel_attention]") {
    Generator g(3);
    Tensor phi_q = exp(Tensor::randn({2, 3, 9, 5}, g)), phi_k = exp(Tensor::randn({2, 3, 9, 5}, g));
    Tensor v = Tensor::randn({2, 3, 9, 4}, g);
    for (bool causal : {false, true}) {
        INFO("causal = " << causal);
        require_close(attention::kernel_attention(phi_q, phi_k, v, causal, 0.f),
                      dense_kernel_attention(phi_q, phi_k, v, causal), 1e-5f);
    }
}

TEST_CASE("kernel_attention clamps the denominator below at n_i times the floor", "[attention][kernel_attention]") {
    // φ(q)·φ(k) = -1 for every pair: the raw denominator is -n_i, clamped to 0.5·n_i,
    // while the numerator is -n_i: every output is -2.
    Tensor phi_q = Tensor::ones({1, 1, 4, 1}), phi_k = Tensor::full({1, 1, 4, 1}, -1.f), v = Tensor::ones({1, 1, 4, 2});
    for (bool causal : {false, true}) {
        INFO("causal = " << causal);
        require_close(attention::kernel_attention(phi_q, phi_k, v, causal, 0.5f), std::vector<float>(8, -2.f), 1e-6f);
    }
}

// test_attention_kernel_attention.cpp — the shared core of rfa and performer:
// attention through a feature map, with and without causal prefix sums.
#include "attention/kernel/kernel_attention.h"
#include "attention/reference/kernel.h"
#include "tests/support/attention_helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

TEST_CASE("kernel_attention equals the dense phi(Q)phi(K)^T formula, with and without causal masking",
          "[attention][kernel_attention]") {
    Generator g(3);
    Tensor phi_q = exp(Tensor::randn({2, 3, 9, 5}, g)), phi_k = exp(Tensor::randn({2, 3, 9, 5}, g));
    Tensor v = Tensor::randn({2, 3, 9, 4}, g);
    for (bool causal : {false, true}) {
        INFO("causal = " << causal);
        require_close(attention::kernel_attention(phi_q, phi_k, v, causal, 0.f),
                      attention::dense_kernel_attention(phi_q, phi_k, v, causal), 1e-5f);
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

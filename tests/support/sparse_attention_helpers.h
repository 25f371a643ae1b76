// sparse_attention_helpers.h — checks shared by the sparse attention tests (longformer,
// bigbird, sparse_strided, sparse_fixed, reformer).
//
//   require_equals_masked(attn, x, blocked);        // output and q/k/v gradients = dense masked softmax
//   size_t bytes = peak_bytes("longformer", {}, 1024);   // live tensor bytes of forward + backward
#pragma once
#include "attention/reference/sparse.h"
#include "tests/support/attention_helpers.h"

namespace attnlab::testing {

// attn(q, k, v) equals masked_softmax_attention(q, keys, v, blocked) (keys defaults to k), and so
// do the gradients of q, k and v for a random upstream gradient.
inline void require_equals_masked(attention::Attention& attn, const QKV& x, const Tensor& blocked,
                                  const Tensor& keys = Tensor(), float tol = 1e-5f) {
    auto run = [&](bool sparse) {
        for (const Tensor& t : {x.q, x.k, x.v}) t.raw()->grad = Tensor();
        Tensor out = sparse ? attn.forward(x.q, x.k, x.v)
                            : attention::masked_softmax_attention(x.q, keys.defined() ? keys : x.k, x.v, blocked);
        Generator g(9);
        out.backward(Tensor::rand(out.shape(), g, -1.f, 1.f));
        return std::vector<Tensor>{out.detach(), x.q.grad(), x.k.grad(), x.v.grad()};
    };
    std::vector<Tensor> sparse = run(true), dense = run(false);
    const char* what[] = {"output", "dq", "dk", "dv"};
    for (size_t i = 0; i < 4; ++i) {
        INFO(what[i] << " differs from the dense masked softmax");
        REQUIRE(sparse[i].defined() == dense[i].defined());
        if (sparse[i].defined()) require_close(sparse[i], dense[i], tol);
    }
}

// Peak live tensor bytes (above what was live before) of one forward and backward at N tokens.
inline size_t peak_bytes(const std::string& name, const attention::Options& opts, int64_t N, int64_t D = 16) {
    auto attn = attention::make_attention(name, opts, {N, D, 2});
    QKV x = random_qkv(1, 2, N, D, 3);
    size_t before = storage_bytes_in_use();
    reset_storage_peak();
    sum(attn->forward(x.q, x.k, x.v)).backward();
    return storage_bytes_peak() - before;
}

// peak_bytes at 2N over peak_bytes at N (quadratic memory gives ~4, linear ~2).
inline double peak_ratio(const std::string& name, const attention::Options& opts, int64_t N = 1024) {
    size_t small = peak_bytes(name, opts, N), large = peak_bytes(name, opts, 2 * N);
    WARN(name << " peak bytes of forward + backward: N=" << N << ": " << small << ", N=" << 2 * N << ": " << large
              << ", ratio " << double(large) / double(small));
    return double(large) / double(small);
}

}  // namespace attnlab::testing

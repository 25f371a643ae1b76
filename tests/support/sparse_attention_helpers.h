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

}  // namespace attnlab::testing

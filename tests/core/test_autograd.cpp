// test_autograd.cpp — semantics of the reverse pass: shared subexpressions,
// leaf reuse, no_grad, detach, retain_graph, accumulation and views.
#include "tests/support/helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

TEST_CASE("the DESIGN example: y = sum(relu(x·w + b)) gives dy/dw", "[autograd]") {
    Generator rng(0);
    Tensor x = Tensor::from_vector({1, 2, -1, 0.5f}, {2, 2});
    Tensor w = Tensor::from_vector({1, -1, 0.5f, 2}, {2, 2}).requires_grad_();
    Tensor b = Tensor::from_vector({0.1f, 0.2f}, {2}).requires_grad_();
    Tensor y = (x.matmul(w) + b).relu().sum();
    // x·w + b = [[2.1, 3.2], [-0.65, 2.2]] -> relu mask [[1,1],[0,1]]
    REQUIRE(y.item() == Approx(2.1f + 3.2f + 2.2f));
    y.backward();
    require_close(w.grad(), {1, 0, 2, 2.5f});  // xᵀ · mask
    require_close(b.grad(), {1, 2});
}

TEST_CASE("a leaf used several times accumulates all its gradients", "[autograd]") {
    Tensor x = Tensor::from_vector({3}, {1}).requires_grad_();
    Tensor y = x * x * x + x;  // dy/dx = 3x² + 1 = 28
    y.sum().backward();
    require_close(x.grad(), {28});
}

TEST_CASE("a shared subexpression receives the sum of its consumers' gradients", "[autograd]") {
    Tensor x = Tensor::from_vector({2}, {1}).requires_grad_();
    Tensor s = exp(x);          // used twice below
    Tensor y = s * 3.f + s * s;  // dy/dx = 3e^x + 2e^{2x}
    y.sum().backward();
    float e = std::exp(2.f);
    require_close(x.grad(), {3 * e + 2 * e * e}, 1e-5f);
}

TEST_CASE("gradients accumulate across backward calls until zero_grad", "[autograd]") {
    Tensor x = Tensor::from_vector({1, 2}, {2}).requires_grad_();
    (x * 2.f).sum().backward();
    (x * 3.f).sum().backward();
    require_close(x.grad(), {5, 5});
    x.zero_grad();
    require_close(x.grad(), {0, 0});
}

TEST_CASE("no_grad records nothing and detach cuts the history", "[autograd]") {
    Tensor x = Tensor::from_vector({1, 2}, {2}).requires_grad_();
    {
        NoGradGuard guard;
        Tensor y = x * 2.f;
        REQUIRE_FALSE(y.requires_grad());
        REQUIRE(y.grad_fn() == nullptr);
    }
    REQUIRE(grad_enabled());
    Tensor d = (x * 2.f).detach();
    REQUIRE_FALSE(d.requires_grad());
    Tensor y = (d * x).sum();  // only the x factor carries gradient
    y.backward();
    require_close(x.grad(), {2, 4});
}

TEST_CASE("backward twice needs retain_graph, without it the error says so", "[autograd][errors]") {
    Tensor x = Tensor::from_vector({1, 2}, {2}).requires_grad_();
    Tensor y = (exp(x) * x).sum();
    y.backward(true);
    Tensor first = x.grad().clone();
    y.backward(true);
    require_close(x.grad(), (first * 2.f).to_vector());
    y.backward();  // frees the graph
    REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("already freed") && Catch::Contains("retain_graph=true"));
}

TEST_CASE("backward on a non-scalar needs an explicit gradient", "[autograd][errors]") {
    Tensor x = Tensor::from_vector({1, 2}, {2}).requires_grad_();
    Tensor y = x * 3.f;
    REQUIRE_THROWS_WITH(y.backward(), Catch::Contains("implicit gradient needs a single-element output"));
    y.backward(Tensor::from_vector({1, 10}, {2}));
    require_close(x.grad(), {3, 30});
    REQUIRE_THROWS_WITH(Tensor::ones({1}).backward(), Catch::Contains("does not require grad"));
}

TEST_CASE("gradients flow through non-contiguous views into the base", "[autograd]") {
    Tensor base = Tensor::arange(6).reshape({2, 3}).detach().requires_grad_();
    Tensor t = base.transpose(0, 1);            // [3,2] strided view
    Tensor y = (t.slice(0, 1, 3) * Tensor::from_vector({1, 2}, {2})).sum();
    y.backward();
    require_close(base.grad(), {0, 1, 1, 0, 2, 2});
}

TEST_CASE("requires_grad propagates and non-leaves refuse requires_grad_", "[autograd][errors]") {
    Tensor a = Tensor::ones({2}).requires_grad_();
    Tensor b = Tensor::ones({2});
    Tensor c = a + b;
    REQUIRE(c.requires_grad());
    REQUIRE_FALSE(c.is_leaf());
    REQUIRE(c.grad_fn_name() == "add");
    REQUIRE_FALSE((b * 2.f).requires_grad());
    REQUIRE_THROWS_WITH(c.requires_grad_(), Catch::Contains("only leaf tensors"));
}

TEST_CASE("a deep chain does not overflow the stack", "[autograd]") {
    Tensor x = Tensor::from_vector({1}, {1}).requires_grad_();
    Tensor y = x;
    for (int i = 0; i < 20000; ++i) y = y * 1.0f;
    y.sum().backward();
    require_close(x.grad(), {1});
}

TEST_CASE("the graph is freed after backward", "[autograd]") {
    size_t before = storage_bytes_in_use();
    {
        Tensor x = Tensor::ones({1000}).requires_grad_();
        Tensor y = (exp(x) * x).sum();
        y.backward();
        x.raw()->grad = Tensor();
    }
    REQUIRE(storage_bytes_in_use() == before);
}

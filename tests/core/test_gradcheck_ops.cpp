// test_gradcheck_ops.cpp — finite-difference gradient checks of every
// differentiable op, on contiguous, non-contiguous and broadcast inputs.
#include "tests/support/helpers.h"

using namespace attnlab;
using namespace attnlab::testing;

using Inputs = std::vector<Tensor>;

TEST_CASE("gradcheck catches a deliberately wrong backward", "[gradcheck]") {
    // exp with a backward that is 10% off, and one with the wrong sign
    auto wrong_exp = [](float scale) {
        return [scale](const Inputs& in) {
            Tensor y = exp(in[0].detach());
            return record("wrong_exp", y, {in[0]}, [y = y.detach(), scale](const Tensor& dy) {
                return std::vector<Tensor>{mul(dy, y) * scale};
            });
        };
    };
    Tensor x = randn({3, 4}, 1);
    REQUIRE(gradcheck(wrong_exp(1.0f), {x}).ok);
    REQUIRE_FALSE(gradcheck(wrong_exp(1.1f), {x}).ok);
    REQUIRE_FALSE(gradcheck(wrong_exp(-1.0f), {x}).ok);
    // a backward that forgets to reduce a broadcast dimension is caught by the shape check
    auto bad_broadcast = [](const Inputs& in) {
        Tensor y = add(in[0].detach(), in[1].detach());
        return record("bad_add", y, {in[0], in[1]}, [](const Tensor& dy) { return std::vector<Tensor>{dy, dy}; });
    };
    REQUIRE_THROWS_WITH(gradcheck(bad_broadcast, {randn({2, 3}, 2), randn({3}, 3)}),
                        Catch::Contains("backward of bad_add: gradient [2,3] for input 1 of shape [3]"));
}

TEST_CASE("gradcheck: unary ops on contiguous and non-contiguous inputs", "[gradcheck]") {
    for (bool nc : {false, true}) {
        INFO("noncontiguous=" << nc);
        Tensor x = randn({3, 4}, 10, nc);
        Tensor pos = uniform({3, 4}, 11, 0.5f, 2.f, nc);
        Tensor kinked = away_from_zero({3, 4}, 12, nc);
        require_gradcheck([](const Inputs& in) { return neg(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return exp(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return log(in[0]); }, {pos});
        require_gradcheck([](const Inputs& in) { return sqrt(in[0]); }, {pos});
        require_gradcheck([](const Inputs& in) { return rsqrt(in[0]); }, {pos});
        require_gradcheck([](const Inputs& in) { return abs(in[0]); }, {kinked});
        require_gradcheck([](const Inputs& in) { return tanh(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return sigmoid(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return relu(in[0]); }, {kinked});
        require_gradcheck([](const Inputs& in) { return gelu(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return gelu(in[0], GeluApprox::Tanh); }, {x});
        require_gradcheck([](const Inputs& in) { return elu(in[0], 0.7f); }, {kinked});
        require_gradcheck([](const Inputs& in) { return sin(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return cos(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return pow(in[0], 2.5f); }, {pos});
        require_gradcheck([](const Inputs& in) { return add_scalar(in[0], 3.f); }, {x});
        require_gradcheck([](const Inputs& in) { return mul_scalar(in[0], -2.f); }, {x});
    }
}

TEST_CASE("gradcheck: binary ops with broadcasting", "[gradcheck]") {
    for (bool nc : {false, true}) {
        INFO("noncontiguous=" << nc);
        Tensor a = randn({2, 3, 4}, 20, nc);
        Tensor row = randn({4}, 21);
        Tensor col = uniform({3, 1}, 22, 0.5f, 2.f, nc);
        Tensor b = randn({2, 3, 4}, 23, nc);
        require_gradcheck([](const Inputs& in) { return add(in[0], in[1]); }, {a, row});
        require_gradcheck([](const Inputs& in) { return sub(in[0], in[1]); }, {col, a});
        require_gradcheck([](const Inputs& in) { return mul(in[0], in[1]); }, {a, col});
        require_gradcheck([](const Inputs& in) { return div(in[0], in[1]); }, {a, col});
        require_gradcheck([](const Inputs& in) { return pow(in[0], in[1]); }, {col, randn({4}, 24)});
        require_gradcheck([](const Inputs& in) { return maximum(in[0], in[1]); }, {a, add_scalar(b, 0.5f).detach().requires_grad_()});
        require_gradcheck([](const Inputs& in) { return minimum(in[0], in[1]); }, {a, add_scalar(b, 0.5f).detach().requires_grad_()});
        require_gradcheck([](const Inputs& in) { return mul(in[0], in[0]); }, {a});  // same input twice
    }
}

TEST_CASE("gradcheck: reductions", "[gradcheck]") {
    for (bool nc : {false, true}) {
        INFO("noncontiguous=" << nc);
        Tensor x = randn({3, 4, 5}, 30, nc);
        require_gradcheck([](const Inputs& in) { return sum(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return sum(in[0], {1}); }, {x});
        require_gradcheck([](const Inputs& in) { return sum(in[0], {0, 2}, true); }, {x});
        require_gradcheck([](const Inputs& in) { return mean(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return mean(in[0], {-1}); }, {x});
        require_gradcheck([](const Inputs& in) { return max(in[0], 1); }, {x});
        require_gradcheck([](const Inputs& in) { return min(in[0], 2, true); }, {x});
        require_gradcheck([](const Inputs& in) { return max(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return min(in[0]); }, {x});
    }
}

TEST_CASE("max splits the gradient evenly between ties", "[gradcheck]") {
    Tensor x = Tensor::from_vector({1, 3, 3, 2}, {4}).requires_grad_();
    max(x).backward();
    require_close(x.grad(), {0, 0.5f, 0.5f, 0});
}

TEST_CASE("gradcheck: matmul in every layout", "[gradcheck]") {
    for (bool nc : {false, true}) {
        INFO("noncontiguous=" << nc);
        require_gradcheck([](const Inputs& in) { return matmul(in[0], in[1]); }, {randn({3, 4}, 40, nc), randn({4, 5}, 41, nc)});
        require_gradcheck([](const Inputs& in) { return matmul(in[0], in[1]); }, {randn({2, 3, 4}, 42, nc), randn({2, 4, 2}, 43, nc)});
        require_gradcheck([](const Inputs& in) { return matmul(in[0], in[1]); }, {randn({2, 3, 4}, 44, nc), randn({4, 2}, 45, nc)});
        require_gradcheck([](const Inputs& in) { return matmul(in[0], in[1]); }, {randn({2, 1, 3, 4}, 46, nc), randn({3, 4, 2}, 47, nc)});
        require_gradcheck([](const Inputs& in) { return matmul(in[0], in[1].T()); }, {randn({3, 4}, 48, nc), randn({5, 4}, 49, nc)});
        require_gradcheck([](const Inputs& in) { return matmul(in[0], in[1]); }, {randn({4}, 50), randn({4, 3}, 51, nc)});
        require_gradcheck([](const Inputs& in) { return matmul(in[0], in[1]); }, {randn({2, 4}, 52, nc), randn({4}, 53)});
    }
}

TEST_CASE("gradcheck: linear with and without bias", "[gradcheck]") {
    for (bool nc : {false, true}) {
        require_gradcheck([](const Inputs& in) { return linear(in[0], in[1], in[2]); },
                          {randn({2, 3, 4}, 60, nc), randn({5, 4}, 61, nc), randn({5}, 62)});
        require_gradcheck([](const Inputs& in) { return linear(in[0], in[1], Tensor()); },
                          {randn({3, 4}, 63, nc), randn({2, 4}, 64, nc)});
    }
}

TEST_CASE("gradcheck: views and layout ops", "[gradcheck]") {
    for (bool nc : {false, true}) {
        INFO("noncontiguous=" << nc);
        Tensor x = randn({2, 3, 4}, 70, nc);
        require_gradcheck([](const Inputs& in) { return in[0].reshape({4, 6}); }, {x});
        require_gradcheck([](const Inputs& in) { return in[0].view({6, 4}); }, {randn({2, 3, 4}, 71)});
        require_gradcheck([](const Inputs& in) { return in[0].transpose(0, 2); }, {x});
        require_gradcheck([](const Inputs& in) { return in[0].permute({1, 2, 0}); }, {x});
        require_gradcheck([](const Inputs& in) { return in[0].expand({5, 3, 4}); }, {randn({1, 4}, 72)});
        require_gradcheck([](const Inputs& in) { return in[0].slice(2, 1, 4, 2); }, {x});
        require_gradcheck([](const Inputs& in) { return in[0].narrow(1, 1, 2); }, {x});
        require_gradcheck([](const Inputs& in) { return in[0].flatten(1); }, {x});
        require_gradcheck([](const Inputs& in) { return in[0].unsqueeze(1).squeeze(1); }, {x});
        require_gradcheck([](const Inputs& in) { return contiguous(in[0].transpose(0, 1)); }, {x});
        require_gradcheck([](const Inputs& in) { return clone(in[0]); }, {x});
        require_gradcheck([](const Inputs& in) { return concat({in[0], in[1]}, 1); }, {x, randn({2, 2, 4}, 73)});
        require_gradcheck([](const Inputs& in) { return stack({in[0], in[1]}, 2); }, {x, randn({2, 3, 4}, 74, nc)});
        require_gradcheck([](const Inputs& in) { return pad(in[0], {1, 2, 0, 1}, 0.5f); }, {x});
    }
}

TEST_CASE("gradcheck: softmax, log_softmax, layer_norm, cross_entropy, dropout", "[gradcheck]") {
    for (bool nc : {false, true}) {
        INFO("noncontiguous=" << nc);
        Tensor x = randn({3, 5}, 80, nc);
        require_gradcheck([](const Inputs& in) { return softmax(in[0], -1); }, {x});
        require_gradcheck([](const Inputs& in) { return softmax(in[0], 0); }, {x});
        require_gradcheck([](const Inputs& in) { return log_softmax(in[0], 1); }, {x});
        require_gradcheck([](const Inputs& in) { return log_softmax(in[0], 0); }, {x});
        require_gradcheck([](const Inputs& in) { return layer_norm(in[0], in[1], in[2]); },
                          {randn({2, 3, 6}, 81, nc), randn({6}, 82), randn({6}, 83)});
        require_gradcheck([](const Inputs& in) { return layer_norm(in[0], Tensor(), Tensor()); }, {randn({4, 6}, 84, nc)});
        Tensor targets = Tensor::from_indices({0, 4, 2}, {3});
        for (float eps : {0.f, 0.1f}) {
            require_gradcheck([&](const Inputs& in) { return cross_entropy(in[0], targets, eps); }, {x});
            require_gradcheck([&](const Inputs& in) { return cross_entropy(in[0], targets, eps, Reduction::Sum); }, {x});
            require_gradcheck([&](const Inputs& in) { return cross_entropy(in[0], targets, eps, Reduction::None); }, {x});
        }
        // dropout: the same seed each call, so the mask is fixed during the check
        require_gradcheck([](const Inputs& in) { Generator g(7); return dropout(in[0], 0.4f, true, g); }, {x});
    }
}

TEST_CASE("gradcheck: masked_fill, where, cumsum, gather, index_select, embedding", "[gradcheck]") {
    for (bool nc : {false, true}) {
        INFO("noncontiguous=" << nc);
        Tensor x = randn({3, 4}, 90, nc);
        Tensor mask = Tensor::from_bools({true, false, false, true}, {4});
        require_gradcheck([&](const Inputs& in) { return masked_fill(in[0], mask, -1.f); }, {x});
        Tensor cond = Tensor::from_bools({true, false, true, false, true, true, false, false, true, false, false, true}, {3, 4});
        require_gradcheck([&](const Inputs& in) { return where(cond, in[0], in[1]); }, {x, randn({4}, 91)});
        require_gradcheck([](const Inputs& in) { return cumsum(in[0], 1); }, {x});
        require_gradcheck([](const Inputs& in) { return cumsum(in[0], 0); }, {x});
        Tensor idx = Tensor::from_indices({3, 0, 0, 1, 2, 2}, {3, 2});
        require_gradcheck([&](const Inputs& in) { return gather(in[0], 1, idx); }, {x});
        Tensor sel = Tensor::from_indices({2, 0, 2}, {3});
        require_gradcheck([&](const Inputs& in) { return index_select(in[0], 0, sel); }, {x});
        require_gradcheck([&](const Inputs& in) { return index_select(in[0], 1, sel); }, {x});
        Tensor ids = Tensor::from_indices({1, 1, 0, 2}, {2, 2});
        require_gradcheck([&](const Inputs& in) { return embedding(in[0], ids); }, {x});
    }
}

TEST_CASE("gradcheck: a composite expression mixing many ops", "[gradcheck]") {
    auto f = [](const Inputs& in) {
        Tensor h = gelu(linear(in[0], in[1], in[2]));
        Tensor a = softmax(matmul(h, h.T()) * 0.5f, -1);
        return layer_norm(matmul(a, h) + in[0].slice(1, 0, 3), Tensor(), Tensor()).sum({0});
    };
    require_gradcheck(f, {randn({4, 5}, 100), randn({3, 5}, 101), randn({3}, 102)});
}

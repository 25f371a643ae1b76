// test_train_mlp.cpp — end to end: a 2-layer MLP written in the test, trained
// with plain SGD, separates a two-class spiral perfectly.
#include <cmath>

#include "tests/support/helpers.h"

using namespace attnlab;

TEST_CASE("a 2-layer MLP trained with SGD reaches 100% on a 2-class spiral", "[train]") {
    const int64_t n = 100;  // points per class
    std::vector<float> pts;
    std::vector<int64_t> labels;
    for (int64_t c = 0; c < 2; ++c)
        for (int64_t i = 0; i < n; ++i) {
            float r = 0.2f + 0.8f * float(i) / float(n);
            float t = 3.f * float(i) / float(n) * 3.14159f + float(c) * 3.14159f;
            pts.push_back(r * std::cos(t));
            pts.push_back(r * std::sin(t));
            labels.push_back(c);
        }
    Tensor x = Tensor::from_vector(pts, {2 * n, 2});
    Tensor y = Tensor::from_indices(labels, {2 * n});
    Generator g(0);
    // first-layer weights of scale 4 give tanh units that bend on the spiral's length scale
    Tensor w1 = (Tensor::randn({64, 2}, g) * 4.f).detach().requires_grad_();
    Tensor b1 = (Tensor::randn({64}, g) * 2.f).detach().requires_grad_();
    Tensor w2 = (Tensor::randn({2, 64}, g) * 0.125f).detach().requires_grad_();
    Tensor b2 = Tensor::zeros({2}).requires_grad_();
    std::vector<Tensor> params{w1, b1, w2, b2};
    float lr = 0.5f, loss_value = 0.f;
    for (int step = 0; step < 2000; ++step) {
        Tensor logits = linear(tanh(linear(x, w1, b1)), w2, b2);
        Tensor loss = cross_entropy(logits, y);
        for (Tensor& p : params) p.zero_grad();
        loss.backward();
        NoGradGuard no_grad;
        for (Tensor& p : params) add_(p, p.grad(), -lr);
        loss_value = loss.item();
    }
    Tensor pred = argmax(linear(tanh(linear(x, w1, b1)), w2, b2), 1);
    int64_t correct = 0;
    std::vector<int64_t> pv = pred.to_indices();
    for (size_t i = 0; i < labels.size(); ++i) correct += pv[i] == labels[i];
    INFO("final loss " << loss_value);
    REQUIRE(correct == 2 * n);
}

// test_metrics.cpp — accuracy, top-k accuracy, the loss object and running means.
#include "tests/support/helpers.h"
#include "nn/train/metrics.h"

using namespace attnlab;

TEST_CASE("accuracy counts rows whose largest logit is the target", "[metrics]") {
    Tensor logits = Tensor::from_vector({0.1f, 2.0f, 0.3f,    // argmax 1
                                         5.0f, 1.0f, 0.0f,    // argmax 0
                                         0.0f, 0.0f, 1.0f,    // argmax 2; target 1 ranks third (tie with 0)
                                         1.0f, 3.0f, 2.0f},   // argmax 1, target 2 ranks second
                                        {4, 3});
    Tensor targets = Tensor::from_indices({1, 0, 1, 2}, {4});
    REQUIRE(nn::accuracy(logits, targets) == Approx(0.5));
    REQUIRE(nn::topk_accuracy(logits, targets, 2) == Approx(0.75));
    REQUIRE(nn::topk_accuracy(logits, targets, 3) == Approx(1.0));
    REQUIRE(nn::count_topk_correct(logits, targets, 1) == 2);
}

TEST_CASE("accuracy breaks ties towards the lower class, so constant logits are not all correct", "[metrics]") {
    Tensor logits = Tensor::zeros({3, 4});
    Tensor targets = Tensor::from_indices({0, 1, 3}, {3});
    REQUIRE(nn::accuracy(logits, targets) == Approx(1.0 / 3.0));
    REQUIRE(nn::topk_accuracy(logits, targets, 2) == Approx(2.0 / 3.0));
}

TEST_CASE("accuracy checks the shapes and the target range", "[metrics][errors]") {
    REQUIRE_THROWS_WITH(nn::accuracy(Tensor::zeros({2, 3}), Tensor::from_indices({0, 1, 2}, {3})),
                        Catch::Contains("targets must be Int64 [2] to match logits [2,3], got int64 [3]"));
    REQUIRE_THROWS_WITH(nn::accuracy(Tensor::zeros({2, 3}), Tensor::from_indices({0, 3}, {2})),
                        Catch::Contains("target 3 of row 1 is outside [0, 3)"));
}

TEST_CASE("CrossEntropyLoss is core cross_entropy with its label smoothing", "[metrics]") {
    Generator g(0);
    Tensor logits = Tensor::randn({5, 4}, g);
    Tensor y = Tensor::from_indices({0, 1, 2, 3, 0}, {5});
    nn::CrossEntropyLoss criterion{.label_smoothing = 0.1f};
    REQUIRE(criterion(logits, y).item() == cross_entropy(logits, y, 0.1f).item());
}

TEST_CASE("Meter averages values weighted by their sample counts", "[metrics]") {
    nn::Meter m;
    REQUIRE(m.mean() == 0.0);
    m.add(1.0, 3);  // a batch of 3 with mean 1
    m.add(3.0, 1);
    REQUIRE(m.count == 4);
    REQUIRE(m.mean() == Approx(1.5));
    m.reset();
    REQUIRE(m.count == 0);
}

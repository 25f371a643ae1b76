// test_rng.cpp — seeded random numbers: reproducible, independent of thread
// count, with the right distributions.
#include "tests/support/helpers.h"

using namespace attnlab;

TEST_CASE("the same seed gives the same numbers, another seed different ones", "[rng]") {
    Generator a(42), b(42), c(43);
    REQUIRE(Tensor::randn({100}, a).to_vector() == Tensor::randn({100}, b).to_vector());
    REQUIRE(Tensor::randn({100}, a).to_vector() != Tensor::randn({100}, c).to_vector());
}

TEST_CASE("bulk draws do not depend on the number of threads", "[rng]") {
    int saved = num_threads();
    Generator g1(9), g2(9);
    set_num_threads(1);
    std::vector<float> one = Tensor::randn({200000}, g1).to_vector();
    set_num_threads(2);
    std::vector<float> two = Tensor::randn({200000}, g2).to_vector();
    set_num_threads(saved);
    REQUIRE(one == two);
}

TEST_CASE("the state (seed, offset) restores a stream exactly", "[rng]") {
    Generator g(5);
    Tensor::rand({17}, g);
    uint64_t seed = g.seed(), offset = g.offset();
    std::vector<float> next = Tensor::rand({10}, g).to_vector();
    Generator h;
    h.set_state(seed, offset);
    REQUIRE(Tensor::rand({10}, h).to_vector() == next);
}

TEST_CASE("normal, uniform and truncated normal have the right moments and ranges", "[rng]") {
    Generator g(1);
    Tensor n = Tensor::randn({200000}, g, 1.f, 2.f);
    REQUIRE(mean(n).item() == Approx(1.f).margin(0.02));
    REQUIRE(mean(pow(n - 1.f, 2.f)).item() == Approx(4.f).epsilon(0.02));
    Tensor u = Tensor::rand({200000}, g, -1.f, 3.f);
    REQUIRE(min(u).item() >= -1.f);
    REQUIRE(max(u).item() < 3.f);
    REQUIRE(mean(u).item() == Approx(1.f).margin(0.02));
    Tensor t = Tensor::trunc_normal({200000}, g, 0.02f);
    REQUIRE(min(t).item() >= -0.04f);
    REQUIRE(max(t).item() <= 0.04f);
    REQUIRE(std::sqrt(mean(t * t).item()) == Approx(0.02f * 0.8796f).epsilon(0.02));  // std of N(0,1) cut at ±2
}

TEST_CASE("permutation is a shuffle of 0..n-1 and bernoulli has rate p", "[rng]") {
    Generator g(3);
    std::vector<int64_t> p = g.permutation(1000);
    std::vector<int64_t> sorted = p;
    std::sort(sorted.begin(), sorted.end());
    for (int64_t i = 0; i < 1000; ++i) REQUIRE(sorted[size_t(i)] == i);
    REQUIRE(p != sorted);
    std::vector<float> b(100000);
    g.fill_bernoulli(b.data(), 100000, 0.25f);
    double s = 0;
    for (float v : b) s += v;
    REQUIRE(s / 100000 == Approx(0.25).margin(0.01));
}

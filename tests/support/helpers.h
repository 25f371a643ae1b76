// helpers.h — small shared helpers for the Catch2 tests.
#pragma once
#include <catch2/catch.hpp>
#include <cmath>
#include <string>
#include <vector>

#include "core/core.h"

namespace attnlab::testing {

// Fails with the gradcheck message when analytic and numeric gradients differ.
inline void require_gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                              const GradcheckOptions& opts = {}) {
    GradcheckResult r = gradcheck(f, inputs, opts);
    INFO(r.message);
    REQUIRE(r.checked > 0);
    REQUIRE(r.ok);
}

inline void require_close(const Tensor& t, const std::vector<float>& expected, float tol = 1e-5f) {
    std::vector<float> v = t.to_vector();
    REQUIRE(v.size() == expected.size());
    for (size_t i = 0; i < v.size(); ++i) {
        INFO("element " << i << ": got " << v[i] << ", expected " << expected[i]);
        REQUIRE(std::fabs(v[i] - expected[i]) <= tol * (1.f + std::fabs(expected[i])));
    }
}

inline void require_close(const Tensor& a, const Tensor& b, float tol = 1e-5f) {
    REQUIRE(a.shape() == b.shape());
    require_close(a, b.to_vector(), tol);
}

// A leaf that requires grad. noncontiguous=true gives the same values laid out
// transposed in memory (last two dims swapped), so kernels see real strides.
inline Tensor leaf(const Tensor& values, bool noncontiguous = false) {
    Tensor t = values.contiguous();
    if (noncontiguous && t.dim() >= 2) t = t.transpose(-1, -2).contiguous().transpose(-1, -2);
    return t.detach().requires_grad_();
}

inline Tensor randn(const Shape& s, uint64_t seed, bool noncontiguous = false) {
    Generator g(seed);
    return leaf(Tensor::randn(s, g), noncontiguous);
}

// Values in [lo, hi] (uniform), e.g. positive inputs for log/sqrt.
inline Tensor uniform(const Shape& s, uint64_t seed, float lo, float hi, bool noncontiguous = false) {
    Generator g(seed);
    return leaf(Tensor::rand(s, g, lo, hi), noncontiguous);
}

// Normal values pushed at least 0.2 away from zero (for kinks at 0).
inline Tensor away_from_zero(const Shape& s, uint64_t seed, bool noncontiguous = false) {
    Generator g(seed);
    std::vector<float> v = Tensor::randn(s, g).to_vector();
    for (float& x : v) x = x >= 0 ? x + 0.2f : x - 0.2f;
    return leaf(Tensor::from_vector(v, s), noncontiguous);
}

// Path to a data directory beside the repository (../shared/data/...), or "" if absent.
std::string shared_data(const std::string& relative);

}  // namespace attnlab::testing

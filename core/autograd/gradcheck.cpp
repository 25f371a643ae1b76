// gradcheck.cpp — central finite differences against autograd (see gradcheck.h).
#include "core/autograd/gradcheck.h"

#include <cmath>
#include <sstream>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/rng.h"

namespace attnlab {

static double weighted_sum(const Tensor& out, const std::vector<float>& w) {
    std::vector<float> v = out.to_vector();
    double s = 0.0;
    for (size_t i = 0; i < v.size(); ++i) s += double(v[i]) * double(w[i]);
    return s;
}

// Pointer to element `flat` (row-major numbering) of a possibly strided tensor.
static float* element(const Tensor& t, int64_t flat) {
    float* p = static_cast<float*>(t.raw()->storage->data) + t.offset();
    for (int64_t d = t.dim() - 1; d >= 0; --d) {
        int64_t n = t.shape()[size_t(d)];
        p += (flat % n) * t.strides()[size_t(d)];
        flat /= n;
    }
    return p;
}

// Which elements of an input of n elements to perturb: all of them, or `max_checks` drawn at random.
static std::vector<int64_t> elements_to_check(int64_t n, int64_t max_checks, Generator& gen) {
    std::vector<int64_t> which;
    if (n <= max_checks) {
        for (int64_t j = 0; j < n; ++j) which.push_back(j);
    } else {
        for (int64_t j = 0; j < max_checks; ++j) which.push_back(gen.randint(n));
    }
    return which;
}

// d(w · f(inputs)) / d(element p), by central differences: (L(x + eps) - L(x - eps)) / (2 eps).
static double central_difference(const GradcheckFn& f, const std::vector<Tensor>& inputs, float* p,
                                 const std::vector<float>& w, float eps) {
    const float saved = *p;
    *p = saved + eps;
    const double plus = weighted_sum(f(inputs), w);
    *p = saved - eps;
    const double minus = weighted_sum(f(inputs), w);
    *p = saved;
    return (plus - minus) / (2.0 * double(eps));
}

// The loss L = w · f(inputs) with random weights w in [-1, 1]; backward leaves dL/dx in every input's grad.
static std::vector<float> backward_of_random_weighting(const GradcheckFn& f, const std::vector<Tensor>& inputs,
                                                       Generator& gen) {
    for (const Tensor& x : inputs)
        if (x.defined() && x.requires_grad()) {
            check(x.is_leaf(), "gradcheck: inputs must be leaf tensors");
            x.raw()->grad = Tensor();
        }
    Tensor out = f(inputs);
    check(out.requires_grad(), "gradcheck: output does not require grad (no input reaches it)");
    Tensor w = Tensor::rand(out.shape(), gen, -1.f, 1.f);
    out.backward(w);
    return w.to_vector();
}

GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opts) {
    GradcheckResult result;
    Generator gen(opts.seed);
    const std::vector<float> wv = backward_of_random_weighting(f, inputs, gen);

    NoGradGuard no_grad;
    double worst = -1.0;
    std::ostringstream worst_msg;
    for (size_t i = 0; i < inputs.size(); ++i) {
        const Tensor& x = inputs[i];
        if (!x.defined() || !x.requires_grad()) continue;
        Tensor g = x.grad();
        std::vector<float> analytic = g.defined() ? g.to_vector() : std::vector<float>(size_t(x.numel()), 0.f);
        for (int64_t j : elements_to_check(x.numel(), opts.max_checks_per_input, gen)) {
            const double numeric = central_difference(f, inputs, element(x, j), wv, opts.eps);
            const double err = std::fabs(double(analytic[size_t(j)]) - numeric);
            const double allowed = opts.atol + opts.rtol * std::fabs(numeric);
            result.max_abs_error = std::max(result.max_abs_error, err);
            ++result.checked;
            if (err - allowed > worst) {
                worst = err - allowed;
                worst_msg.str("");
                worst_msg << "input " << i << " " << to_string(x.shape()) << " element " << j << ": analytic "
                          << analytic[size_t(j)] << ", numeric " << numeric << ", error " << err << " (allowed "
                          << allowed << ")";
            }
        }
    }
    result.ok = worst <= 0.0;
    result.message = (result.ok ? "ok, worst: " : "gradient mismatch at ") + worst_msg.str();
    return result;
}

}  // namespace attnlab

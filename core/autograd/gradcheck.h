// gradcheck.h — compares autograd gradients with central finite differences.
//
// For a function f of some float32 inputs, pick a fixed random weight w of f's
// output shape and let L = Σ w ⊙ f(inputs). The analytic gradient comes from
// f(inputs).backward(w); the numeric one from
//     dL/dx_j ≈ (L(x + ε e_j) - L(x - ε e_j)) / 2ε
// with L summed in double. Tolerances: float32 rounding of each output is
// ~6e-8 relative, so the numeric quotient carries an error of about
// 6e-8·sqrt(#outputs)·|f| / ε ≈ 1e-5·|f| for ε = 1e-2 and a few hundred outputs;
// the truncation error is ε²/6·|f'''| ≈ 2e-5·|f'''|. Both sit well below the
// default acceptance |analytic - numeric| ≤ atol + rtol·|numeric| with
// atol = 1e-3, rtol = 1e-2, while a wrong backward (a dropped term, a wrong
// sign or scale) is off by O(1). Keep inputs away from kinks (relu at 0, ties
// in max) by at least ε.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "core/tensor/tensor.h"

namespace attnlab {

struct GradcheckOptions {
    float eps = 1e-2f;
    float atol = 1e-3f;
    float rtol = 1e-2f;
    int64_t max_checks_per_input = 200;  // elements perturbed per input (random subset beyond this)
    uint64_t seed = 1234;
};

struct GradcheckResult {
    bool ok = true;
    std::string message;       // the worst mismatch, or a summary when ok
    double max_abs_error = 0;  // over all checked elements
    int64_t checked = 0;
};

using GradcheckFn = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks every input that requires grad. Inputs must be leaves; they may be
// non-contiguous views. Their .grad is overwritten.
GradcheckResult gradcheck(const GradcheckFn& f, const std::vector<Tensor>& inputs, const GradcheckOptions& opts = {});

}  // namespace attnlab

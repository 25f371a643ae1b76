// grad_clip.h — gradient-norm clipping and NaN/Inf detection.
//
//   norm = sqrt(Σ_i g_i²)          over every gradient element of every parameter
//   if norm > max_norm:  g ← g · max_norm / (norm + 1e-6)
// (torch.nn.utils.clip_grad_norm_ semantics; the factor is applied when it is < 1.)
// The squares are summed in double over fixed blocks of the flat gradient
// buffer, so the norm does not depend on the thread count. Cost: 2 passes over
// P floats. A non-finite norm (NaN/Inf gradients) is returned and the
// gradients are left alone, so the caller can skip the step:
//
//   double norm = nn::clip_grad_norm(opt, 1.0);
//   if (std::isfinite(norm)) opt.step();   // or: if (nn::grads_are_finite(opt))
#pragma once
#include <vector>

#include "nn/optim/optimizer.h"

namespace attnlab::nn {

// The total L2 norm before clipping. Parameters without a gradient are skipped.
double clip_grad_norm(Optimizer& optimizer, double max_norm);  // one flat pass
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

// The total L2 norm, without clipping.
double grad_norm(const Optimizer& optimizer);
double grad_norm(const std::vector<Tensor>& params);

// False if any gradient element is NaN or ±Inf.
bool grads_are_finite(const Optimizer& optimizer);
bool grads_are_finite(const std::vector<Tensor>& params);

}  // namespace attnlab::nn

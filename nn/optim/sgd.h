// sgd.h — stochastic gradient descent with momentum, Nesterov and L2 weight decay.
//
// PyTorch's torch.optim.SGD (dampening 0), per element, with group lr and wd:
//   d   = g + wd·p                    (weight decay as an L2 term)
//   buf = μ·buf + d                   (buf starts at 0, so the first buf = d)
//   d   = nesterov ? d + μ·buf : buf  (when μ > 0)
//   p  -= lr·d
// One fused flat loop over the group's range; cost O(P) per step, plus one
// P-float momentum buffer when μ > 0.
//
//   nn::SGD opt(nn::single_group(model), {.lr = 0.1, .momentum = 0.9, .nesterov = true});
#pragma once
#include "nn/optim/optimizer.h"

namespace attnlab::nn {

struct SGDOptions {
    double lr = 1e-3;
    double momentum = 0.0;
    double weight_decay = 0.0;  // used by the NamedTensors constructor; groups carry their own
    bool nesterov = false;
};

class SGD : public Optimizer {
public:
    SGD(std::vector<ParamGroup> groups, const SGDOptions& options = {});
    SGD(const NamedTensors& params, const SGDOptions& options = {});

    double momentum() const { return momentum_; }
    bool nesterov() const { return nesterov_; }

protected:
    void update(const ParamGroup& g, int64_t step) override;
    NamedTensors flat_state() const override;
    nlohmann::json hyperparameters() const override;
    void set_hyperparameters(const nlohmann::json& j) override;

private:
    double momentum_;
    bool nesterov_;
    Tensor momentum_buffer_;  // [P], only when momentum > 0
};

}  // namespace attnlab::nn

// adam.h — Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019),
// with PyTorch's semantics and defaults.
//
// Per element, with group lr and wd, step t = 1, 2, ...:
//   Adam:   g = g + wd·p                       (L2 decay folded into the gradient)
//   AdamW:  p = p − lr·wd·p                    (decoupled decay, before the step)
//   m = β1·m + (1−β1)·g                        (first moment,  "exp_avg")
//   v = β2·v + (1−β2)·g²                       (second moment, "exp_avg_sq")
//   p = p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + ε)
// Defaults: lr 1e-3, β = (0.9, 0.999), ε 1e-8; weight decay 0 (Adam), 0.01 (AdamW).
// One fused flat loop per group; cost O(P) per step and 2·P floats of state.
// Reference path: in reference mode (ATTNLAB_REFERENCE=1, core/util/reference_mode.h)
// each parameter tensor is updated by its own plain loop instead (update_each_parameter).
//
//   auto groups = nn::parameter_groups_for_adamw(model, 0.05);  // no decay on biases, norms, pos, cls
//   nn::AdamW opt(groups, {.lr = 5e-4});
#pragma once
#include "nn/optim/optimizer.h"

namespace attnlab::nn {

struct AdamOptions {
    double lr = 1e-3;
    double beta1 = 0.9, beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.0;  // used by the NamedTensors constructor; groups carry their own
};

struct AdamWOptions {  // the same fields; only the weight decay default differs
    double lr = 1e-3;
    double beta1 = 0.9, beta2 = 0.999;
    double eps = 1e-8;
    double weight_decay = 0.01;
};

class Adam : public Optimizer {
public:
    Adam(std::vector<ParamGroup> groups, const AdamOptions& options = {});
    Adam(const NamedTensors& params, const AdamOptions& options = {});

    double beta1() const { return beta1_; }
    double beta2() const { return beta2_; }
    double eps() const { return eps_; }

protected:
    Adam(std::string type, std::vector<ParamGroup> groups, const AdamOptions& options, bool decoupled);
    void update(const ParamGroup& g, int64_t step) override;
    // The same update, one parameter tensor at a time: what update runs in reference mode.
    void update_each_parameter(const ParamGroup& g, int64_t step);
    NamedTensors flat_state() const override;
    nlohmann::json hyperparameters() const override;
    void set_hyperparameters(const nlohmann::json& j) override;

private:
    double beta1_, beta2_, eps_;
    bool decoupled_;             // true: AdamW
    Tensor exp_avg_, exp_avg_sq_;  // [P] each
};

class AdamW : public Adam {
public:
    AdamW(std::vector<ParamGroup> groups, const AdamWOptions& options = {});
    AdamW(const NamedTensors& params, const AdamWOptions& options = {});
};

// Two groups for (Adam)W: {decay: weight_decay} and {no decay: 0}. Parameters
// with dim <= 1 (biases, LayerNorm weights) and those whose name contains
// "pos_embed" or "cls_token" go to the no-decay group (the ViT/DeiT recipe).
std::vector<ParamGroup> parameter_groups_for_adamw(const Module& model, double weight_decay);
bool is_no_decay_parameter(const std::string& name, const Tensor& p);

}  // namespace attnlab::nn

// adam.cpp — see adam.h. update is the fused flat loop; update_each_parameter the
// per-parameter reference loop that reference mode (ATTNLAB_REFERENCE=1) selects.
#include "nn/optim/adam.h"

#include <cmath>

#include "core/kernels/parallel.h"
#include "core/util/reference_mode.h"

namespace attnlab::nn {

static void check_adam_options(const char* type, const AdamOptions& o) {
    check(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, type, ": betas must be in [0, 1), got (",
          o.beta1, ", ", o.beta2, ")");
    check(o.eps >= 0 && std::isfinite(o.eps), type, ": eps must be finite and >= 0, got ", o.eps);
}

Adam::Adam(std::string type, std::vector<ParamGroup> groups, const AdamOptions& o, bool decoupled)
    : Optimizer(std::move(type), std::move(groups), o.lr), beta1_(o.beta1), beta2_(o.beta2), eps_(o.eps),
      decoupled_(decoupled) {
    check_adam_options(this->type().c_str(), o);
    exp_avg_ = Tensor::zeros({numel()});
    exp_avg_sq_ = Tensor::zeros({numel()});
}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& o) : Adam("Adam", std::move(groups), o, false) {}
Adam::Adam(const NamedTensors& params, const AdamOptions& o) : Adam(single_group(params, o.weight_decay), o) {}

static AdamOptions as_adam(const AdamWOptions& o) { return {o.lr, o.beta1, o.beta2, o.eps, o.weight_decay}; }

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& o)
    : Adam("AdamW", std::move(groups), as_adam(o), true) {}
AdamW::AdamW(const NamedTensors& params, const AdamWOptions& o) : AdamW(single_group(params, o.weight_decay), o) {}

void Adam::update(const ParamGroup& g, int64_t step) {
    if (reference_mode()) return update_each_parameter(g, step);
    const float lr = float(g.lr), b1 = float(beta1_), b2 = float(beta2_), eps = float(eps_);
    const float bias_correction1 = float(1.0 - std::pow(beta1_, double(step)));
    const float bias_correction2_sqrt = float(std::sqrt(1.0 - std::pow(beta2_, double(step))));
    const float step_size = lr / bias_correction1;
    // L2 (Adam) adds wd·p to the gradient; decoupled (AdamW) shrinks p by lr·wd.
    const float l2 = decoupled_ ? 0.f : float(g.weight_decay);
    const float shrink = decoupled_ ? 1.f - lr * float(g.weight_decay) : 1.f;
    float* p = param_data();
    const float* grad = grad_data();
    float* m = exp_avg_.data();
    float* v = exp_avg_sq_.data();
    parallel_for(g.begin, g.end, kOptimizerParallelGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
        for (int64_t i = b; i < e; ++i) {
            float gi = grad[i] + l2 * p[i];
            float pi = p[i] * shrink;
            m[i] = b1 * m[i] + (1.f - b1) * gi;
            v[i] = b2 * v[i] + (1.f - b2) * gi * gi;
            p[i] = pi - step_size * m[i] / (std::sqrt(v[i]) / bias_correction2_sqrt + eps);
        }
    });
}

void Adam::update_each_parameter(const ParamGroup& g, int64_t step) {
    const double lr = g.lr, wd = g.weight_decay;
    const double bias_correction1 = 1.0 - std::pow(beta1_, double(step));
    const double bias_correction2 = 1.0 - std::pow(beta2_, double(step));
    for (const auto& [name, param] : g.params) {
        float* p = param.data();
        const float* grad = param.grad().data();
        float* m = exp_avg_.data() + param.offset();  // the parameter's slot in the state buffers
        float* v = exp_avg_sq_.data() + param.offset();
        for (int64_t i = 0; i < param.numel(); ++i) {
            float gi = grad[i];
            if (decoupled_) p[i] *= float(1.0 - lr * wd);  // AdamW: decay the weight
            else gi += float(wd) * p[i];                   // Adam: L2 term in the gradient
            m[i] = float(beta1_) * m[i] + float(1.0 - beta1_) * gi;
            v[i] = float(beta2_) * v[i] + float(1.0 - beta2_) * gi * gi;
            const float m_hat = m[i] / float(bias_correction1), v_hat = v[i] / float(bias_correction2);
            p[i] -= float(lr) * m_hat / (std::sqrt(v_hat) + float(eps_));
        }
    }
}

NamedTensors Adam::flat_state() const { return {{"exp_avg", exp_avg_}, {"exp_avg_sq", exp_avg_sq_}}; }

nlohmann::json Adam::hyperparameters() const {
    return {{"beta1", beta1_}, {"beta2", beta2_}, {"eps", eps_}};
}

void Adam::set_hyperparameters(const nlohmann::json& j) {
    AdamOptions o;
    o.beta1 = j.at("beta1").get<double>();
    o.beta2 = j.at("beta2").get<double>();
    o.eps = j.at("eps").get<double>();
    check_adam_options(type().c_str(), o);
    beta1_ = o.beta1, beta2_ = o.beta2, eps_ = o.eps;
}

bool is_no_decay_parameter(const std::string& name, const Tensor& p) {
    return p.dim() <= 1 || name.find("pos_embed") != std::string::npos ||
           name.find("cls_token") != std::string::npos;
}

std::vector<ParamGroup> parameter_groups_for_adamw(const Module& model, double weight_decay) {
    ParamGroup decay, no_decay;
    decay.weight_decay = weight_decay;
    no_decay.weight_decay = 0.0;
    for (auto& [name, p] : model.named_parameters())
        (is_no_decay_parameter(name, p) ? no_decay : decay).params.emplace_back(name, p);
    return {decay, no_decay};
}

}  // namespace attnlab::nn

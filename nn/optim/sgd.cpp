// sgd.cpp — see sgd.h.
#include "nn/optim/sgd.h"

#include <cmath>

#include "core/kernels/parallel.h"

namespace attnlab::nn {

static void check_sgd_options(const SGDOptions& o) {
    check(o.momentum >= 0 && std::isfinite(o.momentum), "SGD: momentum must be finite and >= 0, got ", o.momentum);
    check(!o.nesterov || o.momentum > 0, "SGD: Nesterov momentum needs momentum > 0, got ", o.momentum);
}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& o)
    : Optimizer("SGD", std::move(groups), o.lr), momentum_(o.momentum), nesterov_(o.nesterov) {
    check_sgd_options(o);
    if (momentum_ > 0) momentum_buffer_ = Tensor::zeros({numel()});
}

SGD::SGD(const NamedTensors& params, const SGDOptions& o) : SGD(single_group(params, o.weight_decay), o) {}

void SGD::update(const ParamGroup& g, int64_t /*step*/) {
    const float lr = float(g.lr), wd = float(g.weight_decay), mu = float(momentum_);
    const bool nesterov = nesterov_;
    float* p = param_data();
    const float* grad = grad_data();
    float* buf = momentum_buffer_.defined() ? momentum_buffer_.data() : nullptr;
    parallel_for(g.begin, g.end, kOptimizerParallelGrain, [&](int64_t b, int64_t e) {
        if (!buf) {
#pragma omp simd
            for (int64_t i = b; i < e; ++i) p[i] -= lr * (grad[i] + wd * p[i]);
            return;
        }
#pragma omp simd
        for (int64_t i = b; i < e; ++i) {
            float d = grad[i] + wd * p[i];
            buf[i] = mu * buf[i] + d;
            d = nesterov ? d + mu * buf[i] : buf[i];
            p[i] -= lr * d;
        }
    });
}

NamedTensors SGD::flat_state() const {
    if (!momentum_buffer_.defined()) return {};
    return {{"momentum_buffer", momentum_buffer_}};
}

nlohmann::json SGD::hyperparameters() const { return {{"momentum", momentum_}, {"nesterov", nesterov_}}; }

void SGD::set_hyperparameters(const nlohmann::json& j) {
    SGDOptions o;
    o.momentum = j.at("momentum").get<double>();
    o.nesterov = j.at("nesterov").get<bool>();
    check_sgd_options(o);
    check((o.momentum > 0) == momentum_buffer_.defined(), "SGD: saved state has momentum ", o.momentum,
          ", this optimizer has momentum ", momentum_, "; both must be zero or both non-zero");
    momentum_ = o.momentum;
    nesterov_ = o.nesterov;
}

}  // namespace attnlab::nn

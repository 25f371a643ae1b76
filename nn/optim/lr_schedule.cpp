// lr_schedule.cpp — see lr_schedule.h.
#include "nn/optim/lr_schedule.h"

#include <cmath>
#include <numbers>

#include "core/util/error.h"

namespace attnlab::nn {

static const char* kind_name(LrSchedule::Kind k) {
    switch (k) {
        case LrSchedule::Kind::Constant: return "constant";
        case LrSchedule::Kind::Cosine: return "cosine";
        case LrSchedule::Kind::StepDecay: return "step";
    }
    return "?";
}

LrSchedule LrSchedule::constant(double lr, int64_t warmup) {
    LrSchedule s;
    s.kind = Kind::Constant, s.base_lr = lr, s.warmup_steps = warmup;
    s.validate();
    return s;
}

LrSchedule LrSchedule::cosine(double base, int64_t warmup, int64_t total, double min_lr) {
    LrSchedule s;
    s.kind = Kind::Cosine, s.base_lr = base, s.warmup_steps = warmup, s.total_steps = total, s.min_lr = min_lr;
    s.validate();
    return s;
}

LrSchedule LrSchedule::step_decay(double base, double gamma, int64_t step_size, int64_t warmup) {
    LrSchedule s;
    s.kind = Kind::StepDecay, s.base_lr = base, s.gamma = gamma, s.step_size = step_size, s.warmup_steps = warmup;
    s.validate();
    return s;
}

void LrSchedule::validate() const {
    check(std::isfinite(base_lr) && base_lr >= 0, "lr schedule: base_lr must be finite and >= 0, got ", base_lr);
    check(warmup_steps >= 0, "lr schedule: warmup_steps must be >= 0, got ", warmup_steps);
    if (kind == Kind::Cosine) {
        check(std::isfinite(min_lr) && min_lr >= 0 && min_lr <= base_lr, "lr schedule: cosine min_lr must be in [0, ",
              base_lr, "], got ", min_lr);
        check(total_steps >= warmup_steps, "lr schedule: cosine total_steps ", total_steps,
              " must be >= warmup_steps ", warmup_steps);
    }
    if (kind == Kind::StepDecay) {
        check(std::isfinite(gamma) && gamma > 0, "lr schedule: step decay gamma must be > 0, got ", gamma);
        check(step_size > 0, "lr schedule: step decay step_size must be > 0, got ", step_size);
    }
}

double LrSchedule::lr_at(int64_t step) const {
    check(step >= 0, "lr schedule: step must be >= 0, got ", step);
    if (step < warmup_steps) return base_lr * double(step + 1) / double(warmup_steps);
    int64_t s = step - warmup_steps;  // steps since the end of warmup
    switch (kind) {
        case Kind::Constant: return base_lr;
        case Kind::Cosine: {
            int64_t span = total_steps - warmup_steps;
            double progress = span > 0 ? std::min(1.0, double(s) / double(span)) : 1.0;
            return min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
        }
        case Kind::StepDecay: return base_lr * std::pow(gamma, double(s / step_size));
    }
    return base_lr;
}

std::string LrSchedule::describe() const {
    switch (kind) {
        case Kind::Constant: return cat("constant(", base_lr, ", warmup ", warmup_steps, ")");
        case Kind::Cosine:
            return cat("cosine(", base_lr, " -> ", min_lr, ", warmup ", warmup_steps, ", total ", total_steps, ")");
        case Kind::StepDecay:
            return cat("step(", base_lr, ", x", gamma, " every ", step_size, ", warmup ", warmup_steps, ")");
    }
    return "?";
}

nlohmann::json LrSchedule::to_json() const {
    nlohmann::json j = {{"kind", kind_name(kind)}, {"base_lr", base_lr}, {"warmup_steps", warmup_steps}};
    if (kind == Kind::Cosine) j["min_lr"] = min_lr, j["total_steps"] = total_steps;
    if (kind == Kind::StepDecay) j["gamma"] = gamma, j["step_size"] = step_size;
    return j;
}

LrSchedule LrSchedule::from_json(const nlohmann::json& j) {
    LrSchedule s;
    try {
        std::string kind = j.at("kind").get<std::string>();
        if (kind == "constant") s.kind = Kind::Constant;
        else if (kind == "cosine") s.kind = Kind::Cosine;
        else if (kind == "step") s.kind = Kind::StepDecay;
        else throw Error(cat("lr schedule: kind must be 'constant', 'cosine' or 'step', got '", kind, "'"));
        s.base_lr = j.at("base_lr").get<double>();
        s.warmup_steps = j.value("warmup_steps", int64_t(0));
        if (s.kind == Kind::Cosine) {
            s.total_steps = j.at("total_steps").get<int64_t>();
            s.min_lr = j.value("min_lr", 0.0);
        }
        if (s.kind == Kind::StepDecay) {
            s.gamma = j.at("gamma").get<double>();
            s.step_size = j.at("step_size").get<int64_t>();
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(cat("lr schedule JSON: ", e.what()));
    }
    s.validate();
    return s;
}

}  // namespace attnlab::nn

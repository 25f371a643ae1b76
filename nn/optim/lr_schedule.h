// lr_schedule.h — learning-rate schedules as plain functions of the step.
//
// With W warmup steps, base lr η, final lr η_min, T total steps, s = step (0-based):
//   warmup (s < W):   lr = η · (s + 1) / W                      (linear, reaches η at s = W−1)
//   cosine:           lr = η_min + (η − η_min) · ½ (1 + cos(π · min(1, (s − W) / (T − W))))
//   step decay:       lr = η · γ^⌊(s − W) / k⌋                  (γ every k steps)
//   constant:         lr = η
// A schedule holds only these numbers, no state, so resuming a run at step s is
// just lr_at(s). Cost: O(1) per call.
//
//   auto schedule = nn::LrSchedule::cosine(5e-4, /*warmup*/ 500, /*total*/ 20000, /*min_lr*/ 1e-5);
//   opt.set_lr(schedule.lr_at(opt.step_count()));   // before each opt.step()
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace attnlab::nn {

struct LrSchedule {
    enum class Kind { Constant, Cosine, StepDecay };
    Kind kind = Kind::Constant;
    double base_lr = 1e-3;
    int64_t warmup_steps = 0;
    double min_lr = 0.0;      // cosine: the lr at total_steps and after
    int64_t total_steps = 0;  // cosine: warmup included
    double gamma = 0.1;       // step decay: factor ...
    int64_t step_size = 1;    // ... applied every step_size steps after warmup

    static LrSchedule constant(double lr, int64_t warmup_steps = 0);
    static LrSchedule cosine(double base_lr, int64_t warmup_steps, int64_t total_steps, double min_lr = 0.0);
    static LrSchedule step_decay(double base_lr, double gamma, int64_t step_size, int64_t warmup_steps = 0);

    double lr_at(int64_t step) const;  // step >= 0
    void validate() const;             // throws naming the bad field
    std::string describe() const;      // "cosine(5e-4 → 1e-5, warmup 500, total 20000)"
    nlohmann::json to_json() const;
    static LrSchedule from_json(const nlohmann::json& j);  // validates
};

}  // namespace attnlab::nn

// trainer_session.h — Trainer::Session, the state of one fit(), shared by the
// trainer's files: trainer.cpp (the loop), trainer_step.cpp (one step, one
// evaluation), trainer_state.cpp (checkpoints, resume, stop) and
// trainer_output.cpp (progress, epoch lines, profile, summary). Internal: only
// those files include it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/optim/lr_schedule.h"
#include "nn/train/metrics.h"
#include "nn/train/trainer.h"

namespace attnlab::nn {

using Clock = std::chrono::steady_clock;  // Trainer::TimePoint is its time_point

// The state of one fit(): the schedule, the running meters of the current epoch,
// the logged rows, and the timing behind the ETA.
struct Trainer::Session {
    int64_t spe = 0;  // optimizer steps per epoch
    LrSchedule schedule;
    std::string eval_name;  // "test" or "val"
    int64_t start_epoch = 0, skip_batches = 0;  // where a resumed run continues
    Meter loss_meter, acc_meter;
    // Training seconds of the current epoch: of a resumed part-epoch before the interruption,
    // then (when run_epoch ends) of the whole epoch; finish_epoch logs and clears it.
    double epoch_seconds_before = 0;
    std::vector<nlohmann::json> rows;  // metrics.jsonl
    bool tty = false;
    Clock::time_point run_start = Clock::now(), profile_start;
    int64_t images_this_session = 0;
    double train_seconds_this_session = 0;  // training steps only, for the ETA (a resumed part-epoch would skew per-epoch rates)
    double eval_seconds = 0;                // the last evaluation's duration, for the ETA
    bool profiled = false;                  // --profile finished: stop without a summary
    TrainResult result;

    void stop(StopReason reason, std::string message) { result.reason = reason, result.message = std::move(message); }
};

}  // namespace attnlab::nn

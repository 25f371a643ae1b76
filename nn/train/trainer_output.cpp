// trainer_output.cpp — what the trainer prints and reports: the live progress
// bar, one line per epoch with its ETA, the --profile table, and summary.json.
#include "nn/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

#include "core/util/profiler.h"
#include "nn/train/run_files.h"
#include "nn/train/trainer_session.h"

namespace attnlab::nn {

// --profile N: times steps 3 .. 3+N (after warm-up: allocator cache and threads are warm),
// prints the per-op table; true when done.
bool Trainer::profile_hook(Session& s, int64_t step) {
    if (opt_.profile_steps <= 0) return false;
    if (step == 3) {
        profiler::reset();
        profiler::enable(true);
        s.profile_start = Clock::now();
    }
    if (step != 3 + opt_.profile_steps) return false;
    profiler::enable(false);
    double secs = std::chrono::duration<double>(Clock::now() - s.profile_start).count();
    if (s.tty) std::printf("\n");
    std::printf("profile of %ld training steps (batch %ld, %s):\n%s", long(opt_.profile_steps), long(opt_.batch_size),
                model_->describe().c_str(), profiler::report(secs, opt_.profile_steps).c_str());
    std::printf("%.1f images/s\n", double(opt_.profile_steps * opt_.batch_size) / secs);
    s.stop(StopReason::Interrupted, "profiling done");
    s.profiled = true;
    return true;
}

void Trainer::print_progress(const Session& s, int64_t epoch, int64_t batch_index, int64_t epoch_images,
                             Clock::time_point epoch_start) const {
    double el = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    double ips = double(epoch_images) / std::max(el, 1e-9);
    double eta = double((s.spe - batch_index) * opt_.batch_size) / std::max(ips, 1e-9);
    int filled = int(30 * batch_index / std::max<int64_t>(s.spe, 1));
    std::printf("\r  epoch %ld/%ld [%s%s] %3ld%% loss %.4f acc %5.1f%% %5.0f img/s ETA %s   ", long(epoch + 1),
                long(opt_.epochs), std::string(size_t(filled), '#').c_str(), std::string(size_t(30 - filled), '.').c_str(),
                long(100 * batch_index / std::max<int64_t>(s.spe, 1)), s.loss_meter.mean(), 100.0 * s.acc_meter.mean(), ips,
                hms(eta).c_str());
    std::fflush(stdout);
}

// ETA = remaining training images at this session's training rate + the remaining
// evaluations at the last one's duration.
double Trainer::eta_seconds(const Session& s, int64_t epochs_done) const {
    int64_t epochs_left = opt_.epochs - epochs_done, evals_left = 0;
    for (int64_t e = epochs_done + 1; e <= opt_.epochs; ++e) evals_left += evaluates_after(e);
    double seconds_per_image = s.train_seconds_this_session / double(std::max<int64_t>(s.images_this_session, 1));
    return double(epochs_left * s.spe * opt_.batch_size) * seconds_per_image + double(evals_left) * s.eval_seconds;
}

void Trainer::print_epoch_line(const Session& s, const EpochRecord& rec) const {
    char eval_part[160];
    if (rec.evaluated)
        std::snprintf(eval_part, sizeof eval_part, "%s loss %.4f acc %5.2f%% (best %.2f%%)", s.eval_name.c_str(),
                      rec.eval_loss, 100 * rec.eval_acc, 100 * best_acc_);
    else
        std::snprintf(eval_part, sizeof eval_part, "%s not evaluated (--eval-every %ld)", s.eval_name.c_str(),
                      long(opt_.eval_every));
    std::printf("epoch %3ld/%ld  lr %.2e  train loss %.4f acc %5.2f%%  |  %s  |  %.1f s  %.0f img/s  RSS %.0f MB  ETA %s\n",
                long(rec.epoch), long(opt_.epochs), rec.lr, rec.train_loss, 100 * rec.train_acc, eval_part, rec.seconds,
                rec.images_per_sec, rec.peak_rss_mb, hms(eta_seconds(s, rec.epoch)).c_str());
    std::fflush(stdout);
}

void Trainer::write_run_summary(const Session& s) const {
    const TrainResult& r = s.result;
    write_summary(opt_.run_dir,
                  {{"status", r.reason == StopReason::Finished      ? "finished"
                              : r.reason == StopReason::Interrupted ? "interrupted"
                                                                    : "non-finite loss"},
                   {"message", r.message}, {"epochs_done", r.epochs_done},
                   {"best_eval_acc", best_acc_}, {"best_epoch", best_epoch_}, {"eval_set", s.eval_name},
                   {"session_seconds", r.seconds},
                   {"session_images_per_sec", double(s.images_this_session) / std::max(r.seconds, 1e-9)}});
}

}  // namespace attnlab::nn

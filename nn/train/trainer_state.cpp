// trainer_state.cpp — what the trainer keeps on disk: best/ and last/
// checkpoints (written atomically), metrics.csv and metrics.jsonl, resuming
// from last/ with the same options, and the checkpoint saved when a run is
// stopped (Ctrl-C). A failed save says which checkpoint is still intact.
#include "nn/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "nn/io/atomic_file.h"
#include "nn/io/checkpoint.h"
#include "nn/train/run_files.h"
#include "nn/train/trainer_session.h"

namespace attnlab::nn {

namespace fs = std::filesystem;

// A resumed run must continue the same computation: every training option the
// checkpoint recorded must equal this run's (options it predates are skipped),
// and so must the train/eval set sizes, unless resume_with_changes (then the
// differences are printed as a warning).
static void check_resume_options(const std::string& dir, const TrainOptions& o) {
    const nlohmann::json config = read_config(dir);
    const nlohmann::json extra = config.value("extra", nlohmann::json::object());
    const nlohmann::json saved = extra.value("train_options", nlohmann::json::object());
    const nlohmann::json current = o.to_json();
    std::string differences;
    auto compare = [&](const std::string& key, const nlohmann::json& then, const nlohmann::json& now) {
        if (then.contains(key) && now.contains(key) && then[key] != now[key])
            differences += "\n  " + key + ": checkpoint " + then[key].dump() + ", this run " + now[key].dump();
    };
    for (const auto& item : current.items()) compare(item.key(), saved, current);
    for (const char* key : {"train_images", "eval_images", "eval_set"}) compare(key, extra, o.extra_config);
    if (differences.empty()) return;
    check(o.resume_with_changes, "resume: ", dir, " was trained with other options:", differences,
          "\npass the options of the original run, start a new --checkpoint directory, or allow the changes "
          "with --resume-with-changes");
    std::printf("warning: resuming %s with changed options:%s\n", dir.c_str(), differences.c_str());
}

bool weights_are_finite(const Module& model) {
    auto finite = [](const Tensor& t) {
        if (t.dtype() != DType::Float32) return true;
        Tensor c = t.contiguous();
        const float* p = c.data();
        for (int64_t i = 0; i < c.numel(); ++i)
            if (!std::isfinite(p[i])) return false;
        return true;
    };
    for (const auto& [name, t] : model.named_parameters())
        if (!finite(t)) return false;
    for (const auto& [name, t] : model.named_buffers())
        if (!finite(t)) return false;
    return true;
}

void Trainer::prepare_run_dir() { prepare_run_directory(opt_.run_dir, opt_.resume, opt_.overwrite); }

std::string Trainer::last_checkpoint() const {
    fs::path last = fs::path(opt_.run_dir) / "last";
    if (opt_.run_dir.empty() || !has_training_state(last.string())) return "";
    TrainState st = read_train_state(last.string());
    const int64_t batch = st.extra.value("batch_in_epoch", int64_t(0));
    return batch > 0 ? cat(last.string(), " (epoch ", st.epoch + 1, ", batch ", batch, ")")
                     : cat(last.string(), " (epoch ", st.epoch, ")");
}

std::string Trainer::stopped_message() const {
    if (opt_.run_dir.empty()) return "stopped (no --checkpoint: nothing was saved)";
    std::string last = last_checkpoint();
    if (last.empty()) return "stopped without saving; no checkpoint was saved before (this run has no last good checkpoint)";
    return "stopped without saving. The last good checkpoint is " + last;
}

// Saves (checkpoints, logs) that fail, e.g. on a full disk, say what is still on disk.
void Trainer::save_or_explain(const std::function<void()>& save_all) const {
    try {
        save_all();
    } catch (const std::exception& e) {
        std::string last = last_checkpoint();
        throw Error(cat(e.what(), "\n", last.empty() ? std::string("no checkpoint of this run is on disk yet")
                                                       : "the previous checkpoint " + last + " is intact; continue "
                                                         "from it with --resume once there is room"));
    }
}

void Trainer::save(const std::string& which, int64_t epoch, int64_t batch_in_epoch, const nlohmann::json& meters) const {
    if (!writes_files()) return;
    TrainState st;
    st.epoch = epoch;
    st.step = optimizer_->step_count();
    st.extra = {{"batch_in_epoch", batch_in_epoch}, {"best_eval_acc", best_acc_}, {"best_epoch", best_epoch_},
                {"meters", meters}};
    nlohmann::json extra = opt_.extra_config;
    extra["train_options"] = opt_.to_json();
    extra["normalization"] = {{"mean", norm_.mean}, {"std", norm_.std}};
    save_checkpoint((fs::path(opt_.run_dir) / which).string(), *model_, vit_config_json(model_->config, extra),
                    optimizer_.get(), st);
}

// Both logs are replaced atomically: a kill or a full disk leaves the previous ones.
static void rewrite_metrics(const std::string& run_dir, const std::vector<nlohmann::json>& rows, const std::string& eval_name) {
    std::ostringstream csv;
    csv << "epoch,lr,train_loss,train_acc," << eval_name << "_loss," << eval_name << "_acc,seconds,images_per_sec,peak_rss_mb\n";
    auto field = [](const nlohmann::json& v) { return v.is_null() ? std::string() : v.dump(); };  // not evaluated: empty
    for (const nlohmann::json& r : rows)
        csv << r["epoch"] << "," << r["lr"] << "," << r["train_loss"] << "," << r["train_acc"] << "," << field(r["eval_loss"])
            << "," << field(r["eval_acc"]) << "," << r["seconds"] << "," << r["images_per_sec"] << "," << r["peak_rss_mb"] << "\n";
    write_file_atomic((fs::path(run_dir) / "metrics.csv").string(), csv.str());
    write_metric_rows(run_dir, rows);
}

// Continues from run_dir/last: weights, optimizer, RNG, the position in the epoch, the best
// evaluation so far, the part-epoch's meters and the logged rows up to the checkpoint.
void Trainer::resume(Session& s) {
    check(!opt_.run_dir.empty(), "resume: no run directory given (--checkpoint DIR)");
    fs::path last_path = fs::path(opt_.run_dir) / "last";
    check(fs::exists(last_path) || fs::exists(last_path.string() + ".old"), "resume: no checkpoint with training state in ",
          last_path.string(), "; start without --resume");
    std::string last = resolve_checkpoint_dir(last_path.string());
    check(has_training_state(last), "resume: no checkpoint with training state in ", last_path.string(),
          "; start without --resume");
    check_resume_options(last, opt_);
    TrainState st = resume_training(last, *model_, *optimizer_);
    s.start_epoch = st.epoch;
    s.skip_batches = st.extra.value("batch_in_epoch", int64_t(0));
    best_acc_ = st.extra.value("best_eval_acc", 0.0);
    best_epoch_ = st.extra.value("best_epoch", int64_t(0));
    restore_best(s.start_epoch);
    if (st.extra.contains("meters") && st.extra["meters"].is_object()) {
        const auto& m = st.extra["meters"];
        s.loss_meter.sum = m.value("loss_sum", 0.0), s.loss_meter.count = m.value("count", int64_t(0));
        s.acc_meter.sum = m.value("correct_sum", 0.0), s.acc_meter.count = s.loss_meter.count;
        s.epoch_seconds_before = m.value("seconds", 0.0);
    }
    s.rows = read_metric_rows(opt_.run_dir, "epoch", s.start_epoch);
    std::printf("resumed from %s: epoch %ld, batch %ld, step %ld\n", last.c_str(), long(s.start_epoch + 1),
                long(s.skip_batches), long(st.step));
}

// best/ is what counts: if its save failed (killed), continue from the best it holds.
void Trainer::restore_best(int64_t start_epoch) {
    fs::path best_path = fs::path(opt_.run_dir) / "best";
    if (has_training_state(best_path.string())) {
        TrainState best = read_train_state(best_path.string());
        if (best.epoch <= start_epoch && best.epoch != best_epoch_)
            best_acc_ = best.extra.value("best_eval_acc", 0.0), best_epoch_ = best.epoch;
    } else if (best_epoch_ > 0) {
        best_acc_ = 0, best_epoch_ = 0;  // no best/ on disk: the next evaluation saves one
    }
}

// Ctrl-C (or stop_after_steps): save run_dir/last mid-epoch with the part-epoch's meters,
// unless the weights are not finite.
void Trainer::stop_with_checkpoint(Session& s, int64_t epoch, int64_t batch_index, Clock::time_point epoch_start) {
    if (!weights_are_finite(*model_)) {
        s.stop(StopReason::NonFiniteLoss, cat("interrupted at epoch ", epoch + 1, " with non-finite weights; ", stopped_message()));
        return;
    }
    double secs = s.epoch_seconds_before + std::chrono::duration<double>(Clock::now() - epoch_start).count();
    save_or_explain([&] {
        save("last", epoch, batch_index,
             {{"loss_sum", s.loss_meter.sum}, {"correct_sum", s.acc_meter.sum}, {"count", s.loss_meter.count}, {"seconds", secs}});
    });
    s.stop(StopReason::Interrupted,
           cat("interrupted at epoch ", epoch + 1, ", batch ", batch_index, "/", s.spe,
               saved_note(opt_.run_dir.empty() ? "" : (fs::path(opt_.run_dir) / "last").string(), opt_.resume_hint)));
    if (s.tty) std::printf("\n");
}

// metrics.jsonl rewritten, then "best" (when improved) and "last" saved.
void Trainer::save_epoch(const Session& s, int64_t epoch, bool improved) const {
    save_or_explain([&] {
        rewrite_metrics(opt_.run_dir, s.rows, s.eval_name);
        if (improved) save("best", epoch + 1, 0, {});  // best before last: a kill in between re-runs this epoch
        save("last", epoch + 1, 0, nlohmann::json::object());
    });
}

}  // namespace attnlab::nn

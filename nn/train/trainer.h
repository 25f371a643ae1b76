// trainer.h — the training loop for image classifiers: epochs of
// data → model → cross-entropy → backward → (clip) → AdamW, with evaluation,
// metrics logs, checkpoints, resume, interruption and NaN handling.
//
// One step:  x, y = next batch            (DataLoader prepares it in the background)
//            [mixup/cutmix: x = λx + (1-λ)x[perm]; loss = λ·CE(y) + (1-λ)·CE(y[perm])]
//            loss = CE(model(x), y; label smoothing)
//            grads = backward(loss); clip to --grad-clip; lr = schedule(step); AdamW step
// After each epoch: evaluate on the eval set (validation split or test set; with
// eval_every = N only after every N-th epoch and the last), append a row to
// metrics.csv / metrics.jsonl, save run_dir/best (when the eval accuracy improved)
// and run_dir/last atomically. A NaN/Inf training or evaluation loss, or
// non-finite weights, stop the run without saving: last/ and best/ only ever
// hold finite weights. A fresh run never overwrites an earlier run's files
// (TrainOptions::overwrite), and an interrupted checkpoint swap (DIR.new/,
// DIR.old/ left by a kill) is finished or rolled back before training.
//
// The logs, summary and resume step are shared with the pixel trainer (run_files.h).
// Run directory layout:  run_dir/last/  run_dir/best/   (checkpoints: see checkpoint.h)
//                        run_dir/metrics.csv  run_dir/metrics.jsonl  run_dir/summary.json
// Data-parallel (set_data_parallel, data_parallel.h): the same loop on P processes,
// each on its shard of every batch, gradients summed between backward and the step.
// Everything random (init, dropout, shuffling, augmentation, mixing) is seeded,
// and a checkpoint saved mid-epoch resumes to the same losses as an
// uninterrupted run with the same seed and thread count.
#pragma once
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "datasets/dataloader.h"
#include "nn/train/data_parallel.h"
#include "nn/optim/optimizer.h"
#include "nn/models/vit.h"

namespace attnlab::nn {

// Library defaults; the recommended recipe's values are in nn/train/recipe.h.
struct TrainOptions {
    int64_t epochs = 100;
    int64_t batch_size = 128;
    double lr = 1e-3;             // peak learning rate (after warmup)
    double min_lr = 1e-5;         // end of the cosine decay
    double warmup_epochs = 5;
    double weight_decay = 0.05;   // AdamW, not applied to biases, norms, pos_embed, cls_token
    double label_smoothing = 0.1;
    double grad_clip = 1.0;       // max global gradient norm; 0 = off
    bool augment = true;          // random crop (4-pixel padding) + horizontal flip
    bool trivial_augment = false; // then one TrivialAugment op per image (datasets/augment/trivial_augment.h)
    double mixup_alpha = 0.0;     // Beta(α, α) mixing of image pairs; 0 = off
    double cutmix_alpha = 0.0;    // CutMix box mixing; 0 = off (when both are on, each batch picks one)
    double mix_prob = 1.0;        // probability that a batch is mixed
    uint64_t seed = 0;
    int64_t eval_batch_size = 256;
    int64_t eval_every = 1;       // evaluate after every N-th epoch and after the last; 0 = after the last only
    std::string run_dir;          // where checkpoints and logs go; empty = nothing saved
    bool resume = false;          // continue from run_dir/last
    // A fresh run (no resume) refuses a run_dir that holds a checkpoint or logs (last/, best/,
    // metrics.csv, metrics.jsonl, summary.json) unless overwrite, which deletes them first.
    bool overwrite = false;
    std::string resume_hint = "continue with --resume";  // how the user continues, in the "interrupted" message
    bool resume_with_changes = false;  // resume even if training options differ from the checkpoint's
    bool progress = true;         // live progress line
    int64_t profile_steps = 0;    // > 0: time this many steps (after 3 warm-up steps), print the per-op table, stop
    nlohmann::json extra_config = nlohmann::json::object();  // saved in config.json (class names, ...)
    // The options that decide what a run computes (epochs … seed; not paths, progress,
    // eval batch size or eval_every): saved in config.json, compared on --resume, keyed on by the study.
    nlohmann::json to_json() const;
};

struct EvalResult {
    double loss = 0, accuracy = 0;
    int64_t images = 0;
    double seconds = 0;
};

struct EpochRecord {
    int64_t epoch = 0;  // 1-based, as printed
    double lr = 0, train_loss = 0, train_acc = 0, eval_loss = 0, eval_acc = 0;
    bool evaluated = true;  // false: an epoch skipped by eval_every (eval_* are null in the logs)
    double seconds = 0, images_per_sec = 0, peak_rss_mb = 0;
    nlohmann::json to_json() const;
};

// NonFiniteLoss: a NaN/Inf training or evaluation loss, or non-finite weights.
enum class StopReason { Finished, Interrupted, NonFiniteLoss };

struct TrainResult {
    StopReason reason = StopReason::Finished;
    int64_t epochs_done = 0;
    double best_eval_acc = 0;
    int64_t best_epoch = 0;
    double seconds = 0;
    std::vector<EpochRecord> history;
    std::string message;  // what happened, for the final summary
};

// Accuracy and mean cross-entropy of `model` (eval mode, no grad) over `data`.
EvalResult evaluate(UnaryModule& model, const datasets::ImageDataset& dataset, const datasets::Normalization& norm,
                    int64_t batch_size = 256);

class Trainer {
public:
    Trainer(std::shared_ptr<VisionTransformer> model, TrainOptions options, const datasets::ImageDataset& train_set,
            const datasets::ImageDataset& eval_set, datasets::Normalization normalization);
    ~Trainer();

    TrainResult fit();
    // Checked between steps; set from a signal handler to stop cleanly with a checkpoint.
    void set_stop_flag(const std::atomic<bool>* flag) { stop_flag_ = flag; }
    // Data-parallel training (data_parallel.h; nn/distributed/ makes one): this
    // process then trains on its shard of every batch, evaluates its shard of the
    // eval set, and only rank 0 writes files. Call before fit(); `dp` must outlive it.
    void set_data_parallel(DataParallel* dp);
    // For tests: called after every optimizer step with (global step, loss).
    std::function<void(int64_t, double)> on_step;
    // Stop after this many optimizer steps in total (as if interrupted); for tests. 0 = off.
    int64_t stop_after_steps = 0;

    Optimizer& optimizer() { return *optimizer_; }
    int64_t steps_per_epoch() const;
    // Whether the eval set is evaluated after epoch `epoch` (1-based): see TrainOptions::eval_every.
    bool evaluates_after(int64_t epoch) const;

private:
    struct Session;  // the state of one fit() (trainer_session.h)
    using TimePoint = std::chrono::steady_clock::time_point;
    // fit() in named steps: resume, then per epoch run_epoch (the steps) and finish_epoch
    // (evaluate, log, save, print); each returns false when the run stops.
    void resume(Session& s);
    void restore_best(int64_t start_epoch);
    bool run_epoch(Session& s, int64_t epoch);
    bool train_on_batch(Session& s, const datasets::Batch& batch, int64_t epoch, int64_t batch_index);
    bool finish_epoch(Session& s, int64_t epoch);
    EpochRecord epoch_record(const Session& s, int64_t epoch, bool evaluated, const EvalResult& ev,
                             double train_seconds) const;
    void save_epoch(const Session& s, int64_t epoch, bool improved) const;
    bool stop_requested();  // Ctrl-C or stop_after_steps, on any process
    void stop_with_checkpoint(Session& s, int64_t epoch, int64_t batch_index, TimePoint epoch_start);
    bool profile_hook(Session& s, int64_t step);  // --profile: true when the timed steps are done
    void print_progress(const Session& s, int64_t epoch, int64_t batch_index, int64_t epoch_images,
                        TimePoint epoch_start) const;
    double eta_seconds(const Session& s, int64_t epochs_done) const;
    void print_epoch_line(const Session& s, const EpochRecord& rec) const;
    void write_run_summary(const Session& s) const;

    void prepare_run_dir();  // refuses or clears a used run_dir; repairs interrupted checkpoint swaps
    std::string stopped_message() const;  // "stopped without saving. The last good checkpoint is ..."
    std::string last_checkpoint() const;  // "run/last (epoch 3)", or "" if there is none
    void save_or_explain(const std::function<void()>& save_all) const;
    void save(const std::string& which, int64_t epoch, int64_t batch_in_epoch, const nlohmann::json& meters) const;
    Tensor train_step(const datasets::Batch& batch, int64_t global_step, double& loss_out, int64_t& correct_out);
    Tensor parallel_train_step(const datasets::Batch& batch, double& loss_out, int64_t& correct_out);
    void make_loader();
    EvalResult evaluate_eval_set();
    bool writes_files() const { return !opt_.run_dir.empty() && (!parallel_ || parallel_->rank() == 0); }
    bool any_process(bool flag);  // flag on this process or any other

    std::shared_ptr<VisionTransformer> model_;
    TrainOptions opt_;
    const datasets::ImageDataset& train_set_;
    const datasets::ImageDataset& eval_set_;
    datasets::Normalization norm_;
    std::unique_ptr<Optimizer> optimizer_;
    std::unique_ptr<datasets::DataLoader> loader_;
    const std::atomic<bool>* stop_flag_ = nullptr;
    DataParallel* parallel_ = nullptr;
    datasets::ImageDataset eval_shard_;  // with parallel_: this process's part of eval_set_
    double best_acc_ = 0;
    int64_t best_epoch_ = 0;
};

// True if every parameter and buffer of `model` is finite.
bool weights_are_finite(const Module& model);

}  // namespace attnlab::nn

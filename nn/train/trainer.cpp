// trainer.cpp — the training loop (see trainer.h): fit() runs run_epoch (the
// steps) and finish_epoch (evaluate, log, save, print) for each epoch. The step
// itself is in trainer_step.cpp, checkpoints and resume in trainer_state.cpp,
// what is printed in trainer_output.cpp.
#include "nn/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/util/memory.h"
#include "core/util/profiler.h"
#include "nn/optim/adam.h"
#include "nn/optim/lr_schedule.h"
#include "nn/train/run_files.h"
#include "nn/train/trainer_session.h"

namespace attnlab::nn {

static constexpr int64_t kWeightCheckEvery = 50;  // data-parallel: steps between weight-hash comparisons

nlohmann::json EpochRecord::to_json() const {
    return {{"epoch", epoch},
            {"lr", lr},
            {"train_loss", train_loss},
            {"train_acc", train_acc},
            {"eval_loss", evaluated ? nlohmann::json(eval_loss) : nlohmann::json()},
            {"eval_acc", evaluated ? nlohmann::json(eval_acc) : nlohmann::json()},
            {"seconds", seconds},
            {"images_per_sec", images_per_sec},
            {"peak_rss_mb", peak_rss_mb}};
}

Trainer::Trainer(std::shared_ptr<VisionTransformer> model, TrainOptions options, const datasets::ImageDataset& train_set,
                 const datasets::ImageDataset& eval_set, datasets::Normalization normalization)
    : model_(std::move(model)), opt_(std::move(options)), train_set_(train_set), eval_set_(eval_set),
      norm_(std::move(normalization)) {
    check(opt_.epochs > 0, "Trainer: epochs must be > 0, got ", opt_.epochs);
    check(opt_.batch_size > 0 && opt_.batch_size <= train_set_.size(), "Trainer: batch size ", opt_.batch_size,
          " must be in [1, ", train_set_.size(), "] (the training set size)");
    check(opt_.lr > 0, "Trainer: lr must be > 0, got ", opt_.lr);
    check(opt_.warmup_epochs >= 0 && opt_.warmup_epochs <= double(opt_.epochs), "Trainer: warmup_epochs ",
          opt_.warmup_epochs, " must be in [0, epochs=", opt_.epochs, "]");
    check(opt_.mix_prob >= 0 && opt_.mix_prob <= 1, "Trainer: mix_prob must be in [0, 1], got ", opt_.mix_prob);
    AdamWOptions ao;
    ao.lr = opt_.lr, ao.weight_decay = opt_.weight_decay;
    optimizer_ = std::make_unique<AdamW>(parameter_groups_for_adamw(*model_, opt_.weight_decay), ao);
    make_loader();
}

void Trainer::make_loader() {
    datasets::DataLoaderOptions lo;
    lo.batch_size = opt_.batch_size, lo.shuffle = true, lo.drop_last = true, lo.seed = opt_.seed;
    lo.augment = opt_.augment, lo.trivial_augment = opt_.trivial_augment, lo.normalize = norm_;
    if (parallel_) lo.shard = parallel_->rank(), lo.shards = parallel_->size();
    loader_.reset();
    loader_ = std::make_unique<datasets::DataLoader>(train_set_, lo);
}

void Trainer::set_data_parallel(DataParallel* dp) {
    parallel_ = dp;
    if (dp) {
        const int64_t P = dp->size(), r = dp->rank();
        check(opt_.mixup_alpha == 0 && opt_.cutmix_alpha == 0, "data-parallel training (", P,
              " processes) does not support --mixup/--cutmix yet: they mix images across the whole batch");
        check(opt_.batch_size >= P, "data-parallel training: --batch ", opt_.batch_size, " is smaller than the ", P,
              " processes; each needs at least one image of every batch");
        check(eval_set_.size() >= P, "data-parallel training: the eval set has ", eval_set_.size(),
              " images, fewer than the ", P, " processes");
        eval_shard_ = eval_set_.subset(eval_set_.size() * r / P, eval_set_.size() * (r + 1) / P);
    }
    make_loader();
}

bool Trainer::any_process(bool flag) {
    if (!parallel_) return flag;
    std::vector<double> v = {flag ? 1.0 : 0.0};
    parallel_->sum(v);
    return v[0] > 0;
}

Trainer::~Trainer() = default;

int64_t Trainer::steps_per_epoch() const { return loader_->batches_per_epoch(); }

bool Trainer::evaluates_after(int64_t epoch) const {
    return epoch == opt_.epochs || (opt_.eval_every > 0 && epoch % opt_.eval_every == 0);
}

nlohmann::json TrainOptions::to_json() const {
    return {{"epochs", epochs}, {"batch_size", batch_size}, {"lr", lr}, {"min_lr", min_lr},
            {"warmup_epochs", warmup_epochs}, {"weight_decay", weight_decay},
            {"label_smoothing", label_smoothing}, {"grad_clip", grad_clip}, {"augment", augment},
            {"trivial_augment", trivial_augment}, {"mixup_alpha", mixup_alpha},
            {"cutmix_alpha", cutmix_alpha}, {"mix_prob", mix_prob}, {"seed", seed}};
}

static const char* const kDivergenceHint = ". Try a lower --lr, a longer --warmup or --grad-clip 1.";

bool Trainer::stop_requested() {
    return any_process((stop_flag_ && stop_flag_->load()) ||
                       (stop_after_steps > 0 && optimizer_->step_count() >= stop_after_steps));
}

// One optimizer step on `batch` at the schedule's learning rate, and its loss and accuracy
// into the epoch's meters. False (and s.result says why) when the loss is not finite.
bool Trainer::train_on_batch(Session& s, const datasets::Batch& batch, int64_t epoch, int64_t batch_index) {
    const int64_t step = optimizer_->step_count();
    optimizer_->set_lr(s.schedule.lr_at(step));
    double loss = 0;
    int64_t correct = 0;
    if (parallel_) parallel_train_step(batch, loss, correct);
    else train_step(batch, step, loss, correct);
    if (!std::isfinite(loss)) {
        s.stop(StopReason::NonFiniteLoss,
               cat("loss is ", std::isnan(loss) ? "NaN" : "infinite", " at epoch ", epoch + 1, ", batch ", batch_index + 1,
                   " (step ", step, ", lr ", optimizer_->lr(), "); ", stopped_message(), kDivergenceHint));
        if (s.tty) std::printf("\n");
        return false;
    }
    const int64_t images = batch.global_size;                     // = batch.size() in one process
    s.loss_meter.add(loss, images);                               // per-image mean loss
    s.acc_meter.add(double(correct) / double(images), images);    // fraction correct
    if (on_step) on_step(step, loss);
    return true;
}

// The training steps of one epoch (of its rest, when resumed mid-epoch). False when the
// run stops: interrupted, profiled, or a non-finite loss (s.result says which).
bool Trainer::run_epoch(Session& s, int64_t epoch) {
    model_->train();
    loader_->start_epoch(epoch);
    datasets::Batch batch;
    for (int64_t k = 0; k < s.skip_batches && loader_->next(batch); ++k) {
    }
    int64_t batch_index = s.skip_batches;
    s.skip_batches = 0;
    const auto epoch_start = Clock::now();
    int64_t epoch_images = 0;
    while (true) {
        if (stop_requested()) {
            stop_with_checkpoint(s, epoch, batch_index, epoch_start);
            return false;
        }
        bool have_batch;
        {
            PROFILE_SCOPE("data (waiting for the loader)");
            have_batch = loader_->next(batch);
        }
        if (!have_batch) break;
        if (profile_hook(s, optimizer_->step_count()) || !train_on_batch(s, batch, epoch, batch_index)) return false;
        const int64_t images = batch.global_size;  // = batch.size() in one process
        ++batch_index;
        epoch_images += images;
        s.images_this_session += images;
        if (parallel_ && optimizer_->step_count() % kWeightCheckEvery == 0) parallel_->check_same_weights();
        if (s.tty) print_progress(s, epoch, batch_index, epoch_images, epoch_start);
    }
    clear_progress_line(s.tty, 120);
    double seconds_this_part = std::chrono::duration<double>(Clock::now() - epoch_start).count();
    s.train_seconds_this_session += seconds_this_part;
    s.epoch_seconds_before += seconds_this_part;  // = the whole epoch's training seconds
    return true;
}

// The epoch's line in the history: its training meters, the evaluation, time and memory.
EpochRecord Trainer::epoch_record(const Session& s, int64_t epoch, bool evaluated, const EvalResult& ev,
                                  double train_seconds) const {
    EpochRecord rec;
    rec.evaluated = evaluated;
    rec.epoch = epoch + 1;
    rec.lr = optimizer_->lr();
    rec.train_loss = s.loss_meter.mean();
    rec.train_acc = s.acc_meter.mean();
    rec.eval_loss = ev.loss, rec.eval_acc = ev.accuracy;
    rec.seconds = train_seconds;
    rec.images_per_sec = double(s.spe * opt_.batch_size) / std::max(train_seconds, 1e-9);
    rec.peak_rss_mb = peak_rss_mb();
    return rec;
}

// After the training steps of epoch `epoch` (0-based): evaluate (if due), log, save best/
// and last/, print the epoch line. False when the eval loss or the weights are not finite.
bool Trainer::finish_epoch(Session& s, int64_t epoch) {
    const double train_seconds = s.epoch_seconds_before;
    s.epoch_seconds_before = 0;
    const bool evaluated = evaluates_after(epoch + 1);
    EvalResult ev;
    if (evaluated) {
        auto eval_start = Clock::now();
        ev = evaluate_eval_set();
        s.eval_seconds = std::chrono::duration<double>(Clock::now() - eval_start).count();
    }
    const bool eval_finite = !evaluated || std::isfinite(ev.loss);
    if (!eval_finite || !weights_are_finite(*model_)) {
        s.stop(StopReason::NonFiniteLoss,
               cat(eval_finite ? std::string("the weights are not finite")
                               : cat(s.eval_name, " loss is ", std::isnan(ev.loss) ? "NaN" : "infinite"),
                   " after epoch ", epoch + 1, " (lr ", optimizer_->lr(), "); ", stopped_message(), kDivergenceHint));
        return false;
    }
    const EpochRecord rec = epoch_record(s, epoch, evaluated, ev, train_seconds);
    bool improved = evaluated && (best_epoch_ == 0 || ev.accuracy > best_acc_);  // the first evaluation is the best so far
    if (improved) best_acc_ = ev.accuracy, best_epoch_ = epoch + 1;
    s.loss_meter.reset(), s.acc_meter.reset();
    s.result.history.push_back(rec);
    s.rows.push_back(rec.to_json());
    if (parallel_) parallel_->check_same_weights();
    if (writes_files()) save_epoch(s, epoch, improved);
    print_epoch_line(s, rec);
    s.result.epochs_done = epoch + 1;
    return true;
}

TrainResult Trainer::fit() {
    Session s;
    s.spe = steps_per_epoch();
    s.schedule = LrSchedule::cosine(opt_.lr, int64_t(opt_.warmup_epochs * double(s.spe)), s.spe * opt_.epochs, opt_.min_lr);
    s.eval_name = opt_.extra_config.value("eval_set", std::string("test"));
    if (writes_files()) prepare_run_dir();
    if (opt_.resume) resume(s);
    if (parallel_) parallel_->check_same_weights();  // same seed, same init (or the same checkpoint)
    s.tty = live_progress(opt_.progress);
    s.run_start = Clock::now();
    for (int64_t epoch = s.start_epoch; epoch < opt_.epochs; ++epoch)
        if (!run_epoch(s, epoch) || !finish_epoch(s, epoch)) break;
    if (s.profiled) return s.result;
    s.result.best_eval_acc = best_acc_;
    s.result.best_epoch = best_epoch_;
    s.result.seconds = std::chrono::duration<double>(Clock::now() - s.run_start).count();
    if (s.result.reason == StopReason::Finished)
        s.result.message = cat("finished ", opt_.epochs, " epochs in ", hms(s.result.seconds), ": best ", s.eval_name,
                               " accuracy ", 100 * best_acc_, "% at epoch ", best_epoch_);
    if (writes_files()) write_run_summary(s);
    return s.result;
}

}  // namespace attnlab::nn

// trainer.cpp — see trainer.h.
#include "nn/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/memory.h"
#include "core/util/profiler.h"
#include "core/util/rng.h"
#include "nn/optim/adam.h"
#include "nn/io/atomic_file.h"
#include "nn/io/checkpoint.h"
#include "nn/layers/dropout.h"
#include "nn/optim/grad_clip.h"
#include "nn/optim/lr_schedule.h"
#include "nn/train/metrics.h"
#include "nn/train/run_files.h"

namespace attnlab::nn {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;  // Trainer::TimePoint is its time_point
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

EvalResult evaluate(UnaryModule& model, const datasets::ImageDataset& dataset, const datasets::Normalization& norm,
                    int64_t batch_size) {
    check(dataset.size() > 0, "evaluate: empty dataset");
    bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    datasets::DataLoaderOptions o;
    o.batch_size = batch_size, o.shuffle = false, o.drop_last = false, o.augment = false, o.normalize = norm;
    datasets::DataLoader loader(dataset, o);
    loader.start_epoch(0);
    datasets::Batch batch;
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    auto t0 = Clock::now();
    while (loader.next(batch)) {
        Tensor logits = model.forward(batch.images);
        loss_sum += double(cross_entropy(logits, batch.labels, 0.f, Reduction::Sum).item());
        correct += count_topk_correct(logits, batch.labels, 1);
        seen += batch.size();
    }
    model.train(was_training);
    return {loss_sum / double(seen), double(correct) / double(seen), seen,
            std::chrono::duration<double>(Clock::now() - t0).count()};
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

// Data-parallel: each process evaluates its shard; the sums are combined.
EvalResult Trainer::evaluate_eval_set() {
    if (!parallel_) return evaluate(*model_, eval_set_, norm_, opt_.eval_batch_size);
    EvalResult r = evaluate(*model_, eval_shard_, norm_, opt_.eval_batch_size);
    std::vector<double> sums = {r.loss * double(r.images), r.accuracy * double(r.images), double(r.images)};
    parallel_->sum(sums);
    return {sums[0] / sums[2], sums[1] / sums[2], int64_t(sums[2]), r.seconds};
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

// Mixes a batch in place of its images; returns λ and the partner permutation.
struct Mix {
    float lambda = 1.f;
    Tensor partner_labels;
};

static Mix mix_batch(Tensor& images, const Tensor& labels, const TrainOptions& o, int64_t step) {
    Mix mix;
    bool mixup = o.mixup_alpha > 0, cutmix = o.cutmix_alpha > 0;
    if (!mixup && !cutmix) return mix;
    Generator g(o.seed * 0x9E3779B97F4A7C15ull + uint64_t(step) + 1);  // per-step stream: resume-exact
    if (g.uniform() >= o.mix_prob) return mix;
    const int64_t B = images.size(0), H = images.size(2), W = images.size(3);
    std::vector<int64_t> perm = g.permutation(B);
    Tensor partner_index = Tensor::from_indices(perm, {B});
    mix.partner_labels = index_select(labels.to(DType::Float32), 0, partner_index).to(DType::Int64);
    Tensor partner = index_select(images, 0, partner_index);
    bool use_cutmix = cutmix && (!mixup || g.uniform() < 0.5f);
    if (!use_cutmix) {
        mix.lambda = g.beta(float(o.mixup_alpha), float(o.mixup_alpha));
        images = images * mix.lambda + partner * (1.f - mix.lambda);
        return mix;
    }
    float lam = g.beta(float(o.cutmix_alpha), float(o.cutmix_alpha));
    int64_t cut_h = int64_t(float(H) * std::sqrt(1.f - lam)), cut_w = int64_t(float(W) * std::sqrt(1.f - lam));
    int64_t cy = g.randint(H), cx = g.randint(W);
    int64_t y0 = std::clamp<int64_t>(cy - cut_h / 2, 0, H), y1 = std::clamp<int64_t>(cy + cut_h / 2, 0, H);
    int64_t x0 = std::clamp<int64_t>(cx - cut_w / 2, 0, W), x1 = std::clamp<int64_t>(cx + cut_w / 2, 0, W);
    Tensor out = images.contiguous().clone();
    if (y1 > y0 && x1 > x0) copy_(out.narrow(2, y0, y1 - y0).narrow(3, x0, x1 - x0), partner.narrow(2, y0, y1 - y0).narrow(3, x0, x1 - x0));
    images = out;
    mix.lambda = 1.f - float((y1 - y0) * (x1 - x0)) / float(H * W);
    return mix;
}

Tensor Trainer::train_step(const datasets::Batch& batch, int64_t global_step, double& loss_out, int64_t& correct_out) {
    Tensor images = batch.images;
    Mix mix = mix_batch(images, batch.labels, opt_, global_step);
    Tensor logits = model_->forward(images);
    float ls = float(opt_.label_smoothing);
    Tensor loss = cross_entropy(logits, batch.labels, ls);
    if (mix.partner_labels.defined())
        loss = loss * mix.lambda + cross_entropy(logits, mix.partner_labels, ls) * (1.f - mix.lambda);
    loss_out = double(loss.item());
    if (!std::isfinite(loss_out)) return loss;
    {
        PROFILE_SCOPE("zero_grad");
        optimizer_->zero_grad();
    }
    loss.backward();
    PROFILE_SCOPE("optimizer (clip + AdamW)");
    if (opt_.grad_clip > 0) clip_grad_norm(*optimizer_, opt_.grad_clip);
    optimizer_->step();
    correct_out = count_topk_correct(logits.detach(), batch.labels, 1);
    return loss;
}

// The data-parallel step (data_parallel.h): the forward pass on this process's
// slice of the batch (dropout and drop-path masks drawn as for the whole batch),
// the global loss and accuracy summed over processes, the gradient averaged
// during backward, then the same clip and AdamW step on every process.
Tensor Trainer::parallel_train_step(const datasets::Batch& batch, double& loss_out, int64_t& correct_out) {
    const double share = double(batch.size()) / double(batch.global_size);
    set_batch_slice({batch.first, batch.global_size});
    Tensor logits = model_->forward(batch.images);
    set_batch_slice({});
    Tensor loss = cross_entropy(logits, batch.labels, float(opt_.label_smoothing));
    std::vector<double> totals = {share * double(loss.item()), double(count_topk_correct(logits.detach(), batch.labels, 1))};
    parallel_->sum(totals);
    loss_out = totals[0], correct_out = int64_t(totals[1]);
    if (!std::isfinite(loss_out)) return loss;  // every process sees the same sum, so all stop here
    {
        PROFILE_SCOPE("zero_grad");
        optimizer_->zero_grad();
    }
    parallel_->begin_backward(share);
    loss.backward();
    {
        PROFILE_SCOPE("allreduce (waiting for the last buckets)");
        parallel_->end_backward();
    }
    PROFILE_SCOPE("optimizer (clip + AdamW)");
    if (opt_.grad_clip > 0) clip_grad_norm(*optimizer_, opt_.grad_clip);
    optimizer_->step();
    return loss;
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

static const char* const kDivergenceHint = ". Try a lower --lr, a longer --warmup or --grad-clip 1.";

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

bool Trainer::stop_requested() {
    return any_process((stop_flag_ && stop_flag_->load()) ||
                       (stop_after_steps > 0 && optimizer_->step_count() >= stop_after_steps));
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

// metrics.jsonl rewritten, then "best" (when improved) and "last" saved.
void Trainer::save_epoch(const Session& s, int64_t epoch, bool improved) const {
    save_or_explain([&] {
        rewrite_metrics(opt_.run_dir, s.rows, s.eval_name);
        if (improved) save("best", epoch + 1, 0, {});  // best before last: a kill in between re-runs this epoch
        save("last", epoch + 1, 0, nlohmann::json::object());
    });
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

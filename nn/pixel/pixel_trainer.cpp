// pixel_trainer.cpp — see pixel_trainer.h.
#include "nn/pixel/pixel_trainer.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/ops/ops.h"
#include "core/util/rng.h"
#include "nn/optim/adam.h"
#include "nn/io/atomic_file.h"
#include "nn/pixel/bits_per_dim.h"
#include "nn/io/checkpoint.h"
#include "nn/optim/grad_clip.h"
#include "nn/optim/lr_schedule.h"
#include "nn/train/metrics.h"
#include "nn/train/run_files.h"
#include "nn/pixel/pixel_generation.h"  // process_cpu_seconds

namespace attnlab::nn {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// The images of optimizer step `step`: slice (step mod per_epoch) of epoch (step / per_epoch)'s
// permutation, drawn once per epoch.
struct BatchOrder {
    int64_t batch, dataset_size;
    uint64_t seed;
    int64_t epoch = -1;
    std::vector<int64_t> perm;

    std::vector<int64_t> indices(int64_t step) {
        const int64_t per_epoch = dataset_size / batch, e = step / per_epoch, k = step % per_epoch;
        if (e != epoch) perm = Generator(seed + 1000003ull * uint64_t(e + 1)).permutation(dataset_size), epoch = e;
        return std::vector<int64_t>(perm.begin() + k * batch, perm.begin() + (k + 1) * batch);
    }
};

static nlohmann::json options_json(const PixelTrainOptions& o) {
    return {{"steps", o.steps},           {"batch_size", o.batch_size},     {"lr", o.lr},
            {"min_lr", o.min_lr},         {"warmup_steps", o.warmup_steps}, {"weight_decay", o.weight_decay},
            {"grad_clip", o.grad_clip},   {"seed", o.seed},                 {"eval_images", o.eval_images}};
}

static void check_pixel_options(const PixelTransformerConfig& cfg, const datasets::ImageDataset& train_set,
                                const datasets::ImageDataset& test_set, const PixelTrainOptions& o) {
    for (const datasets::ImageDataset* set : {&train_set, &test_set})
        check(set->channels == cfg.channels && set->height == cfg.height && set->width == cfg.width,
              "train_pixel_transformer: images are ", set->channels, "x", set->height, "x", set->width,
              " (CxHxW) but the model expects ", cfg.channels, "x", cfg.height, "x", cfg.width);
    check(o.steps > 0, "train_pixel_transformer: steps must be > 0, got ", o.steps);
    check(o.batch_size > 0 && o.batch_size <= train_set.size(), "train_pixel_transformer: batch size ", o.batch_size,
          " must be in [1, ", train_set.size(), "] (the training set size)");
    check(o.lr > 0, "train_pixel_transformer: lr must be > 0, got ", o.lr);
    check(o.warmup_steps >= 0 && o.warmup_steps < o.steps, "train_pixel_transformer: warmup steps ", o.warmup_steps,
          " must be in [0, steps=", o.steps, ")");
    check(o.log_every > 0 && o.checkpoint_every > 0, "train_pixel_transformer: log_every and checkpoint_every must be > 0");
}

namespace {

// One training session: the optimizer, the log window and rows, the checkpoint, the timing.
struct PixelRun {
    PixelTransformer& model;
    const PixelTrainOptions& o;
    AdamW opt;
    LrSchedule schedule;
    std::string last;  // run_dir/last, or "" when nothing is saved
    nlohmann::json config;
    Meter window;  // nats/dim over the current log window
    int64_t window_images = 0;
    std::vector<nlohmann::json> rows;  // metrics.jsonl
    bool tty = false;
    int64_t start_step = 0;
    Clock::time_point t0, window_t0;

    PixelRun(PixelTransformer& m, const PixelTrainOptions& options)
        : model(m), o(options), opt(parameter_groups_for_adamw(m, options.weight_decay), adamw_options(options)),
          schedule(LrSchedule::cosine(options.lr, options.warmup_steps, options.steps, options.min_lr)),
          last(options.run_dir.empty() ? "" : (fs::path(options.run_dir) / "last").string()), config(m.config.to_json()) {
        config["extra"] = o.extra_config;
        config["extra"]["train_options"] = options_json(o);
    }

    static AdamWOptions adamw_options(const PixelTrainOptions& o) {
        AdamWOptions ao;
        ao.lr = o.lr, ao.weight_decay = o.weight_decay;
        return ao;
    }

    // The checkpoint at `step` (with the log window's partial sums) and the logged rows.
    void save(int64_t step) {
        if (o.run_dir.empty()) return;
        TrainState st;
        st.step = step;
        st.extra = {{"window_sum", window.sum}, {"window_count", window.count}};
        save_checkpoint(last, model, config, &opt, st);
        write_metric_rows(o.run_dir, rows);
    }

    // Continues from run_dir/last: the same model options, weights, optimizer, RNG, window, rows.
    void resume() {
        check(!o.run_dir.empty(), "resume: no run directory given");
        check(has_training_state(last), "resume: no checkpoint with training state in ", last, "; start without --resume");
        nlohmann::json saved = read_config(last);
        saved.erase("extra");
        check(saved == model.config.to_json(), "resume: the model options differ from the checkpoint's ",
              (fs::path(last) / kConfigFile).string(), ": ", saved.dump(), " vs ", model.config.to_json().dump());
        TrainState st = resume_training(last, model, opt);
        window.sum = st.extra.value("window_sum", 0.0), window.count = st.extra.value("window_count", int64_t(0));
        rows = read_metric_rows(o.run_dir, "step", st.step);
        std::printf("resumed from %s at step %ld\n", last.c_str(), long(st.step));
    }

    // One optimizer step on the images of `step`; the loss in nats/dim (not finite: no update).
    double train_step(int64_t step, BatchOrder& order, const datasets::ImageDataset& train_set) {
        opt.set_lr(schedule.lr_at(step));
        Tensor pixels = image_tokens(train_set, order.indices(step));
        Tensor loss = pixel_nll(model.forward(pixels), pixels);
        const double nats = double(loss.item());
        if (!std::isfinite(nats)) return nats;
        opt.zero_grad();
        loss.backward();
        if (o.grad_clip > 0) clip_grad_norm(opt, o.grad_clip);
        opt.step();
        window.add(nats, 1);
        window_images += o.batch_size;
        return nats;
    }

    // The live line after step `done`, and every log_every steps a metrics row and a printed line.
    void report(int64_t done, PixelTrainResult& result) {
        const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        const double ips = double((done - start_step) * o.batch_size) / std::max(elapsed, 1e-9);
        const double eta = double((o.steps - done) * o.batch_size) / std::max(ips, 1e-9);
        if (tty) {
            std::printf("\r  step %ld/%ld  train %.3f bits/dim  lr %.2e  %.1f img/s  ETA %s   ", long(done),
                        long(o.steps), nats_to_bits(window.mean()), opt.lr(), ips, hms(eta).c_str());
            std::fflush(stdout);
        }
        if (done % o.log_every != 0 && done != o.steps) return;
        const double wsec = std::chrono::duration<double>(Clock::now() - window_t0).count();
        nlohmann::json row = {{"step", done}, {"lr", opt.lr()}, {"train_bits_per_dim", nats_to_bits(window.mean())},
                              {"images_per_sec", double(window_images) / std::max(wsec, 1e-9)},
                              {"elapsed_seconds", elapsed}};
        rows.push_back(row);
        clear_progress_line(tty, 100);
        std::printf("step %6ld/%ld  train %.4f bits/dim  lr %.2e  %.1f img/s  elapsed %s  ETA %s\n", long(done),
                    long(o.steps), nats_to_bits(window.mean()), opt.lr(), row["images_per_sec"].get<double>(),
                    hms(elapsed).c_str(), hms(eta).c_str());
        std::fflush(stdout);
        result.train_bits_per_dim = nats_to_bits(window.mean());
        window.reset();
        window_images = 0;
        window_t0 = Clock::now();
    }
};

}  // namespace

// After the last step: test bits/dim on the first eval_images test images, the message and summary.json.
static void evaluate_and_summarize(PixelRun& run, const datasets::ImageDataset& test_set, double train_cpu_seconds,
                                   PixelTrainResult& result) {
    const PixelTrainOptions& o = run.o;
    BitsPerDimResult ev = evaluate_bits_per_dim(run.model, test_set, o.eval_batch, o.eval_images, [&](int64_t d, int64_t n) {
        if (run.tty) std::printf("\r  evaluating: %ld/%ld test images", long(d), long(n)), std::fflush(stdout);
    });
    clear_progress_line(run.tty, 60);
    result.test_bits_per_dim = ev.bits_per_dim;
    result.test_images = ev.images;
    result.message = cat("finished ", o.steps, " steps (", o.steps * o.batch_size, " images) in ", hms(result.train_seconds),
                         ": test ", ev.bits_per_dim, " bits/dim on ", ev.images, " images");
    if (o.run_dir.empty()) return;
    write_summary(o.run_dir, {{"model", run.model.describe()},
                              {"parameters", run.model.num_parameters()},
                              {"steps", o.steps},
                              {"images_seen", o.steps * o.batch_size},
                              {"train_bits_per_dim_last_window", result.train_bits_per_dim},
                              {"test_bits_per_dim", ev.bits_per_dim},
                              {"test_images", ev.images},
                              {"session_train_seconds", result.train_seconds},
                              {"session_images_per_sec", result.images_per_second},
                              {"session_train_cpu_seconds", train_cpu_seconds},
                              {"test_eval_seconds", ev.seconds},
                              {"extra", run.config["extra"]}});
}

PixelTrainResult train_pixel_transformer(PixelTransformer& model, const datasets::ImageDataset& train_set,
                                         const datasets::ImageDataset& test_set, const PixelTrainOptions& o,
                                         const std::atomic<bool>* stop_flag) {
    check_pixel_options(model.config, train_set, test_set, o);
    PixelRun run(model, o);
    if (!o.run_dir.empty()) prepare_run_directory(o.run_dir, o.resume, o.overwrite);
    if (o.resume) run.resume();

    PixelTrainResult result;
    run.tty = live_progress(o.progress);
    run.start_step = run.opt.step_count();
    run.t0 = run.window_t0 = Clock::now();
    const double cpu0 = process_cpu_seconds();
    BatchOrder order{o.batch_size, train_set.size(), o.seed, -1, {}};
    model.train();
    for (int64_t step = run.start_step; step < o.steps; ++step) {
        result.steps_done = step;
        if ((stop_flag && stop_flag->load()) || (o.stop_after_steps > 0 && step >= o.stop_after_steps)) {
            run.save(step);
            result.reason = StopReason::Interrupted;
            result.message = cat("interrupted at step ", step, "/", o.steps, saved_note(run.last, "continue with --resume"));
            if (run.tty) std::printf("\n");
            return result;
        }
        if (!std::isfinite(run.train_step(step, order, train_set))) {
            result.reason = StopReason::NonFiniteLoss;
            result.message = cat("loss is not finite at step ", step, " (lr ", run.opt.lr(), "); stopped without saving. ",
                                 "Try a lower --lr or --grad-clip 1.");
            if (run.tty) std::printf("\n");
            return result;
        }
        const int64_t done = step + 1;
        run.report(done, result);
        if (done % o.checkpoint_every == 0 || done == o.steps) run.save(done);
    }
    result.steps_done = o.steps;
    result.train_seconds = std::chrono::duration<double>(Clock::now() - run.t0).count();
    const double train_cpu_seconds = process_cpu_seconds() - cpu0;
    result.images_per_second = double((o.steps - run.start_step) * o.batch_size) / std::max(result.train_seconds, 1e-9);
    evaluate_and_summarize(run, test_set, train_cpu_seconds, result);
    return result;
}

std::string pixel_checkpoint_dir(const std::string& path) {
    for (const fs::path& p : {fs::path(path), fs::path(path) / "last"})
        if (fs::exists(p / kConfigFile) || fs::exists(fs::path(p.string() + ".old") / kConfigFile)) return p.string();
    throw Error(cat("no pixel transformer checkpoint at '", path, "': expected ", kConfigFile, " there or in ",
                    (fs::path(path) / "last").string(), " (made by pixel_generate train --out DIR)"));
}

std::shared_ptr<PixelTransformer> load_pixel_transformer(const std::string& path) {
    const std::string dir = pixel_checkpoint_dir(path);
    nlohmann::json j = read_config(dir);
    PixelTransformerConfig cfg;
    try {
        cfg = PixelTransformerConfig::from_json(j);
    } catch (const Error& e) {
        throw Error(cat("load_pixel_transformer '", dir, "': ", e.what()));
    }
    auto model = std::make_shared<PixelTransformer>(cfg);
    load_model_weights(dir, *model);
    model->eval();
    return model;
}

}  // namespace attnlab::nn

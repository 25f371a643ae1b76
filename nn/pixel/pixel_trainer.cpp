// pixel_trainer.cpp — see pixel_trainer.h.
#include "nn/pixel/pixel_trainer.h"

#include <unistd.h>

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
#include "nn/pixel/pixel_generation.h"  // process_cpu_seconds

namespace attnlab::nn {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

static std::string hms(double seconds) {
    int64_t s = int64_t(seconds + 0.5);
    char buf[32];
    if (s >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", long(s / 3600), long(s / 60 % 60), long(s % 60));
    else std::snprintf(buf, sizeof buf, "%ld:%02ld", long(s / 60), long(s % 60));
    return buf;
}

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

PixelTrainResult train_pixel_transformer(PixelTransformer& model, const data::ImageDataset& train_set,
                                         const data::ImageDataset& test_set, const PixelTrainOptions& o,
                                         const std::atomic<bool>* stop_flag) {
    const PixelTransformerConfig& cfg = model.config;
    for (const data::ImageDataset* set : {&train_set, &test_set})
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

    AdamWOptions ao;
    ao.lr = o.lr, ao.weight_decay = o.weight_decay;
    AdamW opt(parameter_groups_for_adamw(model, o.weight_decay), ao);
    const LrSchedule schedule = LrSchedule::cosine(o.lr, o.warmup_steps, o.steps, o.min_lr);
    const fs::path run = o.run_dir;
    const std::string last = o.run_dir.empty() ? "" : (run / "last").string();
    nlohmann::json config = cfg.to_json();
    config["extra"] = o.extra_config;
    config["extra"]["train_options"] = options_json(o);
    Meter window;  // nats/dim over the current log window
    std::vector<nlohmann::json> rows;
    auto save = [&](int64_t step) {
        if (o.run_dir.empty()) return;
        TrainState st;
        st.step = step;
        st.extra = {{"window_sum", window.sum}, {"window_count", window.count}};
        save_checkpoint(last, model, config, &opt, st);
    };
    auto write_rows = [&] {
        if (o.run_dir.empty()) return;
        std::ofstream jl(run / "metrics.jsonl");
        for (const nlohmann::json& r : rows) jl << r.dump() << "\n";
    };

    if (!o.run_dir.empty()) prepare_run_directory(o.run_dir, o.resume, o.overwrite);
    if (o.resume) {
        check(!o.run_dir.empty(), "resume: no run directory given");
        check(has_training_state(last), "resume: no checkpoint with training state in ", last, "; start without --resume");
        nlohmann::json saved = read_config(last);
        saved.erase("extra");
        check(saved == cfg.to_json(), "resume: the model options differ from the checkpoint's ",
              (fs::path(last) / kConfigFile).string(), ": ", saved.dump(), " vs ", cfg.to_json().dump());
        load_model_weights(last, model);
        TrainState st = load_training_state(last, opt, true, &model);
        window.sum = st.extra.value("window_sum", 0.0), window.count = st.extra.value("window_count", int64_t(0));
        std::ifstream jl(run / "metrics.jsonl");
        for (std::string line; std::getline(jl, line);) {
            nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
            if (!r.is_discarded() && r.value("step", int64_t(0)) <= st.step) rows.push_back(r);
        }
        std::printf("resumed from %s at step %ld\n", last.c_str(), long(st.step));
    }

    PixelTrainResult result;
    const bool tty = o.progress && isatty(fileno(stdout));
    const int64_t start_step = opt.step_count();
    auto t0 = Clock::now(), window_t0 = t0;
    const double cpu0 = process_cpu_seconds();
    int64_t window_images = 0;
    BatchOrder order{o.batch_size, train_set.size(), o.seed, -1, {}};
    model.train();
    for (int64_t step = start_step; step < o.steps; ++step) {
        if ((stop_flag && stop_flag->load()) || (o.stop_after_steps > 0 && step >= o.stop_after_steps)) {
            save(step);
            write_rows();
            result.reason = StopReason::Interrupted;
            result.steps_done = step;
            result.message = cat("interrupted at step ", step, "/", o.steps,
                                 o.run_dir.empty() ? "" : "; checkpoint saved to " + last + " (continue with --resume)");
            if (tty) std::printf("\n");
            return result;
        }
        opt.set_lr(schedule.lr_at(step));
        Tensor pixels = image_tokens(train_set, order.indices(step));
        Tensor loss = pixel_nll(model.forward(pixels), pixels);
        const double nats = double(loss.item());
        if (!std::isfinite(nats)) {
            result.reason = StopReason::NonFiniteLoss;
            result.steps_done = step;
            result.message = cat("loss is not finite at step ", step, " (lr ", opt.lr(), "); stopped without saving. ",
                                 "Try a lower --lr or --grad-clip 1.");
            if (tty) std::printf("\n");
            return result;
        }
        opt.zero_grad();
        loss.backward();
        if (o.grad_clip > 0) clip_grad_norm(opt, o.grad_clip);
        opt.step();
        window.add(nats, 1);
        window_images += o.batch_size;
        const int64_t done = step + 1;
        const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
        const double ips = double((done - start_step) * o.batch_size) / std::max(elapsed, 1e-9);
        const double eta = double((o.steps - done) * o.batch_size) / std::max(ips, 1e-9);
        if (tty) {
            std::printf("\r  step %ld/%ld  train %.3f bits/dim  lr %.2e  %.1f img/s  ETA %s   ", long(done),
                        long(o.steps), nats_to_bits(window.mean()), opt.lr(), ips, hms(eta).c_str());
            std::fflush(stdout);
        }
        if (done % o.log_every == 0 || done == o.steps) {
            const double wsec = std::chrono::duration<double>(Clock::now() - window_t0).count();
            nlohmann::json row = {{"step", done}, {"lr", opt.lr()}, {"train_bits_per_dim", nats_to_bits(window.mean())},
                                  {"images_per_sec", double(window_images) / std::max(wsec, 1e-9)},
                                  {"elapsed_seconds", elapsed}};
            rows.push_back(row);
            if (tty) std::printf("\r%*s\r", 100, "");
            std::printf("step %6ld/%ld  train %.4f bits/dim  lr %.2e  %.1f img/s  elapsed %s  ETA %s\n", long(done),
                        long(o.steps), nats_to_bits(window.mean()), opt.lr(), row["images_per_sec"].get<double>(),
                        hms(elapsed).c_str(), hms(eta).c_str());
            std::fflush(stdout);
            result.train_bits_per_dim = nats_to_bits(window.mean());
            window.reset();
            window_images = 0;
            window_t0 = Clock::now();
        }
        if (done % o.checkpoint_every == 0 || done == o.steps) {
            save(done);
            write_rows();
        }
    }
    result.steps_done = o.steps;
    result.train_seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    const double train_cpu_seconds = process_cpu_seconds() - cpu0;
    result.images_per_second = double((o.steps - start_step) * o.batch_size) / std::max(result.train_seconds, 1e-9);

    BitsPerDimResult ev = evaluate_bits_per_dim(model, test_set, o.eval_batch, o.eval_images, [&](int64_t d, int64_t n) {
        if (tty) std::printf("\r  evaluating: %ld/%ld test images", long(d), long(n)), std::fflush(stdout);
    });
    if (tty) std::printf("\r%*s\r", 60, "");
    result.test_bits_per_dim = ev.bits_per_dim;
    result.test_images = ev.images;
    result.message = cat("finished ", o.steps, " steps (", o.steps * o.batch_size, " images) in ", hms(result.train_seconds),
                         ": test ", ev.bits_per_dim, " bits/dim on ", ev.images, " images");
    if (!o.run_dir.empty()) {
        nlohmann::json summary = {{"model", model.describe()},
                                  {"parameters", model.num_parameters()},
                                  {"steps", o.steps},
                                  {"images_seen", o.steps * o.batch_size},
                                  {"train_bits_per_dim_last_window", result.train_bits_per_dim},
                                  {"test_bits_per_dim", ev.bits_per_dim},
                                  {"test_images", ev.images},
                                  {"session_train_seconds", result.train_seconds},
                                  {"session_images_per_sec", result.images_per_second},
                                  {"session_train_cpu_seconds", train_cpu_seconds},
                                  {"test_eval_seconds", ev.seconds},
                                  {"extra", config["extra"]}};
        write_file_atomic((run / "summary.json").string(), summary.dump(2) + "\n");
    }
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

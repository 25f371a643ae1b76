// pixel_generate — autoregressive image generation with causal transformers:
// "Transformers are RNNs" (Katharopoulos et al., 2020) measured on this machine.
//
//   pixel_generate train  --dataset fashion-mnist --attention linear_elu --steps 2000 --out runs/pixel-fmnist-linear
//   pixel_generate eval   --checkpoint runs/pixel-fmnist-linear --eval-images 10000
//   pixel_generate sample --checkpoint runs/pixel-fmnist-linear --num 64 --out samples.png --complete 16
//   pixel_generate bench  --checkpoint runs/pixel-fmnist-softmax --checkpoint runs/pixel-fmnist-linear
//
// Argument parsing and wiring only: the model is nn/pixel/pixel_transformer.h, training
// nn/pixel/pixel_trainer.h, generation and its three paths nn/pixel/pixel_generation.h.
#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "attention/registry.h"
#include "core/core.h"
#include "datasets/formats/image_io.h"
#include "nn/pixel/bits_per_dim.h"
#include "nn/io/checkpoint.h"
#include "datasets/pixel_datasets.h"
#include "nn/pixel/pixel_generation.h"
#include "nn/pixel/pixel_trainer.h"

using namespace attnlab;
namespace fs = std::filesystem;

static std::atomic<bool> g_stop{false};

static void on_signal(int) {
    if (g_stop.exchange(true)) _exit(130);  // a second Ctrl-C quits at once
    const char msg[] = "\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n";
    [[maybe_unused]] ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
}

// A live "what / done of total / rate / ETA" line on a terminal; nothing otherwise.
struct Progress {
    std::string what;
    bool tty = isatty(fileno(stdout));
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now(), last = t0;
    void operator()(int64_t done, int64_t total) {
        if (!tty) return;
        auto now = std::chrono::steady_clock::now();
        if (done < total && std::chrono::duration<double>(now - last).count() < 0.25) return;
        last = now;
        double el = std::chrono::duration<double>(now - t0).count();
        double eta = done > 0 ? el * double(total - done) / double(done) : 0;
        std::printf("\r  %s %5.1f%%  %.0f s elapsed, ETA %.0f s   ", what.c_str(), 100.0 * double(done) / double(total),
                    el, eta);
        if (done == total) std::printf("\r%*s\r", 80, "");
        std::fflush(stdout);
    }
};

// The dataset a checkpoint was trained on (config.json "extra"), unless overridden.
static void dataset_from_checkpoint(const std::string& checkpoint, std::string& dataset, std::string& data_dir) {
    nlohmann::json extra = nn::read_config(nn::pixel_checkpoint_dir(checkpoint)).value("extra", nlohmann::json::object());
    if (dataset.empty()) dataset = extra.value("dataset", std::string("fashion-mnist"));
    if (data_dir.empty()) data_dir = extra.value("data", std::string());
}

// test bits/dim from DIR/summary.json when the checkpoint is a run directory; NaN otherwise.
static double summary_bits_per_dim(const std::string& checkpoint, int64_t& images) {
    std::ifstream in(fs::path(checkpoint) / "summary.json");
    nlohmann::json s = nlohmann::json::parse(in, nullptr, false);
    if (s.is_discarded() || !s.contains("test_bits_per_dim")) return std::nan("");
    images = s.value("test_images", int64_t(0));
    return s["test_bits_per_dim"].get<double>();
}

// ---- train ----------------------------------------------------------------

struct TrainArgs {
    nn::PixelTransformerConfig model;
    nn::PixelTrainOptions topt;
    std::string dataset = "fashion-mnist", data_dir, out_dir;
    std::vector<std::string> attention_opts;
    int64_t train_subset = 0;
    bool no_progress = false;
};

static CLI::App* add_train_command(CLI::App& app, TrainArgs& a) {
    CLI::App* train = app.add_subcommand("train", "train a pixel transformer; reports test bits/dim, saves a checkpoint");
    train->option_defaults()->always_capture_default();
    nn::PixelTransformerConfig& model = a.model;
    nn::PixelTrainOptions& topt = a.topt;
    train->add_option("--dataset", a.dataset, "fashion-mnist (Debian package), mnist (needs --data), cifar10")
        ->check(CLI::IsMember(datasets::pixel_dataset_names()))->group("Data");
    train->add_option("--data", a.data_dir, "dataset directory (default: the package's / $CIFAR10_DIR)")->group("Data");
    train->add_option("--train-subset", a.train_subset, "train on the first N training images only")
        ->check(CLI::Range(int64_t(0), int64_t(1) << 40))->group("Data");
    train->add_option("--attention", model.attention, "causal attention variant: softmax, linear_elu, ...")->group("Model");
    train->add_option("--attention-opt", a.attention_opts, "variant option name=value (repeatable)")->group("Model");
    train->add_option("--dim", model.dim, "model dim C")->check(CLI::Range(4, 4096))->group("Model");
    train->add_option("--depth", model.depth, "transformer blocks")->check(CLI::Range(1, 64))->group("Model");
    train->add_option("--heads", model.heads, "attention heads (must divide dim)")->check(CLI::Range(1, 64))->group("Model");
    train->add_option("--mlp-ratio", model.mlp_ratio, "MLP hidden = ratio × dim")->check(CLI::Range(0.25, 16.0))->group("Model");
    train->add_option("--dropout", model.dropout, "dropout after attention/MLP")->check(CLI::Range(0.0, 0.9))->group("Model");
    train->add_option("--steps", topt.steps, "optimizer steps (the budget: steps × batch images)")
        ->check(CLI::Range(int64_t(1), int64_t(100000000)))->group("Training");
    train->add_option("--batch", topt.batch_size, "images per step")->check(CLI::Range(int64_t(1), int64_t(4096)))->group("Training");
    train->add_option("--lr", topt.lr, "peak learning rate (AdamW)")->check(CLI::Range(1e-7, 10.0))->group("Training");
    train->add_option("--min-lr", topt.min_lr, "final learning rate of the cosine decay")->check(CLI::Range(0.0, 10.0))->group("Training");
    train->add_option("--warmup", topt.warmup_steps, "linear warmup steps (default capped at steps/10)")->check(CLI::Range(int64_t(0), int64_t(100000000)))->group("Training");
    train->add_option("--weight-decay", topt.weight_decay, "AdamW decoupled weight decay")->check(CLI::Range(0.0, 10.0))->group("Training");
    train->add_option("--grad-clip", topt.grad_clip, "max gradient norm (0 = off)")->check(CLI::Range(0.0, 1e6))->group("Training");
    train->add_option("--seed", topt.seed, "seed of init and image order")->group("Training");
    train->add_option("--eval-images", topt.eval_images, "test images for bits/dim after training (0 = all)")
        ->check(CLI::Range(int64_t(0), int64_t(1) << 40))->group("Training");
    train->add_option("--eval-batch", topt.eval_batch, "batch for evaluation")->check(CLI::Range(int64_t(1), int64_t(4096)))->group("Training");
    train->add_option("--out", a.out_dir, "run directory: last/ checkpoint, metrics.jsonl, summary.json "
                                          "(default: runs/pixel-<dataset>-<attention>)")->group("Run");
    train->add_flag("--resume", topt.resume, "continue from <out>/last")->group("Run");
    train->add_flag("--overwrite", topt.overwrite, "start again from scratch in an <out> that holds a run (deletes its checkpoint and logs)")->group("Run");
    train->add_option("--log-every", topt.log_every, "steps per printed line / metrics row")->check(CLI::Range(int64_t(1), int64_t(1000000)))->group("Run");
    train->add_option("--checkpoint-every", topt.checkpoint_every, "steps between checkpoints")->check(CLI::Range(int64_t(1), int64_t(100000000)))->group("Run");
    train->add_flag("--no-progress", a.no_progress, "no live progress line")->group("Run");
    train->add_option("--stop-after-steps", topt.stop_after_steps, "behave as if Ctrl-C came after N steps (for tests)")->group("");
    return train;
}

// Exit codes: 0 finished, 130 interrupted (resumable), 3 non-finite loss.
static int run_train(const CLI::App& train, TrainArgs& a) {
    nn::PixelTransformerConfig& model = a.model;
    nn::PixelTrainOptions& topt = a.topt;
    model.attention_options = attention::Options::parse(a.attention_opts, attention::attention_info(model.attention).options,
                                                        model.attention);
    datasets::ImageDataset train_set = datasets::load_pixel_dataset(a.dataset, a.data_dir, datasets::Split::Train);
    datasets::ImageDataset test_set = datasets::load_pixel_dataset(a.dataset, a.data_dir, datasets::Split::Test);
    if (a.train_subset > 0 && a.train_subset < train_set.size()) train_set = train_set.subset(0, a.train_subset);
    model.channels = train_set.channels, model.height = train_set.height, model.width = train_set.width;
    model.validate();
    if (a.out_dir.empty()) a.out_dir = "runs/pixel-" + a.dataset + "-" + model.attention;
    topt.run_dir = a.out_dir;
    topt.progress = !a.no_progress;
    if (train.count("--warmup") == 0) topt.warmup_steps = std::min(topt.warmup_steps, topt.steps / 10);
    topt.extra_config = {{"dataset", a.dataset}, {"data", datasets::resolve_pixel_dataset_dir(a.dataset, a.data_dir)},
                         {"train_images", train_set.size()},
                         {"token_order", "raster order, channels of a pixel interleaved (r,g,b,r,g,b,...)"}};
    manual_seed(topt.seed);  // parameter init
    nn::PixelTransformer net(model);
    std::printf("%s\n%ld parameters | %s: train %ld images, test %ld | threads %d, OpenBLAS %s\n", net.describe().c_str(),
                long(net.num_parameters()), a.dataset.c_str(), long(train_set.size()), long(test_set.size()),
                num_threads(), blas_info().c_str());
    std::printf("%ld steps x batch %ld = %ld images, AdamW lr %g (warmup %ld, cosine to %g), wd %g, clip %g, seed %lu\n",
                long(topt.steps), long(topt.batch_size), long(topt.steps * topt.batch_size), topt.lr,
                long(topt.warmup_steps), topt.min_lr, topt.weight_decay, topt.grad_clip, (unsigned long)topt.seed);
    std::fflush(stdout);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    nn::PixelTrainResult r = nn::train_pixel_transformer(net, train_set, test_set, topt, &g_stop);
    std::printf("%s\n", r.message.c_str());
    if (r.reason == nn::StopReason::NonFiniteLoss) return 3;
    if (r.reason == nn::StopReason::Interrupted) return 130;
    std::printf("checkpoint: %s/last; metrics: %s/metrics.jsonl, %s/summary.json\n", a.out_dir.c_str(), a.out_dir.c_str(),
                a.out_dir.c_str());
    return 0;
}

// ---- eval -----------------------------------------------------------------

struct EvalArgs {
    std::string checkpoint, dataset = "fashion-mnist", data_dir;
    int64_t eval_images = 0, eval_batch = 16;
};

static CLI::App* add_eval_command(CLI::App& app, EvalArgs& a) {
    CLI::App* eval = app.add_subcommand("eval", "bits/dim of a checkpoint on the test set");
    eval->option_defaults()->always_capture_default();
    eval->add_option("--checkpoint", a.checkpoint, "run directory or checkpoint directory")->required();
    eval->add_option("--dataset", a.dataset, "override the checkpoint's dataset")->check(CLI::IsMember(datasets::pixel_dataset_names()));
    eval->add_option("--data", a.data_dir, "dataset directory");
    eval->add_option("--eval-images", a.eval_images, "first N test images (0 = all)")->check(CLI::Range(int64_t(0), int64_t(1) << 40));
    eval->add_option("--batch", a.eval_batch, "batch size")->check(CLI::Range(int64_t(1), int64_t(4096)));
    return eval;
}

static int run_eval(const CLI::App& eval, EvalArgs& a) {
    auto net = nn::load_pixel_transformer(a.checkpoint);
    if (eval.count("--dataset") == 0) a.dataset.clear();
    dataset_from_checkpoint(a.checkpoint, a.dataset, a.data_dir);
    datasets::ImageDataset test_set = datasets::load_pixel_dataset(a.dataset, a.data_dir, datasets::Split::Test);
    Progress progress{"evaluating"};
    nn::BitsPerDimResult r = nn::evaluate_bits_per_dim(*net, test_set, a.eval_batch, a.eval_images, std::ref(progress));
    std::printf("%s\n%s test: %.4f bits/dim on %ld images (%.1f s)\n", net->describe().c_str(), a.dataset.c_str(),
                r.bits_per_dim, long(r.images), r.seconds);
    return 0;
}

// ---- sample ---------------------------------------------------------------

struct SampleArgs {
    std::string checkpoint, dataset = "fashion-mnist", data_dir;
    int64_t num = 16, complete = 0, batch = 16, columns = 8;
    std::string path_name, out_png = "samples.png", completions_png = "completions.png";
    float temperature = 1.f;
    uint64_t seed = 0;
};

static CLI::App* add_sample_command(CLI::App& app, SampleArgs& a) {
    CLI::App* sample = app.add_subcommand("sample", "sample images (and complete the top half of test images) into PNG grids");
    sample->option_defaults()->always_capture_default();
    sample->add_option("--checkpoint", a.checkpoint, "run directory or checkpoint directory")->required();
    sample->add_option("--num", a.num, "unconditional samples (0 = none)")->check(CLI::Range(int64_t(0), int64_t(100000)));
    sample->add_option("--complete", a.complete, "also complete the bottom half of the first N test images (0 = none)")
        ->check(CLI::Range(int64_t(0), int64_t(100000)));
    sample->add_option("--path", a.path_name, "recurrent, kv-cache or uncached (default: the model's one-token step)")
        ->check(CLI::IsMember({"recurrent", "kv-cache", "uncached"}));
    sample->add_option("--temperature", a.temperature, "softmax temperature of sampling")->check(CLI::Range(0.01f, 10.f));
    sample->add_option("--seed", a.seed, "sampling seed");
    sample->add_option("--batch", a.batch, "images generated together")->check(CLI::Range(int64_t(1), int64_t(4096)));
    sample->add_option("--columns", a.columns, "images per row of the grid")->check(CLI::Range(int64_t(1), int64_t(1000)));
    sample->add_option("--out", a.out_png, "PNG grid of the samples");
    sample->add_option("--completions-out", a.completions_png, "PNG grid: rows of (original, half, completion)");
    sample->add_option("--dataset", a.dataset, "override the checkpoint's dataset (for --complete)")->check(CLI::IsMember(datasets::pixel_dataset_names()));
    sample->add_option("--data", a.data_dir, "dataset directory (for --complete)");
    return sample;
}

// --num unconditional samples, `batch` at a time, into one PNG grid.
static void sample_images(nn::PixelTransformer& net, nn::GenerateOptions o, const SampleArgs& a) {
    const nn::PixelTransformerConfig& c = net.config;
    std::vector<Tensor> parts;
    auto t0 = std::chrono::steady_clock::now();
    for (int64_t done = 0; done < a.num; done += a.batch) {
        int64_t n = std::min(a.batch, a.num - done);
        Progress progress{cat("sampling images ", done + 1, "-", done + n, " of ", a.num)};
        o.seed = a.seed + uint64_t(done);
        o.on_token = std::ref(progress);
        parts.push_back(nn::generate(net, n, o));
    }
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Tensor tokens = concat(parts, 0);
    datasets::write_png_grid(a.out_png, nn::tokens_to_images(tokens, c.channels, c.height, c.width), a.columns);
    std::printf("%ld samples -> %s (%.1f s, %.2f images/s)\n", long(a.num), a.out_png.c_str(), secs, double(a.num) / secs);
}

// The bottom half of the first --complete test images, given the top half; a grid of
// rows (original, top half given, completion).
static void complete_images(nn::PixelTransformer& net, nn::GenerateOptions o, const datasets::ImageDataset& test_set,
                            const SampleArgs& a) {
    const nn::PixelTransformerConfig& c = net.config;
    check(a.complete <= test_set.size(), "--complete ", a.complete, ": the test set has only ", test_set.size(), " images");
    const int64_t half = (c.height / 2) * c.width * c.channels;  // the top rows are the first tokens
    std::vector<Tensor> rows;
    for (int64_t done = 0; done < a.complete; done += a.batch) {
        int64_t n = std::min(a.batch, a.complete - done);
        Tensor originals = nn::image_tokens(test_set, done, n);
        Progress progress{cat("completing images ", done + 1, "-", done + n, " of ", a.complete)};
        o.seed = a.seed + 7919 + uint64_t(done);
        o.on_token = std::ref(progress);
        Tensor completed = nn::generate(net, n, o, originals.narrow(1, 0, half).contiguous());
        Tensor masked = originals.clone();  // the bottom half grey: what the model was given
        for (int64_t i = 0; i < n; ++i)
            std::fill_n(masked.data_as<int64_t>() + i * c.seq_len() + half, c.seq_len() - half, 128);
        for (int64_t i = 0; i < n; ++i)
            for (const Tensor* t : {&originals, &masked, &completed}) rows.push_back(t->narrow(0, i, 1));
    }
    Tensor grid = nn::tokens_to_images(concat(rows, 0), c.channels, c.height, c.width);
    datasets::write_png_grid(a.completions_png, grid, 3 * std::max<int64_t>(1, a.columns / 3));
    std::printf("%ld completions -> %s (each: original, top half given, completion)\n", long(a.complete),
                a.completions_png.c_str());
}

static int run_sample(const CLI::App& sample, SampleArgs& a) {
    auto net = nn::load_pixel_transformer(a.checkpoint);
    nn::GenerateOptions o;
    o.path = a.path_name.empty() ? nn::supported_paths(*net).front() : nn::parse_generation_path(a.path_name);
    nn::check_path_supported(*net, o.path);
    o.temperature = a.temperature;
    std::printf("%s, path %s, temperature %g, seed %lu\n", net->describe().c_str(), nn::generation_path_name(o.path),
                double(a.temperature), (unsigned long)a.seed);
    if (a.num > 0) sample_images(*net, o, a);
    if (a.complete > 0) {
        if (sample.count("--dataset") == 0) a.dataset.clear();
        dataset_from_checkpoint(a.checkpoint, a.dataset, a.data_dir);
        complete_images(*net, o, datasets::load_pixel_dataset(a.dataset, a.data_dir, datasets::Split::Test), a);
    }
    return 0;
}

// ---- bench ----------------------------------------------------------------

struct BenchArgs {
    std::vector<std::string> checkpoints, paths;
    int64_t images = 16, uncached_images = 4, batch = 16;
    uint64_t seed = 0;
    std::string json_out;
};

static CLI::App* add_bench_command(CLI::App& app, BenchArgs& a) {
    CLI::App* bench = app.add_subcommand("bench", "images/second of generation along each path the checkpoints support");
    bench->option_defaults()->always_capture_default();
    bench->add_option("--checkpoint", a.checkpoints, "run or checkpoint directory (repeatable)")->required();
    bench->add_option("--paths", a.paths, "paths to time, PATH or ATTENTION:PATH, e.g. softmax:uncached (default: all each "
                                          "model supports)");
    bench->add_option("--images", a.images, "images per step path (recurrent, kv-cache)")->check(CLI::Range(int64_t(1), int64_t(100000)));
    bench->add_option("--uncached-images", a.uncached_images, "images for the uncached path (slow: O(N³) per image)")
        ->check(CLI::Range(int64_t(1), int64_t(100000)));
    bench->add_option("--batch", a.batch, "images generated together")->check(CLI::Range(int64_t(1), int64_t(4096)));
    bench->add_option("--seed", a.seed, "sampling seed");
    bench->add_option("--json", a.json_out, "also write the measurements to this JSON file");
    return bench;
}

// The paths of `net` that --paths asks for (PATH or ATTENTION:PATH; none given: all it supports).
static std::vector<nn::GenerationPath> wanted_paths(const nn::PixelTransformer& net, const std::vector<std::string>& paths) {
    std::vector<nn::GenerationPath> todo;
    for (nn::GenerationPath p : nn::supported_paths(net)) {
        bool wanted = paths.empty();
        const std::string path = nn::generation_path_name(p);
        for (const std::string& name : paths) wanted |= name == path || name == net.config.attention + ":" + path;
        if (wanted) todo.push_back(p);
    }
    return todo;
}

// Times each wanted path of checkpoint `ck`: a table line and a JSON row per path.
static void bench_checkpoint(const std::string& ck, const BenchArgs& a, nlohmann::json& rows) {
    auto net = nn::load_pixel_transformer(ck);
    int64_t bpd_images = 0;
    double bpd = summary_bits_per_dim(ck, bpd_images);
    for (nn::GenerationPath p : wanted_paths(*net, a.paths)) {
        int64_t n = p == nn::GenerationPath::Uncached ? a.uncached_images : a.images;
        Progress progress{cat(net->config.attention, " ", nn::generation_path_name(p))};
        nn::GenerationTiming t = nn::time_generation(*net, p, n, a.batch, a.seed, std::ref(progress));
        std::printf("| %s (%s) | %ld | %s | %s | %ld | %.2f | %.4g | %.2f | %.4g |\n", net->config.attention.c_str(),
                    ck.c_str(), long(t.tokens_per_image), std::isnan(bpd) ? "-" : cat(bpd).c_str(),
                    nn::generation_path_name(p), long(t.images), t.seconds, t.images_per_second(), t.cpu_seconds,
                    t.images_per_cpu_second());
        std::fflush(stdout);
        rows.push_back({{"checkpoint", ck}, {"attention", net->config.attention},
                        {"tokens", t.tokens_per_image}, {"path", nn::generation_path_name(p)},
                        {"images", t.images}, {"batch", std::min(a.batch, n)}, {"seconds", t.seconds},
                        {"images_per_second", t.images_per_second()}, {"cpu_seconds", t.cpu_seconds},
                        {"images_per_cpu_second", t.images_per_cpu_second()},
                        {"test_bits_per_dim", std::isnan(bpd) ? nlohmann::json() : nlohmann::json(bpd)},
                        {"test_images", bpd_images}});
    }
}

// Speedups of each fastest (one-token step) path over every other measured path.
static void print_speedups(const nlohmann::json& rows) {
    for (const auto& a : rows)
        for (const auto& b : rows)
            if (a["path"] == "recurrent" && b["path"] != "recurrent")
                std::printf("speedup of %s recurrent over %s %s: %.1fx (wall clock), %.1fx (CPU time)\n",
                            a["attention"].get<std::string>().c_str(), b["attention"].get<std::string>().c_str(),
                            b["path"].get<std::string>().c_str(),
                            a["images_per_second"].get<double>() / b["images_per_second"].get<double>(),
                            a["images_per_cpu_second"].get<double>() / b["images_per_cpu_second"].get<double>());
}

static int run_bench(const BenchArgs& a) {
    for (const std::string& p : a.paths)  // PATH or ATTENTION:PATH
        nn::parse_generation_path(p.substr(p.find(':') == std::string::npos ? 0 : p.find(':') + 1));
    const std::string blas = blas_info();
    nlohmann::json rows = nlohmann::json::array();
    std::printf("threads %d, OpenBLAS %s, batch %ld\n", num_threads(), blas.c_str(), long(a.batch));
    std::printf("| model | tokens | test bits/dim | path | images | seconds | images/s | CPU seconds | images/CPU-s |\n"
                "|---|---|---|---|---|---|---|---|---|\n");
    std::fflush(stdout);
    for (const std::string& ck : a.checkpoints) bench_checkpoint(ck, a, rows);
    print_speedups(rows);
    if (!a.json_out.empty()) {
        std::ofstream(a.json_out) << nlohmann::json{{"threads", num_threads()}, {"blas", blas}, {"rows", rows}}.dump(2) << "\n";
        std::printf("measurements -> %s\n", a.json_out.c_str());
    }
    return 0;
}

int main(int argc, char** argv) {
    CLI::App app{"pixel_generate: autoregressive pixel transformers — train, evaluate bits/dim, sample PNG grids, "
                 "benchmark generation (softmax with/without KV cache vs recurrent linear attention)"};
    app.require_subcommand(1);
    app.fallthrough();  // --threads may come after the subcommand
    int threads = 0;
    app.add_option("--threads", threads, "threads (0 = all cores)")->check(CLI::Range(0, 256));
    TrainArgs train_args;
    EvalArgs eval_args;
    SampleArgs sample_args;
    BenchArgs bench_args;
    CLI::App* train = add_train_command(app, train_args);
    CLI::App* eval = add_eval_command(app, eval_args);
    CLI::App* sample = add_sample_command(app, sample_args);
    CLI::App* bench = add_bench_command(app, bench_args);
    CLI11_PARSE(app, argc, argv);
    try {
        if (threads > 0) set_num_threads(threads);
        if (train->parsed()) return run_train(*train, train_args);
        if (eval->parsed()) return run_eval(*eval, eval_args);
        if (sample->parsed()) return run_sample(*sample, sample_args);
        if (bench->parsed()) return run_bench(bench_args);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

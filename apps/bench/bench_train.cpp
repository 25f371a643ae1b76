// bench_train — throughput of one ViT configuration on synthetic CIFAR-shaped
// data, printed as one JSON line (used by bench/compare_pytorch.py).
//
//   --mode train      forward + cross-entropy + backward + AdamW, images/s
//   --mode infer      forward only (eval, no grad), images/s
//   --mode attention  exact softmax attention alone, forward + backward on
//                     q, k, v [B, H, N, D]: seconds and peak RSS
//   --attention NAME  the ViT's attention variant (registry defaults) in train
//                     and infer modes; bench/study_speed.py runs every variant
//                     this way so the study's speeds come from one machine.
// Model FLOPs are counted analytically, the same way for every variant:
// forward = Σ over linear layers 2·rows·in·out + per block the variant's own
// forward FLOPs from attention/cost.h (softmax: 4·B·H·T²·D for QKᵀ and PV, the
// PyTorch script's formula); a training step = 3 × forward (cost.h counts every
// backward as twice its forward, as for the linear layers). With --sgemm the
// step's own GEMM shapes (forward and both backward products of every linear
// layer) are also timed with raw cblas_sgemm in the same process, giving the
// sgemm-limited GFLOP/s the step is compared against ("sgemm_gflops"), and
// through attnlab's gemm(), which splits each product into one single-threaded
// sgemm per thread ("split_sgemm_gflops": the higher ceiling on this machine).
#include <cblas.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <tuple>

#include "apps/bench/bench_timing.h"
#include "apps/common/run_app.h"
#include "core/tensor/storage.h"
#include "core/util/memory.h"
#include "core/core.h"
#include "core/util/profiler.h"
#include "attention/cost.h"
#include "attention/registry.h"
#include "nn/optim/adam.h"
#include "nn/models/vit.h"

using namespace attnlab;
using Clock = std::chrono::steady_clock;


struct Gemm {
    int64_t M, N, K;
    bool ta, tb;
};

struct Options {
    std::string mode = "train", attention_name = "softmax";
    int64_t dim = 128, depth = 6, heads = 4, mlp = 256, patch = 4, batch = 128, steps = 10, warmup = 3;
    int64_t seq = 4096, head_dim = 32;
    bool sgemm = false, profile = false;
    int threads = 0;
};

static void add_options(CLI::App& app, Options& o) {
    app.add_option("--mode", o.mode, "train | infer | attention")->check(CLI::IsMember({"train", "infer", "attention"}));
    app.add_option("--attention", o.attention_name, "attention variant of the ViT (train/infer modes)")
        ->check([](const std::string& name) {  // the registry's error lists the valid variants
            try {
                attention::attention_info(name);
                return std::string();
            } catch (const std::exception& e) {
                return std::string(e.what());
            }
        });
    app.add_option("--dim", o.dim)->check(CLI::Range(8, 4096));
    app.add_option("--depth", o.depth)->check(CLI::Range(1, 64));
    app.add_option("--heads", o.heads)->check(CLI::Range(1, 64));
    app.add_option("--mlp", o.mlp, "MLP hidden width")->check(CLI::Range(8, 16384));
    app.add_option("--patch", o.patch)->check(CLI::IsMember({1, 2, 4, 8, 16, 32}));
    app.add_option("--batch", o.batch)->check(CLI::Range(1, 4096));
    app.add_option("--steps", o.steps, "timed steps")->check(CLI::Range(1, 100000));
    app.add_option("--warmup", o.warmup, "untimed steps first")->check(CLI::Range(0, 100000));
    app.add_option("--seq", o.seq, "attention mode: N")->check(CLI::Range(1, 1 << 20));
    app.add_option("--head-dim", o.head_dim, "attention mode: D")->check(CLI::Range(1, 1024));
    app.add_flag("--sgemm", o.sgemm, "also time the step's GEMM shapes with raw sgemm");
    app.add_flag("--profile", o.profile, "per-op time table of the timed train/infer steps (on stderr)");
    app.add_option("--threads", o.threads)->check(CLI::Range(0, 256));
}

// --mode attention: exact softmax attention forward + backward on q, k, v [B, H, N, D]; prints the JSON line.
static void bench_attention_mode(const Options& o, Generator& gen) {
    const int64_t B = o.batch, H = o.heads, N = o.seq, D = o.head_dim;
    Tensor q = Tensor::randn({B, H, N, D}, gen).requires_grad_();
    Tensor k = Tensor::randn({B, H, N, D}, gen).requires_grad_();
    Tensor v = Tensor::randn({B, H, N, D}, gen).requires_grad_();
    Tensor g = Tensor::randn({B, H, N, D}, gen);
    std::vector<double> times;
    for (int64_t i = 0; i < o.warmup + o.steps; ++i) {
        for (Tensor* t : {&q, &k, &v}) t->raw()->grad = Tensor();
        auto t0 = Clock::now();
        scaled_dot_product_attention(q, k, v).backward(g);
        if (i >= o.warmup) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    double flops = 4.0 * double(B * H) * double(N) * double(N) * double(D) * 3.0;
    std::printf("{\"framework\":\"attnlab\",\"mode\":\"attention\",\"seconds\":%.6f,\"gflops\":%.2f,\"peak_rss_mb\":%.1f,"
                "\"threads\":%d,\"blas\":\"%s\"}\n",
                times[times.size() / 2], flops / times[times.size() / 2] / 1e9, peak_rss_mb(), num_threads(),
                blas_info().c_str());
}

static nn::ViTConfig vit_config(const Options& o) {
    nn::ViTConfig cfg;
    cfg.dim = o.dim, cfg.depth = o.depth, cfg.heads = o.heads, cfg.patch_size = o.patch;
    cfg.mlp_ratio = double(o.mlp) / double(o.dim), cfg.dropout = 0, cfg.drop_path = 0;
    cfg.attention = o.attention_name;
    return cfg;
}

// The forward GEMM shapes of every linear layer: patch embedding, per block qkv, proj, fc1, fc2, and the head.
static std::vector<Gemm> forward_gemms(const Options& o, const nn::ViTConfig& cfg) {
    const int64_t dim = o.dim, mlp = o.mlp, P = o.patch * o.patch * 3;
    const int64_t rows = o.batch * cfg.num_tokens(), prow = o.batch * cfg.num_patches();
    std::vector<Gemm> fwd = {{prow, dim, P, false, true}};
    for (int64_t b = 0; b < o.depth; ++b) {
        fwd.push_back({rows, 3 * dim, dim, false, true});
        fwd.push_back({rows, dim, dim, false, true});
        fwd.push_back({rows, mlp, dim, false, true});
        fwd.push_back({rows, dim, mlp, false, true});
    }
    fwd.push_back({o.batch, 10, dim, false, true});
    return fwd;
}

// Forward FLOPs of the linear layers.
static double linear_forward_flops(const std::vector<Gemm>& fwd) {
    double flops = 0;
    for (const Gemm& g : fwd) flops += 2.0 * double(g.M * g.N * g.K);
    return flops;
}

// Forward FLOPs of the attention of all blocks: the variant's analytic count (registry defaults).
static double attention_forward_flops(const Options& o, int64_t T) {
    const attention::AttentionCost cost =
        attention::attention_cost(o.attention_name, {}, o.batch, o.heads, T, o.dim / o.heads);
    return cost.flops_forward * double(o.depth);
}

struct StepStats {
    double seconds = 0;         // median of the timed steps
    double peak_tensor_mb = 0;  // high-water mark of live tensor storage during the timed steps
};

// Median seconds and peak tensor memory of one train or infer step on synthetic images; with
// --profile, the per-op table of the timed steps goes to stderr.
static StepStats median_step_seconds(nn::VisionTransformer& vit, const Options& o, Generator& gen) {
    Tensor images = Tensor::randn({o.batch, 3, 32, 32}, gen);
    std::vector<int64_t> lab(static_cast<size_t>(o.batch));
    for (int64_t i = 0; i < o.batch; ++i) lab[size_t(i)] = i % 10;
    Tensor labels = Tensor::from_indices(lab, {o.batch});
    std::unique_ptr<nn::AdamW> opt;
    if (o.mode == "train") opt = std::make_unique<nn::AdamW>(nn::parameter_groups_for_adamw(vit, 0.05), nn::AdamWOptions{});
    else vit.eval();
    std::vector<double> times;
    double profiled_seconds = 0;
    for (int64_t i = 0; i < o.warmup + o.steps; ++i) {
        if (i == o.warmup) reset_storage_peak();
        if (o.profile && i == o.warmup) profiler::reset(), profiler::enable(true);
        auto t0 = Clock::now();
        if (o.mode == "train") {
            Tensor loss = cross_entropy(vit.forward(images), labels);
            opt->zero_grad();
            loss.backward();
            opt->step();
        } else {
            NoGradGuard no_grad;
            vit.forward(images);
        }
        if (i >= o.warmup) {
            times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
            profiled_seconds += times.back();
        }
    }
    if (o.profile) {
        profiler::enable(false);
        std::fprintf(stderr, "%s", profiler::report(profiled_seconds, o.steps).c_str());
    }
    std::sort(times.begin(), times.end());
    return {times[times.size() / 2], double(storage_bytes_peak()) / 1e6};
}

// GFLOP/s of the step's GEMMs (forward, and with `train` dX = dY·W and dW = dYᵀ·X of every linear layer)
// as {raw cblas_sgemm, attnlab's gemm()}.
static std::pair<double, double> sgemm_gflops(const std::vector<Gemm>& fwd, bool train, Generator& gen) {
    std::vector<Gemm> all;
    for (const Gemm& g : fwd) {
        all.push_back(g);
        if (train) {
            all.push_back({g.M, g.K, g.N, false, false});
            all.push_back({g.N, g.K, g.M, true, false});
        }
    }
    // Each shape twice: one raw cblas_sgemm call (OpenBLAS's own threading), and attnlab's
    // gemm() (the same sgemm, split into one single-threaded block per thread, core/kernels/blas.cpp).
    double total_flops = 0, raw_seconds = 0, split_seconds = 0;
    for (const Gemm& g : all) {
        int64_t rowsA = g.ta ? g.K : g.M, colsA = g.ta ? g.M : g.K, rowsB = g.tb ? g.N : g.K, colsB = g.tb ? g.K : g.N;
        Tensor A = Tensor::randn({rowsA, colsA}, gen), B = Tensor::randn({rowsB, colsB}, gen), C = Tensor::empty({g.M, g.N});
        raw_seconds += median_seconds([&] {
            cblas_sgemm(CblasRowMajor, g.ta ? CblasTrans : CblasNoTrans, g.tb ? CblasTrans : CblasNoTrans, int(g.M),
                        int(g.N), int(g.K), 1.f, A.data(), int(colsA), B.data(), int(colsB), 0.f, C.data(), int(g.N));
        }, 5);
        split_seconds += median_seconds([&] {
            gemm(g.ta, g.tb, g.M, g.N, g.K, 1.f, A.data(), colsA, B.data(), colsB, 0.f, C.data(), g.N);
        }, 5);
        total_flops += 2.0 * double(g.M * g.N * g.K);
    }
    return {total_flops / raw_seconds / 1e9, total_flops / split_seconds / 1e9};
}

static int run(int argc, char** argv) {
    CLI::App app{"bench_train: ViT training / inference / attention throughput on synthetic data (JSON output)"};
    Options o;
    add_options(app, o);
    CLI11_PARSE(app, argc, argv);
    if (o.threads > 0) set_num_threads(o.threads);
    Generator gen(0);
    if (o.mode == "attention") {
        bench_attention_mode(o, gen);
        return 0;
    }

    nn::ViTConfig cfg = vit_config(o);
    manual_seed(0);
    nn::VisionTransformer vit(cfg);
    check(cfg.mlp_hidden() == o.mlp, "bench_train: --mlp ", o.mlp, " is not representable as a ratio of dim ", o.dim);
    const int64_t T = cfg.num_tokens();
    const std::vector<Gemm> fwd = forward_gemms(o, cfg);
    const double passes = o.mode == "train" ? 3.0 : 1.0;  // forward, + backward at twice the forward
    const double attention_flops = passes * attention_forward_flops(o, T);
    const double flops = passes * linear_forward_flops(fwd) + attention_flops;
    const StepStats stats = median_step_seconds(vit, o, gen);
    const double step = stats.seconds;
    double sgemm = 0, split_sgemm = 0;
    if (o.sgemm) std::tie(sgemm, split_sgemm) = sgemm_gflops(fwd, o.mode == "train", gen);
    std::printf("{\"framework\":\"attnlab\",\"mode\":\"%s\",\"attention\":\"%s\",\"images_per_sec\":%.2f,\"step_ms\":%.3f,\"gflops\":%.2f,"
                "\"step_gflop\":%.4f,\"attention_gflop\":%.4f,\"sgemm_gflops\":%.2f,\"split_sgemm_gflops\":%.2f,\"peak_rss_mb\":%.1f,\"peak_tensor_mb\":%.1f,\"params\":%ld,\"tokens\":%ld,"
                "\"threads\":%d,\"blas\":\"%s\"}\n",
                o.mode.c_str(), o.attention_name.c_str(), double(o.batch) / step, 1e3 * step, flops / step / 1e9, flops / 1e9, attention_flops / 1e9, sgemm,
                split_sgemm, peak_rss_mb(), stats.peak_tensor_mb, long(vit.num_parameters()), long(T), num_threads(), blas_info().c_str());
    return 0;
}

int main(int argc, char** argv) { return run_app(argc, argv, run); }

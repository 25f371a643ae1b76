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
// Model FLOPs are counted analytically (the same formula as the PyTorch
// script): forward = Σ over linear layers 2·rows·in·out + per block
// 4·B·H·T²·D for QKᵀ and PV (softmax only: for other variants GFLOP/s counts
// the linear layers alone); a training step = 3 × forward. With --sgemm the
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

#include "apps/bench/bench_timing.h"
#include "apps/common/run_app.h"
#include "core/util/memory.h"
#include "core/core.h"
#include "core/util/profiler.h"
#include "attention/registry.h"
#include "nn/optim/adam.h"
#include "nn/models/vit.h"

using namespace attnlab;
using Clock = std::chrono::steady_clock;


struct Gemm {
    int64_t M, N, K;
    bool ta, tb;
};

static int run(int argc, char** argv) {
    CLI::App app{"bench_train: ViT training / inference / attention throughput on synthetic data (JSON output)"};
    std::string mode = "train", attention_name = "softmax";
    int64_t dim = 128, depth = 6, heads = 4, mlp = 256, patch = 4, batch = 128, steps = 10, warmup = 3;
    int64_t seq = 4096, head_dim = 32;
    bool sgemm = false, profile = false;
    int threads = 0;
    app.add_option("--mode", mode, "train | infer | attention")->check(CLI::IsMember({"train", "infer", "attention"}));
    app.add_option("--attention", attention_name, "attention variant of the ViT (train/infer modes)")
        ->check([](const std::string& name) {  // the registry's error lists the valid variants
            try {
                attention::attention_info(name);
                return std::string();
            } catch (const std::exception& e) {
                return std::string(e.what());
            }
        });
    app.add_option("--dim", dim)->check(CLI::Range(8, 4096));
    app.add_option("--depth", depth)->check(CLI::Range(1, 64));
    app.add_option("--heads", heads)->check(CLI::Range(1, 64));
    app.add_option("--mlp", mlp, "MLP hidden width")->check(CLI::Range(8, 16384));
    app.add_option("--patch", patch)->check(CLI::IsMember({1, 2, 4, 8, 16, 32}));
    app.add_option("--batch", batch)->check(CLI::Range(1, 4096));
    app.add_option("--steps", steps, "timed steps")->check(CLI::Range(1, 100000));
    app.add_option("--warmup", warmup, "untimed steps first")->check(CLI::Range(0, 100000));
    app.add_option("--seq", seq, "attention mode: N")->check(CLI::Range(1, 1 << 20));
    app.add_option("--head-dim", head_dim, "attention mode: D")->check(CLI::Range(1, 1024));
    app.add_flag("--sgemm", sgemm, "also time the step's GEMM shapes with raw sgemm");
    app.add_flag("--profile", profile, "per-op time table of the timed train/infer steps (on stderr)");
    app.add_option("--threads", threads)->check(CLI::Range(0, 256));
    CLI11_PARSE(app, argc, argv);
    if (threads > 0) set_num_threads(threads);
    Generator gen(0);

    if (mode == "attention") {
        Tensor q = Tensor::randn({batch, heads, seq, head_dim}, gen).requires_grad_();
        Tensor k = Tensor::randn({batch, heads, seq, head_dim}, gen).requires_grad_();
        Tensor v = Tensor::randn({batch, heads, seq, head_dim}, gen).requires_grad_();
        Tensor g = Tensor::randn({batch, heads, seq, head_dim}, gen);
        std::vector<double> times;
        for (int64_t i = 0; i < warmup + steps; ++i) {
            for (Tensor* t : {&q, &k, &v}) t->raw()->grad = Tensor();
            auto t0 = Clock::now();
            scaled_dot_product_attention(q, k, v).backward(g);
            if (i >= warmup) times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
        }
        std::sort(times.begin(), times.end());
        double flops = 4.0 * double(batch * heads) * double(seq) * double(seq) * double(head_dim) * 3.0;
        std::printf("{\"framework\":\"attnlab\",\"mode\":\"attention\",\"seconds\":%.6f,\"gflops\":%.2f,\"peak_rss_mb\":%.1f,"
                    "\"threads\":%d,\"blas\":\"%s\"}\n",
                    times[times.size() / 2], flops / times[times.size() / 2] / 1e9, peak_rss_mb(), num_threads(),
                    blas_info().c_str());
        return 0;
    }

    nn::ViTConfig cfg;
    cfg.dim = dim, cfg.depth = depth, cfg.heads = heads, cfg.patch_size = patch;
    cfg.mlp_ratio = double(mlp) / double(dim), cfg.dropout = 0, cfg.drop_path = 0;
    cfg.attention = attention_name;
    manual_seed(0);
    nn::VisionTransformer vit(cfg);
    check(cfg.mlp_hidden() == mlp, "bench_train: --mlp ", mlp, " is not representable as a ratio of dim ", dim);
    const int64_t T = cfg.num_tokens(), P = patch * patch * 3, rows = batch * T, prow = batch * cfg.num_patches();
    std::vector<Gemm> fwd = {{prow, dim, P, false, true}};
    for (int64_t b = 0; b < depth; ++b) {
        fwd.push_back({rows, 3 * dim, dim, false, true});
        fwd.push_back({rows, dim, dim, false, true});
        fwd.push_back({rows, mlp, dim, false, true});
        fwd.push_back({rows, dim, mlp, false, true});
    }
    fwd.push_back({batch, 10, dim, false, true});
    double linear_flops = 0;
    for (const Gemm& g : fwd) linear_flops += 2.0 * double(g.M * g.N * g.K);
    double attn_flops = attention_name != "softmax"
                            ? 0.0
                            : 4.0 * double(batch * heads) * double(T) * double(T) * double(dim / heads) * double(depth);
    double forward_flops = linear_flops + attn_flops;

    Tensor images = Tensor::randn({batch, 3, 32, 32}, gen);
    std::vector<int64_t> lab(static_cast<size_t>(batch));
    for (int64_t i = 0; i < batch; ++i) lab[size_t(i)] = i % 10;
    Tensor labels = Tensor::from_indices(lab, {batch});
    std::unique_ptr<nn::AdamW> opt;
    if (mode == "train") opt = std::make_unique<nn::AdamW>(nn::parameter_groups_for_adamw(vit, 0.05), nn::AdamWOptions{});
    else vit.eval();
    std::vector<double> times;
    double profiled_seconds = 0;
    for (int64_t i = 0; i < warmup + steps; ++i) {
        if (profile && i == warmup) profiler::reset(), profiler::enable(true);
        auto t0 = Clock::now();
        if (mode == "train") {
            Tensor loss = cross_entropy(vit.forward(images), labels);
            opt->zero_grad();
            loss.backward();
            opt->step();
        } else {
            NoGradGuard no_grad;
            vit.forward(images);
        }
        if (i >= warmup) {
            times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
            profiled_seconds += times.back();
        }
    }
    if (profile) {
        profiler::enable(false);
        std::fprintf(stderr, "%s", profiler::report(profiled_seconds, steps).c_str());
    }
    std::sort(times.begin(), times.end());
    double step = times[times.size() / 2];
    double flops = mode == "train" ? 3.0 * forward_flops : forward_flops;

    double sgemm_gflops = 0, split_sgemm_gflops = 0;
    if (sgemm) {  // forward, dX = dY·W and dW = dYᵀ·X for every linear layer of the step
        std::vector<Gemm> all;
        for (const Gemm& g : fwd) {
            all.push_back(g);
            if (mode == "train") {
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
        sgemm_gflops = total_flops / raw_seconds / 1e9;
        split_sgemm_gflops = total_flops / split_seconds / 1e9;
    }
    std::printf("{\"framework\":\"attnlab\",\"mode\":\"%s\",\"attention\":\"%s\",\"images_per_sec\":%.2f,\"step_ms\":%.3f,\"gflops\":%.2f,"
                "\"sgemm_gflops\":%.2f,\"split_sgemm_gflops\":%.2f,\"peak_rss_mb\":%.1f,\"params\":%ld,\"tokens\":%ld,"
                "\"threads\":%d,\"blas\":\"%s\"}\n",
                mode.c_str(), attention_name.c_str(), double(batch) / step, 1e3 * step, flops / step / 1e9, sgemm_gflops, split_sgemm_gflops,
                peak_rss_mb(),
                long(vit.num_parameters()), long(T), num_threads(), blas_info().c_str());
    return 0;
}

int main(int argc, char** argv) { return run_app(argc, argv, run); }

// bench_ops — throughput of attnlab's hot ops against the machine's limits.
//
// 1. matmul / linear GFLOP/s on ViT-like shapes (M = 8320 = 128 images × 65
//    tokens, K = 128, N ∈ {128, 384, 512}) next to raw cblas_sgemm on the same
//    shapes; the ratio is what the framework costs over the BLAS.
//    The backward products of linear (dX = dY·W, dW = dYᵀ·X) likewise.
// 2. Batched attention-shaped products ([B·H, 65, 32] × [B·H, 32, 65]).
// 3. softmax / layer_norm / gelu forward+backward in GB/s of compulsory
//    traffic, next to memcpy GB/s measured in the same run.
// Each number is the median of several timed repetitions after a warm-up.
#include <cblas.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <vector>

#include "apps/bench/bench_timing.h"
#include "apps/common/run_app.h"
#include "core/core.h"

using namespace attnlab;

constexpr int64_t M = 8320, K = 128;  // ViT-like rows (128 images × 65 tokens) and width

// One table row: attnlab's and raw sgemm's GFLOP/s for `flops` done in `ours` / `raw` seconds, and raw/ours.
static void print_gemm_row(const char* label, double flops, double ours, double raw) {
    std::printf("%-34s %12.1f %12.1f %7.1f%%\n", label, flops / ours / 1e9, flops / raw / 1e9, 100.0 * raw / ours);
}

// Section 1a: matmul, linear and batched matmul [M,K]x[K,N] against one cblas_sgemm call.
static void bench_forward_gemms(int reps, Generator& gen) {
    std::printf("%-34s %12s %12s %8s\n", "GEMM (forward)", "attnlab", "raw sgemm", "ratio");
    std::printf("%-34s %12s %12s %8s\n", "", "GFLOP/s", "GFLOP/s", "");
    for (int64_t N : {128, 384, 512}) {
        Tensor a = Tensor::randn({M, K}, gen), b = Tensor::randn({K, N}, gen), w = Tensor::randn({N, K}, gen);
        Tensor bias = Tensor::randn({N}, gen), c = Tensor::empty({M, N});
        double flops = 2.0 * double(M) * double(N) * double(K);
        double raw = median_seconds([&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(N), int(K), 1.f, a.data(), int(K),
                        b.data(), int(N), 0.f, c.data(), int(N));
        }, reps);
        double ours = median_seconds([&] { matmul(a, b); }, reps);
        double lin = median_seconds([&] { linear(a, w, bias); }, reps);
        char label[64];
        std::snprintf(label, sizeof label, "matmul [%ld,%ld]x[%ld,%ld]", long(M), long(K), long(K), long(N));
        print_gemm_row(label, flops, ours, raw);
        std::snprintf(label, sizeof label, "linear x[%ld,%ld] W[%ld,%ld]+b", long(M), long(K), long(N), long(K));
        print_gemm_row(label, flops, lin, raw);
        // the same product as a batch: [128, 65, K] x [K, N]
        Tensor a3 = a.reshape({128, 65, K});
        double bat = median_seconds([&] { matmul(a3, b); }, reps);
        std::snprintf(label, sizeof label, "matmul [128,65,%ld]x[%ld,%ld]", long(K), long(K), long(N));
        print_gemm_row(label, flops, bat, raw);
    }
}

// Section 1b: the backward products of linear, dX = dY·W and dW = dYᵀ·X for y = x Wᵀ, x [M,K], W [N,K].
static void bench_backward_gemms(int reps, Generator& gen) {
    std::printf("%-34s %12s %12s %8s\n", "GEMM (backward of linear)", "", "", "");
    for (int64_t N : {128, 384, 512}) {
        Tensor dy = Tensor::randn({M, N}, gen), w = Tensor::randn({N, K}, gen), x = Tensor::randn({M, K}, gen);
        Tensor dx = Tensor::empty({M, K}), dw = Tensor::empty({N, K});
        double flops = 2.0 * double(M) * double(N) * double(K);
        double raw_dx = median_seconds([&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, int(M), int(K), int(N), 1.f, dy.data(), int(N),
                        w.data(), int(K), 0.f, dx.data(), int(K));
        }, reps);
        double raw_dw = median_seconds([&] {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, int(N), int(K), int(M), 1.f, dy.data(), int(N),
                        x.data(), int(K), 0.f, dw.data(), int(K));
        }, reps);
        double ours_dx = median_seconds([&] { matmul(dy, w); }, reps);
        double ours_dw = median_seconds([&] { matmul(dy.T(), x); }, reps);
        char label[64];
        std::snprintf(label, sizeof label, "dX [%ld,%ld]x[%ld,%ld]", long(M), long(N), long(N), long(K));
        print_gemm_row(label, flops, ours_dx, raw_dx);
        std::snprintf(label, sizeof label, "dW [%ld,%ld]x[%ld,%ld] (dYᵀ view)", long(N), long(M), long(M), long(K));
        print_gemm_row(label, flops, ours_dw, raw_dw);
    }
    std::printf("  (attnlab splits a large product into one single-threaded sgemm per thread, core/kernels/blas.cpp;\n"
                "   raw = one cblas_sgemm call with OpenBLAS's own threading)\n");
}

// Section 2: attention-shaped batched product, one small GEMM per (image, head).
static void bench_attention_gemm(int reps, Generator& gen) {
    const int64_t BH = 512, Nt = 65, D = 32;
    Tensor q = Tensor::randn({BH, Nt, D}, gen), k = Tensor::randn({BH, Nt, D}, gen);
    Tensor s = Tensor::empty({BH, Nt, Nt});
    double flops = 2.0 * double(BH) * Nt * Nt * D;
    double raw = median_seconds([&] {
        for (int64_t i = 0; i < BH; ++i)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(Nt), int(Nt), int(D), 1.f, q.data() + i * Nt * D,
                        int(D), k.data() + i * Nt * D, int(D), 0.f, s.data() + i * Nt * Nt, int(Nt));
    }, reps);
    double ours = median_seconds([&] { matmul(q, k.T()); }, reps);
    print_gemm_row("QKᵀ [512,65,32]x[512,32,65]", flops, ours, raw);
    std::printf("  (raw = one sgemm call per batch entry in a serial loop)\n");
}

// Section 3: softmax / layer_norm / gelu forward+backward in GB/s of compulsory traffic vs memcpy.
static void bench_memory_bound(int64_t elems, int reps, Generator& gen) {
    std::printf("\n%-34s %12s %12s %8s\n", "Memory-bound kernels", "attnlab", "memcpy", "ratio");
    std::printf("%-34s %12s %12s %8s\n", "(forward + backward)", "GB/s", "GB/s", "");
    std::vector<float> src(static_cast<size_t>(elems), 1.f), dst(static_cast<size_t>(elems));
    double bytes_copy = 2.0 * 4.0 * double(elems);
    double copy = median_seconds([&] { std::memcpy(dst.data(), src.data(), size_t(elems) * 4); }, reps);
    double bw = bytes_copy / copy / 1e9;
    const int64_t C = 512, R = elems / C;
    Tensor x = Tensor::randn({R, C}, gen), dy = Tensor::randn({R, C}, gen);
    Tensor lw = Tensor::ones({C}), lb = Tensor::zeros({C});
    struct Case {
        const char* name;
        double bytes_per_elem;  // compulsory reads + writes, forward and backward together
        std::function<Tensor(const Tensor&)> fn;
    };
    std::vector<Case> cases = {
        {"softmax (rows of 512)", 4.0 * (2 + 3), [](const Tensor& t) { return softmax(t, -1); }},
        {"layer_norm (rows of 512)", 4.0 * (2 + 3), [&](const Tensor& t) { return layer_norm(t, lw, lb); }},
        {"gelu (erf)", 4.0 * (2 + 3), [](const Tensor& t) { return gelu(t); }},
        {"gelu (tanh approx.)", 4.0 * (2 + 3), [](const Tensor& t) { return gelu(t, GeluApprox::Tanh); }},
    };
    for (const Case& cs : cases) {
        double t = median_seconds([&] {
            Tensor leaf = x.detach().requires_grad_();
            cs.fn(leaf).backward(dy);
        }, reps);
        double gbs = cs.bytes_per_elem * double(x.numel()) / t / 1e9;
        std::printf("%-34s %12.1f %12.1f %7.1f%%\n", cs.name, gbs, bw, 100.0 * gbs / bw);
    }
    std::printf("\n%ld elements per tensor (%.1f MB); memcpy counts read + write.\n", long(elems), 4.0 * double(elems) / 1e6);
}

static int run(int argc, char** argv) {
    CLI::App app{"bench_ops: GFLOP/s of matmul vs raw sgemm, GB/s of fused kernels vs memcpy"};
    int reps = 7, threads = 0;
    int64_t elems = 8320 * 512;
    app.add_option("--reps", reps, "timed repetitions per measurement (median reported)")->check(CLI::Range(1, 1000));
    app.add_option("--threads", threads, "threads (0 = OpenMP default)")->check(CLI::Range(0, 256));
    app.add_option("--elements", elems, "elements per tensor in the GB/s section")->check(CLI::Range(int64_t(1024), int64_t(1) << 30));
    CLI11_PARSE(app, argc, argv);
    if (threads > 0) set_num_threads(threads);
    const char* core_env = std::getenv("OPENBLAS_CORETYPE");
    std::printf("attnlab bench_ops  threads=%d  OpenBLAS: %s  OPENBLAS_CORETYPE=%s\n\n", num_threads(),
                blas_info().c_str(), core_env ? core_env : "(unset)");
    Generator gen(0);
    bench_forward_gemms(reps, gen);
    bench_backward_gemms(reps, gen);
    bench_attention_gemm(reps, gen);
    bench_memory_bound(elems, reps, gen);
    return 0;
}

int main(int argc, char** argv) { return run_app(argc, argv, run); }

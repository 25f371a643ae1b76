// bench_data_parallel — data-parallel ViT training speed on synthetic CIFAR-shaped
// data, the cost of the gradient allreduce, and a projection to many machines.
// A benchmark, not a test: bench/data_parallel.sh runs the whole set.
//
//   bench_data_parallel --threads 2 --batch 128                   # 1 process × 2 threads
//   mpirun -np 2 bench_data_parallel --threads 1 --batch 128      # 2 ranks × 1 thread (shared memory)
//   mpirun -np 2 --mca btl tcp,self bench_data_parallel ...       # the same over TCP on loopback
//   bench_data_parallel --project --out results                   # cost model for P = 2..64
//
// Training mode prints one JSON line (rank 0): images/s, the step's time, and
// with P > 1 the allreduce. Steps alternate between the overlapped buckets and
// the synchronous reference (all buckets after backward), so both see the same
// machine load. `allreduce_ms` = blocking MPI_Allreduce of every bucket timed
// alone (median of 20); `exposed_*_ms` = what end_backward() still waited per
// step (this includes waiting for a slower rank); `hidden_fraction` =
// 1 - exposed_overlap / exposed_sync.
// Projection mode measures a training step of configs A and B at batch 128 on
// this machine and feeds it to ring_cost_model.h for 10/25/100 Gbit/s.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/bench/bench_timing.h"
#include "core/core.h"
#include "nn/optim/adam.h"
#include "nn/distributed/mpi_data_parallel.h"
#include "nn/distributed/ring_cost_model.h"
#include "nn/distributed/runtime.h"
#include "nn/optim/grad_clip.h"
#include "nn/models/vit.h"

using namespace attnlab;
using Clock = std::chrono::steady_clock;

static double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

static nn::ViTConfig config(const std::string& name) {
    nn::ViTConfig c;
    c.dim = name == "B" ? 192 : 128, c.depth = name == "B" ? 9 : 6, c.heads = name == "B" ? 6 : 4;
    c.patch_size = 4, c.mlp_ratio = 2.0, c.dropout = 0, c.drop_path = 0.1;
    return c;
}

struct StepTimes {
    double step_s = 0, backward_s = 0;  // medians over the timed steps
};

// `steps` timed training steps (after 2 warm-up steps) of `vit` on this process's slice of a
// global batch, for each gradient sync in `dps` in turn (none: one process); times per sync.
static std::vector<StepTimes> train_steps(nn::VisionTransformer& vit, nn::AdamW& opt,
                                          const std::vector<distributed::MpiDataParallel*>& dps,
                                          int64_t global_batch, int64_t steps) {
    const int64_t P = distributed::size(), r = distributed::rank();
    const int64_t first = global_batch * r / P, local = global_batch * (r + 1) / P - first;
    Generator gen(1);
    Tensor images = Tensor::randn({local, 3, 32, 32}, gen);
    std::vector<int64_t> lab(static_cast<size_t>(local));
    for (int64_t i = 0; i < local; ++i) lab[size_t(i)] = (first + i) % 10;
    Tensor labels = Tensor::from_indices(lab, {local});
    const size_t modes = std::max<size_t>(dps.size(), 1);
    std::vector<std::vector<double>> step_s(modes), backward_s(modes);
    for (int64_t i = 0; i < (steps + 2) * int64_t(modes); ++i) {  // the modes alternate step by step
        const size_t m = size_t(i) % modes;
        distributed::MpiDataParallel* dp = dps.empty() ? nullptr : dps[m];
        distributed::barrier();
        auto t0 = Clock::now();
        Tensor loss = cross_entropy(vit.forward(images), labels);
        opt.zero_grad();
        auto t1 = Clock::now();
        if (dp) dp->begin_backward(double(local) / double(global_batch));
        loss.backward();
        if (dp) dp->end_backward();
        double bwd = since(t1);
        nn::clip_grad_norm(opt, 1.0);
        opt.step();
        if (i / int64_t(modes) == 1 && dp) dp->reset_stats();  // after this mode's 2 warm-up steps
        if (i / int64_t(modes) >= 2) step_s[m].push_back(since(t0)), backward_s[m].push_back(bwd);
    }
    std::vector<StepTimes> out;
    for (size_t m = 0; m < modes; ++m) {
        std::sort(step_s[m].begin(), step_s[m].end());
        std::sort(backward_s[m].begin(), backward_s[m].end());
        out.push_back({step_s[m][step_s[m].size() / 2], backward_s[m][backward_s[m].size() / 2]});
    }
    return out;
}

static int train_mode(const std::string& cfg_name, int64_t batch, int64_t steps, double bucket_mb) {
    manual_seed(0);
    nn::VisionTransformer vit(config(cfg_name));
    nn::AdamW opt(nn::parameter_groups_for_adamw(vit, 0.05), nn::AdamWOptions{});
    std::unique_ptr<distributed::MpiDataParallel> overlap, sync;
    std::vector<distributed::MpiDataParallel*> dps;
    if (distributed::size() > 1) {
        overlap = std::make_unique<distributed::MpiDataParallel>(vit, bucket_mb * 1024 * 1024, distributed::Overlap::On);
        sync = std::make_unique<distributed::MpiDataParallel>(vit, bucket_mb * 1024 * 1024, distributed::Overlap::Off);
        dps = {overlap.get(), sync.get()};
    }
    std::vector<StepTimes> t = train_steps(vit, opt, dps, batch, steps);
    nlohmann::json out = {{"config", cfg_name}, {"processes", distributed::size()}, {"threads", num_threads()},
                          {"batch", batch}, {"step_ms", 1e3 * t[0].step_s}, {"backward_ms", 1e3 * t[0].backward_s},
                          {"images_per_sec", double(batch) / t[0].step_s},
                          {"gradient_bytes", 4 * vit.num_parameters()}};
    if (!dps.empty()) {
        std::vector<double> bucket_ms;
        double allreduce_s = 0;
        for (int64_t n : overlap->bucket_floats()) {  // each bucket's allreduce alone, blocking
            std::vector<float> buf(size_t(n), 1.f);
            double s = median_seconds([&] {
                MPI_Allreduce(MPI_IN_PLACE, buf.data(), int(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
            }, 20);
            bucket_ms.push_back(1e3 * s);
            allreduce_s += s;
        }
        auto exposed = [](const distributed::MpiDataParallel& dp) {
            return dp.stats().wait_seconds / double(std::max<int64_t>(dp.stats().steps, 1));
        };
        out["buckets"] = overlap->bucket_count();
        out["bucket_allreduce_ms"] = bucket_ms;
        out["allreduce_ms"] = 1e3 * allreduce_s;
        out["exposed_overlap_ms"] = 1e3 * exposed(*overlap);
        out["exposed_sync_ms"] = 1e3 * exposed(*sync);
        out["step_sync_ms"] = 1e3 * t[1].step_s;
        out["hidden_fraction"] = std::clamp(1.0 - exposed(*overlap) / std::max(exposed(*sync), 1e-12), 0.0, 1.0);
    }
    if (distributed::rank() == 0) std::printf("%s\n", out.dump().c_str());
    return 0;
}

// Measures configs A and B on this process, projects P = 2..64 at three link speeds.
static int project_mode(int64_t steps, double latency_us, const std::string& out_dir) {
    std::ofstream csv(out_dir + "/data_parallel_projection.csv");
    csv << "config,gbit_per_s,P,allreduce_ms,compute_ms,backward_ms,efficiency_sync,efficiency_overlap\n";
    for (const std::string cfg : {"A", "B"}) {
        manual_seed(0);
        nn::VisionTransformer vit(config(cfg));
        nn::AdamW opt(nn::parameter_groups_for_adamw(vit, 0.05), nn::AdamWOptions{});
        StepTimes t = train_steps(vit, opt, {}, 128, steps)[0];  // one machine's slice: 128 images
        const double bytes = 4.0 * double(vit.num_parameters());
        std::printf("config %s: %ld parameters (%.2f MB of gradients), step at batch 128: %.1f ms (backward %.1f ms), "
                    "%d threads\n", cfg.c_str(), long(vit.num_parameters()), bytes / 1e6, 1e3 * t.step_s,
                    1e3 * t.backward_s, num_threads());
        for (double gbit : {10.0, 25.0, 100.0}) {
            distributed::Network net{gbit, latency_us * 1e-6};
            for (int64_t P = 2; P <= 64; P *= 2) {
                double ar = distributed::ring_allreduce_seconds(bytes, P, net);
                double sync = distributed::scaling_efficiency(t.step_s, 0, bytes, P, net);
                double overlap = distributed::scaling_efficiency(t.step_s, t.backward_s, bytes, P, net);
                csv << cfg << "," << gbit << "," << P << "," << 1e3 * ar << "," << 1e3 * t.step_s << ","
                    << 1e3 * t.backward_s << "," << sync << "," << overlap << "\n";
                if (P == 16)  // 90 % without overlap needs compute >= 9 x allreduce
                    std::printf("  P=16 at %3.0f Gbit/s: allreduce %.2f ms, efficiency %.1f%% sync, %.1f%% overlapped; "
                                "90%% sync holds down to a step of %.0f ms (%.0f images/s per machine)\n",
                                gbit, 1e3 * ar, 100 * sync, 100 * overlap, 9e3 * ar, 128 / (9 * ar));
            }
        }
    }
    csv.close();
    std::ofstream gp(out_dir + "/data_parallel_projection.gp");
    gp << "set terminal pngcairo size 900,520\nset output '" << out_dir << "/data_parallel_projection.png'\n"
       << "set datafile separator ','\nset logscale x 2\nset xlabel 'machines P (global batch 128 P)'\n"
       << "set ylabel 'scaling efficiency, synchronous allreduce'\nset yrange [*:1.001]\nset key bottom left\nset grid\n"
       << "set title 'Ring-allreduce cost model, latency " << latency_us << " us (contended compute times)'\n"
       << "plot for [c in 'A B'] for [g in '10 25 100'] '" << out_dir << "/data_parallel_projection.csv' "
       << "using (strcol(1) eq c && $2 == real(g) ? $3 : 1/0):7 with linespoints title 'config '.c.', '.g.' Gbit/s'\n";
    gp.close();
    if (std::system(("gnuplot " + out_dir + "/data_parallel_projection.gp").c_str()) != 0)
        std::fprintf(stderr, "gnuplot failed; the CSV is still in %s\n", out_dir.c_str());
    std::printf("wrote %s/data_parallel_projection.{csv,gp,png}\n", out_dir.c_str());
    return 0;
}

int main(int argc, char** argv) {
    distributed::init(argc, argv);
    CLI::App app{"bench_data_parallel: data-parallel ViT training speed, allreduce cost and a scaling projection"};
    std::string cfg = "A", out_dir = "results";
    int64_t batch = 128, steps = 10;
    int threads = 0;
    double bucket_mb = 1.0, latency_us = 30;
    bool project = false;
    app.add_option("--config", cfg, "A (dim 128, depth 6) or B (dim 192, depth 9); patch 4")->check(CLI::IsMember({"A", "B"}));
    app.add_option("--batch", batch, "global batch")->check(CLI::Range(int64_t(1), int64_t(4096)));
    app.add_option("--steps", steps, "timed steps (after 2 warm-up steps)")->check(CLI::Range(int64_t(1), int64_t(10000)));
    app.add_option("--threads", threads, "threads per process (0 = all cores)");
    app.add_option("--bucket-mb", bucket_mb, "allreduce bucket size");
    app.add_flag("--project", project, "measure A and B on one process and project P = 2..64");
    app.add_option("--latency-us", latency_us, "per-message network latency for the projection");
    app.add_option("--out", out_dir, "projection output directory");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int code = app.exit(e);
        distributed::finalize();
        return code;
    }
    if (threads > 0) set_num_threads(threads);
    try {
        int code = project ? project_mode(steps, latency_us, out_dir) : train_mode(cfg, batch, steps, bucket_mb);
        distributed::finalize();
        return code;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        distributed::abort_all(1);
    }
}

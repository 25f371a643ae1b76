// bench_attention — forward+backward time and peak memory of every attention
// variant as the sequence length N grows, and the fitted exponent k of
// time ∝ N^k (k ≈ 2 for softmax, ≈ 1 for the linear variants).
//
// For N = n_min, 2·n_min, …, n_max at fixed B, H, D: q, k, v ~ N(0, 1)
// [B, H, N, D] → variant → sum of out ⊙ g → backward. Time is the median of
// --reps runs after one warm-up; memory is the peak of live tensor bytes
// during one forward+backward (deterministic). A configuration whose time or
// memory, extrapolated from the previous N with the variant's own growth, would
// pass --time-cap / --memory-cap is skipped and reported as skipped.
// Roofline: per run, the variant's analytic flops and compulsory bytes
// (attention/cost.h, forward + backward), the roofline time max(flops/peak,
// bytes/bandwidth) with the FMA peak and the memory bandwidth measured at the
// start of this same run and thread count (bench_roofline.h), and the measured
// time as a percentage of it (100% = at the roofline).
// Writes a CSV and, with gnuplot, a log-log plot of time and memory vs N.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "attention/cost.h"
#include "attention/registry.h"
#include "apps/bench/bench_roofline.h"
#include "apps/common/run_app.h"
#include "core/core.h"

using namespace attnlab;

struct Row {
    std::string variant;
    int64_t N;
    double seconds = 0, peak_mb = 0;
    double gflop = 0, traffic_mb = 0, roofline_seconds = 0;  // analytic, forward + backward
    bool skipped = false;
    std::string note;
};

// Least-squares slope of log(y) against log(x).
static double loglog_slope(const std::vector<double>& x, const std::vector<double>& y) {
    size_t n = x.size();
    if (n < 2) return NAN;
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; ++i) {
        double lx = std::log(x[i]), ly = std::log(y[i]);
        sx += lx, sy += ly, sxx += lx * lx, sxy += lx * ly;
    }
    return (double(n) * sxy - sx * sy) / (double(n) * sxx - sx * sx);
}

static std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        size_t comma = s.find(',', start);
        std::string item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) out.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

struct Options {
    std::string variants_arg, out_dir = "results";
    int64_t B = 1, H = 4, D = 32, n_min = 64, n_max = 16384;
    int reps = 3, threads = 0;
    double time_cap = 60.0, memory_cap_gb = 8.0;
};

static void add_options(CLI::App& app, Options& o) {
    app.add_option("--variants", o.variants_arg, "comma-separated variants (default: all registered)");
    app.add_option("--batch", o.B, "batch size B")->check(CLI::Range(1, 1024));
    app.add_option("--heads", o.H, "heads H")->check(CLI::Range(1, 256));
    app.add_option("--head-dim", o.D, "head dim D")->check(CLI::Range(1, 1024));
    app.add_option("--n-min", o.n_min, "smallest N (then doubled)")->check(CLI::Range(2, 1 << 20));
    app.add_option("--n-max", o.n_max, "largest N")->check(CLI::Range(2, 1 << 22));
    app.add_option("--reps", o.reps, "timed repetitions (median)")->check(CLI::Range(1, 100));
    app.add_option("--time-cap", o.time_cap, "skip a run predicted to take longer (seconds)")->check(CLI::PositiveNumber);
    app.add_option("--memory-cap", o.memory_cap_gb, "skip a run predicted to need more tensor memory (GB)")
        ->check(CLI::PositiveNumber);
    app.add_option("--threads", o.threads, "threads (0 = OpenMP default)")->check(CLI::Range(0, 256));
    app.add_option("--out", o.out_dir, "directory for attention_bench.csv / .png");
}

// Prints the configuration, measures the roofline ceilings and prints them and the table header.
static MachineCeilings describe_machine(const Options& o) {
    const char* core_env = std::getenv("OPENBLAS_CORETYPE");
    std::printf("bench_attention  B=%ld H=%ld D=%ld  threads=%d  OpenBLAS: %s  OPENBLAS_CORETYPE=%s\n", long(o.B),
                long(o.H), long(o.D), num_threads(), blas_info().c_str(), core_env ? core_env : "(unset)");
    const MachineCeilings machine = measure_machine();
    std::printf("roofline ceilings (measured now, %d threads): FMA peak %.1f GFLOP/s, triad bandwidth %.1f GB/s\n",
                num_threads(), machine.flops_per_second / 1e9, machine.bytes_per_second / 1e9);
    std::printf("forward+backward; time = median of %d; memory = peak live tensor bytes; GFLOP and traffic (MB)\n"
                "are analytic (attention/cost.h); roof = roofline time; %%roof = roof / time\n\n", o.reps);
    std::printf("%-16s %8s %12s %12s %10s %10s %10s %7s\n", "variant", "N", "time (ms)", "peak (MB)", "GFLOP",
                "traffic MB", "roof (ms)", "%roof");
    return machine;
}

// Times one forward+backward of `row.variant` at `row.N` (median of o.reps after a warm-up that also
// measures the peak memory) into row.seconds / row.peak_mb; an exception marks the row skipped.
static void measure(Row& row, const Options& o) {
    const int64_t B = o.B, H = o.H, N = row.N, D = o.D;
    try {
        auto attn = attention::make_attention(row.variant, {}, {N, D, H});
        attn->train();
        Generator g{uint64_t(N)};
        Tensor q = Tensor::randn({B, H, N, D}, g).requires_grad_(), k = Tensor::randn({B, H, N, D}, g).requires_grad_();
        Tensor v = Tensor::randn({B, H, N, D}, g).requires_grad_(), w = Tensor::randn({B, H, N, D}, g);
        auto run = [&] {
            for (Tensor* t : {&q, &k, &v}) t->raw()->grad = Tensor();
            for (Tensor& p : attn->parameters()) p.raw()->grad = Tensor();
            Tensor out = attn->forward(q, k, v);
            out.backward(w);
        };
        size_t base = storage_bytes_in_use();
        reset_storage_peak();
        auto t0 = std::chrono::steady_clock::now();
        run();  // warm-up, also measures memory
        double first = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        row.peak_mb = double(storage_bytes_peak() - base) / 1e6;
        std::vector<double> ts;
        for (int r = 0; r < o.reps && (r == 0 || first < o.time_cap); ++r) {
            auto t1 = std::chrono::steady_clock::now();
            run();
            ts.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count());
        }
        std::sort(ts.begin(), ts.end());
        row.seconds = ts[ts.size() / 2];
    } catch (const std::exception& e) {
        row.skipped = true;
        row.note = e.what();
    }
}

static void print_row(const Row& row) {
    std::printf("%-16s %8ld %12.2f %12.1f %10.3f %10.1f %10.3f %6.1f%%\n", row.variant.c_str(), long(row.N),
                1e3 * row.seconds, row.peak_mb, row.gflop, row.traffic_mb, 1e3 * row.roofline_seconds,
                100.0 * row.roofline_seconds / row.seconds);
    std::fflush(stdout);
}

// (time, memory) exponents k of y ∝ N^k, fitted over N >= 1024 where the asymptotic term dominates
// (all points if fewer than 2 there).
static std::pair<double, double> fit_exponents(const std::vector<double>& ns, const std::vector<double>& times,
                                               const std::vector<double>& mems) {
    std::vector<double> fx, ft, fm;
    for (size_t i = 0; i < ns.size(); ++i)
        if (ns[i] >= 1024) fx.push_back(ns[i]), ft.push_back(times[i]), fm.push_back(mems[i]);
    if (fx.size() < 2) fx = ns, ft = times, fm = mems;
    return {loglog_slope(fx, ft), loglog_slope(fx, fm)};
}

// Runs one variant for N = n_min, 2·n_min, …, n_max, appending a row per N (skipped when the previous
// N, grown by the variant's own growth, predicts a run over a cap), and returns its fitted exponents.
static std::pair<double, double> bench_variant(const std::string& name, const Options& o,
                                               const MachineCeilings& machine, std::vector<Row>& rows) {
    std::vector<double> ns, times, mems;
    double prev_t = 0, prev_m = 0, growth_t = 2, growth_m = 2;
    for (int64_t N = o.n_min; N <= o.n_max; N *= 2) {
        Row row;
        row.variant = name, row.N = N;
        attention::AttentionCost cost = attention::attention_cost(name, {}, o.B, o.H, N, o.D);
        row.gflop = cost.flops() / 1e9, row.traffic_mb = cost.bytes() / 1e6;
        row.roofline_seconds = machine.roofline_seconds(cost.flops(), cost.bytes());
        const bool over_time = prev_t * growth_t > o.time_cap * o.reps;
        if (prev_t > 0 && (over_time || prev_m * growth_m > o.memory_cap_gb * 1024)) {
            row.skipped = true;
            row.note = over_time ? "time cap" : "memory cap";
            std::printf("%-16s %8ld %12s %12s  (skipped: predicted over the %s)\n", name.c_str(), long(N), "-", "-",
                        row.note.c_str());
            rows.push_back(row);
            continue;
        }
        measure(row, o);
        if (row.skipped) {
            std::printf("%-16s %8ld %12s %12s  (error: %s)\n", name.c_str(), long(N), "-", "-", row.note.c_str());
            rows.push_back(row);
            continue;
        }
        print_row(row);
        if (prev_t > 0) growth_t = std::max(1.0, row.seconds / prev_t), growth_m = std::max(1.0, row.peak_mb / prev_m);
        prev_t = row.seconds, prev_m = row.peak_mb;
        ns.push_back(double(N)), times.push_back(row.seconds), mems.push_back(row.peak_mb);
        rows.push_back(row);
    }
    return fit_exponents(ns, times, mems);
}

static void print_exponents(const std::vector<std::string>& variants,
                            const std::map<std::string, std::pair<double, double>>& exponents) {
    std::printf("\n%-16s %10s %10s  %s\n", "variant", "time ~N^k", "mem ~N^k", "complexity (registry)");
    for (const std::string& name : variants)
        std::printf("%-16s %10.2f %10.2f  %s\n", name.c_str(), exponents.at(name).first, exponents.at(name).second,
                    attention::attention_info(name).complexity.c_str());
}

// Writes <out>/attention_bench.csv and returns its path.
static std::string write_csv(const std::vector<Row>& rows, const Options& o, const MachineCeilings& machine) {
    std::filesystem::create_directories(o.out_dir);
    std::string csv = o.out_dir + "/attention_bench.csv";
    std::ofstream f(csv);
    f << "variant,N,B,H,D,seconds,peak_mb,skipped,note,gflop,traffic_mb,roofline_seconds,peak_gflops,bandwidth_gbs\n";
    for (const Row& r : rows)
        f << r.variant << "," << r.N << "," << o.B << "," << o.H << "," << o.D << "," << r.seconds << "," << r.peak_mb
          << "," << (r.skipped ? 1 : 0) << ",\"" << r.note << "\"," << r.gflop << "," << r.traffic_mb << ","
          << r.roofline_seconds << "," << machine.flops_per_second / 1e9 << "," << machine.bytes_per_second / 1e9
          << "\n";
    check(f.good(), "cannot write '", csv, "'");
    return csv;
}

// Writes a gnuplot script for a log-log plot of time and memory vs N next to the CSV, and runs gnuplot
// when it is installed (make deps installs gnuplot-nox).
static void write_plot(const std::string& csv, const std::vector<std::string>& variants, const std::string& out_dir) {
    std::string gp = out_dir + "/attention_bench.gp", png = out_dir + "/attention_bench.png";
    {
        std::ofstream f(gp);
        f << "set terminal pngcairo size 1400,560 noenhanced\nset output '" << png << "'\nset datafile separator ','\n"
          << "set logscale xy\nset format y '%g'\nset key outside right\nset grid\nset multiplot layout 1,2\n"
          << "set xlabel 'N (tokens)'\nset ylabel 'forward+backward time (s)'\nset title 'time'\nplot ";
        auto plot_column = [&](int column) {  // one line per variant; colour, dash and point differ
            for (size_t i = 0; i < variants.size(); ++i)
                f << (i ? ", " : "") << "'" << csv << "' using (strcol(1) eq '" << variants[i] << "' && $8 == 0 ? $2 : 1/0):"
                  << column << " with linespoints lc " << i + 1 << " dt " << i / 8 + 1 << " pt " << i + 1 << " title '"
                  << variants[i] << "'";
        };
        plot_column(6);
        f << "\nset ylabel 'peak tensor memory (MB)'\nset title 'memory'\nplot ";
        plot_column(7);
        f << "\nunset multiplot\n";
    }
    if (std::system(("gnuplot " + gp + " 2>/dev/null").c_str()) == 0) std::printf("wrote %s\n", png.c_str());
    else std::printf("gnuplot not available: plot skipped (script in %s)\n", gp.c_str());
}

static int run(int argc, char** argv) {
    CLI::App app{"bench_attention: time and memory of every attention variant vs sequence length"};
    Options o;
    add_options(app, o);
    CLI11_PARSE(app, argc, argv);
    if (o.threads > 0) set_num_threads(o.threads);
    check(!std::filesystem::exists(o.out_dir) || std::filesystem::is_directory(o.out_dir), "--out '", o.out_dir,
          "' exists and is not a directory");
    std::vector<std::string> variants = o.variants_arg.empty() ? attention::attention_names() : split_list(o.variants_arg);
    for (const std::string& v : variants) attention::attention_info(v);  // unknown name -> error listing valid ones
    if (o.n_min > o.n_max) {
        std::fprintf(stderr, "error: --n-min %ld is larger than --n-max %ld\n", long(o.n_min), long(o.n_max));
        return 2;
    }
    const MachineCeilings machine = describe_machine(o);
    std::vector<Row> rows;
    std::map<std::string, std::pair<double, double>> exponents;  // variant -> (time, memory) slope
    for (const std::string& name : variants) exponents[name] = bench_variant(name, o, machine, rows);
    print_exponents(variants, exponents);
    std::string csv = write_csv(rows, o, machine);
    std::printf("\nwrote %s\n", csv.c_str());
    write_plot(csv, variants, o.out_dir);
    return 0;
}

int main(int argc, char** argv) { return run_app(argc, argv, run); }

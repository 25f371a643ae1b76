// attention_error — how well each approximating attention reproduces exact
// softmax attention, as a function of its budget (features, landmarks, window,
// buckets) and of the sequence length N.
//
//   attention_error                                  # shipped model, CIFAR-10 test images -> results/approximation/
//   attention_error --images 32 --draws 2 --lengths 64,1024
//
// Two sources of q, k, v:
//   model:  captured from every block of a trained ViT on test images (N = 65 for the shipped model);
//   random: q, k, v ~ N(0, 1), B = 1, H = 4, D = 32, for each N of --lengths.
// Error: ‖A(q,k,v) − softmax(qkᵀ/√D)v‖_F / ‖softmax(qkᵀ/√D)v‖_F (nn/study/attention_probe.h); variants
// with random draws (features, hashes, random blocks) are averaged over --draws seeds.
// Writes approximation_error.csv and one plot per family (approximation_<family>.png).
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>

#include "attention/registry.h"
#include "core/core.h"
#include "core/util/strings.h"
#include "datasets/formats/cifar.h"
#include "datasets/dataloader.h"
#include "nn/study/attention_probe.h"
#include "nn/io/checkpoint.h"
#include "nn/io/classifier.h"
#include "nn/report/plot.h"
#include "nn/study/study_stats.h"

using namespace attnlab;
namespace fs = std::filesystem;

namespace {

// One curve of a plot: a variant with fixed options, its budget option swept.
struct Series {
    std::string family, label, variant;
    attention::Options fixed;
    std::string budget;            // the swept option ("" : a single point)
    std::vector<int64_t> values;   // its values
    bool random = false;           // draws differ by seed: average over draws
};

std::vector<Series> all_series() {
    const std::vector<int64_t> features{16, 32, 64, 128, 256, 512};
    return {
        {"random_features", "performer positive orthogonal", "performer", attention::Options({{"orthogonal", true}}), "features", features, true},
        {"random_features", "performer positive i.i.d.", "performer", attention::Options({{"orthogonal", false}}), "features", features, true},
        {"random_features", "performer trig orthogonal", "performer", attention::Options({{"trig", true}}), "features", features, true},
        {"random_features", "performer trig i.i.d.", "performer", attention::Options({{"trig", true}, {"orthogonal", false}}), "features", features, true},
        {"random_features", "rfa (trig, unit q and k)", "rfa", {}, "features", features, true},
        {"low_rank", "nystrom", "nystrom", {}, "landmarks", {4, 8, 16, 32, 64}, false},
        {"sparse", "longformer", "longformer", {}, "window", {2, 4, 8, 16, 32}, false},
        {"sparse", "bigbird", "bigbird", {}, "block", {2, 4, 8, 16}, true},
        {"sparse", "sparse_strided", "sparse_strided", {}, "stride", {2, 4, 8, 16, 32}, false},
        {"sparse", "sparse_fixed", "sparse_fixed", {}, "stride", {2, 4, 8, 16, 32}, false},
        {"hashing", "reformer 1 hash", "reformer", attention::Options({{"n_hashes", int64_t(1)}}), "buckets", {2, 4, 8, 16, 32}, true},
        {"hashing", "reformer 2 hashes", "reformer", attention::Options({{"n_hashes", int64_t(2)}}), "buckets", {2, 4, 8, 16, 32}, true},
        {"hashing", "reformer 4 hashes", "reformer", attention::Options({{"n_hashes", int64_t(4)}}), "buckets", {2, 4, 8, 16, 32}, true},
        {"softmax_free", "linear", "linear", {}, "", {0}, false},
        {"softmax_free", "linear_elu", "linear_elu", {}, "", {0}, false},
        {"softmax_free", "efficient", "efficient", {}, "", {0}, false},
        {"softmax_free", "taylor", "taylor", {}, "", {0}, false},
    };
}

// Mean and std of the error over draws (one draw for deterministic variants);
// nullopt when the variant rejects this budget at this N (e.g. more landmarks than tokens).
std::optional<nn::SampleStats> measure(const Series& s, int64_t value, const nn::QKV& x, int draws) {
    attention::Options o = s.fixed;
    if (!s.budget.empty()) o.set(s.budget, value);
    std::vector<double> errors;
    try {
        for (int d = 0; d < (s.random ? draws : 1); ++d) errors.push_back(nn::approximation_error(s.variant, o, x, uint64_t(d)));
    } catch (const Error&) {
        return std::nullopt;
    }
    return nn::sample_stats(errors);
}

nn::QKV random_qkv(int64_t N, uint64_t seed) {
    Generator g(seed);
    auto r = [&] { return Tensor::randn({1, 4, N, 32}, g); };
    return {r(), r(), r()};
}

// The plotted curves: per series, the model's mean over blocks and the random inputs at the largest N.
struct Curve {
    std::string title;
    std::vector<std::pair<int64_t, double>> points;  // (budget, mean relative error)
};

// One PNG per family with budget sweeps; curves go to a data file as gnuplot index blocks.
void write_plots(const fs::path& out, const std::vector<Series>& series, const std::map<std::string, std::vector<Curve>>& curves) {
    const fs::path gp = out / "approximation.gp", data = out / "approximation_curves.dat";
    std::ofstream d(data), f(gp);
    f << "set terminal pngcairo size 1000,800 noenhanced\nset key below\nset grid\n"
         "set logscale xy 2\nset format y '%g'\nset ylabel 'relative error vs exact softmax'\n"
         "set xlabel 'budget (the option in brackets)'\n";
    int block = 0;
    std::set<std::string> done;
    for (const Series& s : series) {
        if (s.budget.empty() || done.count(s.family)) continue;
        done.insert(s.family);
        f << "set output " << nn::report::gnuplot_quote((out / ("approximation_" + s.family + ".png")).string())
          << "\nset title " << nn::report::gnuplot_quote(s.family + ": solid = the trained model's q, k, v (mean over "
                                                           "blocks), dashed = random q, k, v")
          << "\nplot ";
        int i = 0;
        for (const Curve& c : curves.at(s.family)) {
            for (const auto& [x, y] : c.points) d << x << " " << y << "\n";
            d << "\n\n";
            const bool random = c.title.find("random") != std::string::npos;
            f << (i ? ", " : "") << nn::report::gnuplot_quote(data.string()) << " index " << block++
              << " using 1:2 with linespoints lc " << i / 2 + 1 << " dt " << (random ? 2 : 1) << " pt " << i / 2 + 1
              << " title " << nn::report::gnuplot_quote(c.title);
            ++i;
        }
        f << "\n";
    }
    d.close(), f.close();
    nn::report::run_gnuplot(gp.string());
}

// "64,256" -> {64, 256}: sequence lengths in [2, 65536].
std::vector<int64_t> parse_lengths(const std::string& spec) {
    std::vector<int64_t> lengths;
    for (const std::string& part : split(spec, ',')) {
        char* end = nullptr;
        const long long n = std::strtoll(part.c_str(), &end, 10);
        check(!part.empty() && *end == '\0' && n >= 2 && n <= 65536, "--lengths '", spec, "': '", part,
              "' is not a length in [2, 65536]");
        lengths.push_back(n);
    }
    return lengths;
}

// q, k, v of every block of the trained model on the first `images` test images.
std::vector<nn::QKV> capture_model_qkv(const nn::Classifier& clf, const std::string& data_dir, int64_t images,
                                       int64_t& batch_size) {
    datasets::ImageDataset test = datasets::load_cifar10(datasets::resolve_cifar10_dir(data_dir), datasets::Split::Test);
    datasets::DataLoaderOptions lo;
    lo.batch_size = std::min(images, test.size()), lo.shuffle = false, lo.augment = false, lo.normalize = clf.normalization;
    datasets::DataLoader loader(test, lo);
    loader.start_epoch(0);
    datasets::Batch batch;
    loader.next(batch);
    batch_size = batch.size();
    return nn::capture_qkv(*clf.model, batch.images);
}

// One series over its budget values: CSV rows per block, the block mean and per random N;
// returns its two curves (model, random at the largest N).
std::pair<Curve, Curve> measure_series(const Series& s, const std::vector<nn::QKV>& blocks,
                                       const std::vector<int64_t>& lengths, int draws, std::ostream& csv) {
    const std::string label = s.label + (s.budget.empty() ? "" : " [" + s.budget + "]");
    Curve model_curve{label, {}}, random_curve{cat(label, " (random, N=", lengths.back(), ")"), {}};
    for (int64_t value : s.values) {
        std::vector<double> layer_means;
        for (size_t l = 0; l < blocks.size(); ++l)
            if (auto e = measure(s, value, blocks[l], draws)) {
                layer_means.push_back(e->mean);
                csv << "model," << l << "," << blocks[l].q.size(2) << "," << csv_field(s.label) << "," << s.budget << "," << value
                    << "," << e->mean << "," << e->std << "," << e->n << "\n";
            }
        if (!layer_means.empty()) {
            nn::SampleStats m = nn::sample_stats(layer_means);
            model_curve.points.push_back({value, m.mean});
            csv << "model,mean," << blocks[0].q.size(2) << "," << csv_field(s.label) << "," << s.budget << "," << value << ","
                << m.mean << "," << m.std << "," << m.n << "\n";
        }
        for (int64_t N : lengths)
            if (auto e = measure(s, value, random_qkv(N, 1000 + uint64_t(N)), draws)) {
                csv << "random,all," << N << "," << csv_field(s.label) << "," << s.budget << "," << value << "," << e->mean << ","
                    << e->std << "," << e->n << "\n";
                if (N == lengths.back()) random_curve.points.push_back({value, e->mean});
            }
        std::printf("  %-32s %s=%ld: %s\n", s.label.c_str(), s.budget.empty() ? "-" : s.budget.c_str(), long(value),
                    layer_means.empty() ? "not applicable to the model"
                                        : cat("model error ", nn::sample_stats(layer_means).mean).c_str());
        std::fflush(stdout);
    }
    return {model_curve, random_curve};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"attention_error: relative error of each approximating attention against exact softmax attention"};
    app.option_defaults()->always_capture_default();
    std::string checkpoint = "models/vit-cifar10", data_dir, out = "results/approximation", lengths_spec = "64,256,1024,4096";
    int64_t images = 64;
    int draws = 3, threads = 0;
    app.add_option("--checkpoint", checkpoint, "trained ViT whose q, k, v are captured");
    app.add_option("--data", data_dir, "CIFAR-10 binary directory (default: $CIFAR10_DIR or data/cifar-10-batches-bin)");
    app.add_option("--images", images, "test images fed to the model")->check(CLI::Range(int64_t(1), int64_t(10000)));
    app.add_option("--draws", draws, "seeds averaged for variants with random draws")->check(CLI::Range(1, 100));
    app.add_option("--lengths", lengths_spec, "sequence lengths N of the random inputs");
    app.add_option("--out", out, "output directory");
    app.add_option("--threads", threads, "threads (0 = all cores)")->check(CLI::Range(0, 256));
    CLI11_PARSE(app, argc, argv);
    try {
        if (threads > 0) set_num_threads(threads);
        const std::vector<int64_t> lengths = parse_lengths(lengths_spec);
        nn::Classifier clf = nn::load_classifier(checkpoint);
        int64_t batch_size = 0;
        const std::vector<nn::QKV> blocks = capture_model_qkv(clf, data_dir, images, batch_size);
        std::printf("%s: q, k, v of %zu blocks on %ld test images (N = %ld); random inputs at N = %s; %d draws\n",
                    clf.dir.c_str(), blocks.size(), long(batch_size), long(blocks[0].q.size(2)), lengths_spec.c_str(), draws);

        fs::create_directories(out);
        std::ofstream csv(fs::path(out) / "approximation_error.csv");
        csv << "source,layer,N,series,budget_option,budget,rel_error_mean,rel_error_std,draws\n";
        const std::vector<Series> series = all_series();
        std::map<std::string, std::vector<Curve>> curves;  // family -> curves
        for (const Series& s : series) {
            auto [model_curve, random_curve] = measure_series(s, blocks, lengths, draws, csv);
            curves[s.family].push_back(model_curve);
            curves[s.family].push_back(random_curve);
        }
        csv.close();
        write_plots(out, series, curves);
        std::printf("wrote %s/approximation_error.csv and approximation_*.png\n", out.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

// attention_study — train the same ViT once per attention variant and seed on
// CIFAR-10 and compare accuracy, speed and memory (results/study.md, CSVs, plots).
//
//   attention_study                          # every variant, seeds 0,1,2, the full budget (see --help)
//   attention_study --quick                  # 2,000 images, 3 epochs, seed 0: a smoke check in minutes
//   attention_study --variants softmax,performer,linformer --attention-opt performer.features=32
//   attention_study --seeds 0,1,2 --report-only   # aggregate the finished runs, train nothing
//   attention_study --report-only --speed results/study_speed.json   # speed columns from one idle machine
//   mpirun -np 4 attention_study --seeds 0,1,2     # the (variant, seed) runs spread over 4 processes
//   attention_study --lra-image --dim 64 --heads 2 --depth 2 --out results/lra_image   # LRA "Image"
// Stop it any time (Ctrl-C); run the same command again to continue.
// Argument parsing and wiring only; the loops are nn::run_seed_study and
// nn::run_study (nn/study/study_seeds.h, nn/study/study.h).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <charconv>
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include "apps/common/cli_validators.h"
#include "attention/registry.h"
#include "core/core.h"
#include "core/util/strings.h"
#include "datasets/dataset_source.h"
#include "datasets/formats/cifar.h"
#include "datasets/grayscale.h"
#include "nn/distributed/runtime.h"
#include "nn/study/study_seeds.h"
#include "nn/study/study_speed.h"
#include "nn/train/recipe.h"

using namespace attnlab;

static std::atomic<bool> g_stop{false};

// "0,1,2" -> {0, 1, 2}: non-negative integers, no duplicates.
static std::vector<uint64_t> parse_seeds(const std::string& spec) {
    std::vector<uint64_t> seeds;
    for (const std::string& part : split(spec, ',')) {
        uint64_t seed = 0;
        const char* end = part.data() + part.size();
        auto [ptr, ec] = std::from_chars(part.data(), end, seed);
        check(!part.empty() && ec == std::errc() && ptr == end, "--seeds '", spec, "': '", part,
              "' is not a seed (a non-negative integer below 2^64); expected a list like 0,1,2");
        check(std::find(seeds.begin(), seeds.end(), seed) == seeds.end(), "--seeds '", spec, "': seed ", seed,
              " is listed twice");
        seeds.push_back(seed);
    }
    return seeds;
}
static void on_signal(int) {
    if (g_stop.exchange(true)) _exit(130);
    const char msg[] = "\nstopping after this step; run the same command again to continue\n";
    [[maybe_unused]] ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
}

// Under mpirun: run (seed s, variant v) is job s_pos·V + v_pos, trained by rank job % P;
// each run is an ordinary single-process run, so its result is the same as run alone.
static void spread_over_ranks(nn::StudyOptions& study, const std::vector<uint64_t>& seeds) {
    const std::vector<std::string> names = study.variants.empty() ? attention::attention_names() : study.variants;
    study.runs_here = [names, seeds](const std::string& variant, uint64_t seed) {
        const size_t v = size_t(std::find(names.begin(), names.end(), variant) - names.begin());
        const size_t s = size_t(std::find(seeds.begin(), seeds.end(), seed) - seeds.begin());
        return distributed::owns_job(s * names.size() + v);
    };
}

// Everything the command line sets; the model and optimization default to the recipe
// (nn/train/recipe.h) with the study's shorter budget.
struct Args {
    nn::StudyOptions study;
    std::string variants, data_dir;
    std::vector<std::string> opts;
    int64_t train_subset = 0, eval_subset = 0, val_split = 0;
    bool quick = false, lra_image = false;
    int threads = 0;
    int64_t memory_limit_mb = 0;  // 0: 90 % of this machine's memory, shared among the ranks on it
    std::string seeds_spec = "0,1,2";
    std::string speed = "auto";  // bench/study_speed.py's JSON, "auto" (found beside OUT) or "none"
    Args() { study.model = nn::recipe::vit_model(), study.train = nn::recipe::study_training(); }
};

static void add_options(CLI::App& app, Args& a) {
    nn::ViTConfig& m = a.study.model;
    nn::TrainOptions& t = a.study.train;
    app.add_option("--variants", a.variants, "comma-separated variants (default: all registered)");
    app.add_option("--attention-opt", a.opts, "per-variant option variant.name=value (repeatable)");
    app.add_flag("--quick", a.quick, "smoke-check budget: first 2,000 training images, 1,000 test images, 3 epochs");
    app.add_option("--dim", m.dim, "embedding dim")->check(CLI::Range(8, 4096));
    app.add_option("--depth", m.depth, "blocks")->check(CLI::Range(1, 64));
    app.add_option("--heads", m.heads, "heads")->check(CLI::Range(1, 64));
    app.add_option("--patch", m.patch_size, "patch size")->check(CLI::IsMember({1, 2, 4, 8, 16, 32}));
    app.add_option("--mlp-ratio", m.mlp_ratio, "MLP ratio")->check(kFinite)->check(CLI::Range(0.25, 16.0));
    app.add_option("--drop-path", m.drop_path, "stochastic depth")->check(kFinite)->check(CLI::Range(0.0, 0.9));
    app.add_option("--epochs", t.epochs, "epochs per variant")->check(CLI::Range(1, 10000));
    app.add_option("--batch", t.batch_size, "batch size")->check(CLI::Range(1, 4096));
    app.add_option("--lr", t.lr, "peak learning rate")->check(kFinite)->check(CLI::Range(1e-7, 10.0));
    app.add_option("--warmup", t.warmup_epochs, "warmup epochs")->check(kFinite)->check(CLI::Range(0.0, 1000.0));
    auto* seeds_opt = app.add_option("--seeds", a.seeds_spec, "seeds, each a whole study in OUT/seed<s>/ (every variant trains with the same seed); the report aggregates them");
    app.add_option("--seed", a.seeds_spec, "one seed: the same as --seeds N")->excludes(seeds_opt)->default_str("");
    app.add_flag("--report-only", a.study.report_only, "train nothing: write the report of the finished runs");
    app.add_option("--speed", a.speed,
                   "speed table for the report's speed, time and memory columns: bench/study_speed.py's JSON "
                   "for this model; auto = OUT/ or its parent's study_speed.json or study_speed_<tokens>.json "
                   "if one is for this model's tokens; none = the training runs' own times");
    app.add_flag("--trivial-augment", t.trivial_augment, "add TrivialAugment to crop + flip (as vit_train --trivial-augment)");
    app.add_option("--data", a.data_dir, "CIFAR-10 binary directory (default: $CIFAR10_DIR or data/cifar-10-batches-bin)");
    app.add_option("--train-subset", a.train_subset, "first N training images only")->check(CLI::Range(int64_t(0), int64_t(50000)));
    app.add_option("--eval-subset", a.eval_subset, "first N eval images only")->check(CLI::Range(int64_t(0), int64_t(50000)));
    app.add_option("--val-split", a.val_split, "evaluate on the last N training images instead of the test set")->check(CLI::Range(int64_t(0), int64_t(49999)));
    app.add_flag("--lra-image", a.lra_image,
                 "the Long Range Arena 'Image' protocol: grey pixel tokens (patch 1: 1024 + the class token), "
                 "no augmentation, 45,000 training images (the last 5,000 are LRA's validation set, left "
                 "unused), evaluated on the 10,000 test images");
    app.add_option("--out", a.study.out_dir, "output directory (study.md, CSVs, plots, runs/<variant>/)");
    app.add_option("--threads", a.threads, "threads (0 = all cores)")->check(CLI::Range(0, 256));
    app.add_option("--memory-limit-mb", a.memory_limit_mb,
                   "live tensor memory a variant may use, in MB; one that needs more gets an 'out of memory' row "
                   "and the study goes on (0 = 90 % of this machine's memory, shared among the ranks on it)")
        ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
}

// --quick: a smoke-check budget, for every setting the command line leaves open.
static void apply_quick(const CLI::App& app, Args& a) {
    if (a.train_subset == 0) a.train_subset = 2000;
    if (a.eval_subset == 0) a.eval_subset = 1000;
    if (app.count("--epochs") == 0) a.study.train.epochs = 3;
    if (app.count("--warmup") == 0) a.study.train.warmup_epochs = 0.5;
    if (app.count("--out") == 0) a.study.out_dir = "results/quick";
    if (app.count("--seeds") + app.count("--seed") == 0) a.seeds_spec = "0";
}

// --lra-image: pixel tokens of one grey channel, no augmentation (the data side is load_data's).
static void apply_lra_image(const CLI::App& app, Args& a) {
    check(app.count("--patch") == 0 || a.study.model.patch_size == 1, "--lra-image and --patch ",
          a.study.model.patch_size, ": LRA's Image task uses one token per pixel (leave --patch out, or pass 1)");
    check(!a.study.train.trivial_augment, "--lra-image and --trivial-augment: LRA's Image task uses no augmentation");
    check(a.val_split == 0, "--lra-image and --val-split: LRA's split is fixed (45,000 training images, the last "
          "5,000 held out, the 10,000 test images evaluated); pass one of them");
    a.study.model.patch_size = 1, a.study.model.channels = 1;
    a.study.train.augment = false;
}

// --variants and --attention-opt variant.name=value, checked against the registry before any data is loaded.
static void parse_variants(Args& a) {
    for (const std::string& v : split(a.variants, ','))
        if (!v.empty()) {
            attention::attention_info(v);  // a bad name fails here, before the data is loaded
            a.study.variants.push_back(v);
        }
    for (const std::string& o : a.opts) {
        size_t dot = o.find('.');
        check(dot != std::string::npos && dot > 0, "--attention-opt '", o, "': expected variant.name=value");
        std::string variant = o.substr(0, dot);
        attention::Options parsed = attention::Options::parse({o.substr(dot + 1)}, attention::attention_info(variant).options, variant);
        for (const auto& [k, v] : parsed.values()) a.study.variant_options[variant].set(k, v);
    }
}

struct Data {
    datasets::ImageDataset train_set, eval_set;
    std::string eval_name = "test";  // or "val" with --val-split
    datasets::Normalization norm = datasets::Normalization::cifar10();
};

// The LRA Image task's images of 32 x 32 = 1024 grey pixels, its first 45,000 training images for
// training, the test set for evaluation; normalized by the grey training set's own statistics.
static constexpr int64_t kLraValidationImages = 5000;
static void to_lra_image(Data& d) {
    check(d.train_set.size() > kLraValidationImages, "--lra-image: the training set has ", d.train_set.size(),
          " images, but LRA holds out the last ", kLraValidationImages, " as its validation set");
    d.train_set = datasets::to_grayscale(d.train_set.subset(0, d.train_set.size() - kLraValidationImages));
    d.eval_set = datasets::to_grayscale(d.eval_set);
    d.norm = datasets::channel_statistics(d.train_set);
}

static Data load_data(Args& a) {
    Data d;
    a.data_dir = datasets::resolve_cifar10_dir(a.data_dir);
    d.train_set = datasets::load_cifar10(a.data_dir, datasets::Split::Train);
    if (a.val_split > 0) {
        d.eval_set = d.train_set.subset(d.train_set.size() - a.val_split, d.train_set.size());
        d.train_set = d.train_set.subset(0, d.train_set.size() - a.val_split);
        d.eval_name = "val";
    } else {
        d.eval_set = datasets::load_cifar10(a.data_dir, datasets::Split::Test);
    }
    if (a.lra_image) to_lra_image(d);
    if (a.train_subset > 0 && a.train_subset < d.train_set.size()) d.train_set = d.train_set.subset(0, a.train_subset);
    if (a.eval_subset > 0 && a.eval_subset < d.eval_set.size()) d.eval_set = d.eval_set.subset(0, a.eval_subset);
    return d;
}

// What study.md records: the command line and a one-line budget; printed as the header.
static void describe_study(nn::StudyOptions& study, const Data& d, int argc, char** argv) {
    const nn::TrainOptions& t = study.train;
    const nn::ViTConfig& m = study.model;
    for (int i = 0; i < argc; ++i) study.command += (i ? " " : "") + std::string(argv[i]);
    const char* augment = !t.augment ? ", no augmentation" : t.trivial_augment ? ", crop+flip+TrivialAugment" : ", crop+flip";
    const char* images = m.channels == 1 ? " grey images" : " images";
    study.budget = cat(t.epochs, " epochs on ", d.train_set.size(), " training", images, " (batch ", t.batch_size,
                       ", AdamW lr ", t.lr, ", warmup ", t.warmup_epochs, ", cosine, label smoothing ",
                       t.label_smoothing, augment, "), evaluated on ", d.eval_set.size(), " ", d.eval_name, images);
    std::printf("attention study: %s\nmodel: dim %ld, depth %ld, heads %ld, patch %ld (%ld tokens); threads %d, OpenBLAS %s\n",
                study.budget.c_str(), long(m.dim), long(m.depth), long(m.heads), long(m.patch_size),
                long(m.num_tokens()), num_threads(), blas_info().c_str());
}

// --speed: the speed table the report quotes ("" for none), checked before any training starts.
static std::string speed_file(const std::string& spec, const std::string& out_dir, int64_t tokens, bool lra_image) {
    if (spec == "none") return "";
    if (spec == "auto" && lra_image) {  // the tables of bench/study_speed.py are for RGB models with augmentation
        std::printf("speed columns from the training runs (--lra-image: no speed table is measured for it)\n");
        return "";
    }
    if (spec == "auto") {
        const std::optional<std::string> found = nn::find_speed_table(out_dir, tokens);
        if (found) std::printf("speed columns from %s (measured on one machine; --speed none for the runs' own)\n", found->c_str());
        return found.value_or("");
    }
    const nn::SpeedTable table = nn::read_speed_table(spec);  // a bad file fails here, with its name
    check(table.tokens == tokens, "--speed '", spec, "': measured at ", table.tokens, " tokens, but this study's model has ",
          tokens, " (pass the table of this model, or --speed none)");
    return spec;
}

// --memory-limit-mb in bytes; by default 90 % of the physical memory, shared among the ranks on this machine.
static size_t memory_limit_bytes(int64_t mb) {
    if (mb > 0) return size_t(mb) << 20;
    const double physical = double(sysconf(_SC_PHYS_PAGES)) * double(sysconf(_SC_PAGE_SIZE));
    return size_t(0.9 * physical / std::max(1, distributed::local_size()));
}

// Trains (or continues) every (variant, seed) run; under mpirun the runs are spread over the
// ranks and rank 0 then reports all of them from their files.
static void run_all(nn::StudyOptions& study, const std::vector<uint64_t>& seeds, const Data& d) {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    if (distributed::size() > 1) spread_over_ranks(study, seeds);
    nn::run_seed_study(study, seeds, d.train_set, d.eval_set, d.norm, &g_stop);
    if (distributed::size() > 1) {  // every rank done: rank 0 reports all the runs from their files
        distributed::barrier();
        if (distributed::rank() == 0) {
            study.runs_here = nullptr, study.report_only = true;
            nn::run_seed_study(study, seeds, d.train_set, d.eval_set, d.norm, &g_stop);
        }
    }
}

int main(int argc, char** argv) {
    distributed::init(argc, argv);
    CLI::App app{"attention_study: the same ViT recipe trained once per attention variant on CIFAR-10"};
    app.option_defaults()->always_capture_default();
    Args a;
    add_options(app, a);
    CLI11_PARSE(app, argc, argv);
    try {
        if (a.threads > 0) set_num_threads(a.threads);
        else if (distributed::local_size() > 1)  // mpirun: the ranks on one machine share its cores
            set_num_threads(std::max(1, num_threads() / distributed::local_size()));
        if (a.quick) apply_quick(app, a);
        if (a.lra_image) apply_lra_image(app, a);
        const std::vector<uint64_t> seeds = parse_seeds(a.seeds_spec);
        parse_variants(a);
        a.study.memory_limit_bytes = memory_limit_bytes(a.memory_limit_mb);
        a.study.model.validate();
        a.study.speed_file = speed_file(a.speed, a.study.out_dir, a.study.model.num_tokens(), a.lra_image);
        Data d = load_data(a);
        a.study.train.extra_config = {{"class_names", d.train_set.class_names}, {"eval_set", d.eval_name}};
        describe_study(a.study, d, argc, argv);
        run_all(a.study, seeds, d);
        if (distributed::rank() == 0)
            std::printf("\nwrote %s/study.md (seeds %s)%s\n", a.study.out_dir.c_str(), a.seeds_spec.c_str(),
                        g_stop ? "; stopped early: run the same command again to continue" : "");
        distributed::finalize();
        return g_stop ? 130 : 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        if (distributed::size() > 1) distributed::abort_all(1);  // the other ranks would wait for this one
        return 1;
    }
}

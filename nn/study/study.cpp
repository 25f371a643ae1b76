// study.cpp — see study.h.
#include "nn/study/study.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <new>
#include <optional>
#include <set>

#include "attention/registry.h"
#include "core/autograd/autograd.h"
#include "core/kernels/blas.h"
#include "core/util/error.h"
#include "core/kernels/parallel.h"
#include "core/util/rng.h"
#include "nn/io/atomic_file.h"
#include "nn/io/checkpoint.h"

namespace attnlab::nn {

namespace {
double median(std::vector<double> v) {  // v non-empty
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}
}  // namespace

namespace fs = std::filesystem;

// One epoch from a metrics.jsonl line or from a row's saved curve (the same keys).
static StudyEpoch epoch_from_json(const nlohmann::json& j) {
    return {j.value("epoch", int64_t(0)), j.value("seconds", 0.0), j.value("eval_acc", 0.0), j.value("train_acc", 0.0)};
}

static nlohmann::json curve_to_json(const std::vector<StudyEpoch>& curve) {
    nlohmann::json a = nlohmann::json::array();
    for (const StudyEpoch& e : curve)
        a.push_back({{"epoch", e.epoch}, {"seconds", e.seconds}, {"eval_acc", e.eval_acc}, {"train_acc", e.train_acc}});
    return a;
}

static nlohmann::json row_to_json(const StudyRow& r) {
    return {{"variant", r.variant},     {"options", r.options},         {"complexity", r.complexity},
            {"status", r.status},       {"parameters", r.parameters},   {"epochs", r.epochs},
            {"best_acc", r.best_acc},   {"final_acc", r.final_acc},     {"seconds_per_epoch", r.seconds_per_epoch},
            {"train_images_per_sec", r.train_images_per_sec},
            {"inference_images_per_sec", r.inference_images_per_sec}, {"peak_train_mb", r.peak_train_mb},
            {"curve", curve_to_json(r.curve)}, {"machine", r.machine}, {"reason", r.reason}};
}

static StudyRow row_from_json(const nlohmann::json& j) {
    StudyRow r;
    r.variant = j.value("variant", ""), r.options = j.value("options", ""), r.complexity = j.value("complexity", "");
    r.status = j.value("status", ""), r.parameters = j.value("parameters", int64_t(0)), r.epochs = j.value("epochs", int64_t(0));
    r.best_acc = j.value("best_acc", 0.0), r.final_acc = j.value("final_acc", 0.0);
    r.seconds_per_epoch = j.value("seconds_per_epoch", 0.0), r.train_images_per_sec = j.value("train_images_per_sec", 0.0);
    r.inference_images_per_sec = j.value("inference_images_per_sec", 0.0), r.peak_train_mb = j.value("peak_train_mb", 0.0);
    r.machine = j.value("machine", ""), r.reason = j.value("reason", "");
    for (const nlohmann::json& e : j.value("curve", nlohmann::json::array())) r.curve.push_back(epoch_from_json(e));
    return r;
}

static std::vector<nlohmann::json> read_metrics(const fs::path& run_dir) {
    std::vector<nlohmann::json> rows;
    std::ifstream f(run_dir / "metrics.jsonl");
    for (std::string line; std::getline(f, line);) {
        nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded()) rows.push_back(j);
    }
    return rows;
}

// Forward-only throughput on up to 1024 eval images, batch 256, after one warm-up batch.
static double inference_images_per_sec(VisionTransformer& model, const datasets::ImageDataset& eval_set,
                                       const datasets::Normalization& norm) {
    datasets::ImageDataset sample = eval_set.subset(0, std::min<int64_t>(eval_set.size(), 1024));
    evaluate(model, sample.subset(0, std::min<int64_t>(sample.size(), 256)), norm, 256);
    EvalResult r = evaluate(model, sample, norm, 256);
    return double(r.images) / std::max(r.seconds, 1e-9);
}

// The training budget that must match for a finished run to be reused: the model,
// every option that decides what training computes, and the data sizes.
static nlohmann::json budget_key(const StudyOptions& o, const datasets::ImageDataset& train_set,
                                 const datasets::ImageDataset& eval_set) {
    return {{"model", o.model.to_json()}, {"train", o.train.to_json()}, {"train_images", train_set.size()},
            {"eval_images", eval_set.size()}, {"eval_set", o.train.extra_config.value("eval_set", "test")}};
}

// "  train.warmup_epochs: saved 1, this study 2" for every leaf that differs.
static void describe_differences(const nlohmann::json& saved, const nlohmann::json& now, const std::string& prefix,
                                 std::string& out) {
    if (saved.is_object() && now.is_object()) {
        std::set<std::string> keys;
        for (const auto& item : saved.items()) keys.insert(item.key());
        for (const auto& item : now.items()) keys.insert(item.key());
        for (const std::string& k : keys) {
            const nlohmann::json missing = "(not recorded)";
            describe_differences(saved.contains(k) ? saved[k] : missing, now.contains(k) ? now[k] : missing,
                                 prefix.empty() ? k : prefix + "." + k, out);
        }
    } else if (saved != now) {
        out += "\n  " + prefix + ": saved " + saved.dump() + ", this study " + now.dump();
    }
}

std::string machine_description() {
    std::string cpu = "unknown CPU";
    std::ifstream f("/proc/cpuinfo");
    for (std::string line; std::getline(f, line);)
        if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
            cpu = line.substr(line.find(':') + 1);
            cpu.erase(0, cpu.find_first_not_of(" \t"));
            break;
        }
    return cat(cpu, ", ", num_threads(), " threads, OpenBLAS ", blas_info());
}

[[noreturn]] static void throw_other_budget(const fs::path& run_dir, const std::string& what, const std::string& file,
                                           const nlohmann::json& saved_key, const nlohmann::json& key) {
    std::string differences;
    if (saved_key.is_object()) describe_differences(saved_key, key, "", differences);
    else differences = "\n  its " + file + " is unreadable or has no budget";
    throw Error(cat("study: ", run_dir.string(), " holds ", what, " with another budget:", differences,
                    "\nchoose another --out directory, or remove ", run_dir.string(), " to train this variant again"));
}

// The row of a finished run with this budget (its study_row.json), or nothing if the variant
// has not finished; a finished run with another budget throws: never mixed in, never deleted.
static std::optional<StudyRow> finished_row(const fs::path& run_dir, const nlohmann::json& key) {
    const fs::path row_file = run_dir / "study_row.json";
    if (!fs::exists(row_file)) return std::nullopt;
    std::ifstream f(row_file);
    nlohmann::json saved = nlohmann::json::parse(f, nullptr, false);
    const nlohmann::json saved_key = saved.is_discarded() ? nlohmann::json() : saved.value("budget", nlohmann::json());
    if (saved_key != key) throw_other_budget(run_dir, "a finished run", "study_row.json", saved_key, key);
    StudyRow r = row_from_json(saved["row"]);
    if (r.curve.empty())  // a row written before rows kept their curve
        for (const nlohmann::json& m : read_metrics(run_dir)) r.curve.push_back(epoch_from_json(m));
    return r;
}

// An unfinished run resumes only with the budget it started with; records the budget it trains with.
static void claim_run_dir(const fs::path& run_dir, const nlohmann::json& key) {
    const fs::path budget_file = run_dir / "budget.json";
    if (fs::exists(budget_file)) {
        std::ifstream f(budget_file);
        const nlohmann::json saved_key = nlohmann::json::parse(f, nullptr, false);
        if (saved_key != key) throw_other_budget(run_dir, "an unfinished run", "budget.json", saved_key, key);
    }
    fs::create_directories(run_dir);
    write_file_atomic(budget_file.string(), key.dump(2) + "\n");
}

// The study's training options for one variant's run directory: resume if it holds a checkpoint.
static TrainOptions variant_training(const StudyOptions& o, const std::string& name, const fs::path& run_dir) {
    TrainOptions t = o.train;
    t.run_dir = run_dir.string();
    t.resume = has_training_state((run_dir / "last").string()) || fs::exists(run_dir / "last.old");
    t.overwrite = !t.resume;  // the study's own run directory: leftovers of a run killed before its first checkpoint
    t.resume_hint = "run the same attention_study command again to continue";
    t.extra_config["study_variant"] = name;
    return t;
}

// "features=64, ..." with the registry defaults filled in for options the study does not override.
static std::string effective_options(const std::string& name, const attention::Options& overrides) {
    attention::Options effective;
    for (const attention::OptionSpec& spec : attention::attention_info(name).options)
        effective.set(spec.name, overrides.has(spec.name) ? overrides.values().at(spec.name) : spec.default_value);
    return effective.to_string();
}

// The measured row of a finished (or diverged) run: accuracies and times from its metrics.jsonl.
static StudyRow measure_row(const std::string& name, const ViTConfig& cfg, VisionTransformer& model,
                            const TrainResult& result, const fs::path& run_dir, const datasets::ImageDataset& eval_set,
                            const datasets::Normalization& norm, double peak_mb) {
    StudyRow r;
    r.variant = name;
    r.options = effective_options(name, cfg.attention_options);
    r.complexity = attention::attention_info(name).complexity;
    r.parameters = model.num_parameters();
    r.status = result.reason == StopReason::Finished ? "finished" : "diverged (non-finite loss)";
    std::vector<nlohmann::json> metrics = read_metrics(run_dir);
    std::vector<double> seconds, ips;
    for (const nlohmann::json& m : metrics) {
        r.best_acc = std::max(r.best_acc, m.value("eval_acc", 0.0));
        seconds.push_back(m.value("seconds", 0.0)), ips.push_back(m.value("images_per_sec", 0.0));
        r.curve.push_back(epoch_from_json(m));
    }
    r.epochs = int64_t(metrics.size());
    if (!metrics.empty()) {
        r.final_acc = metrics.back().value("eval_acc", 0.0);
        // medians: an epoch slowed by other work on the cores (or a pause) does not move them
        r.seconds_per_epoch = median(seconds);
        r.train_images_per_sec = median(ips);
    }
    r.inference_images_per_sec = inference_images_per_sec(model, eval_set, norm);
    r.peak_train_mb = peak_mb;
    r.machine = machine_description();
    return r;
}

// The row of a variant that could not train within the memory: the error and the peak reached.
static StudyRow out_of_memory_row(const std::string& name, const ViTConfig& cfg, const std::string& reason,
                                  double peak_mb) {
    StudyRow r;
    r.variant = name;
    r.options = effective_options(name, cfg.attention_options);
    r.complexity = attention::attention_info(name).complexity;
    r.status = "out of memory";
    r.reason = reason;
    r.peak_train_mb = peak_mb;
    r.machine = machine_description();
    return r;
}

// Sets the live-tensor limit for one variant's training and restores the previous one after.
struct StorageLimitScope {
    explicit StorageLimitScope(size_t bytes) : previous(storage_limit()) { set_storage_limit(bytes); }
    ~StorageLimitScope() { set_storage_limit(previous); }
    size_t previous;
};

// Trains (or resumes) one variant in run_dir; its row, or nothing if interrupted (resumable).
static std::optional<StudyRow> train_variant(const StudyOptions& o, const std::string& name, const fs::path& run_dir,
                                             const nlohmann::json& key, const std::string& counter,
                                             const datasets::ImageDataset& train_set, const datasets::ImageDataset& eval_set,
                                             const datasets::Normalization& norm, const std::atomic<bool>* stop_flag) {
    claim_run_dir(run_dir, key);
    ViTConfig cfg = o.model;
    cfg.attention = name;
    cfg.attention_options = o.variant_options.count(name) ? o.variant_options.at(name) : attention::Options{};
    const TrainOptions t = variant_training(o, name, run_dir);
    std::printf("\n%s %s%s\n", counter.c_str(), name.c_str(), t.resume ? " (resuming)" : "");
    std::fflush(stdout);
    const size_t base = storage_bytes_in_use();
    reset_storage_peak();
    const auto peak_mb = [base] { return double(storage_bytes_peak() - base) / 1e6; };
    std::optional<StudyRow> row;
    try {
        const StorageLimitScope limit(o.memory_limit_bytes ? base + o.memory_limit_bytes : 0);
        manual_seed(t.seed);  // the same initialization stream for every variant
        auto model = std::make_shared<VisionTransformer>(cfg);
        Trainer trainer(model, t, train_set, eval_set, norm);
        trainer.set_stop_flag(stop_flag);
        TrainResult result = trainer.fit();
        std::printf("%s\n", result.message.c_str());
        if (result.reason == StopReason::Interrupted) return std::nullopt;
        row = measure_row(name, cfg, *model, result, run_dir, eval_set, norm, peak_mb());
    } catch (const OutOfMemoryError& e) {
        row = out_of_memory_row(name, cfg, e.what(), peak_mb());
    } catch (const std::bad_alloc&) {
        row = out_of_memory_row(name, cfg, "the system refused an allocation (std::bad_alloc)", peak_mb());
    }
    if (row->status == "out of memory")
        std::printf("%s %s: out of memory, recorded as such: %s\n(remove %s to try it again, e.g. with a larger "
                    "memory limit)\n", counter.c_str(), name.c_str(), row->reason.c_str(),
                    (run_dir / "study_row.json").string().c_str());
    write_file_atomic((run_dir / "study_row.json").string(),
                      nlohmann::json{{"budget", key}, {"row", row_to_json(*row)}}.dump(2) + "\n");
    return row;
}

std::vector<StudyRow> run_study(const StudyOptions& o, const datasets::ImageDataset& train_set,
                                const datasets::ImageDataset& eval_set, const datasets::Normalization& norm,
                                const std::atomic<bool>* stop_flag) {
    std::vector<std::string> variants = o.variants.empty() ? attention::attention_names() : o.variants;
    for (const std::string& v : variants) attention::attention_info(v);  // fail early on a bad name
    if (!o.report_only) fs::create_directories(fs::path(o.out_dir) / "runs");
    std::vector<StudyRow> rows;
    for (size_t i = 0; i < variants.size(); ++i) {
        const std::string& name = variants[i];
        const std::string counter = cat("[", i + 1, "/", variants.size(), "]");
        fs::path run_dir = fs::path(o.out_dir) / "runs" / name;
        nlohmann::json key = budget_key(o, train_set, eval_set);
        key["options"] = o.variant_options.count(name) ? o.variant_options.at(name).to_string() : "";
        if (std::optional<StudyRow> done = finished_row(run_dir, key)) {
            if (done->status == "out of memory")
                std::printf("%s %s: ran out of memory before, skipped\n", counter.c_str(), name.c_str());
            else
                std::printf("%s %s: already done (best %.2f%%), skipped\n", counter.c_str(), name.c_str(),
                            100 * done->best_acc);
            rows.push_back(*done);
            rows.back().train_images = train_set.size();
            continue;
        }
        if (o.report_only) {
            std::printf("%s %s: not finished yet\n", counter.c_str(), name.c_str());
            continue;
        }
        if (o.runs_here && !o.runs_here(name, o.train.seed)) continue;  // another process trains it
        std::optional<StudyRow> row = train_variant(o, name, run_dir, key, counter, train_set, eval_set, norm, stop_flag);
        if (!row) break;  // interrupted: resumable, no row written
        rows.push_back(*row);
        rows.back().train_images = train_set.size();
        if (!o.runs_here) write_study_report(o, rows);  // a partial report after every variant
    }
    // With runs spread over processes, each holds only its own rows: the caller reports.
    if (!o.runs_here && (!o.report_only || !rows.empty())) write_study_report(o, rows);
    return rows;
}

}  // namespace attnlab::nn

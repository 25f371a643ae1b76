// study_seeds.cpp — see study_seeds.h.
#include "nn/study/study_seeds.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <utility>

#include "attention/registry.h"
#include "core/util/error.h"
#include "nn/study/study_stats.h"

namespace attnlab::nn {

namespace fs = std::filesystem;

std::string seed_dir(const std::string& out_dir, uint64_t seed) {
    return (fs::path(out_dir) / ("seed" + std::to_string(seed))).string();
}

RowsBySeed run_seed_study(const StudyOptions& o, const std::vector<uint64_t>& seeds, const datasets::ImageDataset& train_set,
                          const datasets::ImageDataset& eval_set, const datasets::Normalization& norm,
                          const std::atomic<bool>* stop_flag) {
    check(!seeds.empty(), "study: no seeds given");
    RowsBySeed rows;
    for (uint64_t seed : seeds) {
        StudyOptions one = o;
        one.train.seed = seed;
        one.out_dir = seed_dir(o.out_dir, seed);
        std::printf("\n== seed %lu (%s) ==\n", (unsigned long)seed, one.out_dir.c_str());
        rows[seed] = run_study(one, train_set, eval_set, norm, stop_flag);
        if (stop_flag && stop_flag->load()) break;
    }
    if (!o.runs_here) write_seeds_report(o, seeds, rows);
    return rows;
}

namespace {

// Variant -> (seed -> final accuracy), over finished rows only, in first-seen order.
struct Accuracies {
    std::vector<std::string> order;
    std::map<std::string, std::map<uint64_t, double>> final_acc, best_acc;
    std::map<std::pair<std::string, uint64_t>, std::string> out_of_memory;  // (variant, seed) -> reason
};

Accuracies collect(const RowsBySeed& rows) {
    Accuracies a;
    for (const auto& [seed, list] : rows)
        for (const StudyRow& r : list) {
            if (r.status == "out of memory")
                a.out_of_memory[{r.variant, seed}] = r.reason;
            if (r.status != "finished") continue;
            if (!a.final_acc.count(r.variant)) a.order.push_back(r.variant);
            a.final_acc[r.variant][seed] = r.final_acc;
            a.best_acc[r.variant][seed] = r.best_acc;
        }
    return a;
}

std::vector<double> values(const std::map<uint64_t, double>& by_seed) {
    std::vector<double> v;
    for (const auto& [seed, x] : by_seed) v.push_back(x);
    return v;
}

std::string percent(double x, int decimals = 2) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, 100 * x);
    return buf;
}

// "66.22 / 65.80 / –" in the order of seeds
std::string per_seed(const std::map<uint64_t, double>& by_seed, const std::vector<uint64_t>& seeds) {
    std::string s;
    for (uint64_t seed : seeds) {
        auto it = by_seed.find(seed);
        s += (s.empty() ? "" : " / ") + (it == by_seed.end() ? std::string("–") : percent(it->second));
    }
    return s;
}

// "66.00 ± 4.95", or "66.00" when there is no spread to give (fewer than 2 values)
std::string mean_std(const SampleStats& s, bool sign = false) {
    const std::string m = cat(sign && s.mean >= 0 ? "+" : "", percent(s.mean));
    return s.n < 2 ? m : m + " ± " + percent(s.std);
}

std::string verdict(const PairedDifference& d) {
    if (d.diff.n < 2) return "too few seeds";
    if (!d.exceeds_noise) return "no";
    return d.diff.mean > 0 ? "**yes, better**" : "**yes, worse**";
}

// One variant's line of the table and of study_seeds.csv: accuracy over seeds and the paired
// difference to the baseline.
void write_variant_row(std::ostream& md, std::ostream& csv, const std::string& v, const Accuracies& acc,
                       const std::vector<uint64_t>& seeds, const std::map<uint64_t, double>& base,
                       const std::string& baseline) {
    const SampleStats s = sample_stats(values(acc.final_acc.at(v)));
    const SampleStats best = sample_stats(values(acc.best_acc.at(v)));
    md << "| " << v << " | " << s.n << " | " << mean_std(s) << " | " << per_seed(acc.final_acc.at(v), seeds) << " | ";
    csv << v << "," << s.n << "," << s.mean << "," << s.std << "," << best.mean << ",";
    if (v == baseline) {
        md << "(baseline) | | |\n";
        csv << ",,,,\n";
        return;
    }
    const PairedDifference d = paired_difference(acc.final_acc.at(v), base);
    if (d.diff.n == 0) {
        md << "no common seed | | |\n";
        csv << ",,,0,\n";
        return;
    }
    md << mean_std(d.diff, true) << " | ";
    if (d.diff.n >= 2) md << "[" << percent(d.diff.mean - d.ci95) << ", " << percent(d.diff.mean + d.ci95) << "]";
    md << " | " << verdict(d) << " |\n";
    csv << d.diff.mean << "," << d.diff.std << "," << d.ci95 << "," << d.diff.n << ","
        << (d.diff.n >= 2 ? (d.exceeds_noise ? "yes" : "no") : "") << "\n";
}

// "Out of memory: ..." for the runs that did not fit, and "Not finished yet: ..." for every other
// (variant, seed) run without a finished row.
void write_missing(std::ostream& md, const StudyOptions& o, const std::vector<uint64_t>& seeds, const Accuracies& acc) {
    std::vector<std::string> missing;
    const std::vector<std::string> names = o.variants.empty() ? attention::attention_names() : o.variants;
    for (const std::string& v : names)
        for (uint64_t seed : seeds) {
            const std::string run = v + " (seed " + std::to_string(seed) + ")";
            if (auto oom = acc.out_of_memory.find({v, seed}); oom != acc.out_of_memory.end())
                md << "\nOut of memory: " << run << ": " << oom->second << "\n";
            else if (!acc.final_acc.count(v) || !acc.final_acc.at(v).count(seed))
                missing.push_back(run);
        }
    if (!missing.empty()) md << "\nNot finished yet: " << join(missing) << ".\n";
}

}  // namespace

void write_seeds_report(const StudyOptions& o, const std::vector<uint64_t>& seeds, const RowsBySeed& rows,
                        const std::string& baseline) {
    const Accuracies acc = collect(rows);
    const std::map<uint64_t, double> none;
    const std::map<uint64_t, double>& base = acc.final_acc.count(baseline) ? acc.final_acc.at(baseline) : none;
    std::string seed_list;
    for (uint64_t s : seeds) seed_list += (seed_list.empty() ? "" : ", ") + std::to_string(s);
    const std::string eval_name = o.train.extra_config.value("eval_set", std::string("test"));

    fs::create_directories(o.out_dir);
    std::ofstream md(fs::path(o.out_dir) / "study.md");
    std::ofstream csv(fs::path(o.out_dir) / "study_seeds.csv");
    md << "# Attention study on CIFAR-10, seeds " << seed_list << "\n\n"
       << "Produced by:\n\n```\n" << o.command << "\n```\n\n"
       << "Budget per run: " << o.budget << ". Model: " << o.model.to_json().dump() << ".\n\n"
       << "Each seed is a whole study in `seed<s>/`. "
       << (o.speed_file.empty()
               ? std::string("Its own `study.md` holds the times measured during training, which are not comparable "
                             "across machines or with other work on the cores. ")
               : "Its own `study.md` gives every variant's speed, time and memory as measured on one machine in "
                 "one run (`" + o.speed_file + "`), not the training runs' times. ")
       << "Accuracy is the "
       << eval_name << " accuracy after the last epoch. Δ is the paired difference to " << baseline
       << " over the seeds both finished (same seed: same initialization of the shared layers, same data order and "
          "augmentation); its 95 % interval is mean ± t(0.975, n−1)·std/√n, and a difference exceeds seed noise "
          "when that interval excludes 0.\n\n"
       << "| variant | seeds done | final " << eval_name << " acc, mean ± std (%) | per seed " << seed_list
       << " (%) | Δ vs " << baseline << ", mean ± std (points) | 95 % interval of Δ | exceeds seed noise? |\n"
       << "|---|---:|---:|---:|---:|---:|---|\n";
    csv << "variant,seeds_done,final_acc_mean,final_acc_std,best_acc_mean,diff_mean,diff_std,diff_ci95,diff_seeds,"
           "exceeds_noise\n";
    for (const std::string& v : acc.order) write_variant_row(md, csv, v, acc, seeds, base, baseline);
    write_missing(md, o, seeds, acc);
}

}  // namespace attnlab::nn

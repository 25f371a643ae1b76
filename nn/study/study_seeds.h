// study_seeds.h — the attention study repeated over several seeds, and its
// aggregate report: mean ± std of each variant's final accuracy and its paired
// difference to the baseline (softmax) on the same seeds (nn/study/study_stats.h).
//
// Layout: seed s is a whole single-seed study (nn/study/study.h) in out_dir/seed<s>/
// (its runs in out_dir/seed<s>/runs/<variant>/, its own study.md with the
// times measured there); out_dir/study.md and study_seeds.csv aggregate them.
// A stopped multi-seed study continues where it stopped when run again:
// seeds run one after the other, every variant of a seed before the next seed.
#pragma once
#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nn/study/study.h"

namespace attnlab::nn {

// out_dir/seed<s>
std::string seed_dir(const std::string& out_dir, uint64_t seed);

// The finished rows of each seed, keyed by seed.
using RowsBySeed = std::map<uint64_t, std::vector<StudyRow>>;

// Runs (or resumes, or with options.report_only only collects) every seed's
// study, then writes the aggregate report (unless options.runs_here spreads the
// runs over processes: then each returns its own rows and one process reports,
// with report_only, once all are done). Stops early, resumably, on *stop_flag.
RowsBySeed run_seed_study(const StudyOptions& options, const std::vector<uint64_t>& seeds,
                          const datasets::ImageDataset& train_set, const datasets::ImageDataset& eval_set,
                          const datasets::Normalization& norm, const std::atomic<bool>* stop_flag = nullptr);

// out_dir/study.md (the seeds table) and out_dir/study_seeds.csv; baseline: the variant
// the paired differences are taken against.
void write_seeds_report(const StudyOptions& options, const std::vector<uint64_t>& seeds, const RowsBySeed& rows,
                        const std::string& baseline = "softmax");

}  // namespace attnlab::nn

// study_speed.h — the study's speed, time and memory columns from one machine.
//
// A study's runs take hours and may share their cores with other work, or run on several
// machines: their accuracies stay comparable, their times do not. bench/study_speed.py
// measures every variant of one study model in one run, on idle cores, round-robin:
// training and inference images/s, the GFLOP/s achieved on the step's analytic FLOPs, and
// the training process's peak RSS. The study report reads that JSON and quotes those numbers
// instead of the training runs' own times; its time axis becomes
//   seconds after epoch e = e · (training images) / (measured training images/s).
//
//   SpeedTable t = read_speed_table("results/study_speed.json");   // throws naming the file
//   auto found = find_speed_table("results/long1024", 1025);       // results/study_speed_1025.json
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace attnlab::nn {

struct MeasuredSpeed {
    double train_images_per_sec = 0, infer_images_per_sec = 0;
    double train_gflops = 0;       // achieved on the analytic FLOPs (0: an older file without them)
    double peak_train_rss_mb = 0;  // 0: not measured
};

struct SpeedTable {
    std::string path, machine;  // machine: CPU, threads, OpenBLAS kernels
    int64_t tokens = 0;         // the model's sequence length (class token included)
    std::map<std::string, MeasuredSpeed> variants;
};

// Reads bench/study_speed.py's JSON: the rows of its first OPENBLAS_CORETYPE setting. Throws an
// Error naming the file and what was expected when it is not such a file.
SpeedTable read_speed_table(const std::string& path);

// The speed table of a study with `tokens` tokens written to out_dir: study_speed.json or
// study_speed_<tokens>.json in out_dir or its parent, the first whose rows are for `tokens`.
std::optional<std::string> find_speed_table(const std::string& out_dir, int64_t tokens);

}  // namespace attnlab::nn

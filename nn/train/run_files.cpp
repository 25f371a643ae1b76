// run_files.cpp — see run_files.h.
#include "nn/train/run_files.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nn/io/atomic_file.h"

namespace attnlab::nn {

namespace fs = std::filesystem;

std::vector<nlohmann::json> read_metric_rows(const std::string& run_dir, const std::string& counter, int64_t up_to) {
    std::vector<nlohmann::json> rows;
    std::ifstream jl(fs::path(run_dir) / "metrics.jsonl");
    for (std::string line; std::getline(jl, line);) {
        if (line.empty()) continue;
        nlohmann::json r = nlohmann::json::parse(line, nullptr, false);
        if (!r.is_discarded() && r.value(counter, int64_t(0)) <= up_to) rows.push_back(r);
    }
    return rows;
}

void write_metric_rows(const std::string& run_dir, const std::vector<nlohmann::json>& rows) {
    std::ostringstream jl;
    for (const nlohmann::json& r : rows) jl << r.dump() << "\n";
    write_file_atomic((fs::path(run_dir) / "metrics.jsonl").string(), jl.str());
}

void write_summary(const std::string& run_dir, const nlohmann::json& summary) {
    write_file_atomic((fs::path(run_dir) / "summary.json").string(), summary.dump(2) + "\n");
}

TrainState resume_training(const std::string& dir, Module& model, Optimizer& optimizer) {
    load_model_weights(dir, model);
    return load_training_state(dir, optimizer, true, &model);
}

std::string saved_note(const std::string& checkpoint_dir, const std::string& hint) {
    return checkpoint_dir.empty() ? "" : "; checkpoint saved to " + checkpoint_dir + " (" + hint + ")";
}

bool live_progress(bool wanted) { return wanted && isatty(fileno(stdout)); }

void clear_progress_line(bool tty, int width) {
    if (tty) std::printf("\r%*s\r", width, "");
}

}  // namespace attnlab::nn

// run_files.h — what every training run shares, whatever it trains: the run
// directory's logs, its resume step and its console lines. Used by the ViT
// trainer (trainer.h) and the pixel trainer (nn/pixel/pixel_trainer.h).
//
//   run_dir/last/          checkpoint (checkpoint.h): weights, config.json, training state
//   run_dir/metrics.jsonl  one JSON object per logged epoch or step, rewritten atomically
//   run_dir/summary.json   the outcome of the last session, written atomically
// On resume the logged rows up to the checkpoint's epoch (or step) are kept and
// the rest dropped, so a resumed run logs every epoch (or step) exactly once.
// Cost: each rewrite writes all rows (a few KB per hundred rows).
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/module/module.h"
#include "core/util/duration.h"  // hms, for the progress and summary lines
#include "nn/io/checkpoint.h"
#include "nn/optim/optimizer.h"

namespace attnlab::nn {

// The rows of run_dir/metrics.jsonl whose `counter` ("epoch", "step") is at most `up_to`;
// unreadable lines are skipped, a missing file gives none.
std::vector<nlohmann::json> read_metric_rows(const std::string& run_dir, const std::string& counter, int64_t up_to);

// Replaces run_dir/metrics.jsonl by `rows`, one JSON object per line, atomically.
void write_metric_rows(const std::string& run_dir, const std::vector<nlohmann::json>& rows);

// Replaces run_dir/summary.json by `summary` (indented), atomically.
void write_summary(const std::string& run_dir, const nlohmann::json& summary);

// Loads the weights of `model` and the optimizer state and RNG of checkpoint `dir`
// (which holds training state); returns where the run stopped.
TrainState resume_training(const std::string& dir, Module& model, Optimizer& optimizer);

// "; checkpoint saved to DIR (HINT)", or "" when nothing is saved (no run directory).
std::string saved_note(const std::string& checkpoint_dir, const std::string& hint);

// Whether to draw a live progress line: wanted and stdout is a terminal.
bool live_progress(bool wanted);

// Ends a live progress line: erases it (`width` characters) when tty.
void clear_progress_line(bool tty, int width);

}  // namespace attnlab::nn

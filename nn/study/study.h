// study.h — the attention study: the same ViT recipe trained once per
// attention variant, with accuracy, speed and memory side by side.
//
// For each variant: the same model config (only the attention changes), the
// same seed (same init of shared layers, same data order and augmentation),
// the same budget. Each variant trains in out_dir/runs/<variant>/ with the
// usual checkpoints, so a stopped study continues where it stopped: finished
// variants are skipped, an interrupted one resumes from its last checkpoint.
// runs/<variant>/budget.json (written when training starts) and
// study_row.json (its measured row and curve, written when it finishes) are
// small and meant to be committed with the report: with them alone a fresh
// checkout continues the study without retraining finished variants, while
// the checkpoints stay out of version control. A run with another budget is
// never resumed or reused. Each row records the machine it was measured on:
// a study continued on another machine shows a "measured on" column, since
// its times (unlike its accuracies) are then not comparable across rows.
// A variant that does not fit in memory (the system refuses it, or it passes
// memory_limit_bytes) gets a row that says so, with the error and the peak it
// reached, instead of stopping the study.
// Measured per variant: parameters, best and final eval accuracy, training
// seconds per epoch, inference images/s (forward only, batch 256), peak
// tensor memory of training (live tensor bytes, deterministic) — next to the
// variant's theoretical complexity from the registry.
// With a speed table (StudyOptions::speed_file) the report quotes its speed, time and memory
// columns instead: every variant measured on one machine in one run, on idle cores.
// Outputs: out_dir/study.md, study.csv, study_epochs.csv, study_accuracy.png, study_time.png.
#pragma once
#include <atomic>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "datasets/image_dataset.h"
#include "nn/train/trainer.h"

namespace attnlab::nn {

struct StudyOptions {
    std::vector<std::string> variants;                          // empty: every registered variant
    std::map<std::string, attention::Options> variant_options;  // per-variant overrides of registry defaults
    ViTConfig model;                                            // attention fields are set per variant
    TrainOptions train;                                         // run_dir and resume are set per variant
    std::string out_dir = "results";
    std::string command;  // the command line, recorded in study.md
    std::string budget;   // a one-line description of the budget, recorded in study.md
    bool report_only = false;  // train nothing: report the finished runs only
    // bench/study_speed.py's JSON for this study's model (nn/study/study_speed.h): when set, the
    // report's speed, time and memory columns and its time axis come from it, measured on one
    // machine in one run, instead of from the training runs (which may have shared their cores).
    std::string speed_file;
    // Live tensor bytes a variant may use while it trains (0: no limit). A variant that needs
    // more gets an "out of memory" row with the measured reason, and the study goes on.
    size_t memory_limit_bytes = 0;
    // Which (variant, seed) runs this process trains; empty: all. Set by attention_study under
    // mpirun to spread the runs over the ranks (nn/distributed/runtime.h, owns_job).
    std::function<bool(const std::string& variant, uint64_t seed)> runs_here;
};

// One finished epoch of a variant's run, kept in its row for the curves.
struct StudyEpoch {
    int64_t epoch = 0;
    double seconds = 0, eval_acc = 0, train_acc = 0;
};

struct StudyRow {
    std::string variant, options, complexity;
    std::string status;  // "finished", "diverged (non-finite loss)" or "out of memory"
    std::string reason;  // why an "out of memory" run stopped: the error, with the sizes
    int64_t parameters = 0, epochs = 0;
    double best_acc = 0, final_acc = 0, seconds_per_epoch = 0, train_images_per_sec = 0;
    double inference_images_per_sec = 0, peak_train_mb = 0;
    std::vector<StudyEpoch> curve;  // per-epoch accuracies and times
    int64_t train_images = 0;       // per epoch (set by run_study): the time axis at a measured speed
    std::string machine;            // where the times were measured: CPU, threads, OpenBLAS kernels
};

// "AMD EPYC, 2 threads, OpenBLAS OpenMP, Zen": the CPU model, threads and BLAS kernels of this process.
std::string machine_description();

// Runs (or resumes) every variant and writes the outputs; returns the rows.
std::vector<StudyRow> run_study(const StudyOptions& options, const datasets::ImageDataset& train_set,
                                const datasets::ImageDataset& eval_set, const datasets::Normalization& norm,
                                const std::atomic<bool>* stop_flag = nullptr);

// Writes study.md / study.csv / study_epochs.csv from rows, and the plots (nn/report/plot.h).
void write_study_report(const StudyOptions& options, const std::vector<StudyRow>& rows);

}  // namespace attnlab::nn

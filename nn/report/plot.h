// plot.h — PNG plots through gnuplot: the scripts are written here and run here,
// so the training and study code only hand over CSV files and names.
//
//   script file (kept next to the PNGs, to re-run or edit)  →  gnuplot script  →  PNG
// gnuplot is optional: without it the scripts are still written, a note says so,
// and nothing fails. Cost: one gnuplot process per call.
#pragma once
#include <string>
#include <vector>

namespace attnlab::nn::report {

// Writes `script` to `script_path` (replacing it).
void write_gnuplot_script(const std::string& script_path, const std::string& script);

// Runs gnuplot on `script_path`; false after printing why when gnuplot is missing ("gnuplot not
// available: plots skipped") or when it fails on the script (its messages are then kept in
// script_path + ".log").
bool run_gnuplot(const std::string& script_path);

// `text` as a gnuplot single-quoted string: 'it''s' for it's (titles, labels, file names).
std::string gnuplot_quote(const std::string& text);

// The study's two plots from its per-epoch CSV (columns: variant, epoch,
// cumulative_seconds, eval_acc, ...): accuracy vs epoch (study_accuracy.png) and
// accuracy vs training time (study_time.png), one line per variant, in out_dir.
// The script is out_dir/study.gp; gnuplot runs only when there is a variant to plot.
void plot_study_curves(const std::string& out_dir, const std::string& epochs_csv,
                       const std::vector<std::string>& variants, const std::string& eval_name);

}  // namespace attnlab::nn::report

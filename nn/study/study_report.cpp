// study_report.cpp — a single-seed study's report (write_study_report in study.h): study.md,
// study.csv, study_epochs.csv and the two plots.
//
// The accuracy columns come from the runs. The speed, time and memory columns come either from
// a speed table (study_speed.h: every variant measured on one machine, in one run, on idle
// cores) or, without one, from the runs themselves, with the machine of each row named when
// they differ. With a table, epoch e of a variant ends at e · (training images) / (its measured
// training images/s): the time axis of the accuracy-vs-time plot.
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "nn/report/plot.h"
#include "nn/study/study.h"
#include "nn/study/study_speed.h"

namespace attnlab::nn {

namespace fs = std::filesystem;

namespace {

// A variant's measured speed from the table, if the table has it.
const MeasuredSpeed* measured(const std::optional<SpeedTable>& speed, const std::string& variant) {
    if (!speed) return nullptr;
    auto it = speed->variants.find(variant);
    return it == speed->variants.end() ? nullptr : &it->second;
}

// Seconds of one epoch's training steps at the measured speed; 0 when unknown.
double epoch_seconds_at(const MeasuredSpeed* s, const StudyRow& r) {
    return s && r.train_images > 0 ? double(r.train_images) / s->train_images_per_sec : 0.0;
}

void write_study_csv(const fs::path& out, const std::vector<StudyRow>& rows) {
    std::ofstream csv(out / "study.csv");
    csv << "variant,parameters,epochs,best_acc,final_acc,seconds_per_epoch,train_images_per_sec,"
           "inference_images_per_sec,peak_train_mb,status,complexity,options,machine,reason\n";
    for (const StudyRow& r : rows)
        csv << r.variant << "," << r.parameters << "," << r.epochs << "," << r.best_acc << "," << r.final_acc << ","
            << r.seconds_per_epoch << "," << r.train_images_per_sec << "," << r.inference_images_per_sec << ","
            << r.peak_train_mb << "," << r.status << ",\"" << r.complexity << "\",\"" << r.options << "\",\""
            << r.machine << "\",\"" << r.reason << "\"\n";
}

// One line per epoch; cumulative_seconds at the measured speed when the table has the variant,
// else the run's own epoch times.
void write_study_epochs_csv(const fs::path& path, const std::vector<StudyRow>& rows,
                            const std::optional<SpeedTable>& speed) {
    std::ofstream ep(path);
    ep << "variant,epoch,cumulative_seconds,eval_acc,train_acc\n";
    for (const StudyRow& r : rows) {
        const double at_speed = epoch_seconds_at(measured(speed, r.variant), r);
        double cum = 0;
        for (const StudyEpoch& e : r.curve) {
            cum += at_speed > 0 ? at_speed : e.seconds;
            ep << r.variant << "," << e.epoch << "," << cum << "," << e.eval_acc << "," << e.train_acc << "\n";
        }
    }
}

// study.md up to the table: the command, the budget, the model, when and where it was written,
// and where its times were measured.
void write_study_md_header(std::ostream& md, const StudyOptions& o, const std::vector<StudyRow>& rows,
                           const std::optional<SpeedTable>& speed, bool one_machine, size_t machines) {
    std::time_t now = std::time(nullptr);
    char date[64];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M", std::localtime(&now));
    md << "# Attention study on CIFAR-10\n\n"
       << "Produced by:\n\n```\n" << o.command << "\n```\n\n"
       << "Budget: " << o.budget << ". Model: " << o.model.to_json().dump() << ".\n"
       << "Written " << date << " on " << machine_description() << ".\n\n";
    if (speed)
        md << "Speed, time and memory columns: every variant measured on " << speed->machine
           << " in one run, round-robin on idle cores, by bench/study_speed.py (`" << speed->path
           << "`). s/epoch = training images / train img/s; GFLOP/s is achieved on the step's analytic FLOPs, "
              "counted the same way for every variant. The training runs' own times and memory are not quoted "
              "here: other work may have shared their cores, and earlier runs ran older code (study.csv keeps "
              "them).\n\n";
    else if (one_machine && !rows.empty())
        md << "Every row was measured on " << rows[0].machine << ".\n\n";
    else if (!one_machine)
        md << "**The rows were measured on " << machines << " different machines** (column \"measured on\"):"
           << " accuracies are comparable, times only between rows of the same machine.\n\n";
}

std::string options_text(const StudyRow& r) { return r.options.empty() ? "defaults" : r.options; }

std::string percent(double x) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f%%", 100 * x);
    return buf;
}

// The table with the speed columns from the speed table ("–" for a variant it lacks).
void write_study_md_table_measured(std::ostream& md, const std::vector<StudyRow>& rows, const std::string& eval_name,
                                   const std::optional<SpeedTable>& speed) {
    md << "| variant | params | best " << eval_name << " acc | final " << eval_name
       << " acc | s/epoch | train img/s | GFLOP/s | inference img/s | peak train RSS (MB) | complexity | options |\n"
       << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|\n";
    char line[768];
    for (const StudyRow& r : rows) {
        const MeasuredSpeed* s = measured(speed, r.variant);
        const bool oom = r.status == "out of memory";
        char speeds[160] = "– | – | – | – | –";
        if (oom)  // the speed benchmark cannot have run it either: the lower bound the run reached
            std::snprintf(speeds, sizeof speeds, "– | – | – | – | out of memory (tensors > %.0f)", r.peak_train_mb);
        else if (s)
            std::snprintf(speeds, sizeof speeds, "%.1f | %.0f | %.1f | %.0f | %.0f", epoch_seconds_at(s, r),
                          s->train_images_per_sec, s->train_gflops, s->infer_images_per_sec, s->peak_train_rss_mb);
        std::snprintf(line, sizeof line, "| %s%s | %ld | %s | %s | %s | %s | %s |\n", r.variant.c_str(),
                      r.status == "finished" ? "" : (" (" + r.status + ")").c_str(), long(r.parameters),
                      oom ? "–" : percent(r.best_acc).c_str(), oom ? "–" : percent(r.final_acc).c_str(), speeds,
                      r.complexity.c_str(), options_text(r).c_str());
        md << line;
    }
}

// The table with the runs' own times, and a "measured on" column when they come from several machines.
void write_study_md_table_own(std::ostream& md, const std::vector<StudyRow>& rows, const std::string& eval_name,
                              bool one_machine) {
    md << "| variant | params | best " << eval_name << " acc | final " << eval_name
       << " acc | s/epoch | train img/s | inference img/s | peak train memory (MB) | complexity | options |"
       << (one_machine ? "" : " measured on |") << "\n"
       << "|---|---:|---:|---:|---:|---:|---:|---:|---|---|" << (one_machine ? "" : "---|") << "\n";
    char line[512];
    for (const StudyRow& r : rows) {
        if (r.status == "out of memory") {
            std::snprintf(line, sizeof line, "| %s (out of memory) | – | – | – | – | – | – | > %.0f | %s | %s |",
                          r.variant.c_str(), r.peak_train_mb, r.complexity.c_str(), options_text(r).c_str());
            md << line << (one_machine ? "" : " " + r.machine + " |") << "\n";
            continue;
        }
        std::snprintf(line, sizeof line, "| %s%s | %ld | %.2f%% | %.2f%% | %.1f | %.0f | %.0f | %.0f | %s | %s |",
                      r.variant.c_str(), r.status == "finished" ? "" : (" (" + r.status + ")").c_str(),
                      long(r.parameters), 100 * r.best_acc, 100 * r.final_acc, r.seconds_per_epoch,
                      r.train_images_per_sec, r.inference_images_per_sec, r.peak_train_mb, r.complexity.c_str(),
                      options_text(r).c_str());
        md << line << (one_machine ? "" : " " + (r.machine.empty() ? std::string("not recorded") : r.machine) + " |")
           << "\n";
    }
}

void write_study_md(const fs::path& out, const StudyOptions& o, const std::vector<StudyRow>& rows,
                    const std::string& eval_name, const std::optional<SpeedTable>& speed) {
    std::ofstream md(out / "study.md");
    std::set<std::string> machines;
    for (const StudyRow& r : rows) machines.insert(r.machine);
    const bool one_machine = machines.size() <= 1;
    write_study_md_header(md, o, rows, speed, one_machine, machines.size());
    if (speed) write_study_md_table_measured(md, rows, eval_name, speed);
    else write_study_md_table_own(md, rows, eval_name, one_machine);
    for (const StudyRow& r : rows)
        if (r.status == "out of memory")
            md << "\n" << r.variant << " could not train within the memory: " << r.reason
               << " (the peak it reached, in MB, is the lower bound in its memory column).\n";
    if (speed)
        md << "\nThe time axis of the second plot is each variant's epochs at its measured training speed"
              " (training steps only, without the evaluation).\n\n";
    else
        md << "\ns/epoch (training steps only, without the evaluation) and train img/s are medians over the"
              " epochs, so an epoch slowed by other work on the cores does not move them. Peak train memory counts"
              " live tensor bytes (parameters, activations, gradients, optimizer state) during training;"
              " inference img/s is forward-only at batch 256.\n\n";
    md << "![accuracy vs epoch](study_accuracy.png)\n![accuracy vs training time](study_time.png)\n";
}

}  // namespace

void write_study_report(const StudyOptions& o, const std::vector<StudyRow>& rows) {
    fs::path out(o.out_dir);
    fs::create_directories(out);
    const std::optional<SpeedTable> speed =
        o.speed_file.empty() ? std::nullopt : std::optional<SpeedTable>(read_speed_table(o.speed_file));
    write_study_csv(out, rows);
    write_study_epochs_csv(out / "study_epochs.csv", rows, speed);
    const std::string eval_name = o.train.extra_config.value("eval_set", std::string("test"));
    write_study_md(out, o, rows, eval_name, speed);
    std::vector<std::string> variants;  // those with a curve to plot
    for (const StudyRow& r : rows)
        if (!r.curve.empty()) variants.push_back(r.variant);
    report::plot_study_curves(o.out_dir, (out / "study_epochs.csv").string(), variants, eval_name);
}

}  // namespace attnlab::nn

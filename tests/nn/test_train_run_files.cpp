// test_train_run_files.cpp — what the ViT and pixel trainers share: the metrics
// rows a resumed run keeps, the summary file, the clock format of progress
// lines, the study's plot script, and the recipe the apps start from.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/util/duration.h"
#include "core/util/memory.h"
#include "nn/report/plot.h"
#include "nn/train/recipe.h"
#include "nn/train/run_files.h"
#include "tests/support/helpers.h"
#include "tests/support/temp_dir.h"

using namespace attnlab;
using namespace attnlab::testing;
namespace fs = std::filesystem;

static std::string read_all(const std::string& path) {
    std::ifstream f(path);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

TEST_CASE("read_metric_rows keeps the rows up to the checkpoint's counter and skips unreadable lines", "[train]") {
    TempDir dir;
    write_text(dir.file("metrics.jsonl"), "{\"epoch\": 1, \"lr\": 0.1}\n\nnot json\n{\"epoch\": 2}\n{\"epoch\": 3}\n");
    std::vector<nlohmann::json> rows = nn::read_metric_rows(dir.path().string(), "epoch", 2);
    REQUIRE(rows.size() == 2);
    REQUIRE(rows[0]["lr"] == 0.1);
    REQUIRE(rows[1]["epoch"] == 2);
    REQUIRE(nn::read_metric_rows(dir.file("nowhere"), "step", 10).empty());
}

TEST_CASE("write_metric_rows writes one JSON object per line that read_metric_rows reads back", "[train]") {
    TempDir dir;
    const std::vector<nlohmann::json> rows = {{{"step", 50}, {"train_bits_per_dim", 3.5}}, {{"step", 100}}};
    nn::write_metric_rows(dir.path().string(), rows);
    REQUIRE(read_all(dir.file("metrics.jsonl")) == rows[0].dump() + "\n" + rows[1].dump() + "\n");
    REQUIRE(nn::read_metric_rows(dir.path().string(), "step", 100) == rows);
}

TEST_CASE("write_summary writes indented JSON ending in a newline", "[train]") {
    TempDir dir;
    nn::write_summary(dir.path().string(), {{"status", "finished"}});
    REQUIRE(read_all(dir.file("summary.json")) == "{\n  \"status\": \"finished\"\n}\n");
}

TEST_CASE("saved_note names the checkpoint and how to continue, and is empty when nothing was saved", "[train]") {
    REQUIRE(nn::saved_note("run/last", "continue with --resume") == "; checkpoint saved to run/last (continue with --resume)");
    REQUIRE(nn::saved_note("", "continue with --resume").empty());
}

TEST_CASE("hms gives m:ss below an hour and h:mm:ss from an hour on, rounded to the second", "[train]") {
    REQUIRE(hms(0) == "0:00");
    REQUIRE(hms(74.6) == "1:15");
    REQUIRE(hms(3599.4) == "59:59");
    REQUIRE(hms(3725) == "1:02:05");
}

TEST_CASE("peak_rss_mb is the positive high-water mark of this process", "[train]") {
    const double before = peak_rss_mb();
    REQUIRE(before > 0);
    REQUIRE(peak_rss_mb() >= before);
}

TEST_CASE("the study's plot script draws one line per variant against epoch and against time", "[train][study]") {
    TempDir dir;
    nn::report::plot_study_curves(dir.path().string(), dir.file("study_epochs.csv"), {}, "val");  // nothing to plot: script only
    const std::string gp = read_all(dir.file("study.gp"));
    REQUIRE_THAT(gp, Catch::Contains("set ylabel 'val accuracy'") && Catch::Contains("study_accuracy.png") &&
                         Catch::Contains("study_time.png"));
    write_text(dir.file("study_epochs.csv"), "variant,epoch,cumulative_seconds,eval_acc,train_acc\n"
                                             "softmax,1,2.5,0.3,0.2\nperformer,1,2.0,0.25,0.2\n");
    nn::report::plot_study_curves(dir.path().string(), dir.file("study_epochs.csv"), {"softmax", "performer"}, "test");
    const std::string two = read_all(dir.file("study.gp"));
    REQUIRE_THAT(two, Catch::Contains("strcol(1) eq 'softmax' ? $2") && Catch::Contains("strcol(1) eq 'performer' ? $3") &&
                          Catch::Contains("title 'performer'"));
    nn::report::write_gnuplot_script(dir.file("x.gp"), "print 1\n");
    REQUIRE(read_all(dir.file("x.gp")) == "print 1\n");
}

TEST_CASE("gnuplot strings escape quotes, a quoted title renders, and a failing script is reported", "[train][study]") {
    CHECK(nn::report::gnuplot_quote("softmax") == "'softmax'");
    CHECK(nn::report::gnuplot_quote("the model's q, k, v") == "'the model''s q, k, v'");
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        WARN("skipped the rendering half: gnuplot not found (Debian: apt-get install gnuplot-nox)");
        return;
    }
    TempDir dir;
    const std::string png = dir.file("it's.png");
    nn::report::write_gnuplot_script(dir.file("ok.gp"), "set terminal pngcairo size 200,150\nset output " +
                                                            nn::report::gnuplot_quote(png) + "\nset title " +
                                                            nn::report::gnuplot_quote("the model's q") + "\nplot x\n");
    REQUIRE(nn::report::run_gnuplot(dir.file("ok.gp")));
    REQUIRE(fs::file_size(png) > 0);
    REQUIRE_FALSE(fs::exists(dir.file("ok.gp.log")));
    // An unescaped quote ends the string early: gnuplot fails, and says so in the log.
    nn::report::write_gnuplot_script(dir.file("bad.gp"), "set terminal pngcairo\nset output '" + dir.file("bad.png") +
                                                             "'\nset title 'the model's q'\nplot x\n");
    REQUIRE_FALSE(nn::report::run_gnuplot(dir.file("bad.gp")));
    REQUIRE(fs::file_size(dir.file("bad.gp.log")) > 0);
}

TEST_CASE("vit_train's recipe is the recommended ViT, and the study trains it for 10 epochs without a live line",
          "[train]") {
    const nn::ViTConfig m = nn::recipe::vit_model();
    REQUIRE((m.dim == 128 && m.depth == 6 && m.heads == 4 && m.patch_size == 4 && m.mlp_ratio == 2.0));
    REQUIRE((m.dropout == 0.0 && m.drop_path == 0.1 && m.attention == "softmax"));
    const nn::TrainOptions t = nn::recipe::vit_training();
    REQUIRE((t.epochs == 120 && t.batch_size == 128 && t.lr == 1e-3 && t.min_lr == 1e-5 && t.warmup_epochs == 5));
    REQUIRE((t.weight_decay == 0.05 && t.label_smoothing == 0.1 && t.grad_clip == 1.0 && t.augment));
    const nn::TrainOptions s = nn::recipe::study_training();
    REQUIRE((s.epochs == 10 && s.warmup_epochs == 1 && !s.progress));
    nlohmann::json same = s.to_json(), recipe = t.to_json();
    for (const char* changed : {"epochs", "warmup_epochs"}) same.erase(changed), recipe.erase(changed);
    REQUIRE(same == recipe);
}

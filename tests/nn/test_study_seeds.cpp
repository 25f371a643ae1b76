// test_study_seeds.cpp — the multi-seed study: sample statistics, paired
// differences against the baseline, the aggregate report, and a two-seed run
// that resumes and aggregates.
#include <filesystem>
#include <fstream>

#include "tests/support/helpers.h"
#include "nn/io/atomic_file.h"
#include "nn/study/study_seeds.h"
#include "nn/study/study_stats.h"
#include "tests/support/synthetic_images.h"
#include "tests/support/temp_dir.h"

using namespace attnlab;
using namespace attnlab::testing;
namespace fs = std::filesystem;

TEST_CASE("sample_stats gives the mean and the sample standard deviation", "[study][stats]") {
    nn::SampleStats s = nn::sample_stats({0.60, 0.62, 0.67});
    CHECK(s.n == 3);
    CHECK(s.mean == Approx(0.63));
    CHECK(s.std == Approx(std::sqrt((0.03 * 0.03 + 0.01 * 0.01 + 0.04 * 0.04) / 2)));
    CHECK(nn::sample_stats({0.5}).std == 0);
    CHECK(nn::sample_stats({}).n == 0);
}

TEST_CASE("student_t_975 matches the table and approaches the normal quantile", "[study][stats]") {
    CHECK(nn::student_t_975(1) == Approx(12.706));
    CHECK(nn::student_t_975(2) == Approx(4.303));
    CHECK(nn::student_t_975(30) == Approx(2.042));
    CHECK(nn::student_t_975(40) == Approx(2.021).margin(1e-3));
    CHECK(nn::student_t_975(120) == Approx(1.980).margin(1e-3));
    CHECK(nn::student_t_975(1000000) == Approx(1.960).margin(1e-3));
    CHECK_THROWS_WITH(nn::student_t_975(0), Catch::Contains("at least 1"));
}

TEST_CASE("paired_difference pairs by seed and calls a difference noise unless its interval excludes 0",
          "[study][stats]") {
    // A consistent gain of ~1 point on every seed, although the seeds themselves spread by 5 points.
    std::map<uint64_t, double> base{{0, 0.60}, {1, 0.65}, {2, 0.70}}, better{{0, 0.61}, {1, 0.661}, {2, 0.709}};
    nn::PairedDifference d = nn::paired_difference(better, base);
    CHECK(d.seeds == std::vector<uint64_t>{0, 1, 2});
    CHECK(d.diff.mean == Approx(0.01));
    CHECK(d.ci95 == Approx(4.303 * d.diff.std / std::sqrt(3.0)));
    CHECK(d.exceeds_noise);
    // The same mean gain, but up 3 points on one seed and down on another: noise.
    std::map<uint64_t, double> noisy{{0, 0.63}, {1, 0.64}, {2, 0.71}};
    nn::PairedDifference n = nn::paired_difference(noisy, base);
    CHECK(n.diff.mean == Approx(0.01));
    CHECK_FALSE(n.exceeds_noise);
    // Only seeds both have count; one common seed gives no interval.
    nn::PairedDifference one = nn::paired_difference({{2, 0.8}, {7, 0.9}}, base);
    CHECK(one.seeds == std::vector<uint64_t>{2});
    CHECK(one.diff.mean == Approx(0.1));
    CHECK(one.ci95 == 0);
    CHECK_FALSE(one.exceeds_noise);
}

static nn::StudyRow finished_row(const std::string& variant, double acc) {
    nn::StudyRow r;
    r.variant = variant, r.status = "finished", r.final_acc = acc, r.best_acc = acc;
    return r;
}

TEST_CASE("the seeds report gives mean ± std, paired differences and the unfinished runs", "[study]") {
    TempDir dir;
    nn::StudyOptions o;
    o.variants = {"softmax", "linear", "performer"};
    o.out_dir = dir.file("study"), o.command = "attention_study --seeds 0,1,2", o.budget = "test budget";
    nn::RowsBySeed rows;
    rows[0] = {finished_row("softmax", 0.60), finished_row("linear", 0.61), finished_row("performer", 0.58)};
    rows[1] = {finished_row("softmax", 0.65), finished_row("linear", 0.661)};
    rows[2] = {finished_row("softmax", 0.70), finished_row("linear", 0.709)};
    nn::write_seeds_report(o, {0, 1, 2}, rows);
    const std::string md = nn::read_text_file(dir.file("study/study.md"));
    INFO(md);
    CHECK_THAT(md, Catch::Contains("| softmax | 3 | 65.00 ± 5.00 | 60.00 / 65.00 / 70.00 | (baseline)"));
    CHECK_THAT(md, Catch::Contains("| linear | 3 | 66.00 ± 4.95 | 61.00 / 66.10 / 70.90 | +1.00 ± 0.10 |"));
    CHECK_THAT(md, Catch::Contains("**yes, better**"));
    CHECK_THAT(md, Catch::Contains("| performer | 1 | 58.00 | 58.00 / – / – | -2.00 |  | too few seeds |"));
    CHECK_THAT(md, Catch::Contains("Not finished yet: performer (seed 1), performer (seed 2)."));
    const std::string csv = nn::read_text_file(dir.file("study/study_seeds.csv"));
    CHECK_THAT(csv, Catch::Contains("linear,3,0.66,"));
    CHECK_THAT(csv, Catch::EndsWith(",yes\nperformer,1,0.58,0,0.58,-0.02,0,0,1,\n"));
}

TEST_CASE("the seeds report lists runs that ran out of memory with their reason, not as unfinished", "[study]") {
    TempDir dir;
    nn::StudyOptions o;
    o.variants = {"softmax", "performer"};
    o.out_dir = dir.file("study"), o.command = "attention_study --seeds 0", o.budget = "test budget";
    nn::StudyRow oom;
    oom.variant = "performer", oom.status = "out of memory", oom.reason = "out of memory: a tensor of 9 MB";
    nn::RowsBySeed rows;
    rows[0] = {finished_row("softmax", 0.60), oom};
    nn::write_seeds_report(o, {0}, rows);
    const std::string md = nn::read_text_file(dir.file("study/study.md"));
    INFO(md);
    CHECK_THAT(md, Catch::Contains("Out of memory: performer (seed 0): out of memory: a tensor of 9 MB"));
    CHECK_THAT(md, !Catch::Contains("Not finished yet"));
    CHECK_THAT(md, !Catch::Contains("| performer |"));
}

TEST_CASE("a two-seed study trains each seed in its own directory, resumes and reports only finished runs",
          "[train][study]") {
    datasets::ImageDataset train = synthetic_images(32, 8), eval = synthetic_images(16, 9);
    TempDir dir;
    nn::StudyOptions o;
    o.variants = {"softmax", "linear"};
    o.model.image_size = 32, o.model.patch_size = 8, o.model.dim = 16, o.model.depth = 1, o.model.heads = 2;
    o.train.epochs = 1, o.train.warmup_epochs = 0, o.train.batch_size = 16, o.train.progress = false;
    o.out_dir = dir.file("study"), o.command = "test", o.budget = "1 epoch";

    nn::StudyOptions report = o;
    report.report_only = true;
    nn::RowsBySeed nothing = nn::run_seed_study(report, {0, 1}, train, eval, datasets::Normalization::cifar10());
    CHECK(nothing[0].empty());
    CHECK_FALSE(fs::exists(dir.file("study/seed0/runs")));  // report-only trains and creates nothing

    nn::RowsBySeed rows = nn::run_seed_study(o, {0, 1}, train, eval, datasets::Normalization::cifar10());
    REQUIRE(rows[0].size() == 2);
    REQUIRE(rows[1].size() == 2);
    CHECK(fs::exists(dir.file("study/seed0/runs/softmax/study_row.json")));
    CHECK(fs::exists(dir.file("study/seed1/runs/linear/study_row.json")));
    CHECK(fs::exists(dir.file("study/seed1/study.md")));
    // Another seed means other data order and init: the two seeds' runs differ.
    auto first_loss = [&](const std::string& run) {
        std::ifstream f(dir.file("study/" + run + "/metrics.jsonl"));
        std::string line;
        std::getline(f, line);
        return nlohmann::json::parse(line).at("train_loss").get<double>();
    };
    CHECK(first_loss("seed0/runs/softmax") != first_loss("seed1/runs/softmax"));
    const std::string md = nn::read_text_file(dir.file("study/study.md"));
    CHECK_THAT(md, Catch::Contains("| softmax | 2 |") && Catch::Contains("| linear | 2 |"));
    CHECK_THAT(md, !Catch::Contains("Not finished yet"));
    // Run again: nothing retrained (the rows are read back), the same report.
    auto stamp = fs::last_write_time(dir.file("study/seed1/runs/linear/metrics.csv"));
    nn::RowsBySeed again = nn::run_seed_study(report, {0, 1}, train, eval, datasets::Normalization::cifar10());
    CHECK(again[1].at(1).final_acc == rows[1].at(1).final_acc);
    CHECK(fs::last_write_time(dir.file("study/seed1/runs/linear/metrics.csv")) == stamp);
    CHECK(nn::read_text_file(dir.file("study/study.md")) == md);
}

// test_study_speed.cpp — the study's speed table (bench/study_speed.py's JSON): reading it,
// rejecting what is not one, finding the one for a study's model, and the report quoting it
// (speed columns and the time axis) instead of the training runs' own times.
#include <sys/stat.h>

#include <filesystem>

#include "nn/io/atomic_file.h"
#include "nn/study/study.h"
#include "nn/study/study_speed.h"
#include "tests/support/helpers.h"
#include "tests/support/temp_dir.h"

using namespace attnlab;
using namespace attnlab::testing;
namespace fs = std::filesystem;

// A speed table of `tokens` tokens: softmax and linear under OPENBLAS_CORETYPE unset, and a
// softmax row of another core setting after them (which must be ignored).
static std::string speed_json(int tokens) {
    const std::string t = std::to_string(tokens);
    return R"({"machine": "Test CPU, 2 threads", "rows": [
      {"coretype": "", "blas": "OpenMP, Zen", "variant": "softmax", "tokens": )" + t + R"(,
       "train_images_per_sec": 400.0, "infer_images_per_sec": 1000.0, "train_gflops": 130.5, "peak_train_rss_mb": 420.0},
      {"coretype": "", "blas": "OpenMP, Zen", "variant": "linear", "tokens": )" + t + R"(,
       "train_images_per_sec": 500.0, "infer_images_per_sec": 1250.0, "train_gflops": 120.0, "peak_train_rss_mb": 360.0},
      {"coretype": "Haswell", "blas": "OpenMP, Haswell", "variant": "softmax", "tokens": )" + t + R"(,
       "train_images_per_sec": 100.0, "infer_images_per_sec": 200.0, "train_gflops": 30.0, "peak_train_rss_mb": 400.0}]})";
}

TEST_CASE("read_speed_table reads the rows of the first core setting", "[study][speed]") {
    TempDir dir;
    write_text(dir.file("speed.json"), speed_json(65));
    const nn::SpeedTable t = nn::read_speed_table(dir.file("speed.json"));
    CHECK(t.tokens == 65);
    CHECK(t.machine == "Test CPU, 2 threads, OpenBLAS OpenMP, Zen");
    REQUIRE(t.variants.size() == 2);
    CHECK(t.variants.at("softmax").train_images_per_sec == 400.0);  // not the Haswell row's 100
    CHECK(t.variants.at("linear").infer_images_per_sec == 1250.0);
    CHECK(t.variants.at("linear").train_gflops == 120.0);
    CHECK(t.variants.at("linear").peak_train_rss_mb == 360.0);
}

TEST_CASE("read_speed_table names the file and what it expected when it is not a speed table", "[study][speed]") {
    TempDir dir;
    auto fails_with = [&](const std::string& text, const std::string& message) {
        write_text(dir.file("bad.json"), text);
        CHECK_THROWS_WITH(nn::read_speed_table(dir.file("bad.json")),
                          Catch::Contains(dir.file("bad.json")) && Catch::Contains(message));
    };
    fails_with("{\"rows\": [", "not the JSON written by bench/study_speed.py");  // truncated
    fails_with("[1, 2]", "non-empty \"rows\" array");
    fails_with("{\"rows\": []}", "non-empty \"rows\" array");
    fails_with(R"({"rows": [{"variant": "softmax", "tokens": 65, "infer_images_per_sec": 1}]})",
               "no number 'train_images_per_sec'");
    fails_with(R"({"rows": [{"tokens": 65}]})", "without a \"variant\"");
    fails_with(R"({"rows": [{"variant": "softmax", "tokens": 65, "train_images_per_sec": 0, "infer_images_per_sec": 1}]})",
               "non-positive images/s");
    CHECK_THROWS_WITH(nn::read_speed_table(dir.file("missing.json")), Catch::Contains("does not exist"));
    CHECK_THROWS_WITH(nn::read_speed_table(dir.path().string()), Catch::Contains("a directory"));
    REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0600) == 0);  // would block a reader that opened it
    CHECK_THROWS_WITH(nn::read_speed_table(dir.file("fifo")), Catch::Contains("FIFO"));
}

TEST_CASE("find_speed_table finds the table for the model's tokens beside the study or one level up",
          "[study][speed]") {
    TempDir dir;
    fs::create_directories(dir.path() / "long1024");
    write_text(dir.file("study_speed.json"), speed_json(65));
    write_text(dir.file("study_speed_1025.json"), speed_json(1025));
    CHECK(nn::find_speed_table(dir.path().string(), 65) == dir.file("study_speed.json"));
    CHECK(nn::find_speed_table(dir.file("long1024"), 1025) == dir.file("study_speed_1025.json"));
    CHECK(nn::find_speed_table(dir.file("long1024") + "/", 1025) == dir.file("study_speed_1025.json"));
    CHECK_FALSE(nn::find_speed_table(dir.file("long1024"), 257).has_value());  // no table for 257 tokens
    write_text(dir.file("long1024/study_speed.json"), "not json");  // a broken file is passed over
    CHECK(nn::find_speed_table(dir.file("long1024"), 65) == dir.file("study_speed.json"));
}

TEST_CASE("with a speed table the study report quotes it, and its time axis is epochs at the measured speed",
          "[study][speed]") {
    TempDir dir;
    write_text(dir.file("speed.json"), speed_json(65));
    nn::StudyOptions o;
    o.out_dir = dir.file("study"), o.command = "test", o.budget = "2 epochs";
    o.speed_file = dir.file("speed.json");
    nn::StudyRow a;
    a.variant = "linear", a.status = "finished", a.best_acc = a.final_acc = 0.625, a.train_images = 1000;
    a.seconds_per_epoch = 77.7, a.train_images_per_sec = 12.3, a.machine = "a busy machine";  // never quoted
    a.curve = {{1, 90.0, 0.5, 0.4}, {2, 95.0, 0.625, 0.6}};
    nn::StudyRow b = a;
    b.variant = "performer";  // not in the table
    nn::write_study_report(o, {a, b});
    const std::string md = nn::read_text_file(dir.file("study/study.md"));
    CHECK_THAT(md, Catch::Contains("measured on Test CPU, 2 threads, OpenBLAS OpenMP, Zen in one run"));
    // s/epoch = 1000 images / 500 img/s = 2.0; GFLOP/s, inference img/s and RSS from the table.
    CHECK_THAT(md, Catch::Contains("| linear | 0 | 62.50% | 62.50% | 2.0 | 500 | 120.0 | 1250 | 360 |"));
    CHECK_THAT(md, Catch::Contains("| performer | 0 | 62.50% | 62.50% | – | – | – | – | – |"));
    CHECK_THAT(md, !Catch::Contains("77.7") && !Catch::Contains("a busy machine"));
    const std::string epochs = nn::read_text_file(dir.file("study/study_epochs.csv"));
    CHECK_THAT(epochs, Catch::Contains("linear,1,2,0.5,") && Catch::Contains("linear,2,4,0.625,"));
    CHECK_THAT(epochs, Catch::Contains("performer,2,185,"));  // without a measured speed: the run's own times
}

TEST_CASE("without a speed table the study report keeps the runs' own times", "[study][speed]") {
    TempDir dir;
    nn::StudyOptions o;
    o.out_dir = dir.file("study"), o.command = "test", o.budget = "1 epoch";
    nn::StudyRow a;
    a.variant = "linear", a.status = "finished", a.seconds_per_epoch = 77.7, a.train_images = 1000;
    a.machine = "CPU A", a.curve = {{1, 90.0, 0.5, 0.4}};
    nn::write_study_report(o, {a});
    CHECK_THAT(nn::read_text_file(dir.file("study/study.md")), Catch::Contains("| 77.7 |"));
    CHECK_THAT(nn::read_text_file(dir.file("study/study_epochs.csv")), Catch::Contains("linear,1,90,"));
}

TEST_CASE("a bad speed table stops the report with the file named", "[study][speed]") {
    TempDir dir;
    write_text(dir.file("speed.json"), "{}");
    nn::StudyOptions o;
    o.out_dir = dir.file("study"), o.speed_file = dir.file("speed.json");
    CHECK_THROWS_WITH(nn::write_study_report(o, {}), Catch::Contains(dir.file("speed.json")));
}

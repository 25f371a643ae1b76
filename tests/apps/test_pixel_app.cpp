// test_pixel_app.cpp — pixel_generate as a user runs it: bad options give clear
// errors; train -> eval -> sample -> bench works end to end on tiny IDX images;
// an interrupted training resumes to the same result.
#include <catch2/catch.hpp>
#include <stb_image.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/util/rng.h"
#include "tests/support/helpers.h"
#include "tests/support/idx_files.h"
#include "tests/support/run_command.h"
#include "tests/support/temp_dir.h"

using namespace attnlab;
using namespace attnlab::testing;
namespace fs = std::filesystem;

namespace {

RunResult run(const std::string& args) { return run_command(app_path("pixel_generate ") + args); }

void write_tiny_dataset(const std::string& dir) {
    write_tiny_mnist(dir, "train", 32, 6, 1);
    write_tiny_mnist(dir, "t10k", 8, 6, 2);
}

nlohmann::json read_json(const std::string& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

const std::string kTiny = " --dim 16 --depth 1 --heads 2 --batch 4 --warmup 1 --eval-batch 4 --threads 1 --no-progress";

}  // namespace

TEST_CASE("pixel_generate rejects bad options with messages that name them", "[pixel][gen][apps]") {
    TempDir dir;
    write_tiny_dataset(dir.file("mnist"));
    const std::string train = "train --dataset mnist --data " + dir.file("mnist") + " --out " + dir.file("run") + " ";
    struct Case {
        std::string args, expected;
    };
    std::vector<Case> cases = {
        {"", "A subcommand is required"},
        {"paint", "A subcommand is required"},
        {"bench --checkpoint " + dir.file("none") + " --paths fast", "unknown generation path 'fast'"},
        {train + "--attention linformer", "attention 'linformer' has no causal mask; variants with one: softmax"},
        {train + "--attention nope", "unknown attention variant 'nope'"},
        {train + "--heads 5", "dim 64 must be divisible by heads 5"},
        {train + "--steps 0", "--steps: Value 0 not in range"},
        {train + "--lr abc", "--lr: Value abc"},
        {train + "--batch 64", "batch size 64 must be in [1, 32]"},
        {train + "--attention-opt causal=false", "causal=false is not allowed"},
        {train + "--resume", "resume: no checkpoint with training state in"},
        {"train --dataset svhn --out " + dir.file("x"), "--dataset: svhn not in {fashion-mnist,mnist,cifar10}"},
        {"train --dataset mnist --out " + dir.file("x"), "pass the directory holding the official IDX files"},
        {"train --dataset mnist --data " + dir.file("nowhere") + " --out " + dir.file("x"),
         "cannot find 'train-images-idx3-ubyte' (or .gz) in directory"},
        {"sample --num 2", "--checkpoint is required"},
        {"sample --checkpoint " + dir.file("none"), "no pixel transformer checkpoint at"},
        {"sample --checkpoint " + dir.file("none") + " --path fast", "--path: fast not in {recurrent,kv-cache,uncached}"},
        {"sample --checkpoint " + dir.file("none") + " --temperature 0", "--temperature: Value 0 not in range"},
        {"bench --checkpoint " + dir.file("none") + " --images 0", "--images: Value 0 not in range"},
    };
    for (const Case& c : cases) {
        RunResult r = run(c.args);
        INFO(c.args << "\n" << r.output);
        REQUIRE(r.exit_code != 0);
        REQUIRE_THAT(r.output, Catch::Contains(c.expected));
    }
}

TEST_CASE("pixel_generate train, eval, sample and bench work end to end on tiny images", "[pixel][gen][apps]") {
    TempDir dir;
    write_tiny_dataset(dir.file("mnist"));
    const std::string run_dir = dir.file("run");
    RunResult t = run("train --dataset mnist --data " + dir.file("mnist") + " --attention linear_elu --steps 6" + kTiny +
                      " --log-every 3 --out " + run_dir);
    INFO(t.output);
    REQUIRE(t.exit_code == 0);
    REQUIRE_THAT(t.output, Catch::Contains("36 tokens") && Catch::Contains("bits/dim on 8 images"));
    nlohmann::json summary = read_json(run_dir + "/summary.json");
    const double bpd = summary["test_bits_per_dim"].get<double>();
    REQUIRE(bpd > 0);
    REQUIRE(bpd < 8.5);
    REQUIRE(fs::exists(run_dir + "/last/model.safetensors"));
    // The same command again, without --resume: refused, the finished run left as it was.
    const auto stamp = fs::last_write_time(run_dir + "/summary.json");
    RunResult again = run("train --dataset mnist --data " + dir.file("mnist") + " --attention linear_elu --steps 6" + kTiny +
                          " --log-every 3 --out " + run_dir);
    INFO(again.output);
    REQUIRE(again.exit_code != 0);
    REQUIRE_THAT(again.output, Catch::Contains("already holds a run") && Catch::Contains("--resume") &&
                                   Catch::Contains("--overwrite"));
    REQUIRE(fs::last_write_time(run_dir + "/summary.json") == stamp);

    RunResult e = run("eval --threads 1 --checkpoint " + run_dir);  // dataset and directory from the checkpoint
    INFO(e.output);
    REQUIRE(e.exit_code == 0);
    char expected[64];
    std::snprintf(expected, sizeof expected, "%.4f bits/dim on 8 images", bpd);
    REQUIRE_THAT(e.output, Catch::Contains(expected));

    RunResult s = run("sample --threads 1 --checkpoint " + run_dir + " --num 5 --complete 3 --columns 3 --batch 2 --out " +
                      dir.file("s.png") + " --completions-out " + dir.file("c.png"));
    INFO(s.output);
    REQUIRE(s.exit_code == 0);
    REQUIRE_THAT(s.output, Catch::Contains("path recurrent"));
    int w = 0, h = 0, c = 0;
    unsigned char* px = stbi_load(dir.file("s.png").c_str(), &w, &h, &c, 0);
    REQUIRE(px != nullptr);
    stbi_image_free(px);
    REQUIRE(w == 3 * 8 + 2);  // 3 columns of 6 + 2 padding, 2 rows
    REQUIRE(h == 2 * 8 + 2);
    px = stbi_load(dir.file("c.png").c_str(), &w, &h, &c, 0);
    REQUIRE(px != nullptr);
    stbi_image_free(px);
    REQUIRE(w == 3 * 8 + 2);  // original, top half, completion per row
    REQUIRE(h == 3 * 8 + 2);

    RunResult wrong = run("sample --checkpoint " + run_dir + " --path kv-cache");
    REQUIRE(wrong.exit_code != 0);
    REQUIRE_THAT(wrong.output, Catch::Contains("'kv-cache' needs softmax attention; this model uses 'linear_elu'"));

    RunResult b = run("bench --threads 1 --checkpoint " + run_dir + " --images 3 --uncached-images 1 --batch 2 --json " +
                      dir.file("bench.json"));
    INFO(b.output);
    REQUIRE(b.exit_code == 0);
    REQUIRE_THAT(b.output, Catch::Contains("| recurrent | 3 |") && Catch::Contains("| uncached | 1 |") &&
                               Catch::Contains("speedup of linear_elu recurrent over linear_elu uncached"));
    nlohmann::json bench = read_json(dir.file("bench.json"));
    REQUIRE(bench["rows"].size() == 2);
    REQUIRE(bench["rows"][0]["images_per_second"].get<double>() > 0);
    RunResult only = run("bench --threads 1 --checkpoint " + run_dir + " --images 2 --paths linear_elu:recurrent --paths "
                         "softmax:uncached --json " + dir.file("only.json"));
    INFO(only.output);
    REQUIRE(only.exit_code == 0);
    REQUIRE(read_json(dir.file("only.json"))["rows"].size() == 1);
}

TEST_CASE("pixel_generate train stopped like Ctrl-C and resumed ends with the same test bits/dim", "[pixel][gen][apps]") {
    TempDir dir;
    write_tiny_dataset(dir.file("mnist"));
    const std::string common = "train --dataset mnist --data " + dir.file("mnist") + " --steps 8 --seed 5" + kTiny + " --out ";
    RunResult full = run(common + dir.file("full"));
    INFO(full.output);
    REQUIRE(full.exit_code == 0);
    RunResult stopped = run(common + dir.file("split") + " --stop-after-steps 3");
    INFO(stopped.output);
    REQUIRE(stopped.exit_code == 130);
    REQUIRE_THAT(stopped.output, Catch::Contains("interrupted at step 3/8") && Catch::Contains("--resume"));
    RunResult resumed = run(common + dir.file("split") + " --resume");
    INFO(resumed.output);
    REQUIRE(resumed.exit_code == 0);
    REQUIRE_THAT(resumed.output, Catch::Contains("resumed from") && Catch::Contains("at step 3"));
    double a = read_json(dir.file("full") + "/summary.json")["test_bits_per_dim"].get<double>();
    double b = read_json(dir.file("split") + "/summary.json")["test_bits_per_dim"].get<double>();
    REQUIRE(a == Approx(b).epsilon(1e-6));
}

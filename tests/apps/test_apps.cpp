// test_apps.cpp — the command-line apps as a user runs them: bad options give
// clear errors (vit_train, attention_study), an interrupted vit_train resumes
// to the same numbers, and vit_predict prints the top classes and scores a
// labelled folder.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/formats/image_io.h"
#include "nn/io/atomic_file.h"
#include "tests/support/helpers.h"
#include "tests/support/run_command.h"
#include "tests/support/synthetic_images.h"

using namespace attnlab;
using namespace attnlab::testing;
namespace fs = std::filesystem;

// Runs build/apps/<args> (args begins with the app's name).
static RunResult run(const std::string& args) { return run_command(app_path(args)); }

// Runs `base + args` for each case; each must fail with output containing `expected`
// (and, when given, not containing `absent`).
struct ErrorCase {
    std::string args, expected;
};
static void require_errors(const std::string& base, const std::vector<ErrorCase>& cases, const std::string& absent = "") {
    for (const ErrorCase& c : cases) {
        RunResult r = run(base + c.args);
        INFO(c.args << "\n" << r.output);
        REQUIRE(r.exit_code != 0);
        REQUIRE_THAT(r.output, Catch::Contains(c.expected));
        if (!absent.empty()) REQUIRE_THAT(r.output, !Catch::Contains(absent));
    }
}

TEST_CASE("vit_train rejects bad options with messages that name them", "[apps][errors]") {
    TempDir dir;
    write_synthetic_cifar(dir.file("data"), 8, 8);
    std::string base = "vit_train --data " + dir.file("data") + " --checkpoint " + dir.file("run") + " ";
    require_errors(base, {
        {"--lr -1", "--lr: Value -1 not in range"},
        {"--patch 3", "--patch: 3 not in {1,2,4,8,16,32}"},
        {"--epochs abc", "--epochs: Value abc"},
        {"--heads 5", "dim 128 must be divisible by heads 5"},
        {"--depth 0", "--depth: Value 0 not in range"},
        {"--attention nope", "unknown attention variant 'nope'; valid variants: softmax, linear"},
        {"--attention performer --attention-opt features=abc", "features=abc for performer: expected an int"},
        {"--attention performer --attention-opt window=3", "unknown option 'window' for attention performer"},
        {"--batch 64", "batch size 64 must be in [1, 40]"},
        {"--batch 8 --resume", "resume: no checkpoint with training state in"},
        {"--unknown-flag", "The following argument was not expected: --unknown-flag"},
    });
    RunResult missing = run("vit_train --data " + dir.file("nowhere") + " --epochs 1");
    REQUIRE(missing.exit_code != 0);
    REQUIRE_THAT(missing.output, Catch::Contains("data_batch_1.bin") && Catch::Contains("make data") &&
                                     Catch::Contains("CIFAR10_DIR"));
    write_bytes(dir.file("bad/data_batch_1.bin"), std::vector<uint8_t>(3073 + 100, 1));
    RunResult truncated = run("vit_train --data " + dir.file("bad") + " --epochs 1");
    REQUIRE_THAT(truncated.output, Catch::Contains("data_batch_1.bin") && Catch::Contains("3073"));
}

TEST_CASE("attention_study rejects bad variants and options before it loads any data", "[apps][errors]") {
    TempDir dir;  // no CIFAR-10 here: the errors must come from checking the arguments
    std::string base = "attention_study --data " + dir.file("nowhere") + " --out " + dir.file("out") + " ";
    require_errors(base, {
        {"--variants softmax,nope", "unknown attention variant 'nope'; valid variants: softmax, linear"},
        {"--attention-opt performer.features=abc", "features=abc for performer: expected an int"},
        {"--attention-opt features=64", "--attention-opt 'features=64': expected variant.name=value"},
        {"--epochs 0", "--epochs: Value 0 not in range"},
    }, "data_batch_1.bin");
    REQUIRE_FALSE(fs::exists(dir.file("out")));
}

TEST_CASE("attention_study rejects bad seeds and non-finite numbers before it loads any data", "[apps][errors]") {
    TempDir dir;
    std::string base = "attention_study --data " + dir.file("nowhere") + " --out " + dir.file("out") + " ";
    require_errors(base, {
        {"--seeds -1", "'-1' is not a seed (a non-negative integer below 2^64)"},
        {"--seeds 0,,1", "'' is not a seed"},
        {"--seeds 0,1x", "'1x' is not a seed"},
        {"--seeds 0,1,0", "seed 0 is listed twice"},
        {"--seeds 99999999999999999999", "is not a seed"},
        {"--seed 1 --seeds 2", "excludes"},
        {"--lr nan", "'nan' is not a finite number"},
        {"--drop-path inf", "'inf' is not a finite number"},
    }, "data_batch_1.bin");
    REQUIRE_FALSE(fs::exists(dir.file("out")));
}

TEST_CASE("attention_study --lra-image rejects settings that are not LRA's Image protocol", "[apps][errors]") {
    TempDir dir;
    std::string base = "attention_study --lra-image --data " + dir.file("nowhere") + " --out " + dir.file("out") + " ";
    require_errors(base, {
        {"--patch 4", "--lra-image and --patch 4: LRA's Image task uses one token per pixel"},
        {"--trivial-augment", "LRA's Image task uses no augmentation"},
        {"--val-split 100", "LRA's split is fixed"},
    }, "data_batch_1.bin");
    write_synthetic_cifar(dir.file("small"), 16, 8);  // 80 training images: nothing left after LRA's 5,000
    RunResult small = run("attention_study --lra-image --data " + dir.file("small") + " --out " + dir.file("out"));
    REQUIRE(small.exit_code != 0);
    REQUIRE_THAT(small.output, Catch::Contains("the training set has 80 images, but LRA holds out the last 5000"));
    REQUIRE_FALSE(fs::exists(dir.file("out")));
}

TEST_CASE("attention_study --lra-image trains on 45,000-style grey pixel tokens and evaluates the test set", "[apps][study]") {
    TempDir dir;
    write_synthetic_cifar(dir.file("data"), 1004, 12);  // 5,020 training images: 20 left after the 5,000 held out
    RunResult r = run("attention_study --lra-image --variants linear --seeds 0 --dim 8 --heads 1 --depth 1 --epochs 1"
                      " --batch 10 --threads 1 --data " + dir.file("data") + " --out " + dir.file("lra"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE_THAT(r.output, Catch::Contains("1 epochs on 20 training grey images") &&
                               Catch::Contains("no augmentation") && Catch::Contains("evaluated on 12 test grey images") &&
                               Catch::Contains("patch 1 (1025 tokens)"));
    const nlohmann::json budget = nlohmann::json::parse(nn::read_text_file(dir.file("lra/seed0/runs/linear/budget.json")));
    CHECK(budget["model"]["channels"] == 1);
    CHECK(budget["model"]["patch_size"] == 1);
    CHECK(budget["train"]["augment"] == false);
    CHECK(budget["train_images"] == 20);
    CHECK(fs::exists(dir.file("lra/seed0/runs/linear/study_row.json")));
}

TEST_CASE("vit_train stopped like Ctrl-C and resumed ends with the same metrics as an uninterrupted run", "[apps][train]") {
    TempDir dir;
    write_synthetic_cifar(dir.file("data"), 16, 32);  // 80 training images: 5 batches of 16
    std::string common = "vit_train --data " + dir.file("data") +
                         " --dim 32 --depth 2 --heads 2 --patch 8 --epochs 2 --batch 16 --warmup 0.5 --drop-path 0.1"
                         " --seed 3 --threads 1 --no-progress --checkpoint ";
    RunResult full = run(common + dir.file("full"));
    REQUIRE(full.exit_code == 0);
    RunResult stopped = run(common + dir.file("split") + " --stop-after-steps 7");
    INFO(stopped.output);
    REQUIRE(stopped.exit_code == 130);
    REQUIRE_THAT(stopped.output, Catch::Contains("interrupted at epoch 2, batch 2/5") && Catch::Contains("--resume"));
    // Resuming with other training options would silently change the run: refused, naming each difference.
    RunResult changed = run(common + dir.file("split") + " --resume --lr 0.002 --trivial-augment");
    INFO(changed.output);
    REQUIRE(changed.exit_code == 1);
    REQUIRE_THAT(changed.output, Catch::Contains("was trained with other options") &&
                                     Catch::Contains("lr: checkpoint 0.001, this run 0.002") &&
                                     Catch::Contains("trivial_augment: checkpoint false, this run true"));
    // ... unless asked for, on a copy here so the exact-resume check below stays untouched.
    std::filesystem::copy(dir.file("split"), dir.file("changed"), std::filesystem::copy_options::recursive);
    RunResult allowed = run(common + dir.file("changed") + " --resume --lr 0.002 --resume-with-changes");
    INFO(allowed.output);
    REQUIRE(allowed.exit_code == 0);
    REQUIRE_THAT(allowed.output, Catch::Contains("warning: resuming") && Catch::Contains("lr: checkpoint 0.001, this run 0.002") &&
                                     Catch::Contains("finished 2 epochs"));
    RunResult resumed = run(common + dir.file("split") + " --resume");
    INFO(resumed.output);
    REQUIRE(resumed.exit_code == 0);
    REQUIRE_THAT(resumed.output, Catch::Contains("resumed from"));
    auto metrics = [&](const std::string& run_dir) {  // epoch, lr, losses and accuracies (not timings)
        std::ifstream f(dir.file(run_dir + "/metrics.csv"));
        std::vector<std::string> rows;
        for (std::string line; std::getline(f, line);) {
            size_t cut = 0;
            for (int commas = 0; commas < 6 && cut != std::string::npos; ++commas) cut = line.find(',', cut + 1);
            rows.push_back(line.substr(0, cut));
        }
        return rows;
    };
    REQUIRE(metrics("full").size() == 3);
    REQUIRE(metrics("split") == metrics("full"));
}

TEST_CASE("vit_predict prints the top classes of an image file and of CIFAR records", "[apps]") {
    TempDir dir;
    write_synthetic_cifar(dir.file("data"), 16, 16);
    RunResult train = run("vit_train --data " + dir.file("data") +
                          " --dim 32 --depth 1 --heads 2 --patch 8 --epochs 1 --batch 16 --threads 1 --no-progress --checkpoint " +
                          dir.file("run"));
    REQUIRE(train.exit_code == 0);
    Tensor img = Tensor::full({1, 3, 32, 32}, 0.5f);
    datasets::write_png_grid(dir.file("gray.png"), img, 1, 0);
    RunResult r = run("vit_predict --checkpoint " + dir.file("run") + " --top 3 " + dir.file("gray.png"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE_THAT(r.output, Catch::Contains("gray.png") && Catch::Contains("%  "));
    RunResult rec = run("vit_predict --checkpoint " + dir.file("run") + " --cifar " + dir.file("data/test_batch.bin") + " --records 0-1");
    REQUIRE(rec.exit_code == 0);
    REQUIRE_THAT(rec.output, Catch::Contains("record 1") && Catch::Contains("(true: "));
    RunResult bad = run("vit_predict --checkpoint " + dir.file("nothing-here") + " " + dir.file("gray.png"));
    REQUIRE(bad.exit_code != 0);
    REQUIRE_THAT(bad.output, Catch::Contains("no checkpoint in"));
}

TEST_CASE("vit_predict --folder scores the shipped model on labelled JPEGs, per class", "[apps]") {
    std::string root = shared_data("cifar-10-images-sample/test");
    if (root.empty()) {
        WARN("skipped: ../shared/data/cifar-10-images-sample not found");
        return;
    }
    std::string model = std::string(ATTNLAB_SOURCE_DIR) + "/models/vit-cifar10";
    RunResult r = run("vit_predict --checkpoint " + model + " --folder " + root);
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE_THAT(r.output, Catch::Contains("100 images in 10 classes"));
    double overall = 0, per_class_sum = 0;
    int classes = 0;
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
        if (auto at = line.find("classes: accuracy "); at != std::string::npos)
            overall = std::stod(line.substr(at + 18));
        else if (auto acc = line.find("images  accuracy "); acc != std::string::npos)
            per_class_sum += std::stod(line.substr(acc + 17)), ++classes;
    }
    REQUIRE(classes == 10);
    REQUIRE(overall == Approx(per_class_sum / 10).margin(0.01));  // 10 images per class
    REQUIRE(overall > 60.0);  // the shipped model scores 81.0 % on the full test set
}

TEST_CASE("attention_error writes its error table and one non-empty plot per budget family", "[apps][study]") {
    TempDir dir;
    write_synthetic_cifar(dir.file("data"), 4, 4);
    const std::string model = std::string(ATTNLAB_SOURCE_DIR) + "/models/vit-cifar10";
    RunResult r = run("attention_error --checkpoint " + model + " --data " + dir.file("data") +
                      " --images 2 --draws 1 --lengths 64 --threads 1 --out " + dir.file("out"));
    INFO(r.output);
    REQUIRE(r.exit_code == 0);
    REQUIRE(fs::file_size(dir.file("out/approximation_error.csv")) > 0);
    if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
        WARN("skipped the plots: gnuplot not found (Debian: apt-get install gnuplot-nox)");
        return;
    }
    REQUIRE_THAT(r.output, !Catch::Contains("gnuplot failed"));
    for (const char* family : {"random_features", "low_rank", "sparse", "hashing"})
        CHECK(fs::file_size(dir.file(std::string("out/approximation_") + family + ".png")) > 0);
}

TEST_CASE("vit_predict --folder names a class folder the model does not know", "[apps][errors]") {
    TempDir dir;
    fs::create_directories(dir.file("photos/unicorn"));
    datasets::write_png_grid(dir.file("photos/unicorn/a.png"), Tensor::full({1, 3, 32, 32}, 0.5f), 1, 0);
    std::string model = std::string(ATTNLAB_SOURCE_DIR) + "/models/vit-cifar10";
    RunResult r = run("vit_predict --checkpoint " + model + " --folder " + dir.file("photos"));
    INFO(r.output);
    REQUIRE(r.exit_code != 0);
    REQUIRE_THAT(r.output, Catch::Contains("class 'unicorn'") && Catch::Contains("airplane, automobile"));
}

// DIR/<split>/<class>/<i>.png: "bright" images (pixels in [0.6, 1]) and "dark" ones ([0, 0.4]), 20 x 20.
static void write_bright_dark_folder(const std::string& dir, const std::string& split, int per_class, uint64_t seed) {
    Generator gen(seed);
    for (auto [name, low] : {std::pair<std::string, float>{"bright", 0.6f}, {"dark", 0.f}}) {
        fs::create_directories(dir + "/" + split + "/" + name);
        for (int i = 0; i < per_class; ++i)
            datasets::write_png_grid(dir + "/" + split + "/" + name + "/" + std::to_string(i) + ".png",
                                 Tensor::rand({1, 3, 20, 20}, gen, low, low + 0.4f), 1, 0);
    }
}

TEST_CASE("vit_train trains on a folder of the user's images, --eval-only and vit_predict use its classes", "[apps][train]") {
    TempDir dir;
    write_bright_dark_folder(dir.file("photos"), "train", 24, 1);
    write_bright_dark_folder(dir.file("photos"), "test", 6, 2);
    const std::string model = " --dim 32 --depth 1 --heads 2 --patch 4 --batch 8 --threads 1 --no-progress";
    RunResult train = run("vit_train --dataset folder --data " + dir.file("photos") + " --image-size 16 --epochs 3" + model +
                          " --checkpoint " + dir.file("run"));
    INFO(train.output);
    REQUIRE(train.exit_code == 0);
    REQUIRE_THAT(train.output, Catch::Contains("17 tokens") && Catch::Contains("train 48 images, test 12 images"));
    std::ifstream cfg_file(dir.file("run/last/config.json"));
    nlohmann::json cfg = nlohmann::json::parse(cfg_file);
    REQUIRE(cfg["extra"]["class_names"] == std::vector<std::string>{"bright", "dark"});
    REQUIRE(cfg["extra"]["dataset"] == "folder");
    const float mean_r = cfg["extra"]["normalization"]["mean"][0].get<float>();
    REQUIRE(mean_r == Approx(0.5f).margin(0.03f));  // half the images around 0.8, half around 0.2

    RunResult eval = run("vit_train --eval-only --dataset folder --data " + dir.file("photos") + " --checkpoint " + dir.file("run"));
    INFO(eval.output);
    REQUIRE(eval.exit_code == 0);
    REQUIRE_THAT(eval.output, Catch::Contains("test: 12 images"));
    const size_t at = eval.output.find("accuracy ");
    REQUIRE(at != std::string::npos);
    REQUIRE(std::stod(eval.output.substr(at + 9)) >= 75.0);  // bright vs dark: learned in 3 epochs
    RunResult folder = run("vit_predict --checkpoint " + dir.file("run") + " --folder " + dir.file("photos/test"));
    INFO(folder.output);
    REQUIRE_THAT(folder.output, Catch::Contains("12 images in 2 classes") && Catch::Contains("bright") && Catch::Contains("dark"));

    write_bright_dark_folder(dir.file("no-test"), "train", 4, 3);
    std::string base = "vit_train --checkpoint " + dir.file("bad") + model + " ";
    require_errors(base, {
        {"--dataset folder", "--dataset folder needs --data DIR"},
        {"--dataset folder --data " + dir.file("no-test"), "has no test/ subfolder"},
        {"--dataset folder --data " + dir.file("no-test") + " --val-split 8", "--val-split 8: the training set has only 8 images"},
        {"--dataset imagenet", "--dataset: imagenet not in {cifar10,cifar100,cifar100-coarse,fashion-mnist,folder}"},
        {"--dataset cifar10 --data " + dir.file("photos") + " --image-size 64", "needs --dataset folder"},
    });
}

TEST_CASE("vit_train --dataset cifar100 trains a 100-class model that --eval-only and vit_predict read back", "[apps][train]") {
    TempDir dir;
    for (auto [name, n] : {std::pair<std::string, int>{"train.bin", 48}, {"test.bin", 8}}) {
        std::vector<uint8_t> bytes;
        for (int i = 0; i < n; ++i) {  // record: coarse label, fine label, 3072 pixels
            bytes.push_back(uint8_t(i % 20)), bytes.push_back(uint8_t(i % 100));
            for (int p = 0; p < 3072; ++p) bytes.push_back(uint8_t((p * 7 + i * 13) % 256));
        }
        write_bytes(dir.file("c100/" + name), bytes);
    }
    RunResult train = run("vit_train --dataset cifar100 --data " + dir.file("c100") +
                          " --epochs 1 --dim 32 --depth 1 --heads 2 --patch 8 --batch 16 --threads 1 --no-progress --checkpoint " +
                          dir.file("run"));
    INFO(train.output);
    REQUIRE(train.exit_code == 0);
    std::ifstream cfg_file(dir.file("run/last/config.json"));
    nlohmann::json cfg = nlohmann::json::parse(cfg_file);
    REQUIRE(cfg["extra"]["class_names"].size() == 100);
    REQUIRE(cfg["extra"]["dataset"] == "cifar100");
    REQUIRE(cfg["extra"]["normalization"]["std"].size() == 3);
    RunResult eval = run("vit_train --eval-only --dataset cifar100 --data " + dir.file("c100") + " --checkpoint " + dir.file("run"));
    INFO(eval.output);
    REQUIRE_THAT(eval.output, Catch::Contains("test: 8 images"));
    RunResult predict = run("vit_predict --checkpoint " + dir.file("run") + " --cifar " + dir.file("c100/test.bin") + " --records 0");
    INFO(predict.output);
    REQUIRE_THAT(predict.output, Catch::Contains("(true: apple)"));
}

TEST_CASE("vit_train --dataset fashion-mnist trains a 1-channel 28 x 28 model that beats chance", "[apps][train]") {
    if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
        WARN("skipped: Debian's dataset-fashion-mnist package is not installed (make deps installs it)");
        return;
    }
    TempDir dir;
    RunResult train = run("vit_train --dataset fashion-mnist --train-subset 4000 --eval-subset 1000 --epochs 5 --dim 32 --depth 2"
                          " --heads 2 --batch 32 --threads 1 --no-progress --checkpoint " + dir.file("run"));
    INFO(train.output);
    REQUIRE(train.exit_code == 0);
    REQUIRE_THAT(train.output, Catch::Contains("50 tokens") && Catch::Contains("train 4000 images, test 1000 images"));
    const size_t at = train.output.find("best test accuracy ");
    REQUIRE(at != std::string::npos);
    REQUIRE(std::stod(train.output.substr(at + 19)) > 30.0);  // chance: 10 %; this run reaches ~47 %
    std::ifstream cfg_file(dir.file("run/last/config.json"));
    nlohmann::json cfg = nlohmann::json::parse(cfg_file);
    REQUIRE(cfg["channels"] == 1);
    REQUIRE(cfg["image_size"] == 28);
    REQUIRE(cfg["extra"]["class_names"][0] == "T-shirt/top");
}

// test_trainer.cpp — the training loop: exact resume after an interruption,
// NaN handling, learning on real CIFAR-10, and the attention study's resumability.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "datasets/formats/cifar.h"
#include "tests/support/helpers.h"
#include "nn/io/checkpoint.h"
#include "nn/study/study.h"
#include "nn/train/trainer.h"
#include "tests/support/synthetic_images.h"

using namespace attnlab;
using namespace attnlab::testing;
namespace fs = std::filesystem;

static nn::ViTConfig small_vit() {
    nn::ViTConfig c;
    c.image_size = 32, c.patch_size = 8, c.dim = 32, c.depth = 2, c.heads = 2, c.mlp_ratio = 2.0;
    c.dropout = 0.1, c.drop_path = 0.2;  // randomness in the forward pass: resume must restore the RNG
    return c;
}

static nn::TrainOptions small_training(const std::string& run_dir) {
    nn::TrainOptions t;
    t.epochs = 3, t.batch_size = 16, t.lr = 2e-3, t.warmup_epochs = 1, t.seed = 11;
    t.mixup_alpha = 0.4, t.cutmix_alpha = 1.0, t.mix_prob = 0.5;  // mixing must replay identically too
    t.run_dir = run_dir, t.progress = false;
    return t;
}

TEST_CASE("a run interrupted mid-epoch and resumed gives bit-identical losses to an uninterrupted run", "[train]") {
    datasets::ImageDataset train = synthetic_images(64, 1), eval = synthetic_images(32, 2);
    TempDir dir;
    std::vector<double> full, resumed;

    manual_seed(11);
    nn::Trainer a(std::make_shared<nn::VisionTransformer>(small_vit()), small_training(dir.file("a")), train, eval,
                  datasets::Normalization::cifar10());
    a.on_step = [&](int64_t, double loss) { full.push_back(loss); };
    nn::TrainResult ra = a.fit();
    REQUIRE(ra.reason == nn::StopReason::Finished);
    REQUIRE(full.size() == 12);  // 4 steps per epoch × 3

    manual_seed(11);
    nn::Trainer b(std::make_shared<nn::VisionTransformer>(small_vit()), small_training(dir.file("b")), train, eval,
                  datasets::Normalization::cifar10());
    b.stop_after_steps = 6;  // in the middle of epoch 2
    nn::TrainResult rb = b.fit();
    REQUIRE(rb.reason == nn::StopReason::Interrupted);
    REQUIRE(fs::exists(dir.file("b/last/training_state.safetensors")));

    manual_seed(999);  // a different init: everything must come from the checkpoint
    nn::TrainOptions t = small_training(dir.file("b"));
    t.resume = true;
    nn::Trainer c(std::make_shared<nn::VisionTransformer>(small_vit()), t, train, eval, datasets::Normalization::cifar10());
    c.on_step = [&](int64_t, double loss) { resumed.push_back(loss); };
    nn::TrainResult rc = c.fit();
    REQUIRE(rc.reason == nn::StopReason::Finished);
    REQUIRE(resumed.size() == 6);
    for (size_t i = 0; i < 6; ++i) {
        INFO("step " << 6 + i);
        REQUIRE(resumed[i] == full[6 + i]);
    }
    REQUIRE(rc.history.back().eval_acc == ra.history.back().eval_acc);
    REQUIRE(rc.history.back().train_loss == ra.history.back().train_loss);  // the partial epoch's meters were saved too
}

TEST_CASE("eval_every evaluates after every N-th epoch and the last, skipped epochs log empty eval fields", "[train]") {
    datasets::ImageDataset train = synthetic_images(32, 5), eval = synthetic_images(16, 6);
    TempDir dir;
    manual_seed(2);
    nn::TrainOptions t = small_training(dir.file("run"));
    t.epochs = 5, t.eval_every = 2;
    nn::Trainer trainer(std::make_shared<nn::VisionTransformer>(small_vit()), t, train, eval, datasets::Normalization::cifar10());
    REQUIRE(trainer.evaluates_after(2));
    REQUIRE_FALSE(trainer.evaluates_after(3));
    nn::TrainResult r = trainer.fit();
    REQUIRE(r.reason == nn::StopReason::Finished);
    std::vector<bool> evaluated;
    for (const nn::EpochRecord& e : r.history) evaluated.push_back(e.evaluated);
    REQUIRE(evaluated == std::vector<bool>{false, true, false, true, true});
    REQUIRE((r.best_epoch == 2 || r.best_epoch == 4 || r.best_epoch == 5));

    std::ifstream csv(dir.file("run/metrics.csv"));
    std::string header, first_row, second_row;
    std::getline(csv, header), std::getline(csv, first_row), std::getline(csv, second_row);
    REQUIRE(header.find("test_acc") != std::string::npos);
    INFO(first_row << "\n" << second_row);
    REQUIRE(first_row.find(",,,") != std::string::npos);  // train_acc,(eval_loss),(eval_acc),seconds
    REQUIRE(second_row.find(",,") == std::string::npos);
    std::ifstream jl(dir.file("run/metrics.jsonl"));
    std::string line;
    std::getline(jl, line);
    REQUIRE(nlohmann::json::parse(line)["eval_acc"].is_null());

    nn::TrainOptions last_only = small_training(dir.file("last-only"));
    last_only.epochs = 3, last_only.eval_every = 0;
    nn::Trainer once(std::make_shared<nn::VisionTransformer>(small_vit()), last_only, train, eval,
                     datasets::Normalization::cifar10());
    nn::TrainResult r0 = once.fit();
    REQUIRE(r0.history.size() == 3);
    REQUIRE((!r0.history[0].evaluated && !r0.history[1].evaluated && r0.history[2].evaluated));
    REQUIRE(r0.best_epoch == 3);
}

TEST_CASE("a non-finite loss stops training with a clear message and keeps the last good checkpoint", "[train][errors]") {
    datasets::ImageDataset train = synthetic_images(64, 3), eval = synthetic_images(16, 4);
    TempDir dir;
    manual_seed(1);
    nn::TrainOptions t = small_training(dir.file("run"));
    t.epochs = 1;
    nn::Trainer first(std::make_shared<nn::VisionTransformer>(small_vit()), t, train, eval, datasets::Normalization::cifar10());
    REQUIRE(first.fit().reason == nn::StopReason::Finished);
    std::ifstream f(dir.file("run/last/model.safetensors"), std::ios::binary);
    std::string saved((std::istreambuf_iterator<char>(f)), {});

    t.epochs = 3, t.resume = true, t.lr = 1e6, t.grad_clip = 0, t.mixup_alpha = 0, t.cutmix_alpha = 0;
    t.resume_with_changes = true;  // a deliberately diverging continuation of the same run
    nn::Trainer second(std::make_shared<nn::VisionTransformer>(small_vit()), t, train, eval, datasets::Normalization::cifar10());
    nn::TrainResult r = second.fit();
    REQUIRE(r.reason == nn::StopReason::NonFiniteLoss);
    REQUIRE_THAT(r.message, Catch::Contains("loss is") && Catch::Contains("last good checkpoint is") &&
                                Catch::Contains(dir.file("run/last")) && Catch::Contains("lower --lr"));
    std::ifstream g(dir.file("run/last/model.safetensors"), std::ios::binary);
    REQUIRE(std::string((std::istreambuf_iterator<char>(g)), {}) == saved);
}

TEST_CASE("resume without a checkpoint is an error that says so", "[train][errors]") {
    datasets::ImageDataset train = synthetic_images(32, 5);
    TempDir dir;
    nn::TrainOptions t = small_training(dir.file("empty"));
    t.resume = true;
    nn::Trainer tr(std::make_shared<nn::VisionTransformer>(small_vit()), t, train, train, datasets::Normalization::cifar10());
    REQUIRE_THROWS_WITH(tr.fit(), Catch::Contains("resume: no checkpoint with training state in"));
}

TEST_CASE("the loop writes metrics CSV/JSONL, best and last checkpoints and a summary", "[train]") {
    datasets::ImageDataset train = synthetic_images(64, 6), eval = synthetic_images(32, 7);
    TempDir dir;
    manual_seed(2);
    nn::TrainOptions t = small_training(dir.file("run"));
    t.epochs = 2;
    nn::Trainer tr(std::make_shared<nn::VisionTransformer>(small_vit()), t, train, eval, datasets::Normalization::cifar10());
    tr.fit();
    std::ifstream csv(dir.file("run/metrics.csv"));
    std::string header, row1, row2, extra;
    std::getline(csv, header), std::getline(csv, row1), std::getline(csv, row2);
    REQUIRE(header == "epoch,lr,train_loss,train_acc,test_loss,test_acc,seconds,images_per_sec,peak_rss_mb");
    REQUIRE(row1.rfind("1,", 0) == 0);
    REQUIRE(row2.rfind("2,", 0) == 0);
    REQUIRE_FALSE(std::getline(csv, extra));
    REQUIRE(fs::exists(dir.file("run/best/model.safetensors")));
    REQUIRE(fs::exists(dir.file("run/last/config.json")));
    nlohmann::json summary = nlohmann::json::parse(std::ifstream(dir.file("run/summary.json")));
    REQUIRE(summary["status"] == "finished");
    REQUIRE(summary["epochs_done"] == 2);
}

TEST_CASE("a short training on a 2,000-image CIFAR-10 subset beats chance clearly", "[train][cifar][slow]") {
    std::string dir = shared_data("cifar-10-batches-bin");
    if (dir.empty()) {
        WARN("skipped: CIFAR-10 not found at ../shared/data/cifar-10-batches-bin");
        return;
    }
    datasets::ImageDataset train = datasets::load_cifar10(dir, datasets::Split::Train).subset(0, 2000);
    datasets::ImageDataset test = datasets::load_cifar10(dir, datasets::Split::Test).subset(0, 1000);
    nn::ViTConfig c;
    c.patch_size = 8, c.dim = 96, c.depth = 3, c.heads = 4, c.mlp_ratio = 2.0, c.drop_path = 0.0;  // 16 tokens: fast
    nn::TrainOptions t;
    t.epochs = 20, t.batch_size = 64, t.lr = 2e-3, t.warmup_epochs = 1, t.weight_decay = 0.05, t.seed = 0;
    t.progress = false;
    manual_seed(0);
    nn::Trainer tr(std::make_shared<nn::VisionTransformer>(c), t, train, test, datasets::Normalization::cifar10());
    nn::TrainResult r = tr.fit();
    INFO("best test accuracy " << r.best_eval_acc << " after " << r.epochs_done << " epochs");
    REQUIRE(r.best_eval_acc > 0.30);
}

// A study of the small ViT on synthetic images, `epochs` epochs per variant, written to out_dir.
static nn::StudyOptions small_study(std::vector<std::string> variants, int epochs, const std::string& out_dir) {
    nn::StudyOptions o;
    o.variants = std::move(variants);
    o.model = small_vit();
    o.train = small_training("");
    o.train.epochs = epochs, o.train.mixup_alpha = 0, o.train.cutmix_alpha = 0;
    o.out_dir = out_dir;
    o.command = "test", o.budget = std::to_string(epochs) + (epochs == 1 ? " epoch" : " epochs");
    return o;
}

TEST_CASE("the attention study skips finished variants when run again", "[train][study]") {
    datasets::ImageDataset train = synthetic_images(48, 8), eval = synthetic_images(16, 9);
    TempDir dir;
    nn::StudyOptions o = small_study({"softmax", "linear"}, 1, dir.file("study"));
    std::vector<nn::StudyRow> first = nn::run_study(o, train, eval, datasets::Normalization::cifar10());
    REQUIRE(first.size() == 2);
    auto stamp = fs::last_write_time(dir.file("study/runs/softmax/metrics.csv"));
    std::vector<nn::StudyRow> second = nn::run_study(o, train, eval, datasets::Normalization::cifar10());
    REQUIRE(second.size() == 2);
    REQUIRE(fs::last_write_time(dir.file("study/runs/softmax/metrics.csv")) == stamp);  // not retrained
    REQUIRE(second[1].best_acc == first[1].best_acc);
    std::ifstream md(dir.file("study/study.md"));
    std::string text((std::istreambuf_iterator<char>(md)), {});
    REQUIRE_THAT(text, Catch::Contains("| softmax |") && Catch::Contains("| linear |") && Catch::Contains("O(ND²)"));
    REQUIRE(fs::exists(dir.file("study/study.csv")));

    // Another budget (any training option, not only epochs/lr) must not reuse or overwrite the finished rows.
    o.train.warmup_epochs += 1;
    REQUIRE_THROWS_WITH(nn::run_study(o, train, eval, datasets::Normalization::cifar10()),
                        Catch::Contains("study/runs/softmax holds a finished run with another budget") &&
                            Catch::Contains("train.warmup_epochs: saved") && Catch::Contains("choose another --out"));
    REQUIRE(fs::last_write_time(dir.file("study/runs/softmax/metrics.csv")) == stamp);
}

TEST_CASE("a study continues from its committed files alone, without checkpoints", "[train][study]") {
    datasets::ImageDataset train = synthetic_images(48, 8), eval = synthetic_images(16, 9);
    TempDir dir;
    nn::StudyOptions o = small_study({"softmax", "linear"}, 2, dir.file("study"));
    std::vector<nn::StudyRow> first = nn::run_study(o, train, eval, datasets::Normalization::cifar10());
    auto read = [](const std::string& path) {
        std::ifstream f(path);
        return std::string((std::istreambuf_iterator<char>(f)), {});
    };
    const std::string epochs_csv = read(dir.file("study/study_epochs.csv"));
    REQUIRE(std::count(epochs_csv.begin(), epochs_csv.end(), '\n') == 1 + 2 * 2);  // header + 2 epochs per variant
    // What a fresh checkout holds: only budget.json and study_row.json of each run directory.
    for (const char* v : {"softmax", "linear"})
        for (const auto& entry : fs::directory_iterator(dir.file(std::string("study/runs/") + v)))
            if (entry.path().filename() != "study_row.json" && entry.path().filename() != "budget.json")
                fs::remove_all(entry.path());
    std::vector<nn::StudyRow> second = nn::run_study(o, train, eval, datasets::Normalization::cifar10());
    REQUIRE(second.size() == 2);
    REQUIRE(!fs::exists(dir.file("study/runs/softmax/metrics.csv")));  // skipped, not retrained
    CHECK(second[0].best_acc == first[0].best_acc);
    CHECK(second[1].curve.size() == 2);
    CHECK(read(dir.file("study/study_epochs.csv")) == epochs_csv);  // the curves come from the rows
}

TEST_CASE("the study report names the machine, with a column when rows come from several", "[train][study]") {
    TempDir dir;
    nn::StudyOptions o = small_study({}, 1, dir.file("study"));
    nn::StudyRow a, b;
    a.variant = "softmax", a.machine = "CPU A, 2 threads, OpenBLAS OpenMP, Zen";
    b.variant = "linear", b.machine = a.machine;
    auto report = [&](const std::vector<nn::StudyRow>& rows) {
        nn::write_study_report(o, rows);
        std::ifstream f(dir.file("study/study.md"));
        return std::string((std::istreambuf_iterator<char>(f)), {});
    };
    std::string one = report({a, b});
    CHECK_THAT(one, Catch::Contains("Every row was measured on CPU A, 2 threads"));
    CHECK_THAT(one, !Catch::Contains("measured on |"));
    b.machine = "CPU B, 2 threads, OpenBLAS OpenMP, Cooperlake";
    std::string two = report({a, b});
    CHECK_THAT(two, Catch::Contains("measured on 2 different machines") && Catch::Contains("| measured on |") &&
                        Catch::Contains("| CPU B, 2 threads, OpenBLAS OpenMP, Cooperlake |"));
    CHECK(!nn::machine_description().empty());
}

TEST_CASE("the study never resumes an unfinished run with another budget", "[train][study]") {
    datasets::ImageDataset train = synthetic_images(48, 8), eval = synthetic_images(16, 9);
    TempDir dir;
    nn::StudyOptions o = small_study({"softmax"}, 1, dir.file("study"));
    nn::run_study(o, train, eval, datasets::Normalization::cifar10());
    fs::remove(dir.file("study/runs/softmax/study_row.json"));  // as if stopped before the end
    REQUIRE(fs::exists(dir.file("study/runs/softmax/budget.json")));
    o.train.epochs = 2;
    REQUIRE_THROWS_WITH(nn::run_study(o, train, eval, datasets::Normalization::cifar10()),
                        Catch::Contains("study/runs/softmax holds an unfinished run with another budget") &&
                            Catch::Contains("train.epochs: saved 1, this study 2"));
}

TEST_CASE("the study's s/epoch and train img/s are medians over the epochs' metrics", "[train][study]") {
    datasets::ImageDataset train = synthetic_images(48, 8), eval = synthetic_images(16, 9);
    TempDir dir;
    std::vector<nn::StudyRow> rows =
        nn::run_study(small_study({"softmax"}, 3, dir.file("study")), train, eval, datasets::Normalization::cifar10());
    REQUIRE(rows.size() == 1);
    std::vector<double> seconds, ips;
    std::ifstream f(dir.file("study/runs/softmax/metrics.jsonl"));
    for (std::string line; std::getline(f, line);) {
        nlohmann::json j = nlohmann::json::parse(line);
        seconds.push_back(j.at("seconds").get<double>()), ips.push_back(j.at("images_per_sec").get<double>());
    }
    REQUIRE(seconds.size() == 3);
    std::sort(seconds.begin(), seconds.end()), std::sort(ips.begin(), ips.end());
    CHECK(rows[0].seconds_per_epoch == seconds[1]);
    CHECK(rows[0].train_images_per_sec == ips[1]);
}

TEST_CASE("a variant that runs out of memory gets a row saying so and the study goes on", "[train][study][errors]") {
    datasets::ImageDataset train = synthetic_images(48, 8), eval = synthetic_images(16, 9);
    TempDir dir;
    nn::StudyOptions o = small_study({"performer", "linear"}, 1, dir.file("study"));
    o.variant_options["performer"].set("features", int64_t(4096));  // [16, 2, 17, 4096] floats per feature map
    o.memory_limit_bytes = size_t(4) << 20;                          // while linear needs well under 1 MB
    std::vector<nn::StudyRow> rows = nn::run_study(o, train, eval, datasets::Normalization::cifar10());
    REQUIRE(rows.size() == 2);
    CHECK(rows[0].status == "out of memory");
    CHECK_THAT(rows[0].reason, Catch::Contains("above the memory limit of 4 MB"));
    CHECK(rows[1].status == "finished");
    CHECK(storage_limit() == 0);  // the limit held only while a variant trained
    std::ifstream md(dir.file("study/study.md"));
    std::string text((std::istreambuf_iterator<char>(md)), {});
    CHECK_THAT(text, Catch::Contains("| performer (out of memory) | – |") &&
                         Catch::Contains("performer could not train within the memory: out of memory: a tensor of") &&
                         Catch::Contains("| linear |"));
    // Run again: the out-of-memory row is a result, kept and not retried.
    std::vector<nn::StudyRow> again = nn::run_study(o, train, eval, datasets::Normalization::cifar10());
    REQUIRE(again.size() == 2);
    CHECK(again[0].status == "out of memory");
    CHECK(again[0].reason == rows[0].reason);
}

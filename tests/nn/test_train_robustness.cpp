// test_train_robustness.cpp — the training loop never loses a run: a fresh run
// refuses a used directory, every attention variant resumes bit-exactly (their
// own generators are in the checkpoint), non-finite losses or weights never
// reach last/ or best/, and a kill during a checkpoint swap is repaired.
#include <filesystem>
#include <fstream>

#include "attention/registry.h"
#include "tests/support/helpers.h"
#include "nn/io/checkpoint.h"
#include "nn/train/trainer.h"
#include "tests/support/synthetic_images.h"

using namespace attnlab;
using namespace attnlab::testing;
namespace fs = std::filesystem;

static nn::ViTConfig tiny_vit(const std::string& attention = "softmax", attention::Options opts = {}) {
    nn::ViTConfig c;
    c.image_size = 16, c.patch_size = 4, c.dim = 16, c.depth = 1, c.heads = 2, c.mlp_ratio = 2.0;  // 17 tokens
    c.dropout = 0.1, c.drop_path = 0.1;
    c.attention = attention, c.attention_options = std::move(opts);
    return c;
}

static nn::TrainOptions tiny_training(const std::string& run_dir) {
    nn::TrainOptions t;
    t.epochs = 2, t.batch_size = 8, t.lr = 2e-3, t.warmup_epochs = 0.5, t.seed = 5;
    t.run_dir = run_dir, t.progress = false;
    return t;
}

static std::string file_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE(f.good());
    return std::string((std::istreambuf_iterator<char>(f)), {});
}

static nn::TrainResult train_tiny(const nn::ViTConfig& cfg, const nn::TrainOptions& t, const datasets::ImageDataset& train,
                                  const datasets::ImageDataset& eval, int64_t stop_after_steps = 0,
                                  std::function<void(nn::VisionTransformer&, int64_t)> after_step = nullptr) {
    manual_seed(t.seed);
    auto vit = std::make_shared<nn::VisionTransformer>(cfg);
    nn::Trainer trainer(vit, t, train, eval, datasets::Normalization::cifar10());
    trainer.stop_after_steps = stop_after_steps;
    if (after_step) trainer.on_step = [&](int64_t step, double) { after_step(*vit, step); };
    return trainer.fit();
}

TEST_CASE("a fresh run refuses a directory holding a run and names it, --overwrite starts it again", "[train][errors]") {
    datasets::ImageDataset train = synthetic_images(16, 1, 10, 16), eval = synthetic_images(8, 2, 10, 16);
    TempDir dir;
    nn::TrainOptions t = tiny_training(dir.file("run"));
    t.epochs = 1;
    REQUIRE(train_tiny(tiny_vit(), t, train, eval).reason == nn::StopReason::Finished);
    const std::string finished = file_bytes(dir.file("run/best/model.safetensors"));
    const std::string metrics = file_bytes(dir.file("run/metrics.csv"));

    t.epochs = 2;  // forgetting --resume: refused before anything is touched
    REQUIRE_THROWS_WITH(train_tiny(tiny_vit(), t, train, eval),
                        Catch::Contains(dir.file("run")) && Catch::Contains("already holds a run") &&
                            Catch::Contains("--resume") && Catch::Contains("--overwrite"));
    REQUIRE(file_bytes(dir.file("run/best/model.safetensors")) == finished);
    REQUIRE(file_bytes(dir.file("run/metrics.csv")) == metrics);
    // An early Ctrl-C in such a rerun must not replace the finished last/ either.
    REQUIRE_THROWS(train_tiny(tiny_vit(), t, train, eval, 1));
    REQUIRE(file_bytes(dir.file("run/best/model.safetensors")) == finished);

    t.overwrite = true;
    nn::TrainResult again = train_tiny(tiny_vit(), t, train, eval);
    REQUIRE(again.reason == nn::StopReason::Finished);
    REQUIRE(again.history.size() == 2);
    nlohmann::json summary = nlohmann::json::parse(file_bytes(dir.file("run/summary.json")));
    REQUIRE(summary["epochs_done"] == 2);
}

TEST_CASE("a model checkpoint directory is never trained into, not even with --overwrite", "[train][errors]") {
    datasets::ImageDataset train = synthetic_images(16, 1, 10, 16), eval = synthetic_images(8, 2, 10, 16);
    TempDir dir;
    write_bytes(dir.file("model/model.safetensors"), {1, 2, 3});  // like models/vit-cifar10
    nn::TrainOptions t = tiny_training(dir.file("model"));
    t.epochs = 1;
    for (bool overwrite : {false, true}) {
        t.overwrite = overwrite;
        REQUIRE_THROWS_WITH(train_tiny(tiny_vit(), t, train, eval),
                            Catch::Contains("is a model checkpoint") && Catch::Contains("choose another --checkpoint"));
    }
    REQUIRE_FALSE(fs::exists(dir.file("model/last")));
    REQUIRE_FALSE(fs::exists(dir.file("model/summary.json")));
    REQUIRE(file_bytes(dir.file("model/model.safetensors")) == std::string("\x01\x02\x03"));
}

TEST_CASE("a fresh run never overwrites metrics or a summary that are not its own", "[train][errors]") {
    datasets::ImageDataset train = synthetic_images(16, 1, 10, 16), eval = synthetic_images(8, 2, 10, 16);
    TempDir dir;
    for (const char* name : {"metrics.csv", "metrics.jsonl", "summary.json"}) {
        fs::remove_all(dir.file("here"));
        fs::create_directories(dir.file("here"));
        write_text(dir.file(std::string("here/") + name), "someone else's data\n");
        write_text(dir.file("here/notes.txt"), "unrelated\n");
        nn::TrainOptions t = tiny_training(dir.file("here"));
        INFO(name);
        REQUIRE_THROWS_WITH(train_tiny(tiny_vit(), t, train, eval),
                            Catch::Contains(name) && Catch::Contains("would overwrite") && Catch::Contains("--overwrite"));
        REQUIRE(file_bytes(dir.file(std::string("here/") + name)) == "someone else's data\n");
    }
    // Files the trainer never writes do not block a run and are left alone.
    fs::remove_all(dir.file("other"));
    fs::create_directories(dir.file("other"));
    write_text(dir.file("other/notes.txt"), "unrelated\n");
    nn::TrainOptions t = tiny_training(dir.file("other"));
    t.epochs = 1;
    REQUIRE(train_tiny(tiny_vit(), t, train, eval).reason == nn::StopReason::Finished);
    REQUIRE(file_bytes(dir.file("other/notes.txt")) == "unrelated\n");
}

// The options that give each variant random state during training, on 17 tokens.
static attention::Options random_state_options(const std::string& name) {
    if (name == "performer") return attention::Options::parse({"redraw_interval=2"}, attention::attention_info(name).options, name);
    if (name == "bigbird") return attention::Options::parse({"redraw=true", "block=4"}, attention::attention_info(name).options, name);
    if (name == "rfa") return attention::Options::parse({"redraw=true"}, attention::attention_info(name).options, name);
    if (name == "reformer") return attention::Options::parse({"chunk=8"}, attention::attention_info(name).options, name);  // redraws by default
    if (name == "nystrom") return attention::Options::parse({"landmarks=4"}, attention::attention_info(name).options, name);
    if (name == "linformer") return attention::Options::parse({"k=8"}, attention::attention_info(name).options, name);
    if (name == "longformer") return attention::Options::parse({"window=4"}, attention::attention_info(name).options, name);
    return {};
}

TEST_CASE("every attention variant interrupted mid-epoch and resumed ends with byte-identical weights", "[train][resume]") {
    datasets::ImageDataset train = synthetic_images(24, 3, 10, 16), eval = synthetic_images(8, 4, 10, 16);  // 3 steps per epoch
    TempDir dir;
    REQUIRE(attention::attention_variants().size() == 14);
    for (const attention::VariantInfo& v : attention::attention_variants()) {
        INFO(v.name);
        nn::ViTConfig cfg = tiny_vit(v.name, random_state_options(v.name));
        nn::TrainOptions full = tiny_training(dir.file(v.name + "-full"));
        REQUIRE(train_tiny(cfg, full, train, eval).reason == nn::StopReason::Finished);

        nn::TrainOptions split = tiny_training(dir.file(v.name + "-split"));
        REQUIRE(train_tiny(cfg, split, train, eval, 4).reason == nn::StopReason::Interrupted);  // epoch 2, batch 1
        split.resume = true;
        split.seed = 5;
        manual_seed(12345);  // another init and another draw of the variants' seeds: all must come from the checkpoint
        auto vit = std::make_shared<nn::VisionTransformer>(cfg);
        nn::Trainer resumed(vit, split, train, eval, datasets::Normalization::cifar10());
        REQUIRE(resumed.fit().reason == nn::StopReason::Finished);
        REQUIRE(file_bytes(dir.file(v.name + "-split/last/model.safetensors")) ==
                file_bytes(dir.file(v.name + "-full/last/model.safetensors")));
    }
}

static void poison(nn::VisionTransformer& vit) {
    NoGradGuard no_grad;
    Tensor w = vit.named_parameters().back().second;  // the head's bias
    w.data()[0] = std::numeric_limits<float>::quiet_NaN();
}

TEST_CASE("non-finite weights or evaluation loss stop the run, last/ and best/ keep the last finite epoch", "[train][errors]") {
    datasets::ImageDataset train = synthetic_images(16, 1, 10, 16), eval = synthetic_images(8, 2, 10, 16);  // 2 steps per epoch
    TempDir dir;
    nn::TrainOptions t = tiny_training(dir.file("run"));
    t.epochs = 3;
    // NaN weights after the last step of epoch 2: the evaluation loss is NaN.
    nn::TrainResult r = train_tiny(tiny_vit(), t, train, eval, 0, [](nn::VisionTransformer& vit, int64_t step) {
        if (step == 3) poison(vit);
    });
    INFO(r.message);
    REQUIRE(r.reason == nn::StopReason::NonFiniteLoss);
    REQUIRE_THAT(r.message, Catch::Contains("test loss is NaN after epoch 2") &&
                                Catch::Contains("last good checkpoint is " + dir.file("run/last") + " (epoch 1)"));
    REQUIRE(r.history.size() == 1);
    for (const char* which : {"last", "best"}) {
        auto vit = nn::load_vit(dir.file(std::string("run/") + which));
        REQUIRE(nn::weights_are_finite(*vit));
        REQUIRE(nn::read_train_state(dir.file(std::string("run/") + which)).epoch == 1);
    }
    nlohmann::json summary = nlohmann::json::parse(file_bytes(dir.file("run/summary.json")));
    REQUIRE(summary["status"] == "non-finite loss");
    REQUIRE(summary["best_epoch"] == 1);

    // Epoch 1 not evaluated (eval_every 2): the weights check catches it, and there is no last good checkpoint.
    nn::TrainOptions u = tiny_training(dir.file("fresh"));
    u.epochs = 2, u.eval_every = 2;
    nn::TrainResult w = train_tiny(tiny_vit(), u, train, eval, 0, [](nn::VisionTransformer& vit, int64_t step) {
        if (step == 1) poison(vit);
    });
    INFO(w.message);
    REQUIRE(w.reason == nn::StopReason::NonFiniteLoss);
    REQUIRE_THAT(w.message, Catch::Contains("weights are not finite after epoch 1") && Catch::Contains("no checkpoint was saved") &&
                                !Catch::Contains("last good checkpoint is"));
    REQUIRE_FALSE(fs::exists(dir.file("fresh/last")));
    REQUIRE_FALSE(fs::exists(dir.file("fresh/best")));
}

TEST_CASE("a NaN training loss in epoch 1 does not claim a last good checkpoint", "[train][errors]") {
    datasets::ImageDataset train = synthetic_images(16, 1, 10, 16), eval = synthetic_images(8, 2, 10, 16);
    TempDir dir;
    nn::TrainOptions t = tiny_training(dir.file("run"));
    nn::TrainResult r = train_tiny(tiny_vit(), t, train, eval, 0, [](nn::VisionTransformer& vit, int64_t step) {
        if (step == 0) poison(vit);
    });
    REQUIRE(r.reason == nn::StopReason::NonFiniteLoss);
    REQUIRE_THAT(r.message, Catch::Contains("loss is NaN at epoch 1") && Catch::Contains("no checkpoint was saved") &&
                                !Catch::Contains("last good checkpoint is"));
}

TEST_CASE("a kill during the best/ swap is finished on resume, so summary.json matches best/", "[train][checkpoint]") {
    datasets::ImageDataset train = synthetic_images(16, 1, 10, 16), eval = synthetic_images(16, 1, 10, 16);  // eval = train
    TempDir dir;
    nn::TrainOptions t = tiny_training(dir.file("run"));
    t.lr = 5e-3;
    nn::TrainResult done;
    for (t.seed = 1; t.seed < 20; ++t.seed) {  // the first seed whose epoch 2 improves on epoch 1 (deterministic)
        t.resume = false, t.overwrite = true;
        REQUIRE(train_tiny(tiny_vit(), t, train, eval, 3).reason == nn::StopReason::Interrupted);  // in epoch 2
        fs::remove_all(dir.file("best-epoch1"));
        fs::copy(dir.file("run/best"), dir.file("best-epoch1"));
        t.resume = true, t.overwrite = false;
        done = train_tiny(tiny_vit(), t, train, eval);
        if (done.best_epoch == 2) break;
    }
    REQUIRE(done.best_epoch == 2);
    // Now pretend the process died between "best -> best.old" and "best.new -> best" of epoch 2's save.
    fs::rename(dir.file("run/best"), dir.file("run/best.new"));
    fs::rename(dir.file("best-epoch1"), dir.file("run/best.old"));
    const std::string epoch2 = file_bytes(dir.file("run/best.new/model.safetensors"));
    nn::TrainResult r = train_tiny(tiny_vit(), t, train, eval);  // resume: nothing left to train, but the swap is repaired
    REQUIRE(r.reason == nn::StopReason::Finished);
    REQUIRE_FALSE(fs::exists(dir.file("run/best.old")));
    REQUIRE_FALSE(fs::exists(dir.file("run/best.new")));
    REQUIRE(file_bytes(dir.file("run/best/model.safetensors")) == epoch2);
    nlohmann::json summary = nlohmann::json::parse(file_bytes(dir.file("run/summary.json")));
    REQUIRE(summary["best_epoch"] == 2);
    REQUIRE(nn::read_train_state(dir.file("run/best")).epoch == 2);
}

TEST_CASE("recover_interrupted_save finishes or rolls back each interrupted swap", "[checkpoint]") {
    TempDir dir;
    manual_seed(1);
    nn::VisionTransformer vit(tiny_vit());
    auto save = [&](const std::string& d) { nn::save_checkpoint(dir.file(d), vit, nn::vit_config_json(vit.config)); };
    SECTION("killed between the renames: DIR.new becomes DIR") {
        save("ck.old"), save("ck.new");
        REQUIRE_THAT(nn::recover_interrupted_save(dir.file("ck")), Catch::Contains("finished"));
        REQUIRE((fs::exists(dir.file("ck/model.safetensors")) && !fs::exists(dir.file("ck.old")) && !fs::exists(dir.file("ck.new"))));
    }
    SECTION("killed while writing DIR.new: rolled back to DIR") {
        save("ck");
        fs::create_directories(dir.file("ck.new"));
        write_text(dir.file("ck.new/model.safetensors"), "half");
        REQUIRE_THAT(nn::recover_interrupted_save(dir.file("ck")), Catch::Contains("removed the incomplete"));
        REQUIRE((fs::exists(dir.file("ck/model.safetensors")) && !fs::exists(dir.file("ck.new"))));
    }
    SECTION("killed before DIR.old was removed") {
        save("ck"), save("ck.old");
        REQUIRE_THAT(nn::recover_interrupted_save(dir.file("ck")), Catch::Contains("stale"));
        REQUIRE_FALSE(fs::exists(dir.file("ck.old")));
    }
    SECTION("nothing to do, and never removes foreign files") {
        save("ck");
        REQUIRE(nn::recover_interrupted_save(dir.file("ck")).empty());
        fs::create_directories(dir.file("ck.new"));
        write_text(dir.file("ck.new/thesis.tex"), "mine");
        REQUIRE_THROWS_WITH(nn::recover_interrupted_save(dir.file("ck")), Catch::Contains("thesis.tex"));
        REQUIRE(fs::exists(dir.file("ck.new/thesis.tex")));
    }
}

TEST_CASE("the interrupted message tells how to continue: --resume, or the study's own hint", "[train]") {
    datasets::ImageDataset train = synthetic_images(16, 1, 10, 16), eval = synthetic_images(8, 2, 10, 16);
    TempDir dir;
    nn::TrainOptions t = tiny_training(dir.file("run"));
    REQUIRE_THAT(train_tiny(tiny_vit(), t, train, eval, 1).message, Catch::Contains("(continue with --resume)"));
    nn::TrainOptions s = tiny_training(dir.file("study-run"));
    s.resume_hint = "run the same attention_study command again to continue";  // what nn/study/study.cpp sets
    REQUIRE_THAT(train_tiny(tiny_vit(), s, train, eval, 1).message,
                 Catch::Contains("run the same attention_study command again") && !Catch::Contains("--resume"));
}

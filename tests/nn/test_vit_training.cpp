// test_vit_training.cpp — end to end: a tiny ViT trained with AdamW memorizes
// random labels, and a run resumed from a checkpoint continues bitwise
// identically to the uninterrupted run (dropout and drop path active).
#include <filesystem>

#include <unistd.h>

#include "tests/support/helpers.h"
#include "nn/optim/adam.h"
#include "nn/io/checkpoint.h"
#include "nn/optim/grad_clip.h"
#include "nn/optim/lr_schedule.h"
#include "nn/train/metrics.h"

using namespace attnlab;
namespace fs = std::filesystem;

static nn::ViTConfig small_vit(double dropout, double drop_path) {
    nn::ViTConfig c;
    c.image_size = 8, c.patch_size = 4, c.channels = 3, c.num_classes = 10;  // 4 patches + cls = 5 tokens
    c.dim = 32, c.depth = 2, c.heads = 2, c.mlp_ratio = 2.0;
    c.dropout = dropout, c.drop_path = drop_path;
    return c;
}

TEST_CASE("a tiny ViT trained with AdamW fits 64 random images with random labels", "[train]") {
    manual_seed(0);
    Generator data(1);
    Tensor x = Tensor::randn({64, 3, 8, 8}, data);
    std::vector<int64_t> labels;
    for (int i = 0; i < 64; ++i) labels.push_back(data.randint(10));
    Tensor y = Tensor::from_indices(labels, {64});

    nn::VisionTransformer vit(small_vit(0.0, 0.0));
    nn::AdamW opt(nn::parameter_groups_for_adamw(vit, 0.01), {.lr = 3e-3});
    nn::CrossEntropyLoss criterion;
    double acc = 0, loss = 0;
    int step = 0;
    for (; step < 400 && acc < 1.0; ++step) {
        opt.zero_grad();
        Tensor logits = vit.forward(x);
        Tensor l = criterion(logits, y);
        l.backward();
        nn::clip_grad_norm(opt, 1.0);
        opt.step();
        acc = nn::accuracy(logits, y);
        loss = l.item();
    }
    INFO("after " << step << " steps: accuracy " << acc << ", loss " << loss);
    vit.eval();
    REQUIRE(nn::accuracy(vit.forward(x), y) == 1.0);
}

// One training step on a batch that depends only on the step number; returns the loss.
static float train_step(nn::VisionTransformer& vit, nn::Optimizer& opt, const nn::LrSchedule& schedule) {
    Generator data(1000 + uint64_t(opt.step_count()));
    Tensor x = Tensor::randn({16, 3, 8, 8}, data);
    std::vector<int64_t> labels;
    for (int i = 0; i < 16; ++i) labels.push_back(data.randint(10));
    opt.set_lr(schedule.lr_at(opt.step_count()));
    opt.zero_grad();
    Tensor loss = cross_entropy(vit.forward(x), Tensor::from_indices(labels, {16}), 0.1f);
    loss.backward();
    nn::clip_grad_norm(opt, 1.0);
    opt.step();
    return loss.item();
}

TEST_CASE("training resumed from a checkpoint reproduces the uninterrupted run bitwise", "[train][checkpoint]") {
    fs::path dir = fs::temp_directory_path() / ("attnlab-test-resume-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    const nn::ViTConfig cfg = small_vit(0.1, 0.2);  // dropout and drop path draw from default_generator()
    const auto schedule = nn::LrSchedule::cosine(2e-3, 3, 12, 1e-4);
    const int N = 5, M = 6;

    // The uninterrupted run, checkpointed after N steps.
    manual_seed(42);
    nn::VisionTransformer a(cfg);
    nn::AdamW opt_a(nn::parameter_groups_for_adamw(a, 0.05));
    for (int s = 0; s < N; ++s) train_step(a, opt_a, schedule);
    nn::save_checkpoint(dir.string(), a, nn::vit_config_json(cfg), &opt_a, {.epoch = 1, .step = N});
    std::vector<float> losses_a;
    for (int s = 0; s < M; ++s) losses_a.push_back(train_step(a, opt_a, schedule));

    // A fresh process would do this: other initial weights and RNG state, then load.
    manual_seed(7);
    nn::VisionTransformer b(nn::read_vit_config(dir.string()));
    nn::AdamW opt_b(nn::parameter_groups_for_adamw(b, 0.05));
    nn::load_model_weights(dir.string(), b);
    nn::TrainState st = nn::load_training_state(dir.string(), opt_b);
    REQUIRE(st.step == N);
    REQUIRE(opt_b.step_count() == N);
    std::vector<float> losses_b;
    for (int s = 0; s < M; ++s) losses_b.push_back(train_step(b, opt_b, schedule));

    REQUIRE(losses_b == losses_a);
    auto pa = a.named_parameters(), pb = b.named_parameters();
    for (size_t i = 0; i < pa.size(); ++i) {
        INFO(pa[i].first);
        REQUIRE(pa[i].second.to_vector() == pb[i].second.to_vector());
    }

    // Without restoring the RNG, dropout masks differ and so do the losses: the check above has teeth.
    manual_seed(7);
    nn::VisionTransformer c(cfg);
    nn::AdamW opt_c(nn::parameter_groups_for_adamw(c, 0.05));
    nn::load_model_weights(dir.string(), c);
    nn::load_training_state(dir.string(), opt_c, /*restore_rng=*/false);
    std::vector<float> losses_c;
    for (int s = 0; s < M; ++s) losses_c.push_back(train_step(c, opt_c, schedule));
    REQUIRE(losses_c != losses_a);
    fs::remove_all(dir);
}

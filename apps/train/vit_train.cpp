// vit_train — train (or evaluate) a Vision Transformer on CIFAR-10 (or CIFAR-100,
// or a folder of the user's own labelled images: datasets/dataset_source.h).
//
//   vit_train                                   # the recommended recipe, checkpoints in runs/vit-cifar10
//   vit_train --attention performer --attention-opt features=64 --epochs 30
//   vit_train --resume --checkpoint runs/vit-cifar10      # continue after Ctrl-C
//   vit_train --overwrite --checkpoint runs/vit-cifar10   # start that run again from scratch
//   vit_train --eval-only --checkpoint models/vit-cifar10 --data DIR
//   vit_train --eval-only --checkpoint models/vit-cifar10 --attention performer --attention-opt features=256
//   vit_train --profile 20                      # per-op time of a training step
//   vit_train --dataset folder --data photos --image-size 64 --patch 8 --checkpoint runs/photos
//   mpirun -np 4 vit_train --threads 1 ...      # data-parallel: each process 1/4 of every batch
//
// Argument parsing and wiring only; the loop is nn::Trainer (nn/train/trainer.h).
#include <CLI/CLI.hpp>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <csignal>
#include <cstdio>
#include <unistd.h>

#include "apps/common/cli_validators.h"
#include "attention/registry.h"
#include "core/core.h"
#include "datasets/formats/cifar.h"
#include "datasets/dataset_source.h"
#include "datasets/formats/idx.h"
#include "nn/io/classifier.h"
#include "nn/distributed/mpi_data_parallel.h"
#include "nn/distributed/runtime.h"
#include "nn/train/recipe.h"
#include "nn/train/trainer.h"

using namespace attnlab;

static std::atomic<bool> g_stop{false};

static void on_signal(int) {
    if (g_stop.exchange(true)) _exit(130);  // a second Ctrl-C quits at once
    const char msg[] = "\nstopping after this step and saving a checkpoint (Ctrl-C again to quit now)\n";
    [[maybe_unused]] ssize_t n = write(STDERR_FILENO, msg, sizeof msg - 1);
}


static std::string augment_name(const nn::TrainOptions& t) {
    std::string name = t.augment ? "crop+flip" : "";
    if (t.trivial_augment) name += name.empty() ? "trivial" : "+trivial";
    return name.empty() ? "off" : name;
}

static int run(int argc, char** argv);

int main(int argc, char** argv) {
    distributed::init(argc, argv);  // under mpirun/srun: one of P data-parallel processes
    if (distributed::rank() != 0 && !std::freopen("/dev/null", "w", stdout)) return 1;  // rank 0 prints
    int code = run(argc, argv);
    // Interrupted (130) and non-finite loss (3) are decided by all ranks together;
    // any other failure may be this rank's alone, and the others must not wait for it.
    if (code != 0 && code != 130 && code != 3 && distributed::size() > 1) distributed::abort_all(code);
    distributed::finalize();
    return code;
}

// Everything the command line sets; the option defaults are the recommended recipe (nn/train/recipe.h).
struct Args {
    nn::ViTConfig model = nn::recipe::vit_model();
    nn::TrainOptions train = nn::recipe::vit_training();
    std::vector<std::string> attention_opts;
    std::string data_dir, run_dir = "runs/vit-cifar10", dataset_name = "cifar10";
    int64_t image_size = 0;  // 0: the dataset's own (folders: 32)
    int64_t val_split = 0, train_subset = 0, eval_subset = 0;
    int threads = 0;
    int64_t stop_after_steps = 0;
    bool no_augment = false, eval_only = false, list_attention = false, no_progress = false;
    double bucket_mb = 1.0;
    std::string allreduce = "overlap";
};

static void add_model_options(CLI::App& app, Args& a) {
    nn::ViTConfig& model = a.model;
    app.add_option("--dim", model.dim, "embedding dim C")->check(CLI::Range(8, 4096))->group("Model");
    app.add_option("--depth", model.depth, "transformer blocks")->check(CLI::Range(1, 64))->group("Model");
    app.add_option("--heads", model.heads, "attention heads (must divide dim)")->check(CLI::Range(1, 64))->group("Model");
    app.add_option("--patch", model.patch_size, "patch size (must divide the image size)")->check(CLI::IsMember({1, 2, 4, 8, 16, 32}))->group("Model");
    app.add_option("--mlp-ratio", model.mlp_ratio, "MLP hidden = ratio × dim")->check(kFinite)->check(CLI::Range(0.25, 16.0))->group("Model");
    app.add_option("--dropout", model.dropout, "dropout after attention/MLP projections")->check(kFinite)->check(CLI::Range(0.0, 0.9))->group("Model");
    app.add_option("--drop-path", model.drop_path, "stochastic depth rate (last block; linear in depth)")->check(kFinite)->check(CLI::Range(0.0, 0.9))->group("Model");
    app.add_option("--pool", model.pooling, "cls token or mean of patch tokens")->check(CLI::IsMember({"cls", "mean"}))->group("Model");
    app.add_option("--attention", model.attention, "attention variant (see --list-attention); with --eval-only: swap the trained model's attention for this one")->group("Model");
    app.add_option("--attention-opt", a.attention_opts, "variant option name=value (repeatable)")->group("Model");
    app.add_flag("--list-attention", a.list_attention, "list attention variants and their options, then exit")->group("Model");
}

static void add_training_options(CLI::App& app, Args& a) {
    nn::TrainOptions& train = a.train;
    app.add_option("--epochs", train.epochs, "training epochs")->check(CLI::Range(1, 10000))->group("Training");
    app.add_option("--batch", train.batch_size, "batch size")->check(CLI::Range(1, 4096))->group("Training");
    app.add_option("--lr", train.lr, "peak learning rate (AdamW)")->check(kFinite)->check(CLI::Range(1e-7, 10.0))->group("Training");
    app.add_option("--min-lr", train.min_lr, "final learning rate of the cosine decay")->check(kFinite)->check(CLI::Range(0.0, 10.0))->group("Training");
    app.add_option("--warmup", train.warmup_epochs, "linear warmup epochs (default capped at epochs/4)")->check(kFinite)->check(CLI::Range(0.0, 1000.0))->group("Training");
    app.add_option("--weight-decay", train.weight_decay, "AdamW decoupled weight decay")->check(kFinite)->check(CLI::Range(0.0, 10.0))->group("Training");
    app.add_option("--label-smoothing", train.label_smoothing, "label smoothing ε")->check(kFinite)->check(CLI::Range(0.0, 0.99))->group("Training");
    app.add_option("--grad-clip", train.grad_clip, "max gradient norm (0 = off)")->check(kFinite)->check(CLI::Range(0.0, 1e6))->group("Training");
    app.add_flag("--no-augment", a.no_augment, "disable random crop + flip")->group("Training");
    app.add_flag("--trivial-augment", train.trivial_augment, "add TrivialAugment: one random op (shear, rotate, colour, ...) per image")->group("Training");
    app.add_option("--mixup", train.mixup_alpha, "mixup Beta(α, α); 0 = off")->check(kFinite)->check(CLI::Range(0.0, 10.0))->group("Training");
    app.add_option("--cutmix", train.cutmix_alpha, "CutMix Beta(α, α); 0 = off")->check(kFinite)->check(CLI::Range(0.0, 10.0))->group("Training");
    app.add_option("--mix-prob", train.mix_prob, "probability a batch is mixed")->check(kFinite)->check(CLI::Range(0.0, 1.0))->group("Training");
    app.add_option("--seed", train.seed, "seed of init, dropout, shuffling, augmentation")->check(CLI::NonNegativeNumber)->group("Training");
    app.add_option("--threads", a.threads, "threads (0 = all cores; under mpirun: split among the ranks of a machine)")->check(CLI::Range(0, 256))->group("Training");
}

static void add_data_options(CLI::App& app, Args& a) {
    app.add_option("--dataset", a.dataset_name, "cifar10, cifar100, cifar100-coarse, fashion-mnist or folder (DIR/train/<class>/<images>, DIR/test/...)")
        ->check(CLI::IsMember(datasets::dataset_kind_names()))->group("Data");
    app.add_option("--data", a.data_dir, "dataset directory (CIFAR-10 default: $CIFAR10_DIR or data/cifar-10-batches-bin)")->group("Data");
    app.add_option("--image-size", a.image_size, "--dataset folder: resize images to N x N (default 32; other datasets keep their own size)")->check(CLI::Range(int64_t(8), int64_t(512)))->group("Data");
    app.add_option("--val-split", a.val_split, "hold out the last N training images as a validation set (evaluated each epoch instead of test)")->check(CLI::Range(int64_t(0), int64_t(49999)))->group("Data");
    app.add_option("--train-subset", a.train_subset, "train on the first N training images only (quick runs)")->check(CLI::Range(int64_t(0), int64_t(50000)))->group("Data");
    app.add_option("--eval-every", a.train.eval_every, "evaluate after every N-th epoch and after the last (0 = after the last only)")->check(CLI::Range(int64_t(0), int64_t(10000)))->group("Data");
    app.add_option("--eval-subset", a.eval_subset, "evaluate on the first N images of the eval set only")->check(CLI::Range(int64_t(0), int64_t(50000)))->group("Data");
}

static void add_run_options(CLI::App& app, Args& a) {
    app.add_option("--checkpoint", a.run_dir, "run directory: best/ and last/ checkpoints, metrics.csv/.jsonl, summary.json")->group("Run");
    app.add_flag("--resume", a.train.resume, "continue from <checkpoint>/last")->group("Run");
    app.add_flag("--overwrite", a.train.overwrite, "start again in a <checkpoint> that holds a run: deletes its checkpoints and metrics")->group("Run");
    app.add_flag("--resume-with-changes", a.train.resume_with_changes, "with --resume: continue even if training options differ from the checkpoint's (prints them)")->group("Run");
    app.add_flag("--eval-only", a.eval_only, "evaluate <checkpoint> (or its best/ or last/) on the test set and exit")->group("Run");
    app.add_option("--profile", a.train.profile_steps, "time N training steps and print the per-op breakdown")->check(CLI::Range(int64_t(1), int64_t(100000)))->group("Run");
    app.add_flag("--no-progress", a.no_progress, "no live progress line (epoch lines only)")->group("Run");
    app.add_option("--bucket-mb", a.bucket_mb, "mpirun: gradient allreduce bucket size in MB")->check(CLI::Range(0.001, 1024.0))->group("Distributed");
    app.add_option("--allreduce", a.allreduce, "mpirun: overlap = buckets start during backward; sync = all after backward")
        ->check(CLI::IsMember({"overlap", "sync"}))->group("Distributed");
    app.add_option("--stop-after-steps", a.stop_after_steps, "behave as if Ctrl-C came after N steps (for tests)")->group("");
}

static void list_attention_variants() {
    for (const attention::VariantInfo& v : attention::attention_variants()) {
        std::printf("%-15s %s\n%-15s %s\n", v.name.c_str(), v.description.c_str(), "", v.complexity.c_str());
        for (const attention::OptionSpec& o : v.options)
            std::printf("%-15s   %s=%s  %s\n", "", o.name.c_str(), attention::option_to_string(o.default_value).c_str(),
                        o.help.c_str());
    }
}

// The dataset kind, its directory (defaults filled in) and the image size.
static datasets::DatasetKind resolve_data(Args& a) {
    const datasets::DatasetKind kind = datasets::parse_dataset_kind(a.dataset_name);
    if (kind == datasets::DatasetKind::Cifar10) a.data_dir = datasets::resolve_cifar10_dir(a.data_dir);
    else if (kind == datasets::DatasetKind::FashionMnist && a.data_dir.empty()) a.data_dir = datasets::kFashionMnistDir;
    else check(!a.data_dir.empty(), "--dataset ", a.dataset_name, " needs --data DIR");
    if (a.image_size == 0) a.image_size = kind == datasets::DatasetKind::Folder ? 32 : datasets::native_image_size(kind);
    return kind;
}

// --eval-only: the checkpoint's accuracy on the test set; --attention / --attention-opt swap
// the trained model's attention (no retraining).
static int eval_only(const CLI::App& app, const Args& a, datasets::DatasetKind kind) {
    const bool swapping = app.count("--attention") > 0 || !a.attention_opts.empty();
    nn::AttentionSwap swap;
    if (swapping) swap = nn::parse_attention_swap(a.run_dir, app.count("--attention") ? a.model.attention : "", a.attention_opts);
    manual_seed(a.train.seed);  // a swapped-in variant's random features draw from it
    nn::Classifier clf = nn::load_classifier(a.run_dir, swapping ? &swap : nullptr);
    datasets::ImageDataset test = datasets::load_dataset(kind, a.data_dir, datasets::Split::Test, clf.model->config.image_size);
    if (kind == datasets::DatasetKind::Folder) datasets::relabel_by_name(test, clf.class_names, cat("--eval-only on ", a.data_dir));
    if (a.eval_subset > 0 && a.eval_subset < test.size()) test = test.subset(0, a.eval_subset);
    std::printf("%s\n%ld parameters, checkpoint %s\n", clf.model->describe().c_str(), long(clf.model->num_parameters()),
                clf.dir.c_str());
    nn::EvalResult r = nn::evaluate(*clf.model, test, clf.normalization);
    std::printf("test: %ld images from %s: loss %.4f, accuracy %.2f%% (%.0f images/s)\n", long(r.images),
                a.data_dir.c_str(), r.loss, 100 * r.accuracy, double(r.images) / r.seconds);
    return 0;
}

struct Data {
    datasets::ImageDataset train_set, eval_set;
    std::string eval_name = "test";  // or "val" with --val-split
};

// The training set and the set evaluated after each epoch: the test set, or the last
// --val-split training images; both cut to --train-subset / --eval-subset.
static Data load_data(const Args& a, datasets::DatasetKind kind) {
    Data d;
    datasets::ImageDataset full_train = datasets::load_dataset(kind, a.data_dir, datasets::Split::Train, a.image_size);
    if (a.val_split > 0) {
        check(a.val_split < full_train.size(), "--val-split ", a.val_split, ": the training set has only ",
              full_train.size(), " images");
        d.train_set = full_train.subset(0, full_train.size() - a.val_split);
        d.eval_set = full_train.subset(full_train.size() - a.val_split, full_train.size());
        d.eval_name = "val";
    } else {
        check(datasets::has_test_split(kind, a.data_dir), "folder dataset ", a.data_dir, " has no test/ subfolder: add one (",
              a.data_dir, "/test/<class>/<images>) or hold out validation images with --val-split N");
        d.train_set = std::move(full_train);
        d.eval_set = datasets::load_dataset(kind, a.data_dir, datasets::Split::Test, a.image_size);
        if (kind == datasets::DatasetKind::Folder)
            datasets::relabel_by_name(d.eval_set, d.train_set.class_names, cat(a.data_dir, "/test"));
    }
    if (a.train_subset > 0 && a.train_subset < d.train_set.size()) d.train_set = d.train_set.subset(0, a.train_subset);
    if (a.eval_subset > 0 && a.eval_subset < d.eval_set.size()) d.eval_set = d.eval_set.subset(0, a.eval_subset);
    return d;
}

static void print_run_header(const nn::VisionTransformer& vit, const nn::TrainOptions& train, const Data& d,
                             const std::string& data_dir) {
    std::printf("%s\n%ld parameters | train %ld images, %s %ld images | %s | threads %d, OpenBLAS %s\n",
                vit.describe().c_str(), long(vit.num_parameters()), long(d.train_set.size()), d.eval_name.c_str(),
                long(d.eval_set.size()), data_dir.c_str(), num_threads(), blas_info().c_str());
    std::printf("epochs %ld, batch %ld, AdamW lr %g (warmup %g, cosine to %g), wd %g, label smoothing %g, clip %g, "
                "augment %s, mixup %g, cutmix %g, seed %lu\n",
                long(train.epochs), long(train.batch_size), train.lr, train.warmup_epochs, train.min_lr,
                train.weight_decay, train.label_smoothing, train.grad_clip, augment_name(train).c_str(),
                train.mixup_alpha, train.cutmix_alpha, (unsigned long)train.seed);
    std::fflush(stdout);
}

// Under mpirun: each process trains on its share of every batch, gradients summed in buckets.
static std::unique_ptr<distributed::MpiDataParallel> attach_data_parallel(nn::Trainer& trainer, nn::VisionTransformer& vit,
                                                                         const Args& a) {
    if (distributed::size() <= 1) return nullptr;
    auto dp = std::make_unique<distributed::MpiDataParallel>(
        vit, a.bucket_mb * 1024 * 1024, a.allreduce == "sync" ? distributed::Overlap::Off : distributed::Overlap::On);
    trainer.set_data_parallel(dp.get());
    std::printf("data-parallel: %d processes, each about %ld images of every batch of %ld; %zu gradient buckets "
                "(allreduce %s)\n", distributed::size(), long(a.train.batch_size / distributed::size()),
                long(a.train.batch_size), dp->bucket_count(), a.allreduce.c_str());
    std::fflush(stdout);
    return dp;
}

// Training: the model and options from the command line, the loop in nn::Trainer.
// Exit codes: 0 finished (or profiled), 130 interrupted (resumable), 3 non-finite loss.
static int train_model(const CLI::App& app, Args& a, datasets::DatasetKind kind) {
    nn::ViTConfig& model = a.model;
    nn::TrainOptions& train = a.train;
    model.attention_options = attention::Options::parse(a.attention_opts, attention::attention_info(model.attention).options,
                                                        model.attention);
    model.image_size = a.image_size;
    model.validate();
    if (app.count("--warmup") == 0) train.warmup_epochs = std::min(train.warmup_epochs, 0.25 * double(train.epochs));
    train.augment = !a.no_augment;
    train.progress = !a.no_progress;
    train.run_dir = train.profile_steps > 0 ? "" : a.run_dir;

    Data d = load_data(a, kind);
    model.num_classes = d.train_set.num_classes(), model.channels = d.train_set.channels;
    model.validate();
    const datasets::Normalization normalization = datasets::normalization_for(kind, d.train_set);
    train.extra_config = {{"class_names", d.train_set.class_names}, {"eval_set", d.eval_name}, {"data", a.data_dir},
                          {"train_images", d.train_set.size()}, {"eval_images", d.eval_set.size()}};
    // The trainer records the normalization in every checkpoint; CIFAR-10 keeps older checkpoints' config (no "dataset").
    if (kind != datasets::DatasetKind::Cifar10) train.extra_config["dataset"] = a.dataset_name;

    manual_seed(train.seed);  // parameter init and dropout draw from the default generator
    auto vit = std::make_shared<nn::VisionTransformer>(model);
    print_run_header(*vit, train, d, a.data_dir);
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    nn::Trainer trainer(vit, train, d.train_set, d.eval_set, normalization);
    auto data_parallel = attach_data_parallel(trainer, *vit, a);
    trainer.set_stop_flag(&g_stop);
    trainer.stop_after_steps = a.stop_after_steps;
    nn::TrainResult result = trainer.fit();
    std::printf("%s\n", result.message.c_str());
    if (result.reason == nn::StopReason::NonFiniteLoss) return 3;
    if (result.reason == nn::StopReason::Interrupted && train.profile_steps == 0) return 130;
    if (!train.run_dir.empty() && result.reason == nn::StopReason::Finished)
        std::printf("checkpoints: %s/best (epoch %ld), %s/last; metrics: %s/metrics.csv\n", a.run_dir.c_str(),
                    long(result.best_epoch), a.run_dir.c_str(), a.run_dir.c_str());
    return 0;
}

static int run(int argc, char** argv) {
    CLI::App app{"vit_train: train a Vision Transformer on CIFAR-10 (binary version) and evaluate it"};
    app.option_defaults()->always_capture_default();
    Args a;
    add_model_options(app, a);
    add_training_options(app, a);
    add_data_options(app, a);
    add_run_options(app, a);
    CLI11_PARSE(app, argc, argv);
    try {
        if (a.list_attention) {
            list_attention_variants();
            return 0;
        }
        check(!a.run_dir.empty(), "--checkpoint: the run directory must not be empty (default runs/vit-cifar10)");
        if (a.threads > 0) set_num_threads(a.threads);
        else if (distributed::local_size() > 1)  // mpirun: the ranks on one machine share its cores
            set_num_threads(std::max(1, num_threads() / distributed::local_size()));
        const datasets::DatasetKind kind = resolve_data(a);
        return a.eval_only ? eval_only(app, a, kind) : train_model(app, a, kind);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

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

static int run(int argc, char** argv) {
    CLI::App app{"vit_train: train a Vision Transformer on CIFAR-10 (binary version) and evaluate it"};
    app.option_defaults()->always_capture_default();
    nn::ViTConfig model;  // defaults below = the recommended recipe
    model.dim = 128, model.depth = 6, model.heads = 4, model.patch_size = 4, model.mlp_ratio = 2.0;
    model.dropout = 0.0, model.drop_path = 0.1;
    nn::TrainOptions train;
    train.epochs = 120, train.batch_size = 128, train.lr = 1e-3, train.min_lr = 1e-5, train.warmup_epochs = 5;
    train.weight_decay = 0.05, train.label_smoothing = 0.1, train.grad_clip = 1.0;
    std::vector<std::string> attention_opts;
    std::string data_dir, run_dir = "runs/vit-cifar10", dataset_name = "cifar10";
    int64_t image_size = 0;  // 0: the dataset's own (folders: 32)
    int64_t val_split = 0, train_subset = 0, eval_subset = 0;
    int threads = 0;
    int64_t stop_after_steps = 0;
    bool no_augment = false, eval_only = false, list_attention = false, no_progress = false;
    double bucket_mb = 1.0;
    std::string allreduce = "overlap";

    app.add_option("--dim", model.dim, "embedding dim C")->check(CLI::Range(8, 4096))->group("Model");
    app.add_option("--depth", model.depth, "transformer blocks")->check(CLI::Range(1, 64))->group("Model");
    app.add_option("--heads", model.heads, "attention heads (must divide dim)")->check(CLI::Range(1, 64))->group("Model");
    app.add_option("--patch", model.patch_size, "patch size (must divide the image size)")->check(CLI::IsMember({1, 2, 4, 8, 16, 32}))->group("Model");
    app.add_option("--mlp-ratio", model.mlp_ratio, "MLP hidden = ratio × dim")->check(kFinite)->check(CLI::Range(0.25, 16.0))->group("Model");
    app.add_option("--dropout", model.dropout, "dropout after attention/MLP projections")->check(kFinite)->check(CLI::Range(0.0, 0.9))->group("Model");
    app.add_option("--drop-path", model.drop_path, "stochastic depth rate (last block; linear in depth)")->check(kFinite)->check(CLI::Range(0.0, 0.9))->group("Model");
    app.add_option("--pool", model.pooling, "cls token or mean of patch tokens")->check(CLI::IsMember({"cls", "mean"}))->group("Model");
    app.add_option("--attention", model.attention, "attention variant (see --list-attention); with --eval-only: swap the trained model's attention for this one")->group("Model");
    app.add_option("--attention-opt", attention_opts, "variant option name=value (repeatable)")->group("Model");
    app.add_flag("--list-attention", list_attention, "list attention variants and their options, then exit")->group("Model");

    app.add_option("--epochs", train.epochs, "training epochs")->check(CLI::Range(1, 10000))->group("Training");
    app.add_option("--batch", train.batch_size, "batch size")->check(CLI::Range(1, 4096))->group("Training");
    app.add_option("--lr", train.lr, "peak learning rate (AdamW)")->check(kFinite)->check(CLI::Range(1e-7, 10.0))->group("Training");
    app.add_option("--min-lr", train.min_lr, "final learning rate of the cosine decay")->check(kFinite)->check(CLI::Range(0.0, 10.0))->group("Training");
    app.add_option("--warmup", train.warmup_epochs, "linear warmup epochs (default capped at epochs/4)")->check(kFinite)->check(CLI::Range(0.0, 1000.0))->group("Training");
    app.add_option("--weight-decay", train.weight_decay, "AdamW decoupled weight decay")->check(kFinite)->check(CLI::Range(0.0, 10.0))->group("Training");
    app.add_option("--label-smoothing", train.label_smoothing, "label smoothing ε")->check(kFinite)->check(CLI::Range(0.0, 0.99))->group("Training");
    app.add_option("--grad-clip", train.grad_clip, "max gradient norm (0 = off)")->check(kFinite)->check(CLI::Range(0.0, 1e6))->group("Training");
    app.add_flag("--no-augment", no_augment, "disable random crop + flip")->group("Training");
    app.add_flag("--trivial-augment", train.trivial_augment, "add TrivialAugment: one random op (shear, rotate, colour, ...) per image")->group("Training");
    app.add_option("--mixup", train.mixup_alpha, "mixup Beta(α, α); 0 = off")->check(kFinite)->check(CLI::Range(0.0, 10.0))->group("Training");
    app.add_option("--cutmix", train.cutmix_alpha, "CutMix Beta(α, α); 0 = off")->check(kFinite)->check(CLI::Range(0.0, 10.0))->group("Training");
    app.add_option("--mix-prob", train.mix_prob, "probability a batch is mixed")->check(kFinite)->check(CLI::Range(0.0, 1.0))->group("Training");
    app.add_option("--seed", train.seed, "seed of init, dropout, shuffling, augmentation")->check(CLI::NonNegativeNumber)->group("Training");
    app.add_option("--threads", threads, "threads (0 = all cores; under mpirun: split among the ranks of a machine)")->check(CLI::Range(0, 256))->group("Training");

    app.add_option("--dataset", dataset_name, "cifar10, cifar100, cifar100-coarse, fashion-mnist or folder (DIR/train/<class>/<images>, DIR/test/...)")
        ->check(CLI::IsMember(data::dataset_kind_names()))->group("Data");
    app.add_option("--data", data_dir, "dataset directory (CIFAR-10 default: $CIFAR10_DIR or data/cifar-10-batches-bin)")->group("Data");
    app.add_option("--image-size", image_size, "--dataset folder: resize images to N x N (default 32; other datasets keep their own size)")->check(CLI::Range(int64_t(8), int64_t(512)))->group("Data");
    app.add_option("--val-split", val_split, "hold out the last N training images as a validation set (evaluated each epoch instead of test)")->check(CLI::Range(int64_t(0), int64_t(49999)))->group("Data");
    app.add_option("--train-subset", train_subset, "train on the first N training images only (quick runs)")->check(CLI::Range(int64_t(0), int64_t(50000)))->group("Data");
    app.add_option("--eval-every", train.eval_every, "evaluate after every N-th epoch and after the last (0 = after the last only)")->check(CLI::Range(int64_t(0), int64_t(10000)))->group("Data");
    app.add_option("--eval-subset", eval_subset, "evaluate on the first N images of the eval set only")->check(CLI::Range(int64_t(0), int64_t(50000)))->group("Data");

    app.add_option("--checkpoint", run_dir, "run directory: best/ and last/ checkpoints, metrics.csv/.jsonl, summary.json")->group("Run");
    app.add_flag("--resume", train.resume, "continue from <checkpoint>/last")->group("Run");
    app.add_flag("--overwrite", train.overwrite, "start again in a <checkpoint> that holds a run: deletes its checkpoints and metrics")->group("Run");
    app.add_flag("--resume-with-changes", train.resume_with_changes, "with --resume: continue even if training options differ from the checkpoint's (prints them)")->group("Run");
    app.add_flag("--eval-only", eval_only, "evaluate <checkpoint> (or its best/ or last/) on the test set and exit")->group("Run");
    app.add_option("--profile", train.profile_steps, "time N training steps and print the per-op breakdown")->check(CLI::Range(int64_t(1), int64_t(100000)))->group("Run");
    app.add_flag("--no-progress", no_progress, "no live progress line (epoch lines only)")->group("Run");
    app.add_option("--bucket-mb", bucket_mb, "mpirun: gradient allreduce bucket size in MB")->check(CLI::Range(0.001, 1024.0))->group("Distributed");
    app.add_option("--allreduce", allreduce, "mpirun: overlap = buckets start during backward; sync = all after backward")
        ->check(CLI::IsMember({"overlap", "sync"}))->group("Distributed");
    app.add_option("--stop-after-steps", stop_after_steps, "behave as if Ctrl-C came after N steps (for tests)")->group("");
    CLI11_PARSE(app, argc, argv);

    try {
        if (list_attention) {
            for (const attention::VariantInfo& v : attention::attention_variants()) {
                std::printf("%-15s %s\n%-15s %s\n", v.name.c_str(), v.description.c_str(), "", v.complexity.c_str());
                for (const attention::OptionSpec& o : v.options)
                    std::printf("%-15s   %s=%s  %s\n", "", o.name.c_str(), attention::option_to_string(o.default_value).c_str(),
                                o.help.c_str());
            }
            return 0;
        }
        check(!run_dir.empty(), "--checkpoint: the run directory must not be empty (default runs/vit-cifar10)");
        if (threads > 0) set_num_threads(threads);
        else if (distributed::local_size() > 1)  // mpirun: the ranks on one machine share its cores
            set_num_threads(std::max(1, num_threads() / distributed::local_size()));
        const data::DatasetKind kind = data::parse_dataset_kind(dataset_name);
        if (kind == data::DatasetKind::Cifar10) data_dir = data::resolve_cifar10_dir(data_dir);
        else if (kind == data::DatasetKind::FashionMnist && data_dir.empty()) data_dir = data::kFashionMnistDir;
        else check(!data_dir.empty(), "--dataset ", dataset_name, " needs --data DIR");
        if (image_size == 0) image_size = kind == data::DatasetKind::Folder ? 32 : data::native_image_size(kind);

        if (eval_only) {
            // --attention / --attention-opt swap the trained model's attention (no retraining)
            const bool swapping = app.count("--attention") > 0 || !attention_opts.empty();
            nn::AttentionSwap swap;
            if (swapping) swap = nn::parse_attention_swap(run_dir, app.count("--attention") ? model.attention : "", attention_opts);
            manual_seed(train.seed);  // a swapped-in variant's random features draw from it
            nn::Classifier clf = nn::load_classifier(run_dir, swapping ? &swap : nullptr);
            data::ImageDataset test = data::load_dataset(kind, data_dir, data::Split::Test, clf.model->config.image_size);
            if (kind == data::DatasetKind::Folder) data::relabel_by_name(test, clf.class_names, cat("--eval-only on ", data_dir));
            if (eval_subset > 0 && eval_subset < test.size()) test = test.subset(0, eval_subset);
            std::printf("%s\n%ld parameters, checkpoint %s\n", clf.model->describe().c_str(),
                        long(clf.model->num_parameters()), clf.dir.c_str());
            nn::EvalResult r = nn::evaluate(*clf.model, test, clf.normalization);
            std::printf("test: %ld images from %s: loss %.4f, accuracy %.2f%% (%.0f images/s)\n", long(r.images),
                        data_dir.c_str(), r.loss, 100 * r.accuracy, double(r.images) / r.seconds);
            return 0;
        }

        model.attention_options = attention::Options::parse(attention_opts, attention::attention_info(model.attention).options,
                                                            model.attention);
        model.image_size = image_size;
        model.validate();
        if (app.count("--warmup") == 0) train.warmup_epochs = std::min(train.warmup_epochs, 0.25 * double(train.epochs));
        train.augment = !no_augment;
        train.progress = !no_progress;
        train.run_dir = train.profile_steps > 0 ? "" : run_dir;

        data::ImageDataset full_train = data::load_dataset(kind, data_dir, data::Split::Train, image_size);
        data::ImageDataset train_set, eval_set;
        std::string eval_name = "test";
        if (val_split > 0) {
            check(val_split < full_train.size(), "--val-split ", val_split, ": the training set has only ", full_train.size(),
                  " images");
            train_set = full_train.subset(0, full_train.size() - val_split);
            eval_set = full_train.subset(full_train.size() - val_split, full_train.size());
            eval_name = "val";
        } else {
            check(data::has_test_split(kind, data_dir), "folder dataset ", data_dir, " has no test/ subfolder: add one (",
                  data_dir, "/test/<class>/<images>) or hold out validation images with --val-split N");
            train_set = std::move(full_train);
            eval_set = data::load_dataset(kind, data_dir, data::Split::Test, image_size);
            if (kind == data::DatasetKind::Folder) data::relabel_by_name(eval_set, train_set.class_names, cat(data_dir, "/test"));
        }
        if (train_subset > 0 && train_subset < train_set.size()) train_set = train_set.subset(0, train_subset);
        if (eval_subset > 0 && eval_subset < eval_set.size()) eval_set = eval_set.subset(0, eval_subset);
        model.num_classes = train_set.num_classes(), model.channels = train_set.channels;
        model.validate();
        const data::Normalization normalization = data::normalization_for(kind, train_set);
        train.extra_config = {{"class_names", train_set.class_names}, {"eval_set", eval_name}, {"data", data_dir},
                              {"train_images", train_set.size()}, {"eval_images", eval_set.size()}};
        if (kind != data::DatasetKind::Cifar10) {  // CIFAR-10 keeps its fixed statistics (and older checkpoints' config)
            train.extra_config["dataset"] = dataset_name;
            train.extra_config["normalization"] = {{"mean", normalization.mean}, {"std", normalization.std}};
        }

        manual_seed(train.seed);  // parameter init and dropout draw from the default generator
        auto vit = std::make_shared<nn::VisionTransformer>(model);
        std::printf("%s\n%ld parameters | train %ld images, %s %ld images | %s | threads %d, OpenBLAS %s\n",
                    vit->describe().c_str(), long(vit->num_parameters()), long(train_set.size()), eval_name.c_str(),
                    long(eval_set.size()), data_dir.c_str(), num_threads(), blas_info().c_str());
        std::printf("epochs %ld, batch %ld, AdamW lr %g (warmup %g, cosine to %g), wd %g, label smoothing %g, clip %g, "
                    "augment %s, mixup %g, cutmix %g, seed %lu\n",
                    long(train.epochs), long(train.batch_size), train.lr, train.warmup_epochs, train.min_lr,
                    train.weight_decay, train.label_smoothing, train.grad_clip, augment_name(train).c_str(),
                    train.mixup_alpha, train.cutmix_alpha, (unsigned long)train.seed);
        std::fflush(stdout);

        std::signal(SIGINT, on_signal);
        std::signal(SIGTERM, on_signal);
        nn::Trainer trainer(vit, train, train_set, eval_set, normalization);
        std::unique_ptr<distributed::MpiDataParallel> data_parallel;
        if (distributed::size() > 1) {
            data_parallel = std::make_unique<distributed::MpiDataParallel>(
                *vit, bucket_mb * 1024 * 1024, allreduce == "sync" ? distributed::Overlap::Off : distributed::Overlap::On);
            trainer.set_data_parallel(data_parallel.get());
            std::printf("data-parallel: %d processes, each about %ld images of every batch of %ld; %zu gradient buckets "
                        "(allreduce %s)\n", distributed::size(), long(train.batch_size / distributed::size()),
                        long(train.batch_size), data_parallel->bucket_count(), allreduce.c_str());
            std::fflush(stdout);
        }
        trainer.set_stop_flag(&g_stop);
        trainer.stop_after_steps = stop_after_steps;
        nn::TrainResult result = trainer.fit();
        std::printf("%s\n", result.message.c_str());
        if (result.reason == nn::StopReason::NonFiniteLoss) return 3;
        if (result.reason == nn::StopReason::Interrupted && train.profile_steps == 0) return 130;
        if (!train.run_dir.empty() && result.reason == nn::StopReason::Finished)
            std::printf("checkpoints: %s/best (epoch %ld), %s/last; metrics: %s/metrics.csv\n", run_dir.c_str(),
                        long(result.best_epoch), run_dir.c_str(), run_dir.c_str());
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}

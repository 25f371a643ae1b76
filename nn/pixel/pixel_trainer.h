// pixel_trainer.h — training a PixelTransformer by maximum likelihood with
// teacher forcing, and loading the result.
//
// One step:  pixels = B training images as tokens        (pixel_tokens.h)
//            loss = mean NLL of forward(pixels) vs pixels  (nats/dim; bits/dim = loss / ln 2)
//            backward; clip the gradient norm; lr = warmup + cosine(step); AdamW step
// Images are drawn without replacement from a fresh seeded permutation each
// epoch (epoch e: Generator(seed + 1000003·(e + 1)).permutation), so a run is a
// function of (seed, thread count) and resuming at step s continues it exactly.
// The budget is a number of optimizer steps (steps × batch images), so two
// attention variants trained with the same options see the same images.
//
// Run directory:  run_dir/last/        checkpoint (checkpoint.h: weights, config.json, training state)
//                 run_dir/metrics.jsonl one row per logged step (step, lr, train bits/dim, images/s)
//                 run_dir/summary.json  final train and test bits/dim, images seen, time
// After the last step the test bits/dim is measured on the first eval_images
// test images. The logs, summary and resume step are the ViT trainer's (nn/train/run_files.h).
// Cost per step: forward + backward of the model on B images.
#pragma once
#include <atomic>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "datasets/image_dataset.h"
#include "nn/pixel/pixel_transformer.h"
#include "nn/train/trainer.h"  // StopReason

namespace attnlab::nn {

struct PixelTrainOptions {
    int64_t steps = 2000;
    int64_t batch_size = 16;
    double lr = 1e-3;           // peak, after warmup
    double min_lr = 1e-5;       // end of the cosine decay
    int64_t warmup_steps = 100;
    double weight_decay = 0.01;  // AdamW; not on biases, norms, pos_embed
    double grad_clip = 1.0;      // max global gradient norm; 0 = off
    uint64_t seed = 0;
    int64_t eval_images = 1000;  // test images for the final bits/dim; 0 = the whole test set
    int64_t eval_batch = 16;
    int64_t log_every = 50;      // steps per metrics row / printed line
    int64_t checkpoint_every = 500;  // steps; the last step always saves
    std::string run_dir;         // empty = nothing saved
    bool resume = false;         // continue from run_dir/last
    bool overwrite = false;      // a fresh run may replace a run already in run_dir
    bool progress = true;        // live progress line (when stdout is a terminal)
    int64_t stop_after_steps = 0;  // behave as if interrupted after this many steps in total (tests); 0 = off
    nlohmann::json extra_config = nlohmann::json::object();  // saved in config.json "extra" (dataset, ...)
};

struct PixelTrainResult {
    StopReason reason = StopReason::Finished;
    int64_t steps_done = 0;
    double train_bits_per_dim = 0;  // mean over the last logged window
    double test_bits_per_dim = 0;   // 0 if not evaluated (interrupted)
    int64_t test_images = 0;
    double train_seconds = 0, images_per_second = 0;
    std::string message;
};

PixelTrainResult train_pixel_transformer(PixelTransformer& model, const datasets::ImageDataset& train_set,
                                         const datasets::ImageDataset& test_set, const PixelTrainOptions& options,
                                         const std::atomic<bool>* stop_flag = nullptr);

// The checkpoint directory of `path`: path itself if it holds config.json (or path.old),
// else path/last. Throws saying what was looked for.
std::string pixel_checkpoint_dir(const std::string& path);
// Builds the model described by the checkpoint's config.json and loads its weights; eval mode.
std::shared_ptr<PixelTransformer> load_pixel_transformer(const std::string& path);

}  // namespace attnlab::nn

// checkpoint.h — saving and resuming training, and shipping a trained model.
//
// A checkpoint is a directory:
//   model.safetensors           weights, PyTorch-style names from named_parameters()
//                               + named_buffers() ("blocks.3.attn.qkv.weight"), metadata {"format": "pt"}
//   config.json                 the model config (ViTConfig::to_json()) plus "extra": a free-form
//                               object for the app (class names, normalization mean/std, recipe)
//   training_state.safetensors  optional: optimizer buffers per parameter ("exp_avg.<param>", ...)
//                               and __metadata__ {"attnlab_training_state": JSON string with the
//                               optimizer type/step/hyper-parameters/groups, default_generator()
//                               (seed, offset), every module's own random state ("module_rng":
//                               {"blocks.0.attn.attention": [seed, offset, ...]}), epoch, step and the app's "extra" JSON}
// A model directory for release holds only the first two; evaluation needs nothing else.
//
// Saving is atomic as a set: everything is written (and fsynced) into DIR.new/,
// then DIR → DIR.old, DIR.new → DIR, DIR.old is removed. A crash leaves either
// DIR (complete) or only DIR.old (the previous checkpoint), which loading falls
// back to; a stale DIR.new is ignored by loading and removed by the next save.
// Directories are only ever removed or replaced if they hold nothing but
// checkpoint files. Cost: one write of weights (+ 2× for Adam state) per save.
//
//   // save every epoch
//   nn::save_checkpoint("runs/vit", model, nn::vit_config_json(cfg, {{"classes", names}}), &opt,
//                       {.epoch = epoch, .step = opt.step_count(), .extra = {{"best_acc", best}}});
//   // resume
//   nn::load_model_weights("runs/vit", model);
//   nn::TrainState st = nn::load_training_state("runs/vit", opt);   // also restores the RNG
//   // evaluate a shipped model
//   auto vit = nn::load_vit("models/vit-cifar10");                   // eval mode
//   nn::AttentionSwap favor{"performer", {}};                        // the same weights, FAVOR+ attention
//   auto swapped = nn::load_vit("models/vit-cifar10", &favor);
#pragma once
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "nn/optim/optimizer.h"
#include "nn/io/safetensors.h"
#include "nn/models/vit.h"

namespace attnlab::nn {

inline constexpr const char* kModelFile = "model.safetensors";
inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kTrainingStateFile = "training_state.safetensors";

// Where the training loop was; saved with the optimizer state.
struct TrainState {
    int64_t epoch = 0;
    int64_t step = 0;
    nlohmann::json extra = nlohmann::json::object();  // free-form: best accuracy, ...
};

// Writes DIR atomically. `config` becomes config.json (a JSON object). With an
// optimizer, training_state.safetensors holds its state, default_generator()
// and `state`; without one, the directory holds weights and config only.
void save_checkpoint(const std::string& dir, const Module& model, const nlohmann::json& config,
                     const Optimizer* optimizer = nullptr, const TrainState& state = {});

// After a kill during save_checkpoint(DIR): finishes the swap (DIR.old + complete DIR.new,
// no DIR: DIR.new becomes DIR), or rolls it back (DIR.new removed; DIR.old alone becomes
// DIR again; a DIR.old next to DIR is removed). Returns what it did ("" = nothing to do).
std::string recover_interrupted_save(const std::string& dir);
// Deletes the checkpoint DIR and its DIR.new/DIR.old; refuses if any holds other files.
void remove_checkpoint(const std::string& dir);

// The directory to read: DIR, or DIR.old if a save was interrupted. Throws if neither exists.
std::string resolve_checkpoint_dir(const std::string& dir);

// Copies the weights of DIR/model.safetensors into `model` (in place, so an
// optimizer built on the model stays valid). Every name must exist with the
// same shape and dtype; otherwise throws listing the missing and unexpected
// names and the shape mismatches (checkpoint vs model).
// Names in `may_be_missing` (e.g. the buffers of a swapped-in attention) keep their
// current values when the checkpoint lacks them; anything else missing is an error.
void load_model_weights(const std::string& dir, Module& model, const std::set<std::string>& may_be_missing = {});
// The same from tensors already loaded (`st.source` names them in errors).
void load_weights(Module& model, const SafeTensors& st, const std::set<std::string>& may_be_missing = {});
// Just the weights file (what save_checkpoint writes as model.safetensors).
void save_weights(const std::string& path, const Module& model);

// Restores the optimizer (buffers, step, hyper-parameters, group learning
// rates) and, if restore_rng, default_generator(); with a model, also every
// module's own random state (named_random_states(): the generators of redrawing
// attention variants); returns epoch/step/extra.
TrainState load_training_state(const std::string& dir, Optimizer& optimizer, bool restore_rng = true,
                               Module* model = nullptr);
bool has_training_state(const std::string& dir);
// epoch/step/extra of DIR's training state, without restoring anything.
TrainState read_train_state(const std::string& dir);

// config.json as written by save_checkpoint.
nlohmann::json read_config(const std::string& dir);
// config.json for a ViT: cfg.to_json() plus {"extra": extra}.
nlohmann::json vit_config_json(const ViTConfig& cfg, const nlohmann::json& extra = nlohmann::json::object());
ViTConfig read_vit_config(const std::string& dir);
// Another attention for a trained model, swapped in at load time (inference only,
// no retraining: "is FAVOR+ a drop-in replacement for softmax?"). The variant must
// bring no weights of its own, since the checkpoint holds none for it.
struct AttentionSwap {
    std::string variant;
    attention::Options options;  // the variant's options; unset ones take the registry defaults
};
// Builds the ViT described by DIR/config.json (with its attention replaced when
// swap is given) and loads its weights; eval mode.
std::shared_ptr<VisionTransformer> load_vit(const std::string& dir, const AttentionSwap* swap = nullptr);

// Makes run_dir ready for a training run: creates it, finishes or rolls back an
// interrupted save of last/ and best/, and, for a fresh run (not resume), refuses a
// directory that already holds a run's checkpoints or logs (naming them, suggesting
// --resume or --overwrite) unless overwrite, which removes exactly those. A directory
// that is itself a checkpoint (holds model.safetensors) is always refused.
void prepare_run_directory(const std::string& run_dir, bool resume, bool overwrite);

}  // namespace attnlab::nn

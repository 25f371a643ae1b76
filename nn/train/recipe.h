// recipe.h — the recommended ViT recipe for CIFAR-10-sized images, in one place.
//
// vit_train's option defaults are this recipe; attention_study trains the same
// model with a shorter budget (study_training). The struct defaults of
// ViTConfig (vit.h) and TrainOptions (trainer.h) are library defaults for
// callers that set their own values, not the recipe.
//
//   model:    patch 4 → 64 tokens + class token, dim C = 128, depth 6, heads H = 4 (D = 32),
//             MLP ratio 2, dropout 0, stochastic depth 0.1
//   training: 120 epochs, batch 128, AdamW lr 1e-3 (5 warmup epochs, cosine to 1e-5),
//             weight decay 0.05, label smoothing 0.1, gradient clip 1.0, crop + flip
// `make train` adds --trivial-augment --drop-path 0 (chosen on a validation split); that run
// is models/vit-cifar10, 80.97 % CIFAR-10 test accuracy. Cost per image and epoch: see vit.h.
#pragma once
#include "nn/models/vit.h"
#include "nn/train/trainer.h"

namespace attnlab::nn::recipe {

// The model of the recommended recipe (attention: softmax; image size, channels and
// classes are the dataset's, set by the caller).
inline ViTConfig vit_model() {
    ViTConfig m;
    m.dim = 128, m.depth = 6, m.heads = 4, m.patch_size = 4, m.mlp_ratio = 2.0;
    m.dropout = 0.0, m.drop_path = 0.1;
    return m;
}

// The optimization of the recommended recipe.
inline TrainOptions vit_training() {
    TrainOptions t;
    t.epochs = 120, t.batch_size = 128, t.lr = 1e-3, t.min_lr = 1e-5, t.warmup_epochs = 5;
    t.weight_decay = 0.05, t.label_smoothing = 0.1, t.grad_clip = 1.0;
    return t;
}

// The attention study's budget: the recipe's optimization over 10 epochs with 1 warmup
// epoch, without a live progress line (many runs print one after another).
inline TrainOptions study_training() {
    TrainOptions t = vit_training();
    t.epochs = 10, t.warmup_epochs = 1, t.progress = false;
    return t;
}

}  // namespace attnlab::nn::recipe

// classifier.h — a trained image classifier loaded from a checkpoint, ready to predict.
//
// A checkpoint directory holds model.safetensors + config.json (see
// checkpoint.h); config.json's "extra" records the class names and the input
// normalization the model was trained with. load_classifier() accepts the
// checkpoint directory itself or a run directory containing best/ or last/.
// predict_topk(): softmax over the logits, k most probable classes per image.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "datasets/augment/transforms.h"
#include "nn/io/checkpoint.h"
#include "nn/models/vit.h"

namespace attnlab::nn {

struct Classifier {
    std::shared_ptr<VisionTransformer> model;  // eval mode
    datasets::Normalization normalization;
    std::vector<std::string> class_names;
    std::string dir;  // the checkpoint directory actually loaded
};

// DIR itself if it holds model.safetensors, else DIR/best, else DIR/last.
std::string find_checkpoint(const std::string& dir);
// swap: replace the trained model's attention (see AttentionSwap in checkpoint.h).
Classifier load_classifier(const std::string& dir, const AttentionSwap* swap = nullptr);

// The swap an app's --attention NAME --attention-opt k=v ask for on the checkpoint in
// dir; an empty variant keeps the checkpoint's own (only its options change).
AttentionSwap parse_attention_swap(const std::string& dir, const std::string& variant,
                                   const std::vector<std::string>& options);

// images [B, C, H, W] with values in [0, 1] -> (x - mean) / std per channel.
Tensor normalize_images(const Tensor& images, const datasets::Normalization& norm);

// For each image of a normalized batch: the k most probable (class, probability), best first.
std::vector<std::vector<std::pair<int64_t, float>>> predict_topk(VisionTransformer& model, const Tensor& images, int64_t k);

}  // namespace attnlab::nn

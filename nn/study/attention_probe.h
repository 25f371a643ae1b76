// attention_probe.h — how far an efficient attention is from exact softmax
// attention, on the queries, keys and values a trained model really produces.
//
// capture_qkv runs a ViT forward on a batch of images with every block's
// attention wrapped by a recorder, and returns each block's q, k, v [B, H, N, D]
// (the model's own attention still computes the output, so later blocks see
// what they see in the model). approximation_error then feeds those inputs to
// a variant and to exact softmax attention and returns
//
//   relative error = ‖A(q, k, v) − softmax(qkᵀ/√D)v‖_F / ‖softmax(qkᵀ/√D)v‖_F
//
// The variant runs in eval mode without gradients. Cost: one forward of the
// model, then per call one exact O(N²D) attention plus the variant's own cost.
#pragma once
#include <vector>

#include "attention/options.h"
#include "nn/models/vit.h"

namespace attnlab::nn {

struct QKV {
    Tensor q, k, v;  // [B, H, N, D], contiguous, no autograd history
};

// One QKV per block of the model, in order; images [B, C, H, W] already normalized.
std::vector<QKV> capture_qkv(VisionTransformer& model, const Tensor& images);

// ‖a − b‖_F / ‖b‖_F (a, b of the same shape, b not all zero).
double relative_error(const Tensor& a, const Tensor& b);

// The relative error of the variant (built for these inputs' N, D and H, with
// options; its random draws come from seed) against exact softmax attention.
double approximation_error(const std::string& variant, const attention::Options& options, const QKV& x,
                           uint64_t seed);

}  // namespace attnlab::nn

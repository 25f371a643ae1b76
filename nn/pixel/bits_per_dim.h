// bits_per_dim.h — the likelihood of discrete data in bits per dimension, the
// standard score of image density models (lower is better).
//
//   bits/dim = −1/(B·N) Σ_{b,t} log₂ p(x_{b,t} | x_{b,<t}) = (mean cross-entropy in nats) / ln 2
// A model that predicts the uniform distribution over the 256 pixel values
// scores exactly 8; storing the raw bytes costs 8 bits/dim too. Cost: one
// log-softmax over the logits, O(B·N·K).
#pragma once
#include <cstdint>
#include <functional>

#include "datasets/image_dataset.h"
#include "nn/pixel/pixel_transformer.h"

namespace attnlab::nn {

// Mean negative log-likelihood in nats per dimension, differentiable (the training loss):
// logits [B, N, K], targets Int64 [B, N] in [0, K).
Tensor pixel_nll(const Tensor& logits, const Tensor& targets);
// The same in bits per dimension, as a number.
double bits_per_dim(const Tensor& logits, const Tensor& targets);
inline double nats_to_bits(double nats) { return nats / 0.69314718055994530942; }

struct BitsPerDimResult {
    double bits_per_dim = 0;
    int64_t images = 0;
    double seconds = 0;
};

// Bits/dim of `model` (eval mode, no grad) on the first `max_images` images of `set`
// (0 = all), in batches; `on_batch(done, total)` reports progress.
BitsPerDimResult evaluate_bits_per_dim(PixelTransformer& model, const datasets::ImageDataset& set, int64_t batch_size,
                                       int64_t max_images = 0,
                                       const std::function<void(int64_t, int64_t)>& on_batch = {});

}  // namespace attnlab::nn

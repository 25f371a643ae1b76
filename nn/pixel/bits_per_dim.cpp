// bits_per_dim.cpp — see bits_per_dim.h.
#include "nn/pixel/bits_per_dim.h"

#include <chrono>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"

namespace attnlab::nn {

Tensor pixel_nll(const Tensor& logits, const Tensor& targets) {
    check(logits.defined() && targets.defined() && logits.dim() == 3 && targets.dim() == 2 &&
              logits.size(0) == targets.size(0) && logits.size(1) == targets.size(1),
          "pixel_nll: expected logits [B, N, K] and targets [B, N], got ",
          logits.defined() ? to_string(logits.shape()) : "undefined", " and ",
          targets.defined() ? to_string(targets.shape()) : "undefined");
    const int64_t K = logits.size(2);
    return cross_entropy(logits.reshape({-1, K}), targets.reshape({-1}));
}

double bits_per_dim(const Tensor& logits, const Tensor& targets) {
    NoGradGuard no_grad;
    return nats_to_bits(double(pixel_nll(logits, targets).item()));
}

BitsPerDimResult evaluate_bits_per_dim(PixelTransformer& model, const datasets::ImageDataset& set, int64_t batch_size,
                                       int64_t max_images, const std::function<void(int64_t, int64_t)>& on_batch) {
    check(set.channels == model.config.channels && set.height == model.config.height &&
              set.width == model.config.width,
          "evaluate_bits_per_dim: images are ", set.channels, "x", set.height, "x", set.width, " (CxHxW) but the model ",
          "expects ", model.config.channels, "x", model.config.height, "x", model.config.width);
    check(batch_size > 0, "evaluate_bits_per_dim: batch size must be > 0, got ", batch_size);
    const int64_t total = max_images > 0 ? std::min(max_images, set.size()) : set.size();
    check(total > 0, "evaluate_bits_per_dim: no images to evaluate");
    const bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    auto t0 = std::chrono::steady_clock::now();
    double nats_sum = 0;  // Σ over images of the per-image mean NLL
    for (int64_t begin = 0; begin < total; begin += batch_size) {
        const int64_t n = std::min(batch_size, total - begin);
        Tensor pixels = image_tokens(set, begin, n);
        nats_sum += double(pixel_nll(model.forward(pixels), pixels).item()) * double(n);
        if (on_batch) on_batch(begin + n, total);
    }
    model.train(was_training);
    return {nats_to_bits(nats_sum / double(total)), total,
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}

}  // namespace attnlab::nn

// metrics.h — classification accuracy, the cross-entropy loss as an object,
// and running averages for a training loop.
//
//   top-k accuracy = (1/B) Σ_b [rank_b < k],
//   rank_b = #{j : l_bj > l_b,t} + #{j < t : l_bj = l_b,t}     (t = target of b)
// i.e. ties are broken towards the lower class index, as argmax does, so a
// model with constant logits does not score 100%. Cost: O(B·K), no sorting.
//
//   nn::CrossEntropyLoss criterion{.label_smoothing = 0.1f};
//   nn::Meter loss_meter, acc_meter;
//   Tensor logits = model.forward(x);                        // [B, K]
//   Tensor loss = criterion(logits, y);                      // y Int64 [B]
//   loss_meter.add(loss.item(), B);
//   acc_meter.add(nn::accuracy(logits, y), B);
//   printf("loss %.3f acc %.1f%%\n", loss_meter.mean(), 100 * acc_meter.mean());
#pragma once
#include <cstdint>

#include "core/tensor/tensor.h"

namespace attnlab::nn {

// Fraction in [0, 1] of rows whose target is the top-1 (top-k) class.
// logits float [B, K], targets Int64 [B] with values in [0, K).
double accuracy(const Tensor& logits, const Tensor& targets);
double topk_accuracy(const Tensor& logits, const Tensor& targets, int64_t k);
// Number of rows whose target is within the top k (for exact sums over an epoch).
int64_t count_topk_correct(const Tensor& logits, const Tensor& targets, int64_t k = 1);

struct CrossEntropyLoss {
    float label_smoothing = 0.f;
    // Mean over the batch of −Σ_k q_k log softmax(logits)_k (core cross_entropy).
    Tensor operator()(const Tensor& logits, const Tensor& targets) const;
};

// Running average: add(value, n) counts `value` (an average over n samples) n times.
struct Meter {
    double sum = 0.0;
    int64_t count = 0;
    void add(double value, int64_t n = 1) {
        sum += value * double(n);
        count += n;
    }
    double mean() const { return count > 0 ? sum / double(count) : 0.0; }
    void reset() { sum = 0.0, count = 0; }
};

}  // namespace attnlab::nn

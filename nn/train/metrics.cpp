// metrics.cpp — see metrics.h.
#include "nn/train/metrics.h"

#include <cmath>

#include "core/ops/ops.h"

namespace attnlab::nn {

int64_t count_topk_correct(const Tensor& logits_in, const Tensor& targets_in, int64_t k) {
    check(logits_in.defined() && logits_in.dim() == 2 && logits_in.dtype() == DType::Float32,
          "accuracy: logits must be float32 [B, K], got ",
          logits_in.defined() ? to_string(logits_in.shape()) : std::string("undefined"));
    int64_t B = logits_in.size(0), K = logits_in.size(1);
    check(targets_in.defined() && targets_in.dtype() == DType::Int64 && targets_in.shape() == Shape{B},
          "accuracy: targets must be Int64 [", B, "] to match logits ", to_string(logits_in.shape()), ", got ",
          targets_in.defined() ? cat(dtype_name(targets_in.dtype()), " ", to_string(targets_in.shape()))
                               : std::string("undefined"));
    check(k >= 1, "accuracy: k must be >= 1, got ", k);
    Tensor logits = logits_in.contiguous();
    Tensor targets = targets_in.contiguous();
    const float* l = logits.data();
    const int64_t* t = targets.data_as<int64_t>();
    int64_t correct = 0;
    for (int64_t b = 0; b < B; ++b) {
        int64_t target = t[b];
        check(target >= 0 && target < K, "accuracy: target ", target, " of row ", b, " is outside [0, ", K, ")");
        const float* row = l + b * K;
        float lt = row[target];
        if (std::isnan(lt)) continue;
        int64_t rank = 0;
        for (int64_t j = 0; j < K; ++j) rank += row[j] > lt || (j < target && row[j] == lt);
        correct += rank < k;
    }
    return correct;
}

double topk_accuracy(const Tensor& logits, const Tensor& targets, int64_t k) {
    int64_t correct = count_topk_correct(logits, targets, k);
    int64_t B = logits.size(0);
    return B > 0 ? double(correct) / double(B) : 0.0;
}

double accuracy(const Tensor& logits, const Tensor& targets) { return topk_accuracy(logits, targets, 1); }

Tensor CrossEntropyLoss::operator()(const Tensor& logits, const Tensor& targets) const {
    return cross_entropy(logits, targets, label_smoothing);
}

}  // namespace attnlab::nn

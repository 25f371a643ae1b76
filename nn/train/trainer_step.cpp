// trainer_step.cpp — the maths of training: one optimizer step (forward, loss
// with optional mixup/cutmix, backward, clip, AdamW), its data-parallel form,
// and evaluate(): accuracy and mean cross-entropy over a dataset.
// Cost of a step: one forward and one backward of the model on the batch.
#include "nn/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/util/rng.h"
#include "nn/layers/dropout.h"
#include "nn/optim/grad_clip.h"
#include "nn/train/metrics.h"
#include "nn/train/trainer_session.h"

namespace attnlab::nn {

EvalResult evaluate(UnaryModule& model, const datasets::ImageDataset& dataset, const datasets::Normalization& norm,
                    int64_t batch_size) {
    check(dataset.size() > 0, "evaluate: empty dataset");
    bool was_training = model.is_training();
    model.eval();
    NoGradGuard no_grad;
    datasets::DataLoaderOptions o;
    o.batch_size = batch_size, o.shuffle = false, o.drop_last = false, o.augment = false, o.normalize = norm;
    datasets::DataLoader loader(dataset, o);
    loader.start_epoch(0);
    datasets::Batch batch;
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    auto t0 = Clock::now();
    while (loader.next(batch)) {
        Tensor logits = model.forward(batch.images);
        loss_sum += double(cross_entropy(logits, batch.labels, 0.f, Reduction::Sum).item());
        correct += count_topk_correct(logits, batch.labels, 1);
        seen += batch.size();
    }
    model.train(was_training);
    return {loss_sum / double(seen), double(correct) / double(seen), seen,
            std::chrono::duration<double>(Clock::now() - t0).count()};
}

// Data-parallel: each process evaluates its shard; the sums are combined.
EvalResult Trainer::evaluate_eval_set() {
    if (!parallel_) return evaluate(*model_, eval_set_, norm_, opt_.eval_batch_size);
    EvalResult r = evaluate(*model_, eval_shard_, norm_, opt_.eval_batch_size);
    std::vector<double> sums = {r.loss * double(r.images), r.accuracy * double(r.images), double(r.images)};
    parallel_->sum(sums);
    return {sums[0] / sums[2], sums[1] / sums[2], int64_t(sums[2]), r.seconds};
}

// Mixes a batch in place of its images; returns λ and the partner permutation.
struct Mix {
    float lambda = 1.f;
    Tensor partner_labels;
};

static Mix mix_batch(Tensor& images, const Tensor& labels, const TrainOptions& o, int64_t step) {
    Mix mix;
    bool mixup = o.mixup_alpha > 0, cutmix = o.cutmix_alpha > 0;
    if (!mixup && !cutmix) return mix;
    Generator g(o.seed * 0x9E3779B97F4A7C15ull + uint64_t(step) + 1);  // per-step stream: resume-exact
    if (g.uniform() >= o.mix_prob) return mix;
    const int64_t B = images.size(0), H = images.size(2), W = images.size(3);
    std::vector<int64_t> perm = g.permutation(B);
    Tensor partner_index = Tensor::from_indices(perm, {B});
    mix.partner_labels = index_select(labels.to(DType::Float32), 0, partner_index).to(DType::Int64);
    Tensor partner = index_select(images, 0, partner_index);
    bool use_cutmix = cutmix && (!mixup || g.uniform() < 0.5f);
    if (!use_cutmix) {
        mix.lambda = g.beta(float(o.mixup_alpha), float(o.mixup_alpha));
        images = images * mix.lambda + partner * (1.f - mix.lambda);
        return mix;
    }
    float lam = g.beta(float(o.cutmix_alpha), float(o.cutmix_alpha));
    int64_t cut_h = int64_t(float(H) * std::sqrt(1.f - lam)), cut_w = int64_t(float(W) * std::sqrt(1.f - lam));
    int64_t cy = g.randint(H), cx = g.randint(W);
    int64_t y0 = std::clamp<int64_t>(cy - cut_h / 2, 0, H), y1 = std::clamp<int64_t>(cy + cut_h / 2, 0, H);
    int64_t x0 = std::clamp<int64_t>(cx - cut_w / 2, 0, W), x1 = std::clamp<int64_t>(cx + cut_w / 2, 0, W);
    Tensor out = images.contiguous().clone();
    if (y1 > y0 && x1 > x0) copy_(out.narrow(2, y0, y1 - y0).narrow(3, x0, x1 - x0), partner.narrow(2, y0, y1 - y0).narrow(3, x0, x1 - x0));
    images = out;
    mix.lambda = 1.f - float((y1 - y0) * (x1 - x0)) / float(H * W);
    return mix;
}

Tensor Trainer::train_step(const datasets::Batch& batch, int64_t global_step, double& loss_out, int64_t& correct_out) {
    Tensor images = batch.images;
    Mix mix = mix_batch(images, batch.labels, opt_, global_step);
    Tensor logits = model_->forward(images);
    float ls = float(opt_.label_smoothing);
    Tensor loss = cross_entropy(logits, batch.labels, ls);
    if (mix.partner_labels.defined())
        loss = loss * mix.lambda + cross_entropy(logits, mix.partner_labels, ls) * (1.f - mix.lambda);
    loss_out = double(loss.item());
    if (!std::isfinite(loss_out)) return loss;
    {
        PROFILE_SCOPE("zero_grad");
        optimizer_->zero_grad();
    }
    loss.backward();
    PROFILE_SCOPE("optimizer (clip + AdamW)");
    if (opt_.grad_clip > 0) clip_grad_norm(*optimizer_, opt_.grad_clip);
    optimizer_->step();
    correct_out = count_topk_correct(logits.detach(), batch.labels, 1);
    return loss;
}

// The data-parallel step (data_parallel.h): the forward pass on this process's
// slice of the batch (dropout and drop-path masks drawn as for the whole batch),
// the global loss and accuracy summed over processes, the gradient averaged
// during backward, then the same clip and AdamW step on every process.
Tensor Trainer::parallel_train_step(const datasets::Batch& batch, double& loss_out, int64_t& correct_out) {
    const double share = double(batch.size()) / double(batch.global_size);
    set_batch_slice({batch.first, batch.global_size});
    Tensor logits = model_->forward(batch.images);
    set_batch_slice({});
    Tensor loss = cross_entropy(logits, batch.labels, float(opt_.label_smoothing));
    std::vector<double> totals = {share * double(loss.item()), double(count_topk_correct(logits.detach(), batch.labels, 1))};
    parallel_->sum(totals);
    loss_out = totals[0], correct_out = int64_t(totals[1]);
    if (!std::isfinite(loss_out)) return loss;  // every process sees the same sum, so all stop here
    {
        PROFILE_SCOPE("zero_grad");
        optimizer_->zero_grad();
    }
    parallel_->begin_backward(share);
    loss.backward();
    {
        PROFILE_SCOPE("allreduce (waiting for the last buckets)");
        parallel_->end_backward();
    }
    PROFILE_SCOPE("optimizer (clip + AdamW)");
    if (opt_.grad_clip > 0) clip_grad_norm(*optimizer_, opt_.grad_clip);
    optimizer_->step();
    return loss;
}

}  // namespace attnlab::nn

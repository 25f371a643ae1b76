// attention_probe.cpp — see attention_probe.h.
#include "nn/study/attention_probe.h"

#include <cmath>

#include "attention/registry.h"
#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/rng.h"
#include "nn/layers/transformer_block.h"

namespace attnlab::nn {

namespace {

// Wraps a block's attention: records its inputs, then lets it compute as before.
class RecordingAttention : public attention::Attention {
public:
    RecordingAttention(std::shared_ptr<attention::Attention> inner, QKV& out) : inner_(std::move(inner)), out_(out) {}
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override {
        out_ = {q.contiguous().detach(), k.contiguous().detach(), v.contiguous().detach()};
        return inner_->forward(q, k, v);
    }
    std::string describe() const override { return "RecordingAttention(" + inner_->describe() + ")"; }

private:
    std::shared_ptr<attention::Attention> inner_;
    QKV& out_;
};

}  // namespace

std::vector<QKV> capture_qkv(VisionTransformer& model, const Tensor& images) {
    NoGradGuard no_grad;
    model.eval();
    std::vector<QKV> captured(model.blocks.size());
    std::vector<std::shared_ptr<attention::Attention>> originals;
    for (size_t i = 0; i < model.blocks.size(); ++i) {
        std::shared_ptr<attention::Attention>& slot = model.blocks[i]->attn->attn;
        originals.push_back(slot);
        slot = std::make_shared<RecordingAttention>(slot, captured[i]);
    }
    try {
        model.forward(images);
    } catch (...) {
        for (size_t i = 0; i < originals.size(); ++i) model.blocks[i]->attn->attn = originals[i];
        throw;
    }
    for (size_t i = 0; i < originals.size(); ++i) model.blocks[i]->attn->attn = originals[i];
    return captured;
}

double relative_error(const Tensor& a, const Tensor& b) {
    check(a.shape() == b.shape(), "relative_error: shapes ", to_string(a.shape()), " and ", to_string(b.shape()), " differ");
    const std::vector<float> x = a.contiguous().to_vector(), y = b.contiguous().to_vector();
    double diff = 0, norm = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        diff += (double(x[i]) - y[i]) * (double(x[i]) - y[i]);
        norm += double(y[i]) * y[i];
    }
    check(norm > 0, "relative_error: the reference is all zeros");
    return std::sqrt(diff / norm);
}

double approximation_error(const std::string& variant, const attention::Options& options, const QKV& x, uint64_t seed) {
    NoGradGuard no_grad;
    const attention::AttentionContext ctx{x.q.size(2), x.q.size(3), x.q.size(1)};
    auto exact = attention::make_attention("softmax", {}, ctx);
    manual_seed(seed);  // the variant's random features or hashes, when it draws from the global generator
    auto approx = attention::make_attention(variant, options, ctx);
    exact->eval(), approx->eval();
    return relative_error(approx->forward(x.q, x.k, x.v), exact->forward(x.q, x.k, x.v));
}

}  // namespace attnlab::nn

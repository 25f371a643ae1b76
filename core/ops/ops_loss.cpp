// ops_loss.cpp — fused cross-entropy from logits, with label smoothing.
//
// For a row of logits z (K classes) and target t, with p = softmax(z) and the
// smoothed target q = (1-ε)·onehot(t) + ε/K:
//   loss = -Σ_j q_j log p_j = logsumexp(z) - (1-ε) z_t - (ε/K) Σ_j z_j
//   dloss/dz = p - q
// logsumexp subtracts the row maximum, so logits of ±1e4 are exact.
// Cost: O(B·K) time; saves the softmax probabilities.
#include <cmath>

#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/util/profiler.h"
#include "core/tensor/strided.h"

namespace attnlab {

namespace {

void check_args(const Tensor& logits, const Tensor& targets, float eps) {
    detail::check_float("cross_entropy", logits);
    check(logits.dim() == 2, "cross_entropy: logits must be [B, K], got ", to_string(logits.shape()));
    check(targets.dtype() == DType::Int64 && targets.dim() == 1 && targets.size(0) == logits.size(0),
          "cross_entropy: targets must be int64 [", logits.size(0), "], got ", dtype_name(targets.dtype()), " ",
          to_string(targets.shape()));
    check(eps >= 0.f && eps <= 1.f, "cross_entropy: label_smoothing must be in [0, 1], got ", eps);
    check(logits.size(1) > 0, "cross_entropy: no classes");
}

// One row: p = softmax(z) into p, returns logsumexp(z) − (1−ε) z_t − (ε/K) Σ_j z_j.
float forward_row(const float* z, int64_t K, int64_t target, float eps, float* p) {
    float m = z[0], sum_z = 0.f;
    for (int64_t j = 0; j < K; ++j) m = std::max(m, z[j]), sum_z += z[j];
    float s = 0.f;
    for (int64_t j = 0; j < K; ++j) s += (p[j] = std::exp(z[j] - m));
    for (int64_t j = 0; j < K; ++j) p[j] /= s;
    float lse = m + std::log(s);
    return lse - (1.f - eps) * z[target] - eps / float(K) * sum_z;
}

// One row: dz = (p − q)·g·scale, with q the smoothed target (scale: 1/B for the mean).
void backward_row(const float* p, int64_t K, int64_t target, float eps, float g, float scale, float* dz) {
    for (int64_t j = 0; j < K; ++j) {
        float q = eps / float(K) + (j == target ? 1.f - eps : 0.f);
        dz[j] = (p[j] - q) * g * scale;
    }
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, float eps, Reduction reduction) {
    PROFILE_SCOPE("cross_entropy");
    check_args(logits, targets, eps);
    const int64_t B = logits.size(0), K = logits.size(1);
    Tensor z = contiguous(logits.detach());
    Tensor t = contiguous(targets);
    const int64_t* pt = t.data_as<int64_t>();
    for (int64_t i = 0; i < B; ++i)
        check(pt[i] >= 0 && pt[i] < K, "cross_entropy: target ", pt[i], " at row ", i, " outside [0, ", K, ")");
    Tensor probs = Tensor::empty({B, K}), losses = Tensor::empty({B});
    const float* pz = z.data();
    float *pp = probs.data(), *pl = losses.data();
    parallel_for(0, B, std::max<int64_t>(1, 16384 / K), [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) pl[i] = forward_row(pz + i * K, K, pt[i], eps, pp + i * K);
    });
    Tensor out = reduction == Reduction::None ? losses : reduction == Reduction::Sum ? sum(losses) : mean(losses);
    return record("cross_entropy", out, {logits}, [probs, t, eps, B, K, reduction](const Tensor& dout) {
        Tensor g = contiguous(reduction == Reduction::None ? dout : dout.expand({B}));
        float scale = reduction == Reduction::Mean ? 1.f / float(B) : 1.f;
        Tensor dz = Tensor::empty({B, K});
        const float *pp = probs.data(), *pg = g.data();
        const int64_t* pt = t.data_as<int64_t>();
        for (int64_t i = 0; i < B; ++i) backward_row(pp + i * K, K, pt[i], eps, pg[i], scale, dz.data() + i * K);
        return std::vector<Tensor>{dz};
    });
}

}  // namespace attnlab

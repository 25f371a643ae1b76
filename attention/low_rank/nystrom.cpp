// nystrom.cpp — see nystrom.h. The fast path is nystrom_attention_fused
// (nystrom_kernel.h); the reference is built from differentiable ops (matmul,
// softmax, max, abs), so its backward is their composition. The convolution skip
// (pad, narrow) is composed in both.
#include "attention/low_rank/nystrom.h"

#include <cmath>
#include <vector>

#include "attention/low_rank/nystrom_kernel.h"
#include "core/module/init.h"
#include "core/ops/ops.h"
#include "core/util/reference_mode.h"

namespace attnlab::attention {

Tensor segment_means_matrix(int64_t m, int64_t N) {
    std::vector<float> P(size_t(m * N), 0.f);
    for (int64_t s = 0; s < m; ++s) {
        int64_t lo = s * N / m, hi = (s + 1) * N / m;
        for (int64_t j = lo; j < hi; ++j) P[size_t(s * N + j)] = 1.f / float(hi - lo);
    }
    return Tensor::from_vector(P, {m, N});
}

Tensor iterative_pinv(const Tensor& A, int64_t iterations) {
    const int64_t m = A.size(-1);
    std::vector<float> eye(size_t(m * m), 0.f);
    for (int64_t i = 0; i < m; ++i) eye[size_t(i * m + i)] = 1.f;
    Tensor I = Tensor::from_vector(eye, {m, m});
    Tensor norm_1 = max(sum(abs(A), {-2}, true), -1, true);    // max column sum  [..., 1, 1]
    Tensor norm_inf = max(sum(abs(A), {-1}, true), -2, true);  // max row sum     [..., 1, 1]
    Tensor Z = A.transpose(-2, -1) / (norm_1 * norm_inf);
    for (int64_t it = 0; it < iterations; ++it) {
        Tensor AZ = matmul(A, Z);
        Z = matmul(Z * 0.25f, I * 13.f - matmul(AZ, I * 15.f - matmul(AZ, I * 7.f - AZ)));
    }
    return Z;
}

NystromAttention::NystromAttention(const Options& opts, const AttentionContext& ctx)
    : m_(opts.get_int("landmarks")),
      iterations_(opts.get_int("pinv_iterations")),
      conv_kernel_(opts.get_int("conv_kernel")),
      H_(ctx.num_heads) {
    check(m_ >= 1, "nystrom: option landmarks=", m_, " is invalid; need 1 <= landmarks <= N");
    check(iterations_ >= 1, "nystrom: option pinv_iterations=", iterations_, " is invalid; need at least 1");
    check(conv_kernel_ == 0 || (conv_kernel_ > 0 && conv_kernel_ % 2 == 1), "nystrom: option conv_kernel=",
          conv_kernel_, " is invalid; use 0 (no convolution) or an odd kernel size");
    if (conv_kernel_ > 0) {
        check(H_ >= 1, "nystrom: conv_kernel needs the number of heads at construction (AttentionContext.num_heads)");
        conv_weight_ = register_parameter("conv_weight", Tensor::empty({H_, conv_kernel_}));
        float bound = 1.f / std::sqrt(float(conv_kernel_));  // PyTorch's Conv2d default, fan_in = k
        nn::init::uniform_(conv_weight_, -bound, bound);
    }
}

Tensor NystromAttention::sequence_conv(const Tensor& v) const {
    const int64_t N = v.size(2), half = conv_kernel_ / 2;
    Tensor padded = pad(v, {0, 0, half, half});  // zeros before and after along N
    Tensor out;
    for (int64_t t = 0; t < conv_kernel_; ++t) {
        Tensor term = narrow(padded, 2, t, N) * reshape(narrow(conv_weight_, 1, t, 1), {1, H_, 1, 1});
        out = t == 0 ? term : out + term;
    }
    return out;
}

Tensor NystromAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("nystrom", q, k, v);
    check(!causal, "nystrom: causal masking is not supported (landmarks average over the whole sequence)");
    const int64_t N = q.size(2), Nk = k.size(2);
    check(m_ <= N && m_ <= Nk, "nystrom: option landmarks=", m_, " exceeds the sequence length (", N,
          " queries, ", Nk, " keys); need 1 <= landmarks <= N");
    Tensor out = reference || reference_mode() ? forward_reference(q, k, v)
                                               : nystrom_attention_fused(q, k, v, m_, iterations_);
    if (conv_kernel_ > 0) {
        check(N == Nk && q.size(1) == H_, "nystrom: the convolution skip needs N queries = N keys and the ", H_,
              " heads it was built for, got q ", to_string(q.shape()), ", k ", to_string(k.shape()));
        out = out + sequence_conv(v);
    }
    return out;
}

Tensor NystromAttention::forward_reference(const Tensor& q, const Tensor& k, const Tensor& v) const {
    const int64_t N = q.size(2), Nk = k.size(2);
    const float scale = 1.f / std::sqrt(float(q.size(3)));
    Tensor q_land = matmul(segment_means_matrix(m_, N), q);          // Q̃ [B,H,m,D]
    Tensor k_land = matmul(segment_means_matrix(m_, Nk), k);         // K̃ [B,H,m,D]
    Tensor F = softmax(matmul(q, k_land.T()) * scale, -1);            // [B,H,N,m]
    Tensor A = softmax(matmul(q_land, k_land.T()) * scale, -1);       // [B,H,m,m]
    Tensor Bt = softmax(matmul(q_land, k.T()) * scale, -1);           // [B,H,m,N]
    return matmul(F, matmul(iterative_pinv(A, iterations_), matmul(Bt, v)));
}

std::string NystromAttention::describe() const {
    return cat("NystromAttention(m=", m_, ", pinv_iterations=", iterations_,
               conv_kernel_ ? cat(", conv_kernel=", conv_kernel_) : "", ")");
}

}  // namespace attnlab::attention

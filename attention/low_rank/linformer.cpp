// linformer.cpp — see linformer.h. The fast path is linformer_attention_fused
// (linformer_kernel.h); the reference is composed of differentiable ops, so E and F
// get their gradients from matmul's backward.
#include "attention/low_rank/linformer.h"

#include <algorithm>
#include <cmath>

#include "attention/low_rank/linformer_kernel.h"
#include "core/module/init.h"
#include "core/ops/ops.h"
#include "core/util/reference_mode.h"

namespace attnlab::attention {

LinformerAttention::LinformerAttention(const Options& opts, const AttentionContext& ctx) : seq_len(ctx.seq_len) {
    check(seq_len > 0, "linformer attention needs the sequence length: AttentionContext.seq_len must be > 0, got ",
          seq_len, " (E and F are [k, N] matrices)");
    const int64_t k = opts.get_int("k");
    check(k >= 1, "linformer attention: option k must be >= 1, got ", k);
    proj_len = std::min(k, seq_len);
    const float bound = std::sqrt(3.f / float(seq_len + proj_len));  // xavier-uniform, gain 1/√2
    const bool share_kv = opts.get_bool("share_kv");
    E = register_parameter(share_kv ? "proj_kv" : "proj_k", Tensor::empty({proj_len, seq_len}));
    nn::init::uniform_(E, -bound, bound);
    if (share_kv) {
        F = E;
    } else {
        F = register_parameter("proj_v", Tensor::empty({proj_len, seq_len}));
        nn::init::uniform_(F, -bound, bound);
    }
}

Tensor LinformerAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("linformer attention", q, k, v);
    check(k.size(2) == seq_len, "linformer attention: built for seq_len ", seq_len, " tokens, got k/v with N = ",
          k.size(2), " (", to_string(k.shape()), ")");
    if (!reference && !reference_mode()) return linformer_attention_fused(q, k, v, E, F);
    Tensor k_proj = matmul(E, k);  // [k, N] x [B,H,N,D] -> [B,H,k,D]
    Tensor v_proj = matmul(F, v);  // [B,H,k,D]
    Tensor scores = matmul(q, k_proj.transpose(-2, -1)) * (1.f / std::sqrt(float(q.size(-1))));  // [B,H,N,k]
    return matmul(softmax(scores, -1), v_proj);
}

std::string LinformerAttention::describe() const {
    return cat("LinformerAttention(N=", seq_len, ", k=", proj_len, E.impl() == F.impl() ? ", shared" : "", ")");
}

}  // namespace attnlab::attention

// multi_head_attention.cpp — see multi_head_attention.h.
#include "nn/layers/multi_head_attention.h"

#include "attention/registry.h"
#include "core/ops/ops.h"

namespace attnlab::nn {

MultiHeadAttention::MultiHeadAttention(int64_t d, int64_t h, const AttentionSpec& spec, int64_t seq_len, float p,
                                       bool qkv_bias)
    : dim(d), heads(h), head_dim(h > 0 ? d / h : 0), variant_name(spec.name) {
    check(h > 0 && d % h == 0, "MultiHeadAttention: dim ", d, " is not divisible by heads ", h);
    qkv = register_module("qkv", std::make_shared<Linear>(d, 3 * d, qkv_bias));
    attn = register_module("attn", attention::make_attention(spec.name, spec.options, {seq_len, head_dim, h}));
    proj = register_module("proj", std::make_shared<Linear>(d, d));
    proj_drop = register_module("proj_drop", std::make_shared<Dropout>(p));
}

Tensor MultiHeadAttention::forward(const Tensor& x) {
    check(x.dim() == 3 && x.size(2) == dim, "MultiHeadAttention: input ", to_string(x.shape()), ", expected [B, N, ",
          dim, "]");
    const int64_t B = x.size(0), N = x.size(1);
    Tensor o = attn->forward_packed(qkv->forward(x), heads);  // [B, N, 3C] -> [B, H, N, D]
    Tensor merged = o.permute({0, 2, 1, 3}).reshape({B, N, dim});  // [B, N, C]
    return proj_drop->forward(proj->forward(merged));
}

std::string MultiHeadAttention::describe() const {
    return cat("MultiHeadAttention(", dim, ", heads ", heads, ", ", variant_name, ")");
}

}  // namespace attnlab::nn

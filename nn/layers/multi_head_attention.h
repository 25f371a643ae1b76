// multi_head_attention.h — the attention layer around a pluggable variant.
//
//   x [B, N, C] --qkv Linear(C, 3C)--> q, k, v [B, H, N, D]   (D = C / H)
//   o = variant(q, k, v)                [B, H, N, D]
//   y = proj(merge_heads(o))            [B, N, C]
// The variant comes from the attention registry by name with its options
// (see attention/registry.h); the model's sequence length is passed on for
// variants that need it (Linformer). Cost: 8·B·N·C² flops for the projections
// plus the variant's own cost.
#pragma once
#include "attention/attention.h"
#include "nn/layers/dropout.h"
#include "nn/layers/linear.h"

namespace attnlab::nn {

struct AttentionSpec {
    std::string name = "softmax";
    attention::Options options;
};

class MultiHeadAttention : public UnaryModule {
public:
    MultiHeadAttention(int64_t dim, int64_t heads, const AttentionSpec& spec = {}, int64_t seq_len = 0,
                       float proj_dropout = 0.f, bool qkv_bias = true);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override;

    int64_t dim, heads, head_dim;
    std::string variant_name;
    std::shared_ptr<Linear> qkv, proj;
    std::shared_ptr<attention::Attention> attn;
    std::shared_ptr<Dropout> proj_drop;
};

}  // namespace attnlab::nn

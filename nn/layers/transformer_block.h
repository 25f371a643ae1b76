// transformer_block.h — a pre-norm transformer encoder block (as in ViT/DeiT).
//
//   x = x + drop_path(attn(norm1(x)))
//   x = x + drop_path(mlp(norm2(x)))
// x [B, N, C] -> [B, N, C]. Cost: the attention's plus the MLP's.
#pragma once
#include "nn/layers/layer_norm.h"
#include "nn/layers/mlp.h"
#include "nn/layers/multi_head_attention.h"

namespace attnlab::nn {

struct BlockConfig {
    int64_t dim = 192, heads = 3, mlp_hidden = 384, seq_len = 0;
    float dropout = 0.f, drop_path = 0.f;
    AttentionSpec attention;
};

class TransformerBlock : public UnaryModule {
public:
    explicit TransformerBlock(const BlockConfig& cfg);
    Tensor forward(const Tensor& x) override;
    std::string describe() const override { return "TransformerBlock"; }

    std::shared_ptr<LayerNorm> norm1, norm2;
    std::shared_ptr<MultiHeadAttention> attn;
    std::shared_ptr<MLP> mlp;
    std::shared_ptr<DropPath> drop_path;
};

}  // namespace attnlab::nn

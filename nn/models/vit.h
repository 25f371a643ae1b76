// vit.h — the Vision Transformer (Dosovitskiy et al., 2021) for small images.
//
//   images [B, C, H, W] -> PatchEmbed -> [B, N, dim] -> (+ class token) -> + pos
//   -> dropout -> TransformerBlock × depth -> LayerNorm -> pool (cls | mean)
//   -> Linear(dim, classes) -> logits [B, classes]
// Initialization follows ViT/DeiT: truncated normal (std 0.02) for Linear
// weights, position embedding and class token; zero biases; LayerNorm 1 and 0.
// Per image, one block costs ≈ 8·T·dim² (attention projections) + 4·T·dim·hidden
// (MLP) flops forward plus the attention variant's cost, T = tokens.
#pragma once
#include <nlohmann/json.hpp>

#include "nn/layers/embedding.h"
#include "nn/layers/patch_embed.h"
#include "nn/layers/transformer_block.h"

namespace attnlab::nn {

// Library defaults; the recommended recipe's model is in nn/train/recipe.h.
struct ViTConfig {
    int64_t image_size = 32, channels = 3, patch_size = 4, num_classes = 10;
    int64_t dim = 192, depth = 9, heads = 3;
    double mlp_ratio = 2.0;
    double dropout = 0.0, drop_path = 0.1;
    std::string pooling = "cls";  // "cls": class token; "mean": average of patch tokens
    std::string attention = "softmax";
    attention::Options attention_options;

    int64_t num_patches() const { return (image_size / patch_size) * (image_size / patch_size); }
    int64_t num_tokens() const { return num_patches() + (pooling == "cls" ? 1 : 0); }
    int64_t mlp_hidden() const { return int64_t(double(dim) * mlp_ratio + 0.5); }
    void validate() const;  // throws an Error naming the bad field and the allowed values
    nlohmann::json to_json() const;
    static ViTConfig from_json(const nlohmann::json& j);  // validates
};

class VisionTransformer : public UnaryModule {
public:
    explicit VisionTransformer(const ViTConfig& cfg);
    Tensor forward(const Tensor& images) override;  // [B, C, H, W] -> logits [B, classes]
    std::string describe() const override;

    ViTConfig config;
    std::shared_ptr<PatchEmbed> patch_embed;
    std::shared_ptr<ClassToken> cls_token;  // null with mean pooling
    std::shared_ptr<PositionalEmbedding> pos_embed;
    std::shared_ptr<Dropout> pos_drop;
    std::vector<std::shared_ptr<TransformerBlock>> blocks;
    std::shared_ptr<LayerNorm> norm;
    std::shared_ptr<Linear> head;
};

}  // namespace attnlab::nn

// vit.cpp — see vit.h.
#include "nn/models/vit.h"

#include "attention/options_json.h"
#include "attention/registry.h"
#include "core/ops/ops.h"
#include "core/module/init.h"

namespace attnlab::nn {

void ViTConfig::validate() const {
    check(image_size > 0 && channels > 0 && num_classes > 1, "ViT config: image_size, channels must be > 0 and ",
          "num_classes > 1, got ", image_size, ", ", channels, ", ", num_classes);
    check(patch_size > 0 && image_size % patch_size == 0, "ViT config: patch_size ", patch_size,
          " must divide image_size ", image_size);
    check(dim > 0 && heads > 0 && dim % heads == 0, "ViT config: dim ", dim, " must be divisible by heads ", heads);
    check(depth > 0, "ViT config: depth must be > 0, got ", depth);
    check(mlp_ratio > 0 && mlp_ratio <= 64, "ViT config: mlp_ratio must be in (0, 64], got ", mlp_ratio);
    check(dropout >= 0 && dropout < 1, "ViT config: dropout must be in [0, 1), got ", dropout);
    check(drop_path >= 0 && drop_path < 1, "ViT config: drop_path must be in [0, 1), got ", drop_path);
    check(pooling == "cls" || pooling == "mean", "ViT config: pooling must be 'cls' or 'mean', got '", pooling, "'");
    attention::attention_info(attention);  // throws listing valid variants
}

nlohmann::json ViTConfig::to_json() const {
    return {{"image_size", image_size}, {"channels", channels},   {"patch_size", patch_size},
            {"num_classes", num_classes}, {"dim", dim},           {"depth", depth},
            {"heads", heads},             {"mlp_ratio", mlp_ratio}, {"dropout", dropout},
            {"drop_path", drop_path},     {"pooling", pooling},   {"attention", attention},
            {"attention_options", attention::options_to_json(attention_options)}};
}

ViTConfig ViTConfig::from_json(const nlohmann::json& j) {
    ViTConfig c;
    auto integer = [&](const char* key) {  // get<int64_t> would truncate 128.5 to 128
        const nlohmann::json& v = j.at(key);
        check(v.is_number_integer(), "ViT config: '", key, "' must be an integer, got ", v.dump());
        return v.get<int64_t>();
    };
    try {
        c.image_size = integer("image_size");
        c.channels = integer("channels");
        c.patch_size = integer("patch_size");
        c.num_classes = integer("num_classes");
        c.dim = integer("dim");
        c.depth = integer("depth");
        c.heads = integer("heads");
        c.mlp_ratio = j.at("mlp_ratio").get<double>();
        c.dropout = j.at("dropout").get<double>();
        c.drop_path = j.at("drop_path").get<double>();
        c.pooling = j.at("pooling").get<std::string>();
        c.attention = j.at("attention").get<std::string>();
        if (j.contains("attention_options")) c.attention_options = attention::options_from_json(j.at("attention_options"));
    } catch (const nlohmann::json::exception& e) {
        throw Error(cat("ViT config JSON: ", e.what()));
    }
    c.validate();
    return c;
}

VisionTransformer::VisionTransformer(const ViTConfig& cfg) : config(cfg) {
    config.validate();
    patch_embed = register_module("patch_embed", std::make_shared<PatchEmbed>(cfg.image_size, cfg.patch_size,
                                                                              cfg.channels, cfg.dim));
    if (cfg.pooling == "cls") cls_token = register_module("cls_token", std::make_shared<ClassToken>(cfg.dim));
    pos_embed = register_module("pos_embed", std::make_shared<PositionalEmbedding>(cfg.num_tokens(), cfg.dim));
    pos_drop = register_module("pos_drop", std::make_shared<Dropout>(float(cfg.dropout)));
    for (int64_t i = 0; i < cfg.depth; ++i) {
        BlockConfig b;
        b.dim = cfg.dim, b.heads = cfg.heads, b.mlp_hidden = cfg.mlp_hidden(), b.seq_len = cfg.num_tokens();
        b.dropout = float(cfg.dropout);
        b.drop_path = cfg.depth > 1 ? float(cfg.drop_path * double(i) / double(cfg.depth - 1)) : float(cfg.drop_path);
        b.attention = {cfg.attention, cfg.attention_options};
        blocks.push_back(register_module("blocks." + std::to_string(i), std::make_shared<TransformerBlock>(b)));
    }
    norm = register_module("norm", std::make_shared<LayerNorm>(cfg.dim));
    head = register_module("head", std::make_shared<Linear>(cfg.dim, cfg.num_classes));
    init_linears(*this);
}

Tensor VisionTransformer::forward(const Tensor& images) {
    Tensor x = patch_embed->forward(images);  // [B, N, dim]
    if (cls_token) x = cls_token->forward(x);  // [B, N+1, dim]
    x = pos_drop->forward(pos_embed->forward(x));
    for (auto& block : blocks) x = block->forward(x);
    x = norm->forward(x);
    Tensor pooled = cls_token ? x.narrow(1, 0, 1).squeeze(1) : mean(x, {1});  // [B, dim]
    return head->forward(pooled);
}

std::string VisionTransformer::describe() const {
    return cat("VisionTransformer(dim ", config.dim, ", depth ", config.depth, ", heads ", config.heads, ", patch ",
               config.patch_size, ", ", config.num_tokens(), " tokens, attention ", config.attention, ")");
}

}  // namespace attnlab::nn

// pixel_transformer.cpp — see pixel_transformer.h.
#include "nn/pixel/pixel_transformer.h"

#include <algorithm>
#include <limits>

#include "attention/registry.h"
#include "core/autograd/autograd.h"
#include "core/ops/ops.h"
#include "core/module/init.h"
#include "attention/options_json.h"

namespace attnlab::nn {

std::vector<std::string> causal_attention_names() {
    std::vector<std::string> names;
    for (const attention::VariantInfo& v : attention::attention_variants())
        for (const attention::OptionSpec& o : v.options)
            if (o.name == "causal") names.push_back(v.name);
    return names;
}

void PixelTransformerConfig::validate() const {
    check(channels > 0 && height > 0 && width > 0, "pixel transformer config: image channels x height x width must be ",
          "positive, got ", channels, "x", height, "x", width);
    check(dim > 0 && heads > 0 && dim % heads == 0, "pixel transformer config: dim ", dim,
          " must be divisible by heads ", heads);
    check(depth > 0, "pixel transformer config: depth must be > 0, got ", depth);
    check(mlp_ratio > 0, "pixel transformer config: mlp_ratio must be > 0, got ", mlp_ratio);
    check(dropout >= 0 && dropout < 1, "pixel transformer config: dropout must be in [0, 1), got ", dropout);
    attention::attention_info(attention);  // throws listing the valid variants
    std::vector<std::string> causal = causal_attention_names();
    std::string valid;
    bool ok = false;
    for (const std::string& n : causal) valid += (valid.empty() ? "" : ", ") + n, ok |= n == attention;
    check(ok, "pixel transformer: attention '", attention, "' has no causal mask; variants with one: ", valid);
    check(!attention_options.has("causal") || attention_options.get_bool("causal"),
          "pixel transformer: attention option causal=false is not allowed (an autoregressive model must be causal)");
}

nlohmann::json PixelTransformerConfig::to_json() const {
    return {{"model", "pixel_transformer"}, {"channels", channels},   {"height", height},
            {"width", width},               {"dim", dim},             {"depth", depth},
            {"heads", heads},               {"mlp_ratio", mlp_ratio}, {"dropout", dropout},
            {"attention", attention},       {"attention_options", attention::options_to_json(attention_options)}};
}

PixelTransformerConfig PixelTransformerConfig::from_json(const nlohmann::json& j) {
    PixelTransformerConfig c;
    try {
        check(j.value("model", std::string()) == "pixel_transformer", "pixel transformer config: \"model\" is '",
              j.value("model", std::string("(missing)")), "', expected 'pixel_transformer'");
        c.channels = j.at("channels").get<int64_t>();
        c.height = j.at("height").get<int64_t>();
        c.width = j.at("width").get<int64_t>();
        c.dim = j.at("dim").get<int64_t>();
        c.depth = j.at("depth").get<int64_t>();
        c.heads = j.at("heads").get<int64_t>();
        c.mlp_ratio = j.at("mlp_ratio").get<double>();
        c.dropout = j.at("dropout").get<double>();
        c.attention = j.at("attention").get<std::string>();
        if (j.contains("attention_options")) c.attention_options = attention::options_from_json(j.at("attention_options"));
    } catch (const nlohmann::json::exception& e) {
        throw Error(cat("pixel transformer config JSON: ", e.what()));
    }
    c.validate();
    return c;
}

const char* step_kind_name(StepKind k) {
    switch (k) {
        case StepKind::KVCache: return "kv-cache";
        case StepKind::Recurrent: return "recurrent";
        case StepKind::None: return "none";
    }
    return "?";
}

PixelTransformer::PixelTransformer(const PixelTransformerConfig& cfg) : config(cfg) {
    config.validate();
    config.attention_options.set("causal", true);
    const int64_t N = config.seq_len();
    embed = register_module("embed", std::make_shared<Embedding>(kPixelLevels + 1, config.dim));
    init::trunc_normal_(embed->weight, 0.02f);
    pos_embed = register_module("pos_embed", std::make_shared<PositionalEmbedding>(N, config.dim));
    for (int64_t i = 0; i < config.depth; ++i) {
        BlockConfig b;
        b.dim = config.dim, b.heads = config.heads, b.mlp_hidden = config.mlp_hidden(), b.seq_len = N;
        b.dropout = float(config.dropout);
        b.attention = {config.attention, config.attention_options};
        blocks.push_back(register_module("blocks." + std::to_string(i), std::make_shared<TransformerBlock>(b)));
    }
    norm = register_module("norm", std::make_shared<LayerNorm>(config.dim));
    head = register_module("head", std::make_shared<Linear>(config.dim, kPixelLevels));
    init_linears(*this);
}

static void check_tokens(const char* who, const Tensor& t, int64_t max_len) {
    check(t.defined() && t.dtype() == DType::Int64 && t.dim() == 2 && t.size(0) > 0 && t.size(1) >= 1 &&
              t.size(1) <= max_len,
          "pixel transformer ", who, ": expected Int64 tokens [B, L] with 1 <= L <= ", max_len, ", got ",
          t.defined() ? dtype_name(t.dtype()) : "undefined", " ", t.defined() ? to_string(t.shape()) : "");
}

Tensor PixelTransformer::shift_right(const Tensor& pixels_in) {
    check_tokens("shift_right", pixels_in, std::numeric_limits<int64_t>::max());
    Tensor pixels = pixels_in.contiguous();
    const int64_t B = pixels.size(0), L = pixels.size(1);
    Tensor out = Tensor::empty({B, L}, DType::Int64);
    const int64_t* src = pixels.data_as<int64_t>();
    int64_t* dst = out.data_as<int64_t>();
    for (int64_t b = 0; b < B; ++b) {
        dst[b * L] = kStartToken;
        std::copy(src + b * L, src + b * L + L - 1, dst + b * L + 1);
    }
    return out;
}

Tensor PixelTransformer::hidden(const Tensor& inputs) {
    check_tokens("hidden", inputs, config.seq_len());
    const int64_t L = inputs.size(1);
    Tensor x = embed->forward(inputs) + pos_embed->weight.narrow(1, 0, L);  // [B, L, C]
    for (auto& block : blocks) x = block->forward(x);
    return norm->forward(x);
}

Tensor PixelTransformer::forward(const Tensor& pixels) {
    check(pixels.defined() && pixels.dim() == 2 && pixels.size(1) == config.seq_len(), "pixel transformer: expected ",
          "pixels [B, ", config.seq_len(), "] (", config.height, "x", config.width, "x", config.channels, "), got ",
          pixels.defined() ? to_string(pixels.shape()) : "undefined");
    return head->forward(hidden(shift_right(pixels)));
}

StepKind PixelTransformer::step_kind() const { return blocks.front()->attn->attn->decoding(); }

DecodingState PixelTransformer::begin_decoding(int64_t B) const {
    const StepKind kind = step_kind();
    check(kind != StepKind::None, "pixel transformer: attention '", config.attention,
          "' has no one-token step (softmax has a KV cache, linear_elu a recurrent state); generate by re-running ",
          "the model on the prefix instead (path 'uncached')");
    check(B > 0, "begin_decoding: batch must be > 0, got ", B);
    DecodingState st;
    st.batch = B;
    const int64_t H = config.heads, D = config.dim / config.heads;
    for (const auto& block : blocks) st.layers.push_back(block->attn->attn->begin_decoding(B, H, config.seq_len(), D));
    return st;
}

Tensor PixelTransformer::block_step(TransformerBlock& block, DecodingState& st, size_t layer, const Tensor& x) {
    MultiHeadAttention& mha = *block.attn;
    const int64_t B = x.size(0);
    // [B, 3C] -> [B, 3, H, D]; q, k, v [B, H, D] are strided views
    Tensor qkv = mha.qkv->forward(block.norm1->forward(x)).view({B, 3, mha.heads, mha.head_dim});
    Tensor q = qkv.narrow(1, 0, 1).squeeze(1), k = qkv.narrow(1, 1, 1).squeeze(1), v = qkv.narrow(1, 2, 1).squeeze(1);
    Tensor o = mha.attn->decode_step(*st.layers[layer], q, k, v);
    Tensor h = x + mha.proj->forward(o.reshape({B, mha.dim}));
    return h + block.mlp->forward(block.norm2->forward(h));
}

Tensor PixelTransformer::step(DecodingState& st, const Tensor& inputs) {
    NoGradGuard no_grad;
    check(!is_training(), "pixel transformer step: call eval() first (dropout would make decoding differ from forward)");
    check(st.batch > 0 && st.layers.size() == blocks.size(),
          "pixel transformer step: the state was not made by begin_decoding for this model");
    check(inputs.defined() && inputs.dtype() == DType::Int64 && inputs.shape() == Shape{st.batch},
          "pixel transformer step: expected Int64 inputs [", st.batch, "], got ",
          inputs.defined() ? dtype_name(inputs.dtype()) : "undefined", " ", inputs.defined() ? to_string(inputs.shape()) : "");
    check(st.position < config.seq_len(), "pixel transformer step: all ", config.seq_len(), " tokens already decoded");
    Tensor x = embed->forward(inputs) + pos_embed->weight.narrow(1, st.position, 1).reshape({config.dim});  // [B, C]
    for (size_t i = 0; i < blocks.size(); ++i) x = block_step(*blocks[i], st, i, x);
    ++st.position;
    return head->forward(norm->forward(x));  // [B, 256]
}

std::string PixelTransformer::describe() const {
    return cat("PixelTransformer(", config.height, "x", config.width, "x", config.channels, " = ", config.seq_len(),
               " tokens, dim ", config.dim, ", depth ", config.depth, ", heads ", config.heads, ", attention ",
               config.attention, ")");
}

}  // namespace attnlab::nn

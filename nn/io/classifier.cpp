// classifier.cpp — see classifier.h.
#include "nn/io/classifier.h"

#include <cmath>
#include <filesystem>

#include "core/autograd/autograd.h"
#include "attention/registry.h"
#include "core/ops/ops.h"
#include "datasets/formats/cifar.h"
#include "nn/io/checkpoint.h"

namespace attnlab::nn {

namespace fs = std::filesystem;

std::string find_checkpoint(const std::string& dir) {
    for (const char* sub : {"", "best", "last"}) {
        fs::path p = sub[0] ? fs::path(dir) / sub : fs::path(dir);
        // a save interrupted in its final rename leaves only DIR.old (see checkpoint.h)
        if (fs::exists(p / kModelFile) || fs::exists(fs::path(p.string() + ".old") / kModelFile)) return p.string();
    }
    throw Error(cat("no checkpoint in '", dir, "': expected ", kModelFile, " there or in its best/ or last/ subdirectory"));
}

Classifier load_classifier(const std::string& dir, const AttentionSwap* swap) {
    Classifier c;
    c.dir = find_checkpoint(dir);
    c.model = load_vit(c.dir, swap);
    nlohmann::json cfg = read_config(c.dir);
    nlohmann::json extra = cfg.value("extra", nlohmann::json::object());
    c.normalization = datasets::Normalization::cifar10();
    try {
        if (extra.contains("normalization")) {
            c.normalization.mean = extra["normalization"].at("mean").get<std::vector<float>>();
            c.normalization.std = extra["normalization"].at("std").get<std::vector<float>>();
        }
        c.class_names = extra.contains("class_names") ? extra["class_names"].get<std::vector<std::string>>()
                                                       : datasets::cifar10_standard_class_names();
    } catch (const nlohmann::json::exception& e) {
        throw Error(cat(c.dir, "/", kConfigFile, ": bad normalization or class_names: ", e.what()));
    }
    int64_t C = c.model->config.channels, K = c.model->config.num_classes;
    const std::string file = cat(c.dir, "/", kConfigFile);
    check(c.normalization.mean.empty() || int64_t(c.normalization.mean.size()) == C, file, ": normalization mean has ",
          c.normalization.mean.size(), " values, the model has ", C, " channels");
    check(c.normalization.mean.empty() || int64_t(c.normalization.std.size()) == C, file, ": normalization std has ",
          c.normalization.std.size(), " values, the model has ", C, " channels");
    for (size_t i = 0; i < c.normalization.mean.size(); ++i)
        check(std::isfinite(c.normalization.std[i]) && c.normalization.std[i] > 0 && std::isfinite(c.normalization.mean[i]),
              file, ": normalization of channel ", i, " is mean ", c.normalization.mean[i], ", std ", c.normalization.std[i],
              "; the std must be > 0 and both finite");
    check(int64_t(c.class_names.size()) == K, c.dir, "/", kConfigFile, ": ", c.class_names.size(),
          " class names for a model with ", K, " classes");
    return c;
}

AttentionSwap parse_attention_swap(const std::string& dir, const std::string& variant,
                                   const std::vector<std::string>& options) {
    AttentionSwap swap;
    swap.variant = variant.empty() ? read_vit_config(find_checkpoint(dir)).attention : variant;
    swap.options = attention::Options::parse(options, attention::attention_info(swap.variant).options, swap.variant);
    return swap;
}

Tensor normalize_images(const Tensor& images, const datasets::Normalization& norm) {
    check(images.dim() == 4, "normalize_images: expected [B, C, H, W], got ", to_string(images.shape()));
    if (norm.mean.empty()) return images;
    int64_t C = images.size(1);
    check(int64_t(norm.mean.size()) == C && int64_t(norm.std.size()) == C, "normalize_images: ", norm.mean.size(),
          " channel statistics for ", C, " channels");
    Tensor mean = Tensor::from_vector(norm.mean, {1, C, 1, 1}), std = Tensor::from_vector(norm.std, {1, C, 1, 1});
    return (images - mean) / std;
}

std::vector<std::vector<std::pair<int64_t, float>>> predict_topk(VisionTransformer& model, const Tensor& images, int64_t k) {
    NoGradGuard no_grad;
    model.eval();
    Tensor probs = softmax(model.forward(images), -1);
    k = std::min(k, probs.size(1));
    auto [values, indices] = topk(probs, k, 1);
    std::vector<float> v = values.to_vector();
    std::vector<int64_t> idx = indices.to_indices();
    std::vector<std::vector<std::pair<int64_t, float>>> out(size_t(images.size(0)));
    for (int64_t b = 0; b < images.size(0); ++b)
        for (int64_t j = 0; j < k; ++j) out[size_t(b)].push_back({idx[size_t(b * k + j)], v[size_t(b * k + j)]});
    return out;
}

}  // namespace attnlab::nn

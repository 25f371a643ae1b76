// registry.h — create an attention variant by name, list what exists.
//
//   auto attn = make_attention("performer", {{"features", 64}}, {.seq_len = 65, .head_dim = 32});
//   for (const VariantInfo& v : attention_variants()) std::cout << v.name << ": " << v.description;
//
// An unknown name or option throws an Error listing the valid ones.
#pragma once
#include <functional>
#include <memory>

#include "attention/attention.h"

namespace attnlab::attention {

struct VariantInfo {
    std::string name;
    std::string description;  // one line
    std::string complexity;   // time and memory in N and D, e.g. "O(N²D) time, O(N²) memory"
    std::vector<OptionSpec> options;
    std::function<std::shared_ptr<Attention>(const Options&, const AttentionContext&)> create;
};

const std::vector<VariantInfo>& attention_variants();
const VariantInfo& attention_info(const std::string& name);
std::vector<std::string> attention_names();

// Validates `opts` against the variant's specs, fills defaults, constructs it.
std::shared_ptr<Attention> make_attention(const std::string& name, const Options& opts = {},
                                          const AttentionContext& ctx = {});

}  // namespace attnlab::attention

// longformer.cpp — see longformer.h. The pattern lives in allowed(); make_layouts() turns it
// into blocks of queries with the keys they need (sparse_pattern.h caches them per N).
#include "attention/sparse/longformer.h"

#include <algorithm>

#include "core/util/reference_mode.h"

namespace attnlab::attention {

LongformerAttention::LongformerAttention(const Options& opts, const AttentionContext&)
    : SparsePatternAttention(opts, "longformer"), window(opts.get_int("window")), dilation(opts.get_int("dilation")), global_tokens(opts.get_int("global_tokens")) {
    check(window >= 2 && window % 2 == 0, "longformer: window must be an even number ≥ 2 (window/2 tokens on each "
          "side), got ", window);
    check(dilation >= 1, "longformer: dilation must be ≥ 1, got ", dilation);
    check(global_tokens >= 0, "longformer: global_tokens must be ≥ 0, got ", global_tokens);
}

std::string LongformerAttention::describe() const {
    return cat("LongformerAttention(window=", window, ", dilation=", dilation, ", global=", global_tokens,
               causal ? ", causal)" : ")");
}

bool LongformerAttention::allowed(int64_t i, int64_t j, int64_t) const {
    if (causal && j > i) return false;
    if (i < global_tokens || j < global_tokens) return true;
    int64_t dist = i > j ? i - j : j - i;
    return dist <= (window / 2) * dilation && dist % dilation == 0;
}

Tensor LongformerAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    if (reference || reference_mode() || !longformer_band_supported(global_tokens))
        return SparsePatternAttention::forward(q, k, v);
    check_qkv("longformer attention", q, k, v);
    check(q.size(2) == k.size(2), "longformer attention: self-attention only, got ", q.size(2), " queries and ",
          k.size(2), " keys");
    return longformer_attention(q, k, v, window, dilation, global_tokens, causal);
}

std::vector<SparseLayout> LongformerAttention::make_layouts(int64_t N) const {
    const int64_t g = std::min(global_tokens, N), reach = (window / 2) * dilation;
    // Query blocks of the window rounded up to the kernel's vector width (block_sparse.h's
    // padded_slots), so that no score lane is padding: 16 queries see 16 + w + g keys.
    const int64_t bs = std::max<int64_t>(1, std::min(padded_slots(window), (N - g + dilation - 1) / dilation));
    std::vector<std::vector<int64_t>> queries, keys;
    std::vector<int64_t> globals(g);
    for (int64_t j = 0; j < g; ++j) globals[size_t(j)] = j;
    for (int64_t r = 0; r < dilation; ++r) {
        std::vector<int64_t> residue;  // the non-global tokens ≡ r (mod d), in order
        for (int64_t i = r; i < N; i += dilation)
            if (i >= g) residue.push_back(i);
        for (size_t start = 0; start < residue.size(); start += size_t(bs)) {
            size_t end = std::min(residue.size(), start + size_t(bs));
            queries.emplace_back(residue.begin() + long(start), residue.begin() + long(end));
            std::vector<int64_t> cand = globals;
            for (int64_t j = std::max<int64_t>(r, residue[start] - reach); j <= residue[end - 1] + reach && j < N;
                 j += dilation)
                cand.push_back(j);
            keys.push_back(std::move(cand));
        }
    }
    return {make_sparse_layout(N, bs, queries, keys, globals, pattern(N))};
}

}  // namespace attnlab::attention

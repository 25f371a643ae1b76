// sparse_fixed.cpp — see sparse_fixed.h. The pattern lives in allows(); layout() turns it
// into blocks of queries with the keys they need (built once per sequence length).
#include "attention/sparse/sparse_fixed.h"

#include <algorithm>

namespace attnlab::attention {

SparseFixedAttention::SparseFixedAttention(const Options& opts, const AttentionContext&)
    : stride(opts.get_int("stride")), summary(opts.get_int("summary")) {
    causal = opts.get_bool("causal");
    check(stride >= 0, "sparse_fixed: stride must be ≥ 1 (or 0 for ⌈√N⌉), got ", stride);
    check(summary >= 1, "sparse_fixed: summary must be ≥ 1, got ", summary);
    check(stride == 0 || summary <= stride, "sparse_fixed: summary must be ≤ stride, got summary ", summary,
          " and stride ", stride);
}

std::string SparseFixedAttention::describe() const {
    return cat("SparseFixedAttention(stride=", stride == 0 ? std::string("√N") : std::to_string(stride),
               ", summary=", summary, causal ? ", causal)" : ")");
}

int64_t SparseFixedAttention::stride_for(int64_t N) const {
    int64_t l = stride > 0 ? stride : ceil_sqrt(N);
    check(summary <= l, "sparse_fixed: summary ", summary, " is larger than the stride ", l,
          stride > 0 ? "" : cat(" (⌈√N⌉ for N = ", N, ")"));
    return l;
}

bool SparseFixedAttention::allows(int64_t i, int64_t j, int64_t l) const {
    if (causal && j > i) return false;
    return j / l == i / l || j % l >= l - summary;
}

Tensor SparseFixedAttention::blocked_mask(int64_t N) const {
    const int64_t l = stride_for(N);
    return pattern_mask(N, [&](int64_t i, int64_t j) { return allows(i, j, l); });
}

const SparseLayout& SparseFixedAttention::layout(int64_t N) {
    if (layout_.seq_len == N && layout_causal_ == causal) return layout_;
    const int64_t l = stride_for(N), T = (N + l - 1) / l;
    std::vector<int64_t> summaries;  // the summary columns of all blocks
    for (int64_t j = 0; j < N; ++j)
        if (j % l >= l - summary) summaries.push_back(j);
    std::vector<std::vector<int64_t>> queries(T), keys(T);
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t i = t * l; i < std::min(N, (t + 1) * l); ++i) queries[size_t(t)].push_back(i);
        keys[size_t(t)] = summaries;
        keys[size_t(t)].insert(keys[size_t(t)].end(), queries[size_t(t)].begin(), queries[size_t(t)].end());
    }
    layout_ = make_sparse_layout(N, std::min(l, N), queries, keys, {},
                                 [&](int64_t i, int64_t j) { return allows(i, j, l); });
    layout_causal_ = causal;
    return layout_;
}

Tensor SparseFixedAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("sparse_fixed attention", q, k, v);
    check(q.size(2) == k.size(2), "sparse_fixed attention: self-attention only, got ", q.size(2), " queries and ",
          k.size(2), " keys");
    const SparseLayout& L = layout(q.size(2));
    return reference ? sparse_attention_reference(q, k, v, L) : sparse_attention(q, k, v, L);
}

}  // namespace attnlab::attention

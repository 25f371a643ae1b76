// sparse_fixed.cpp — see sparse_fixed.h. The pattern lives in allowed(); make_layouts() turns
// it into blocks of queries with the keys they need (sparse_pattern.h caches them per N).
#include "attention/sparse/sparse_fixed.h"

#include <algorithm>

namespace attnlab::attention {

SparseFixedAttention::SparseFixedAttention(const Options& opts, const AttentionContext& ctx)
    : SparsePatternAttention(opts, "sparse_fixed"),
      stride(opts.get_int("stride")),
      summary(opts.get_int("summary")),
      model_len_(ctx.seq_len) {
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
    const int64_t n = model_len_ > 0 ? model_len_ : N, l = stride > 0 ? stride : ceil_sqrt(n);
    if (summary > l)
        throw Error(cat("sparse_fixed: summary ", summary, " is larger than the stride ", l,
                        stride > 0 ? "" : cat(" (⌈√N⌉ for N = ", n, ")")));
    return l;
}

bool SparseFixedAttention::allowed(int64_t i, int64_t j, int64_t N) const {
    if (causal && j > i) return false;
    const int64_t l = stride_for(N);
    return j / l == i / l || j % l >= l - summary;
}

std::vector<SparseLayout> SparseFixedAttention::make_layouts(int64_t N) const {
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
    return {make_sparse_layout(N, std::min(l, N), queries, keys, {}, pattern(N))};
}

}  // namespace attnlab::attention

// sparse_strided.cpp — see sparse_strided.h.
#include "attention/sparse/sparse_strided.h"

#include <algorithm>
#include <cmath>

#include "core/ops/ops.h"

namespace attnlab::attention {

SparseStridedAttention::SparseStridedAttention(const Options& opts, const AttentionContext& ctx)
    : SparsePatternAttention(opts, "sparse_strided"), stride(opts.get_int("stride")), model_len_(ctx.seq_len) {
    check(stride >= 0, "sparse_strided: stride must be ≥ 1 (or 0 for ⌈√N⌉), got ", stride);
}

std::string SparseStridedAttention::describe() const {
    return cat("SparseStridedAttention(stride=", stride == 0 ? std::string("√N") : std::to_string(stride),
               causal ? ", causal)" : ")");
}

int64_t SparseStridedAttention::stride_for(int64_t N) const {
    return stride > 0 ? stride : ceil_sqrt(model_len_ > 0 ? model_len_ : N);
}

bool SparseStridedAttention::allowed(int64_t i, int64_t j, int64_t N) const {
    if (causal && j > i) return false;
    const int64_t l = stride_for(N), dist = i > j ? i - j : j - i;
    return dist < l || dist % l == 0;
}

std::vector<SparseLayout> SparseStridedAttention::make_layouts(int64_t N) const {
    const int64_t l = stride_for(N), T = (N + l - 1) / l;
    std::vector<std::vector<int64_t>> queries(T), keys(T);
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t i = t * l; i < std::min(N, (t + 1) * l); ++i) queries[size_t(t)].push_back(i);
        for (int64_t j = std::max<int64_t>(0, (t - 1) * l); j < std::min(N, (t + 2) * l); ++j) keys[size_t(t)].push_back(j);
    }
    SparseLayout local = make_sparse_layout(N, l, queries, keys, {}, [&](int64_t i, int64_t j) {
        return (!causal || j <= i) && std::abs(i - j) < l;
    });
    std::vector<std::vector<int64_t>> residues(static_cast<size_t>(l));  // residue class r: r, r + l, r + 2l, …
    for (int64_t i = 0; i < N; ++i) residues[size_t(i % l)].push_back(i);
    SparseLayout strided = make_sparse_layout(N, T, residues, residues, {}, [&](int64_t i, int64_t j) {
        return (!causal || j <= i) && std::abs(i - j) >= l && std::abs(i - j) % l == 0;
    });
    return {std::move(local), std::move(strided)};
}

std::vector<SparseLayout> SparseStridedAttention::make_fused_layouts(int64_t N) const {
    const int64_t l = stride_for(N), tile = std::min(padded_slots(l), 2 * padded_slots(1));
    std::vector<std::vector<int64_t>> queries, keys;
    for (int64_t a = 0; a < N; a += tile) {
        const int64_t b = std::min(N, a + tile);  // queries a … b − 1 see keys a − l + 1 … b + l − 2
        queries.emplace_back();
        keys.emplace_back();
        for (int64_t i = a; i < b; ++i) queries.back().push_back(i);
        for (int64_t j = std::max<int64_t>(0, a - l + 1); j < std::min(N, b + l - 1); ++j) keys.back().push_back(j);
    }
    SparseLayout local = make_sparse_layout(N, tile, queries, keys, {}, [&](int64_t i, int64_t j) {
        return (!causal || j <= i) && std::abs(i - j) < l && j != i;
    });
    std::vector<std::vector<int64_t>> residues(static_cast<size_t>(l));  // residue class r: r, r + l, r + 2l, …
    for (int64_t i = 0; i < N; ++i) residues[size_t(i % l)].push_back(i);
    SparseLayout strided = make_sparse_layout(N, (N + l - 1) / l, residues, residues, {}, [&](int64_t i, int64_t j) {
        return (!causal || j <= i) && std::abs(i - j) % l == 0;
    });
    return {std::move(local), std::move(strided)};
}

// Strided block [r, t, t']: query t·l + r against key t'·l + r; true = blocked (j = i, padding
// keys, and with causal the future).
static Tensor strided_mask(int64_t N, int64_t l, bool causal) {
    const int64_t T = (N + l - 1) / l;
    std::vector<bool> blocked(size_t(l * T * T));
    for (int64_t r = 0; r < l; ++r)
        for (int64_t t = 0; t < T; ++t)
            for (int64_t u = 0; u < T; ++u)
                blocked[size_t((r * T + t) * T + u)] = u == t || u * l + r >= N || (causal && u > t);
    return Tensor::from_bools(blocked, {l, T, T});
}

Tensor SparseStridedAttention::composed(const Tensor& q, const Tensor& k, const Tensor& v,
                                        const std::vector<SparseLayout>& L) const {
    const SparseLayout& local_layout = L[0];
    const int64_t B = q.size(0), H = q.size(1), N = q.size(2), D = q.size(3);
    const int64_t l = stride_for(N), T = (N + l - 1) / l, kb = local_layout.block_keys;
    // [B,H,N,D] -> [B,H,l,T,D]: row r is the subsequence r, r+l, r+2l, … (padded with zeros)
    auto by_residue = [&](const Tensor& x) {
        Tensor xp = T * l == N ? x : pad(x, {0, 0, 0, T * l - N});
        return reshape(xp, {B, H, T, l, D}).transpose(2, 3);
    };
    Tensor local = block_scores(q, k, local_layout);                                                 // [B,H,T,l,kb]
    Tensor strided = matmul(by_residue(q), by_residue(k).transpose(-2, -1)) * (1.f / std::sqrt(float(D)));
    strided = masked_fill(strided, strided_mask(N, l, causal), -INFINITY).transpose(2, 3);     // [B,H,T,l,T]
    Tensor p = softmax(concat({local, strided}, -1), -1);                                      // [B,H,T,l,kb+T]
    Tensor out = block_outputs(p.narrow(-1, 0, kb), v, local_layout) +                               // [B,H,T,l,D]
                 matmul(p.narrow(-1, kb, T).transpose(2, 3), by_residue(v)).transpose(2, 3);
    return reshape(out, {B, H, T * l, D}).narrow(2, 0, N);
}

}  // namespace attnlab::attention

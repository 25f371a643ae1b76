// bigbird.cpp — see bigbird.h. The pattern lives in allows(); layout() turns it into blocks
// of queries with the keys they need, rebuilt only when N or the random blocks change.
#include "attention/sparse/bigbird.h"

#include <algorithm>

namespace attnlab::attention {

static uint64_t seed_from(int64_t seed) {
    return seed >= 0 ? uint64_t(seed) : uint64_t(default_generator().randint(int64_t(1) << 62));
}

BigBirdAttention::BigBirdAttention(const Options& opts, const AttentionContext& ctx)
    : block(opts.get_int("block")),
      global_blocks(opts.get_int("global_blocks")),
      random_blocks(opts.get_int("random_blocks")),
      redraw(opts.get_bool("redraw")),
      gen_(seed_from(opts.get_int("seed"))) {
    causal = opts.get_bool("causal");
    check(block >= 1, "bigbird: block must be ≥ 1, got ", block);
    check(global_blocks >= 0, "bigbird: global_blocks must be ≥ 0, got ", global_blocks);
    check(random_blocks >= 0, "bigbird: random_blocks must be ≥ 0, got ", random_blocks);
    random_table = register_buffer("random_blocks", Tensor::zeros({0, random_blocks}, DType::Int64));
    if (ctx.seq_len > 0) draw_random_blocks((ctx.seq_len + block - 1) / block);
}

std::string BigBirdAttention::describe() const {
    return cat("BigBirdAttention(block=", block, ", global=", global_blocks, ", random=", random_blocks,
               causal ? ", causal)" : ")");
}

void BigBirdAttention::draw_random_blocks(int64_t nb) {
    const int64_t r = random_blocks;
    std::vector<int64_t> table(size_t(nb * r), -1);
    for (int64_t t = global_blocks; t < nb; ++t) {
        std::vector<int64_t> pool;  // blocks not already seen through the window or as globals
        for (int64_t s = global_blocks; s < nb; ++s)
            if ((s < t - 1 || s > t + 1) && (!causal || s < t)) pool.push_back(s);
        for (int64_t m = 0; m < std::min<int64_t>(r, int64_t(pool.size())); ++m) {  // partial Fisher–Yates
            std::swap(pool[size_t(m)], pool[size_t(m + gen_.randint(int64_t(pool.size()) - m))]);
            table[size_t(t * r + m)] = pool[size_t(m)];
        }
    }
    random_table = Tensor::from_indices(table, {nb, r});
    set_buffer("random_blocks", random_table);
}

bool BigBirdAttention::allows(int64_t i, int64_t j, const std::vector<int64_t>& table) const {
    if (causal && j > i) return false;
    const int64_t bi = i / block, bj = j / block;
    if (bi < global_blocks || bj < global_blocks || (bi - bj <= 1 && bj - bi <= 1)) return true;
    for (int64_t m = 0; m < random_blocks; ++m)
        if (table[size_t(bi * random_blocks + m)] == bj) return true;
    return false;
}

const SparseLayout& BigBirdAttention::layout(int64_t N) {
    const int64_t nb = (N + block - 1) / block, g = std::min(global_blocks, nb);
    if (random_table.size(0) != nb || (redraw && is_training())) draw_random_blocks(nb);
    std::vector<int64_t> table = random_table.to_indices();
    if (layout_.seq_len == N && layout_causal_ == causal && layout_table_ == table) return layout_;

    auto tokens_of = [&](int64_t blk, std::vector<int64_t>& out) {
        for (int64_t j = blk * block; j < std::min(N, (blk + 1) * block); ++j) out.push_back(j);
    };
    std::vector<int64_t> globals;
    for (int64_t s = 0; s < g; ++s) tokens_of(s, globals);
    std::vector<std::vector<int64_t>> queries, keys;
    for (int64_t t = g; t < nb; ++t) {
        std::vector<int64_t> qs, cand = globals;
        tokens_of(t, qs);
        for (int64_t s = std::max<int64_t>(0, t - 1); s <= std::min(nb - 1, t + 1); ++s) tokens_of(s, cand);
        for (int64_t m = 0; m < random_blocks; ++m)
            if (int64_t s = table[size_t(t * random_blocks + m)]; s >= 0) tokens_of(s, cand);
        queries.push_back(std::move(qs));
        keys.push_back(std::move(cand));
    }
    layout_ = make_sparse_layout(N, std::min(block, N), queries, keys, globals,
                                 [&](int64_t i, int64_t j) { return allows(i, j, table); });
    layout_causal_ = causal;
    layout_table_ = std::move(table);
    return layout_;
}

Tensor BigBirdAttention::blocked_mask(int64_t N) {
    const int64_t nb = (N + block - 1) / block;
    if (random_table.size(0) != nb) draw_random_blocks(nb);
    std::vector<int64_t> table = random_table.to_indices();
    return pattern_mask(N, [&](int64_t i, int64_t j) { return allows(i, j, table); });
}

Tensor BigBirdAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    check_qkv("bigbird attention", q, k, v);
    check(q.size(2) == k.size(2), "bigbird attention: self-attention only, got ", q.size(2), " queries and ",
          k.size(2), " keys");
    const SparseLayout& L = layout(q.size(2));
    return reference ? sparse_attention_reference(q, k, v, L) : sparse_attention(q, k, v, L);
}

}  // namespace attnlab::attention

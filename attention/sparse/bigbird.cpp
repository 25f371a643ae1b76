// bigbird.cpp — see bigbird.h. The pattern lives in allowed(); make_layouts() turns it into blocks
// of queries with the keys they need (sparse_pattern.h rebuilds them when N or R changes).
#include "attention/sparse/bigbird.h"

#include <algorithm>

namespace attnlab::attention {

BigBirdAttention::BigBirdAttention(const Options& opts, const AttentionContext& ctx)
    : SparsePatternAttention(opts, "bigbird"),
      block(opts.get_int("block")),
      global_blocks(opts.get_int("global_blocks")),
      random_blocks(opts.get_int("random_blocks")),
      redraw(opts.get_bool("redraw")),
      gen_(resolve_seed("bigbird", opts.get_int("seed"))) {
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

void BigBirdAttention::prepare(int64_t N) {
    const int64_t nb = (N + block - 1) / block;
    // Causal rows only name earlier blocks, so a prefix uses the first nb rows of a longer table
    // (the causal prefix contract: a prefix sees the blocks the whole sequence sees).
    const bool prefix = causal && random_table.size(0) > nb;
    if (random_table.size(0) != nb && !prefix) draw_random_blocks(nb);
    table_ = random_table.to_indices();  // (also picks up a buffer loaded from a checkpoint)
    table_.resize(size_t(nb * random_blocks));
}

bool BigBirdAttention::allowed(int64_t i, int64_t j, int64_t) const {
    if (causal && j > i) return false;
    const int64_t bi = i / block, bj = j / block;
    if (bi < global_blocks || bj < global_blocks || (bi - bj <= 1 && bj - bi <= 1)) return true;
    for (int64_t m = 0; m < random_blocks; ++m)
        if (table_[size_t(bi * random_blocks + m)] == bj) return true;
    return false;
}

std::vector<SparseLayout> BigBirdAttention::make_layouts(int64_t N) const {
    // A query block of `group` consecutive blocks fills the kernel's vector width (block_sparse.h's
    // padded_slots) when b is smaller: 16 queries of 2 blocks of 8 share their window's keys.
    return {blocked_layout(N, std::max<int64_t>(1, padded_slots(block) / block))};
}

// The fused op's: one query block per block, its keys along the vector lanes (use_key_lanes), so
// each query scores only the (3 + g + r)·b keys it may see (grouped, 16 queries scored the union
// of two blocks' keys: 72 per query for 48 at b = 8).
std::vector<SparseLayout> BigBirdAttention::make_fused_layouts(int64_t N) const {
    SparseLayout L = blocked_layout(N, 1);
    use_key_lanes(L);
    return {std::move(L)};
}

SparseLayout BigBirdAttention::blocked_layout(int64_t N, int64_t group) const {
    const int64_t nb = (N + block - 1) / block, g = std::min(global_blocks, nb);
    auto tokens_of = [&](int64_t blk, std::vector<int64_t>& out) {
        for (int64_t j = blk * block; j < std::min(N, (blk + 1) * block); ++j) out.push_back(j);
    };
    std::vector<int64_t> globals;
    for (int64_t s = 0; s < g; ++s) tokens_of(s, globals);
    std::vector<std::vector<int64_t>> queries, keys;
    for (int64_t t0 = g; t0 < nb; t0 += group) {
        std::vector<int64_t> qs, cand = globals;
        const int64_t t1 = std::min(nb, t0 + group);  // blocks t0 … t1 − 1
        for (int64_t t = t0; t < t1; ++t) tokens_of(t, qs);
        for (int64_t s = std::max<int64_t>(0, t0 - 1); s <= std::min(nb - 1, t1); ++s) tokens_of(s, cand);
        for (int64_t t = t0; t < t1; ++t)
            for (int64_t m = 0; m < random_blocks; ++m)
                if (int64_t s = table_[size_t(t * random_blocks + m)]; s >= 0) tokens_of(s, cand);
        queries.push_back(std::move(qs));
        keys.push_back(std::move(cand));
    }
    return make_sparse_layout(N, std::min(group * block, N), queries, keys, globals, pattern(N));
}

Tensor BigBirdAttention::forward(const Tensor& q, const Tensor& k, const Tensor& v) {
    if (redraw && is_training() && q.dim() == 4) draw_random_blocks((q.size(2) + block - 1) / block);
    return SparsePatternAttention::forward(q, k, v);
}

}  // namespace attnlab::attention

// block_sparse.cpp — see block_sparse.h.
#include "attention/sparse/block_sparse.h"

#include <algorithm>
#include <cmath>

#include "core/kernels/small_gemm.h"
#include "core/ops/ops.h"

namespace attnlab::attention {

int64_t padded_slots(int64_t n) { return (n + small::kLanes - 1) / small::kLanes * small::kLanes; }

// mask [blocks, rows, cols] (true = blocked) -> [blocks, cols, padded_slots(rows)] additive
// scores, 0 = allowed, −inf = blocked (and the padding slots); open[b·cols + c] = 1 when
// column c of block b is allowed in every row.
static std::vector<float> transposed_mask(const std::vector<bool>& mask, int64_t blocks, int64_t rows, int64_t cols,
                                          std::vector<uint8_t>& open) {
    const int64_t np = padded_slots(rows);
    std::vector<float> t(size_t(blocks * cols * np), -INFINITY);
    open.assign(size_t(blocks * cols), 1);
    for (int64_t b = 0; b < blocks; ++b)
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c) {
                if (mask[size_t((b * rows + r) * cols + c)]) open[size_t(b * cols + c)] = 0;
                else t[size_t((b * cols + c) * np + r)] = 0.f;
            }
    return t;
}

// Sorted rows as runs of evenly spaced tokens, greedily: a run takes the step of its first two
// rows and goes on while the step holds. None (gathered) when that makes more than
// kMaxKeyRuns runs: each run costs the kernel a few more small products.
static std::vector<KeyRun> key_runs_of(const std::vector<int64_t>& rows) {
    std::vector<KeyRun> runs;
    for (size_t c = 0; c < rows.size();) {
        const int64_t step = c + 1 < rows.size() ? rows[c + 1] - rows[c] : 1;
        size_t e = c + 1;
        while (e < rows.size() && rows[e] - rows[e - 1] == step) ++e;
        runs.push_back(KeyRun{int64_t(c), rows[c], int64_t(e - c), step});
        if (int64_t(runs.size()) > kMaxKeyRuns) return {};
        c = e;
    }
    return runs;
}

// One block's keys: the candidates (sorted, unique) that at least one of its queries qs may
// see, and which query sees which, row-major [queries, kept keys].
struct BlockKeys {
    std::vector<int64_t> keys;
    std::vector<bool> sees;
};
static BlockKeys visible_keys(int64_t N, const std::vector<int64_t>& qs, std::vector<int64_t> cand,
                              const Pattern& allowed) {
    std::sort(cand.begin(), cand.end());
    cand.erase(std::unique(cand.begin(), cand.end()), cand.end());
    BlockKeys bk;
    std::vector<bool> seen;  // [kept keys, queries] while filtering
    for (int64_t j : cand) {
        check(j >= 0 && j < N, "make_sparse_layout: key ", j, " out of range for N = ", N);
        bool any = false;
        size_t start = seen.size();
        for (int64_t i : qs) {
            bool a = allowed(i, j);
            seen.push_back(a);
            any = any || a;
        }
        if (any) bk.keys.push_back(j);
        else seen.resize(start);
    }
    const size_t nk = bk.keys.size(), nq = qs.size();  // transpose to [queries, kept keys]
    bk.sees.resize(nq * nk);
    for (size_t c = 0; c < nk; ++c)
        for (size_t r = 0; r < nq; ++r) bk.sees[r * nk + c] = seen[c * nq + r];
    return bk;
}

// The block tables of L (query and key rows, their runs, the mask) from every block's queries and
// visible keys; out[i] = the slot of query i.
static void fill_blocks(SparseLayout& L, const std::vector<std::vector<int64_t>>& query_blocks,
                        const std::vector<BlockKeys>& blocks, std::vector<int64_t>& out) {
    const int64_t N = L.seq_len, nb = L.blocks, bs = L.block_size, kb = L.block_keys;
    std::vector<int64_t> qi(size_t(nb * bs), 0), ki(size_t(nb * kb), 0);
    std::vector<bool> mask(size_t(nb * bs * kb), true);
    for (int64_t b = 0; b < nb; ++b) {
        const std::vector<int64_t>& qs = query_blocks[size_t(b)];
        const std::vector<int64_t>& ks = blocks[size_t(b)].keys;
        for (size_t c = 0; c < ks.size(); ++c) ki[size_t(b * kb) + c] = ks[c];
        L.key_count.push_back(int64_t(ks.size()));
        const std::vector<KeyRun> runs = key_runs_of(ks);
        L.key_runs.insert(L.key_runs.end(), runs.begin(), runs.end());
        L.run_offset.push_back(int64_t(L.key_runs.size()));
        for (size_t r = 0; r < qs.size(); ++r) {
            int64_t i = qs[r], slot = b * bs + int64_t(r);
            check(i >= 0 && i < N && out[size_t(i)] < 0, "make_sparse_layout: query ", i,
                  " out of range or in two blocks (N = ", N, ")");
            qi[size_t(slot)] = i;
            out[size_t(i)] = slot;
            for (size_t c = 0; c < ks.size(); ++c)
                mask[size_t(slot * kb) + c] = !blocks[size_t(b)].sees[r * ks.size() + c];
        }
    }
    L.query_index = Tensor::from_indices(qi, {nb * bs});
    L.key_index = Tensor::from_indices(ki, {nb * kb});
    L.block_mask = Tensor::from_bools(mask, {nb, bs, kb});
    L.query_rows = qi, L.key_rows = ki;
    L.mask_t = transposed_mask(mask, nb, bs, kb, L.open_keys);
}

// The dense query rows of L (each over all N keys); a dense row overrides its token's block slot in out.
static void fill_dense_rows(SparseLayout& L, const std::vector<int64_t>& dense_queries, const Pattern& allowed,
                            std::vector<int64_t>& out) {
    const int64_t N = L.seq_len, G = int64_t(dense_queries.size());
    std::vector<bool> dmask(size_t(G * N));
    for (int64_t g = 0; g < G; ++g) {
        int64_t i = dense_queries[size_t(g)];
        check(i >= 0 && i < N, "make_sparse_layout: dense query ", i, " out of range for N = ", N);
        out[size_t(i)] = L.blocks * L.block_size + g;
        for (int64_t j = 0; j < N; ++j) dmask[size_t(g * N + j)] = !allowed(i, j);
    }
    L.dense_index = Tensor::from_indices(dense_queries, {G});
    L.dense_mask = Tensor::from_bools(dmask, {G, N});
    L.dense_rows = dense_queries;
    L.dense_mask_t = transposed_mask(dmask, 1, G, N, L.dense_open_keys);
}

SparseLayout make_sparse_layout(int64_t N, int64_t block_size, const std::vector<std::vector<int64_t>>& query_blocks,
                                const std::vector<std::vector<int64_t>>& key_candidates,
                                const std::vector<int64_t>& dense_queries, const Pattern& allowed) {
    check(query_blocks.size() == key_candidates.size(), "make_sparse_layout: ", query_blocks.size(),
          " query blocks but ", key_candidates.size(), " key lists");
    const int64_t nb = int64_t(query_blocks.size()), bs = block_size;
    std::vector<BlockKeys> blocks;
    int64_t kb = 1;
    for (int64_t b = 0; b < nb; ++b) {
        const std::vector<int64_t>& qs = query_blocks[size_t(b)];
        check(int64_t(qs.size()) <= bs, "make_sparse_layout: block ", b, " has ", qs.size(),
              " queries, more than the block size ", bs);
        blocks.push_back(visible_keys(N, qs, key_candidates[size_t(b)], allowed));
        kb = std::max<int64_t>(kb, int64_t(blocks.back().keys.size()));
    }

    SparseLayout L;
    L.run_offset.push_back(0);
    L.seq_len = N, L.blocks = nb, L.block_size = bs, L.block_keys = kb;
    std::vector<int64_t> out(size_t(N), -1);  // the slot of each token's output row
    fill_blocks(L, query_blocks, blocks, out);
    const int64_t G = int64_t(dense_queries.size());
    if (G > 0) fill_dense_rows(L, dense_queries, allowed, out);
    for (int64_t i = 0; i < N; ++i) check(out[size_t(i)] >= 0, "make_sparse_layout: token ", i, " is in no query block");
    L.out_index = Tensor::from_indices(out, {N});
    L.out_rows = out;
    L.live.resize(size_t(nb * bs + G));
    for (int64_t slot = 0; slot < nb * bs; ++slot) L.live[size_t(slot)] = out[size_t(L.query_rows[size_t(slot)])] == slot;
    for (int64_t g = 0; g < G; ++g) L.live[size_t(nb * bs + g)] = out[size_t(dense_queries[size_t(g)])] == nb * bs + g;
    return L;
}

void use_key_lanes(SparseLayout& L) {
    const int64_t bs = L.block_size, kb = L.block_keys, np = padded_slots(bs), kp = padded_slots(kb);
    L.mask_r.assign(size_t(L.blocks * bs * kp), -INFINITY);
    for (int64_t b = 0; b < L.blocks; ++b)
        for (int64_t r = 0; r < bs; ++r)
            for (int64_t c = 0; c < kb; ++c)
                L.mask_r[size_t((b * bs + r) * kp + c)] = L.mask_t[size_t((b * kb + c) * np + r)];
    L.lane_runs.clear();
    L.lane_run_offset.assign(1, 0);
    for (int64_t b = 0; b < L.blocks; ++b) {
        const int64_t* keys = L.key_rows.data() + b * kb;
        for (int64_t c = 0, n = L.key_count[size_t(b)]; c < n;) {
            int64_t e = c + 1;
            while (e < n && keys[e] == keys[e - 1] + 1) ++e;
            L.lane_runs.push_back(KeyRun{c, keys[c], e - c, 1});
            c = e;
        }
        L.lane_run_offset.push_back(int64_t(L.lane_runs.size()));
    }
    const int64_t G = int64_t(L.dense_rows.size()), N = L.seq_len, gp = padded_slots(G), Np = padded_slots(N);
    L.dense_mask_r.assign(size_t(G * Np), -INFINITY);
    for (int64_t r = 0; r < G; ++r)
        for (int64_t j = 0; j < N; ++j) L.dense_mask_r[size_t(r * Np + j)] = L.dense_mask_t[size_t(j * gp + r)];
    L.dense_runs.assign(G > 0 ? 1 : 0, KeyRun{0, 0, N, 1});
}

static void check_layout(const char* who, const Tensor& q, const Tensor& k, const SparseLayout& L) {
    check(q.size(2) == L.seq_len && k.size(2) == L.seq_len, who, ": layout built for N = ", L.seq_len,
          ", got ", q.size(2), " queries and ", k.size(2), " keys");
}

Tensor block_scores(const Tensor& q, const Tensor& k, const SparseLayout& L) {
    check_layout("block_scores", q, k, L);
    const int64_t B = q.size(0), H = q.size(1), D = q.size(3);
    Tensor qb = index_select(q, 2, L.query_index).view({B, H, L.blocks, L.block_size, D});
    Tensor kb = index_select(k, 2, L.key_index).view({B, H, L.blocks, L.block_keys, D});
    Tensor s = matmul(qb, kb.transpose(-2, -1)) * (1.f / std::sqrt(float(D)));  // [B,H,nb,bs,kb]
    return masked_fill(s, L.block_mask, -INFINITY);
}

Tensor block_outputs(const Tensor& probs, const Tensor& v, const SparseLayout& L) {
    const int64_t B = v.size(0), H = v.size(1), D = v.size(3);
    Tensor vb = index_select(v, 2, L.key_index).view({B, H, L.blocks, L.block_keys, D});
    return matmul(probs, vb);  // [B,H,nb,bs,D]
}

Tensor sparse_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const SparseLayout& L) {
    const int64_t B = q.size(0), H = q.size(1), D = q.size(3);
    Tensor out = block_outputs(softmax(block_scores(q, k, L), -1), v, L).view({B, H, L.blocks * L.block_size, D});
    if (L.dense_index.defined()) {
        Tensor qd = index_select(q, 2, L.dense_index);                                    // [B,H,G,D]
        Tensor s = matmul(qd, k.transpose(-2, -1)) * (1.f / std::sqrt(float(D)));       // [B,H,G,N]
        Tensor od = matmul(softmax(masked_fill(s, L.dense_mask, -INFINITY), -1), v);    // [B,H,G,D]
        out = concat({out, od}, 2);
    }
    return index_select(out, 2, L.out_index);  // back to token order [B,H,N,D]
}

int64_t ceil_sqrt(int64_t n) {
    int64_t r = int64_t(std::sqrt(double(n)));
    while (r * r < n) ++r;
    while (r > 0 && (r - 1) * (r - 1) >= n) --r;
    return r;
}

Tensor pattern_mask(int64_t N, const Pattern& allowed) {
    std::vector<bool> blocked(size_t(N * N));
    for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) blocked[size_t(i * N + j)] = !allowed(i, j);
    return Tensor::from_bools(blocked, {N, N});
}

}  // namespace attnlab::attention

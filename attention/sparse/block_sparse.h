// block_sparse.h — exact softmax attention restricted to a sparsity pattern, computed
// block by block without ever forming the N×N matrix. Shared by longformer, bigbird,
// sparse_strided and sparse_fixed (through sparse_pattern.h: each only states its pattern and
// its blocks) and by reformer (per-head blocks).
//
// A pattern is a predicate allowed(i, j): query i may attend to key j. The result is
//   out_i = Σ_{j : allowed(i,j)} softmax_j(q_i·k_j / √D) v_j      (no allowed key: out_i = 0)
// exactly, i.e. what masked_softmax_attention gives with the pattern as its mask.
//
// A SparseLayout groups the queries into nb blocks of bs slots and gives every block the
// kb keys its queries may see (the union of their rows; each key once):
//   Qb = Q[query_index]                     [B,H,nb,bs,D]
//   Kb = K[key_index], Vb = V[key_index]    [B,H,nb,kb,D]
//   S  = Qb Kbᵀ/√D, -inf where block_mask   [B,H,nb,bs,kb]   (pattern, padding, duplicates)
//   Ob = softmax(S) Vb                      [B,H,nb,bs,D]
// A few queries that see (almost) every key — global tokens — would make kb = N, so they
// are "dense rows" instead: Od = softmax(Q[dense] Kᵀ/√D, -inf where dense_mask) V  [B,H,G,D].
// Finally out_i = row out_index[i] of [Ob flattened over (nb, bs); Od].
// Time O(B·H·(nb·bs·kb + G·N)·D).
//
// Two implementations, held equal by tests:
//  - sparse_attention: one fused op (block_sparse_kernel.cpp; its key-lanes blocks in
//    block_sparse_key_lanes.cpp) that walks the blocks of one or more layouts with an online
//    softmax per query (as the fused softmax kernel walks key tiles), gathering a block's
//    queries into per-thread scratch (its keys, runs of evenly spaced tokens, are read in
//    place) and holding its scores transposed, [keys, query slots padded to the vector
//    width], so that masking and softmax run as vector loops along the queries (or, after
//    use_key_lanes, [query slots, keys padded to the vector width], for blocks of few
//    queries); the backward recomputes the block scores from the saved row log-sum-exp.
//    Memory O(B·H·N·D) (output, gradients) plus O(B·H·N) saved; the block scores live only
//    in scratch. Several layouts share one softmax row (their allowed keys must not overlap):
//    sparse_strided's local + strided parts.
//  - sparse_attention_reference: the readable composition of differentiable ops (index_select,
//    matmul, masked_fill, softmax, concat); memory O(B·H·(nb·bs·kb + G·N)) for the scores plus
//    O(B·H·nb·(bs + 2kb)·D) for the gathered rows.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/tensor/tensor.h"

namespace attnlab::attention {

// allowed(i, j): query i may attend to key j. Only called while building a layout
// (once per sequence length) and by pattern_mask, never in forward.
using Pattern = std::function<bool(int64_t i, int64_t j)>;

// Key slots slot … slot + count − 1 of a block hold the tokens first, first + step, … (step ≥ 1).
struct KeyRun {
    int64_t slot, first, count, step;
};
// A block whose keys need more runs than this is gathered instead: a window and the global
// tokens (longformer) or one strided run (sparse_strided) are read in place; bigbird's window,
// global and random blocks measured faster gathered into one product than as 5–6 short ones
// in the transposed tiles (its key-lanes blocks read them as runs: lane_runs below).
constexpr int64_t kMaxKeyRuns = 2;

struct SparseLayout {
    int64_t seq_len = 0;     // N
    int64_t blocks = 0;      // nb
    int64_t block_size = 0;  // bs query slots per block
    int64_t block_keys = 0;  // kb key slots per block
    Tensor query_index;      // Int64 [nb·bs]; padding slots point at token 0 (and see no key)
    Tensor key_index;        // Int64 [nb·kb]; padding slots point at token 0 (blocked)
    Tensor block_mask;       // Bool [nb, bs, kb], true = blocked
    Tensor dense_index;      // Int64 [G] queries computed as dense rows (undefined when G = 0)
    Tensor dense_mask;       // Bool [G, N], true = blocked
    Tensor out_index;        // Int64 [N]: row of [Ob; Od] holding token i's output
    // The same as host vectors, for the fused op: query_index, key_index, dense_index, out_index,
    // and the masks transposed to the kernel's tiles (keys × query slots padded to the vector
    // width, padding slots blocked) as additive scores, 0 = allowed and −inf = blocked:
    // block_mask as [nb, kb, padded_slots(bs)], dense_mask as [N, padded_slots(G)].
    std::vector<int64_t> query_rows, key_rows, dense_rows, out_rows;
    std::vector<float> mask_t, dense_mask_t;
    // [nb·kb], [N]: 1 where a key slot is allowed for every query slot of its block (the kernel
    // then skips its mask row).
    std::vector<uint8_t> open_keys, dense_open_keys;
    // [nb]: the keys block b really has (the rest of its kb slots are padding).
    std::vector<int64_t> key_count;
    // Block b's keys as runs of evenly spaced tokens, key_runs[run_offset[b] .. run_offset[b+1]):
    // the kernel reads and updates them in place instead of gathering them (a window's keys are
    // one contiguous run, with the global tokens one more). No runs: the keys are gathered.
    std::vector<KeyRun> key_runs;
    std::vector<int64_t> run_offset;  // [nb + 1], run_offset[0] = 0
    std::vector<uint8_t> live;  // [nb·bs + G]: 1 where the slot's output is its token's (out_index)
    // Set by use_key_lanes: the kernel then holds each block's scores with the keys, not the
    // query slots, along the vector lanes, [bs, padded_slots(kb)], for blocks of a few queries
    // that see many keys (bigbird's 8 queries and 48 keys: as a 16-slot tile two such blocks
    // shared one, and each query scored the other block's keys too). mask_r is block_mask as
    // additive scores in that shape, 0 = allowed and −inf = blocked (and the padding keys).
    std::vector<float> mask_r;
    // Also set by use_key_lanes: block b's keys as runs of consecutive tokens (step 1, as many as
    // it takes), lane_runs[lane_run_offset[b] .. lane_run_offset[b + 1]). The kernel reads their
    // rows in place (P Vb, dQb, and dKb, dVb added in place) and builds the block's Kbᵀ, Vbᵀ from
    // one transposed copy of the head, made once per head, instead of gathering and transposing
    // the block's rows (bigbird: 5 runs, the global block, the window and 2 random blocks).
    std::vector<KeyRun> lane_runs;
    std::vector<int64_t> lane_run_offset;  // [nb + 1]
    // And the dense rows the same way: dense_mask as additive scores [G, padded_slots(N)] (0 =
    // allowed, −inf = blocked and the padding keys), the keys one run of all N tokens. (The kernel
    // keeps its row-by-row path for G ≤ 4.)
    std::vector<float> dense_mask_r;
    std::vector<KeyRun> dense_runs;
};

// Makes the fused kernel compute L's blocks with the keys along the vector lanes (mask_r above).
void use_key_lanes(SparseLayout& L);

// n query slots rounded up to the vector width (small_gemm.h's kLanes): the width of the fused
// kernel's score tiles, which hold a block's scores transposed, [keys, padded slots].
int64_t padded_slots(int64_t n);

// Blocks that differ from head to head (reformer's hash buckets), for the fused op: heads[b·H + h]
// holds equally sized blocks of nq query rows against nk key rows, with a mask and an additive
// score bias. A query may sit in several blocks (one online softmax merges them); a (query,
// key) pair found in c of its blocks must carry the bias −log c there to count once.
struct HeadBlocks {
    int64_t nq = 0, nk = 0;              // query and key slots per block
    std::vector<int64_t> queries, keys;  // [blocks·nq], [blocks·nk] token rows (all valid rows)
    std::vector<uint8_t> live;           // [blocks·nq] 1 = a real query slot, 0 = padding
    std::vector<uint8_t> blocked;        // [blocks·nq·nk] 1 = the pair is not attended
    std::vector<float> bias;             // [blocks·nq·nk] added to the scaled scores
};

// query_blocks[b]: the queries of block b (at most block_size of them); key_candidates[b]: a
// superset of the keys they may see (duplicates are fine; keys no query of the block may see
// are dropped). Every token must be in exactly one query block or in dense_queries.
SparseLayout make_sparse_layout(int64_t N, int64_t block_size, const std::vector<std::vector<int64_t>>& query_blocks,
                                const std::vector<std::vector<int64_t>>& key_candidates,
                                const std::vector<int64_t>& dense_queries, const Pattern& allowed);

// q, k, v [B,H,N,D] -> [B,H,N,D], softmax attention restricted to the layout's pattern (fused op).
Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const SparseLayout& layout);
// The same over the union of several layouts' patterns, which must not share a (query, key) pair.
Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v, const std::vector<const SparseLayout*>& layouts);
// The same over layouts the caller keeps (no copy; the op holds them until its backward).
Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                        std::shared_ptr<const std::vector<SparseLayout>> layouts);
// The same over per-head blocks ([B·H] of them).
Tensor sparse_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                        std::shared_ptr<const std::vector<HeadBlocks>> heads);
// The composed reference of sparse_attention(q, k, v, layout).
Tensor sparse_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const SparseLayout& layout);

// The two halves of the block part, for variants that add their own score columns to the
// same softmax (sparse_strided): masked scores [B,H,nb,bs,kb], and probs [B,H,nb,bs,kb] -> [B,H,nb,bs,D].
Tensor block_scores(const Tensor& q, const Tensor& k, const SparseLayout& layout);
Tensor block_outputs(const Tensor& probs, const Tensor& v, const SparseLayout& layout);

// ⌈√n⌉, the default stride of the Sparse Transformer patterns.
int64_t ceil_sqrt(int64_t n);

// The pattern as a dense Bool [N, N] mask, true = blocked (what masked_softmax_attention
// takes). O(N²): for tests and pictures only.
Tensor pattern_mask(int64_t N, const Pattern& allowed);

}  // namespace attnlab::attention

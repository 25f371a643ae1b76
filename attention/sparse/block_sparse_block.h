// block_sparse_block.h — what the two halves of the fused sparse_attention op share
// (block_sparse_kernel.cpp: blocks with the keys along the rows, the dense rows, the op itself;
// block_sparse_key_lanes.cpp: blocks with the keys along the vector lanes): one block of queries
// against keys, the per-thread scratch, and the small helpers both use. Internal to attention/sparse/.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "attention/head_rows.h"
#include "attention/sparse/block_sparse.h"
#include "core/kernels/small_gemm.h"

namespace attnlab::attention::block_sparse {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// One block: nq queries (token rows) against nk keys (token rows; null = 0..nk−1). Its mask
// (and bias) come as one additive score tile, transposed: [nk, padded(nq)], −inf where blocked
// (and in the padding slots), else 0 or the bias.
struct Block {
    const int64_t* queries;
    int64_t nq;
    const int64_t* keys;
    int64_t nk;
    const float* mask_t;  // [nk, np] added to the scaled scores
    const uint8_t* live;  // [nq], 1 = the slot's output counts
    const uint8_t* open;  // [nk], 1 = the key is allowed in every query slot: its mask row is
                          // skipped (padding slots then keep finite scores, never read); or null
    const KeyRun* runs = nullptr;  // the keys as runs of evenly spaced tokens, read and updated in
    int64_t n_runs = 0;            // place; none: gathered
    const float* mask_r = nullptr;  // set: keys along the lanes (use_key_lanes), mask [nq, mask_ld]
    int64_t mask_ld = 0;
    const KeyRun* lane_runs = nullptr;  // with mask_r: the keys as runs of consecutive tokens
    int64_t n_lane_runs = 0;
    const KeyRun* next_runs = nullptr;  // and those of a block ahead (prefetched while this one runs)
    int64_t n_next_runs = 0;
};

// Query slots rounded up to the vector width: the scores are kept transposed, Sᵀ = s·Kb Qbᵀ
// [nk, np], so that the products, the masking and the softmax all run along the (padded)
// queries with full vectors, and only the few queries, not the many keys, are transposed.
// Query r's scores are column r; padding columns come from zero queries and are never written back.
inline int64_t padded(int64_t nq) { return padded_slots(nq); }

// rows [n, D] <- the given token rows of a head.
inline void gather(const HeadRows& X, int64_t bh, const int64_t* rows, int64_t n, int64_t D, float* out) {
    const float* head = X.at(bh, 0);
    for (int64_t r = 0; r < n; ++r) {
        const float* x = head + (rows ? rows[r] : r) * X.row;
        int64_t d = 0;  // (vector copies: std::copy was a memmove call per row, 7 % of bigbird's time)
        for (; d + small::kLanes <= D; d += small::kLanes) small::store_vec(out + r * D + d, small::load_vec(x + d));
        for (; d < D; ++d) out[r * D + d] = x[d];
    }
}

// Rows slot … slot + count − 1 of a block's Xb, the first at x, one every ld floats.
struct RowRun {
    const float* x;
    int64_t ld, slot, count;
};

struct Scratch {
    std::vector<float> qb, qt, kb, vb, S, pv, dob, dot, dS, dqb, dkb, dvb, delta;
    std::vector<float> m_old, m_new, shift, sum;  // per query slot of a block
    std::vector<float> m, l;                      // per token of the head
    std::vector<RowRun> kr, vr;                   // the block's key and value rows
    // Key-lanes blocks: K and V of head kt_bh / vt_bh as transposed chunks (head_chunks_t), and N.
    std::vector<float> kt_head, vt_head;
    int64_t kt_bh = -1, vt_bh = -1, n = 0;
    std::vector<const float*> chunks;  // a key-lanes block's keys as chunks of such a head
};

inline bool is_live(const Block& blk, int64_t r) { return blk.live[r] != 0; }

// np is a multiple of kLanes, and saying so (lanes(np)) lets GCC drop the scalar tail of the
// loops along the padded slots. The mask is float, not bytes: a byte operand makes GCC take 64 slots per step,
// and the usual np = 16 or 32 then ran in the scalar tail.
inline int64_t lanes(int64_t np) {
    if (np % small::kLanes != 0) __builtin_unreachable();
    return np;
}

// ---- the key-lanes path (block_sparse_key_lanes.cpp), for blocks with Block::mask_r set ----

// The block's online-softmax update of the output rows O (its m_i, l_i in w.m, w.l).
void forward_key_lanes_block(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                             const HeadRows& O, int64_t bh, int64_t D, float scale, Scratch& w);
// Its backward: adds the block's share of dQ, dK, dV.
void backward_key_lanes_block(const Block& blk, const HeadRows& Q, const HeadRows& K, const HeadRows& V,
                              const HeadRows& dO, const float* lse, const float* delta, const HeadRows& dQ,
                              const HeadRows& dK, const HeadRows& dV, int64_t bh, int64_t D, float scale,
                              Scratch& w);

}  // namespace attnlab::attention::block_sparse

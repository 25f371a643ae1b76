// reformer_kernel.h — the hash rounds of one head (who attends to whom in Reformer's LSH
// attention, reformer.h) and the fused op that attends over them.
//
// LshRounds: per round r the tokens sorted by (bucket, position) (a stable counting sort),
// every token's sorted position, its place (bucket and chunk in one number) and whether it is
// alone (no other token of its bucket in its chunk or the previous one, so it attends to itself). Query i attends to key j
// in round r when
//   j = i:  i is alone in round r;     j ≠ i:  h_r(i) = h_r(j) and chunk_r(j) ∈ {chunk_r(i), chunk_r(i) − 1}
// and c_ij = #rounds in which it does. Integer work only: O(n_h·N) time and memory per head.
//
// lsh_chunk_attention(q, v, hashes): for every head, round and chunk of m sorted positions,
// the chunk's queries against the keys of its own and the previous chunk, one online softmax
// per query over all rounds (which is the rounds combined by their logsumexp, reformer.h):
//   k_j = q_j / √(‖q_j‖² + 10⁻¹²)    (shared QK, computed inside the op)
//   S_ij = q_i·k_j / √D − log c_ij  where i attends to j in the round, −∞ elsewhere
//   out_i = Σ_j e^(S_ij − L_i) v_j over every round's chunk,  L_i = logsumexp_j S_ij (saved)
// Each head's rounds are sorted from the buckets, and the mask and the bias recomputed from
// them per chunk: never stored. Forward per
// head and round: gather Q, V in sorted order (K = r·Q made from the gathered rows), then per
// chunk Sᵀ = K Qᵀ/√D [≤2m, ≤m] (small GEMM), P V, and the online update of the tokens' rows
// in a head-local [N, D] sum, written to out once. Backward recomputes S from q, v, the
// buckets and L, as the fused softmax kernel does: P = e^(S − L), Δ_i = dO_i·O_i,
// dS = P ∘ (dO Vᵀ − Δ), dQ = dS K/√D, dK = dSᵀ Q/√D, dV = Pᵀ dO; then, per round in sorted
// order, dq += dK through the normalization: r (dK − (k·dK) k), r = (‖q‖² + 10⁻¹²)^(−½); the
// rounds summed in head-local [N, D] buffers, and every gradient row written once.
// Time O(n_h·N·2m·D + n_h²·N·2m) per head; memory saved: out and L [B,H,N] besides q and v
// (and the buckets [B,H,n_h,N] int32 when they cannot be found again, LshHashes::rehash unset).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "core/tensor/tensor.h"

namespace attnlab::attention {

struct LshRounds {
    int64_t nh = 0, N = 0, m = 0;
    std::vector<int32_t> order;   // [nh, N]: the token at sorted position p of round r
    std::vector<int32_t> pos;     // [nh, N]: the sorted position of token i in round r
    // [N, nh], token-major (c_ij reads every round of i and j): numbers that grow along the
    // sorted order by 1 where the chunk changes within a bucket and by 2 where the bucket changes,
    // so that j shares i's bucket and sits in i's chunk or the one before iff
    // place_i − place_j ∈ {0, 1}. At most 2N: int32.
    std::vector<int32_t> place;
    std::vector<uint8_t> alone;   // [N, nh]: i attends only to itself in round r

    LshRounds() = default;
    // bucket: [nh, N] buckets of one head in 0..nbuckets−1; m: the chunk length (≤ N).
    LshRounds(const int32_t* bucket, int64_t nh, int64_t N, int64_t m, int64_t nbuckets);

    bool attends(int64_t r, int64_t i, int64_t j) const {  // query i attends to key j in round r
        if (i == j) return alone[size_t(i * nh + r)];
        return near(place[size_t(i * nh + r)], place[size_t(j * nh + r)]);
    }
    static bool near(int32_t place_i, int32_t place_j) { return uint32_t(place_i - place_j) <= 1u; }
    int64_t count(int64_t i, int64_t j) const {  // c_ij
        int64_t c = 0;
        for (int64_t r = 0; r < nh; ++r) c += attends(r, i, j);
        return c;
    }
};

// The buckets of every head and round, all the op keeps: each head's rounds are sorted again
// from them, in forward and in backward (O(n_h·N) per head, against O(n_h·N·2m·D) of attention).
struct LshHashes {
    std::vector<int32_t> bucket;  // [B·H, nh, N] in 0 … buckets − 1
    int64_t nh = 1, buckets = 1, m = 1;
    // Set: the buckets of head bh ([nh, N] into out), the same bits as `bucket` would hold, found
    // when needed: `bucket` may then be empty, and the op keeps none for its backward, which
    // hashes each head again (one product of [N, D] by [D, n_h·b/2] per head, against
    // [B,H,n_h,N] int32 kept per layer).
    std::function<void(int64_t bh, int32_t* out)> rehash;
};

// q, v [B,H,N,D] and their hashes -> [B,H,N,D]: Reformer's LSH attention with shared QK (the
// fused op; reformer.cpp's composed path is its reference). Differentiable in q and v.
Tensor lsh_chunk_attention(const Tensor& q, const Tensor& v, std::shared_ptr<const LshHashes> hashes);

// The same on the packed qkv projection [B, N, 3·heads·D] (laid out [B, N, 3, heads, D]; q, v
// its strided views, see split_packed_qkv in head_rows.h), as Attention::forward_packed receives
// it: the backward writes one gradient of qkv's shape (its k slice zero, since k is unused)
// instead of the engine's zero-filled [B, N, 3C] per view and their sum.
Tensor lsh_chunk_attention_packed(const Tensor& qkv, int64_t heads, std::shared_ptr<const LshHashes> hashes);

}  // namespace attnlab::attention

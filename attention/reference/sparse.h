// sparse.h — dense O(N²) references of the sparse variants, for tests.
//
//   blocked_i,j = !allowed(i, j)        (the variant's own pattern, sparse_pattern.h)
//   out = softmax(QKᵀ/√D, −inf where blocked) V            (a row with no key: 0)
// reformer: allowed_i,j = ∪_r A_i^(r), recomputed here from the variant's hash buckets in
// plain loops — per round r, tokens sorted by (bucket, position) and cut into chunks of m;
// i sees the j ≠ i of its bucket in its own chunk or the one before, and itself only when
// there is no such j — and keys are the unit queries q/‖q‖ (shared QK).
// Time O(N²·D), memory O(N²) per head.
#pragma once
#include "attention/hashing/reformer.h"
#include "attention/sparse/sparse_pattern.h"

namespace attnlab::attention {

// The pattern for N tokens as a Bool [N, N] mask, true = blocked (calls attn.prepare(N)).
Tensor dense_blocked(SparsePatternAttention& attn, int64_t N);
// q, k, v [B,H,N,D] -> [B,H,N,D].
Tensor dense_sparse(SparsePatternAttention& attn, const Tensor& q, const Tensor& k, const Tensor& v);

// The pairs the reformer attends for these queries with its current rotations: Bool [B,H,N,N],
// true = blocked.
Tensor dense_reformer_blocked(ReformerAttention& attn, const Tensor& q);
// q, v [B,H,N,D] -> [B,H,N,D] (the k input of the reformer is unused).
Tensor dense_reformer(ReformerAttention& attn, const Tensor& q, const Tensor& v);

}  // namespace attnlab::attention

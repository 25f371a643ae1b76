// reformer.h — LSH attention of the Reformer (Kitaev, Kaiser, Levskaya, 2020, "Reformer: The
// Efficient Transformer").
//
// Shared-QK: the keys are the unit-length queries, k_j = q_j / ‖q_j‖ (the k input is unused).
// Each of n_h hash rounds r has a random rotation R_r ∈ R^{D×b/2} and hashes
//   h_r(x) = argmax([x R_r ; −x R_r]) ∈ {0, …, b−1}      (b buckets; b = 1 hashes all to 0)
// Per round, tokens are sorted by (bucket, position) and the sorted sequence is cut into chunks
// of m; a query attends to the keys of its own and of the previous chunk (the first chunk has
// none before it, no wrap-around) that are in its bucket, A_i^(r); a token attends to itself
// only when nothing else is available. The union over rounds is attended exactly:
//   out_i = Σ_{j ∈ ∪_r A_i^(r)} softmax_j(q_i·k_j / √D) v_j
// computed as in the paper: per round, o_i^(r) = softmax over A_i^(r) of (q_i·k_j/√D − log c_ij)
// times V, with z_i^(r) its logsumexp, where c_ij counts the rounds whose A_i holds j (so a key
// found in several rounds is not counted several times), and the rounds are combined by their
// logsumexp weights:  out_i = Σ_r exp(z_i^(r) − logsumexp_r' z_i^(r')) o_i^(r).
// The rotations are the buffer "rotations" [n_h, D, b/2]: fixed in eval mode; redrawn at every
// training forward when redraw=true (the paper hashes afresh at every step).
// There is no causal form: masking j > i inside the chunks still lets later tokens change which
// earlier tokens share a chunk.
// Time O(n_h·N·(b/2 + 2m)·D) (plus O(n_h²·N·m) integer work for the counts c_ij), memory
// O(n_h·N·(2m + D)) per head (the composed reference; the fused op keeps O(N·D + n_h·N)).
// Cost (attention/cost.h): forward n_h·(B·H·N·D·b + 4·B·H·D·(2mN − m²)) flops (hashing, then
// every query against its chunk and the previous one), backward twice that; traffic q, k, v,
// out, per round the sort order and log-sum-exp, and the gradients.
// Fast path: the fused op lsh_chunk_attention (reformer_kernel.h): per head, round and chunk,
// the sorted rows' scores with the mask and −log c_ij recomputed from the buckets (never
// stored), one online softmax per query over all rounds (the same union softmax), and a
// backward that recomputes them from q, v, the buckets and the saved logsumexp; it keeps only
// out, L and the buckets. The composed gathers + matmul + logsumexp are its reference
// (reference = true or ATTNLAB_REFERENCE=1), held equal by tests. forward_packed takes the
// packed qkv projection whole (lsh_chunk_attention_packed: one [B, N, 3C] gradient).
// Options (types and defaults: attention/registry.cpp): buckets b (1 or even), n_hashes n_h,
// chunk m (clamped to N), redraw, seed (-1: drawn from default_generator() at construction).
#pragma once
#include "attention/attention.h"
#include "attention/hashing/reformer_kernel.h"
#include "core/util/rng.h"

namespace attnlab::attention {

class ReformerAttention : public Attention {
public:
    ReformerAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    // The fused op on the packed projection: one [B, N, 3C] gradient (reference: the split views).
    Tensor forward_packed(const Tensor& qkv, int64_t heads) override;
    std::string describe() const override;
    nn::RandomState random_state() const override { return generator_state(gen_); }
    void set_random_state(const nn::RandomState& s) override { restore_generator(gen_, s, 2, "reformer"); }

    // The bucket of every token in every round with the current rotations: [B·H, n_hashes, N]
    // (attention/reference/sparse.h builds the dense pattern from it). One product per head
    // over all rounds, x [R_1 … R_n_h] with the columns padded to whole vectors, then argmax.
    std::vector<int32_t> hash(const Tensor& q);

    int64_t buckets, n_hashes, chunk;
    bool redraw;
    bool reference = false;  // true: the composed ops (readable reference) instead of the fused op
    Tensor rotations;  // [n_hashes, D, buckets/2], buffer "rotations"

private:
    void draw_rotations(int64_t D);
    // Rotations checked (drawn first, or redrawn when training with redraw), then q's hashes:
    // every bucket at once (all_buckets, for the composed reference) or each head's on demand
    // (LshHashes::rehash, for the fused op, which then never holds them all).
    std::shared_ptr<LshHashes> hashes_for(const Tensor& q, bool all_buckets);
    Tensor composed(const Tensor& q, const Tensor& v, const LshHashes& hashes);

    Generator gen_;
};

}  // namespace attnlab::attention

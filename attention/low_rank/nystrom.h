// nystrom.h — Nyströmformer (Xiong, Zeng, Chakraborty, Tan, Fung, Li, Singh, 2021,
// AAAI, "Nyströmformer: A Nyström-Based Algorithm for Approximating Self-Attention").
//
// m landmarks are the means of m contiguous segments of the queries and of the keys,
//   Q̃ = P Q,  K̃ = P K  [m, D],   P [m, N] averages segment s = tokens ⌊sN/m⌋ .. ⌊(s+1)N/m⌋ − 1,
// so every token lies in exactly one segment of ⌊N/m⌋ or ⌈N/m⌉ tokens (when m divides
// N these are the paper's equal segments; its code requires that). Then, with /√D inside:
//   F̃ = softmax(Q K̃ᵀ) [N, m],   Ã = softmax(Q̃ K̃ᵀ) [m, m],   B̃ = softmax(Q̃ Kᵀ) [m, N]
//   out = F̃ · (Ã⁺ · (B̃ V))
// where Ã⁺, the Moore–Penrose pseudoinverse, comes from the paper's iteration
//   Z₀ = Ãᵀ / (‖Ã‖₁ ‖Ã‖∞),   Z ← ¼ Z (13I − ÃZ (15I − ÃZ (7I − ÃZ)))
// (differentiated through, like the paper's code). With m = N, out = A A⁺ A V = softmax attention.
// Optional skip: out += Σ_t w[h,t] v_{i+t−k/2} (zero padded; per-head weights w [H, k],
// the paper code's depthwise nn.Conv2d(H, H, (k, 1), groups=H, bias=False) on V).
//
// Time O(N·m·D + m³), memory O(N·m + N·D + m²) per head (+ O(k·N·D) time for the skip).
// Cost (attention/cost.h): forward 8·B·H·N·m·D + 4·B·H·m²·D + 8·it·B·H·m³ + 2·B·H·N·D(1 + k)
// flops (it pinv iterations of 4 m×m products), backward twice that; traffic q, k, v, out, grads.
// Fast path: nystrom_attention_fused (nystrom_kernel.h), one fused op per call that keeps
// only q, k, v for the backward and recomputes F̃, B̃ and the iterates there; the composed
// ops below are its reference (reference = true, or ATTNLAB_REFERENCE=1), held equal by tests.
// Options (types and defaults: attention/registry.cpp): landmarks m (1 ≤ m ≤ N),
// pinv_iterations, conv_kernel k (0 = off, else odd). No causal mode: landmarks mix the whole sequence.
#pragma once
#include "attention/attention.h"

namespace attnlab::attention {

class NystromAttention : public Attention {
public:
    NystromAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    std::string describe() const override;

    bool reference = false;  // true: the composed ops (readable reference) instead of the fused op

private:
    Tensor forward_reference(const Tensor& q, const Tensor& k, const Tensor& v) const;  // composed, without the skip
    Tensor sequence_conv(const Tensor& v) const;  // the depthwise skip on V [B,H,N,D]

    int64_t m_, iterations_, conv_kernel_, H_;
    Tensor conv_weight_;  // [H, k], parameter "conv_weight" when conv_kernel > 0
};

// P [m, N]: row s holds 1/|segment s| on the tokens of segment s, 0 elsewhere.
Tensor segment_means_matrix(int64_t m, int64_t N);

// Z ≈ A⁺ for A [..., m, m] after `iterations` steps of the iteration above.
Tensor iterative_pinv(const Tensor& A, int64_t iterations);

}  // namespace attnlab::attention

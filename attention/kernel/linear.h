// linear.h — linear attention: the attention product reassociated, no softmax.
//
// Dot-product attention without the softmax is a plain product of three
// matrices, so it can be evaluated in either order:
//
//   out = (Q Kᵀ / D) V          O(N²D) time, an N×N matrix      (quadratic order)
//       = Q (Kᵀ V) / D          O(N D²) time, a D×D matrix      (linear order)
//
// (the 1/D is the usual 1/√D applied to both Q and K). Kᵀ V sums k_j v_jᵀ over
// all keys once; every query then reads that D×D summary. With causal=true
// query i may only use keys j ≤ i, so it reads the prefix sum
// S_i = Σ_{j≤i} k_j v_jᵀ instead: out_i = S_iᵀ q_i / D (see causal_product.h,
// which never stores all N prefix sums).
//
// This is the "linear attention" that the kernelized variants build on
// (Katharopoulos et al., 2020, "Transformers are RNNs"): they put a positive
// feature map φ on Q and K and normalize by the row sums — see linear_elu.h.
// Here the weights q_i·k_j / D can be negative and rows do not sum to one, so
// this variant is the simplest worked example rather than a good model.
//
// Time O(N·D²); memory O(D²) per head beyond inputs and output, causal or not.
// Cost (attention/cost.h): forward 4·B·H·N·D² flops (causal too), backward twice that;
// traffic q, k, v, out and their gradients.
// Non-causal, the fast path is one fused op (linear_op.h: per head two small GEMMs
// forward, four backward, no transposed copies); the composed form above is its
// reference (reference = true or ATTNLAB_REFERENCE=1), held equal by a test.
// Options (types and defaults: attention/registry.cpp): causal.
#pragma once
#include "attention/attention.h"

namespace attnlab::attention {

class LinearAttention : public Attention {
public:
    LinearAttention(const Options& opts, const AttentionContext& ctx);
    Tensor forward(const Tensor& q, const Tensor& k, const Tensor& v) override;
    bool reference = false;  // true: the composed ops (readable reference) instead of the fused op
    std::string describe() const override { return causal ? "LinearAttention(causal)" : "LinearAttention"; }
};

}  // namespace attnlab::attention

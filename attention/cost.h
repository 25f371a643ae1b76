// cost.h — the analytic work of every attention variant: floating-point
// operations and compulsory memory traffic, forward and backward, for given
// B, H, N, D and options. bench_attention turns it into a roofline; the study
// can turn a measured time into achieved GFLOP/s with it.
//
// Conventions (the same for every variant, so that variants compare):
//  - flops: 2 per multiply-add of the products the algorithm needs (GEMMs,
//    state updates, score dot products). Elementwise work (exp, sin, the
//    normalizations) is not counted. Where it is one exp per score (softmax,
//    the sparse patterns: against 4·D flops per score) that leaves out a few
//    percent; for the O(N·D²) feature maps (linear_elu, efficient, taylor) it
//    does not: φ of 2·N·D elements against 4·N·D² flops of products, at D = 32
//    an instruction count of the same order (results/attention_roofline).
//  - backward flops: twice the forward's (every product C = A·B has two input
//    gradients, dA = dC·Bᵀ and dB = Aᵀ·dC). Recomputation is an implementation
//    choice and is not counted.
//  - bytes: 4 per float of what must cross memory at least once: the forward
//    reads q, k, v and writes out (4·B·H·N·D floats) plus what the backward
//    must keep beyond them (softmax's row log-sum-exp, learned projections);
//    the backward reads q, k, v, out, dout and writes dq, dk, dv (8·B·H·N·D).
//    Intermediates a fused kernel keeps in cache are not counted: this is the
//    traffic of an ideal implementation, a lower bound, not ours.
// Each variant's header states its formula next to its complexity.
#pragma once
#include <cstdint>
#include <string>

#include "attention/options.h"

namespace attnlab::attention {

struct AttentionCost {
    double flops_forward = 0, flops_backward = 0;  // floating-point operations
    double bytes_forward = 0, bytes_backward = 0;  // compulsory memory traffic
    double flops() const { return flops_forward + flops_backward; }
    double bytes() const { return bytes_forward + bytes_backward; }
};

// Cost of variant `name` (registry name) on q, k, v [B,H,N,D]; options not
// given take the registry's defaults. Unknown names throw like make_attention.
AttentionCost attention_cost(const std::string& name, const Options& opts, int64_t B, int64_t H, int64_t N, int64_t D);

// Number of (query, key) pairs the sparse patterns attend to for N tokens (all
// B·H heads alike), counted exactly in O(N·window): what their flops scale with.
int64_t sparse_strided_pairs(int64_t N, int64_t stride, bool causal);
int64_t sparse_fixed_pairs(int64_t N, int64_t stride, int64_t summary, bool causal);
int64_t longformer_pairs(int64_t N, int64_t window, int64_t dilation, int64_t global_tokens, bool causal);
// BigBird's random blocks are assumed full and distinct from the window and
// global blocks (as drawn); exact when the block size divides N.
int64_t bigbird_pairs(int64_t N, int64_t block, int64_t global_blocks, int64_t random_blocks, bool causal);

}  // namespace attnlab::attention

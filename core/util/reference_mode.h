// reference_mode.h — one switch from attnlab's fast paths to its readable ones.
//
// With ATTNLAB_REFERENCE=1 in the environment (or set_reference_mode(true)):
//   - gemm (core/kernels/blas.h) and small::gemm are plain triple loops
//     (gemm_reference, small::gemm_loop) instead of OpenBLAS / the blocked kernels;
//   - the ops' fast:: math (exp, tanh, erf, sin, cos in core/ops) is std:: math
//     (with_math, core/kernels/fastmath.h);
//   - fused softmax attention (scaled_dot_product_attention and its packed form)
//     runs the composed matmul → softmax → matmul (scaled_dot_product_attention_reference);
//   - the fused Adam/AdamW update is a plain loop per parameter tensor.
// Results agree with the fast paths to float rounding; only speed changes
// (tests/nn/test_reference_mode.cpp holds them together).
// Compare llm.c's matmul_forward_naive and PyTorch's math backend for SDPA.
#pragma once

namespace attnlab {

bool reference_mode();               // read ATTNLAB_REFERENCE once, unless set_reference_mode was called
void set_reference_mode(bool on);    // for tests and apps; not thread-safe against running ops

// Sets reference mode for one scope and restores the previous value.
class ReferenceModeGuard {
public:
    explicit ReferenceModeGuard(bool on) : saved_(reference_mode()) { set_reference_mode(on); }
    ~ReferenceModeGuard() { set_reference_mode(saved_); }
    ReferenceModeGuard(const ReferenceModeGuard&) = delete;
    ReferenceModeGuard& operator=(const ReferenceModeGuard&) = delete;

private:
    bool saved_;
};

}  // namespace attnlab

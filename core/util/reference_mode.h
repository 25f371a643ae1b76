// reference_mode.h — one switch from attnlab's fast paths to its readable ones.
//
// With ATTNLAB_REFERENCE=1 in the environment (or set_reference_mode(true)):
//   - the GEMM is a plain triple loop instead of OpenBLAS / the packed kernel;
//   - fast:: math (exp, tanh, erf) is std:: math;
//   - fused attention kernels run their composed reference (softmax(QKᵀ/√d)V
//     built from ordinary ops, and each variant's composed form);
//   - the fused AdamW update is a loop over parameters.
// Results agree with the fast paths to float rounding; only speed changes.
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

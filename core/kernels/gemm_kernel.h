// gemm_kernel.h — attnlab's own single-threaded sgemm (the default on AVX-512 CPUs when
// OpenBLAS is held to its AVX2 kernels):
//
//   C = alpha · op(A) · B + beta · C     (row-major, op(A) = A or Aᵀ, B is
//                                        K × N: the contract of cblas_sgemm
//                                        without its transposed B)
//
// Cache blocking around the register-blocked small::gemm (a block of 12 rows ×
// 32 columns of C lives in 24 of the 32 AVX-512 registers; 6 × 16 in 12 of
// AVX2's 16): the inner dimension K goes in panels of 256 and the columns N in
// panels of 128, so the panel of B in use (256 × 128 floats, 128 KB) stays in
// L2 while the rows of A stream past it. A and B are read in place (no
// packing); core/kernels/blas.cpp transposes a Bᵀ operand once, before splitting the
// product among the threads (K·N copies against 2·M·N·K flops). Cost:
// 2·M·N·K flops, no allocation.
// Why it exists: OpenBLAS held to its AVX2 kernels (OPENBLAS_CORETYPE=Haswell)
// is about half as fast on AVX-512 CPUs; elsewhere OpenBLAS stays the default
// (measurements: results/code_notes.md). Reference mode never reaches it.
#pragma once
#include <cstdint>

namespace attnlab {

// Single-threaded; any shape with N ≥ 1 (products narrower than one vector
// run mostly in scalar code: core/kernels/blas.cpp sends those to OpenBLAS).
void kernel_gemm(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace attnlab

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
//
// Why not OpenBLAS everywhere: with OPENBLAS_CORETYPE=Haswell (set on the
// development machines) OpenBLAS runs its AVX2 kernels, half as fast as
// AVX-512 on CPUs with full-width AVX-512 units. Measured single-threaded on
// the ViT's linear-layer shapes on a 2-core AMD EPYC (Zen 5): this kernel
// 170–210 GFLOP/s, OpenBLAS 95–105 with its Haswell kernels and 170–195 with
// its AVX-512 ones. core/kernels/blas.cpp uses it when the build targets AVX-512 and
// OpenBLAS runs its AVX2 kernels; with its AVX-512 ones OpenBLAS is as fast or
// faster end to end (2-core Zen 4: 0–17 % faster on the ViT rows,
// results/compare_pytorch.md), so there OpenBLAS stays the default. On an AVX2
// CPU (AMD EPYC, Zen 3) the kernel is no match for OpenBLAS's own AVX2
// kernels: 54–84 GFLOP/s against 79–86, so there OpenBLAS is the default too.
#pragma once
#include <cstdint>

namespace attnlab {

// Single-threaded; any shape with N ≥ 1 (products narrower than one vector
// run mostly in scalar code: core/kernels/blas.cpp sends those to OpenBLAS).
void kernel_gemm(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

}  // namespace attnlab

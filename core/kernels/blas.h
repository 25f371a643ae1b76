// blas.h — the single doorway to OpenBLAS: C = alpha * op(A) op(B) + beta * C.
//
// Row-major sgemm with op(X) = X or Xᵀ; A is M×K after op, B is K×N, C is M×N.
// Cost 2·M·N·K flops. Called inside an OpenMP parallel region it runs on one
// thread, so batched callers parallelize outside;
// called outside, a large product is cut into one block per thread (rows,
// columns or the inner dimension, blas.cpp), deterministically.
// Reference path: gemm_reference, a plain triple loop, which gemm calls instead
// when reference mode is on (ATTNLAB_REFERENCE=1, core/util/reference_mode.h).
#pragma once
#include <cstdint>
#include <string>

namespace attnlab {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// The same product as a plain triple loop, single-threaded (llm.c's
// matmul_forward_naive): what gemm runs in reference mode. With beta = 0, C is
// not read.
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                    int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// Which code multiplies each per-thread block: attnlab's own kernel
// (core/kernels/gemm_kernel.h), the default when the build targets AVX-512 and
// OpenBLAS runs without its AVX-512 kernels (OPENBLAS_CORETYPE=Haswell), or
// OpenBLAS's sgemm, the default otherwise. ATTNLAB_GEMM=openblas (or =own) in
// the environment overrides the default at start-up; benchmarks and tests
// switch with set_gemm_backend. Products with fewer than 16 columns always go
// to OpenBLAS.
enum class GemmBackend { openblas, own_kernel };
GemmBackend gemm_backend();
void set_gemm_backend(GemmBackend backend);

// "OpenMP" when the OpenMP build of OpenBLAS is loaded (what attnlab needs),
// plus the core type OpenBLAS picked, e.g. "OpenMP, Haswell", plus
// "; GEMM: attnlab kernel" when the own kernel is in use.
std::string blas_info();

}  // namespace attnlab

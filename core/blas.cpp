// blas.cpp — thin sgemm wrapper and a report of which OpenBLAS is loaded.
#include "core/blas.h"

#include <cblas.h>

namespace attnlab {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {  // empty sum: C = beta * C
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                int(M), int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

std::string blas_info() {
    int kind = openblas_get_parallel();  // 0 sequential, 1 pthreads, 2 OpenMP
    std::string s = kind == 2 ? "OpenMP" : kind == 1 ? "pthreads" : "sequential";
    return s + ", " + openblas_get_corename();
}

}  // namespace attnlab

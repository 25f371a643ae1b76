// gemm_kernel.cpp — attnlab's own sgemm: K and N panels around small::gemm
// (see gemm_kernel.h for the blocking and the measurements behind it).
#include "core/kernels/gemm_kernel.h"

#include <algorithm>

#include "core/kernels/small_gemm.h"

namespace attnlab {

namespace {

constexpr int64_t kPanelK = 256;  // inner-dimension panel: 256 rows of B
constexpr int64_t kPanelN = 128;  // column panel: 128 columns of B and C
// Rows per register block: 12 (24 accumulators) fit AVX-512's 32 registers; AVX2 has 16, so 6.
constexpr int kRowBlock = small::kLanes == 16 ? 12 : 6;

}  // namespace

void kernel_gemm(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    // beta = 0 (overwrite) and 1 (accumulate) are what the first K panel does; other betas scale C first.
    if (beta != 0.f && beta != 1.f)
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) C[i * ldc + j] *= beta;
    if (K <= 0) {
        if (beta == 0.f)
            for (int64_t i = 0; i < M; ++i) std::fill(C + i * ldc, C + i * ldc + N, 0.f);
        return;
    }
    for (int64_t k0 = 0; k0 < K; k0 += kPanelK) {
        const int64_t kb = std::min(kPanelK, K - k0);
        const bool accumulate = k0 > 0 || beta != 0.f;
        const float* a = trans_a ? A + k0 * lda : A + k0;  // op(A)[:, k0:k0+kb]
        for (int64_t j0 = 0; j0 < N; j0 += kPanelN) {
            const int64_t nb = std::min(kPanelN, N - j0);
            const float* b = B + k0 * ldb + j0;
            if (trans_a)
                small::gemm<true, kRowBlock>(M, nb, kb, alpha, a, lda, b, ldb, accumulate, C + j0, ldc);
            else
                small::gemm<false, kRowBlock>(M, nb, kb, alpha, a, lda, b, ldb, accumulate, C + j0, ldc);
        }
    }
}

}  // namespace attnlab

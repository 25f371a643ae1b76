// rows8_gemm.h — small::gemm (core/kernels/small_gemm.h) with rows in blocks of 8 instead of 6, for
// the block-sparse kernel's products with 8-row operands (bigbird's blocks of 8 queries: P Vb and
// dQb have 8 rows, dKb and dVb a multiple of 8 key rows), which small::gemm splits 6 + 2:
//   C = alpha · a B (+ C),  a = A or Aᵀ (TransA)   — the same product, the same header.
// With 32 vector registers (AVX-512) an 8 × 2L block keeps 16 accumulators and 2 rows of B in
// registers: per step 2 loads, 8 broadcasts and 16 multiply-adds, where the 2-row tail of 6 + 2
// did 4. Elsewhere (16 registers) and in reference mode it is small::gemm itself. Time O(m·n·k).
#pragma once
#include "core/kernels/small_gemm.h"

namespace attnlab::attention {

template <bool TransA>
void gemm_rows8(int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda, const float* B,
                int64_t ldb, bool accumulate, float* C, int64_t ldc) {
    if (small::kLanes != 16 || reference_mode() || m % 8 != 0)
        return small::gemm<TransA>(m, n, k, alpha, A, lda, B, ldb, accumulate, C, ldc);
    for (int64_t i = 0; i < m; i += 8)
        small::gemm_rows<8, TransA>(n, k, alpha, TransA ? A + i : A + i * lda, lda, B, ldb, accumulate, C + i * ldc,
                                    ldc);
}

}  // namespace attnlab::attention

// test_small_gemm.cpp — the register-blocked small::gemm (core/kernels/small_gemm.h)
// and its transpose helper against a double-precision triple loop, on every
// row-block size (6 and the tails 1–5), every column path (32-wide blocks,
// the 16-wide block, scalar tails), with and without a transposed A,
// accumulate on and off, padded leading dimensions.
#include <cmath>
#include <vector>

#include "core/util/rng.h"
#include "core/kernels/small_gemm.h"
#include "tests/support/helpers.h"

using namespace attnlab;

TEST_CASE("small::gemm equals the triple loop for every row block, column tail and transpose", "[ops][blas]") {
    Generator gen(11);
    for (bool trans_a : {false, true})
        for (bool accumulate : {false, true})
            for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 13})
                for (int64_t n : {1, 15, 16, 17, 32, 33, 48, 80})
                    for (int64_t k : {1, 7, 32}) {
                        INFO("m " << m << " n " << n << " k " << k << " trans_a " << trans_a << " accumulate " << accumulate);
                        const int64_t lda = (trans_a ? m : k) + 2, ldb = n + 3, ldc = n + 1;
                        std::vector<float> A(size_t((trans_a ? k : m) * lda)), B(size_t(k * ldb)), C(size_t(m * ldc));
                        gen.fill_uniform(A.data(), int64_t(A.size()), -1.f, 1.f);
                        gen.fill_uniform(B.data(), int64_t(B.size()), -1.f, 1.f);
                        gen.fill_uniform(C.data(), int64_t(C.size()), -1.f, 1.f);
                        std::vector<float> expected = C;
                        for (int64_t i = 0; i < m; ++i)
                            for (int64_t j = 0; j < n; ++j) {
                                double s = 0;
                                for (int64_t p = 0; p < k; ++p)
                                    s += double(trans_a ? A[size_t(p * lda + i)] : A[size_t(i * lda + p)]) *
                                         double(B[size_t(p * ldb + j)]);
                                float& e = expected[size_t(i * ldc + j)];
                                e = float(0.75 * s + (accumulate ? double(e) : 0.0));
                            }
                        if (trans_a) small::gemm<true>(m, n, k, 0.75f, A.data(), lda, B.data(), ldb, accumulate, C.data(), ldc);
                        else small::gemm<false>(m, n, k, 0.75f, A.data(), lda, B.data(), ldb, accumulate, C.data(), ldc);
                        for (int64_t i = 0; i < m; ++i)
                            for (int64_t j = 0; j < ldc; ++j)  // j ≥ n: the padding, never written
                                REQUIRE(std::abs(C[size_t(i * ldc + j)] - expected[size_t(i * ldc + j)]) < 1e-5f);
                    }
}

TEST_CASE("small::transpose_padded transposes and zeroes the padding columns", "[ops][blas]") {
    const int64_t rows = 3, cols = 2, ld_src = 4, ld_dst = 5;
    std::vector<float> src = {1, 2, -1, -1, 3, 4, -1, -1, 5, 6, -1, -1}, dst(size_t(cols * ld_dst), 9.f);
    small::transpose_padded(src.data(), ld_src, rows, cols, dst.data(), ld_dst);
    REQUIRE(dst == std::vector<float>{1, 3, 5, 0, 0, 2, 4, 6, 0, 0});
}

// test_blas.cpp — gemm (core/kernels/blas.h) against a double-precision triple loop,
// on shapes that take each of its paths: one block (small), rows of C split
// across threads (tall), columns split (wide), and the inner dimension split
// with a reduction (weight-gradient shaped), plus shapes that cross the own
// kernel's K and N panels and row blocks, each with every transpose
// combination, padded leading dimensions, alpha and beta ≠ 0, and with both
// backends (OpenBLAS sgemm and attnlab's kernel, core/kernels/gemm_kernel.h).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/kernels/blas.h"
#include "core/kernels/parallel.h"
#include "core/util/rng.h"
#include "tests/support/helpers.h"

using namespace attnlab;

namespace {

struct Case {
    const char* path;
    int64_t M, N, K;
};

// C = alpha·op(A)·op(B) + beta·C with op(X) = X or Xᵀ, row-major, leading dims ≥ the logical width.
void reference_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const std::vector<float>& A,
                    int64_t lda, const std::vector<float>& B, int64_t ldb, float beta, std::vector<float>& C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k) {
                double a = ta ? A[size_t(k * lda + i)] : A[size_t(i * lda + k)];
                double b = tb ? B[size_t(j * ldb + k)] : B[size_t(k * ldb + j)];
                s += a * b;
            }
            C[size_t(i * ldc + j)] = float(alpha * s + beta * double(C[size_t(i * ldc + j)]));
        }
}

}  // namespace

TEST_CASE("gemm equals the triple loop on every split path, transpose, leading dimension and backend", "[ops][blas]") {
    const int saved_threads = num_threads();
    const GemmBackend saved_backend = gemm_backend();
    set_num_threads(2);  // the split paths need 2 threads, whatever the machine has
    const Case cases[] = {{"one call (small)", 7, 5, 3},
                          {"one call, 16 columns (own kernel when selected)", 13, 16, 9},
                          {"rows split (tall)", 301, 70, 100},
                          {"columns split (wide)", 70, 301, 100},
                          {"inner dimension split (K ≫ M, N)", 40, 48, 4001},
                          {"own kernel's K panels (256) and N panels (128), row tail of 12 + 6 + 1", 31, 300, 600}};
    Generator gen(3);
    for (GemmBackend backend : {GemmBackend::openblas, GemmBackend::own_kernel})
    for (const Case& c : cases)
        for (int ta = 0; ta < 2; ++ta)
            for (int tb = 0; tb < 2; ++tb) {
                set_gemm_backend(backend);
                INFO((backend == GemmBackend::openblas ? "openblas" : "own kernel")
                     << ", " << c.path << ": M " << c.M << " N " << c.N << " K " << c.K << " trans_a " << ta << " trans_b " << tb);
                const int64_t pad = 3;  // leading dimensions wider than the matrices
                const int64_t lda = (ta ? c.M : c.K) + pad, ldb = (tb ? c.K : c.N) + pad, ldc = c.N + pad;
                std::vector<float> A(size_t((ta ? c.K : c.M) * lda)), B(size_t((tb ? c.N : c.K) * ldb));
                std::vector<float> C(size_t(c.M * ldc));
                gen.fill_uniform(A.data(), int64_t(A.size()), -1.f, 1.f);
                gen.fill_uniform(B.data(), int64_t(B.size()), -1.f, 1.f);
                gen.fill_uniform(C.data(), int64_t(C.size()), -1.f, 1.f);
                std::vector<float> expected = C;
                reference_gemm(ta, tb, c.M, c.N, c.K, 0.5f, A, lda, B, ldb, -2.f, expected, ldc);
                gemm(ta, tb, c.M, c.N, c.K, 0.5f, A.data(), lda, B.data(), ldb, -2.f, C.data(), ldc);
                double worst = 0;
                for (int64_t i = 0; i < c.M; ++i)
                    for (int64_t j = 0; j < c.N; ++j)
                        worst = std::max(worst, double(std::abs(C[size_t(i * ldc + j)] - expected[size_t(i * ldc + j)])));
                // float sums of K products of magnitude ≤ 1 err by ~√K·2⁻²⁴·√K; a wrong block is off by ~1
                REQUIRE(worst < 2e-6 * double(c.K) + 1e-5);
                // the padding between rows is never written
                for (int64_t i = 0; i < c.M; ++i)
                    for (int64_t j = c.N; j < ldc; ++j) REQUIRE(C[size_t(i * ldc + j)] == expected[size_t(i * ldc + j)]);
            }
    set_gemm_backend(saved_backend);
    set_num_threads(saved_threads);
}

TEST_CASE("gemm with beta 0 overwrites C without reading it, with both backends", "[ops][blas]") {
    const GemmBackend saved_backend = gemm_backend();
    const int64_t M = 30, N = 40, K = 300;  // two K panels of the own kernel
    std::vector<float> A(size_t(M * K)), B(size_t(K * N)), C(size_t(M * N)), expected(size_t(M * N), 0.f);
    Generator gen(4);
    gen.fill_uniform(A.data(), int64_t(A.size()), -1.f, 1.f);
    gen.fill_uniform(B.data(), int64_t(B.size()), -1.f, 1.f);
    reference_gemm(false, false, M, N, K, 1.f, A, K, B, N, 0.f, expected, N);
    for (GemmBackend backend : {GemmBackend::openblas, GemmBackend::own_kernel}) {
        set_gemm_backend(backend);
        std::fill(C.begin(), C.end(), std::nanf(""));  // what an uninitialized output may hold
        gemm(false, false, M, N, K, 1.f, A.data(), K, B.data(), N, 0.f, C.data(), N);
        for (size_t i = 0; i < C.size(); ++i) REQUIRE(std::abs(C[i] - expected[i]) < 1e-3f);
    }
    set_gemm_backend(saved_backend);
}

TEST_CASE("gemm gives the same bits on every call (the thread split is fixed by the shape)", "[ops][blas]") {
    const int saved_threads = num_threads();
    set_num_threads(2);
    const int64_t M = 64, N = 64, K = 8320;  // the K-split path: a reduction whose order must not vary
    std::vector<float> A(size_t(K * M)), B(size_t(K * N)), C1(size_t(M * N)), C2(size_t(M * N));
    Generator gen(5);
    gen.fill_uniform(A.data(), int64_t(A.size()), -1.f, 1.f);
    gen.fill_uniform(B.data(), int64_t(B.size()), -1.f, 1.f);
    gemm(true, false, M, N, K, 1.f, A.data(), M, B.data(), N, 0.f, C1.data(), N);
    for (int rep = 0; rep < 3; ++rep) {
        gemm(true, false, M, N, K, 1.f, A.data(), M, B.data(), N, 0.f, C2.data(), N);
        REQUIRE(C1 == C2);
    }
    set_num_threads(saved_threads);
}

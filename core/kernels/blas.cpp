// blas.cpp — sgemm on OpenBLAS, with the threads split by us, and a report of
// which OpenBLAS is loaded.
//
// OpenBLAS's own multi-threaded sgemm shares packed panels between its threads
// and synchronizes on every block, which costs a lot on the ViT's tall-thin
// shapes (results/code_notes.md). So a large product is cut into blocks here (M and N splits: a few blocks
// per thread, taken by whichever thread is free; K split: one per thread), along
//   M (rows of C):    C[m0:m1] = op(A)[m0:m1] · op(B)          — no extra work
//   N (columns of C): C[:, n0:n1] = op(A) · op(B)[:, n0:n1]    — no extra work
//   K (inner):        C = Σ_t op(A)[:, k_t] · op(B)[k_t, :]    — weight gradients
//                     (K = batch·tokens); thread 0 accumulates into C, the others
//                     into M×N scratch buffers that are then added: (T-1)·M·N
//                     extra adds against 2·M·N·K/T flops per thread.
// and each block is a single-threaded product: attnlab's own kernel
// (core/kernels/gemm_kernel.h) on AVX-512 builds when OpenBLAS runs without its
// AVX-512 kernels, else sgemm (OpenBLAS runs on one
// thread when called inside an OpenMP parallel region). The split is fixed by
// the shape and the thread count, and each block of C is one product over its
// whole K range whichever thread takes it, so results are deterministic. Small products
// (< 4 MFLOP) and calls from inside a parallel region are one such product.
// In reference mode (core/util/reference_mode.h) gemm is gemm_reference, the
// plain triple loop at the end of this file.
#include "core/kernels/blas.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/kernels/gemm_kernel.h"
#include "core/kernels/parallel.h"
#include "core/kernels/small_gemm.h"
#include "core/util/reference_mode.h"

namespace attnlab {

namespace {

// Whether the core type OpenBLAS picked (or was told by OPENBLAS_CORETYPE) runs AVX-512 kernels.
[[maybe_unused]] bool openblas_has_avx512_kernels() {
    std::string core = openblas_get_corename();
    std::transform(core.begin(), core.end(), core.begin(), [](unsigned char c) { return char(std::tolower(c)); });
    for (const char* avx512_core : {"skylakex", "cooperlake", "sapphirerapids"})
        if (core.find(avx512_core) != std::string::npos) return true;
    return false;
}

GemmBackend default_backend() {
    if (const char* env = std::getenv("ATTNLAB_GEMM")) {
        if (std::string(env) == "openblas") return GemmBackend::openblas;
        if (std::string(env) == "own") return GemmBackend::own_kernel;
        std::fprintf(stderr, "attnlab: ignoring ATTNLAB_GEMM=%s (expected \"openblas\" or \"own\")\n", env);
    }
#ifdef __AVX512F__
    // The own kernel only where OpenBLAS runs without its AVX-512 kernels (e.g.
    // OPENBLAS_CORETYPE=Haswell): with them, OpenBLAS is as fast or faster.
    return openblas_has_avx512_kernels() ? GemmBackend::openblas : GemmBackend::own_kernel;
#else
    return GemmBackend::openblas;  // on AVX2, OpenBLAS's own kernels are faster (core/kernels/gemm_kernel.h)
#endif
}

GemmBackend backend = default_backend();

constexpr double kSplitMinFlops = 4e6;  // below: one OpenBLAS call (its own threading decides)
constexpr int64_t kMinBlock = 32;       // each thread's block is at least this wide
constexpr int64_t kPiecesPerThread = 4; // M/N splits: blocks per thread, balanced between the threads
constexpr int64_t kAlign = 16;          // block boundaries on multiples of 16 rows/columns (kernel widths)

void sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
           const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, int(M),
                int(N), int(K), alpha, A, int(lda), B, int(ldb), beta, C, int(ldc));
}

// Where row/column `i` of op(X) starts, for X stored row-major with leading dimension ld:
// op(X) = X: row i is X + i·ld, column j is X + j;  op(X) = Xᵀ: the other way round.
const float* op_row(const float* X, bool trans, int64_t i, int64_t ld) { return trans ? X + i : X + i * ld; }
const float* op_col(const float* X, bool trans, int64_t j, int64_t ld) { return trans ? X + j * ld : X + j; }

// Products at least one vector wide go to the own kernel when it is selected.
bool uses_own_kernel(int64_t N) { return backend == GemmBackend::own_kernel && N >= small::kLanes; }

// One block's product on the calling thread (gemm has already made B K × N for the own kernel).
void block_gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (uses_own_kernel(N) && !trans_b)
        kernel_gemm(trans_a, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

// M or N split: kPiecesPerThread blocks per thread, with boundaries on multiples of kAlign,
// handed out to whichever thread is free (parallel_for_balanced): each block of C is still
// one product over the whole K, so the result does not depend on who computes it.
void split_rows_or_columns(int T, bool rows, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    const int64_t extent = rows ? M : N;
    const int64_t units = (extent + kAlign - 1) / kAlign;
    const int64_t pieces = std::min<int64_t>(T * kPiecesPerThread, std::max<int64_t>(1, extent / kMinBlock));
    parallel_for_balanced(0, pieces, pieces, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
            const int64_t b = std::min(extent, units * c / pieces * kAlign);
            const int64_t e = std::min(extent, units * (c + 1) / pieces * kAlign);
            if (b >= e) continue;
            if (rows)
                block_gemm(trans_a, trans_b, e - b, N, K, alpha, op_row(A, trans_a, b, lda), lda, B, ldb, beta,
                           C + b * ldc, ldc);
            else
                block_gemm(trans_a, trans_b, M, e - b, K, alpha, A, lda, op_col(B, trans_b, b, ldb), ldb, beta,
                           C + b, ldc);
        }
    });
}

// K split: thread 0 into C (with beta), thread t > 0 into scratch[t], then C += Σ scratch.
void split_inner(int T, bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    static thread_local std::vector<float> scratch_buffer;  // the calling thread's, reused across calls
    scratch_buffer.resize(size_t((T - 1) * M * N));
    float* const scratch = scratch_buffer.data();  // (inside the region, the name would be each thread's own)
    int used = 1;
#pragma omp parallel num_threads(T)
    {
        const int64_t t = omp_get_thread_num(), nt = omp_get_num_threads();
        if (t == 0) used = int(nt);  // read after the region's closing barrier
        const int64_t b = K * t / nt, e = K * (t + 1) / nt;
        float* out = t == 0 ? C : scratch + (t - 1) * M * N;
        const int64_t ld = t == 0 ? ldc : N;
        block_gemm(trans_a, trans_b, M, N, e - b, alpha, op_col(A, trans_a, b, lda), lda, op_row(B, trans_b, b, ldb), ldb,
              t == 0 ? beta : 0.f, out, ld);
    }
    parallel_for(0, M, std::max<int64_t>(1, 16384 / N), [&](int64_t r0, int64_t r1) {
        for (int64_t i = r0; i < r1; ++i) {
            float* c = C + i * ldc;
            for (int p = 1; p < used; ++p) {
                const float* s = scratch + (p - 1) * M * N + i * N;
#pragma omp simd
                for (int64_t j = 0; j < N; ++j) c[j] += s[j];
            }
        }
    });
}

// C = beta · C: the product of an empty sum (K = 0).
void scale_only(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
}

}  // namespace

GemmBackend gemm_backend() { return backend; }
void set_gemm_backend(GemmBackend b) { backend = b; }

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    if (reference_mode()) return gemm_reference(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (M == 0 || N == 0) return;
    if (K == 0) return scale_only(M, N, beta, C, ldc);
    if (uses_own_kernel(N) && trans_b) {  // the kernel reads op(B) row by row: transpose Bᵀ once, before the split
        static thread_local std::vector<float> transposed_b;
        transposed_b.resize(size_t(K * N));
        small::transpose_padded(B, ldb, N, K, transposed_b.data(), N);  // B is N × K
        B = transposed_b.data(), ldb = N, trans_b = false;
    }
    const int threads = omp_in_parallel() ? 1 : num_threads();
    const double flops = 2.0 * double(M) * double(N) * double(K);
    // Split the largest dimension; K only when it clearly dominates (its split costs a reduction).
    const int64_t widest = std::max({M, N, K / 4});
    if (threads < 2 || flops < kSplitMinFlops || widest < threads * kMinBlock)
        block_gemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else if (widest == M || widest == N)
        split_rows_or_columns(threads, widest == M, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        split_inner(threads, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                    int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            float sum = 0.f;
            for (int64_t p = 0; p < K; ++p) {
                const float a = trans_a ? A[p * lda + i] : A[i * lda + p];  // op(A)[i][p]
                const float b = trans_b ? B[j * ldb + p] : B[p * ldb + j];  // op(B)[p][j]
                sum += a * b;
            }
            float& c = C[i * ldc + j];
            c = beta == 0.f ? alpha * sum : alpha * sum + beta * c;
        }
}

std::string blas_info() {
    int kind = openblas_get_parallel();  // 0 sequential, 1 pthreads, 2 OpenMP
    std::string s = kind == 2 ? "OpenMP" : kind == 1 ? "pthreads" : "sequential";
    s += std::string(", ") + openblas_get_corename();
    return backend == GemmBackend::own_kernel ? s + "; GEMM: attnlab kernel" : s;
}

}  // namespace attnlab

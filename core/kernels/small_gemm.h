// small_gemm.h — a register-blocked matrix product for the tiny per-head
// products of attention (e.g. 65×65×32 for a ViT on 32×32 images), and the
// inner loop of attnlab's own sgemm (core/kernels/gemm_kernel.h).
//
//   C[i][j] = alpha · Σ_p a(i, p) · B[p][j]   (+ C[i][j] when accumulate)
//   a(i, p) = A[i·lda + p], or A[p·lda + i] with TransA (C = alpha·Aᵀ B)
//
// B is read row by row, so it is always "not transposed"; a product with Bᵀ
// is done by transposing the (small) operand once into a scratch buffer.
// A vector is one machine register: L = 16 floats with AVX-512, 8 with AVX2
// (kLanes). Blocks of 6 rows × 2L columns of C live in 12 vector registers
// while p runs over the inner dimension: per step 2 loads of B, 6 broadcasts
// of a, 12 fused multiply-adds. Column tails take one L-wide vector, then
// scalar code; row tails take smaller blocks. (The vector type must match the
// register width, or GCC keeps the accumulators in memory.)
// Why not sgemm: at these sizes a BLAS call's fixed cost (packing, buffer
// lookup) is a large part of the work (results/code_notes.md). Time O(m·n·k),
// no allocation.
// Reference path: in reference mode (ATTNLAB_REFERENCE=1,
// core/util/reference_mode.h) gemm runs gemm_loop, a plain triple loop.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/util/reference_mode.h"

namespace attnlab::small {

#if defined(__AVX512F__)
constexpr int kLanes = 16;  // floats per register: 32 registers of 16 floats
#else
constexpr int kLanes = 8;   // AVX2 (and the SSE fallback, as register pairs): 16 registers of 8 floats
#endif
typedef float VecF __attribute__((vector_size(4 * kLanes)));  // one register (GCC/Clang vector extension)

inline VecF load_vec(const float* p) {
    VecF v;
    std::memcpy(&v, p, sizeof v);
    return v;
}
inline void store_vec(float* p, VecF v) { std::memcpy(p, &v, sizeof v); }

// a·b in kLanes partial sums (a vector register: a plain sum is one serial chain without
// fast-math), for the row dots of the attention kernels (block-sparse, reformer).
inline float dot(const float* __restrict a, const float* __restrict b, int64_t D) {
    float part[kLanes] = {};
    int64_t d = 0;
    for (; d + kLanes <= D; d += kLanes)
        for (int l = 0; l < kLanes; ++l) part[l] += a[d + l] * b[d + l];
    float s = 0.f;
    for (; d < D; ++d) s += a[d] * b[d];
    for (int l = 0; l < kLanes; ++l) s += part[l];
    return s;
}

// One block of R rows × L·V columns of C (L = kLanes).
template <int R, int V, bool TransA>
inline void gemm_block(int64_t k, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                       bool accumulate, float* C, int64_t ldc) {
    VecF acc[R][V];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) acc[r][v] = VecF{};  // (not "= {}": GCC zeroes that with a memset call)
    for (int64_t p = 0; p < k; ++p) {
        VecF b[V];
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) b[v] = load_vec(B + p * ldb + kLanes * v);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const float a = TransA ? A[p * lda + r] : A[r * lda + p];
#pragma GCC unroll 4
            for (int v = 0; v < V; ++v) acc[r][v] += a * b[v];
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
        for (int v = 0; v < V; ++v) {
            float* c = C + r * ldc + kLanes * v;
            store_vec(c, accumulate ? load_vec(c) + alpha * acc[r][v] : alpha * acc[r][v]);
        }
}

// R rows of C, all n columns: 2L-wide blocks, one L-wide block, then scalars.
template <int R, bool TransA>
inline void gemm_rows(int64_t n, int64_t k, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                      bool accumulate, float* C, int64_t ldc) {
    int64_t j = 0;
    for (; j + 2 * kLanes <= n; j += 2 * kLanes)
        gemm_block<R, 2, TransA>(k, alpha, A, lda, B + j, ldb, accumulate, C + j, ldc);
    if (j + kLanes <= n) gemm_block<R, 1, TransA>(k, alpha, A, lda, B + j, ldb, accumulate, C + j, ldc), j += kLanes;
    for (; j < n; ++j)
        for (int r = 0; r < R; ++r) {
            float s = 0.f;
            for (int64_t p = 0; p < k; ++p) s += (TransA ? A[p * lda + r] : A[r * lda + p]) * B[p * ldb + j];
            C[r * ldc + j] = accumulate ? C[r * ldc + j] + alpha * s : alpha * s;
        }
}

// The same product as a plain triple loop: what gemm runs in reference mode.
template <bool TransA>
void gemm_loop(int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
               bool accumulate, float* C, int64_t ldc) {
    for (int64_t i = 0; i < m; ++i)
        for (int64_t j = 0; j < n; ++j) {
            float s = 0.f;
            for (int64_t p = 0; p < k; ++p) s += (TransA ? A[p * lda + i] : A[i * lda + p]) * B[p * ldb + j];
            C[i * ldc + j] = accumulate ? C[i * ldc + j] + alpha * s : alpha * s;
        }
}

// C (m × n) = alpha · a B (+ C): see the header. Single-threaded. Rows go in
// blocks of R (6, or 12 = 24 accumulator registers for the large products of
// core/kernels/gemm_kernel.cpp), then one block of 6 when R = 12, then the tail.
template <bool TransA, int R = 6>
void gemm(int64_t m, int64_t n, int64_t k, float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
          bool accumulate, float* C, int64_t ldc) {
    static_assert(R == 6 || R == 12, "row blocks of 6 or 12");
    if (reference_mode()) return gemm_loop<TransA>(m, n, k, alpha, A, lda, B, ldb, accumulate, C, ldc);
    auto a_rows = [&](int64_t i) { return TransA ? A + i : A + i * lda; };  // where row i of a starts
    int64_t i = 0;
    for (; i + R <= m; i += R) gemm_rows<R, TransA>(n, k, alpha, a_rows(i), lda, B, ldb, accumulate, C + i * ldc, ldc);
    if (R == 12 && i + 6 <= m) {
        gemm_rows<6, TransA>(n, k, alpha, a_rows(i), lda, B, ldb, accumulate, C + i * ldc, ldc);
        i += 6;
    }
    const float* a = a_rows(i);
    float* c = C + i * ldc;
    switch (m - i) {
        case 5: gemm_rows<5, TransA>(n, k, alpha, a, lda, B, ldb, accumulate, c, ldc); break;
        case 4: gemm_rows<4, TransA>(n, k, alpha, a, lda, B, ldb, accumulate, c, ldc); break;
        case 3: gemm_rows<3, TransA>(n, k, alpha, a, lda, B, ldb, accumulate, c, ldc); break;
        case 2: gemm_rows<2, TransA>(n, k, alpha, a, lda, B, ldb, accumulate, c, ldc); break;
        case 1: gemm_rows<1, TransA>(n, k, alpha, a, lda, B, ldb, accumulate, c, ldc); break;
        default: break;
    }
}

// dst (cols × rows, row stride ld_dst) = srcᵀ, src rows × cols with row stride
// ld_src; columns rows..ld_dst-1 of dst are zeroed (padding read by gemm).
inline void transpose_padded(const float* src, int64_t ld_src, int64_t rows, int64_t cols, float* dst, int64_t ld_dst) {
    for (int64_t c = 0; c < cols; ++c) {
        float* d = dst + c * ld_dst;
        for (int64_t r = 0; r < rows; ++r) d[r] = src[r * ld_src + c];
        for (int64_t r = rows; r < ld_dst; ++r) d[r] = 0.f;
    }
}

}  // namespace attnlab::small

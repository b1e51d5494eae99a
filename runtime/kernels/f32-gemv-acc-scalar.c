/*
 * f32-gemv-acc-scalar.c - y[0:m] += A . x, A packed in HLF_NR-row panels.
 *
 * Portable C99.  One panel column (HLF_NR weights) times one x value updates
 * HLF_NR outputs: a vertical multiply-add with no reduction.  With GCC or
 * clang the panel column is a native vector (vector_size extension: 2 SSE /
 * 1 AVX / 2 NEON registers); elsewhere plain loops.  Four column streams keep
 * four independent accumulators in flight to hide the multiply-add latency.
 */
#include <string.h>

#include "hlf_kernels.h"

/* Columns consumed per inner iteration (independent accumulators). */
#define COLS_UNROLL 4

#if defined(__GNUC__) || defined(__clang__)
typedef float hlf_vnr __attribute__((vector_size(HLF_NR * sizeof(float))));

/* Multiply-add of one panel column (HLF_NR weights at p) by the scalar s.  A
 * macro, not a function: vectors passed by value trip GCC's -Wpsabi. */
#define COL_FMA(acc, p, s)            \
    do {                              \
        hlf_vnr col_;                 \
        memcpy(&col_, (p), sizeof col_); \
        (acc) += col_ * (s);          \
    } while (0)

void hlf_f32_gemv_acc(size_t m, size_t n, const float *HLF_RESTRICT a,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        hlf_vnr acc0 = {0}, acc1 = {0}, acc2 = {0}, acc3 = {0};
        size_t j = 0;
        for (; j + COLS_UNROLL <= n; j += COLS_UNROLL) {
            COL_FMA(acc0, a, x[j]);
            COL_FMA(acc1, a + HLF_NR, x[j + 1]);
            COL_FMA(acc2, a + 2 * HLF_NR, x[j + 2]);
            COL_FMA(acc3, a + 3 * HLF_NR, x[j + 3]);
            a += COLS_UNROLL * HLF_NR;
        }
        for (; j < n; j++) {
            COL_FMA(acc0, a, x[j]);
            a += HLF_NR;
        }
        float out[HLF_NR];
        const hlf_vnr acc = (acc0 + acc1) + (acc2 + acc3);
        memcpy(out, &acc, sizeof out);
        /* The last panel may hold fewer than HLF_NR real rows. */
        const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
        for (size_t r = 0; r < rows; r++) {
            y[row0 + r] += out[r];
        }
    }
}
#else
void hlf_f32_gemv_acc(size_t m, size_t n, const float *HLF_RESTRICT a,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        float acc[HLF_NR] = {0};
        for (size_t j = 0; j < n; j++) {
            for (int r = 0; r < HLF_NR; r++) {
                acc[r] += a[r] * x[j];
            }
            a += HLF_NR;
        }
        const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
        for (size_t r = 0; r < rows; r++) {
            y[row0 + r] += acc[r];
        }
    }
}
#endif

/*
 * f32-gemv-acc-scalar.c - y[0:m] += A . x, A packed in HLF_NR-row panels.
 *
 * Portable C99.  The inner loops run over the HLF_NR lanes of a panel column
 * with no reduction, so compilers vectorize them at -O2/-O3 without
 * -ffast-math; four column streams keep four independent accumulator sets in
 * flight to hide the multiply-add latency.
 */
#include "hlf_kernels.h"

/* Columns consumed per inner iteration (independent accumulator sets). */
#define COLS_UNROLL 4

void hlf_f32_gemv_acc(size_t m, size_t n, const float *HLF_RESTRICT a,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        float acc0[HLF_NR] = {0}, acc1[HLF_NR] = {0}, acc2[HLF_NR] = {0}, acc3[HLF_NR] = {0};
        size_t j = 0;
        for (; j + COLS_UNROLL <= n; j += COLS_UNROLL) {
            const float x0 = x[j], x1 = x[j + 1], x2 = x[j + 2], x3 = x[j + 3];
            for (int r = 0; r < HLF_NR; r++) {
                acc0[r] += a[r] * x0;
                acc1[r] += a[HLF_NR + r] * x1;
                acc2[r] += a[2 * HLF_NR + r] * x2;
                acc3[r] += a[3 * HLF_NR + r] * x3;
            }
            a += COLS_UNROLL * HLF_NR;
        }
        for (; j < n; j++) {
            const float xj = x[j];
            for (int r = 0; r < HLF_NR; r++) {
                acc0[r] += a[r] * xj;
            }
            a += HLF_NR;
        }
        /* The last panel may hold fewer than HLF_NR real rows. */
        const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
        for (size_t r = 0; r < rows; r++) {
            y[row0 + r] += (acc0[r] + acc1[r]) + (acc2[r] + acc3[r]);
        }
    }
}

/*
 * f16-gemv-acc-scalar.c - y[0:m] += A . x, A fp16 in the HLF_NR-row panels
 * of hlf_kernels.h (hlf_qkernels.h), fp32 arithmetic.
 *
 * Portable C99, the loop of f32-gemv-acc-scalar.c with each panel column
 * widened from fp16 (hlf_f16.h) before the multiply-add; the short last panel
 * (m % HLF_NR rows, unpadded) by hlf_f16_short_panel_acc.  Widening with
 * VCVTPH2PS (F16C; the avx2 and avx512f variants of the dispatched build)
 * instead of the bit arithmetic: 2048 x 512 GEMV 157 -> 49 us (gcc, AVX2
 * variant, 2-core Xeon of the Sapphire Rapids class; the same accumulation
 * order, so the same results).
 */
#include "../hlf_f16.h"
#include "../hlf_qkernels.h"

#ifdef HLF_HAVE_VEC
/* Columns per inner iteration: 8 accumulator vectors in all. */
#define COLS (HLF_VPP >= 4 ? 2 : HLF_VPP == 2 ? 4 : 8)

void hlf_f16_gemv_acc(size_t m, size_t n, const uint16_t *HLF_RESTRICT a,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    size_t row0 = 0;
    for (; row0 + HLF_NR <= m; row0 += HLF_NR) {
        hlf_vec acc[COLS][HLF_VPP];
        for (int c = 0; c < COLS; c++) {
            for (int v = 0; v < HLF_VPP; v++) {
                acc[c][v] = (hlf_vec){0};
            }
        }
        size_t j = 0;
        for (; j + COLS <= n; j += COLS) {
#pragma GCC unroll 8
            for (int c = 0; c < COLS; c++) {
                const float xj = x[j + c];
#pragma GCC unroll 4
                for (int v = 0; v < HLF_VPP; v++) {
                    acc[c][v] += hlf_f16_load(a + c * HLF_NR + v * HLF_VW) * xj;
                }
            }
            a += COLS * HLF_NR;
        }
        for (; j < n; j++) {
#pragma GCC unroll 4
            for (int v = 0; v < HLF_VPP; v++) {
                acc[0][v] += hlf_f16_load(a + v * HLF_VW) * x[j];
            }
            a += HLF_NR;
        }
        hlf_vec sum[HLF_VPP];
#pragma GCC unroll 4
        for (int v = 0; v < HLF_VPP; v++) {
            sum[v] = acc[0][v];
#pragma GCC unroll 8
            for (int c = 1; c < COLS; c++) {
                sum[v] += acc[c][v];
            }
        }
        HLF_ADD_PANEL(y + row0, sum, HLF_NR);
    }
    if (row0 < m) {
        hlf_f16_short_panel_acc(m - row0, n, a, x, y + row0);
    }
}
#else
void hlf_f16_gemv_acc(size_t m, size_t n, const uint16_t *HLF_RESTRICT a,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    size_t row0 = 0;
    for (; row0 + HLF_NR <= m; row0 += HLF_NR) {
        float acc[HLF_NR] = {0};
        for (size_t j = 0; j < n; j++) {
            for (int r = 0; r < HLF_NR; r++) {
                acc[r] += hlf_f16_to_f32(a[r]) * x[j];
            }
            a += HLF_NR;
        }
        for (size_t r = 0; r < HLF_NR; r++) {
            y[row0 + r] += acc[r];
        }
    }
    if (row0 < m) {
        hlf_f16_short_panel_acc(m - row0, n, a, x, y + row0);
    }
}
#endif

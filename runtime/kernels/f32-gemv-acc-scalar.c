/*
 * f32-gemv-acc-scalar.c - y[0:m] += A . x, A packed in HLF_NR-row panels.
 *
 * Portable C99.  One panel column (HLF_NR weights) times one x value updates
 * HLF_NR outputs: a vertical multiply-add with no reduction.  With GCC or
 * clang a panel column is HLF_VPP native vectors (hlf_vec.h); elsewhere
 * plain loops.  COLS columns are consumed per iteration into independent
 * accumulators (COLS x HLF_VPP of them, 8 in all) to hide the multiply-add
 * latency without running out of the 16 vector registers of SSE/AVX.  The
 * short last panel (m % HLF_NR rows, packed compactly) goes through
 * hlf_gemv_short_panel (hlf_vec.h).
 */
#include "hlf_vec.h"

#ifdef HLF_HAVE_VEC
/* Columns per inner iteration: 8 accumulator vectors in all. */
#define COLS (HLF_VPP >= 4 ? 2 : HLF_VPP == 2 ? 4 : 8)

void hlf_f32_gemv_acc(size_t m, size_t n, const float *HLF_RESTRICT a,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    const size_t full = m - m % HLF_NR; /* rows in full panels; the rest: the short panel */
    for (size_t row0 = 0; row0 < full; row0 += HLF_NR) {
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
                    hlf_vec w;
                    HLF_VLOAD(w, a + c * HLF_NR + v * HLF_VW);
                    acc[c][v] += w * xj;
                }
            }
            a += COLS * HLF_NR;
        }
        for (; j < n; j++) {
#pragma GCC unroll 4
            for (int v = 0; v < HLF_VPP; v++) {
                hlf_vec w;
                HLF_VLOAD(w, a + v * HLF_VW);
                acc[0][v] += w * x[j];
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
    if (full < m) {
        hlf_gemv_short_panel(m - full, n, a, x, y + full);
    }
}
#else
void hlf_f32_gemv_acc(size_t m, size_t n, const float *HLF_RESTRICT a,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    const size_t full = m - m % HLF_NR;
    for (size_t row0 = 0; row0 < full; row0 += HLF_NR) {
        float acc[HLF_NR] = {0};
        for (size_t j = 0; j < n; j++) {
            for (int r = 0; r < HLF_NR; r++) {
                acc[r] += a[r] * x[j];
            }
            a += HLF_NR;
        }
        for (size_t r = 0; r < HLF_NR; r++) {
            y[row0 + r] += acc[r];
        }
    }
    if (full < m) {
        hlf_gemv_short_panel(m - full, n, a, x, y + full);
    }
}
#endif

/*
 * qs8-gemv-acc-scalar.c - y[0:m] += (a_scale[r] * x_scale) * (Aq . xq)[r],
 * int8 weights in the cell layout of hlf_qkernels.h (panels of HLF_NR rows,
 * cells of 16 columns stored row by row).
 *
 * Portable C99: per cell, each row's 16-term int8 dot product is summed in
 * int32 (the compiler vectorizes the 16-term reduction: integer sums are
 * exact, so no -ffast-math is needed); the row sums are scaled to fp32 once
 * per panel.
 */
#include "../hlf_qkernels.h"

void hlf_qs8_gemv_acc(size_t m, size_t n, const int8_t *HLF_RESTRICT a,
                      const float *HLF_RESTRICT a_scale, const int8_t *HLF_RESTRICT xq,
                      float x_scale, float *HLF_RESTRICT y) {
    const size_t cells = HLF_QS8_PADDED(n) / HLF_QS8_KC;
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        int32_t acc[HLF_NR] = {0};
        for (size_t k = 0; k < cells; k++) {
            const int8_t *xk = xq + k * HLF_QS8_KC;
            for (int r = 0; r < HLF_NR; r++) {
                int32_t s = 0;
                for (int j = 0; j < HLF_QS8_KC; j++) {
                    s += (int32_t)a[j] * (int32_t)xk[j];
                }
                acc[r] += s;
                a += HLF_QS8_KC;
            }
        }
        /* The last panel may hold fewer than HLF_NR real rows. */
        const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
        for (size_t r = 0; r < rows; r++) {
            y[row0 + r] += (a_scale[row0 + r] * x_scale) * (float)acc[r];
        }
    }
}

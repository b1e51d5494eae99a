/*
 * qs8-gemm-acc-scalar.c - the int8 GEMV for nv vectors (input projections
 * over all time steps), portable C99.
 *
 * Panel-outer order, as f32-gemm-acc-scalar.c: one panel (HLF_NR rows x
 * HLF_QS8_PADDED(n) bytes) stays in cache while every vector passes over it,
 * so the weights come from memory once per call.
 */
#include "../hlf_qkernels.h"

void hlf_qs8_gemm_acc(size_t nv, size_t m, size_t n, const int8_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT a_scale, const int8_t *HLF_RESTRICT xq,
                      size_t ldq, const float *HLF_RESTRICT x_scale,
                      float *HLF_RESTRICT y, size_t ldy) {
    const size_t panel = (size_t)HLF_NR * HLF_QS8_PADDED(n);
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
        const int8_t *w = a_packed + (row0 / HLF_NR) * panel;
        for (size_t v = 0; v < nv; v++) {
            hlf_qs8_gemv_acc(rows, n, w, a_scale + row0, xq + v * ldq, x_scale[v], y + v * ldy + row0);
        }
    }
}

/*
 * qs8-gemm-acc-neon.c - hlf_qs8_gemm_acc for AArch64: the int8 GEMV
 * (qs8-gemv-acc-neon.c) for nv vectors, panel-outer so that a panel (8 rows
 * x HLF_QS8_PADDED(n) bytes, 5 KiB at n = 650) stays in L1 while every
 * vector passes over it: the weights come from memory once per call.  The
 * instructions per MAC are the GEMV's (the weight loads are 2 of 29 per
 * cell, so sharing them between vectors would save under 7%).
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

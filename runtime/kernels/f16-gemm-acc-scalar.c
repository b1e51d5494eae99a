/*
 * f16-gemm-acc-scalar.c - y[v] += A . x[v] for nv vectors, A fp16 packed in
 * HLF_NR-row panels (hlf_qkernels.h), fp32 arithmetic.
 *
 * Portable C99, the loop of f32-gemm-acc-scalar.c: VECS vectors share one
 * pass over each panel, so each panel column is widened once per VECS
 * vectors, and the weights come from memory once per call (panel-outer).
 */
#include "../hlf_f16.h"
#include "../hlf_qkernels.h"

#ifdef HLF_HAVE_VEC
#define VECS (HLF_VPP >= 4 ? 2 : HLF_VPP == 2 ? 4 : 8)

void hlf_f16_gemm_acc(size_t nv, size_t m, size_t n,
                      const uint16_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy) {
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        const uint16_t *panel = a_packed + row0 * n;
        const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
        size_t v0 = 0;
        /* the short last panel (unpadded, rows < HLF_NR): every vector by the GEMV, below */
        for (; rows == HLF_NR && v0 + VECS <= nv; v0 += VECS) {
            const float *xv = x + v0 * ldx;
            const uint16_t *a = panel;
            hlf_vec acc[VECS][HLF_VPP];
            for (int i = 0; i < VECS; i++) {
                for (int v = 0; v < HLF_VPP; v++) {
                    acc[i][v] = (hlf_vec){0};
                }
            }
            for (size_t j = 0; j < n; j++) {
                hlf_vec w[HLF_VPP];
#pragma GCC unroll 4
                for (int v = 0; v < HLF_VPP; v++) {
                    w[v] = hlf_f16_load(a + v * HLF_VW);
                }
#pragma GCC unroll 8
                for (int i = 0; i < VECS; i++) {
                    const float xj = xv[i * ldx + j];
#pragma GCC unroll 4
                    for (int v = 0; v < HLF_VPP; v++) {
                        acc[i][v] += w[v] * xj;
                    }
                }
                a += HLF_NR;
            }
            for (int i = 0; i < VECS; i++) {
                HLF_ADD_PANEL(y + (v0 + (size_t)i) * ldy + row0, acc[i], rows);
            }
        }
        for (; v0 < nv; v0++) {
            hlf_f16_gemv_acc(rows, n, panel, x + v0 * ldx, y + v0 * ldy + row0);
        }
    }
}
#else
void hlf_f16_gemm_acc(size_t nv, size_t m, size_t n,
                      const uint16_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy) {
    for (size_t v = 0; v < nv; v++) {
        hlf_f16_gemv_acc(m, n, a_packed, x + v * ldx, y + v * ldy);
    }
}
#endif

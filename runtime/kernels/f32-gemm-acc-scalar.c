/*
 * f32-gemm-acc-scalar.c - y[v] += A . x[v] for nv vectors, A packed in
 * HLF_NR-row panels.
 *
 * Portable C99 (native vectors under GCC/clang, hlf_vec.h, as the GEMV).
 * VECS input vectors share one pass over each panel, so the weights are
 * streamed once per VECS vectors (input projections over all time steps).
 */
#include "hlf_vec.h"

#ifdef HLF_HAVE_VEC
/* Input vectors per pass over a panel: 8 accumulator vectors in all. */
#define VECS (HLF_VPP >= 4 ? 2 : HLF_VPP == 2 ? 4 : 8)

void hlf_f32_gemm_acc(size_t nv, size_t m, size_t n,
                      const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy) {
    /* Panel-outer order: one panel (HLF_NR x n weights) stays in cache while
     * every vector passes over it, so the weights come from memory once. */
    const size_t full = m - m % HLF_NR; /* rows in full panels; the rest: the short panel */
    for (size_t row0 = 0; row0 < full; row0 += HLF_NR) {
        const float *panel = a_packed + row0 * n;
        const size_t rows = HLF_NR;
        size_t v0 = 0;
        for (; v0 + VECS <= nv; v0 += VECS) {
            const float *xv = x + v0 * ldx;
            const float *a = panel;
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
                    HLF_VLOAD(w[v], a + v * HLF_VW);
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
        for (; v0 < nv; v0++) { /* remaining vectors: this panel's rows one vector at a time */
            hlf_f32_gemv_acc(rows, n, panel, x + v0 * ldx, y + v0 * ldy + row0);
        }
    }
    for (size_t v = 0; full < m && v < nv; v++) { /* the short panel, one vector at a time */
        hlf_gemv_short_panel(m - full, n, a_packed + full * n, x + v * ldx, y + v * ldy + full);
    }
}
#else
void hlf_f32_gemm_acc(size_t nv, size_t m, size_t n,
                      const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy) {
    for (size_t v = 0; v < nv; v++) {
        hlf_f32_gemv_acc(m, n, a_packed, x + v * ldx, y + v * ldy);
    }
}
#endif

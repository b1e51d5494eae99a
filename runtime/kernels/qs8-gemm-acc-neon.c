/*
 * qs8-gemm-acc-neon.c - hlf_qs8_gemm_acc for AArch64 ARMv8.0: the int8 GEMV
 * form of qs8-gemv-acc-neon.c (SMULL + SMLAL2 + SADALP per row and cell) for
 * two vectors at once, so each 16-byte row of weights is loaded once for
 * both: per cell, 4 LDP q (weights) + 2 LDR q (x) + 48 + loop for 256 MACs.
 * 16 int32x4 accumulators (8 rows x 2 vectors) + 2 x + temporaries fit the
 * 32 vector registers.  Panel-outer order: a panel (8 rows x
 * HLF_QS8_PADDED(n) bytes, 5 KiB at n = 650) stays in L1 while every vector
 * passes over it, so the weights come from memory once per call.  A single
 * left-over vector uses the GEMV.  Measured with the QEMU plugin (bench/quant.py,
 * GCC 12 -O2 -mcpu=cortex-a73): 0.252 instructions/MAC at 2600 x 650 x 16
 * vectors, against 0.266 for one vector at a time (GCC keeps two of the 16
 * accumulators on the stack: 4 loads/stores per cell above the 0.223 count).
 */
#include <arm_neon.h>

#include "../hlf_qkernels.h"

#if HLF_NR != 8
#error "qs8-gemm-acc-neon.c is written for HLF_NR == 8"
#endif

/* a += row w . x0, b += row w . x1 (16 int8 each, 4 partial int32 sums). */
#define QS8_ROW2(a, b, w, x0, x1)                                                                 \
    do {                                                                                          \
        const int8x16_t w_ = (w);                                                                 \
        a = vpadalq_s16(a, vmlal_high_s8(vmull_s8(vget_low_s8(w_), vget_low_s8(x0)), w_, x0));    \
        b = vpadalq_s16(b, vmlal_high_s8(vmull_s8(vget_low_s8(w_), vget_low_s8(x1)), w_, x1));    \
    } while (0)

/* y[0:mr] += (scale[r] * xs) * (row sums of s0..s7), mr <= 8 */
static inline void store_rows(size_t mr, int32x4_t s0, int32x4_t s1, int32x4_t s2, int32x4_t s3,
                              int32x4_t s4, int32x4_t s5, int32x4_t s6, int32x4_t s7,
                              const float *scale, float xs, float *y) {
    const int32x4_t r03 = vpaddq_s32(vpaddq_s32(s0, s1), vpaddq_s32(s2, s3));
    const int32x4_t r47 = vpaddq_s32(vpaddq_s32(s4, s5), vpaddq_s32(s6, s7));
    const float32x4_t lo = vmulq_f32(vmulq_n_f32(vld1q_f32(scale), xs), vcvtq_f32_s32(r03));
    const float32x4_t hi = vmulq_f32(vmulq_n_f32(vld1q_f32(scale + 4), xs), vcvtq_f32_s32(r47));
    if (mr == HLF_NR) {
        vst1q_f32(y, vaddq_f32(vld1q_f32(y), lo));
        vst1q_f32(y + 4, vaddq_f32(vld1q_f32(y + 4), hi));
    } else {
        float buf[HLF_NR];
        vst1q_f32(buf, lo);
        vst1q_f32(buf + 4, hi);
        for (size_t r = 0; r < mr; r++) {
            y[r] += buf[r];
        }
    }
}

static void panel_2v(size_t mr, size_t cells, const int8_t *a, const float *scale,
                     const int8_t *x0, const int8_t *x1, float xs0, float xs1, float *y0, float *y1) {
    int32x4_t a0 = vdupq_n_s32(0), a1 = vdupq_n_s32(0), a2 = vdupq_n_s32(0), a3 = vdupq_n_s32(0);
    int32x4_t a4 = vdupq_n_s32(0), a5 = vdupq_n_s32(0), a6 = vdupq_n_s32(0), a7 = vdupq_n_s32(0);
    int32x4_t b0 = vdupq_n_s32(0), b1 = vdupq_n_s32(0), b2 = vdupq_n_s32(0), b3 = vdupq_n_s32(0);
    int32x4_t b4 = vdupq_n_s32(0), b5 = vdupq_n_s32(0), b6 = vdupq_n_s32(0), b7 = vdupq_n_s32(0);
    for (size_t k = cells; k != 0; k--) {
        const int8x16_t v0 = vld1q_s8(x0), v1 = vld1q_s8(x1);
        QS8_ROW2(a0, b0, vld1q_s8(a), v0, v1);
        QS8_ROW2(a1, b1, vld1q_s8(a + 16), v0, v1);
        QS8_ROW2(a2, b2, vld1q_s8(a + 32), v0, v1);
        QS8_ROW2(a3, b3, vld1q_s8(a + 48), v0, v1);
        QS8_ROW2(a4, b4, vld1q_s8(a + 64), v0, v1);
        QS8_ROW2(a5, b5, vld1q_s8(a + 80), v0, v1);
        QS8_ROW2(a6, b6, vld1q_s8(a + 96), v0, v1);
        QS8_ROW2(a7, b7, vld1q_s8(a + 112), v0, v1);
        x0 += HLF_QS8_KC;
        x1 += HLF_QS8_KC;
        a += 128;
    }
    store_rows(mr, a0, a1, a2, a3, a4, a5, a6, a7, scale, xs0, y0);
    store_rows(mr, b0, b1, b2, b3, b4, b5, b6, b7, scale, xs1, y1);
}

void hlf_qs8_gemm_acc(size_t nv, size_t m, size_t n, const int8_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT a_scale, const int8_t *HLF_RESTRICT xq,
                      size_t ldq, const float *HLF_RESTRICT x_scale,
                      float *HLF_RESTRICT y, size_t ldy) {
    const size_t cells = HLF_QS8_PADDED(n) / HLF_QS8_KC;
    const size_t panel = (size_t)HLF_NR * HLF_QS8_PADDED(n);
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
        const int8_t *w = a_packed + (row0 / HLF_NR) * panel;
        size_t v = 0;
        for (; v + 2 <= nv; v += 2) {
            panel_2v(rows, cells, w, a_scale + row0, xq + v * ldq, xq + (v + 1) * ldq, x_scale[v],
                     x_scale[v + 1], y + v * ldy + row0, y + (v + 1) * ldy + row0);
        }
        if (v < nv) {
            hlf_qs8_gemv_acc(rows, n, w, a_scale + row0, xq + v * ldq, x_scale[v], y + v * ldy + row0);
        }
    }
}

/*
 * f16-gemm-acc-neon.c - hlf_f16_gemm_acc for AArch64 (ARMv8.0): fp16
 * weights (8-row panels, hlf_kernels.h layout), fp32 arithmetic, nv vectors.
 *
 * Four vectors share each widened panel column: per 4 columns x 8 rows x 4
 * vectors = 128 MACs, 1 LD1x4 (weights), 4 LDR q (x), 8 FCVTL(2), 32 FMLA,
 * loop: the conversion costs 8 instructions per 128 MACs instead of 32.
 * Panel-outer order (weights from memory once per call); 2 or 3 left-over
 * vectors alias the last valid one (results not stored), a single one uses
 * the GEMV.
 */
#include <arm_neon.h>

#include "../hlf_qkernels.h"

#if HLF_NR != 8
#error "f16-gemm-acc-neon.c is written for HLF_NR == 8"
#endif

#define F16_LO(w) vcvt_f32_f16(vget_low_f16(vreinterpretq_f16_u16(w)))
#define F16_HI(w) vcvt_high_f32_f16(vreinterpretq_f16_u16(w))

/* One panel column (wl, wh) times lane l of the four vectors' x registers. */
#define F16_COL4(w, l)                                  \
    do {                                                \
        const float32x4_t wl_ = F16_LO(w);              \
        const float32x4_t wh_ = F16_HI(w);              \
        c0l = vfmaq_laneq_f32(c0l, wl_, x0, l);         \
        c0h = vfmaq_laneq_f32(c0h, wh_, x0, l);         \
        c1l = vfmaq_laneq_f32(c1l, wl_, x1, l);         \
        c1h = vfmaq_laneq_f32(c1h, wh_, x1, l);         \
        c2l = vfmaq_laneq_f32(c2l, wl_, x2, l);         \
        c2h = vfmaq_laneq_f32(c2h, wh_, x2, l);         \
        c3l = vfmaq_laneq_f32(c3l, wl_, x3, l);         \
        c3h = vfmaq_laneq_f32(c3h, wh_, x3, l);         \
    } while (0)

/* y[0:8] += lo:hi: a full panel (the short last panel goes through the GEMV). */
static inline void add_panel(float32x4_t lo, float32x4_t hi, float *y) {
    vst1q_f32(y, vaddq_f32(vld1q_f32(y), lo));
    vst1q_f32(y + 4, vaddq_f32(vld1q_f32(y + 4), hi));
}

static void panel_4v(size_t nvr, size_t n, const uint16_t *w,
                     const float *p0, const float *p1, const float *p2, const float *p3,
                     float *y0, float *y1, float *y2, float *y3) {
    float32x4_t c0l = vdupq_n_f32(0.0f), c0h = vdupq_n_f32(0.0f);
    float32x4_t c1l = vdupq_n_f32(0.0f), c1h = vdupq_n_f32(0.0f);
    float32x4_t c2l = vdupq_n_f32(0.0f), c2h = vdupq_n_f32(0.0f);
    float32x4_t c3l = vdupq_n_f32(0.0f), c3h = vdupq_n_f32(0.0f);
    size_t k = n;
    for (; k >= 4; k -= 4) {
        const float32x4_t x0 = vld1q_f32(p0);
        const float32x4_t x1 = vld1q_f32(p1);
        const float32x4_t x2 = vld1q_f32(p2);
        const float32x4_t x3 = vld1q_f32(p3);
        const uint16x8x4_t wv = vld1q_u16_x4(w);
        p0 += 4;
        p1 += 4;
        p2 += 4;
        p3 += 4;
        w += 32;
        F16_COL4(wv.val[0], 0);
        F16_COL4(wv.val[1], 1);
        F16_COL4(wv.val[2], 2);
        F16_COL4(wv.val[3], 3);
    }
    for (; k > 0; k--) {
        const uint16x8_t wq = vld1q_u16(w);
        w += 8;
        const float32x4_t wl = F16_LO(wq), wh = F16_HI(wq);
        const float32x4_t s0 = vld1q_dup_f32(p0++), s1 = vld1q_dup_f32(p1++);
        const float32x4_t s2 = vld1q_dup_f32(p2++), s3 = vld1q_dup_f32(p3++);
        c0l = vfmaq_f32(c0l, wl, s0);
        c0h = vfmaq_f32(c0h, wh, s0);
        c1l = vfmaq_f32(c1l, wl, s1);
        c1h = vfmaq_f32(c1h, wh, s1);
        c2l = vfmaq_f32(c2l, wl, s2);
        c2h = vfmaq_f32(c2h, wh, s2);
        c3l = vfmaq_f32(c3l, wl, s3);
        c3h = vfmaq_f32(c3h, wh, s3);
    }
    add_panel(c0l, c0h, y0);
    if (nvr > 1) {
        add_panel(c1l, c1h, y1);
    }
    if (nvr > 2) {
        add_panel(c2l, c2h, y2);
    }
    if (nvr > 3) {
        add_panel(c3l, c3h, y3);
    }
}

void hlf_f16_gemm_acc(size_t nv, size_t m, size_t n,
                      const uint16_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy) {
    if (n == 1) { /* one column (rank-1 B·t): the GEMV's axpy per vector */
        for (size_t v = 0; v < nv; v++) {
            hlf_f16_gemv_acc(m, 1, a_packed, x + v * ldx, y + v * ldy);
        }
        return;
    }
    for (size_t i = 0; i < m; i += HLF_NR) {
        const size_t mr = m - i < HLF_NR ? m - i : HLF_NR;
        const uint16_t *w = a_packed + i * n;
        for (size_t v = 0; v < nv; v += 4) {
            const size_t nvr = nv - v < 4 ? nv - v : 4;
            const float *xv = x + v * ldx;
            float *yv = y + v * ldy + i;
            if (nvr == 1 || mr < HLF_NR) { /* one vector, or the short last panel (unpadded) */
                for (size_t u = 0; u < nvr; u++) {
                    hlf_f16_gemv_acc(mr, n, w, xv + u * ldx, yv + u * ldy);
                }
                continue;
            }
            const float *x1 = xv + ldx;
            const float *x2 = nvr > 2 ? xv + 2 * ldx : x1;
            const float *x3 = nvr > 3 ? xv + 3 * ldx : x2;
            float *y1 = yv + ldy;
            float *y2 = nvr > 2 ? yv + 2 * ldy : y1;
            float *y3 = nvr > 3 ? yv + 3 * ldy : y2;
            panel_4v(nvr, n, w, xv, x1, x2, x3, yv, y1, y2, y3);
        }
    }
}

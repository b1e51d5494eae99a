/*
 * f32-spmm-bcsr-acc-neon.c - y[v] += A . x[v] for nv vectors, A in BCSR
 * with br x 1 blocks (hlf_sparse.h), for AArch64 with arm_neon.h (C99).
 *
 * Four vectors share each load of a block: per block, one load of the br
 * weights and one LDRH of the column serve 4 * br multiply-adds (per
 * vector: LDR s of x[col] by register offset and br/4 FMLA by element).
 *   br = 8: 1 LDP q + 1 LDRH + 4 LDR + 8 FMLA + loop ~ 0.47 instructions
 *           per stored weight and vector (dense panel GEMM: 0.375);
 *   br = 4: 1 LDR q + 1 LDRH + 4 LDR + 4 FMLA + loop ~ 0.7.
 * Left-over vectors (nv % 4) and other br use the GEMV.
 */
#include <arm_neon.h>
#include <stddef.h>

#include "../hlf_sparse.h"

/* y[0:rows] += acc (the 4 lanes), rows <= 4. */
static inline void add4(size_t rows, float32x4_t acc, float *HLF_RESTRICT y) {
    if (rows == 4) {
        vst1q_f32(y, vaddq_f32(vld1q_f32(y), acc));
    } else {
        float buf[4];
        vst1q_f32(buf, acc);
        for (size_t r = 0; r < rows; r++) {
            y[r] += buf[r];
        }
    }
}

/* y[0:rows] += lo:hi (8 lanes), rows <= 8. */
static inline void add8(size_t rows, float32x4_t lo, float32x4_t hi, float *HLF_RESTRICT y) {
    add4(rows < 4 ? rows : 4, lo, y);
    if (rows > 4) {
        add4(rows - 4, hi, y + 4);
    }
}

/* One 8x1 block (weights at w, column j) for the four vectors. */
#define B8_BLOCK(w, j)                                                      \
    do {                                                                    \
        const float32x4_t wl_ = vld1q_f32(w), wh_ = vld1q_f32((w) + 4);     \
        const size_t j_ = (j);                                              \
        const float s0_ = x0[j_], s1_ = x1[j_], s2_ = x2[j_], s3_ = x3[j_]; \
        a0l = vfmaq_n_f32(a0l, wl_, s0_);                                   \
        a0h = vfmaq_n_f32(a0h, wh_, s0_);                                   \
        a1l = vfmaq_n_f32(a1l, wl_, s1_);                                   \
        a1h = vfmaq_n_f32(a1h, wh_, s1_);                                   \
        a2l = vfmaq_n_f32(a2l, wl_, s2_);                                   \
        a2h = vfmaq_n_f32(a2h, wh_, s2_);                                   \
        a3l = vfmaq_n_f32(a3l, wl_, s3_);                                   \
        a3h = vfmaq_n_f32(a3h, wh_, s3_);                                   \
    } while (0)

static void spmm_b8_4v(size_t m, const uint32_t *HLF_RESTRICT block_ptr,
                       const uint16_t *HLF_RESTRICT block_col, const float *HLF_RESTRICT values,
                       const float *x0, const float *x1, const float *x2, const float *x3,
                       float *y0, float *y1, float *y2, float *y3) {
    const uint16_t *c = block_col + block_ptr[0];
    const float *v = values + (size_t)block_ptr[0] * 8;
    for (size_t row0 = 0, b = 0; row0 < m; row0 += 8, b++) {
        size_t cnt = block_ptr[b + 1] - block_ptr[b];
        float32x4_t a0l = vdupq_n_f32(0.0f), a0h = vdupq_n_f32(0.0f);
        float32x4_t a1l = vdupq_n_f32(0.0f), a1h = vdupq_n_f32(0.0f);
        float32x4_t a2l = vdupq_n_f32(0.0f), a2h = vdupq_n_f32(0.0f);
        float32x4_t a3l = vdupq_n_f32(0.0f), a3h = vdupq_n_f32(0.0f);
        for (size_t q = cnt / 2; q != 0; q--) {
            B8_BLOCK(v, c[0]);
            B8_BLOCK(v + 8, c[1]);
            v += 16;
            c += 2;
        }
        if (cnt % 2) {
            B8_BLOCK(v, c[0]);
            v += 8;
            c += 1;
        }
        const size_t rows = m - row0 < 8 ? m - row0 : 8;
        add8(rows, a0l, a0h, y0 + row0);
        add8(rows, a1l, a1h, y1 + row0);
        add8(rows, a2l, a2h, y2 + row0);
        add8(rows, a3l, a3h, y3 + row0);
    }
}

/* One 4x1 block (weights at w, column j) for the four vectors. */
#define B4_BLOCK(w, j)                                 \
    do {                                               \
        const float32x4_t w_ = vld1q_f32(w);           \
        const size_t j_ = (j);                         \
        a0 = vfmaq_n_f32(a0, w_, x0[j_]);              \
        a1 = vfmaq_n_f32(a1, w_, x1[j_]);              \
        a2 = vfmaq_n_f32(a2, w_, x2[j_]);              \
        a3 = vfmaq_n_f32(a3, w_, x3[j_]);              \
    } while (0)

static void spmm_b4_4v(size_t m, const uint32_t *HLF_RESTRICT block_ptr,
                       const uint16_t *HLF_RESTRICT block_col, const float *HLF_RESTRICT values,
                       const float *x0, const float *x1, const float *x2, const float *x3,
                       float *y0, float *y1, float *y2, float *y3) {
    const uint16_t *c = block_col + block_ptr[0];
    const float *v = values + (size_t)block_ptr[0] * 4;
    for (size_t row0 = 0, b = 0; row0 < m; row0 += 4, b++) {
        size_t cnt = block_ptr[b + 1] - block_ptr[b];
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
        float32x4_t a2 = vdupq_n_f32(0.0f), a3 = vdupq_n_f32(0.0f);
        for (size_t q = cnt / 2; q != 0; q--) {
            B4_BLOCK(v, c[0]);
            B4_BLOCK(v + 4, c[1]);
            v += 8;
            c += 2;
        }
        if (cnt % 2) {
            B4_BLOCK(v, c[0]);
            v += 4;
            c += 1;
        }
        const size_t rows = m - row0 < 4 ? m - row0 : 4;
        add4(rows, a0, y0 + row0);
        add4(rows, a1, y1 + row0);
        add4(rows, a2, y2 + row0);
        add4(rows, a3, y3 + row0);
    }
}

void hlf_f32_spmm_bcsr_acc(size_t nv, size_t m, size_t br,
                           const uint32_t *HLF_RESTRICT block_ptr,
                           const uint16_t *HLF_RESTRICT block_col,
                           const float *HLF_RESTRICT values,
                           const float *HLF_RESTRICT x, size_t ldx,
                           float *HLF_RESTRICT y, size_t ldy) {
    size_t v = 0;
    if (br == 8 || br == 4) {
        for (; v + 4 <= nv; v += 4) {
            const float *x0 = x + v * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
            float *y0 = y + v * ldy, *y1 = y0 + ldy, *y2 = y1 + ldy, *y3 = y2 + ldy;
            if (br == 8) {
                spmm_b8_4v(m, block_ptr, block_col, values, x0, x1, x2, x3, y0, y1, y2, y3);
            } else {
                spmm_b4_4v(m, block_ptr, block_col, values, x0, x1, x2, x3, y0, y1, y2, y3);
            }
        }
    }
    for (; v < nv; v++) { /* remaining vectors: one GEMV each */
        hlf_f32_spmv_bcsr_acc(m, br, block_ptr, block_col, values, x + v * ldx, y + v * ldy);
    }
}

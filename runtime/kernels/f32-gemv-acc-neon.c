/*
 * f32-gemv-acc-neon.c - hlf_f32_gemv_acc / hlf_f32_gemm_acc for AArch64 with
 * arm_neon.h intrinsics (C99), for the packed panel layout of hlf_kernels.h:
 * panel p holds, column after column, the HLF_NR = 8 weights of rows
 * p*8 .. p*8+7, so one column of a panel is two q-registers.
 *
 * GEMV inner loop (one panel, 16 columns per iteration):
 *   - weights: one LD1 {v.4s-v.4s}, [w], #64 (vld1q_f32_x4, post-incremented,
 *     see HLF_ADVANCE) per two panel columns = 16 floats = one 64-byte line;
 *   - x: one LD1x4 of 16 floats, used by lane (FMLA v.4s, v.4s, v.s[k] =
 *     vfmaq_laneq_f32), so x is never broadcast separately;
 *   - 8 accumulators (4 column phases x 2 q-registers): independent FMLA
 *     chains to hide the FMLA latency; summed once per panel;
 *   - one PRFM per 64-byte line of weights, HLF_NEON_PREFETCH_BYTES ahead.
 * Per 16 columns x 8 rows = 128 MACs: 32 FMLA + 8 LD1x4 (weights) + 1 LD1x4
 * (x) + 8 PRFM + SUBS + B.NE = 51 instructions = 0.398 instructions/MAC.
 * Measured with the QEMU plugin (tests/test_neon_kernels.py), whole calls
 * including panel set-up and the y update, 256x256 and 1024x256:
 *   GCC 12 -O2 -mcpu=cortex-a73:  0.416 instructions/MAC (0.353 without PRFM)
 *   clang 14, same flags:         0.421 instructions/MAC (0.359 without PRFM)
 *
 * Tails: columns n % 16 are done 4 at a time (one q-register of x), then one
 * at a time (vld1q_dup_f32), so x is never read past x[n-1].  The last
 * m % 8 rows are one short panel packed without padding (hlf_kernels.h):
 * gemv_short_panel, for the GEMV and for each vector of the GEMM.
 *
 * GEMM: four vectors share each load of the weights (8 accumulators: 4
 * vectors x 2 q-registers), so the weights are streamed once per 4 vectors;
 * 4 columns per iteration: 32 FMLA + 4 LDP q (weights) + 4 LDR q (x) + 2 PRFM
 * + loop = 0.375 instructions/MAC measured (GCC and clang).  A group of 2 or
 * 3 vectors runs the same 4-vector code with the missing vectors aliased to
 * the last valid one (their results are discarded); a single left-over
 * vector uses the GEMV.
 */
#include <arm_neon.h>
#include <stddef.h>

#include "../hlf_kernels.h"

/*
 * Software prefetch distance for the weight stream, in bytes (0 disables the
 * PRFM instructions; the Cortex-A73 hardware prefetcher also follows a
 * sequential stream).  PRFM never faults, so prefetching past the end of the
 * weights is harmless.
 */
#ifndef HLF_NEON_PREFETCH_BYTES
#define HLF_NEON_PREFETCH_BYTES 512
#endif

#if defined(__GNUC__) || defined(__clang__)
#define HLF_ALWAYS_INLINE inline __attribute__((always_inline))
#define HLF_PREFETCH(p) __builtin_prefetch((p), 0, 0)
#else
#define HLF_ALWAYS_INLINE inline
#define HLF_PREFETCH(p) ((void)(p))
#endif

#if HLF_NEON_PREFETCH_BYTES > 0
#define HLF_PREFETCH_W(w) HLF_PREFETCH((const char *)(w) + HLF_NEON_PREFETCH_BYTES)
#else
#define HLF_PREFETCH_W(w) ((void)(w))
#endif

/*
 * HLF_ADVANCE(w, k): w += k, then prefetch HLF_NEON_PREFETCH_BYTES past w.
 * HLF_ADVANCE_X(x, k): x += k.
 *
 * An empty asm that "may change" the pointer hides the sequence of += k
 * steps from the compiler, which would otherwise rewrite the loads as base +
 * constant offset addresses: LD1 multiple-register loads have no offset
 * form, so that costs one address computation per load.  Behind the barrier
 * each load becomes one post-incremented LD1 {v.4s-v.4s}, [w], #64.  The
 * barrier emits no instruction; where it sits relative to the PRFM is chosen
 * per compiler so that the pre-RA scheduler never keeps two versions of w
 * alive (which costs a register copy per load).  Checked with GCC 12 and
 * clang 14 (tests/test_neon_kernels.py counts the executed instructions).
 */
#if defined(__clang__)
#define HLF_PTR_BARRIER(p) __asm__("" : "+r"(p))
#define HLF_ADVANCE(w, k)       \
    do {                        \
        (w) += (k);             \
        HLF_PTR_BARRIER(w);     \
        HLF_PREFETCH_W(w);      \
    } while (0)
#elif defined(__GNUC__)
#define HLF_PTR_BARRIER(p) __asm__ volatile("" : "+r"(p))
#define HLF_ADVANCE(w, k)       \
    do {                        \
        (w) += (k);             \
        HLF_PREFETCH_W(w);      \
        HLF_PTR_BARRIER(w);     \
    } while (0)
#else
#define HLF_PTR_BARRIER(p) ((void)0)
#define HLF_ADVANCE(w, k)       \
    do {                        \
        (w) += (k);             \
        HLF_PREFETCH_W(w);      \
    } while (0)
#endif
#define HLF_ADVANCE_X(x, k)     \
    do {                        \
        (x) += (k);             \
        HLF_PTR_BARRIER(x);     \
    } while (0)

#if HLF_NR != 8
#error "f32-gemv-acc-neon.c is written for HLF_NR == 8 (two q-registers per panel column)"
#endif

/* Floats per panel column, per two panel columns (one LD1x4). */
enum { COL = HLF_NR, COL2 = 2 * HLF_NR };

/*
 * y[0:mr] += lo:hi (the 8 panel rows), mr <= 8.  A full panel is one
 * load-add-store of two q-registers; a short last panel goes through a stack
 * buffer so y is never touched past row mr.
 */
static HLF_ALWAYS_INLINE void store_panel_acc(size_t mr, float32x4_t lo, float32x4_t hi,
                                              float *HLF_RESTRICT y) {
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

/*
 * Two panel columns: prefetch ahead, load the 16 weights at w with one
 * post-incremented LD1x4, and accumulate them times lanes l0, l1 of xq:
 *   a0l/a0h (rows 0-3/4-7) += column 0 * xq[l0],  a1l/a1h += column 1 * xq[l1].
 */
#define GEMV_COL2(wv, w, xq, l0, l1, a0l, a0h, a1l, a1h)  \
    do {                                                  \
        wv = vld1q_f32_x4(w);                             \
        HLF_ADVANCE(w, COL2);                             \
        a0l = vfmaq_laneq_f32(a0l, wv.val[0], xq, l0);    \
        a0h = vfmaq_laneq_f32(a0h, wv.val[1], xq, l0);    \
        a1l = vfmaq_laneq_f32(a1l, wv.val[2], xq, l1);    \
        a1h = vfmaq_laneq_f32(a1h, wv.val[3], xq, l1);    \
    } while (0)

/*
 * One panel of the GEMV: returns, in *lo and *hi, the 8 dot products of the
 * panel rows with x[0:n].  w points at the panel (n columns of 8 floats).
 */
static HLF_ALWAYS_INLINE void gemv_panel(size_t n, const float *HLF_RESTRICT w,
                                         const float *HLF_RESTRICT x, float32x4_t *lo,
                                         float32x4_t *hi) {
    /* acc{c}{l,h}: rows 0-3 / 4-7 for the columns j with j % 4 == c. */
    float32x4_t acc0l = vdupq_n_f32(0.0f), acc0h = vdupq_n_f32(0.0f);
    float32x4_t acc1l = vdupq_n_f32(0.0f), acc1h = vdupq_n_f32(0.0f);
    float32x4_t acc2l = vdupq_n_f32(0.0f), acc2h = vdupq_n_f32(0.0f);
    float32x4_t acc3l = vdupq_n_f32(0.0f), acc3h = vdupq_n_f32(0.0f);
    size_t k = n;

    /* Main loop: 16 columns = 128 weights = 8 LD1x4, x = one LD1x4. */
    for (size_t nb = k / 16; nb != 0; nb--) {
        const float32x4x4_t xv = vld1q_f32_x4(x);
        HLF_ADVANCE_X(x, 16);
        float32x4x4_t wv;

        /* Columns 0-3 of the block: x lanes xv.val[0][0..3]. */
        GEMV_COL2(wv, w, xv.val[0], 0, 1, acc0l, acc0h, acc1l, acc1h);
        GEMV_COL2(wv, w, xv.val[0], 2, 3, acc2l, acc2h, acc3l, acc3h);
        /* Columns 4-7. */
        GEMV_COL2(wv, w, xv.val[1], 0, 1, acc0l, acc0h, acc1l, acc1h);
        GEMV_COL2(wv, w, xv.val[1], 2, 3, acc2l, acc2h, acc3l, acc3h);
        /* Columns 8-11. */
        GEMV_COL2(wv, w, xv.val[2], 0, 1, acc0l, acc0h, acc1l, acc1h);
        GEMV_COL2(wv, w, xv.val[2], 2, 3, acc2l, acc2h, acc3l, acc3h);
        /* Columns 12-15. */
        GEMV_COL2(wv, w, xv.val[3], 0, 1, acc0l, acc0h, acc1l, acc1h);
        GEMV_COL2(wv, w, xv.val[3], 2, 3, acc2l, acc2h, acc3l, acc3h);
    }

    k %= 16;
    /* Column tail, 4 at a time: one q-register of x. */
    for (; k >= 4; k -= 4) {
        const float32x4_t xq = vld1q_f32(x);
        x += 4;
        const float32x4x4_t w01 = vld1q_f32_x4(w);
        HLF_ADVANCE(w, COL2);
        const float32x4x4_t w23 = vld1q_f32_x4(w);
        HLF_ADVANCE(w, COL2);
        acc0l = vfmaq_laneq_f32(acc0l, w01.val[0], xq, 0);
        acc0h = vfmaq_laneq_f32(acc0h, w01.val[1], xq, 0);
        acc1l = vfmaq_laneq_f32(acc1l, w01.val[2], xq, 1);
        acc1h = vfmaq_laneq_f32(acc1h, w01.val[3], xq, 1);
        acc2l = vfmaq_laneq_f32(acc2l, w23.val[0], xq, 2);
        acc2h = vfmaq_laneq_f32(acc2h, w23.val[1], xq, 2);
        acc3l = vfmaq_laneq_f32(acc3l, w23.val[2], xq, 3);
        acc3h = vfmaq_laneq_f32(acc3h, w23.val[3], xq, 3);
    }

    /* Last 0-3 columns, one at a time (x broadcast from memory). */
    for (; k > 0; k--) {
        const float32x4_t xs = vld1q_dup_f32(x);
        x += 1;
        acc0l = vfmaq_f32(acc0l, vld1q_f32(w), xs);
        acc0h = vfmaq_f32(acc0h, vld1q_f32(w + 4), xs);
        w += COL;
    }

    /* Sum the four column-phase accumulators. */
    *lo = vaddq_f32(vaddq_f32(acc0l, acc1l), vaddq_f32(acc2l, acc3l));
    *hi = vaddq_f32(vaddq_f32(acc0h, acc1h), vaddq_f32(acc2h, acc3h));
}

/*
 * y[0:r] += the short last panel (r = 1..7 rows, column j at w + j*r) times
 * x: rows 0-3 as one q-register per column when r >= 4 (four columns in
 * flight), the remaining rows one at a time with four partial sums.  Reads
 * exactly r*n weights and n x values.
 */
static void gemv_short_panel(size_t r, size_t n, const float *HLF_RESTRICT w,
                             const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    size_t i = 0;
    if (r >= 4) {
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
        float32x4_t a2 = vdupq_n_f32(0.0f), a3 = vdupq_n_f32(0.0f);
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            const float32x4_t xq = vld1q_f32(x + j);
            a0 = vfmaq_laneq_f32(a0, vld1q_f32(w + j * r), xq, 0);
            a1 = vfmaq_laneq_f32(a1, vld1q_f32(w + (j + 1) * r), xq, 1);
            a2 = vfmaq_laneq_f32(a2, vld1q_f32(w + (j + 2) * r), xq, 2);
            a3 = vfmaq_laneq_f32(a3, vld1q_f32(w + (j + 3) * r), xq, 3);
        }
        for (; j < n; j++) {
            a0 = vfmaq_n_f32(a0, vld1q_f32(w + j * r), x[j]);
        }
        vst1q_f32(y, vaddq_f32(vld1q_f32(y), vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3))));
        i = 4;
    }
    for (; i < r; i++) {
        float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
        size_t j = 0;
        for (; j + 4 <= n; j += 4) {
            s0 += w[j * r + i] * x[j];
            s1 += w[(j + 1) * r + i] * x[j + 1];
            s2 += w[(j + 2) * r + i] * x[j + 2];
            s3 += w[(j + 3) * r + i] * x[j + 3];
        }
        for (; j < n; j++) {
            s0 += w[j * r + i] * x[j];
        }
        y[i] += (s0 + s1) + (s2 + s3);
    }
}

void hlf_f32_gemv_acc(size_t m, size_t n, const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    /* One pass over x per panel of 8 rows; the panel stride is n columns. */
    const size_t full = m - m % HLF_NR;
    for (size_t i = 0; i < full; i += HLF_NR) {
        float32x4_t lo, hi;
        gemv_panel(n, a_packed, x, &lo, &hi);
        store_panel_acc(HLF_NR, lo, hi, y + i);
        a_packed += n * HLF_NR;
    }
    if (full < m) {
        gemv_short_panel(m - full, n, a_packed, x, y + full);
    }
}

/*
 * One panel column at wp for the four vectors of gemm_panel_4v: the 8
 * weights times lane `lane` of each vector's x register xq0..xq3.
 */
#define GEMM_COL(wp, lane)                                       \
    do {                                                         \
        const float32x4_t wl_ = vld1q_f32(wp);                   \
        const float32x4_t wh_ = vld1q_f32((wp) + 4);             \
        acc0l = vfmaq_laneq_f32(acc0l, wl_, xq0, lane);          \
        acc0h = vfmaq_laneq_f32(acc0h, wh_, xq0, lane);          \
        acc1l = vfmaq_laneq_f32(acc1l, wl_, xq1, lane);          \
        acc1h = vfmaq_laneq_f32(acc1h, wh_, xq1, lane);          \
        acc2l = vfmaq_laneq_f32(acc2l, wl_, xq2, lane);          \
        acc2h = vfmaq_laneq_f32(acc2h, wh_, xq2, lane);          \
        acc3l = vfmaq_laneq_f32(acc3l, wl_, xq3, lane);          \
        acc3h = vfmaq_laneq_f32(acc3h, wh_, xq3, lane);          \
    } while (0)

/*
 * One panel for four vectors x0..x3 (each n floats): the 8 panel rows dotted
 * with each vector are added to y0..y3 (mr valid rows each).  nvr (1..4) is
 * the number of distinct vectors: results for v >= nvr are not stored.
 */
static HLF_ALWAYS_INLINE void gemm_panel_4v(size_t nvr, size_t mr, size_t n,
                                            const float *HLF_RESTRICT w,
                                            const float *x0, const float *x1,
                                            const float *x2, const float *x3,
                                            float *y0, float *y1, float *y2, float *y3) {
    /* acc{v}{l,h}: rows 0-3 / 4-7 for vector v. */
    float32x4_t acc0l = vdupq_n_f32(0.0f), acc0h = vdupq_n_f32(0.0f);
    float32x4_t acc1l = vdupq_n_f32(0.0f), acc1h = vdupq_n_f32(0.0f);
    float32x4_t acc2l = vdupq_n_f32(0.0f), acc2h = vdupq_n_f32(0.0f);
    float32x4_t acc3l = vdupq_n_f32(0.0f), acc3h = vdupq_n_f32(0.0f);
    size_t k = n;

    /* Main loop: 4 columns; each weight column feeds all four vectors. */
    for (; k >= 4; k -= 4) {
        const float32x4_t xq0 = vld1q_f32(x0);
        const float32x4_t xq1 = vld1q_f32(x1);
        const float32x4_t xq2 = vld1q_f32(x2);
        const float32x4_t xq3 = vld1q_f32(x3);
        x0 += 4;
        x1 += 4;
        x2 += 4;
        x3 += 4;

        /* Columns 0-3: 8 weight q-registers (LDP q pairs), each used by
         * the four vectors. */
        HLF_PREFETCH_W(w);
        HLF_PREFETCH_W(w + COL2);
        GEMM_COL(w + 0 * COL, 0);
        GEMM_COL(w + 1 * COL, 1);
        GEMM_COL(w + 2 * COL, 2);
        GEMM_COL(w + 3 * COL, 3);
        w += 4 * COL;
    }

    /* Last 0-3 columns, one at a time (x broadcast from memory). */
    for (; k > 0; k--) {
        const float32x4_t wl = vld1q_f32(w);
        const float32x4_t wh = vld1q_f32(w + 4);
        w += COL;
        const float32x4_t xs0 = vld1q_dup_f32(x0++);
        const float32x4_t xs1 = vld1q_dup_f32(x1++);
        const float32x4_t xs2 = vld1q_dup_f32(x2++);
        const float32x4_t xs3 = vld1q_dup_f32(x3++);
        acc0l = vfmaq_f32(acc0l, wl, xs0);
        acc0h = vfmaq_f32(acc0h, wh, xs0);
        acc1l = vfmaq_f32(acc1l, wl, xs1);
        acc1h = vfmaq_f32(acc1h, wh, xs1);
        acc2l = vfmaq_f32(acc2l, wl, xs2);
        acc2h = vfmaq_f32(acc2h, wh, xs2);
        acc3l = vfmaq_f32(acc3l, wl, xs3);
        acc3h = vfmaq_f32(acc3h, wh, xs3);
    }

    /* y_v[0:mr] += acc_v for the nvr distinct vectors. */
    store_panel_acc(mr, acc0l, acc0h, y0);
    if (nvr > 1) {
        store_panel_acc(mr, acc1l, acc1h, y1);
    }
    if (nvr > 2) {
        store_panel_acc(mr, acc2l, acc2h, y2);
    }
    if (nvr > 3) {
        store_panel_acc(mr, acc3l, acc3h, y3);
    }
}

void hlf_f32_gemm_acc(size_t nv, size_t m, size_t n,
                      const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy) {
    const size_t panel_floats = n * HLF_NR;

    /* Panels outside, groups of up to 4 vectors inside: a panel (8 x n
     * weights) stays in L1/L2 while every vector passes over it, so the
     * weights come from memory once per call. */
    const size_t full = m - m % HLF_NR;
    for (size_t i = 0; i < full; i += HLF_NR) {
        const size_t mr = HLF_NR;
        const float *w = a_packed + (i / HLF_NR) * panel_floats;
        for (size_t v = 0; v < nv; v += 4) {
            const size_t nvr = nv - v < 4 ? nv - v : 4;
            const float *xv = x + v * ldx;
            float *yv = y + v * ldy + i;

            if (nvr == 1) {
                /* A single vector: the GEMV on this panel (no wasted lanes). */
                hlf_f32_gemv_acc(mr, n, w, xv, yv);
                continue;
            }

            /* Vectors past nvr alias the last valid one (their y is never stored). */
            const float *x0 = xv;
            const float *x1 = xv + ldx;
            const float *x2 = nvr > 2 ? xv + 2 * ldx : x1;
            const float *x3 = nvr > 3 ? xv + 3 * ldx : x2;
            float *y0 = yv;
            float *y1 = yv + ldy;
            float *y2 = nvr > 2 ? yv + 2 * ldy : y1;
            float *y3 = nvr > 3 ? yv + 3 * ldy : y2;
            gemm_panel_4v(nvr, mr, n, w, x0, x1, x2, x3, y0, y1, y2, y3);
        }
    }
    for (size_t v = 0; full < m && v < nv; v++) { /* the short panel, one vector at a time */
        gemv_short_panel(m - full, n, a_packed + full * n, x + v * ldx, y + v * ldy + full);
    }
}

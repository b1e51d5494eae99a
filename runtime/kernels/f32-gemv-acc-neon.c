/*
 * f32-gemv-acc-neon.c - hlf_f32_gemv_acc / hlf_f32_gemm_acc for AArch64 with
 * arm_neon.h intrinsics (C99), for the packed panel layout of hlf_kernels.h:
 * panel p holds, column after column, the HLF_NR = 8 weights of rows
 * p*8 .. p*8+7, so one column of a panel is two q-registers.
 *
 * GEMV inner loop (one panel, 32 columns per iteration):
 *   - weights: one LD1 {v.4s-v.4s}, [w], #64 (vld1q_f32_x4, post-incremented,
 *     see HLF_ADVANCE) per two panel columns = 16 floats = one 64-byte line;
 *   - x: one LD1x4 of 16 floats per 16 columns, used by lane (FMLA v.4s,
 *     v.4s, v.s[k] = vfmaq_laneq_f32), so x is never broadcast separately;
 *   - 8 accumulators (4 column phases x 2 q-registers): independent FMLA
 *     chains to hide the FMLA latency; summed once per panel, the phase-0
 *     pair starting from y (no separate load-add of y);
 *   - no PRFM by default (HLF_NEON_PREFETCH_BYTES, below).
 * Per 32 columns x 8 rows = 256 MACs: 64 FMLA + 16 LD1x4 (weights) + 2
 * LD1x4 (x) + SUBS + B.NE = 84 instructions = 0.328 instructions/MAC.
 * Measured with the QEMU plugin (tests/test_neon_kernels.py), whole calls
 * including panel set-up and the y update, 256x256 and 1024x256:
 *   GCC 12 -O2 -mcpu=cortex-a73:  0.343 instructions/MAC (0.416 before:
 *   16 columns per iteration, one PRFM per line, y added after the sums).
 *
 * Tails: columns n % 32 are done 16, then 4 at a time (one q-register of x),
 * then one at a time (vld1q_dup_f32), so x is never read past x[n-1].  The
 * last m % 8 rows are one short panel packed without padding
 * (hlf_kernels.h): gemv_short_panel, for the GEMV and for each vector of the
 * GEMM (1-4 rows: LD1-LD4 de-interleave them into dot products, 0.5-1.0
 * instructions/MAC at n = 128 instead of 0.8-3.9; 5-7 rows: two q-registers
 * per column).  A matrix of one column (rank-1 B·t of HLF k = 1) is an
 * axpy (axpy_column: 1.5 instructions/MAC at 79 x 1 instead of 6.1).
 *
 * GEMM: four vectors share each load of the weights (8 accumulators: 4
 * vectors x 2 q-registers, starting from y), so the weights are streamed
 * once per 4 vectors; 8 columns per iteration: 64 FMLA + 4 LD1x4 (weights)
 * + 4 LD1x2 of x (one per vector, post-incremented) + SUBS + B.NE = 0.289
 * instructions/MAC in the loop, 0.305 measured for whole calls (GCC, 4
 * vectors, 256x256; 0.375 before with 4 columns per iteration, LDP/LDR with
 * address adds and PRFM).  A group of 2 or 3 vectors runs the same 4-vector
 * code with the missing vectors aliased to the last valid one (their
 * results are discarded); a single left-over vector uses the GEMV.
 */
#include <arm_neon.h>
#include <stddef.h>

#include "../hlf_kernels.h"

/*
 * Software prefetch distance for the weight stream, in bytes; 0 (the
 * default) emits no PRFM.  The weights are read as one sequential stream,
 * which the Cortex-A73's hardware prefetcher follows; one PRFM per 64-byte
 * line cost 0.06 instructions/MAC, and the A73 time model of
 * docs/benchmarks.md ("Estimated HiKey 960 time") shows no gain from it at
 * LSTM 128 (issue-bound: the PRFMs only add issue slots) or LSTM 650 x 2
 * (DRAM-bound: the same line fills).  -DHLF_NEON_PREFETCH_BYTES=512 brings
 * them back (one PRFM per line, 512 bytes ahead).  PRFM never faults.
 */
#ifndef HLF_NEON_PREFETCH_BYTES
#define HLF_NEON_PREFETCH_BYTES 0
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
/*
 * HLF_ORDER_AFTER(p, v): an empty asm that takes v (an FMLA result) and "may
 * change" p, so the next load through p is placed after that FMLA.  Without
 * it clang's scheduler hoists every LD1x4 of the 32-column loop to its top
 * and spills them (0.49 instructions/MAC instead of 0.34); GCC keeps the
 * source order.  No instruction is emitted.
 */
#if defined(__clang__)
#define HLF_ORDER_AFTER(p, v) __asm__("" : "+r"(p) : "w"(v))
#else
#define HLF_ORDER_AFTER(p, v) ((void)0)
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
        HLF_ORDER_AFTER(w, a0l);                          \
    } while (0)

/*
 * Sixteen panel columns (128 weights, one 64-byte line per GEMV_COL2) times
 * the 16 x values at x: one LD1x4 of x, lanes 0-3 of each q-register.
 */
#define GEMV_BLOCK16(w, x)                                                 \
    do {                                                                   \
        const float32x4x4_t xv_ = vld1q_f32_x4(x);                         \
        HLF_ADVANCE_X(x, 16);                                              \
        float32x4x4_t wv_;                                                 \
        GEMV_COL2(wv_, w, xv_.val[0], 0, 1, acc0l, acc0h, acc1l, acc1h);   \
        GEMV_COL2(wv_, w, xv_.val[0], 2, 3, acc2l, acc2h, acc3l, acc3h);   \
        GEMV_COL2(wv_, w, xv_.val[1], 0, 1, acc0l, acc0h, acc1l, acc1h);   \
        GEMV_COL2(wv_, w, xv_.val[1], 2, 3, acc2l, acc2h, acc3l, acc3h);   \
        GEMV_COL2(wv_, w, xv_.val[2], 0, 1, acc0l, acc0h, acc1l, acc1h);   \
        GEMV_COL2(wv_, w, xv_.val[2], 2, 3, acc2l, acc2h, acc3l, acc3h);   \
        GEMV_COL2(wv_, w, xv_.val[3], 0, 1, acc0l, acc0h, acc1l, acc1h);   \
        GEMV_COL2(wv_, w, xv_.val[3], 2, 3, acc2l, acc2h, acc3l, acc3h);   \
    } while (0)

/*
 * One full panel of the GEMV: y[0:8] += the 8 panel rows (w: n columns of
 * 8 floats) dotted with x[0:n].  The column-phase-0 accumulators start from
 * y, so the y update costs no extra add.
 */
static HLF_ALWAYS_INLINE void gemv_panel(size_t n, const float *HLF_RESTRICT w,
                                         const float *HLF_RESTRICT x,
                                         float *HLF_RESTRICT y) {
    /* acc{c}{l,h}: rows 0-3 / 4-7 for the columns j with j % 4 == c. */
    float32x4_t acc0l = vld1q_f32(y), acc0h = vld1q_f32(y + 4);
    float32x4_t acc1l = vdupq_n_f32(0.0f), acc1h = vdupq_n_f32(0.0f);
    float32x4_t acc2l = vdupq_n_f32(0.0f), acc2h = vdupq_n_f32(0.0f);
    float32x4_t acc3l = vdupq_n_f32(0.0f), acc3h = vdupq_n_f32(0.0f);
    size_t k = n;

    /* Main loop, unrolled twice: 32 columns = 16 LD1x4 of weights + 2 of x,
     * 64 FMLA, one loop branch. */
    for (size_t nb = k / 32; nb != 0; nb--) {
        GEMV_BLOCK16(w, x);
        GEMV_BLOCK16(w, x);
    }
    k %= 32;
    if (k >= 16) {
        GEMV_BLOCK16(w, x);
        k -= 16;
    }

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

    /* Sum the four column-phase accumulators (phase 0 holds y). */
    vst1q_f32(y, vaddq_f32(vaddq_f32(acc0l, acc1l), vaddq_f32(acc2l, acc3l)));
    vst1q_f32(y + 4, vaddq_f32(vaddq_f32(acc0h, acc1h), vaddq_f32(acc2h, acc3h)));
}

/*
 * y[0:m] += a[0:m] * xs: a matrix of one column (a rank-1 B·t of Algorithm 1
 * line 3), whose packed panels are a[0:m] in row order.  An axpy: per 16
 * rows one LD1x4 of a, two LDP q and two STP q of y, 4 FMLA and the loop
 * (0.75 instructions/MAC) instead of a panel set-up and reduction per 8 rows
 * (1.5 measured for a whole 79 x 1 call with its tails, 6.1 before).
 */
static void axpy_column(size_t m, const float *HLF_RESTRICT a, float xs, float *HLF_RESTRICT y) {
    const float32x4_t xv = vdupq_n_f32(xs);
    size_t i = m;
    for (; i >= 16; i -= 16) {
        const float32x4x4_t av = vld1q_f32_x4(a);
        HLF_ADVANCE(a, 16);
        /* y by LDP/STP pairs: GCC 12 copies the registers of an LD1x4/ST1x4 */
        vst1q_f32(y, vfmaq_f32(vld1q_f32(y), av.val[0], xv));
        vst1q_f32(y + 4, vfmaq_f32(vld1q_f32(y + 4), av.val[1], xv));
        vst1q_f32(y + 8, vfmaq_f32(vld1q_f32(y + 8), av.val[2], xv));
        vst1q_f32(y + 12, vfmaq_f32(vld1q_f32(y + 12), av.val[3], xv));
        HLF_ADVANCE_X(y, 16);
    }
    for (; i >= 4; i -= 4) {
        vst1q_f32(y, vfmaq_f32(vld1q_f32(y), vld1q_f32(a), xv));
        a += 4;
        y += 4;
    }
    for (; i > 0; i--) {
        *y++ += *a++ * xs;
    }
}

/* The four lanes of v summed (FADDP, FADDP). */
static HLF_ALWAYS_INLINE float hsum(float32x4_t v) {
    return vaddvq_f32(v);
}

/*
 * Short panel of R = 1..4 rows (column j at w + j*R): LD1/LD2/LD3/LD4
 * de-interleave 4 columns into one q-register per row, so each row is a dot
 * product with x (FMLA by vector, two accumulators per row); 8 columns per
 * iteration.  Per 8 columns: two LDn of weights, one LD1x2 of x, 2R FMLA,
 * the loop: 0.41 (R = 4) to 0.56 (R = 2) instructions/MAC in the loop (R =
 * 1: 16 columns per LD1x4, 0.5); whole calls at n = 128, GCC 12: 0.64 (R =
 * 4), 0.74, 0.94, 0.99 (R = 1).  The tail columns (n % 8 or n % 16) scalar.
 */
#define SHORT_DOT_ROW(i)                                         \
    do {                                                         \
        s0##i = vfmaq_f32(s0##i, w0.val[i], xv.val[0]);          \
        s1##i = vfmaq_f32(s1##i, w1.val[i], xv.val[1]);          \
    } while (0)
#define SHORT_DOT_LOOP(R, LOADN, ROWS)                           \
    for (; j + 8 <= n; j += 8) {                                 \
        const float32x4x2_t xv = vld1q_f32_x2(x);                \
        HLF_ADVANCE_X(x, 8);                                     \
        const float32x4x##R##_t w0 = LOADN(w);                   \
        HLF_ADVANCE(w, 4 * (R));                                 \
        const float32x4x##R##_t w1 = LOADN(w);                   \
        HLF_ADVANCE(w, 4 * (R));                                 \
        ROWS;                                                    \
    }

/*
 * y[0:r] += the short last panel (r = 1..7 rows, column j at w + j*r) times
 * x.  Reads exactly r*n weights and n x values.
 */
static void gemv_short_panel(size_t r, size_t n, const float *HLF_RESTRICT w,
                             const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    float sum[8] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    size_t j = 0;
    if (r == 1) {
        /* One row, contiguous: a dot product, 16 columns per LD1x4. */
        float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
        float32x4_t a2 = vdupq_n_f32(0.0f), a3 = vdupq_n_f32(0.0f);
        for (; j + 16 <= n; j += 16) {
            const float32x4x4_t xv = vld1q_f32_x4(x);
            HLF_ADVANCE_X(x, 16);
            const float32x4x4_t wv = vld1q_f32_x4(w);
            HLF_ADVANCE(w, 16);
            a0 = vfmaq_f32(a0, wv.val[0], xv.val[0]);
            a1 = vfmaq_f32(a1, wv.val[1], xv.val[1]);
            a2 = vfmaq_f32(a2, wv.val[2], xv.val[2]);
            a3 = vfmaq_f32(a3, wv.val[3], xv.val[3]);
        }
        sum[0] = hsum(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
    } else if (r <= 4) {
        /* s0{i}, s1{i}: row i, even / odd 4-column group. */
        float32x4_t s00 = vdupq_n_f32(0.0f), s01 = s00, s02 = s00, s03 = s00;
        float32x4_t s10 = s00, s11 = s00, s12 = s00, s13 = s00;
        if (r == 2) {
            SHORT_DOT_LOOP(2, vld2q_f32, SHORT_DOT_ROW(0); SHORT_DOT_ROW(1))
        } else if (r == 3) {
            SHORT_DOT_LOOP(3, vld3q_f32, SHORT_DOT_ROW(0); SHORT_DOT_ROW(1); SHORT_DOT_ROW(2))
        } else {
            SHORT_DOT_LOOP(4, vld4q_f32,
                           SHORT_DOT_ROW(0); SHORT_DOT_ROW(1); SHORT_DOT_ROW(2); SHORT_DOT_ROW(3))
        }
        sum[0] = hsum(vaddq_f32(s00, s10));
        sum[1] = hsum(vaddq_f32(s01, s11));
        sum[2] = hsum(vaddq_f32(s02, s12));
        sum[3] = hsum(vaddq_f32(s03, s13));
    } else {
        /* 5-7 rows: like a full panel with column stride r, rows 0-3 and 4-7
         * of each column as two q-registers (lanes past row r-1 belong to
         * the next column and are dropped); the last column is left to the
         * scalar tail, as its rows 4-7 load would pass the end. */
        float32x4_t lo0 = vdupq_n_f32(0.0f), hi0 = vdupq_n_f32(0.0f);
        float32x4_t lo1 = vdupq_n_f32(0.0f), hi1 = vdupq_n_f32(0.0f);
        for (; j + 5 <= n; j += 4) {
            const float32x4_t xq = vld1q_f32(x);
            x += 4;
            lo0 = vfmaq_laneq_f32(lo0, vld1q_f32(w), xq, 0);
            hi0 = vfmaq_laneq_f32(hi0, vld1q_f32(w + 4), xq, 0);
            lo1 = vfmaq_laneq_f32(lo1, vld1q_f32(w + r), xq, 1);
            hi1 = vfmaq_laneq_f32(hi1, vld1q_f32(w + r + 4), xq, 1);
            lo0 = vfmaq_laneq_f32(lo0, vld1q_f32(w + 2 * r), xq, 2);
            hi0 = vfmaq_laneq_f32(hi0, vld1q_f32(w + 2 * r + 4), xq, 2);
            lo1 = vfmaq_laneq_f32(lo1, vld1q_f32(w + 3 * r), xq, 3);
            hi1 = vfmaq_laneq_f32(hi1, vld1q_f32(w + 3 * r + 4), xq, 3);
            w += 4 * r;
        }
        vst1q_f32(sum, vaddq_f32(lo0, lo1));
        vst1q_f32(sum + 4, vaddq_f32(hi0, hi1));
    }
    /* Tail columns j..n-1, scalar. */
    for (; j < n; j++) {
        const float xs = *x++;
        for (size_t i = 0; i < r; i++) {
            sum[i] += w[i] * xs;
        }
        w += r;
    }
    for (size_t i = 0; i < r; i++) {
        y[i] += sum[i];
    }
}

void hlf_f32_gemv_acc(size_t m, size_t n, const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    if (n == 1) { /* one column: the panels are a_packed[0:m] in row order */
        axpy_column(m, a_packed, x[0], y);
        return;
    }
    /* One pass over x per panel of 8 rows; the panel stride is n columns. */
    const size_t full = m - m % HLF_NR;
    for (size_t i = 0; i < full; i += HLF_NR) {
        gemv_panel(n, a_packed, x, y + i);
        a_packed += n * HLF_NR;
    }
    if (full < m) {
        gemv_short_panel(m - full, n, a_packed, x, y + full);
    }
}

/*
 * Two panel columns at w (one LD1x4, post-incremented) for the four vectors
 * of gemm_panel_4v: column 0 times lane l0, column 1 times lane l1 of each
 * vector's x register xq0..xq3.
 */
#define GEMM_COL2(w, xq0, xq1, xq2, xq3, l0, l1)                         \
    do {                                                                 \
        const float32x4x4_t wv_ = vld1q_f32_x4(w);                       \
        HLF_ADVANCE(w, COL2);                                            \
        acc0l = vfmaq_laneq_f32(acc0l, wv_.val[0], xq0, l0);             \
        acc0h = vfmaq_laneq_f32(acc0h, wv_.val[1], xq0, l0);             \
        acc1l = vfmaq_laneq_f32(acc1l, wv_.val[0], xq1, l0);             \
        acc1h = vfmaq_laneq_f32(acc1h, wv_.val[1], xq1, l0);             \
        acc2l = vfmaq_laneq_f32(acc2l, wv_.val[0], xq2, l0);             \
        acc2h = vfmaq_laneq_f32(acc2h, wv_.val[1], xq2, l0);             \
        acc3l = vfmaq_laneq_f32(acc3l, wv_.val[0], xq3, l0);             \
        acc3h = vfmaq_laneq_f32(acc3h, wv_.val[1], xq3, l0);             \
        acc0l = vfmaq_laneq_f32(acc0l, wv_.val[2], xq0, l1);             \
        acc0h = vfmaq_laneq_f32(acc0h, wv_.val[3], xq0, l1);             \
        acc1l = vfmaq_laneq_f32(acc1l, wv_.val[2], xq1, l1);             \
        acc1h = vfmaq_laneq_f32(acc1h, wv_.val[3], xq1, l1);             \
        acc2l = vfmaq_laneq_f32(acc2l, wv_.val[2], xq2, l1);             \
        acc2h = vfmaq_laneq_f32(acc2h, wv_.val[3], xq2, l1);             \
        acc3l = vfmaq_laneq_f32(acc3l, wv_.val[2], xq3, l1);             \
        acc3h = vfmaq_laneq_f32(acc3h, wv_.val[3], xq3, l1);             \
    } while (0)

/* Four panel columns times the q-registers xq0..xq3 (lanes 0-3). */
#define GEMM_COL4(w, xq0, xq1, xq2, xq3)              \
    do {                                              \
        GEMM_COL2(w, xq0, xq1, xq2, xq3, 0, 1);       \
        GEMM_COL2(w, xq0, xq1, xq2, xq3, 2, 3);       \
    } while (0)

/*
 * One full panel for four vectors x0..x3 (each n floats): y_v[0:8] += the
 * 8 panel rows dotted with x_v.  nvr (2..4) is the number of distinct
 * vectors: the others alias the last valid one and are not stored.  The
 * accumulators start from y, so the update costs no extra add.
 */
static HLF_ALWAYS_INLINE void gemm_panel_4v(size_t nvr, size_t n, const float *HLF_RESTRICT w,
                                            const float *x0, const float *x1,
                                            const float *x2, const float *x3,
                                            float *y0, float *y1, float *y2, float *y3) {
    /* acc{v}{l,h}: rows 0-3 / 4-7 for vector v. */
    float32x4_t acc0l = vld1q_f32(y0), acc0h = vld1q_f32(y0 + 4);
    float32x4_t acc1l = vld1q_f32(y1), acc1h = vld1q_f32(y1 + 4);
    float32x4_t acc2l = vld1q_f32(y2), acc2h = vld1q_f32(y2 + 4);
    float32x4_t acc3l = vld1q_f32(y3), acc3h = vld1q_f32(y3 + 4);
    size_t k = n;

    /* Main loop: 8 columns = 4 LD1x4 of weights (each column feeds all four
     * vectors) + one post-incremented LD1x2 of x per vector, 64 FMLA. */
    for (size_t nb = k / 8; nb != 0; nb--) {
        const float32x4x2_t xv0 = vld1q_f32_x2(x0);
        const float32x4x2_t xv1 = vld1q_f32_x2(x1);
        const float32x4x2_t xv2 = vld1q_f32_x2(x2);
        const float32x4x2_t xv3 = vld1q_f32_x2(x3);
        HLF_ADVANCE_X(x0, 8);
        HLF_ADVANCE_X(x1, 8);
        HLF_ADVANCE_X(x2, 8);
        HLF_ADVANCE_X(x3, 8);
        GEMM_COL4(w, xv0.val[0], xv1.val[0], xv2.val[0], xv3.val[0]);
        GEMM_COL4(w, xv0.val[1], xv1.val[1], xv2.val[1], xv3.val[1]);
    }
    k %= 8;

    /* Four more columns: one q-register of x per vector. */
    if (k >= 4) {
        const float32x4_t xq0 = vld1q_f32(x0);
        const float32x4_t xq1 = vld1q_f32(x1);
        const float32x4_t xq2 = vld1q_f32(x2);
        const float32x4_t xq3 = vld1q_f32(x3);
        x0 += 4;
        x1 += 4;
        x2 += 4;
        x3 += 4;
        GEMM_COL4(w, xq0, xq1, xq2, xq3);
        k -= 4;
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

    /* Store the nvr distinct vectors (vector 0 and 1 always are). */
    vst1q_f32(y0, acc0l);
    vst1q_f32(y0 + 4, acc0h);
    vst1q_f32(y1, acc1l);
    vst1q_f32(y1 + 4, acc1h);
    if (nvr > 2) {
        vst1q_f32(y2, acc2l);
        vst1q_f32(y2 + 4, acc2h);
    }
    if (nvr > 3) {
        vst1q_f32(y3, acc3l);
        vst1q_f32(y3 + 4, acc3h);
    }
}

void hlf_f32_gemm_acc(size_t nv, size_t m, size_t n,
                      const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx,
                      float *HLF_RESTRICT y, size_t ldy) {
    const size_t panel_floats = n * HLF_NR;
    if (n == 1) { /* one column (rank-1 B·t): one axpy per vector */
        for (size_t v = 0; v < nv; v++) {
            axpy_column(m, a_packed, x[v * ldx], y + v * ldy);
        }
        return;
    }

    /* Panels outside, groups of up to 4 vectors inside: a panel (8 x n
     * weights) stays in L1/L2 while every vector passes over it, so the
     * weights come from memory once per call. */
    const size_t full = m - m % HLF_NR;
    for (size_t i = 0; i < full; i += HLF_NR) {
        const float *w = a_packed + (i / HLF_NR) * panel_floats;
        for (size_t v = 0; v < nv; v += 4) {
            const size_t nvr = nv - v < 4 ? nv - v : 4;
            const float *xv = x + v * ldx;
            float *yv = y + v * ldy + i;

            if (nvr == 1) {
                /* A single vector: the GEMV on this panel (no wasted lanes). */
                hlf_f32_gemv_acc(HLF_NR, n, w, xv, yv);
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
            gemm_panel_4v(nvr, n, w, x0, x1, x2, x3, y0, y1, y2, y3);
        }
    }
    for (size_t v = 0; full < m && v < nv; v++) { /* the short panel, one vector at a time */
        gemv_short_panel(m - full, n, a_packed + full * n, x + v * ldx, y + v * ldy + full);
    }
}

/* hlf_tensor.c - operators on runtime tensors (see hlf_tensor.h). */
#include "hlf_tensor.h"

#include <math.h>
#include <string.h>

#include "hlf_vec.h"

#define MAXR HLF_MAX_RANK

/* ------------------------------------------------------- broadcasting */

/*
 * Row iterator over a broadcast output: `rows` rows of `n` elements (the last
 * axis); off[o] is operand o's element offset at the current row, step[o]
 * its stride along the row.  bcast_next moves to the next row (odometer over
 * the outer axes).
 */
typedef struct {
    int rank, nops;
    const long *dims;
    long stride[3][MAXR];
    long idx[MAXR];
    long off[3], step[3];
    long n, rows;
} bcast;

static void bcast_init(bcast *it, int rank, const long *dims, int nops, const unsigned *full) {
    it->rank = rank;
    it->nops = nops;
    it->dims = dims;
    it->rows = 1;
    it->n = rank ? dims[rank - 1] : 1;
    for (int i = 0; i < rank - 1; i++) {
        it->rows *= dims[i];
    }
    for (int i = 0; i < rank; i++) {
        it->idx[i] = 0;
    }
    for (int o = 0; o < nops; o++) {
        hlf_broadcast_strides(rank, dims, full[o], it->stride[o]);
        it->off[o] = 0;
        it->step[o] = rank ? it->stride[o][rank - 1] : 0;
    }
}

static void bcast_next(bcast *it) {
    for (int i = it->rank - 2; i >= 0; i--) {
        for (int o = 0; o < it->nops; o++) {
            it->off[o] += it->stride[o][i];
        }
        if (++it->idx[i] < it->dims[i]) {
            return;
        }
        for (int o = 0; o < it->nops; o++) {
            it->off[o] -= it->stride[o][i] * it->dims[i];
        }
        it->idx[i] = 0;
    }
}

/* ---------------------------------------------------------------- MatMul */

#ifdef HLF_HAVE_VEC
/* Rows of C per register block, and vectors of columns: 4 x 2 accumulators
 * (8 registers) plus 2 for B and one broadcast fit 16 SSE/AVX registers. */
#define MM_MR 4
#define MM_NV 2
#define MM_NB (MM_NV * HLF_VW)

/* Full unrolling of the register-block loops keeps the accumulators in
 * registers (GCC does not unroll them at -O2 by itself). */
#if defined(__clang__)
#define HLF_UNROLL4 _Pragma("unroll 4")
#elif defined(__GNUC__)
#define HLF_UNROLL4 _Pragma("GCC unroll 4")
#else
#define HLF_UNROLL4
#endif

/* C[0:R, 0:MM_NB] = A[0:R, 0:k] . B[0:k, 0:MM_NB] for R = MM_MR or 1. */
#define HLF_MM_BLOCK(NAME, R)                                                                  \
    static void NAME(size_t k, const float *HLF_RESTRICT a, size_t lda, const float *HLF_RESTRICT b, \
                     size_t ldb, float *HLF_RESTRICT c, size_t ldc) {                          \
        hlf_vec acc[R][MM_NV];                                                                 \
        for (int r = 0; r < (R); r++) {                                                        \
            for (int v = 0; v < MM_NV; v++) {                                                  \
                acc[r][v] = (hlf_vec){0};                                                      \
            }                                                                                  \
        }                                                                                      \
        for (size_t p = 0; p < k; p++) {                                                       \
            hlf_vec w[MM_NV];                                                                  \
            HLF_UNROLL4                                                                        \
            for (int v = 0; v < MM_NV; v++) {                                                  \
                HLF_VLOAD(w[v], b + p * ldb + (size_t)v * HLF_VW);                             \
            }                                                                                  \
            HLF_UNROLL4                                                                        \
            for (int r = 0; r < (R); r++) {                                                    \
                const float s = a[(size_t)r * lda + p];                                        \
                HLF_UNROLL4                                                                    \
                for (int v = 0; v < MM_NV; v++) {                                              \
                    acc[r][v] += w[v] * s;                                                     \
                }                                                                              \
            }                                                                                  \
        }                                                                                      \
        for (int r = 0; r < (R); r++) {                                                        \
            for (int v = 0; v < MM_NV; v++) {                                                  \
                memcpy(c + (size_t)r * ldc + (size_t)v * HLF_VW, &acc[r][v], sizeof(hlf_vec)); \
            }                                                                                  \
        }                                                                                      \
    }

HLF_MM_BLOCK(mm_block4, MM_MR)
HLF_MM_BLOCK(mm_block1, 1)
#else
#define MM_NB 0
#endif

void hlf_f32_matmul_2d(size_t m, size_t k, size_t n, const float *a, size_t lda, const float *b, size_t ldb,
                       float *c, size_t ldc) {
    size_t j0 = 0;
#ifdef HLF_HAVE_VEC
    /* Column blocks outside: a k x MM_NB strip of B stays in cache for all rows. */
    for (; j0 + MM_NB <= n; j0 += MM_NB) {
        size_t i = 0;
        for (; i + MM_MR <= m; i += MM_MR) {
            mm_block4(k, a + i * lda, lda, b + j0, ldb, c + i * ldc + j0, ldc);
        }
        for (; i < m; i++) {
            mm_block1(k, a + i * lda, lda, b + j0, ldb, c + i * ldc + j0, ldc);
        }
    }
#endif
    /* Remaining columns (all of them without vector support): row by row,
     * C[i, j0:n] accumulated along k so B is read row-wise. */
    if (j0 < n) {
        for (size_t i = 0; i < m; i++) {
            float *ci = c + i * ldc;
            for (size_t j = j0; j < n; j++) {
                ci[j] = 0.0f;
            }
            for (size_t p = 0; p < k; p++) {
                const float s = a[i * lda + p];
                const float *bp = b + p * ldb;
                for (size_t j = j0; j < n; j++) {
                    ci[j] += s * bp[j];
                }
            }
        }
    }
}

void hlf_f32_matmul(int brank, const long *bdims, unsigned a_full, unsigned b_full, size_t m, size_t k,
                    size_t n, const float *a, const float *b, float *c) {
    const unsigned all = brank ? (unsigned)((1ul << brank) - 1u) : 0u;
    long batch = 1;
    for (int i = 0; i < brank; i++) {
        batch *= bdims[i];
    }
    if (batch <= 0 || m == 0 || n == 0) {
        return;
    }
    if ((b_full & all) == 0 && (a_full & all) == all) {
        /* B shared by every batch entry: A's batches are more rows of one product. */
        hlf_f32_matmul_2d((size_t)batch * m, k, n, a, k, b, n, c, n);
        return;
    }
    bcast it;
    const unsigned full[2] = {a_full, b_full};
    bcast_init(&it, brank, bdims, 2, full);
    /* the iterator's rows x n cover the batch: one product per batch index */
    size_t e = 0;
    for (long r = 0; r < it.rows; r++, bcast_next(&it)) {
        for (long i = 0; i < it.n; i++, e++) {
            const float *ab = a + (size_t)(it.off[0] + i * it.step[0]) * m * k;
            const float *bb = b + (size_t)(it.off[1] + i * it.step[1]) * k * n;
            hlf_f32_matmul_2d(m, k, n, ab, k, bb, n, c + e * m * n, n);
        }
    }
}

/* ------------------------------------------------------------- reductions */

/* Element map and combine per reduction (sum-like ops add mapped values). */
#define MAP_ID(v) (v)
#define MAP_ABS(v) ((v) < 0 ? -(v) : (v))
#define MAP_SQ(v) ((v) * (v))
#define COMB_ADD(a, b) ((a) + (b))
#define COMB_MUL(a, b) ((a) * (b))
#define COMB_MAX(a, b) ((b) > (a) ? (b) : (a))
#define COMB_MIN(a, b) ((b) < (a) ? (b) : (a))

/* Accumulate x into y over the iterator's rows (y pre-set to the identity). */
#define REDUCE_LOOP(T, MAP, COMB)                                                       \
    for (long r = 0; r < it.rows; r++, bcast_next(&it)) {                               \
        const T *xr = x + r * it.n;                                                     \
        T *yr = y + it.off[0];                                                          \
        if (it.step[0] == 0) { /* the last axis is reduced: fold the row first */       \
            T acc = yr[0];                                                              \
            for (long i = 0; i < it.n; i++) {                                           \
                acc = COMB(acc, MAP(xr[i]));                                            \
            }                                                                           \
            yr[0] = acc;                                                                \
        } else {                                                                        \
            for (long i = 0; i < it.n; i++) {                                           \
                yr[i] = COMB(yr[i], MAP(xr[i]));                                        \
            }                                                                           \
        }                                                                               \
    }

#define HLF_REDUCE_FN(NAME, T, MAXV, MINV, FINISH_L2)                                   \
    void NAME(int op, int rank, const long *dims, unsigned rmask, const T *x, T *y) {    \
        long nout = 1, count = 1;                                                       \
        for (int i = 0; i < rank; i++) {                                                \
            if ((rmask >> i) & 1u) {                                                    \
                count *= dims[i];                                                       \
            } else {                                                                    \
                nout *= dims[i];                                                        \
            }                                                                           \
        }                                                                               \
        const T ident = op == HLF_REDUCE_PROD ? (T)1                                    \
                        : op == HLF_REDUCE_MAX ? (MINV)                                 \
                        : op == HLF_REDUCE_MIN ? (MAXV) : (T)0;                         \
        for (long j = 0; j < nout; j++) {                                               \
            y[j] = ident;                                                               \
        }                                                                               \
        const unsigned keep = ~rmask & (rank ? (unsigned)((1ul << rank) - 1u) : 0u);    \
        bcast it;                                                                       \
        bcast_init(&it, rank, dims, 1, &keep);                                          \
        if (count > 0) {                                                                \
            switch (op) {                                                               \
            case HLF_REDUCE_SUM:                                                        \
            case HLF_REDUCE_MEAN: REDUCE_LOOP(T, MAP_ID, COMB_ADD) break;               \
            case HLF_REDUCE_MAX: REDUCE_LOOP(T, MAP_ID, COMB_MAX) break;                \
            case HLF_REDUCE_MIN: REDUCE_LOOP(T, MAP_ID, COMB_MIN) break;                \
            case HLF_REDUCE_PROD: REDUCE_LOOP(T, MAP_ID, COMB_MUL) break;               \
            case HLF_REDUCE_L1: REDUCE_LOOP(T, MAP_ABS, COMB_ADD) break;                \
            case HLF_REDUCE_L2:                                                         \
            case HLF_REDUCE_SUM_SQUARE: REDUCE_LOOP(T, MAP_SQ, COMB_ADD) break;         \
            default: break;                                                             \
            }                                                                           \
        }                                                                               \
        if (op == HLF_REDUCE_MEAN && count > 0) {                                       \
            for (long j = 0; j < nout; j++) {                                           \
                y[j] = y[j] / (T)count;                                                 \
            }                                                                           \
        }                                                                               \
        if (op == HLF_REDUCE_L2) {                                                      \
            FINISH_L2;                                                                  \
        }                                                                               \
    }

HLF_REDUCE_FN(hlf_f32_reduce, float, INFINITY, -INFINITY, for (long j = 0; j < nout; j++) y[j] = sqrtf(y[j]))
HLF_REDUCE_FN(hlf_i64_reduce, int64_t, INT64_MAX, INT64_MIN, (void)0)
HLF_REDUCE_FN(hlf_i32_reduce, int32_t, INT32_MAX, INT32_MIN, (void)0)

/* ---------------------------------------------------- LayerNormalization */

void hlf_f32_layernorm(size_t outer, size_t n, const float *x, const float *scale, const float *bias,
                       float epsilon, float *y, float *mean, float *inv_std) {
    for (size_t o = 0; o < outer; o++) {
        const float *xr = x + o * n;
        float *yr = y + o * n;
        double s = 0.0;
        for (size_t i = 0; i < n; i++) {
            s += xr[i];
        }
        const double mu = n ? s / (double)n : 0.0;
        double v = 0.0;
        for (size_t i = 0; i < n; i++) {
            const double d = xr[i] - mu;
            v += d * d;
        }
        const float mu_f = (float)mu;
        const float inv = (float)(1.0 / sqrt((n ? v / (double)n : 0.0) + (double)epsilon));
        for (size_t i = 0; i < n; i++) {
            const float t = (xr[i] - mu_f) * inv * scale[i];
            yr[i] = bias ? t + bias[i] : t;
        }
        if (mean) {
            mean[o] = mu_f;
        }
        if (inv_std) {
            inv_std[o] = inv;
        }
    }
}

/* ------------------------------------------------ comparisons, logic, Where */

#define CMP_LOOP(OPR)                                                                   \
    for (long i = 0; i < it.n; i++) {                                                   \
        ro[i] = (uint8_t)(ra[i * it.step[0]] OPR rb[i * it.step[1]]);                   \
    }                                                                                   \
    break

#define CMP_ROWS(T)                                                                     \
    do {                                                                                \
        const T *pa = (const T *)a, *pb = (const T *)b;                                 \
        for (long r = 0; r < it.rows; r++, bcast_next(&it)) {                           \
            const T *ra = pa + it.off[0], *rb = pb + it.off[1];                         \
            uint8_t *ro = out + r * it.n;                                               \
            switch (op) {                                                               \
            case HLF_LESS: CMP_LOOP(<);                                                 \
            case HLF_LESS_EQUAL: CMP_LOOP(<=);                                          \
            case HLF_GREATER: CMP_LOOP(>);                                              \
            case HLF_GREATER_EQUAL: CMP_LOOP(>=);                                       \
            case HLF_EQUAL: CMP_LOOP(==);                                               \
            default: break;                                                             \
            }                                                                           \
        }                                                                               \
    } while (0)

void hlf_compare(int op, int elem, int rank, const long *dims, const void *a, unsigned a_full, const void *b,
                 unsigned b_full, uint8_t *out) {
    bcast it;
    const unsigned full[2] = {a_full, b_full};
    bcast_init(&it, rank, dims, 2, full);
    switch (elem) {
    case HLF_ELEM_F32: CMP_ROWS(float); break;
    case HLF_ELEM_I32: CMP_ROWS(int32_t); break;
    case HLF_ELEM_I64: CMP_ROWS(int64_t); break;
    case HLF_ELEM_BOOL: CMP_ROWS(uint8_t); break;
    default: break;
    }
}

#define LOGIC_LOOP(EXPR)                                                                \
    for (long i = 0; i < it.n; i++) {                                                   \
        const int x = ra[i * it.step[0]] != 0, y = rb[i * it.step[1]] != 0;             \
        ro[i] = (uint8_t)(EXPR);                                                        \
    }                                                                                   \
    break

void hlf_logic(int op, int rank, const long *dims, const uint8_t *a, unsigned a_full, const uint8_t *b,
               unsigned b_full, uint8_t *out) {
    bcast it;
    const unsigned full[2] = {a_full, b_full};
    bcast_init(&it, rank, dims, 2, full);
    for (long r = 0; r < it.rows; r++, bcast_next(&it)) {
        const uint8_t *ra = a + it.off[0], *rb = b + it.off[1];
        uint8_t *ro = out + r * it.n;
        switch (op) {
        case HLF_AND: LOGIC_LOOP(x && y);
        case HLF_OR: LOGIC_LOOP(x || y);
        case HLF_XOR: LOGIC_LOOP(x != y);
        default: break;
        }
    }
}

void hlf_not(size_t n, const uint8_t *x, uint8_t *y) {
    for (size_t i = 0; i < n; i++) {
        y[i] = (uint8_t)(x[i] == 0);
    }
}

#define WHERE_ROWS(T)                                                                   \
    do {                                                                                \
        const T *px = (const T *)x, *py = (const T *)y;                                 \
        T *po = (T *)out;                                                               \
        for (long r = 0; r < it.rows; r++, bcast_next(&it)) {                           \
            const uint8_t *rc = cond + it.off[0];                                       \
            const T *rx = px + it.off[1], *ry = py + it.off[2];                         \
            T *ro = po + r * it.n;                                                      \
            for (long i = 0; i < it.n; i++) {                                           \
                ro[i] = rc[i * it.step[0]] ? rx[i * it.step[1]] : ry[i * it.step[2]];   \
            }                                                                           \
        }                                                                               \
    } while (0)

void hlf_where(int rank, const long *dims, const uint8_t *cond, unsigned c_full, const void *x, unsigned x_full,
               const void *y, unsigned y_full, size_t elem_bytes, void *out) {
    bcast it;
    const unsigned full[3] = {c_full, x_full, y_full};
    bcast_init(&it, rank, dims, 3, full);
    switch (elem_bytes) {
    case 1: WHERE_ROWS(uint8_t); return;
    case 4: WHERE_ROWS(uint32_t); return;
    case 8: WHERE_ROWS(uint64_t); return;
    default: break;
    }
    const unsigned char *px = (const unsigned char *)x, *py = (const unsigned char *)y;
    unsigned char *po = (unsigned char *)out;
    for (long r = 0; r < it.rows; r++, bcast_next(&it)) {
        for (long i = 0; i < it.n; i++) {
            const unsigned char *src = cond[it.off[0] + i * it.step[0]]
                                           ? px + (size_t)(it.off[1] + i * it.step[1]) * elem_bytes
                                           : py + (size_t)(it.off[2] + i * it.step[2]) * elem_bytes;
            memcpy(po + (size_t)(r * it.n + i) * elem_bytes, src, elem_bytes);
        }
    }
}

#define IBIN_LOOP(T, EXPR)                                                                 \
    for (long i = 0; i < it.n; i++) {                                                   \
        const T x = ra[i * it.step[0]], y = rb[i * it.step[1]];                         \
        ro[i] = (EXPR);                                                                 \
    }                                                                                   \
    break

#define HLF_IBINARY_FN(NAME, T, TMIN)                                                    \
    void NAME(int op, int rank, const long *dims, const T *a, unsigned a_full, const T *b, \
              unsigned b_full, T *out) {                                                 \
        bcast it;                                                                        \
        const unsigned full[2] = {a_full, b_full};                                       \
        bcast_init(&it, rank, dims, 2, full);                                            \
        for (long r = 0; r < it.rows; r++, bcast_next(&it)) {                            \
            const T *ra = a + it.off[0], *rb = b + it.off[1];                            \
            T *ro = out + r * it.n;                                                      \
            switch (op) {                                                                \
            case HLF_ADD: IBIN_LOOP(T, (T)(x + y));                                         \
            case HLF_SUB: IBIN_LOOP(T, (T)(x - y));                                         \
            case HLF_MUL: IBIN_LOOP(T, (T)(x * y));                                         \
            case HLF_DIV: IBIN_LOOP(T, y == 0 || (x == (TMIN) && y == -1) ? (T)0 : (T)(x / y)); \
            case HLF_MAX: IBIN_LOOP(T, x >= y ? x : y);                                     \
            case HLF_MIN: IBIN_LOOP(T, x <= y ? x : y);                                     \
            default: break;                                                              \
            }                                                                            \
        }                                                                                \
    }

HLF_IBINARY_FN(hlf_i64_binary, int64_t, INT64_MIN)
HLF_IBINARY_FN(hlf_i32_binary, int32_t, INT32_MIN)

/* --------------------------------------------------------- Cast, Range */

#define CAST_TO(TO, CONV)                                                               \
    do {                                                                                \
        TO *dst = (TO *)y;                                                              \
        switch (from) {                                                                 \
        case HLF_ELEM_F32: { const float *s = (const float *)x;                         \
            for (size_t i = 0; i < n; i++) dst[i] = CONV(s[i]); } break;                \
        case HLF_ELEM_I32: { const int32_t *s = (const int32_t *)x;                     \
            for (size_t i = 0; i < n; i++) dst[i] = CONV(s[i]); } break;                \
        case HLF_ELEM_I64: { const int64_t *s = (const int64_t *)x;                     \
            for (size_t i = 0; i < n; i++) dst[i] = CONV(s[i]); } break;                \
        case HLF_ELEM_BOOL: { const uint8_t *s = (const uint8_t *)x;                    \
            for (size_t i = 0; i < n; i++) dst[i] = (TO)(s[i] != 0); } break;           \
        default: break;                                                                 \
        }                                                                               \
    } while (0)

#define CONV_F32(v) ((float)(v))
#define CONV_I32(v) ((int32_t)(v))
#define CONV_I64(v) ((int64_t)(v))
#define CONV_BOOL(v) ((uint8_t)((v) != 0))

void hlf_cast(int from, int to, size_t n, const void *x, void *y) {
    switch (to) {
    case HLF_ELEM_F32: CAST_TO(float, CONV_F32); break;
    case HLF_ELEM_I32: CAST_TO(int32_t, CONV_I32); break;
    case HLF_ELEM_I64: CAST_TO(int64_t, CONV_I64); break;
    case HLF_ELEM_BOOL: CAST_TO(uint8_t, CONV_BOOL); break;
    default: break;
    }
}

#define HLF_RANGE_FN(NAME, T)                                                           \
    void NAME(size_t n, T start, T delta, T *y) {                                       \
        T v = start;                                                                    \
        for (size_t i = 0; i < n; i++) {                                                \
            y[i] = v;                                                                   \
            v = (T)(v + delta);                                                         \
        }                                                                               \
    }

HLF_RANGE_FN(hlf_f32_range, float)
HLF_RANGE_FN(hlf_i64_range, int64_t)
HLF_RANGE_FN(hlf_i32_range, int32_t)

/* ------------------------------------------------------------------ TopK */

/* Insertion into the k best so far (written in place in the outputs): a
 * later element only passes an equal one never, so ties keep index order. */
#define HLF_TOPK_FN(NAME, T)                                                            \
    int NAME(size_t outer, size_t n, size_t inner, size_t k, int largest, const T *x, T *values, \
             int64_t *indices) {                                                        \
        if (k > n) {                                                                    \
            return -1;                                                                  \
        }                                                                               \
        for (size_t o = 0; o < outer; o++) {                                            \
            for (size_t j = 0; j < inner; j++) {                                        \
                const T *xs = x + o * n * inner + j;                                    \
                T *vs = values + o * k * inner + j;                                     \
                int64_t *is = indices + o * k * inner + j;                              \
                size_t count = 0;                                                       \
                for (size_t e = 0; e < n; e++) {                                        \
                    const T v = xs[e * inner];                                          \
                    size_t p = count < k ? count : k;                                   \
                    while (p > 0 && (largest ? v > vs[(p - 1) * inner] : v < vs[(p - 1) * inner])) { \
                        p--;                                                            \
                    }                                                                   \
                    if (p >= k) {                                                       \
                        continue;                                                       \
                    }                                                                   \
                    const size_t last = count < k ? count : k - 1;                      \
                    for (size_t q = last; q > p; q--) {                                 \
                        vs[q * inner] = vs[(q - 1) * inner];                            \
                        is[q * inner] = is[(q - 1) * inner];                            \
                    }                                                                   \
                    vs[p * inner] = v;                                                  \
                    is[p * inner] = (int64_t)e;                                         \
                    if (count < k) {                                                    \
                        count++;                                                        \
                    }                                                                   \
                }                                                                       \
            }                                                                           \
        }                                                                               \
        return 0;                                                                       \
    }

HLF_TOPK_FN(hlf_f32_topk, float)
HLF_TOPK_FN(hlf_i64_topk, int64_t)
HLF_TOPK_FN(hlf_i32_topk, int32_t)

/* ------------------------------------------------------- ScatterElements */

#define SCATTER_APPLY(T)                                                                \
    do {                                                                                \
        T *o_ = (T *)out + dst;                                                         \
        const T u_ = ((const T *)updates)[u];                                           \
        switch (reduction) {                                                            \
        case HLF_SCATTER_ADD: *o_ = (T)(*o_ + u_); break;                               \
        case HLF_SCATTER_MUL: *o_ = (T)(*o_ * u_); break;                               \
        case HLF_SCATTER_MAX: *o_ = u_ > *o_ ? u_ : *o_; break;                         \
        case HLF_SCATTER_MIN: *o_ = u_ < *o_ ? u_ : *o_; break;                         \
        default: *o_ = u_; break;                                                       \
        }                                                                               \
    } while (0)

int hlf_scatter_elements(int elem, int reduction, int rank, const long *dims, const long *idims, int axis,
                         const void *data, const void *indices, int idx_i64, const void *updates, void *out) {
    static const size_t sizes[4] = {4, 4, 8, 1};
    if (elem < 0 || elem > 3 || rank < 1 || rank > MAXR || axis < 0 || axis >= rank) {
        return -1;
    }
    const size_t esz = sizes[elem];
    long dstride[MAXR], idx[MAXR];
    long total = 1, ntotal = 1;
    for (int i = rank - 1; i >= 0; i--) {
        dstride[i] = total;
        total *= dims[i];
        ntotal *= idims[i];
        idx[i] = 0;
    }
    if (out != data) {
        memcpy(out, data, (size_t)total * esz);
    }
    const long n_axis = dims[axis];
    long base = 0; /* data offset of the current index position, without its axis coordinate */
    for (long u = 0; u < ntotal; u++) {
        const long kraw = idx_i64 ? (long)((const int64_t *)indices)[u] : (long)((const int32_t *)indices)[u];
        if (kraw < -n_axis || kraw >= n_axis) {
            return -1;
        }
        const long dst = base + (kraw < 0 ? kraw + n_axis : kraw) * dstride[axis];
        switch (elem) {
        case HLF_ELEM_F32: SCATTER_APPLY(float); break;
        case HLF_ELEM_I32: SCATTER_APPLY(int32_t); break;
        case HLF_ELEM_I64: SCATTER_APPLY(int64_t); break;
        default: SCATTER_APPLY(uint8_t); break;
        }
        for (int i = rank - 1; i >= 0; i--) { /* odometer over indices' positions */
            if (i != axis) {
                base += dstride[i];
            }
            if (++idx[i] < idims[i]) {
                break;
            }
            if (i != axis) {
                base -= dstride[i] * idims[i];
            }
            idx[i] = 0;
        }
    }
    return 0;
}

/* hlf_nn.c - non-recurrent operators of whole models (see hlf_nn.h). */
#include "hlf_nn.h"

#include <string.h>

/* ---------------------------------------------------------------- Gather */

#define HLF_GATHER_BODY                                                              \
    const unsigned char *src = (const unsigned char *)data;                          \
    unsigned char *dst = (unsigned char *)out;                                       \
    for (size_t i = 0; i < nidx; i++) {                                              \
        const int64_t k = (int64_t)idx[i];                                           \
        if (k < -(int64_t)n || k >= (int64_t)n) {                                    \
            return -1;                                                               \
        }                                                                            \
    }                                                                                \
    for (size_t o = 0; o < outer; o++) {                                             \
        for (size_t i = 0; i < nidx; i++) {                                          \
            const int64_t k = (int64_t)idx[i] < 0 ? (int64_t)idx[i] + (int64_t)n     \
                                                  : (int64_t)idx[i];                 \
            memcpy(dst + (o * nidx + i) * inner_bytes,                               \
                   src + (o * n + (size_t)k) * inner_bytes, inner_bytes);            \
        }                                                                            \
    }                                                                                \
    return 0

int hlf_gather_i64(size_t outer, size_t n, size_t inner_bytes, const void *data,
                   size_t nidx, const int64_t *idx, void *out) {
    HLF_GATHER_BODY;
}

int hlf_gather_i32(size_t outer, size_t n, size_t inner_bytes, const void *data,
                   size_t nidx, const int32_t *idx, void *out) {
    HLF_GATHER_BODY;
}

/* ------------------------------------------------------- broadcasting */

/* Strides (elements) of a dense operand over the output's axes: 0 on
 * broadcast axes (bit clear in full); ONNX multidirectional broadcasting. */
void hlf_broadcast_strides(int rank, const long *dims, unsigned full, long *stride) {
    long acc = 1;
    for (int i = rank - 1; i >= 0; i--) {
        if ((full >> i) & 1u) {
            stride[i] = acc;
            acc *= dims[i];
        } else {
            stride[i] = 0;
        }
    }
}

#define HLF_BIN_ROW(expr)                                  \
    for (long i = 0; i < n; i++) {                          \
        const float x = a[i * sa];                          \
        const float y = b[i * sb];                          \
        out[i] = (expr);                                    \
    }                                                       \
    break

static void binary_row(int op, long n, const float *a, long sa, const float *b, long sb, float *out) {
    switch (op) {
    case HLF_ADD: HLF_BIN_ROW(x + y);
    case HLF_SUB: HLF_BIN_ROW(x - y);
    case HLF_MUL: HLF_BIN_ROW(x * y);
    case HLF_DIV: HLF_BIN_ROW(x / y);
    case HLF_POW: HLF_BIN_ROW(powf(x, y));
    case HLF_MAX: HLF_BIN_ROW(x >= y ? x : y);
    case HLF_MIN: HLF_BIN_ROW(x <= y ? x : y);
    case HLF_PRELU: HLF_BIN_ROW(x >= 0.0f ? x : x * y);
    default: break;
    }
}

void hlf_f32_binary(int op, int rank, const long *dims, const float *a, unsigned a_full,
                    const float *b, unsigned b_full, float *out) {
    long sa[HLF_NN_MAX_RANK], sb[HLF_NN_MAX_RANK], idx[HLF_NN_MAX_RANK] = {0};
    if (rank == 0) {
        binary_row(op, 1, a, 0, b, 0, out);
        return;
    }
    hlf_broadcast_strides(rank, dims, a_full, sa);
    hlf_broadcast_strides(rank, dims, b_full, sb);
    const long n = dims[rank - 1];
    long rows = 1;
    for (int i = 0; i < rank - 1; i++) {
        rows *= dims[i];
    }
    long oa = 0, ob = 0;
    for (long r = 0; r < rows; r++) {
        binary_row(op, n, a + oa, sa[rank - 1], b + ob, sb[rank - 1], out + r * n);
        for (int i = rank - 2; i >= 0; i--) { /* odometer over the outer axes */
            oa += sa[i];
            ob += sb[i];
            if (++idx[i] < dims[i]) {
                break;
            }
            oa -= sa[i] * dims[i];
            ob -= sb[i] * dims[i];
            idx[i] = 0;
        }
    }
}

void hlf_broadcast(int rank, const long *dims, const void *in, unsigned in_full, size_t elem, void *out) {
    long s[HLF_NN_MAX_RANK], idx[HLF_NN_MAX_RANK] = {0};
    const unsigned char *src = (const unsigned char *)in;
    unsigned char *dst = (unsigned char *)out;
    if (rank == 0) {
        memcpy(dst, src, elem);
        return;
    }
    hlf_broadcast_strides(rank, dims, in_full, s);
    const long n = dims[rank - 1];
    long rows = 1;
    for (int i = 0; i < rank - 1; i++) {
        rows *= dims[i];
    }
    long off = 0;
    for (long r = 0; r < rows; r++) {
        unsigned char *row = dst + (size_t)(r * n) * elem;
        if (s[rank - 1] == 1) {
            memcpy(row, src + (size_t)off * elem, (size_t)n * elem);
        } else {
            for (long i = 0; i < n; i++) {
                memcpy(row + (size_t)i * elem, src + (size_t)off * elem, elem);
            }
        }
        for (int i = rank - 2; i >= 0; i--) {
            off += s[i];
            if (++idx[i] < dims[i]) {
                break;
            }
            off -= s[i] * dims[i];
            idx[i] = 0;
        }
    }
}

/* ------------------------------------------------------- Softmax, ArgMax */

/* Columns of an [n, inner] block normalized together when inner > 1: the
 * reduction axis is strided, so SOFTMAX_COLS neighbouring columns share each
 * pass over the rows (contiguous loads instead of one element per row). */
#define SOFTMAX_COLS 64

void hlf_f32_softmax(size_t outer, size_t n, size_t inner, const float *x, float *y, int log_softmax) {
    if (n == 0) {
        return;
    }
    if (inner == 1) { /* contiguous rows */
        for (size_t o = 0; o < outer; o++) {
            const float *xr = x + o * n;
            float *yr = y + o * n;
            float max = xr[0], sum = 0.0f;
            for (size_t k = 1; k < n; k++) {
                max = xr[k] > max ? xr[k] : max;
            }
            for (size_t k = 0; k < n; k++) {
                const float e = expf(xr[k] - max);
                sum += e;
                if (!log_softmax) {
                    yr[k] = e;
                }
            }
            if (log_softmax) {
                const float shift = max + logf(sum);
                for (size_t k = 0; k < n; k++) {
                    yr[k] = xr[k] - shift;
                }
            } else {
                const float inv = 1.0f / sum;
                for (size_t k = 0; k < n; k++) {
                    yr[k] *= inv;
                }
            }
        }
        return;
    }
    for (size_t o = 0; o < outer; o++) {
        const float *xo = x + o * n * inner;
        float *yo = y + o * n * inner;
        for (size_t j0 = 0; j0 < inner; j0 += SOFTMAX_COLS) {
            const size_t w = inner - j0 < SOFTMAX_COLS ? inner - j0 : SOFTMAX_COLS;
            float max[SOFTMAX_COLS], sum[SOFTMAX_COLS];
            for (size_t j = 0; j < w; j++) {
                max[j] = xo[j0 + j];
                sum[j] = 0.0f;
            }
            for (size_t k = 1; k < n; k++) {
                const float *xr = xo + k * inner + j0;
                for (size_t j = 0; j < w; j++) {
                    max[j] = xr[j] > max[j] ? xr[j] : max[j];
                }
            }
            for (size_t k = 0; k < n; k++) {
                const float *xr = xo + k * inner + j0;
                float *yr = yo + k * inner + j0;
                for (size_t j = 0; j < w; j++) {
                    const float e = expf(xr[j] - max[j]);
                    sum[j] += e;
                    if (!log_softmax) {
                        yr[j] = e;
                    }
                }
            }
            for (size_t j = 0; j < w; j++) {
                /* log: y = x - max - log(sum); else y = e / sum */
                sum[j] = log_softmax ? max[j] + logf(sum[j]) : 1.0f / sum[j];
            }
            for (size_t k = 0; k < n; k++) {
                const float *xr = xo + k * inner + j0;
                float *yr = yo + k * inner + j0;
                for (size_t j = 0; j < w; j++) {
                    yr[j] = log_softmax ? xr[j] - sum[j] : yr[j] * sum[j];
                }
            }
        }
    }
}

void hlf_f32_argmax(size_t outer, size_t n, size_t inner, const float *x, int64_t *y, int select_last,
                    int is_min) {
    for (size_t o = 0; o < outer; o++) {
        for (size_t j = 0; j < inner; j++) {
            const float *xp = x + o * n * inner + j;
            float best = xp[0];
            size_t at = 0;
            for (size_t k = 1; k < n; k++) {
                const float v = xp[k * inner];
                const int better = is_min ? v < best : v > best;
                if (better || (select_last && v == best)) {
                    best = v;
                    at = k;
                }
            }
            y[o * inner + j] = (int64_t)at;
        }
    }
}

/* ---------------------------------------------------------------- Slice */

int hlf_slice(int rank, const long *dims, const int64_t *starts, const int64_t *ends, const int64_t *steps,
              const long *out_dims, size_t elem, const void *in, void *out) {
    long first[HLF_NN_MAX_RANK], stride[HLF_NN_MAX_RANK], idx[HLF_NN_MAX_RANK] = {0};
    long acc = 1, total = 1;
    for (int i = rank - 1; i >= 0; i--) {
        const int64_t n = dims[i], step = steps[i];
        int64_t s = starts[i], e = ends[i], count;
        s = s < 0 ? s + n : s;
        e = e < 0 ? e + n : e;
        if (step > 0) {
            s = s < 0 ? 0 : (s > n ? n : s);
            e = e < 0 ? 0 : (e > n ? n : e);
            count = e > s ? (e - s + step - 1) / step : 0;
        } else {
            s = s < 0 ? 0 : (s > n - 1 ? n - 1 : s);
            e = e < -1 ? -1 : (e > n - 1 ? n - 1 : e);
            count = s > e ? (s - e - step - 1) / -step : 0;
        }
        if (count != out_dims[i]) {
            return -1;
        }
        first[i] = (long)s;
        stride[i] = acc * (long)step; /* input elements per output step on axis i */
        acc *= dims[i];
        total *= out_dims[i];
    }
    if (total == 0) {
        return 0;
    }
    const unsigned char *src = (const unsigned char *)in;
    unsigned char *dst = (unsigned char *)out;
    long off = 0;
    {
        long unit = 1;
        for (int i = rank - 1; i >= 0; i--) {
            off += first[i] * unit;
            unit *= dims[i];
        }
    }
    if (rank == 0) {
        memcpy(dst, src, elem);
        return 0;
    }
    const long n = out_dims[rank - 1];
    const long rows = total / n;
    for (long r = 0; r < rows; r++) {
        unsigned char *row = dst + (size_t)(r * n) * elem;
        if (stride[rank - 1] == 1) {
            memcpy(row, src + (size_t)off * elem, (size_t)n * elem);
        } else {
            for (long i = 0; i < n; i++) {
                memcpy(row + (size_t)i * elem, src + (size_t)(off + i * stride[rank - 1]) * elem, elem);
            }
        }
        for (int i = rank - 2; i >= 0; i--) {
            off += stride[i];
            if (++idx[i] < out_dims[i]) {
                break;
            }
            off -= stride[i] * out_dims[i];
            idx[i] = 0;
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- Concat */

void hlf_concat_part(size_t outer, size_t chunk, size_t row, size_t offset, const void *in, void *out) {
    const unsigned char *src = (const unsigned char *)in;
    unsigned char *dst = (unsigned char *)out + offset;
    for (size_t o = 0; o < outer; o++) {
        memcpy(dst + o * row, src + o * chunk, chunk);
    }
}

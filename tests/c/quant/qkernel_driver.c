/*
 * qkernel_driver.c - runs the quantized kernels of hlf_qkernels.h on cases
 * read from a file, for tests/test_quant_kernels.py.
 *
 * usage: qkernel_driver IN OUT
 *
 * IN: records, little-endian, int32 header[8] = {op, nv, m, n, ldx, ldy, ny, 0}:
 *   op 0 / 1 (f16 gemv / gemm): uint16 a[HLF_F32_PACKED_SIZE(m, n)],
 *       float x[(nv-1)*ldx + n], float y[ny]
 *   op 2 / 3 (qs8 gemv / gemm; ldx is ldq): int8 a[HLF_QS8_PACKED_SIZE(m, n)],
 *       float scale[HLF_QS8_SCALES_SIZE(m)], int8 xq[(nv-1)*ldq + HLF_QS8_PADDED(n)],
 *       float xs[nv], float y[ny]
 *   op 4 (quantize; ldy is ldq): float x[(nv-1)*ldx + n]; OUT gets
 *       int8 q[nv*ldq] (filled with 0x55 before the call) and float scale[nv].
 * OUT receives y after each call (ops 0-3).  Every input array is copied so
 * that it ends at a PROT_NONE page: a read past its end faults.
 */
#define _DEFAULT_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hlf_qkernels.h"

typedef struct guarded {
    void *map;
    size_t len;
    void *data;
} guarded;

/* A copy of bytes bytes of src ending right before an inaccessible page. */
static void *guard(const unsigned char *src, size_t bytes, guarded *g) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t pages = (bytes + page - 1) / page;
    g->len = (pages + 1) * page;
    g->map = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) {
        perror("mmap");
        exit(4);
    }
    unsigned char *end = (unsigned char *)g->map + pages * page;
    if (mprotect(end, page, PROT_NONE) != 0) {
        perror("mprotect");
        exit(4);
    }
    g->data = end - bytes;
    memcpy(g->data, src, bytes);
    return g->data;
}

static unsigned char *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0) {
        return NULL;
    }
    long size = ftell(f);
    unsigned char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (buf == NULL || fseek(f, 0, SEEK_SET) != 0 || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        return NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

int main(int argc, char **argv) {
    size_t len = 0, pos = 0;
    if (argc != 3) {
        fprintf(stderr, "usage: %s IN OUT\n", argv[0]);
        return 2;
    }
    unsigned char *in = read_all(argv[1], &len);
    FILE *out = fopen(argv[2], "wb");
    if (in == NULL || out == NULL) {
        fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    while (pos + 32 <= len) {
        int32_t h[8];
        memcpy(h, in + pos, sizeof h);
        pos += sizeof h;
        const int op = h[0];
        const size_t nv = (size_t)h[1], m = (size_t)h[2], n = (size_t)h[3];
        const size_t ldx = (size_t)h[4], ldy = (size_t)h[5], ny = (size_t)h[6];
        guarded ga, gs, gx, gxs;
        float *y = NULL;
        if (op == 0 || op == 1) {
            const size_t na = HLF_F32_PACKED_SIZE(m, n) * 2, nx = ((nv - 1) * ldx + n) * 4;
            const uint16_t *a = guard(in + pos, na, &ga);
            const float *x = guard(in + pos + na, nx, &gx);
            y = malloc(ny * 4 + 4);
            memcpy(y, in + pos + na + nx, ny * 4);
            pos += na + nx + ny * 4;
            if (op == 0) {
                hlf_f16_gemv_acc(m, n, a, x, y);
            } else {
                hlf_f16_gemm_acc(nv, m, n, a, x, ldx, y, ldy);
            }
            munmap(ga.map, ga.len);
            munmap(gx.map, gx.len);
        } else if (op == 2 || op == 3) {
            const size_t na = HLF_QS8_PACKED_SIZE(m, n), ns = HLF_QS8_SCALES_SIZE(m) * 4;
            const size_t nx = (nv - 1) * ldx + HLF_QS8_PADDED(n), nxs = nv * 4;
            const int8_t *a = guard(in + pos, na, &ga);
            const float *s = guard(in + pos + na, ns, &gs);
            const int8_t *xq = guard(in + pos + na + ns, nx, &gx);
            const float *xs = guard(in + pos + na + ns + nx, nxs, &gxs);
            y = malloc(ny * 4 + 4);
            memcpy(y, in + pos + na + ns + nx + nxs, ny * 4);
            pos += na + ns + nx + nxs + ny * 4;
            if (op == 2) {
                hlf_qs8_gemv_acc(m, n, a, s, xq, xs[0], y);
            } else {
                hlf_qs8_gemm_acc(nv, m, n, a, s, xq, ldx, xs, y, ldy);
            }
            munmap(ga.map, ga.len);
            munmap(gs.map, gs.len);
            munmap(gx.map, gx.len);
            munmap(gxs.map, gxs.len);
        } else if (op == 4) {
            const size_t nx = ((nv - 1) * ldx + n) * 4;
            const float *x = guard(in + pos, nx, &gx);
            pos += nx;
            int8_t *q = malloc(nv * ldy + 1);
            float *sc = malloc(nv * 4 + 4);
            memset(q, 0x55, nv * ldy);
            hlf_qs8_quantize(nv, n, x, ldx, q, ldy, sc);
            fwrite(q, 1, nv * ldy, out);
            fwrite(sc, 4, nv, out);
            free(q);
            free(sc);
            munmap(gx.map, gx.len);
            continue;
        } else {
            fprintf(stderr, "unknown op %d\n", op);
            return 3;
        }
        fwrite(y, 4, ny, out);
        free(y);
    }
    free(in);
    return fclose(out) == 0 ? 0 : 5;
}

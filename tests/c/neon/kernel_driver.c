/*
 * kernel_driver.c - runs hlf_f32_gemv_acc / hlf_f32_gemm_acc / the vector
 * activations on cases read from a file, for tests/test_neon_kernels.py.
 *
 * usage: kernel_driver IN OUT
 *
 * IN is a sequence of records, all little-endian:
 *   int32 header[8] = {op, nv, m, n, ldx, ldy, ny, 0}
 *   op 0 (gemv) / 1 (gemm):
 *     float a[HLF_F32_PACKED_SIZE(m, n)]    packed weights
 *     float x[(nv - 1) * ldx + n]       input vectors
 *     float y[ny]                       initial outputs (ny may exceed the
 *                                       (nv - 1) * ldy + m the kernel owns: the
 *                                       test checks the rest is untouched)
 *   op 2 (sigmoid) / 3 (tanh):
 *     float x[n]
 * OUT receives, per record, the y (or the activated x) after the call.
 *
 * The weights, x and the activation input are each copied so that they end
 * exactly at a PROT_NONE page: a kernel reading past the end of a_packed, past
 * x[(nv - 1) * ldx + n - 1] or past the activation's x[n - 1] faults.
 */
#define _DEFAULT_SOURCE /* mmap's MAP_ANONYMOUS under -std=c99 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hlf_activations.h"
#include "hlf_kernels.h"
#ifdef HLF_DISPATCH
#include "hlf_dispatch.h" /* a run-time dispatched x86-64 build: prints the variant chosen */
#endif

enum { OP_GEMV = 0, OP_GEMM = 1, OP_SIGMOID = 2, OP_TANH = 3 };

/* A copy of count floats that ends right before an inaccessible page. */
typedef struct guarded {
    void *map;
    size_t map_len;
    float *data;
} guarded;

static int guarded_copy(const float *src, size_t count, guarded *g) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t bytes = count * sizeof(float);
    const size_t data_pages = (bytes + page - 1) / page;
    g->map_len = (data_pages + 1) * page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED) {
        return -1;
    }
    unsigned char *guard_page = (unsigned char *)g->map + data_pages * page;
    if (mprotect(guard_page, page, PROT_NONE) != 0) {
        return -1;
    }
    g->data = (float *)(guard_page - bytes);
    if (count > 0) {
        memcpy(g->data, src, bytes);
    }
    return 0;
}

static void guarded_free(guarded *g) {
    munmap(g->map, g->map_len);
}

/* Reads all of path into memory; *len gets its size. */
static unsigned char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long size;
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0) {
        if (f != NULL) {
            fclose(f);
        }
        return NULL;
    }
    buf = malloc((size_t)size + 1);
    if (buf != NULL && fread(buf, 1, (size_t)size, f) != (size_t)size) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = (size_t)size;
    return buf;
}

int main(int argc, char **argv) {
    size_t len = 0, pos = 0;
    unsigned char *in;
    FILE *out;
    if (argc != 3) {
        fprintf(stderr, "usage: %s IN OUT\n", argv[0]);
        return 2;
    }
    in = read_file(argv[1], &len);
    out = fopen(argv[2], "wb");
    if (in == NULL || out == NULL) {
        fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }
#ifdef HLF_DISPATCH
    printf("isa=%s\n", hlf_kernels_isa());
#endif

    while (pos < len) {
        int32_t h[8];
        if (len - pos < sizeof h) {
            fprintf(stderr, "truncated header at %zu\n", pos);
            return 3;
        }
        memcpy(h, in + pos, sizeof h);
        pos += sizeof h;
        const int op = h[0];
        const size_t nv = (size_t)h[1], m = (size_t)h[2], n = (size_t)h[3];
        const size_t ldx = (size_t)h[4], ldy = (size_t)h[5], ny = (size_t)h[6];

        if (op == OP_GEMV || op == OP_GEMM) {
            const size_t na = HLF_F32_PACKED_SIZE(m, n);
            const size_t nx = (nv - 1) * ldx + n;
            const size_t need = (na + nx + ny) * sizeof(float);
            float *y = malloc(ny * sizeof(float) + 1);
            guarded ga, gx;
            if (nv < 1 || len - pos < need || y == NULL) {
                fprintf(stderr, "bad gemv/gemm record at %zu\n", pos);
                return 3;
            }
            if (guarded_copy((const float *)(const void *)(in + pos), na, &ga) != 0 ||
                guarded_copy((const float *)(const void *)(in + pos + na * sizeof(float)), nx,
                             &gx) != 0) {
                perror("mmap");
                return 4;
            }
            memcpy(y, in + pos + (na + nx) * sizeof(float), ny * sizeof(float));
            pos += need;
            if (op == OP_GEMV) {
                hlf_f32_gemv_acc(m, n, ga.data, gx.data, y);
            } else {
                hlf_f32_gemm_acc(nv, m, n, ga.data, gx.data, ldx, y, ldy);
            }
            fwrite(y, sizeof(float), ny, out);
            guarded_free(&ga);
            guarded_free(&gx);
            free(y);
        } else if (op == OP_SIGMOID || op == OP_TANH) {
            guarded gv;
            if (len - pos < n * sizeof(float)) {
                fprintf(stderr, "bad activation record at %zu\n", pos);
                return 3;
            }
            if (guarded_copy((const float *)(const void *)(in + pos), n, &gv) != 0) {
                perror("mmap");
                return 4;
            }
            pos += n * sizeof(float);
            if (op == OP_SIGMOID) {
                hlf_f32_vsigmoid(n, gv.data, 0.0f, 0.0f);
            } else {
                hlf_f32_vtanh(n, gv.data, 0.0f, 0.0f);
            }
            fwrite(gv.data, sizeof(float), n, out);
            guarded_free(&gv);
        } else {
            fprintf(stderr, "unknown op %d\n", op);
            return 3;
        }
    }
    free(in);
    return fclose(out) == 0 ? 0 : 5;
}

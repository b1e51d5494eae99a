/*
 * sparse_driver.c - runs the sparse kernels of runtime/hlf_sparse.h (and the
 * dense panel kernels, for comparison) on cases read from a file, for
 * tests/test_sparse.py and bench/sparse_calibrate.py.
 *
 * usage: sparse_driver IN OUT [REPS]
 *
 * IN is a sequence of records, all little-endian:
 *   int32 header[12] = {op, nv, m, n, ldx, ldy, ny, br, nptr, ncol, nval, 0}
 *   uint32 ptr[nptr]          row_ptr (CSR) / block_ptr (BCSR)
 *   uint16 col[ncol]          col_idx / block_col, then zero padding to a
 *                             multiple of 4 bytes
 *   float values[nval]        CSR / BCSR values, or the packed dense matrix
 *   float x[(nv - 1) * ldx + n]
 *   float y[ny]               initial outputs (the test checks that entries
 *                             the kernel does not own stay untouched)
 * op: 0 spmv_csr, 1 spmm_csr, 2 spmv_bcsr, 3 spmm_bcsr, 4 dense gemv,
 *     5 dense gemm.  OUT receives each record's y after REPS calls (1).
 * With REPS > 1, stdout gets one line per record: "ns_per_call=<mean>"
 * (wall clock of the REPS calls; bench/sparse_calibrate.py).
 *
 * ptr, col, values and x are each copied so that they end exactly at a
 * PROT_NONE page: a kernel reading past their ends faults.
 */
#define _DEFAULT_SOURCE /* mmap's MAP_ANONYMOUS under -std=c99 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "hlf_kernels.h"
#include "hlf_sparse.h"
#ifdef HLF_DISPATCH
#include "hlf_dispatch.h" /* a run-time dispatched x86-64 build: reports the variant chosen */
#endif

enum { OP_SPMV_CSR, OP_SPMM_CSR, OP_SPMV_BCSR, OP_SPMM_BCSR, OP_GEMV, OP_GEMM };

/* A copy of bytes that ends right before an inaccessible page. */
typedef struct guarded {
    void *map;
    size_t map_len;
    void *data;
} guarded;

static int guarded_copy(const void *src, size_t bytes, guarded *g) {
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
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
    g->data = guard_page - bytes;
    if (bytes > 0) {
        memcpy(g->data, src, bytes);
    }
    return 0;
}

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
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s IN OUT [REPS]\n", argv[0]);
        return 2;
    }
    const long reps = argc == 4 ? strtol(argv[3], NULL, 10) : 1;
#ifdef HLF_DISPATCH
    fprintf(stderr, "isa=%s\n", hlf_kernels_isa());
#endif
    unsigned char *in = read_file(argv[1], &len);
    FILE *out = fopen(argv[2], "wb");
    if (in == NULL || out == NULL) {
        fprintf(stderr, "cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }
    while (pos < len) {
        int32_t h[12];
        if (len - pos < sizeof h) {
            fprintf(stderr, "truncated header at %zu\n", pos);
            return 3;
        }
        memcpy(h, in + pos, sizeof h);
        pos += sizeof h;
        const int op = h[0];
        const size_t nv = (size_t)h[1], m = (size_t)h[2], n = (size_t)h[3];
        const size_t ldx = (size_t)h[4], ldy = (size_t)h[5], ny = (size_t)h[6];
        const size_t br = (size_t)h[7], nptr = (size_t)h[8], ncol = (size_t)h[9];
        const size_t nval = (size_t)h[10];
        const size_t col_bytes = (ncol * 2 + 3) / 4 * 4;
        const size_t nx = (nv - 1) * ldx + n;
        const size_t need = nptr * 4 + col_bytes + (nval + nx + ny) * 4;
        if (nv < 1 || len - pos < need) {
            fprintf(stderr, "bad record at %zu\n", pos);
            return 3;
        }
        guarded gp, gc, gv, gx;
        if (guarded_copy(in + pos, nptr * 4, &gp) != 0 ||
            guarded_copy(in + pos + nptr * 4, ncol * 2, &gc) != 0 ||
            guarded_copy(in + pos + nptr * 4 + col_bytes, nval * 4, &gv) != 0 ||
            guarded_copy(in + pos + nptr * 4 + col_bytes + nval * 4, nx * 4, &gx) != 0) {
            perror("mmap");
            return 4;
        }
        float *y = malloc(ny * sizeof(float) + 1);
        if (y == NULL) {
            return 4;
        }
        memcpy(y, in + pos + nptr * 4 + col_bytes + (nval + nx) * 4, ny * sizeof(float));
        pos += need;
        const uint32_t *p = gp.data;
        const uint16_t *c = gc.data;
        const float *v = gv.data, *x = gx.data;
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (long r = 0; r < reps; r++) {
            switch (op) {
            case OP_SPMV_CSR:
                hlf_f32_spmv_csr_acc(m, p, c, v, x, y);
                break;
            case OP_SPMM_CSR:
                hlf_f32_spmm_csr_acc(nv, m, p, c, v, x, ldx, y, ldy);
                break;
            case OP_SPMV_BCSR:
                hlf_f32_spmv_bcsr_acc(m, br, p, c, v, x, y);
                break;
            case OP_SPMM_BCSR:
                hlf_f32_spmm_bcsr_acc(nv, m, br, p, c, v, x, ldx, y, ldy);
                break;
            case OP_GEMV:
                hlf_f32_gemv_acc(m, n, v, x, y);
                break;
            case OP_GEMM:
                hlf_f32_gemm_acc(nv, m, n, v, x, ldx, y, ldy);
                break;
            default:
                fprintf(stderr, "unknown op %d\n", op);
                return 3;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (reps > 1) {
            printf("ns_per_call=%.3f\n",
                   ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
                       (double)reps);
        }
        fwrite(y, sizeof(float), ny, out);
        munmap(gp.map, gp.map_len);
        munmap(gc.map, gc.map_len);
        munmap(gv.map, gv.map_len);
        munmap(gx.map, gx.map_len);
        free(y);
    }
    free(in);
    return fclose(out) == 0 ? 0 : 5;
}

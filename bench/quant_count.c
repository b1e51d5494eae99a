/*
 * quant_count.c - REPS calls of one kernel so that the QEMU instruction
 * counter (bench/insn_count) can measure instructions per MAC (bench/quant.py).
 *
 * usage: quant_count KIND M N REPS [NV]
 *   KIND f32 | f16 | qs8 (GEMV, or GEMM over NV vectors when NV >= 1) | qs8q (quantize N floats, M times)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hlf_qkernels.h"

static unsigned seed = 12345u;
static unsigned next(void) {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s KIND M N REPS [NV]\n", argv[0]);
        return 2;
    }
    const char *kind = argv[1];
    const size_t m = strtoul(argv[2], NULL, 10), n = strtoul(argv[3], NULL, 10);
    const long reps = strtol(argv[4], NULL, 10);
    const size_t nv = argc > 5 ? strtoul(argv[5], NULL, 10) : 0, nvec = nv ? nv : 1;
    const size_t np = HLF_QS8_PADDED(n);
    float *a32 = aligned_alloc(64, HLF_F32_PACKED_SIZE(m, n) * 4 + 64);
    uint16_t *a16 = aligned_alloc(64, HLF_F32_PACKED_SIZE(m, n) * 2 + 64);
    int8_t *a8 = aligned_alloc(64, HLF_QS8_PACKED_SIZE(m, n) + 64);
    float *sc = malloc(HLF_QS8_SCALES_SIZE(m) * 4);
    float *x = malloc(nvec * n * 4), *y = calloc(nvec * m, 4), *xs = malloc(nvec * 4);
    int8_t *xq = malloc(nvec * np + 16);
    if (!a32 || !a16 || !a8 || !sc || !x || !y || !xs || !xq) {
        return 1;
    }
    for (size_t i = 0; i < HLF_F32_PACKED_SIZE(m, n); i++) {
        a32[i] = (float)(next() % 2001) / 1000.0f - 1.0f;
        a16[i] = (uint16_t)(0x3000 + next() % 0x0c00);
    }
    for (size_t i = 0; i < HLF_QS8_PACKED_SIZE(m, n); i++) {
        a8[i] = (int8_t)((int)(next() % 255) - 127);
    }
    for (size_t i = 0; i < HLF_QS8_SCALES_SIZE(m); i++) {
        sc[i] = 0.01f;
    }
    for (size_t i = 0; i < nvec * n; i++) {
        x[i] = (float)(next() % 2001) / 1000.0f - 1.0f;
    }
    hlf_qs8_quantize(nvec, n, x, n, xq, np, xs);
    for (long r = 0; r < reps; r++) {
        if (!strcmp(kind, "f32")) {
            nv ? hlf_f32_gemm_acc(nv, m, n, a32, x, n, y, m) : hlf_f32_gemv_acc(m, n, a32, x, y);
        } else if (!strcmp(kind, "f16")) {
            nv ? hlf_f16_gemm_acc(nv, m, n, a16, x, n, y, m) : hlf_f16_gemv_acc(m, n, a16, x, y);
        } else if (!strcmp(kind, "qs8")) {
            nv ? hlf_qs8_gemm_acc(nv, m, n, a8, sc, xq, np, xs, y, m) : hlf_qs8_gemv_acc(m, n, a8, sc, xq, xs[0], y);
        } else {
            for (size_t i = 0; i < m; i++) {
                hlf_qs8_quantize(1, n, x, n, xq, np, xs);
            }
        }
    }
    double s = 0.0;
    for (size_t i = 0; i < nvec * m; i++) {
        s += y[i];
    }
    printf("%g %d\n", s, xq[0]);
    return 0;
}

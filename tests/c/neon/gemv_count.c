/*
 * gemv_count.c - runs one packed GEMV (or GEMM) repeatedly so that the
 * instruction-count plugin can measure instructions per multiply-accumulate
 * inside the kernel.
 *
 * usage: gemv_count M N REPS [NV]
 *   NV absent or 0: REPS calls of hlf_f32_gemv_acc(M, N, ...)
 *   NV >= 1:        REPS calls of hlf_f32_gemm_acc(NV, M, N, ...)
 * Prints a checksum of y so the calls cannot be optimized away.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hlf_kernels.h"

/* Deterministic pseudo-random floats in [-1, 1). */
static float next_float(unsigned *state) {
    *state = *state * 1664525u + 1013904223u;
    return (float)(*state >> 8) / 8388608.0f - 1.0f;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s M N REPS [NV]\n", argv[0]);
        return 2;
    }
    const size_t m = strtoul(argv[1], NULL, 10);
    const size_t n = strtoul(argv[2], NULL, 10);
    const long reps = strtol(argv[3], NULL, 10);
    const size_t nv = argc > 4 ? strtoul(argv[4], NULL, 10) : 0;
    const size_t nvec = nv > 0 ? nv : 1;
    unsigned seed = 12345u;

    /* Packed weights 64-byte aligned, as a generated model stores them. */
    float *a_mem = malloc(HLF_F32_PACKED_SIZE(m, n) * sizeof(float) + 64);
    float *a = a_mem ? (float *)(((uintptr_t)a_mem + 63) & ~(uintptr_t)63) : NULL;
    float *x = malloc(nvec * n * sizeof(float));
    float *y = calloc(nvec * m, sizeof(float));
    if (a == NULL || x == NULL || y == NULL) {
        return 1;
    }
    for (size_t i = 0; i < HLF_F32_PACKED_SIZE(m, n); i++) {
        a[i] = next_float(&seed);
    }
    for (size_t i = 0; i < nvec * n; i++) {
        x[i] = next_float(&seed);
    }

    /* The measured calls. */
    for (long r = 0; r < reps; r++) {
        if (nv == 0) {
            hlf_f32_gemv_acc(m, n, a, x, y);
        } else {
            hlf_f32_gemm_acc(nv, m, n, a, x, n, y, m);
        }
    }

    double sum = 0.0;
    for (size_t i = 0; i < nvec * m; i++) {
        sum += y[i];
    }
    printf("%.6e\n", sum);
    free(a_mem);
    free(x);
    free(y);
    return 0;
}

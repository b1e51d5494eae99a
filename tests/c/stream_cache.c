/*
 * stream_cache.c - a synthetic access trace for the A73 cache model
 * (tests/test_a73_model.py): PASSES passes over the first BYTES bytes of a
 * 64-byte-aligned static buffer, one 8-byte load (or store, MODE 1) per
 * element.  The loop is inline asm so its instruction classes are known:
 * per element one load (or store), one FP op, one PRFM, one integer op and
 * one branch.
 *
 *   stream_cache BYTES PASSES [MODE]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_BYTES (8u << 20)

static uint64_t buf[MAX_BYTES / 8] __attribute__((aligned(64)));

static void pass_read(uint64_t *p, uint64_t n) {
    __asm__ volatile("1:\n\t"
                     "ldr x9, [%0], #8\n\t"
                     "fadd d0, d0, d1\n\t"
                     "prfm pldl1keep, [%0, #256]\n\t"
                     "subs %1, %1, #1\n\t"
                     "b.ne 1b\n\t"
                     : "+r"(p), "+r"(n)
                     :
                     : "x9", "d0", "cc", "memory");
}

static void pass_write(uint64_t *p, uint64_t n) {
    __asm__ volatile("1:\n\t"
                     "str x9, [%0], #8\n\t"
                     "fadd d0, d0, d1\n\t"
                     "prfm pstl1keep, [%0, #256]\n\t"
                     "subs %1, %1, #1\n\t"
                     "b.ne 1b\n\t"
                     : "+r"(p), "+r"(n)
                     :
                     : "x9", "d0", "cc", "memory");
}

int main(int argc, char **argv) {
    uint64_t bytes, n;
    int passes, mode;
    if (argc < 3) {
        fprintf(stderr, "usage: %s BYTES PASSES [MODE]\n", argv[0]);
        return 2;
    }
    bytes = strtoull(argv[1], NULL, 0);
    passes = atoi(argv[2]);
    mode = argc > 3 ? atoi(argv[3]) : 0;
    if (bytes < 8 || bytes > MAX_BYTES || bytes % 8 != 0) {
        fprintf(stderr, "BYTES must be a multiple of 8 in [8, %u]\n", MAX_BYTES);
        return 2;
    }
    n = bytes / 8;
    for (int p = 0; p < passes; p++) {
        if (mode == 1) {
            pass_write(buf, n);
        } else {
            pass_read(buf, n);
        }
    }
    return 0;
}

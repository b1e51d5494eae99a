#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }
/* bwprobe BYTES...: median read bandwidth (GB/s) of summing a BYTES buffer again and again */
int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        size_t n = ((size_t)atoll(argv[i]) / 4 + 63) & ~(size_t)63;
        float *a = aligned_alloc(64, n * 4);
        for (size_t j = 0; j < n; j++) a[j] = (float)(j & 7);
        float s = 0;
        long reps = (long)(4e7 / (double)n) + 1;   /* ~160 MB read per trial */
        double gbs[9];
        for (int t = 0; t < 9; t++) {
            double t0 = now();
            for (long r = 0; r < reps; r++) {
                float acc[16] = {0};
                for (size_t j = 0; j < n; j += 16)
                    for (int k = 0; k < 16; k++) acc[k] += a[j + k];
                for (int k = 0; k < 16; k++) s += acc[k];
                __asm__ volatile("" : : "r"(a) : "memory");
            }
            gbs[t] = (double)reps * n * 4 / (now() - t0) / 1e9;
        }
        qsort(gbs, 9, sizeof gbs[0], cmp);
        printf("%s %.3f %.3f %.3f %g\n", argv[i], gbs[4], gbs[0], gbs[8], (double)s);
        free(a);
    }
    return 0;
}

/*
 * hlf_dispatch.c - the kernels of hlf_kernels.h, hlf_sparse.h, hlf_qkernels.h
 * and the out-of-line activations for a run-time dispatched x86-64 build
 * (hlf_dispatch.h): each forwards to the instruction-set variant chosen once
 * by a constructor that runs before main.  __builtin_cpu_supports also checks
 * that the OS saves the AVX / AVX-512 registers.  Until the constructor has
 * run, the SSE2 variant (every x86-64 has it) is used.
 */
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#include "hlf_dispatch.h"

#if !(defined(__GNUC__) || defined(__clang__)) || !defined(__x86_64__)
#error "hlf_dispatch.c is for x86-64 with GCC or clang (CMake HLF_DISPATCH)"
#endif
#ifndef HLF_NS_ISA
#error "hlf_dispatch.c belongs to a generated project: its runtime/hlf_namespace.h names the variants"
#endif

struct kernel_set {
    const char *isa;
    void (*gemv)(size_t, size_t, const float *HLF_RESTRICT, const float *HLF_RESTRICT,
                 float *HLF_RESTRICT);
    void (*gemm)(size_t, size_t, size_t, const float *HLF_RESTRICT, const float *HLF_RESTRICT,
                 size_t, float *HLF_RESTRICT, size_t);
    void (*spmv_csr)(size_t, const uint32_t *HLF_RESTRICT, const uint16_t *HLF_RESTRICT,
                     const float *HLF_RESTRICT, const float *HLF_RESTRICT, float *HLF_RESTRICT);
    void (*spmm_csr)(size_t, size_t, const uint32_t *HLF_RESTRICT, const uint16_t *HLF_RESTRICT,
                     const float *HLF_RESTRICT, const float *HLF_RESTRICT, size_t,
                     float *HLF_RESTRICT, size_t);
    void (*spmv_bcsr)(size_t, size_t, const uint32_t *HLF_RESTRICT, const uint16_t *HLF_RESTRICT,
                      const float *HLF_RESTRICT, const float *HLF_RESTRICT, float *HLF_RESTRICT);
    void (*spmm_bcsr)(size_t, size_t, size_t, const uint32_t *HLF_RESTRICT,
                      const uint16_t *HLF_RESTRICT, const float *HLF_RESTRICT,
                      const float *HLF_RESTRICT, size_t, float *HLF_RESTRICT, size_t);
    void (*sigmoid)(size_t, float *, float, float);
    void (*tanh)(size_t, float *, float, float);
    void (*f16_gemv)(size_t, size_t, const uint16_t *HLF_RESTRICT, const float *HLF_RESTRICT,
                     float *HLF_RESTRICT);
    void (*f16_gemm)(size_t, size_t, size_t, const uint16_t *HLF_RESTRICT,
                     const float *HLF_RESTRICT, size_t, float *HLF_RESTRICT, size_t);
    void (*qs8_quantize)(size_t, size_t, const float *HLF_RESTRICT, size_t, int8_t *HLF_RESTRICT,
                         size_t, float *HLF_RESTRICT);
    void (*qs8_gemv)(size_t, size_t, const int8_t *HLF_RESTRICT, const float *HLF_RESTRICT,
                     const int8_t *HLF_RESTRICT, float, float *HLF_RESTRICT);
    void (*qs8_gemm)(size_t, size_t, size_t, const int8_t *HLF_RESTRICT, const float *HLF_RESTRICT,
                     const int8_t *HLF_RESTRICT, size_t, const float *HLF_RESTRICT,
                     float *HLF_RESTRICT, size_t);
};

/*
 * The prototypes and the table of one variant.  The kernel names below are
 * macros of hlf_namespace.h that end in the current HLF_KERNEL_ISA, so the
 * same text names the sse2, avx2 or avx512f copy depending on its value.
 */
#define DECLARE_VARIANT()                                                                       \
    void hlf_f32_gemv_acc(size_t, size_t, const float *HLF_RESTRICT, const float *HLF_RESTRICT, \
                          float *HLF_RESTRICT);                                                 \
    void hlf_f32_gemm_acc(size_t, size_t, size_t, const float *HLF_RESTRICT,                    \
                          const float *HLF_RESTRICT, size_t, float *HLF_RESTRICT, size_t);      \
    void hlf_f32_spmv_csr_acc(size_t, const uint32_t *HLF_RESTRICT, const uint16_t *HLF_RESTRICT, \
                              const float *HLF_RESTRICT, const float *HLF_RESTRICT,             \
                              float *HLF_RESTRICT);                                             \
    void hlf_f32_spmm_csr_acc(size_t, size_t, const uint32_t *HLF_RESTRICT,                     \
                              const uint16_t *HLF_RESTRICT, const float *HLF_RESTRICT,          \
                              const float *HLF_RESTRICT, size_t, float *HLF_RESTRICT, size_t);  \
    void hlf_f32_spmv_bcsr_acc(size_t, size_t, const uint32_t *HLF_RESTRICT,                    \
                               const uint16_t *HLF_RESTRICT, const float *HLF_RESTRICT,         \
                               const float *HLF_RESTRICT, float *HLF_RESTRICT);                 \
    void hlf_f32_spmm_bcsr_acc(size_t, size_t, size_t, const uint32_t *HLF_RESTRICT,            \
                               const uint16_t *HLF_RESTRICT, const float *HLF_RESTRICT,         \
                               const float *HLF_RESTRICT, size_t, float *HLF_RESTRICT, size_t); \
    void hlf_f32_sigmoid(size_t, float *, float, float);                                        \
    void hlf_f32_tanh(size_t, float *, float, float);                                           \
    void hlf_f16_gemv_acc(size_t, size_t, const uint16_t *HLF_RESTRICT, const float *HLF_RESTRICT, \
                          float *HLF_RESTRICT);                                                 \
    void hlf_f16_gemm_acc(size_t, size_t, size_t, const uint16_t *HLF_RESTRICT,                 \
                          const float *HLF_RESTRICT, size_t, float *HLF_RESTRICT, size_t);      \
    void hlf_qs8_quantize(size_t, size_t, const float *HLF_RESTRICT, size_t, int8_t *HLF_RESTRICT, \
                          size_t, float *HLF_RESTRICT);                                         \
    void hlf_qs8_gemv_acc(size_t, size_t, const int8_t *HLF_RESTRICT, const float *HLF_RESTRICT, \
                          const int8_t *HLF_RESTRICT, float, float *HLF_RESTRICT);              \
    void hlf_qs8_gemm_acc(size_t, size_t, size_t, const int8_t *HLF_RESTRICT,                   \
                          const float *HLF_RESTRICT, const int8_t *HLF_RESTRICT, size_t,        \
                          const float *HLF_RESTRICT, float *HLF_RESTRICT, size_t)

#define VARIANT_TABLE(name)                                                                     \
    {                                                                                           \
        name, hlf_f32_gemv_acc, hlf_f32_gemm_acc, hlf_f32_spmv_csr_acc, hlf_f32_spmm_csr_acc,   \
            hlf_f32_spmv_bcsr_acc, hlf_f32_spmm_bcsr_acc, hlf_f32_sigmoid, hlf_f32_tanh,        \
            hlf_f16_gemv_acc, hlf_f16_gemm_acc, hlf_qs8_quantize, hlf_qs8_gemv_acc,             \
            hlf_qs8_gemm_acc                                                                    \
    }

#undef HLF_KERNEL_ISA
#define HLF_KERNEL_ISA sse2
DECLARE_VARIANT();
static const struct kernel_set set_sse2 = VARIANT_TABLE("sse2");

#undef HLF_KERNEL_ISA
#define HLF_KERNEL_ISA avx2
DECLARE_VARIANT();
static const struct kernel_set set_avx2 = VARIANT_TABLE("avx2");

#undef HLF_KERNEL_ISA
#define HLF_KERNEL_ISA avx512f
DECLARE_VARIANT();
static const struct kernel_set set_avx512f = VARIANT_TABLE("avx512f");

/* Back to this file's own names: the entry points the library calls. */
#undef HLF_KERNEL_ISA
#define HLF_KERNEL_ISA dispatch

/* Narrowest first. */
static const struct kernel_set *const kernel_sets[] = {&set_sse2, &set_avx2, &set_avx512f};
static const struct kernel_set *active = &set_sse2;

/* F16C (CPUID leaf 1, ECX bit 29): every AVX2 CPU has it, but
 * __builtin_cpu_supports cannot ask (clang has no "f16c"). */
static int have_f16c(void) {
    unsigned int eax, ebx, ecx, edx;
    return __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & (1u << 29)) != 0;
}

/* The widest variant this CPU (and OS) runs: the avx2 objects are compiled
 * with -mavx2 -mfma -mf16c, the avx512f ones with -mavx512f -mavx2 -mfma -mf16c.
 * HLF_MAX_ISA caps the choice, e.g. to compare the variants on one machine. */
__attribute__((constructor)) static void dispatch_init(void) {
    __builtin_cpu_init();
    const int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && have_f16c();
    int level = 0;
    if (avx2 && __builtin_cpu_supports("avx512f")) {
        level = 2;
    } else if (avx2) {
        level = 1;
    }
    const char *cap = getenv("HLF_MAX_ISA");
    for (int i = 0; cap != NULL && i < level; i++) {
        if (strcmp(cap, kernel_sets[i]->isa) == 0) {
            level = i;
        }
    }
    active = kernel_sets[level];
}

const char *hlf_kernels_isa(void) { return active->isa; }

void hlf_f32_gemv_acc(size_t m, size_t n, const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    active->gemv(m, n, a_packed, x, y);
}

void hlf_f32_gemm_acc(size_t nv, size_t m, size_t n, const float *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx, float *HLF_RESTRICT y, size_t ldy) {
    active->gemm(nv, m, n, a_packed, x, ldx, y, ldy);
}

void hlf_f32_spmv_csr_acc(size_t m, const uint32_t *HLF_RESTRICT row_ptr,
                          const uint16_t *HLF_RESTRICT col_idx, const float *HLF_RESTRICT values,
                          const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    active->spmv_csr(m, row_ptr, col_idx, values, x, y);
}

void hlf_f32_spmm_csr_acc(size_t nv, size_t m, const uint32_t *HLF_RESTRICT row_ptr,
                          const uint16_t *HLF_RESTRICT col_idx, const float *HLF_RESTRICT values,
                          const float *HLF_RESTRICT x, size_t ldx, float *HLF_RESTRICT y,
                          size_t ldy) {
    active->spmm_csr(nv, m, row_ptr, col_idx, values, x, ldx, y, ldy);
}

void hlf_f32_spmv_bcsr_acc(size_t m, size_t br, const uint32_t *HLF_RESTRICT block_ptr,
                           const uint16_t *HLF_RESTRICT block_col, const float *HLF_RESTRICT values,
                           const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    active->spmv_bcsr(m, br, block_ptr, block_col, values, x, y);
}

void hlf_f32_spmm_bcsr_acc(size_t nv, size_t m, size_t br, const uint32_t *HLF_RESTRICT block_ptr,
                           const uint16_t *HLF_RESTRICT block_col,
                           const float *HLF_RESTRICT values, const float *HLF_RESTRICT x,
                           size_t ldx, float *HLF_RESTRICT y, size_t ldy) {
    active->spmm_bcsr(nv, m, br, block_ptr, block_col, values, x, ldx, y, ldy);
}

void hlf_f32_sigmoid(size_t n, float *x, float alpha, float beta) { active->sigmoid(n, x, alpha, beta); }

void hlf_f32_tanh(size_t n, float *x, float alpha, float beta) { active->tanh(n, x, alpha, beta); }

void hlf_f16_gemv_acc(size_t m, size_t n, const uint16_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, float *HLF_RESTRICT y) {
    active->f16_gemv(m, n, a_packed, x, y);
}

void hlf_f16_gemm_acc(size_t nv, size_t m, size_t n, const uint16_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT x, size_t ldx, float *HLF_RESTRICT y, size_t ldy) {
    active->f16_gemm(nv, m, n, a_packed, x, ldx, y, ldy);
}

void hlf_qs8_quantize(size_t nv, size_t n, const float *HLF_RESTRICT x, size_t ldx,
                      int8_t *HLF_RESTRICT q, size_t ldq, float *HLF_RESTRICT scale) {
    active->qs8_quantize(nv, n, x, ldx, q, ldq, scale);
}

void hlf_qs8_gemv_acc(size_t m, size_t n, const int8_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT a_scale, const int8_t *HLF_RESTRICT xq,
                      float x_scale, float *HLF_RESTRICT y) {
    active->qs8_gemv(m, n, a_packed, a_scale, xq, x_scale, y);
}

void hlf_qs8_gemm_acc(size_t nv, size_t m, size_t n, const int8_t *HLF_RESTRICT a_packed,
                      const float *HLF_RESTRICT a_scale, const int8_t *HLF_RESTRICT xq,
                      size_t ldq, const float *HLF_RESTRICT x_scale, float *HLF_RESTRICT y,
                      size_t ldy) {
    active->qs8_gemm(nv, m, n, a_packed, a_scale, xq, ldq, x_scale, y, ldy);
}

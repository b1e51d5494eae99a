/*
 * hlf_dispatch.h - run-time choice of the portable kernels' instruction set
 * (x86-64 hosts, GCC or clang; CMake HLF_DISPATCH=ON, the default unless
 * HLF_NATIVE=ON).
 *
 * Every portable kernel (the f32, f16 and qs8 *-scalar.c files of kernels) is compiled three
 * times, with HLF_KERNEL_ISA set to
 *   sse2    - baseline x86-64 (4-float vectors), runs everywhere;
 *   avx2    - AVX2 + FMA + F16C (8-float vectors);
 *   avx512f - AVX-512F (+ AVX2, FMA, F16C; 16-float vectors: one per 16-row panel column),
 * which the project's runtime/hlf_namespace.h (hlfgen/namespace.py) turns
 * into XNNPACK-style names: hlf_<id>_dispatch_f32_gemv_acc_16x1__avx512f.  All variants
 * read the same packed weights (a panel column of HLF_NR rows is HLF_NR /
 * width vectors, hlf_vec.h), so packing does not depend on the CPU.  The rest
 * of the library is compiled with HLF_KERNEL_ISA=dispatch and HLF_DISPATCH:
 * it calls hlf_<id>_dispatch_f32_gemv_acc_16x1__dispatch and so on, which hlf_dispatch.c
 * defines as calls to the variant chosen once, before main, from cpuid
 * (__builtin_cpu_supports); the environment variable HLF_MAX_ISA (sse2,
 * avx2, avx512f) caps the choice.  Sigmoid and tanh (hlf_activations.h,
 * kernels/f32-vact-scalar.c) are dispatched the same way.
 */
#ifndef HLF_DISPATCH_H
#define HLF_DISPATCH_H

#include "hlf_namespace.h" /* first: the runtime's names in a generated project */

#include <stddef.h>
#include <stdint.h>

#include "hlf_activations.h"
#include "hlf_kernels.h"
#include "hlf_qkernels.h"
#include "hlf_sparse.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The variant in use: "sse2", "avx2" or "avx512f". */
const char *hlf_kernels_isa(void);

#ifdef __cplusplus
}
#endif

#endif /* HLF_DISPATCH_H */

/*
 * f32-vact-neon.c - the activations sigmoid and tanh of hlf_activations.h out
 * of line, hlf_f32_sigmoid / hlf_f32_tanh, for AArch64 (the NEON versions of
 * hlf_activations_neon.h).  The generated code inlines them; the portable
 * twin, kernels/f32-vact-scalar.c, is what run-time dispatched x86-64 builds
 * call (hlf_dispatch.h).
 */
#include "../hlf_activations.h"

void hlf_f32_sigmoid(size_t n, float *x, float alpha, float beta) { hlf_f32_vsigmoid(n, x, alpha, beta); }

void hlf_f32_tanh(size_t n, float *x, float alpha, float beta) { hlf_f32_vtanh(n, x, alpha, beta); }

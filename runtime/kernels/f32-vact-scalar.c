/*
 * f32-vact-scalar.c - the activations sigmoid and tanh of hlf_activations.h out
 * of line, hlf_f32_sigmoid / hlf_f32_tanh.  A run-time dispatched x86-64 build
 * (hlf_dispatch.h) compiles the portable file once per instruction set and
 * calls the copy chosen for the CPU; compiled with -mavx512f its loops run 16
 * lanes at a time.  Other builds inline hlf_activations.h instead.
 */
#include "../hlf_activations.h"

void hlf_f32_sigmoid(size_t n, float *x, float alpha, float beta) { hlf_f32_vsigmoid(n, x, alpha, beta); }

void hlf_f32_tanh(size_t n, float *x, float alpha, float beta) { hlf_f32_vtanh(n, x, alpha, beta); }

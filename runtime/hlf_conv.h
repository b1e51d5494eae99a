/*
 * hlf_conv.h - windowed operators on runtime data: ONNX Conv (1-D and 2-D),
 * MaxPool, AveragePool, and the per-channel affine of BatchNormalization.
 *
 * Tensors are dense, C order, channels first: [N, C, L] or [N, C, H, W].
 * A 1-D window is the 2-D case with H = 1 (kernel 1, stride 1, no pads), so
 * every function takes a 2-D geometry (hlf_window).  Extents are run-time
 * values (a sequence axis T), the rest is fixed when the model is built.
 * No function allocates: Conv's im2col buffer is the caller's scratch.
 */
#ifndef HLF_CONV_H
#define HLF_CONV_H

#include "hlf_namespace.h"

#include <stddef.h>

#include "hlf_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* HLF_CONV_CHUNK (hlf_config.h): output positions per im2col pass of
 * hlf_conv_f32; the scratch holds this many columns and their GEMM results. */

/* Floats of scratch hlf_conv_f32 needs: im2col columns + GEMM results. */
#define HLF_CONV_SCRATCH(cin_per_group, kernel_elems, cout_per_group) \
    ((size_t)HLF_CONV_CHUNK * ((size_t)(cin_per_group) * (size_t)(kernel_elems) + (size_t)(cout_per_group)))

/* ONNX auto_pad. */
enum { HLF_PAD_EXPLICIT = 0, HLF_PAD_VALID = 1, HLF_PAD_SAME_UPPER = 2, HLF_PAD_SAME_LOWER = 3 };

/* The geometry of one window operator over 2 spatial axes (index 0: H, 1: W). */
typedef struct {
    long in[2];        /* input extents */
    long out[2];       /* output extents (hlf_window_init) */
    long kernel[2];
    long stride[2];
    long dilation[2];
    long pad_begin[2]; /* leading padding (hlf_window_init) */
    long pad_end[2];   /* trailing padding (hlf_window_init) */
} hlf_window;

/*
 * Fill w->out and w->pad_begin from in, kernel, stride, dilation and the pads
 * (ONNX Conv / MaxPool / AveragePool output-shape rule):
 *   explicit: out = floor-or-ceil((in + pb + pe - dilation*(k-1) - 1) / stride) + 1,
 *             ceil only with ceil_mode, and a last window that would start in
 *             the trailing padding dropped (onnxruntime's rule);
 *   VALID:    pads 0;
 *   SAME_*:   total pad = max(0, (ceil(in / stride) - 1)*stride + k - in), its odd
 *             half at the end (UPPER) or the beginning (LOWER), then the explicit
 *             rule; k undilated, as onnxruntime computes it (the spec's dilated
 *             kernel gives the same for dilation 1, the only case exporters write).
 * pads_begin / pads_end are read for HLF_PAD_EXPLICIT only (may be NULL otherwise).
 * Returns 0, or -1 when an output extent would be < 1.
 */
int hlf_window_init(hlf_window *w, int auto_pad, int ceil_mode, const long *pads_begin, const long *pads_end);

/*
 * ONNX Conv by im2col + the packed GEMM kernel (hlf_kernels.h):
 *   y[n, g*Mg + m, p] = bias[g*Mg + m] + sum_{c, tap} W[g*Mg + m, c, tap] * x[n, g*Cg + c, p*stride + tap*dilation - pad]
 * x: [batch, groups*Cg, in...]; y: [batch, groups*Mg, out...].
 * w_packed: per group the Mg x (Cg * kh * kw) matrix packed in HLF_NR-row
 * panels (hlfgen/pack.py), groups one after the other (HLF_F32_PACKED_SIZE each).
 * bias: groups*Mg floats or NULL.  scratch: HLF_CONV_SCRATCH(Cg, kh*kw, Mg) floats.
 */
void hlf_conv_f32(const hlf_window *w, size_t batch, size_t groups, size_t cin_per_group, size_t cout_per_group,
                  const float *w_packed, const float *bias, const float *x, float *y, float *scratch);

/*
 * The same Conv computed directly, weights as ONNX stores them
 * [groups*Mg, Cg, kh, kw]: for few output channels per group (depthwise),
 * where a GEMM panel of HLF_NR rows would be mostly padding.
 */
void hlf_conv_direct_f32(const hlf_window *w, size_t batch, size_t groups, size_t cin_per_group,
                         size_t cout_per_group, const float *weights, const float *bias, const float *x, float *y);

/* ONNX MaxPool over planes = N*C planes [in...] -> [out...]; padding never wins. */
void hlf_maxpool_f32(const hlf_window *w, size_t planes, const float *x, float *y);

/*
 * ONNX AveragePool: the mean over the window's taps inside the input
 * (count_include_pad = 0), or divided by the taps inside input + explicit pads
 * (count_include_pad = 1, onnxruntime's divisor for windows that run past
 * the padded end with ceil_mode).  dilation must be 1.
 */
void hlf_avgpool_f32(const hlf_window *w, size_t planes, int count_include_pad, const float *x, float *y);

/*
 * y[n, c, i] = x[n, c, i] * scale[c] + shift[c] for i < inner: BatchNormalization
 * in inference mode, scale = gamma / sqrt(var + eps), shift = beta - mean * scale.
 * x and y may be the same buffer.
 */
void hlf_channel_affine_f32(size_t batch, size_t channels, size_t inner, const float *scale, const float *shift,
                            const float *x, float *y);

#ifdef __cplusplus
}
#endif

#endif /* HLF_CONV_H */

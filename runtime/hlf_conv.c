/*
 * hlf_conv.c - ONNX Conv / MaxPool / AveragePool / BatchNormalization on
 * runtime data (hlf_conv.h).  Portable C99; Conv's arithmetic is the packed
 * GEMM of hlf_kernels.h (portable or NEON, whichever the build links).
 */
#include "hlf_conv.h"

#include <float.h>
#include <string.h>

#include "hlf_kernels.h"

static long ceil_div(long a, long b) {
    return a >= 0 ? (a + b - 1) / b : -((-a) / b);
}

static long floor_div(long a, long b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int hlf_window_init(hlf_window *w, int auto_pad, int ceil_mode, const long *pads_begin, const long *pads_end) {
    for (int a = 0; a < 2; a++) {
        const long keff = w->dilation[a] * (w->kernel[a] - 1) + 1;
        const long in = w->in[a], s = w->stride[a];
        long pb = 0, pe = 0;
        if (auto_pad == HLF_PAD_SAME_UPPER || auto_pad == HLF_PAD_SAME_LOWER) {
            long total = (ceil_div(in, s) - 1) * s + w->kernel[a] - in;
            total = total > 0 ? total : 0;
            pb = auto_pad == HLF_PAD_SAME_UPPER ? total / 2 : total - total / 2;
            pe = total - pb;
        } else if (auto_pad == HLF_PAD_EXPLICIT) {
            pb = pads_begin[a];
            pe = pads_end[a];
        }
        const long span = in + pb + pe - keff;
        long out = (ceil_mode ? ceil_div(span, s) : floor_div(span, s)) + 1;
        /* ceil_mode: a last window starting in the trailing padding is dropped */
        if (ceil_mode && out > 1 && (out - 1) * s >= in + pb) {
            out--;
        }
        if (out < 1) {
            return -1;
        }
        w->out[a] = out;
        w->pad_begin[a] = pb;
        w->pad_end[a] = pe;
    }
    return 0;
}

/*
 * im2col of one group for output positions [p0, p0 + np): column p holds
 * x[c, oh*s - pad + kh*d, ow*s - pad + kw*d] for c < cg, kh, kw (zero outside).
 */
static void im2col(const hlf_window *w, size_t cg, const float *x, size_t p0, size_t np, float *cols) {
    const long ih_n = w->in[0], iw_n = w->in[1], ow_n = w->out[1];
    const long kh_n = w->kernel[0], kw_n = w->kernel[1];
    const size_t plane = (size_t)ih_n * (size_t)iw_n;
    float *col = cols;
    for (size_t p = p0; p < p0 + np; p++) {
        const long oh = (long)p / ow_n, ow = (long)p % ow_n;
        const long h0 = oh * w->stride[0] - w->pad_begin[0];
        const long w0 = ow * w->stride[1] - w->pad_begin[1];
        for (size_t c = 0; c < cg; c++) {
            const float *xc = x + c * plane;
            for (long kh = 0; kh < kh_n; kh++) {
                const long ih = h0 + kh * w->dilation[0];
                if (ih < 0 || ih >= ih_n) {
                    memset(col, 0, (size_t)kw_n * sizeof(float));
                    col += kw_n;
                    continue;
                }
                const float *row = xc + (size_t)ih * (size_t)iw_n;
                for (long kw = 0; kw < kw_n; kw++) {
                    const long iw = w0 + kw * w->dilation[1];
                    *col++ = (iw >= 0 && iw < iw_n) ? row[iw] : 0.0f;
                }
            }
        }
    }
}

void hlf_conv_f32(const hlf_window *w, size_t batch, size_t groups, size_t cin_per_group, size_t cout_per_group,
                  const float *w_packed, const float *bias, const float *x, float *y, float *scratch) {
    const size_t k = cin_per_group * (size_t)w->kernel[0] * (size_t)w->kernel[1];
    const size_t mg = cout_per_group;
    const size_t in_plane = (size_t)w->in[0] * (size_t)w->in[1];
    const size_t positions = (size_t)w->out[0] * (size_t)w->out[1];
    const size_t group_w = HLF_F32_PACKED_SIZE(mg, k);
    float *cols = scratch;                          /* HLF_CONV_CHUNK x k */
    float *res = scratch + HLF_CONV_CHUNK * k;      /* HLF_CONV_CHUNK x mg */
    for (size_t n = 0; n < batch; n++) {
        for (size_t g = 0; g < groups; g++) {
            const float *xg = x + (n * groups + g) * cin_per_group * in_plane;
            float *yg = y + (n * groups + g) * mg * positions;
            const float *bg = bias ? bias + g * mg : NULL;
            for (size_t p0 = 0; p0 < positions; p0 += HLF_CONV_CHUNK) {
                const size_t np = positions - p0 < HLF_CONV_CHUNK ? positions - p0 : HLF_CONV_CHUNK;
                im2col(w, cin_per_group, xg, p0, np, cols);
                memset(res, 0, np * mg * sizeof(float));
                /* res[p, m] = W_g[m, :] . cols[p, :] */
                hlf_f32_gemm_acc(np, mg, k, w_packed + g * group_w, cols, k, res, mg);
                /* res is position-major: store channel-major, adding the bias */
                for (size_t m = 0; m < mg; m++) {
                    const float b = bg ? bg[m] : 0.0f;
                    float *ym = yg + m * positions + p0;
                    for (size_t p = 0; p < np; p++) {
                        ym[p] = res[p * mg + m] + b;
                    }
                }
            }
        }
    }
}

void hlf_conv_direct_f32(const hlf_window *w, size_t batch, size_t groups, size_t cin_per_group,
                         size_t cout_per_group, const float *weights, const float *bias, const float *x, float *y) {
    const long ih_n = w->in[0], iw_n = w->in[1], oh_n = w->out[0], ow_n = w->out[1];
    const long kh_n = w->kernel[0], kw_n = w->kernel[1];
    const size_t in_plane = (size_t)ih_n * (size_t)iw_n;
    const size_t taps = (size_t)kh_n * (size_t)kw_n;
    for (size_t n = 0; n < batch; n++) {
        for (size_t g = 0; g < groups; g++) {
            const float *xg = x + (n * groups + g) * cin_per_group * in_plane;
            for (size_t m = 0; m < cout_per_group; m++) {
                const size_t oc = g * cout_per_group + m;
                const float *wm = weights + oc * cin_per_group * taps;
                float *ym = y + (n * groups * cout_per_group + oc) * (size_t)oh_n * (size_t)ow_n;
                for (long oh = 0; oh < oh_n; oh++) {
                    const long h0 = oh * w->stride[0] - w->pad_begin[0];
                    for (long ow = 0; ow < ow_n; ow++) {
                        const long w0 = ow * w->stride[1] - w->pad_begin[1];
                        float acc = bias ? bias[oc] : 0.0f;
                        for (size_t c = 0; c < cin_per_group; c++) {
                            const float *xc = xg + c * in_plane;
                            const float *wc = wm + c * taps;
                            for (long kh = 0; kh < kh_n; kh++) {
                                const long ih = h0 + kh * w->dilation[0];
                                if (ih < 0 || ih >= ih_n) {
                                    continue;
                                }
                                for (long kw = 0; kw < kw_n; kw++) {
                                    const long iw = w0 + kw * w->dilation[1];
                                    if (iw >= 0 && iw < iw_n) {
                                        acc += wc[kh * kw_n + kw] * xc[(size_t)ih * (size_t)iw_n + (size_t)iw];
                                    }
                                }
                            }
                        }
                        ym[oh * ow_n + ow] = acc;
                    }
                }
            }
        }
    }
}

void hlf_maxpool_f32(const hlf_window *w, size_t planes, const float *x, float *y) {
    const long ih_n = w->in[0], iw_n = w->in[1], oh_n = w->out[0], ow_n = w->out[1];
    const size_t in_plane = (size_t)ih_n * (size_t)iw_n;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        float *yp = y + pl * (size_t)oh_n * (size_t)ow_n;
        for (long oh = 0; oh < oh_n; oh++) {
            const long h0 = oh * w->stride[0] - w->pad_begin[0];
            for (long ow = 0; ow < ow_n; ow++) {
                const long w0 = ow * w->stride[1] - w->pad_begin[1];
                float best = -FLT_MAX;
                int any = 0;
                for (long kh = 0; kh < w->kernel[0]; kh++) {
                    const long ih = h0 + kh * w->dilation[0];
                    if (ih < 0 || ih >= ih_n) {
                        continue;
                    }
                    for (long kw = 0; kw < w->kernel[1]; kw++) {
                        const long iw = w0 + kw * w->dilation[1];
                        if (iw >= 0 && iw < iw_n) {
                            const float v = xp[(size_t)ih * (size_t)iw_n + (size_t)iw];
                            if (!any || v > best) {
                                best = v;
                                any = 1;
                            }
                        }
                    }
                }
                yp[oh * ow_n + ow] = best;
            }
        }
    }
}

void hlf_avgpool_f32(const hlf_window *w, size_t planes, int count_include_pad, const float *x, float *y) {
    const long *pads_end = w->pad_end;
    const long ih_n = w->in[0], iw_n = w->in[1], oh_n = w->out[0], ow_n = w->out[1];
    const size_t in_plane = (size_t)ih_n * (size_t)iw_n;
    for (size_t pl = 0; pl < planes; pl++) {
        const float *xp = x + pl * in_plane;
        float *yp = y + pl * (size_t)oh_n * (size_t)ow_n;
        for (long oh = 0; oh < oh_n; oh++) {
            const long hs = oh * w->stride[0] - w->pad_begin[0];
            const long he_pad = hs + w->kernel[0] < ih_n + pads_end[0] ? hs + w->kernel[0] : ih_n + pads_end[0];
            const long h_lo = hs > 0 ? hs : 0;
            const long h_hi = hs + w->kernel[0] < ih_n ? hs + w->kernel[0] : ih_n;
            for (long ow = 0; ow < ow_n; ow++) {
                const long ws = ow * w->stride[1] - w->pad_begin[1];
                const long we_pad = ws + w->kernel[1] < iw_n + pads_end[1] ? ws + w->kernel[1] : iw_n + pads_end[1];
                const long w_lo = ws > 0 ? ws : 0;
                const long w_hi = ws + w->kernel[1] < iw_n ? ws + w->kernel[1] : iw_n;
                float sum = 0.0f;
                for (long ih = h_lo; ih < h_hi; ih++) {
                    for (long iw = w_lo; iw < w_hi; iw++) {
                        sum += xp[(size_t)ih * (size_t)iw_n + (size_t)iw];
                    }
                }
                const long count = count_include_pad ? (he_pad - hs) * (we_pad - ws)
                                                     : (h_hi - h_lo) * (w_hi - w_lo);
                yp[oh * ow_n + ow] = count > 0 ? sum / (float)count : 0.0f;
            }
        }
    }
}

void hlf_channel_affine_f32(size_t batch, size_t channels, size_t inner, const float *scale, const float *shift,
                            const float *x, float *y) {
    for (size_t n = 0; n < batch; n++) {
        for (size_t c = 0; c < channels; c++) {
            const size_t off = (n * channels + c) * inner;
            const float a = scale[c], b = shift[c];
            for (size_t i = 0; i < inner; i++) {
                y[off + i] = x[off + i] * a + b;
            }
        }
    }
}

/* Max error (absolute where |f| <= 1, else relative) of every hlf_f32_v* activation over a sweep of [-100, 100]
 * plus special values; the reference is libm in double precision. */
#include <math.h>
#include <stdio.h>

#include "hlf_activations.h"

#define N 200003
static float xs[N], ys[N];

static double ref(int k, double x, double a, double b) {
    switch (k) {
    case 0: return 1.0 / (1.0 + exp(-x));
    case 1: return tanh(x);
    case 2: return a * tanh(b * x);
    case 3: return x >= 0 ? x : a * expm1(x);
    case 4: return x > 30 ? x : log1p(exp(x));
    case 5: return fmin(fmax(a * x + b, 0.0), 1.0);
    case 6: return isinf(x) ? copysign(1.0, x) : x / (1.0 + fabs(x));
    case 7: return x >= 0 ? x : a * x;
    case 8: return x >= a ? x : 0.0;
    case 9: return a * x + b;
    default: return x > 0 ? x : 0.0;
    }
}

static void apply(int k, float a, float b) {
    switch (k) {
    case 0: hlf_f32_vsigmoid(N, ys, a, b); break;
    case 1: hlf_f32_vtanh(N, ys, a, b); break;
    case 2: hlf_f32_vscaledtanh(N, ys, a, b); break;
    case 3: hlf_f32_velu(N, ys, a, b); break;
    case 4: hlf_f32_vsoftplus(N, ys, a, b); break;
    case 5: hlf_f32_vhardsigmoid(N, ys, a, b); break;
    case 6: hlf_f32_vsoftsign(N, ys, a, b); break;
    case 7: hlf_f32_vleakyrelu(N, ys, a, b); break;
    case 8: hlf_f32_vthresholdedrelu(N, ys, a, b); break;
    case 9: hlf_f32_vaffine(N, ys, a, b); break;
    default: hlf_f32_vrelu(N, ys, a, b); break;
    }
}

int main(void) {
    static const char *names[] = {"Sigmoid", "Tanh", "ScaledTanh", "Elu", "Softplus", "HardSigmoid",
                                  "Softsign", "LeakyRelu", "ThresholdedRelu", "Affine", "Relu"};
    const float a = 0.7f, b = 1.3f;
    for (int i = 0; i < N - 8; i++) {
        xs[i] = -100.0f + 200.0f * (float)i / (float)(N - 9);
    }
    const float special[8] = {0.0f, -0.0f, 1e-40f, -1e-40f, 3.0e38f, -3.0e38f, INFINITY, -INFINITY};
    for (int i = 0; i < 8; i++) {
        xs[N - 8 + i] = special[i];
    }
    for (int k = 0; k < 11; k++) {
        for (int i = 0; i < N; i++) {
            ys[i] = xs[i];
        }
        apply(k, a, b);
        double worst = 0.0;
        int bad = 0;
        for (int i = 0; i < N; i++) {
            const double r = ref(k, (double)xs[i], (double)a, (double)b);
            /* absolute error where |f| <= 1, relative beyond */
            const double e = fabs((double)ys[i] - r) / (fabs(r) > 1.0 ? fabs(r) : 1.0);
            if (isinf(r) ? ys[i] != r : !(e <= worst)) {
                if (isinf(r) || isnan(ys[i])) {
                    bad = 1;
                } else {
                    worst = e;
                }
            }
        }
        /* NaN in, NaN out */
        ys[0] = NAN;
        apply(k, a, b);
        printf("%s %.3g %d %d\n", names[k], worst, bad, isnan(ys[0]) ? 1 : 0);
    }
    return 0;
}

/*
 * fake_model.c - a stand-in for a generated model plus its <name>_run.c, used
 * by tests/test_runner_c.py to exercise runtime/hlf_runner.c.
 *
 * Inputs:  X [T, 2, 3] f32; optional sequence_lens [2] i32, h0 [1, 2, 3] f32,
 *          bias [3] i64.
 * Outputs: Y [T, 2, 3] f32, Y_last [2, 3] f32, "steps/count:0" [2] i64.
 *
 * State s[b][c] starts at h0 (or 0).  At step t, batch b is active when
 * t < sequence_lens[b] (all active without sequence_lens): s += X[t, b];
 * Y[t, b] = s + bias (inactive: 0).  Y_last = s at the end, steps = number of
 * active steps per batch.  run() fails (returns 3) when a sequence length is
 * negative or greater than T.
 *
 * With -DFAKE_DOUBLE_T a fifth input "pairs" [2*T] f32 and an output
 * "pairs_out" [T, 2] (a copy) are added and step/reset are left NULL.
 * With -DFAKE_BATCH_FIRST, X and Y are [2, T, 3] instead (T not on axis 0).
 */
#include <stdint.h>
#include <string.h>

#include "hlf_runner.h"

#define MAX_T 16
#define BATCH 2
#define HIDDEN 3

/* Flat index of element (t, b, c) of X or Y for sequence length T. */
#ifdef FAKE_BATCH_FIRST
#define SEQ_DIMS {BATCH, -1, HIDDEN}
#define SEQ_INDEX(t, b, c, T) (((b) * (T) + (t)) * HIDDEN + (c))
#else
#define SEQ_DIMS {-1, BATCH, HIDDEN}
#define SEQ_INDEX(t, b, c, T) (((t) * BATCH + (b)) * HIDDEN + (c))
#endif

static float x_buf[MAX_T * BATCH * HIDDEN];
static float x_step[BATCH * HIDDEN];
static int32_t lens_buf[BATCH];
static float h0_buf[BATCH * HIDDEN];
static int64_t bias_buf[HIDDEN];
static float y_buf[MAX_T * BATCH * HIDDEN];
static float y_step[BATCH * HIDDEN];
static float y_last_buf[BATCH * HIDDEN];
static int64_t steps_buf[BATCH];

static float state[BATCH][HIDDEN];
static int64_t steps_done[BATCH];
static int step_index;

#ifdef FAKE_DOUBLE_T
static float pairs_buf[2 * MAX_T];
static float pairs_out_buf[2 * MAX_T];
#endif

/* Sets the state from h0 (zeros when absent). */
static int fake_reset(const void *const *inputs)
{
    const float *h0 = (const float *)inputs[2];
    int b, c;
    for (b = 0; b < BATCH; b++) {
        for (c = 0; c < HIDDEN; c++)
            state[b][c] = h0 != NULL ? h0[b * HIDDEN + c] : 0.0f;
        steps_done[b] = 0;
    }
    step_index = 0;
    return 0;
}

/* One time step: x and y are [BATCH, HIDDEN]. */
static int fake_step(const void *const *inputs, void *const *outputs)
{
    const float *x = (const float *)inputs[0];
    const int32_t *lens = (const int32_t *)inputs[1];
    const int64_t *bias = (const int64_t *)inputs[3];
    float *y = (float *)outputs[0];
    float *y_last = (float *)outputs[1];
    int64_t *steps = (int64_t *)outputs[2];
    int b, c;
    for (b = 0; b < BATCH; b++) {
        int active = lens == NULL || step_index < lens[b];
        steps_done[b] += active;
        steps[b] = steps_done[b];
        for (c = 0; c < HIDDEN; c++) {
            if (active)
                state[b][c] += x[b * HIDDEN + c];
            y[b * HIDDEN + c] = active ? state[b][c] + (bias ? (float)bias[c] : 0.0f) : 0.0f;
            y_last[b * HIDDEN + c] = state[b][c];
        }
    }
    step_index++;
    return 0;
}

/* The whole sequence: gathers step t of X, steps, scatters step t of Y. */
static int fake_run(int seq_len, const void *const *inputs, void *const *outputs)
{
    const void *in[4];
    void *out[3];
    float x_t[BATCH * HIDDEN];
    float y_t[BATCH * HIDDEN];
    const float *x = (const float *)inputs[0];
    float *y = (float *)outputs[0];
    const int32_t *lens = (const int32_t *)inputs[1];
    int t, b, c;
    if (seq_len < 1 || seq_len > MAX_T)
        return 2;
    for (b = 0; lens != NULL && b < BATCH; b++)
        if (lens[b] < 0 || lens[b] > seq_len)
            return 3;
    memcpy(in, inputs, sizeof in);
    memcpy(out, outputs, sizeof out);
    fake_reset(inputs);
    in[0] = x_t;
    out[0] = y_t;
    for (t = 0; t < seq_len; t++) {
        for (b = 0; b < BATCH; b++)
            for (c = 0; c < HIDDEN; c++)
                x_t[b * HIDDEN + c] = x[SEQ_INDEX(t, b, c, seq_len)];
        fake_step(in, out);
        for (b = 0; b < BATCH; b++)
            for (c = 0; c < HIDDEN; c++)
                y[SEQ_INDEX(t, b, c, seq_len)] = y_t[b * HIDDEN + c];
    }
#ifdef FAKE_DOUBLE_T
    if (inputs[4] != NULL)
        memcpy(outputs[3], inputs[4], (size_t)(2 * seq_len) * sizeof(float));
#endif
    return 0;
}

static hlf_tensor_desc inputs[] = {
    {"X", HLF_DTYPE_F32, 3, SEQ_DIMS, 0, x_buf, MAX_T * BATCH * HIDDEN, x_step, {0}, NULL},
    {"sequence_lens", HLF_DTYPE_I32, 1, {BATCH}, 1, lens_buf, BATCH, lens_buf, {0}, NULL},
    {"h0", HLF_DTYPE_F32, 3, {1, BATCH, HIDDEN}, 1, h0_buf, BATCH * HIDDEN, h0_buf, {0}, NULL},
    {"bias", HLF_DTYPE_I64, 1, {HIDDEN}, 1, bias_buf, HIDDEN, bias_buf, {0}, NULL},
#ifdef FAKE_DOUBLE_T
    {"pairs", HLF_DTYPE_F32, 1, {-2}, 1, pairs_buf, 2 * MAX_T, NULL, {0}, NULL},
#endif
};

static hlf_tensor_desc outputs[] = {
    {"Y", HLF_DTYPE_F32, 3, SEQ_DIMS, 0, y_buf, MAX_T * BATCH * HIDDEN, y_step, {0}, NULL},
    {"Y_last", HLF_DTYPE_F32, 2, {BATCH, HIDDEN}, 0, y_last_buf, BATCH * HIDDEN, y_last_buf, {0}, NULL},
    {"steps/count:0", HLF_DTYPE_I64, 1, {BATCH}, 0, steps_buf, BATCH, steps_buf, {0}, NULL},
#ifdef FAKE_DOUBLE_T
    {"pairs_out", HLF_DTYPE_F32, 2, {-1, 2}, 0, pairs_out_buf, 2 * MAX_T, NULL, {0}, NULL},
#endif
};

static const hlf_model_desc model = {
    "fake",
    MAX_T,
    (int)(sizeof inputs / sizeof inputs[0]),
    (int)(sizeof outputs / sizeof outputs[0]),
    inputs,
    outputs,
    fake_run,
#ifdef FAKE_DOUBLE_T
    NULL,
    NULL,
#else
    fake_step,
    fake_reset,
#endif
    0, NULL, NULL, NULL, NULL, 0, /* legacy: the one run-time dimension T (run_dims NULL) */
};

int main(int argc, char **argv)
{
    return hlf_runner_main(argc, argv, &model);
}

/* Greedy seq2seq decoding with two hlfgen models in one program.
 *
 * nmt_enc (embedding + bidirectional HLF LSTM) runs once per sentence; nmt_dec
 * (one decoder step: HLF LSTM at T = 1, Luong attention, logits) runs once per
 * output token, its state (h, c) carried from step to step by the caller.
 * Each model has its own instance in memory owned here (the context API), so
 * nothing in either library is shared or static.
 *
 * stdin: one sentence per line, word ids separated by spaces.
 * stdout: the decoded word ids of each sentence on one line (EOS not printed).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nmt_dec.h"
#include "nmt_enc.h"

#define NMT_BOS 1
#define NMT_EOS 2
#define NMT_MAX_SRC NMT_ENC_MAX_DIM_T
#define NMT_MAX_OUT (NMT_MAX_SRC + 2)
#define NMT_LINE 4096

/* The decoder's first state is the encoder's final state of both directions
 * side by side: h_n [2, 1, H] and h0 [1, 1, 2H] are the same floats. */
_Static_assert(NMT_ENC_OUTPUT_H_N_MAX_SIZE == NMT_DEC_INPUT_H0_MAX_SIZE, "encoder and decoder states differ");
_Static_assert(NMT_ENC_OUTPUT_MEMORY_MAX_SIZE <= NMT_DEC_INPUT_MEMORY_MAX_SIZE, "memory does not fit the decoder");

static unsigned char enc_mem[NMT_ENC_CTX_BYTES] __attribute__((aligned(NMT_ENC_CTX_ALIGN)));
static unsigned char dec_mem[NMT_DEC_CTX_BYTES] __attribute__((aligned(NMT_DEC_CTX_ALIGN)));

/* Decodes one sentence of n ids; returns the number of output ids, or -1. */
static int nmt_translate(nmt_enc_ctx *enc, nmt_dec_ctx *dec, const int64_t *src, int n, int64_t *out) {
    float memory[NMT_ENC_OUTPUT_MEMORY_MAX_SIZE];
    float h[2][NMT_DEC_INPUT_H0_MAX_SIZE], c[2][NMT_DEC_INPUT_C0_MAX_SIZE];
    float logits[NMT_DEC_OUTPUT_LOGITS_MAX_SIZE];

    int enc_dims[NMT_ENC_NUM_DIMS] = {0};
    enc_dims[NMT_ENC_DIM_T] = n;
    const void *enc_in[NMT_ENC_NUM_INPUTS] = {0};
    void *enc_out[NMT_ENC_NUM_OUTPUTS] = {0};
    enc_in[NMT_ENC_INPUT_TOKENS] = src;
    enc_out[NMT_ENC_OUTPUT_MEMORY] = memory;
    enc_out[NMT_ENC_OUTPUT_H_N] = h[0];
    enc_out[NMT_ENC_OUTPUT_C_N] = c[0];
    if (nmt_enc_ctx_run(enc, enc_dims, enc_in, enc_out) != NMT_ENC_OK) {
        return -1;
    }

    int dec_dims[NMT_DEC_NUM_DIMS] = {0};
    dec_dims[NMT_DEC_DIM_S] = n;
    int64_t prev = NMT_BOS;
    int count = 0;
    for (int step = 0; step < NMT_MAX_OUT; step++) {
        const int cur = step & 1; /* (h, c) in, (h, c) of the other buffer out */
        const void *dec_in[NMT_DEC_NUM_INPUTS] = {0};
        void *dec_out[NMT_DEC_NUM_OUTPUTS] = {0};
        dec_in[NMT_DEC_INPUT_PREV] = &prev;
        dec_in[NMT_DEC_INPUT_H0] = h[cur];
        dec_in[NMT_DEC_INPUT_C0] = c[cur];
        dec_in[NMT_DEC_INPUT_MEMORY] = memory;
        dec_out[NMT_DEC_OUTPUT_LOGITS] = logits;
        dec_out[NMT_DEC_OUTPUT_H1] = h[1 - cur];
        dec_out[NMT_DEC_OUTPUT_C1] = c[1 - cur];
        if (nmt_dec_ctx_run(dec, dec_dims, dec_in, dec_out) != NMT_DEC_OK) {
            return -1;
        }
        int best = 0; /* argmax, the first of equal maxima (as torch.argmax) */
        for (int v = 1; v < (int)NMT_DEC_OUTPUT_LOGITS_MAX_SIZE; v++) {
            if (logits[v] > logits[best]) {
                best = v;
            }
        }
        if (best == NMT_EOS) {
            break;
        }
        out[count++] = best;
        prev = best;
    }
    return count;
}

int main(void) {
    nmt_enc_ctx *enc = nmt_enc_init(enc_mem, sizeof enc_mem);
    nmt_dec_ctx *dec = nmt_dec_init(dec_mem, sizeof dec_mem);
    if (!enc || !dec) {
        fprintf(stderr, "nmt: init failed\n");
        return 1;
    }
    char line[NMT_LINE];
    while (fgets(line, sizeof line, stdin)) {
        int64_t src[NMT_MAX_SRC], out[NMT_MAX_OUT];
        int n = 0;
        for (char *p = line, *end; n < NMT_MAX_SRC; p = end) {
            const long v = strtol(p, &end, 10);
            if (end == p) {
                break;
            }
            src[n++] = v;
        }
        if (n == 0) {
            continue;
        }
        const int m = nmt_translate(enc, dec, src, n, out);
        if (m < 0) {
            fprintf(stderr, "nmt: a model refused its input (a word id out of range?)\n");
            return 1;
        }
        for (int i = 0; i < m; i++) {
            printf(i ? " %lld" : "%lld", (long long)out[i]);
        }
        printf("\n");
    }
    return 0;
}

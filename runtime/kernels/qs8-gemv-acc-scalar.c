/*
 * qs8-gemv-acc-scalar.c - y[0:m] += (a_scale[r] * x_scale) * (Aq . xq)[r],
 * int8 weights in the cell layout of hlf_qkernels.h (panels of HLF_NR rows,
 * cells of 16 columns stored row by row).
 *
 * x86 with AVX2 (the avx2 and avx512f variants of the dispatched build, and
 * -march=native): eight rows at a time, each row one vector of 8 int32
 * partial sums carried over all the cells.  Per cell and row, the 16 weights
 * are sign-extended to int16 (VPMOVSXBW), multiplied by x's 16 entries (also
 * int16) and summed in adjacent pairs into int32 (VPMADDWD: exact, also for
 * -128), then added to the row's vector; the eight vectors are reduced to the
 * eight row sums once per panel.  SSE2: the same with 8-int16 halves of a
 * cell (PUNPCK + PSRAW sign-extension, PMADDWD).  With AVX-512BW (only
 * -march=native: the avx512f variant has no byte/word zmm instructions), two
 * rows per zmm and, with AVX512-VNNI, VPDPWSSD for multiply-add-accumulate.
 * Measured (2-core Xeon, Sapphire Rapids class, gcc 12 -O2, 2048 x 512 GEMV,
 * weights in L2): 132 us with the C99 loop below (a horizontal sum per row
 * and cell), 24.5 us AVX2 (VPMOVSXBW-bound: 9 per 8 rows and cell), 25 us
 * avx512f variant, 55 us SSE2, 19.5-22 us -march=native (AVX-512BW + VNNI;
 * docs/quantization.md).
 *
 * Elsewhere, portable C99: per cell, each row's 16-term int8 dot product
 * summed in int32.  Integer sums are exact, so every path gives the same
 * int32 row sums, and the fp32 scaling below is the same expression on all.
 */
#include "../hlf_qkernels.h"

#if (defined(__AVX2__) || defined(__SSE2__)) && HLF_NR % 8 == 0
#include <immintrin.h>

#if defined(__AVX2__)
/* The 16 int8 at p, sign-extended to 16 int16. */
#define LOADW(p) _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(p)))

/* The eight row sums of s[0..7] (8 int32 partial sums each) into out[0..7]. */
static inline void reduce8(const __m256i s[8], int32_t *out) {
    const __m256i h01 = _mm256_hadd_epi32(s[0], s[1]);
    const __m256i h23 = _mm256_hadd_epi32(s[2], s[3]);
    const __m256i h45 = _mm256_hadd_epi32(s[4], s[5]);
    const __m256i h67 = _mm256_hadd_epi32(s[6], s[7]);
    const __m256i q0 = _mm256_hadd_epi32(h01, h23); /* rows 0-3, two halves */
    const __m256i q1 = _mm256_hadd_epi32(h45, h67); /* rows 4-7 */
    const __m256i lo = _mm256_permute2x128_si256(q0, q1, 0x20);
    const __m256i hi = _mm256_permute2x128_si256(q0, q1, 0x31);
    _mm256_storeu_si256((__m256i *)(void *)out, _mm256_add_epi32(lo, hi));
}

/* acc[0..7] = the int32 sums of rows 0..7 of the 8-row group at w (rows 16 bytes apart
 * in a cell, cells `stride` bytes apart) times x, over `cells` cells. */
#if defined(__AVX512BW__)
/* -march=native on an AVX-512BW CPU: two rows (32 weights) per zmm, VPDPWSSD with AVX512-VNNI. */
static inline void group8(size_t cells, const int8_t *w, size_t stride, const int8_t *x, int32_t *acc) {
    __m512i z[4];
    for (int p = 0; p < 4; p++) {
        z[p] = _mm512_setzero_si512();
    }
    for (size_t k = 0; k < cells; k++) {
        const __m512i xv = _mm512_cvtepi8_epi16(
            _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)(x + k * HLF_QS8_KC))));
#pragma GCC unroll 4
        for (int p = 0; p < 4; p++) {
            const __m512i wv =
                _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(w + 2 * p * HLF_QS8_KC)));
#if defined(__AVX512VNNI__)
            z[p] = _mm512_dpwssd_epi32(z[p], wv, xv);
#else
            z[p] = _mm512_add_epi32(z[p], _mm512_madd_epi16(wv, xv));
#endif
        }
        w += stride;
    }
    __m256i s[8];
    for (int p = 0; p < 4; p++) {
        s[2 * p] = _mm512_castsi512_si256(z[p]);
        s[2 * p + 1] = _mm512_extracti64x4_epi64(z[p], 1);
    }
    reduce8(s, acc);
}
#else
static inline void group8(size_t cells, const int8_t *w, size_t stride, const int8_t *x, int32_t *acc) {
    __m256i s[8];
    for (int r = 0; r < 8; r++) {
        s[r] = _mm256_setzero_si256();
    }
    for (size_t k = 0; k < cells; k++) {
        const __m256i xv = LOADW(x + k * HLF_QS8_KC);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            s[r] = _mm256_add_epi32(s[r], _mm256_madd_epi16(LOADW(w + r * HLF_QS8_KC), xv));
        }
        w += stride;
    }
    reduce8(s, acc);
}
#endif /* __AVX512BW__ */
#else /* SSE2 */
/* The low / high 8 of 16 int8 as int16 (unpack each byte into a word's high byte, shift back). */
#define LO16(v) _mm_srai_epi16(_mm_unpacklo_epi8((v), (v)), 8)
#define HI16(v) _mm_srai_epi16(_mm_unpackhi_epi8((v), (v)), 8)

static inline void reduce4(__m128i s0, __m128i s1, __m128i s2, __m128i s3, int32_t *out) {
    /* transpose-add: lanes of s_r summed into out[r] */
    const __m128i t0 = _mm_add_epi32(_mm_unpacklo_epi32(s0, s1), _mm_unpackhi_epi32(s0, s1));
    const __m128i t1 = _mm_add_epi32(_mm_unpacklo_epi32(s2, s3), _mm_unpackhi_epi32(s2, s3));
    const __m128i u = _mm_add_epi32(_mm_unpacklo_epi64(t0, t1), _mm_unpackhi_epi64(t0, t1));
    _mm_storeu_si128((__m128i *)(void *)out, u);
}

static inline void group8(size_t cells, const int8_t *w, size_t stride, const int8_t *x, int32_t *acc) {
    __m128i s[8];
    for (int r = 0; r < 8; r++) {
        s[r] = _mm_setzero_si128();
    }
    for (size_t k = 0; k < cells; k++) {
        const __m128i xb = _mm_loadu_si128((const __m128i *)(const void *)(x + k * HLF_QS8_KC));
        const __m128i xl = LO16(xb), xh = HI16(xb);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) {
            const __m128i wb = _mm_loadu_si128((const __m128i *)(const void *)(w + r * HLF_QS8_KC));
            s[r] = _mm_add_epi32(s[r], _mm_add_epi32(_mm_madd_epi16(LO16(wb), xl), _mm_madd_epi16(HI16(wb), xh)));
        }
        w += stride;
    }
    reduce4(s[0], s[1], s[2], s[3], acc);
    reduce4(s[4], s[5], s[6], s[7], acc + 4);
}
#endif

void hlf_qs8_gemv_acc(size_t m, size_t n, const int8_t *HLF_RESTRICT a,
                      const float *HLF_RESTRICT a_scale, const int8_t *HLF_RESTRICT xq,
                      float x_scale, float *HLF_RESTRICT y) {
    const size_t cells = HLF_QS8_PADDED(n) / HLF_QS8_KC;
    const size_t stride = (size_t)HLF_NR * HLF_QS8_KC; /* bytes per cell */
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        int32_t acc[HLF_NR];
        for (int g = 0; g < HLF_NR; g += 8) {
            group8(cells, a + g * HLF_QS8_KC, stride, xq, acc + g);
        }
        a += cells * stride;
        /* The last panel may hold fewer than HLF_NR real rows. */
        const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
        for (size_t r = 0; r < rows; r++) {
            y[row0 + r] += (a_scale[row0 + r] * x_scale) * (float)acc[r];
        }
    }
}
#else
void hlf_qs8_gemv_acc(size_t m, size_t n, const int8_t *HLF_RESTRICT a,
                      const float *HLF_RESTRICT a_scale, const int8_t *HLF_RESTRICT xq,
                      float x_scale, float *HLF_RESTRICT y) {
    const size_t cells = HLF_QS8_PADDED(n) / HLF_QS8_KC;
    for (size_t row0 = 0; row0 < m; row0 += HLF_NR) {
        int32_t acc[HLF_NR] = {0};
        for (size_t k = 0; k < cells; k++) {
            const int8_t *xk = xq + k * HLF_QS8_KC;
            for (int r = 0; r < HLF_NR; r++) {
                int32_t s = 0;
                for (int j = 0; j < HLF_QS8_KC; j++) {
                    s += (int32_t)a[j] * (int32_t)xk[j];
                }
                acc[r] += s;
                a += HLF_QS8_KC;
            }
        }
        /* The last panel may hold fewer than HLF_NR real rows. */
        const size_t rows = m - row0 < HLF_NR ? m - row0 : HLF_NR;
        for (size_t r = 0; r < rows; r++) {
            y[row0 + r] += (a_scale[row0 + r] * x_scale) * (float)acc[r];
        }
    }
}
#endif

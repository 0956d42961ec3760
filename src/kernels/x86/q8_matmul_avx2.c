/* AVX2 int8 matmul of two activations, the same bytes as q8_matmul__ref
 * (kernels_q8.h). Per product [M, K] x [K, N], blocks of up to 4 rows by 16
 * columns: rows k and k+1 of b, minus zb, are widened to int16 and
 * interleaved into (k, k+1) pairs (one ymm for columns 0-3 and 8-11, one
 * for 4-7 and 12-15, the order of vpunpck*wd within 128-bit lanes); the
 * rows of a, minus za, are widened to int16 once per chunk of k, and each
 * contributes its pair (a[i, k] - za, a[i, k+1] - za) broadcast; vpmaddwd
 * adds both products into int32 lanes. |a - za|, |b - zb| <= 255 fit
 * int16 and, with K <= Q8_MATMUL_EXACT_K, the int32 sums are exact; longer
 * reductions run the reference. A narrow block (a DLRM's [4, 32] x [32, 4])
 * loads 16 bytes of b's rows where they stay inside b, the bytes past its
 * columns feeding lanes that are not stored; an odd K pairs its last row
 * with zeros. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/x86/q8_requant_avx2.h"

#define ROWS 4
#define COLS 16
#define KC 256 /* k per chunk of a widened to int16 (even) */

/* Row k of b, 16 bytes from the block's first column, cols (<= 16) of
 * them used. A full load when it stays inside this product's b (the extra
 * bytes only feed columns that are not stored), else through a copy. */
static inline __m256i load_b(const struct q8_matmul_shape *s, const int8_t *b, int64_t at,
                             int cols, __m256i zb16)
{
    __m128i v;
    if (cols == COLS || at + COLS <= (int64_t)s->k * s->n) {
        v = _mm_loadu_si128((const __m128i *)(b + at));
    } else {
        int8_t buf[COLS] = {0};
        memcpy(buf, b + at, (size_t)cols);
        v = _mm_loadu_si128((const __m128i *)buf);
    }
    return _mm256_sub_epi16(_mm256_cvtepi8_epi16(v), zb16);
}

/* rows x cols of y from rows of a at a and the block's columns of b at
 * b + j (j0 = j within the row). */
static inline __attribute__((always_inline)) void
block(const struct q8_matmul_shape *s, const struct q8_mul_params *p, const struct q8v8_rq *rq,
      const int8_t *a, const int8_t *b, int j0, int8_t *y, int rows, int cols)
{
    const int K = s->k, N = s->n;
    const __m256i zb16 = _mm256_set1_epi16((int16_t)p->b_zero_point);
    const __m256i za16 = _mm256_set1_epi16((int16_t)p->a_zero_point);
    int16_t ar[ROWS][KC];
    __m256i lo_acc[ROWS], hi_acc[ROWS];
    for (int r = 0; r < rows; r++)
        lo_acc[r] = hi_acc[r] = _mm256_setzero_si256();
    for (int k0 = 0; k0 < K; k0 += KC) {
        const int kn = K - k0 < KC ? K - k0 : KC;
        for (int r = 0; r < rows; r++) { /* a - za as int16, a zero after an odd end */
            const int8_t *x = a + (int64_t)r * K + k0;
            int k = 0;
            for (; k + 16 <= kn; k += 16)
                _mm256_storeu_si256(
                    (__m256i *)(ar[r] + k),
                    _mm256_sub_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + k))),
                                     za16));
            for (; k < kn; k++)
                ar[r][k] = (int16_t)(x[k] - p->a_zero_point);
            if (kn % 2)
                ar[r][kn] = 0;
        }
        for (int k = 0; k < kn; k += 2) {
            const int64_t at = (int64_t)(k0 + k) * N + j0;
            const __m256i w0 = load_b(s, b, at, cols, zb16);
            const __m256i w1 = k + 1 < kn ? load_b(s, b, at + N, cols, zb16)
                                          : _mm256_setzero_si256();
            const __m256i lo = _mm256_unpacklo_epi16(w0, w1), hi = _mm256_unpackhi_epi16(w0, w1);
            for (int r = 0; r < rows; r++) {
                int32_t pair;
                memcpy(&pair, ar[r] + k, sizeof pair);
                const __m256i ap = _mm256_set1_epi32(pair);
                lo_acc[r] = _mm256_add_epi32(lo_acc[r], _mm256_madd_epi16(lo, ap));
                hi_acc[r] = _mm256_add_epi32(hi_acc[r], _mm256_madd_epi16(hi, ap));
            }
        }
    }
    for (int r = 0; r < rows; r++) {
        /* back to column order: 0-7, then 8-15 */
        const __m256i c0 = _mm256_permute2x128_si256(lo_acc[r], hi_acc[r], 0x20);
        const __m256i c1 = _mm256_permute2x128_si256(lo_acc[r], hi_acc[r], 0x31);
        const __m128i q0 = q8v8_pack(q8v8_requant(rq, c0));
        const __m128i q1 = cols > 8 ? q8v8_pack(q8v8_requant(rq, c1)) : _mm_setzero_si128();
        const __m128i q = _mm_unpacklo_epi64(q0, q1);
        int8_t *yr = y + (int64_t)r * N;
        if (cols == COLS) {
            _mm_storeu_si128((__m128i *)yr, q);
        } else {
            int8_t buf[COLS];
            _mm_storeu_si128((__m128i *)buf, q);
            memcpy(yr, buf, (size_t)cols);
        }
    }
}

static void matmul_one(const struct q8_matmul_shape *s, const struct q8_mul_params *p,
                       const struct q8v8_rq *rq, const int8_t *a, const int8_t *b, int8_t *y)
{
    for (int j = 0; j < s->n; j += COLS) {
        const int cols = s->n - j < COLS ? s->n - j : COLS;
        int i = 0;
        for (; i + ROWS <= s->m; i += ROWS)
            block(s, p, rq, a + (int64_t)i * s->k, b, j, y + (int64_t)i * s->n + j, ROWS, cols);
        const int8_t *ai = a + (int64_t)i * s->k;
        int8_t *yi = y + (int64_t)i * s->n + j;
        switch (s->m - i) {
        case 3: block(s, p, rq, ai, b, j, yi, 3, cols); break;
        case 2: block(s, p, rq, ai, b, j, yi, 2, cols); break;
        case 1: block(s, p, rq, ai, b, j, yi, 1, cols); break;
        default: break;
        }
    }
}

void q8_matmul__avx2(const struct q8_matmul_shape *s, const struct q8_mul_params *p,
                     const int8_t *a, const int8_t *b, int8_t *y)
{
    if (s->k > Q8_MATMUL_EXACT_K) { /* an int32 sum might overflow */
        q8_matmul__ref(s, p, a, b, y);
        return;
    }
    struct q8v8_rq rq;
    q8v8_rq_init1(&rq, p->multiplier, p->shift, p->out_zero_point, p->qmin, p->qmax);
    int64_t total = 1, index[6] = {0}, ia = 0, ib = 0;
    for (int d = 0; d < s->lead; d++)
        total *= s->dims[d];
    for (int64_t t = 0; t < total; t++) {
        matmul_one(s, p, &rq, a + ia, b + ib, y + t * s->m * s->n);
        MATMUL_NEXT_LEAD(s, index, &ia, &ib);
    }
}

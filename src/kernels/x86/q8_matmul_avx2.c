/* AVX2 int8 matmul of two activations, the same bytes as q8_matmul__ref
 * (kernels_q8.h). Per product [M, K] x [K, N], blocks of up to 4 rows by 16
 * columns: rows k and k+1 of b, minus zb, are widened to int16 and
 * interleaved into (k, k+1) pairs (one ymm for columns 0-3 and 8-11, one
 * for 4-7 and 12-15, the order of vpunpck*wd within 128-bit lanes); each
 * row of a contributes the pair (a[i, k] - za, a[i, k+1] - za) broadcast,
 * and vpmaddwd adds both products into int32 lanes. |a - za|, |b - zb| <=
 * 255 fit int16 and, with K <= Q8_MATMUL_EXACT_K, the int32 sums are exact;
 * longer reductions run the reference. Column tails read through a
 * 16-byte copy padded with zb (adding 0); an odd K pairs its last row with
 * zeros. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/x86/q8_requant_avx2.h"

#define ROWS 4
#define COLS 16

/* 16 bytes of a row of b from col on, cols (<= 16) of them valid, the
 * rest zb (so b - zb adds nothing). */
static inline __m128i load_b(const int8_t *row, int cols, int8_t zb)
{
    if (cols == COLS)
        return _mm_loadu_si128((const __m128i *)row);
    int8_t buf[COLS];
    memset(buf, zb, sizeof buf);
    memcpy(buf, row, (size_t)cols);
    return _mm_loadu_si128((const __m128i *)buf);
}

static inline int32_t a_pair(int32_t a0, int32_t a1)
{
    return (int32_t)((uint32_t)(uint16_t)(int16_t)a0 | (uint32_t)(uint16_t)(int16_t)a1 << 16);
}

/* rows x cols of y from rows of a at a and columns of b at b. */
static inline __attribute__((always_inline)) void
block(const struct q8_matmul_shape *s, const struct q8_mul_params *p, const struct q8v8_rq *rq,
      const int8_t *a, const int8_t *b, int8_t *y, int rows, int cols)
{
    const int K = s->k, N = s->n;
    const int32_t za = p->a_zero_point;
    const __m256i zb16 = _mm256_set1_epi16((int16_t)p->b_zero_point);
    __m256i lo_acc[ROWS], hi_acc[ROWS];
    for (int r = 0; r < rows; r++)
        lo_acc[r] = hi_acc[r] = _mm256_setzero_si256();
    int k = 0;
    for (; k + 1 < K; k += 2) {
        const __m256i w0 = _mm256_sub_epi16(
            _mm256_cvtepi8_epi16(load_b(b + (int64_t)k * N, cols, (int8_t)p->b_zero_point)), zb16);
        const __m256i w1 = _mm256_sub_epi16(
            _mm256_cvtepi8_epi16(load_b(b + (int64_t)(k + 1) * N, cols, (int8_t)p->b_zero_point)),
            zb16);
        const __m256i lo = _mm256_unpacklo_epi16(w0, w1), hi = _mm256_unpackhi_epi16(w0, w1);
        for (int r = 0; r < rows; r++) {
            const int8_t *ar = a + (int64_t)r * K + k;
            const __m256i ap = _mm256_set1_epi32(a_pair(ar[0] - za, ar[1] - za));
            lo_acc[r] = _mm256_add_epi32(lo_acc[r], _mm256_madd_epi16(lo, ap));
            hi_acc[r] = _mm256_add_epi32(hi_acc[r], _mm256_madd_epi16(hi, ap));
        }
    }
    if (k < K) { /* odd K: the last row of b with zeros */
        const __m256i w0 = _mm256_sub_epi16(
            _mm256_cvtepi8_epi16(load_b(b + (int64_t)k * N, cols, (int8_t)p->b_zero_point)), zb16);
        const __m256i zero = _mm256_setzero_si256();
        const __m256i lo = _mm256_unpacklo_epi16(w0, zero), hi = _mm256_unpackhi_epi16(w0, zero);
        for (int r = 0; r < rows; r++) {
            const __m256i ap = _mm256_set1_epi32(a_pair(a[(int64_t)r * K + k] - za, 0));
            lo_acc[r] = _mm256_add_epi32(lo_acc[r], _mm256_madd_epi16(lo, ap));
            hi_acc[r] = _mm256_add_epi32(hi_acc[r], _mm256_madd_epi16(hi, ap));
        }
    }
    for (int r = 0; r < rows; r++) {
        /* back to column order: 0-7, then 8-15 */
        const __m256i c0 = _mm256_permute2x128_si256(lo_acc[r], hi_acc[r], 0x20);
        const __m256i c1 = _mm256_permute2x128_si256(lo_acc[r], hi_acc[r], 0x31);
        const __m128i q0 = q8v8_pack(q8v8_requant(rq, c0));
        const __m128i q1 = q8v8_pack(q8v8_requant(rq, c1));
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
            block(s, p, rq, a + (int64_t)i * s->k, b + j, y + (int64_t)i * s->n + j, ROWS, cols);
        const int8_t *ai = a + (int64_t)i * s->k;
        int8_t *yi = y + (int64_t)i * s->n + j;
        switch (s->m - i) {
        case 3: block(s, p, rq, ai, b + j, yi, 3, cols); break;
        case 2: block(s, p, rq, ai, b + j, yi, 2, cols); break;
        case 1: block(s, p, rq, ai, b + j, yi, 1, cols); break;
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
        for (int d = s->lead - 1; d >= 0; d--) { /* next leading index */
            ia += s->a_stride[d];
            ib += s->b_stride[d];
            if (++index[d] < s->dims[d])
                break;
            ia -= index[d] * s->a_stride[d];
            ib -= index[d] * s->b_stride[d];
            index[d] = 0;
        }
    }
}

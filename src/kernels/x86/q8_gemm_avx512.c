/* AVX-512 (BW) int8 GEMM for CPUs without VNNI: 8x32 tiles of vpmaddwd
 * on exact int16 values (A = x - zx in [-255, 255], B = w), two products
 * per int32 lane plus a vpaddd, no saturating step (not vpmaddubsw). The
 * I16 layout of q8_packed.h: one zmm of B is a k-pair of 16 columns. The
 * driver passes c = 0; the epilogue adds the bias with int32 saturation
 * and requantizes exactly (q8_requant_avx512.h). */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_packed.h"
#include "kernels/x86/q8_requant_avx512.h"

#define MR 8

/* Epilogue parameters of 16 columns. */
struct cols16 {
    struct q8v16_rq rq;
    __m512i bias, cw;
    __mmask16 mask;
};

static void cols16_init(struct cols16 *c, const struct q8_gemm_args *g, int j, int n)
{
    const __mmask16 m = q8v16_mask(n);
    c->mask = m;
    c->bias = _mm512_maskz_loadu_epi32(m, g->bias + j);
    c->cw = _mm512_mullo_epi32(_mm512_set1_epi32(g->c), _mm512_maskz_loadu_epi32(m, g->wsum + j));
    if (g->per_channel)
        q8v16_rq_init(&c->rq, _mm512_maskz_loadu_epi32(m, g->mult + j),
                      _mm512_maskz_loadu_epi32(m, g->shift + j), g->zy, g->qmin, g->qmax);
    else
        q8v16_rq_init1(&c->rq, g->mult[0], g->shift[0], g->zy, g->qmin, g->qmax);
}

static inline void finish16(const struct cols16 *c, __m512i dot, int8_t *y)
{
    const __m512i acc = q8v16_adds_epi32(c->bias, _mm512_sub_epi32(dot, c->cw));
    _mm_mask_storeu_epi8(y, c->mask, _mm512_cvtepi32_epi8(q8v16_requant(&c->rq, acc)));
}

static inline __attribute__((always_inline)) void tile(const struct q8_gemm_args *g, int i0,
                                                       int j0, const struct cols16 *cols,
                                                       const int mr, const int nb)
{
    __m512i acc[MR][2];
    _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    const uint8_t *a = (const uint8_t *)g->a + (size_t)i0 * g->a_stride;
    const int8_t *b0 = g->b + (size_t)(j0 / 16) * g->b_block;
    const int8_t *b1 = b0 + g->b_block;
    const int kpairs = g->kp / 2;
    for (int k = 0; k < kpairs; k++) {
        const __m512i w0 = _mm512_loadu_si512(b0 + (size_t)k * 64);
        const __m512i w1 = nb == 2 ? _mm512_loadu_si512(b1 + (size_t)k * 64) : w0;
        _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++) {
            int32_t pair;
            memcpy(&pair, a + (size_t)i * g->a_stride + (size_t)k * 4, 4);
            const __m512i av = _mm512_set1_epi32(pair);
            acc[i][0] = _mm512_add_epi32(acc[i][0], _mm512_madd_epi16(av, w0));
            if (nb == 2)
                acc[i][1] = _mm512_add_epi32(acc[i][1], _mm512_madd_epi16(av, w1));
        }
    }
    _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++) {
        int8_t *yp = g->y + (size_t)(i0 + i) * g->ldy + j0;
        finish16(&cols[0], acc[i][0], yp);
        if (nb == 2)
            finish16(&cols[1], acc[i][1], yp + 16);
    }
}

static inline __attribute__((always_inline)) void rows(const struct q8_gemm_args *g, int j0,
                                                       const struct cols16 *cols, const int nb)
{
    int i0 = 0;
    for (; i0 + MR <= g->mc; i0 += MR)
        tile(g, i0, j0, cols, MR, nb);
    switch (g->mc - i0) {
    case 7: tile(g, i0, j0, cols, 7, nb); break;
    case 6: tile(g, i0, j0, cols, 6, nb); break;
    case 5: tile(g, i0, j0, cols, 5, nb); break;
    case 4: tile(g, i0, j0, cols, 4, nb); break;
    case 3: tile(g, i0, j0, cols, 3, nb); break;
    case 2: tile(g, i0, j0, cols, 2, nb); break;
    case 1: tile(g, i0, j0, cols, 1, nb); break;
    default: break;
    }
}

void q8_gemm_8x32__avx512(const struct q8_gemm_args *g)
{
    for (int j0 = 0; j0 < g->nc; j0 += 32) {
        const int ncols = g->nc - j0;
        struct cols16 cols[2];
        cols16_init(&cols[0], g, j0, ncols);
        if (ncols > 16) {
            cols16_init(&cols[1], g, j0 + 16, ncols - 16);
            rows(g, j0, cols, 2);
        } else {
            rows(g, j0, cols, 1);
        }
    }
}

/* A rows of the I16 layout: x - zx as int16. */
void q8_copy_a_i16__avx512(void *dst, const int8_t *src, size_t n, int32_t zx)
{
    int16_t *d = dst;
    const __m512i z = _mm512_set1_epi16((short)zx);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512i v = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(src + i)));
        _mm512_storeu_si512(d + i, _mm512_sub_epi16(v, z));
    }
    if (i < n) {
        const __mmask32 m = (__mmask32)((UINT64_C(1) << (n - i)) - 1);
        const __m512i v = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(m, src + i));
        _mm512_mask_storeu_epi16(d + i, m, _mm512_sub_epi16(v, z));
    }
}

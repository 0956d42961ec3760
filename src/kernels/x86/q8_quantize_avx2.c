/* AVX2 quantize (float -> int8) and dequantize (int8 -> float), bit-exact
 * with q8_quantize__ref / q8_dequantize__ref: the method and the argument
 * of q8_quantize_avx512.c (a multiply by 1/scale, and the reference's
 * division for a vector with a lane within 2^-28 of a tie), 4 doubles per
 * ymm. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels_q8.h"

struct qconst {
    __m256d scale, inv, zp, lo, hi;
};

static inline __m256d abs_pd(__m256d v)
{
    return _mm256_andnot_pd(_mm256_set1_pd(-0.0), v);
}

static inline __m128i quant4(const struct qconst *c, __m128 xf)
{
    const __m256d v = _mm256_cvtps_pd(xf);
    const __m256d half = _mm256_set1_pd(0.5);
    __m256d w = _mm256_mul_pd(v, c->inv);
    __m256d t = _mm256_round_pd(w, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256d f = abs_pd(_mm256_sub_pd(w, t));
    const __m256d near = _mm256_and_pd(
        _mm256_cmp_pd(abs_pd(_mm256_sub_pd(f, half)), _mm256_set1_pd(0x1p-28), _CMP_LE_OQ),
        _mm256_cmp_pd(abs_pd(w), _mm256_set1_pd(0x1p21), _CMP_LT_OQ));
    if (_mm256_movemask_pd(near)) {
        w = _mm256_div_pd(v, c->scale);
        t = _mm256_round_pd(w, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        f = abs_pd(_mm256_sub_pd(w, t));
    }
    const __m256d up = _mm256_cmp_pd(f, half, _CMP_GE_OQ);
    const __m256d step =
        _mm256_and_pd(up, _mm256_or_pd(_mm256_set1_pd(1.0), _mm256_and_pd(w, _mm256_set1_pd(-0.0))));
    __m256d r = _mm256_add_pd(_mm256_add_pd(t, step), c->zp);
    r = _mm256_blendv_pd(r, c->zp, _mm256_cmp_pd(v, v, _CMP_UNORD_Q));
    r = _mm256_min_pd(_mm256_max_pd(r, c->lo), c->hi);
    return _mm256_cvttpd_epi32(r);
}

static inline __m128i quant8(const struct qconst *c, const float *x)
{
    const __m256 xv = _mm256_loadu_ps(x);
    const __m128i a = quant4(c, _mm256_castps256_ps128(xv));
    const __m128i b = quant4(c, _mm256_extractf128_ps(xv, 1));
    const __m128i w = _mm_packs_epi32(a, b); /* in [-128, 127]: no saturation */
    return _mm_packs_epi16(w, w);
}

void q8_quantize__avx2(int64_t n, const struct q8_quantize_params *p, const float *x, int8_t *y)
{
    struct qconst c;
    c.scale = _mm256_set1_pd((double)p->scale);
    c.inv = _mm256_set1_pd(1.0 / (double)p->scale);
    c.zp = _mm256_set1_pd((double)p->zero_point);
    c.lo = _mm256_set1_pd((double)p->qmin);
    c.hi = _mm256_set1_pd((double)p->qmax);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storel_epi64((__m128i *)(void *)(y + i), quant8(&c, x + i));
    if (i < n) {
        float tmp[8] = {0};
        int8_t out[16];
        memcpy(tmp, x + i, (size_t)(n - i) * sizeof(float));
        _mm_storeu_si128((__m128i *)(void *)out, quant8(&c, tmp));
        memcpy(y + i, out, (size_t)(n - i));
    }
}

void q8_dequantize__avx2(int64_t n, const struct q8_quantize_params *p, const int8_t *x, float *y)
{
    const __m256 scale = _mm256_set1_ps(p->scale);
    const __m256i zp = _mm256_set1_epi32(p->zero_point);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256i q = _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(x + i)));
        _mm256_storeu_ps(y + i, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(_mm256_sub_epi32(q, zp))));
    }
    for (; i < n; i++)
        y[i] = p->scale * (float)(x[i] - p->zero_point);
}

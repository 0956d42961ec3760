/* AVX2 quantize (float -> int8) and dequantize (int8 -> float), bit-exact
 * with q8_quantize__ref / q8_dequantize__ref: the method and the argument
 * of q8_quantize_avx512.c (a multiply by 1/scale, and the reference's
 * division for a vector with a lane within 2^-28 of a tie), 4 doubles per
 * ymm; in front of it the same method in float, 8 lanes per ymm (below). */
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

/* The float form: w = x * f, f = (float)(1 / scale). Each rounding is
 * within 2^-24 relative, so |w - v| < 2^-22.9 |v| for the reference's
 * v = (double)x / (double)scale (w overflowing to +-inf only where v
 * clamps anyway). With |w| < 512 that is < 2^-13: unless |frac(w)| is
 * within 2^-13 of 1/2, no half-integer lies between w and v and they round
 * alike; a vector with such a lane returns 0 (the caller takes the double
 * form). |w| >= 512 gives |v| > 511 and both clamp to the same bound,
 * since |zp| <= 128. Then round half away as in the double form (w - t is
 * exact), + zp, the clamp; NaN -> zp; in-range integers convert exactly.
 * Only for 1 / scale in [2^-100, 2^100], so that f is a normal float. */
struct qconstf {
    __m256 inv, zp, lo, hi;
};

static inline int quant8f(const struct qconstf *c, const float *x, __m256i *out)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), half = _mm256_set1_ps(0.5f);
    const __m256 v = _mm256_loadu_ps(x);
    const __m256 w = _mm256_mul_ps(v, c->inv);
    const __m256 t = _mm256_round_ps(w, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256 f = _mm256_andnot_ps(sign, _mm256_sub_ps(w, t));
    const __m256 near = _mm256_and_ps(
        _mm256_cmp_ps(_mm256_andnot_ps(sign, _mm256_sub_ps(f, half)), _mm256_set1_ps(0x1p-13f),
                      _CMP_LE_OQ),
        _mm256_cmp_ps(_mm256_andnot_ps(sign, w), _mm256_set1_ps(512.0f), _CMP_LT_OQ));
    if (_mm256_movemask_ps(near))
        return 0;
    const __m256 up = _mm256_cmp_ps(f, half, _CMP_GE_OQ);
    const __m256 step =
        _mm256_and_ps(up, _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_and_ps(w, sign)));
    __m256 r = _mm256_add_ps(_mm256_add_ps(t, step), c->zp);
    r = _mm256_blendv_ps(r, c->zp, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    r = _mm256_min_ps(_mm256_max_ps(r, c->lo), c->hi);
    *out = _mm256_cvttps_epi32(r);
    return 1;
}

/* 8 int32 lanes in [-128, 127] -> 8 bytes. */
static inline __m128i pack8(__m256i q)
{
    const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
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
    const double inv = 1.0 / (double)p->scale;
    const int use_f = inv >= 0x1p-100 && inv <= 0x1p100;
    struct qconstf cf;
    cf.inv = _mm256_set1_ps(use_f ? (float)inv : 0.0f);
    cf.zp = _mm256_set1_ps((float)p->zero_point);
    cf.lo = _mm256_set1_ps((float)p->qmin);
    cf.hi = _mm256_set1_ps((float)p->qmax);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i q;
        const __m128i b = use_f && quant8f(&cf, x + i, &q) ? pack8(q) : quant8(&c, x + i);
        _mm_storel_epi64((__m128i *)(void *)(y + i), b);
    }
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

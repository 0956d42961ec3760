/* AVX-512 quantize (float -> int8) and dequantize (int8 -> float),
 * bit-exact with q8_quantize__ref / q8_dequantize__ref.
 *
 * quantize, per lane, in double as the reference (requant.h
 * q8_quantize_value): v = (double)x / (double)scale (one IEEE division),
 * r = round_half_away(v) + zp, clamp to [qmin, qmax], NaN -> clamp(zp).
 * The division is the slow step, so a lane first takes w = x * (1/scale):
 * |w - v| <= 1.5 * 2^-52 * |v| (two roundings of w, one of v), below
 * 2^-30 when |w| < 2^21. round_half_away(w) == round_half_away(v) unless a
 * half-integer lies between them, i.e. unless frac(w) is within 2^-28 of
 * 1/2; such a vector (rare) is recomputed with the division. |w| >= 2^21
 * clamps to the same bound as v (same sign, far outside [qmin - zp,
 * qmax - zp]). round_half_away(v) = t + sign(v) [|v - t| >= 1/2] with
 * t = trunc(v): v - t is exact. The + zp, the clamp (max/min of non-NaN
 * values) and the conversion of an in-range integer are the reference's
 * steps. dequantize: scale * (float)(q - zp), one float multiply. */
#include <immintrin.h>

#include "kernels/kernels_q8.h"

struct qconst {
    __m512d scale, inv, zp, lo, hi;
};

static inline __m256i quant8(const struct qconst *c, __m256 xf)
{
    const __m512d v = _mm512_cvtps_pd(xf);
    const __m512d half = _mm512_set1_pd(0.5);
    __m512d w = _mm512_mul_pd(v, c->inv);
    __m512d t = _mm512_roundscale_pd(w, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m512d f = _mm512_abs_pd(_mm512_sub_pd(w, t));
    const __mmask8 near =
        _mm512_cmp_pd_mask(_mm512_abs_pd(_mm512_sub_pd(f, half)), _mm512_set1_pd(0x1p-28),
                           _CMP_LE_OQ) &
        _mm512_cmp_pd_mask(_mm512_abs_pd(w), _mm512_set1_pd(0x1p21), _CMP_LT_OQ);
    if (near) {
        w = _mm512_div_pd(v, c->scale);
        t = _mm512_roundscale_pd(w, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
        f = _mm512_abs_pd(_mm512_sub_pd(w, t));
    }
    const __mmask8 up = _mm512_cmp_pd_mask(f, half, _CMP_GE_OQ);
    const __m512d sign = _mm512_and_pd(w, _mm512_set1_pd(-0.0));
    __m512d r = _mm512_mask_add_pd(t, up, t, _mm512_or_pd(_mm512_set1_pd(1.0), sign));
    r = _mm512_add_pd(r, c->zp);
    r = _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(v, v, _CMP_UNORD_Q), c->zp);
    r = _mm512_min_pd(_mm512_max_pd(r, c->lo), c->hi);
    return _mm512_cvttpd_epi32(r);
}

void q8_quantize__avx512(int64_t n, const struct q8_quantize_params *p, const float *x, int8_t *y)
{
    struct qconst c;
    c.scale = _mm512_set1_pd((double)p->scale);
    c.inv = _mm512_set1_pd(1.0 / (double)p->scale);
    c.zp = _mm512_set1_pd((double)p->zero_point);
    c.lo = _mm512_set1_pd((double)p->qmin);
    c.hi = _mm512_set1_pd((double)p->qmax);
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t left = n - i;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        const __m256i lo = quant8(&c, _mm512_castps512_ps256(xv));
        const __m256i hi = quant8(&c, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(xv), 1)));
        const __m512i q = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
        _mm_mask_storeu_epi8(y + i, m, _mm512_cvtepi32_epi8(q));
    }
}

void q8_dequantize__avx512(int64_t n, const struct q8_quantize_params *p, const int8_t *x,
                           float *y)
{
    const __m512 scale = _mm512_set1_ps(p->scale);
    const __m512i zp = _mm512_set1_epi32(p->zero_point);
    for (int64_t i = 0; i < n; i += 16) {
        const int64_t left = n - i;
        const __mmask16 m = left >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << left) - 1);
        const __m512i q = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, x + i));
        const __m512 v = _mm512_cvtepi32_ps(_mm512_sub_epi32(q, zp));
        _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(scale, v));
    }
}

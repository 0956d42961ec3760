/* AVX-512 requantization of 16 int32 lanes, bit-exact with q8_requantize /
 * q8_requant_clamp (src/kernels/requant.h). Include only from *_avx512.c,
 * *_vnni.c and *_amx.c (AVX-512 F/BW/DQ/VL).
 *
 * The same steps as q8_requant_avx2.h: exact int64 products on the even
 * and odd lanes (vpmuldq), |p| + 2^(r-1) shifted right by a per-lane r
 * (vpsrlvq), the sign put back (one rounding, ties away from zero), then
 * clamp(q, qmin - zy, qmax - zy) + zy, equal to clamp(zy + sat32(q), qmin,
 * qmax) because the int32 bounds lie far outside the clamp. */
#ifndef QUANTA_KERNELS_X86_Q8_REQUANT_AVX512_H
#define QUANTA_KERNELS_X86_Q8_REQUANT_AVX512_H

#include <immintrin.h>
#include <stdint.h>

struct q8v16_rq {
    __m512i m_even, m_odd;      /* M in the low 32 bits of each int64 */
    __m512i r_even, r_odd;      /* 31 + shift */
    __m512i h_even, h_odd;      /* 2^(r-1) */
    __m512i lo, hi;             /* qmin - zy, qmax - zy (int64) */
    __m512i zy;                 /* int32 */
};

static inline void q8v16_rq_init(struct q8v16_rq *p, __m512i mult, __m512i shift, int32_t zy,
                                 int32_t qmin, int32_t qmax)
{
    const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF);
    const __m512i one = _mm512_set1_epi64(1);
    const __m512i r = _mm512_add_epi32(shift, _mm512_set1_epi32(31));
    p->m_even = mult;
    p->m_odd = _mm512_srli_epi64(mult, 32);
    p->r_even = _mm512_and_si512(r, low32);
    p->r_odd = _mm512_srli_epi64(r, 32);
    p->h_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(p->r_even, one));
    p->h_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(p->r_odd, one));
    p->lo = _mm512_set1_epi64((int64_t)qmin - zy);
    p->hi = _mm512_set1_epi64((int64_t)qmax - zy);
    p->zy = _mm512_set1_epi32(zy);
}

static inline void q8v16_rq_init1(struct q8v16_rq *p, int32_t mult, int32_t shift, int32_t zy,
                                  int32_t qmin, int32_t qmax)
{
    q8v16_rq_init(p, _mm512_set1_epi32(mult), _mm512_set1_epi32(shift), zy, qmin, qmax);
}

/* round(p / 2^r), ties away from zero, on int64 lanes (|p| <= 2^62):
 * floor((p + 2^(r-1) - [p < 0]) / 2^r) (an arithmetic shift). For p >= 0
 * that is floor(p / 2^r + 1/2); for p < 0 it is
 * floor((p + 2^(r-1) - 1) / 2^r) = ceil((p - 2^(r-1)) / 2^r)
 * = -floor((-p + 2^(r-1)) / 2^r), the reference's value. No overflow:
 * |p| + 2^(r-1) <= 2^62 + 2^61. */
static inline __m512i q8v16_round_shift(__m512i p, __m512i r, __m512i half)
{
    const __m512i t = _mm512_add_epi64(_mm512_add_epi64(p, half), _mm512_srai_epi64(p, 63));
    return _mm512_srav_epi64(t, r);
}

/* clamp(zy + requantize(acc), qmin, qmax) per lane, as int32. */
static inline __m512i q8v16_requant(const struct q8v16_rq *p, __m512i acc)
{
    __m512i qe = _mm512_mul_epi32(acc, p->m_even);
    __m512i qo = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), p->m_odd);
    qe = _mm512_min_epi64(_mm512_max_epi64(q8v16_round_shift(qe, p->r_even, p->h_even), p->lo),
                          p->hi);
    qo = _mm512_min_epi64(_mm512_max_epi64(q8v16_round_shift(qo, p->r_odd, p->h_odd), p->lo),
                          p->hi);
    const __m512i q = _mm512_mask_blend_epi32(0xAAAA, qe, _mm512_slli_epi64(qo, 32));
    return _mm512_add_epi32(q, p->zy);
}

/* requantize(acc) saturated to int32, no clamp (the inner steps of add). */
static inline __m512i q8v16_requant_sat32(const struct q8v16_rq *p, __m512i acc)
{
    const __m512i lo = _mm512_set1_epi64(INT32_MIN), hi = _mm512_set1_epi64(INT32_MAX);
    __m512i qe = _mm512_mul_epi32(acc, p->m_even);
    __m512i qo = _mm512_mul_epi32(_mm512_srli_epi64(acc, 32), p->m_odd);
    qe = _mm512_min_epi64(_mm512_max_epi64(q8v16_round_shift(qe, p->r_even, p->h_even), lo), hi);
    qo = _mm512_min_epi64(_mm512_max_epi64(q8v16_round_shift(qo, p->r_odd, p->h_odd), lo), hi);
    return _mm512_mask_blend_epi32(0xAAAA, qe, _mm512_slli_epi64(qo, 32));
}

/* sat32(a + b) per int32 lane. */
static inline __m512i q8v16_adds_epi32(__m512i a, __m512i b)
{
    const __m512i r = _mm512_add_epi32(a, b);
    const __mmask16 ovf =
        _mm512_movepi32_mask(_mm512_and_si512(_mm512_xor_si512(a, r), _mm512_xor_si512(b, r)));
    const __m512i sat = _mm512_xor_si512(_mm512_srai_epi32(a, 31), _mm512_set1_epi32(INT32_MAX));
    return _mm512_mask_mov_epi32(r, ovf, sat);
}

/* The same result by a shorter path for shifts r = 31 + shift >= 32 (every
 * multiplier below 1/2, the usual conv/dense case), as int8 lanes:
 *   t = p + 2^(r-1) - [p < 0]          (|t| <= 2^62 + 2^61: no overflow)
 *   floor(t / 2^r) = floor(floor(t / 2^32) / 2^(r-32))
 * (nested floor division by positive integers), floor(t / 2^32) is the
 * high dword of t (fits: |t| < 2^63), and the second division is one
 * int32 arithmetic shift by r - 32 in [0, 30]. So the high dwords of the
 * even and odd products come together in one vector and one vpsravd
 * replaces two vpsravq plus the 64-bit clamp and merge. The quotient q has
 * |q| <= (2^62 + 2^61) / 2^32 < 2^31 - 128, so zy + q does not wrap, and
 * clamp(zy + q, qmin, qmax) = clamp(sat8(zy + q), qmin, qmax) since
 * [qmin, qmax] lies in [-128, 127] (vpmovsdb then byte max/min). */
struct q8v16_rqh {
    __m512i m_even, m_odd;      /* M of lane 2i / 2i+1 in the low dword of qword i */
    __m512i h_even, h_odd;      /* 2^(r-1) as int64 */
    __m512i r32;                /* r - 32 per int32 lane */
    __m512i zy;
    __m128i qmin, qmax;         /* int8 */
};

/* Fills p and returns true when every lane in `active` has r >= 32
 * (p is unusable otherwise: use q8v16_requant). */
static inline int q8v16_rqh_init(struct q8v16_rqh *p, __m512i mult, __m512i shift,
                                 __mmask16 active, int32_t zy, int32_t qmin, int32_t qmax)
{
    const __m512i r = _mm512_add_epi32(shift, _mm512_set1_epi32(31));
    if (_mm512_mask_cmplt_epi32_mask(active, r, _mm512_set1_epi32(32)) != 0)
        return 0;
    /* inactive lanes get r = 32: defined shifts, results never stored */
    const __m512i rr = _mm512_mask_blend_epi32(active, _mm512_set1_epi32(32), r);
    const __m512i low32 = _mm512_set1_epi64(0xFFFFFFFF);
    const __m512i one = _mm512_set1_epi64(1);
    p->m_even = mult;
    p->m_odd = _mm512_shuffle_epi32(mult, _MM_PERM_DDBB);
    p->h_even = _mm512_sllv_epi64(one, _mm512_sub_epi64(_mm512_and_si512(rr, low32), one));
    p->h_odd = _mm512_sllv_epi64(one, _mm512_sub_epi64(_mm512_srli_epi64(rr, 32), one));
    p->r32 = _mm512_sub_epi32(rr, _mm512_set1_epi32(32));
    p->zy = _mm512_set1_epi32(zy);
    p->qmin = _mm_set1_epi8((char)qmin);
    p->qmax = _mm_set1_epi8((char)qmax);
    return 1;
}

/* clamp(zy + requantize(acc), qmin, qmax) per lane, as int8; clamp == 0
 * when [qmin, qmax] = [-128, 127] (vpmovsdb's saturation is the clamp).
 * neg == 0 drops the [p < 0] term, allowed when qmin >= zy (a ReLU's
 * clamp at the zero point): for p < 0 both the exact quotient and
 * floor((p + 2^(r-1)) / 2^r) are <= 0 (p + 2^(r-1) < 2^(r-1)), so zy + q
 * <= zy <= qmin and both clamp to qmin. */
static inline __attribute__((always_inline)) __m128i q8v16_requant_hi(const struct q8v16_rqh *p,
                                                                     __m512i acc, const int clamp,
                                                                     const int neg)
{
    const __m512i pe = _mm512_mul_epi32(acc, p->m_even);
    const __m512i po = _mm512_mul_epi32(_mm512_shuffle_epi32(acc, _MM_PERM_DDBB), p->m_odd);
    __m512i te = _mm512_add_epi64(pe, p->h_even);
    __m512i to = _mm512_add_epi64(po, p->h_odd);
    if (neg) {
        const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi64(1);
        te = _mm512_mask_sub_epi64(te, _mm512_cmplt_epi64_mask(pe, zero), te, one);
        to = _mm512_mask_sub_epi64(to, _mm512_cmplt_epi64_mask(po, zero), to, one);
    }
    /* lane 2i: high dword of te[i]; lane 2i+1: high dword of to[i] */
    const __m512i pick = _mm512_set_epi32(31, 15, 29, 13, 27, 11, 25, 9, 23, 7, 21, 5, 19, 3, 17, 1);
    const __m512i hi = _mm512_permutex2var_epi32(te, pick, to);
    const __m512i q = _mm512_add_epi32(_mm512_srav_epi32(hi, p->r32), p->zy);
    const __m128i y = _mm512_cvtsepi32_epi8(q);
    return clamp ? _mm_min_epi8(_mm_max_epi8(y, p->qmin), p->qmax) : y;
}

/* Lanes below n set. */
static inline __mmask16 q8v16_mask(int n)
{
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

#endif

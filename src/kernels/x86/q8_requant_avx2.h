/* AVX2 requantization of 8 int32 lanes, bit-exact with q8_requantize /
 * q8_requant_clamp (src/quant/requant.h). Include only from *_avx2.c.
 *
 * Per lane: p = acc * M as an exact int64 (vpmuldq on the even lanes, and
 * on the odd lanes shifted down by 32), |p| <= 2^62;
 * q = sign(p) * ((|p| + 2^(r-1)) >> r), r = 31 + shift (one rounding, ties
 * away from zero, vpsrlvq takes a per-lane r); then the output step
 * clamp(zy + sat32(q), qmin, qmax) is taken as clamp(q, qmin - zy,
 * qmax - zy) + zy on the int64 q, the same value because the int32
 * saturation bounds lie far outside [qmin - zy, qmax - zy]. */
#ifndef QUANTA_KERNELS_X86_Q8_REQUANT_AVX2_H
#define QUANTA_KERNELS_X86_Q8_REQUANT_AVX2_H

#include <immintrin.h>
#include <stdint.h>

/* Multipliers and shifts of 8 lanes, split into even/odd int64 lanes. */
struct q8v8_rq {
    __m256i m_even, m_odd;      /* M in the low 32 bits of each int64 */
    __m256i r_even, r_odd;      /* 31 + shift */
    __m256i h_even, h_odd;      /* 2^(r-1) */
    __m256i lo, hi;             /* qmin - zy, qmax - zy (int64) */
    __m256i zy;                 /* int32 */
};

static inline void q8v8_rq_init(struct q8v8_rq *p, __m256i mult, __m256i shift, int32_t zy,
                                int32_t qmin, int32_t qmax)
{
    const __m256i low32 = _mm256_set1_epi64x(0xFFFFFFFF);
    const __m256i one = _mm256_set1_epi64x(1);
    const __m256i r = _mm256_add_epi32(shift, _mm256_set1_epi32(31));
    p->m_even = mult;
    p->m_odd = _mm256_srli_epi64(mult, 32);
    p->r_even = _mm256_and_si256(r, low32);
    p->r_odd = _mm256_srli_epi64(r, 32);
    p->h_even = _mm256_sllv_epi64(one, _mm256_sub_epi64(p->r_even, one));
    p->h_odd = _mm256_sllv_epi64(one, _mm256_sub_epi64(p->r_odd, one));
    p->lo = _mm256_set1_epi64x((int64_t)qmin - zy);
    p->hi = _mm256_set1_epi64x((int64_t)qmax - zy);
    p->zy = _mm256_set1_epi32(zy);
}

/* The same multiplier for every lane. */
static inline void q8v8_rq_init1(struct q8v8_rq *p, int32_t mult, int32_t shift, int32_t zy,
                                 int32_t qmin, int32_t qmax)
{
    q8v8_rq_init(p, _mm256_set1_epi32(mult), _mm256_set1_epi32(shift), zy, qmin, qmax);
}

/* round(p / 2^r), ties away from zero, on int64 lanes (|p| <= 2^62). */
static inline __m256i q8v8_round_shift(__m256i p, __m256i r, __m256i half)
{
    const __m256i neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), p);
    const __m256i a = _mm256_sub_epi64(_mm256_xor_si256(p, neg), neg);
    const __m256i q = _mm256_srlv_epi64(_mm256_add_epi64(a, half), r);
    return _mm256_sub_epi64(_mm256_xor_si256(q, neg), neg);
}

static inline __m256i q8v8_clamp64(__m256i v, __m256i lo, __m256i hi)
{
    v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
    return _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
}

/* clamp(zy + requantize(acc), qmin, qmax) per lane, as int32. */
static inline __m256i q8v8_requant(const struct q8v8_rq *p, __m256i acc)
{
    __m256i qe = _mm256_mul_epi32(acc, p->m_even);
    __m256i qo = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), p->m_odd);
    qe = q8v8_clamp64(q8v8_round_shift(qe, p->r_even, p->h_even), p->lo, p->hi);
    qo = q8v8_clamp64(q8v8_round_shift(qo, p->r_odd, p->h_odd), p->lo, p->hi);
    const __m256i q = _mm256_blend_epi32(qe, _mm256_slli_epi64(qo, 32), 0xAA);
    return _mm256_add_epi32(q, p->zy);
}

/* requantize(acc) saturated to int32, no clamp (the inner steps of add). */
static inline __m256i q8v8_requant_sat32(const struct q8v8_rq *p, __m256i acc)
{
    const __m256i lo = _mm256_set1_epi64x(INT32_MIN), hi = _mm256_set1_epi64x(INT32_MAX);
    __m256i qe = _mm256_mul_epi32(acc, p->m_even);
    __m256i qo = _mm256_mul_epi32(_mm256_srli_epi64(acc, 32), p->m_odd);
    qe = q8v8_clamp64(q8v8_round_shift(qe, p->r_even, p->h_even), lo, hi);
    qo = q8v8_clamp64(q8v8_round_shift(qo, p->r_odd, p->h_odd), lo, hi);
    return _mm256_blend_epi32(qe, _mm256_slli_epi64(qo, 32), 0xAA);
}

/* sat32(a + b) per int32 lane. */
static inline __m256i q8v8_adds_epi32(__m256i a, __m256i b)
{
    const __m256i r = _mm256_add_epi32(a, b);
    const __m256i ovf = _mm256_and_si256(_mm256_xor_si256(a, r), _mm256_xor_si256(b, r));
    const __m256i sat = _mm256_xor_si256(_mm256_srai_epi32(a, 31), _mm256_set1_epi32(INT32_MAX));
    return _mm256_blendv_epi8(r, sat, _mm256_srai_epi32(ovf, 31));
}

/* 8 int32 lanes already in [-128, 127] -> 8 bytes (low half of the result). */
static inline __m128i q8v8_pack(__m256i v)
{
    const __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
    const __m128i w = _mm_packs_epi32(lo, hi);
    return _mm_packs_epi16(w, w);
}

#endif

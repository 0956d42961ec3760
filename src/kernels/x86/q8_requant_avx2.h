/* AVX2 requantization of 8 int32 lanes, bit-exact with q8_requantize /
 * q8_requant_clamp (src/kernels/requant.h). Include only from *_avx2.c.
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

/* ---- the fast form: 0 <= M < 2^31 and 1 <= shift <= 31 in every lane ----
 *
 * Then r = 31 + shift is in [32, 62] and, with a = |acc| <= 2^31 (vpabsd
 * of INT32_MIN is 2^31 read unsigned), a * M + 2^(r-1) < 2^62 + 2^61 fits
 * a uint64 (vpmuludq, no sign handling) and q = (a * M + 2^(r-1)) >> r <
 * (2^62 + 2^61) / 2^32 < 2^31. As M >= 0, p = acc * M has the sign of
 * acc and |p| = a * M, so the reference's
 * sign(p) * floor((|p| + 2^(r-1)) / 2^r) is vpsignd(q, acc) (acc == 0
 * gives q == 0 either way), already within int32: its int32 saturation
 * never acts. The odd lanes shift by r - 32 >= 0 instead of r and keep
 * the high half: ((p + h) >> (r - 32)) >> 32 == (p + h) >> r, so no
 * shift back up is needed before the blend. 10 uops for 8 lanes. */
struct q8v8_rqf {
    __m256i m_even, m_odd;      /* M of the even/odd lanes, low 32 bits of each int64 */
    __m256i half, half_odd;     /* 2^(r-1) as int64 */
    __m256i r_even;             /* r as int64 */
    __m256i r_odd;              /* r - 32 as int64 */
};

/* True when one lane's mult/shift take the fast form. */
static inline int q8v8_rqf_ok(int32_t mult, int32_t shift)
{
    return mult >= 0 && shift >= 1 && shift <= 31;
}

static inline void q8v8_rqf_init(struct q8v8_rqf *p, __m256i mult, __m256i shift)
{
    const __m256i low32 = _mm256_set1_epi64x(0xFFFFFFFF);
    const __m256i one = _mm256_set1_epi64x(1);
    const __m256i r = _mm256_add_epi32(shift, _mm256_set1_epi32(31));
    p->m_even = mult;
    p->m_odd = _mm256_srli_epi64(mult, 32);
    p->r_even = _mm256_and_si256(r, low32);
    const __m256i r_odd = _mm256_srli_epi64(r, 32);
    p->r_odd = _mm256_sub_epi64(r_odd, _mm256_set1_epi64x(32));
    p->half = _mm256_sllv_epi64(one, _mm256_sub_epi64(p->r_even, one));
    p->half_odd = _mm256_sllv_epi64(one, _mm256_sub_epi64(r_odd, one));
}

/* requantize(acc) per lane, int32, for the fast form (exact, see above). */
static inline __m256i q8v8_rqf(const struct q8v8_rqf *p, __m256i acc)
{
    const __m256i a = _mm256_abs_epi32(acc);
    __m256i e = _mm256_mul_epu32(a, p->m_even);
    __m256i o = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), p->m_odd);
    e = _mm256_srlv_epi64(_mm256_add_epi64(e, p->half), p->r_even);
    o = _mm256_srlv_epi64(_mm256_add_epi64(o, p->half_odd), p->r_odd);
    return _mm256_sign_epi32(_mm256_blend_epi32(e, o, 0xAA), acc);
}

/* clamp(zy + q, qmin, qmax) of 32 int32 lanes (q0..q3, 8 each) to 32
 * bytes in lane order q0, q1, q2, q3. The saturating steps give the same
 * bytes as the exact clamp because [qmin, qmax] lies in [-128, 127] and
 * |zy| <= 128: a q outside int16 saturates to the int16 bound, and zy +
 * that is still beyond int8 on the same side, so both end at the same
 * bound.
 * zy16: zy in every int16; lo8/hi8: qmin/qmax in every byte. */
static inline __m256i q8v8_pack32(__m256i q0, __m256i q1, __m256i q2, __m256i q3, __m256i zy16,
                                  __m256i lo8, __m256i hi8)
{
    /* packs work per 128-bit lane: a = [q0 0-3, q1 0-3 | q0 4-7, q1 4-7] */
    const __m256i a = _mm256_adds_epi16(_mm256_packs_epi32(q0, q1), zy16);
    const __m256i b = _mm256_adds_epi16(_mm256_packs_epi32(q2, q3), zy16);
    /* dwords: [q0 0-3, q1 0-3, q2 0-3, q3 0-3 | q0 4-7, q1 4-7, q2 4-7, q3 4-7] */
    __m256i v = _mm256_packs_epi16(a, b);
    v = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    return _mm256_min_epi8(_mm256_max_epi8(v, lo8), hi8);
}

#endif

/* exp of 8 floats, AVX2 + FMA, split so callers can keep tiny results
 * exact. Include only from *_avx2.c.
 *
 * exp(x) = p * 2^n: n = round(x / ln 2), r = x - n ln 2 in two FMA steps
 * (Cody-Waite: ln2_hi has 16 significant bits, so n * ln2_hi is exact
 * for |n| <= 150 and the first step loses nothing), |r| <= ln 2 / 2, and
 * p = exp(r) by a degree 6 polynomial fitted to exp on that interval
 * (relative error 1.9e-9 in exact arithmetic). 2^n is returned as two
 * normal floats 2^n1 * 2^n2 (n1 = n >> 1), so p * 2^n1 is exact and only
 * the last product rounds, once, even into the subnormals; a caller that
 * multiplies p * 2^n1 by other factors first and 2^n2 last gets its
 * subnormal result rounded once too (sigmoid, silu, gelu).
 *
 * x is clamped to [-120, 89] first: exp overflows to inf above 88.73
 * and rounds to 0 below -103.97 all the same, and down to -120 a
 * caller's factor of up to 2^16 before the last scale still finds the
 * true exp (n >= -174, so n1 and n2 >= -87 stay normal). A NaN
 * passes the clamp (vminps/vmaxps return their second operand when
 * either is NaN) and makes p NaN. */
#ifndef QUANTA_KERNELS_X86_F32_EXP_AVX2_H
#define QUANTA_KERNELS_X86_F32_EXP_AVX2_H

#include <immintrin.h>
#include <stddef.h>

static inline __m256 f32v8_exp_parts(__m256 x, __m256 *s1, __m256 *s2)
{
    x = _mm256_min_ps(_mm256_set1_ps(89.0f), x);
    x = _mm256_max_ps(_mm256_set1_ps(-120.0f), x);
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504089f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-6f), r);
    __m256 p = _mm256_set1_ps(1.382942079e-03f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.374771103e-03f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.166835919e-02f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.666642129e-01f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.999999106e-01f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i ni = _mm256_cvtps_epi32(n);
    const __m256i n1 = _mm256_srai_epi32(ni, 1);
    const __m256i n2 = _mm256_sub_epi32(ni, n1);
    const __m256i bias = _mm256_set1_epi32(127);
    *s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, bias), 23));
    *s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, bias), 23));
    return p;
}

static inline __m256 f32v8_exp(__m256 x)
{
    __m256 s1, s2;
    const __m256 p = f32v8_exp_parts(x, &s1, &s2);
    return _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
}

/* Lanes [0, rem) set, for the last rem < 8 elements of a row
 * (vmaskmovps neither reads nor writes the others, nor faults on them). */
static inline __m256i f32v8_tail_mask(size_t rem)
{
    static const int ones[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    return _mm256_loadu_si256((const __m256i *)(ones + 8 - rem));
}

#endif

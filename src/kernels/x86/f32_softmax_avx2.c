/* Softmax and log-softmax, AVX2 + FMA: the reference's steps (float
 * maximum, e = exp(x - max) in float, the sum of the e in double, then
 * e * (float)(1 / sum), or x - (max + log(sum)) in double) with the
 * vector exp of f32_exp_avx2.h. Contiguous rows (inner == 1) run eight
 * elements at a time with the sum in two double accumulators; strided
 * ones (inner > 1) eight columns at a time, each column summed in order
 * as the reference does. A NaN or +inf in a row makes the whole row NaN,
 * as in the reference. */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"
#include "kernels/x86/f32_exp_avx2.h"

static inline __m256d sum_halves(__m256d acc, __m256 e)
{
    acc = _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    return _mm256_add_pd(acc, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
}

/* y = (float)((double)x - shift) for 8 lanes */
static inline __m256 minus_shift(__m256 x, __m256d shift)
{
    const __m128 lo = _mm256_cvtpd_ps(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(x)), shift));
    const __m128 hi = _mm256_cvtpd_ps(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)), shift));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}

static void softmax_row(size_t len, int log_out, const float *x, float *y)
{
    const size_t full = len & ~(size_t)7, rem = len - full;
    const __m256i tail = f32v8_tail_mask(rem);
    const __m256 minus_inf = _mm256_set1_ps(-INFINITY);
    __m256 vmax = minus_inf;
    for (size_t i = 0; i < full; i += 8)
        vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    if (rem)
        vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(minus_inf, _mm256_maskload_ps(x + full, tail),
                                                     _mm256_castsi256_ps(tail)));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    const float max = _mm_cvtss_f32(m4);
    const __m256 vm = _mm256_set1_ps(max);

    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    for (size_t i = 0; i < full; i += 8) {
        const __m256 e = f32v8_exp(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        if (!log_out)
            _mm256_storeu_ps(y + i, e);
        if (i & 8)
            acc1 = sum_halves(acc1, e);
        else
            acc0 = sum_halves(acc0, e);
    }
    if (rem) {
        __m256 e = f32v8_exp(_mm256_sub_ps(_mm256_maskload_ps(x + full, tail), vm));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(tail));
        if (!log_out)
            _mm256_maskstore_ps(y + full, tail, e);
        acc0 = sum_halves(acc0, e);
    }
    __m256d acc = _mm256_add_pd(acc0, acc1);
    __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
    const double sum = _mm_cvtsd_f64(_mm_add_sd(s2, _mm_unpackhi_pd(s2, s2)));

    if (log_out) {
        const __m256d shift = _mm256_set1_pd((double)max + log(sum));
        for (size_t i = 0; i < full; i += 8)
            _mm256_storeu_ps(y + i, minus_shift(_mm256_loadu_ps(x + i), shift));
        if (rem)
            _mm256_maskstore_ps(y + full, tail, minus_shift(_mm256_maskload_ps(x + full, tail), shift));
        return;
    }
    const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    for (size_t i = 0; i < full; i += 8)
        _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(y + i), inv));
    if (rem)
        _mm256_maskstore_ps(y + full, tail, _mm256_mul_ps(_mm256_maskload_ps(y + full, tail), inv));
}

/* Columns c .. c + 7 (lanes past the row masked off) of a [len, inner] block. */
static void softmax_columns(size_t len, size_t inner, int log_out, __m256i mask, const float *x,
                            float *y)
{
    __m256 vmax = _mm256_maskload_ps(x, mask);
    for (size_t i = 1; i < len; i++)
        vmax = _mm256_max_ps(_mm256_maskload_ps(x + i * inner, mask), vmax);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    for (size_t i = 0; i < len; i++) {
        const __m256 e = f32v8_exp(_mm256_sub_ps(_mm256_maskload_ps(x + i * inner, mask), vmax));
        if (!log_out)
            _mm256_maskstore_ps(y + i * inner, mask, e);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    if (log_out) {
        double sums[8], maxes[8];
        _mm256_storeu_pd(sums, s0);
        _mm256_storeu_pd(sums + 4, s1);
        float m8[8];
        _mm256_storeu_ps(m8, vmax);
        for (int l = 0; l < 8; l++)
            maxes[l] = (double)m8[l] + log(sums[l]);
        const __m256d sh0 = _mm256_loadu_pd(maxes), sh1 = _mm256_loadu_pd(maxes + 4);
        for (size_t i = 0; i < len; i++) {
            const __m256 xv = _mm256_maskload_ps(x + i * inner, mask);
            const __m128 lo = _mm256_cvtpd_ps(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(xv)), sh0));
            const __m128 hi = _mm256_cvtpd_ps(_mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(xv, 1)), sh1));
            _mm256_maskstore_ps(y + i * inner, mask,
                                _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1));
        }
        return;
    }
    const __m256d one = _mm256_set1_pd(1.0);
    const __m128 i0 = _mm256_cvtpd_ps(_mm256_div_pd(one, s0));
    const __m128 i1 = _mm256_cvtpd_ps(_mm256_div_pd(one, s1));
    const __m256 inv = _mm256_insertf128_ps(_mm256_castps128_ps256(i0), i1, 1);
    for (size_t i = 0; i < len; i++)
        _mm256_maskstore_ps(y + i * inner, mask,
                            _mm256_mul_ps(_mm256_maskload_ps(y + i * inner, mask), inv));
}

void f32_softmax__avx2(const struct f32_softmax_params *p, const float *x, float *y)
{
    const size_t len = p->axis_len, inner = p->inner;
    for (size_t o = 0; o < p->outer; o++) {
        const float *xo = x + o * len * inner;
        float *yo = y + o * len * inner;
        if (inner == 1) {
            softmax_row(len, p->log, xo, yo);
            continue;
        }
        const __m256i all = _mm256_set1_epi32(-1);
        size_t c = 0;
        for (; c + 8 <= inner; c += 8)
            softmax_columns(len, inner, p->log, all, xo + c, yo + c);
        if (c < inner)
            softmax_columns(len, inner, p->log, f32v8_tail_mask(inner - c), xo + c, yo + c);
    }
}

/* layer_norm, AVX2 + FMA: the reference's arithmetic (mean, variance and
 * every output in double, rounded to float once) four doubles per
 * register. Only the order of the two row sums differs from the
 * reference (four lanes, two accumulators, then the lanes added), a few
 * double ulps that almost never reach the float result. */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"

static inline __m256d load4(const float *p)
{
    return _mm256_cvtps_pd(_mm_loadu_ps(p));
}

static inline double hsum(__m256d a, __m256d b)
{
    const __m256d s = _mm256_add_pd(a, b);
    const __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
    return _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
}

void f32_layer_norm__avx2(const struct f32_layer_norm_params *p, const float *x,
                          const float *scale, const float *bias, float *y)
{
    const size_t cols = p->cols, full = cols & ~(size_t)7, quad = cols & ~(size_t)3;
    for (size_t r = 0; r < p->rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
        size_t j = 0;
        for (; j < full; j += 8) {
            a0 = _mm256_add_pd(a0, load4(xr + j));
            a1 = _mm256_add_pd(a1, load4(xr + j + 4));
        }
        for (; j < quad; j += 4)
            a0 = _mm256_add_pd(a0, load4(xr + j));
        double sum = hsum(a0, a1);
        for (; j < cols; j++)
            sum += xr[j];
        const double mean = sum / (double)cols;
        const __m256d vmean = _mm256_set1_pd(mean);

        a0 = a1 = _mm256_setzero_pd();
        for (j = 0; j < full; j += 8) {
            const __m256d d0 = _mm256_sub_pd(load4(xr + j), vmean);
            const __m256d d1 = _mm256_sub_pd(load4(xr + j + 4), vmean);
            a0 = _mm256_add_pd(a0, _mm256_mul_pd(d0, d0));
            a1 = _mm256_add_pd(a1, _mm256_mul_pd(d1, d1));
        }
        for (; j < quad; j += 4) {
            const __m256d d = _mm256_sub_pd(load4(xr + j), vmean);
            a0 = _mm256_add_pd(a0, _mm256_mul_pd(d, d));
        }
        double sq = hsum(a0, a1);
        for (; j < cols; j++) {
            const double d = xr[j] - mean;
            sq += d * d;
        }
        const double inv = 1.0 / sqrt(sq / (double)cols + (double)p->epsilon);
        const __m256d vinv = _mm256_set1_pd(inv);
        const __m256d zero = _mm256_setzero_pd(); /* + 0.0 as the reference: -0 becomes 0 */

        for (j = 0; j < quad; j += 4) {
            __m256d v = _mm256_mul_pd(_mm256_mul_pd(_mm256_sub_pd(load4(xr + j), vmean), vinv),
                                      load4(scale + j));
            v = _mm256_add_pd(v, bias ? load4(bias + j) : zero);
            _mm_storeu_ps(yr + j, _mm256_cvtpd_ps(v));
        }
        for (; j < cols; j++)
            yr[j] = (float)((xr[j] - mean) * inv * scale[j] + (bias ? (double)bias[j] : 0.0));
    }
}

/* Matmul of two activations, AVX2 + FMA: the reference's sums (double,
 * k in order, rounded once to float) four columns per register, 16
 * columns at a time. A float times a float is exact in double, so the
 * fused multiply-add rounds exactly where the reference's add does: the
 * same bits as f32_matmul__ref. */
#include <immintrin.h>

#include "kernels/kernels.h"

static void matmul_one(const struct f32_matmul_params *p, const float *a, const float *b,
                       float *y)
{
    const size_t m = p->m, k = p->k, n = p->n;
    for (size_t i = 0; i < m; i++) {
        const float *ar = a + i * k;
        float *yr = y + i * n;
        size_t j = 0;
        for (; j + 16 <= n; j += 16) {
            __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
            __m256d s2 = _mm256_setzero_pd(), s3 = _mm256_setzero_pd();
            for (size_t t = 0; t < k; t++) {
                const float *br = b + t * n + j;
                __m256d av = _mm256_set1_pd((double)ar[t]);
                s0 = _mm256_fmadd_pd(av, _mm256_cvtps_pd(_mm_loadu_ps(br)), s0);
                s1 = _mm256_fmadd_pd(av, _mm256_cvtps_pd(_mm_loadu_ps(br + 4)), s1);
                s2 = _mm256_fmadd_pd(av, _mm256_cvtps_pd(_mm_loadu_ps(br + 8)), s2);
                s3 = _mm256_fmadd_pd(av, _mm256_cvtps_pd(_mm_loadu_ps(br + 12)), s3);
            }
            _mm_storeu_ps(yr + j, _mm256_cvtpd_ps(s0));
            _mm_storeu_ps(yr + j + 4, _mm256_cvtpd_ps(s1));
            _mm_storeu_ps(yr + j + 8, _mm256_cvtpd_ps(s2));
            _mm_storeu_ps(yr + j + 12, _mm256_cvtpd_ps(s3));
        }
        for (; j + 4 <= n; j += 4) {
            __m256d s = _mm256_setzero_pd();
            for (size_t t = 0; t < k; t++)
                s = _mm256_fmadd_pd(_mm256_set1_pd((double)ar[t]),
                                    _mm256_cvtps_pd(_mm_loadu_ps(b + t * n + j)), s);
            _mm_storeu_ps(yr + j, _mm256_cvtpd_ps(s));
        }
        for (; j < n; j++) {
            double s = 0.0;
            for (size_t t = 0; t < k; t++)
                s += (double)ar[t] * (double)b[t * n + j];
            yr[j] = (float)s;
        }
    }
}

void f32_matmul__avx2(const struct f32_matmul_params *p, const float *a, const float *b,
                      float *y)
{
    size_t total = 1, index[6] = {0}, ia = 0, ib = 0;
    for (int d = 0; d < p->lead; d++)
        total *= p->dims[d];
    for (size_t t = 0; t < total; t++) {
        matmul_one(p, a + ia, b + ib, y + t * p->m * p->n);
        MATMUL_NEXT_LEAD(p, index, &ia, &ib);
    }
}

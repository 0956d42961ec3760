/* Matmul of two activations, NEON: the reference's sums (double, k in
 * order, rounded once to float) two columns per register, 16 columns at
 * a time in eight accumulators, then 4, then one. A float times a float
 * is exact in double, so the fused multiply-add (FMLA) rounds exactly
 * where the reference's add does: the same bits as f32_matmul__ref, as
 * f32_matmul__avx2. */
#include <arm_neon.h>

#include "kernels/kernels.h"

/* lo, hi += av * the 4 floats at b, in double */
static inline void fma4(float64x2_t *lo, float64x2_t *hi, float64x2_t av, const float *b)
{
    const float32x4_t v = vld1q_f32(b);
    *lo = vfmaq_f64(*lo, av, vcvt_f64_f32(vget_low_f32(v)));
    *hi = vfmaq_f64(*hi, av, vcvt_high_f64_f32(v));
}

static inline void store4(float *y, float64x2_t lo, float64x2_t hi)
{
    vst1q_f32(y, vcvt_high_f32_f64(vcvt_f32_f64(lo), hi));
}

static void matmul_one(const struct f32_matmul_params *p, const float *a, const float *b,
                       float *y)
{
    const size_t m = p->m, k = p->k, n = p->n;
    for (size_t i = 0; i < m; i++) {
        const float *ar = a + i * k;
        float *yr = y + i * n;
        size_t j = 0;
        for (; j + 16 <= n; j += 16) {
            /* eight accumulators in registers (an array of them is kept
             * in memory by GCC 12) */
            float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0, s2 = s0, s3 = s0;
            float64x2_t s4 = s0, s5 = s0, s6 = s0, s7 = s0;
            for (size_t t = 0; t < k; t++) {
                const float *br = b + t * n + j;
                const float64x2_t av = vdupq_n_f64((double)ar[t]);
                fma4(&s0, &s1, av, br);
                fma4(&s2, &s3, av, br + 4);
                fma4(&s4, &s5, av, br + 8);
                fma4(&s6, &s7, av, br + 12);
            }
            store4(yr + j, s0, s1);
            store4(yr + j + 4, s2, s3);
            store4(yr + j + 8, s4, s5);
            store4(yr + j + 12, s6, s7);
        }
        for (; j + 4 <= n; j += 4) {
            float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0;
            for (size_t t = 0; t < k; t++)
                fma4(&s0, &s1, vdupq_n_f64((double)ar[t]), b + t * n + j);
            store4(yr + j, s0, s1);
        }
        for (; j < n; j++) {
            double s = 0.0;
            for (size_t t = 0; t < k; t++)
                s += (double)ar[t] * (double)b[t * n + j];
            yr[j] = (float)s;
        }
    }
}

void f32_matmul__neon(const struct f32_matmul_params *p, const float *a, const float *b,
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

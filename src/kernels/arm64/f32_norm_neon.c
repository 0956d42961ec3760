/* layer_norm, NEON: the reference's arithmetic (mean, variance and every
 * output in double, rounded to float once), two doubles per register, as
 * f32_layer_norm__avx2 does with four. Only the order of the two row sums
 * differs from the reference (two lanes, four accumulators, then the
 * lanes added), a few double ulps that almost never reach the float
 * result: the AVX2 bound, within 2 ulp (kernels.h). No multiply-add is
 * fused: each step rounds where the reference's does. */
#include <arm_neon.h>
#include <math.h>

#include "kernels/kernels.h"

/* 4 floats at p as two pairs of doubles */
static inline void load4(const float *p, float64x2_t *lo, float64x2_t *hi)
{
    const float32x4_t v = vld1q_f32(p);
    *lo = vcvt_f64_f32(vget_low_f32(v));
    *hi = vcvt_high_f64_f32(v);
}

void f32_layer_norm__neon(const struct f32_layer_norm_params *p, const float *x,
                          const float *scale, const float *bias, float *y)
{
    const size_t cols = p->cols, quad = cols & ~(size_t)3;
    const float64x2_t zero = vdupq_n_f64(0.0); /* + 0.0 as the reference: -0 becomes 0 */
    for (size_t r = 0; r < p->rows; r++) {
        const float *xr = x + r * cols;
        float *yr = y + r * cols;
        float64x2_t a0 = zero, a1 = zero, lo, hi;
        size_t j = 0;
        for (; j < quad; j += 4) {
            load4(xr + j, &lo, &hi);
            a0 = vaddq_f64(a0, lo);
            a1 = vaddq_f64(a1, hi);
        }
        double sum = vaddvq_f64(vaddq_f64(a0, a1));
        for (; j < cols; j++)
            sum += xr[j];
        const double mean = sum / (double)cols;
        const float64x2_t vmean = vdupq_n_f64(mean);

        a0 = a1 = zero;
        for (j = 0; j < quad; j += 4) {
            load4(xr + j, &lo, &hi);
            const float64x2_t d0 = vsubq_f64(lo, vmean), d1 = vsubq_f64(hi, vmean);
            a0 = vaddq_f64(a0, vmulq_f64(d0, d0));
            a1 = vaddq_f64(a1, vmulq_f64(d1, d1));
        }
        double sq = vaddvq_f64(vaddq_f64(a0, a1));
        for (; j < cols; j++) {
            const double d = xr[j] - mean;
            sq += d * d;
        }
        const double inv = 1.0 / sqrt(sq / (double)cols + (double)p->epsilon);
        const float64x2_t vinv = vdupq_n_f64(inv);

        for (j = 0; j < quad; j += 4) {
            float64x2_t s0, s1, b0 = zero, b1 = zero;
            load4(xr + j, &lo, &hi);
            load4(scale + j, &s0, &s1);
            if (bias)
                load4(bias + j, &b0, &b1);
            const float64x2_t v0 = vmulq_f64(vmulq_f64(vsubq_f64(lo, vmean), vinv), s0);
            const float64x2_t v1 = vmulq_f64(vmulq_f64(vsubq_f64(hi, vmean), vinv), s1);
            vst1q_f32(yr + j, vcvt_high_f32_f64(vcvt_f32_f64(vaddq_f64(v0, b0)),
                                                vaddq_f64(v1, b1)));
        }
        for (; j < cols; j++)
            yr[j] = (float)((xr[j] - mean) * inv * scale[j] + (bias ? (double)bias[j] : 0.0));
    }
}

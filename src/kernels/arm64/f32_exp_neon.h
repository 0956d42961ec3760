/* exp of 4 floats, NEON, split so callers can keep tiny results exact:
 * the algorithm, constants and operation order of f32_exp_avx2.h (where
 * the derivation is), every multiply-add fused as there. Include only
 * from the NEON sources of src/kernels/arm64.
 *
 * exp(x) = p * s1 * s2: n = round(x / ln 2), Cody-Waite r, degree 6
 * polynomial p, 2^n as two normal floats s1 = 2^(n >> 1), s2 = 2^(n - (n >> 1)).
 * x is clamped to [-120, 89] first; FMIN/FMAX return NaN for a NaN
 * operand, so a NaN passes the clamp and makes p NaN (AVX2's vminps and
 * vmaxps pass it by returning their second operand). */
#ifndef QUANTA_KERNELS_ARM64_F32_EXP_NEON_H
#define QUANTA_KERNELS_ARM64_F32_EXP_NEON_H

#include <arm_neon.h>

static inline float32x4_t f32v4_exp_parts(float32x4_t x, float32x4_t *s1, float32x4_t *s2)
{
    x = vminq_f32(vdupq_n_f32(89.0f), x);
    x = vmaxq_f32(vdupq_n_f32(-120.0f), x);
    const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(1.44269504089f)));
    float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693145751953125f));
    r = vfmsq_f32(r, n, vdupq_n_f32(1.428606765330187e-6f));
    float32x4_t p = vdupq_n_f32(1.382942079e-03f);
    p = vfmaq_f32(vdupq_n_f32(8.374771103e-03f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.166835919e-02f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.666642129e-01f), p, r);
    p = vfmaq_f32(vdupq_n_f32(4.999999106e-01f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
    const int32x4_t ni = vcvtq_s32_f32(n); /* n is integral (0 for NaN: p is NaN) */
    const int32x4_t n1 = vshrq_n_s32(ni, 1);
    const int32x4_t n2 = vsubq_s32(ni, n1);
    const int32x4_t bias = vdupq_n_s32(127);
    *s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
    *s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
    return p;
}

static inline float32x4_t f32v4_exp(float32x4_t x)
{
    float32x4_t s1, s2;
    const float32x4_t p = f32v4_exp_parts(x, &s1, &s2);
    return vmulq_f32(vmulq_f32(p, s1), s2);
}

#endif

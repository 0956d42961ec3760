/* NEON quantize (float -> int8) and dequantize (int8 -> float),
 * bit-exact with q8_quantize__ref / q8_dequantize__ref.
 *
 * quantize: the reference is q = clamp(round_half_away((double)x /
 * (double)scale) + zp, qmin, qmax), NaN -> clamp(zp) (requant.h). FRINTA
 * rounds half away from zero, so the double form below is the reference
 * step for step, two lanes at a time (FDIV is the IEEE division). In
 * front of it runs the float form of q8_quantize_avx2.c, four lanes: w =
 * x * f with f = (float)(1 / scale), which rounds like the reference
 * unless |frac(w)| is within 2^-13 of 1/2 while |w| < 512 (the argument
 * is there); a vector with such a lane takes the double form. Only for
 * 1 / scale in [2^-100, 2^100], so that f is a normal float.
 * dequantize: scale * (float)(q - zp), one float multiply. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels_q8.h"

struct qconst {
    float64x2_t scale, zp, lo, hi;    /* double form */
    float32x4_t inv, zpf, lof, hif;   /* float form */
    int use_f;
};

/* 2 lanes, the reference's steps */
static inline int32x2_t quant2(const struct qconst *c, float32x2_t xf)
{
    const float64x2_t v = vcvt_f64_f32(xf);
    float64x2_t r = vaddq_f64(vrndaq_f64(vdivq_f64(v, c->scale)), c->zp);
    r = vbslq_f64(vceqq_f64(v, v), r, c->zp); /* NaN -> zp */
    r = vminq_f64(vmaxq_f64(r, c->lo), c->hi);
    return vmovn_s64(vcvtq_s64_f64(r));
}

/* 4 lanes; the float form when no lane is near a tie */
static inline int32x4_t quant4(const struct qconst *c, float32x4_t v)
{
    if (c->use_f) {
        const float32x4_t w = vmulq_f32(v, c->inv);
        const float32x4_t f = vabsq_f32(vsubq_f32(w, vrndq_f32(w)));
        const uint32x4_t near =
            vandq_u32(vcleq_f32(vabdq_f32(f, vdupq_n_f32(0.5f)), vdupq_n_f32(0x1p-13f)),
                      vcltq_f32(vabsq_f32(w), vdupq_n_f32(512.0f)));
        if (vmaxvq_u32(near) == 0) {
            float32x4_t r = vaddq_f32(vrndaq_f32(w), c->zpf);
            r = vbslq_f32(vceqq_f32(v, v), r, c->zpf);
            r = vminq_f32(vmaxq_f32(r, c->lof), c->hif);
            return vcvtq_s32_f32(r);
        }
    }
    return vcombine_s32(quant2(c, vget_low_f32(v)), quant2(c, vget_high_f32(v)));
}

/* 8 int32 lanes in [-128, 127] -> 8 bytes */
static inline int8x8_t pack8(int32x4_t a, int32x4_t b)
{
    return vmovn_s16(vcombine_s16(vmovn_s32(a), vmovn_s32(b)));
}

void q8_quantize__neon(int64_t n, const struct q8_quantize_params *p, const float *x, int8_t *y)
{
    struct qconst c;
    const double inv = 1.0 / (double)p->scale;
    c.scale = vdupq_n_f64((double)p->scale);
    c.zp = vdupq_n_f64((double)p->zero_point);
    c.lo = vdupq_n_f64((double)p->qmin);
    c.hi = vdupq_n_f64((double)p->qmax);
    c.use_f = inv >= 0x1p-100 && inv <= 0x1p100;
    c.inv = vdupq_n_f32(c.use_f ? (float)inv : 0.0f);
    c.zpf = vdupq_n_f32((float)p->zero_point);
    c.lof = vdupq_n_f32((float)p->qmin);
    c.hif = vdupq_n_f32((float)p->qmax);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        vst1_s8(y + i, pack8(quant4(&c, vld1q_f32(x + i)), quant4(&c, vld1q_f32(x + i + 4))));
    if (i < n) {
        float tmp[8] = {0};
        int8_t out[8];
        memcpy(tmp, x + i, (size_t)(n - i) * sizeof(float));
        vst1_s8(out, pack8(quant4(&c, vld1q_f32(tmp)), quant4(&c, vld1q_f32(tmp + 4))));
        memcpy(y + i, out, (size_t)(n - i));
    }
}

void q8_dequantize__neon(int64_t n, const struct q8_quantize_params *p, const int8_t *x, float *y)
{
    const float32x4_t scale = vdupq_n_f32(p->scale);
    const int32x4_t zp = vdupq_n_s32(p->zero_point);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const int16x8_t q = vmovl_s8(vld1_s8(x + i));
        const int32x4_t lo = vsubq_s32(vmovl_s16(vget_low_s16(q)), zp);
        const int32x4_t hi = vsubq_s32(vmovl_high_s16(q), zp);
        vst1q_f32(y + i, vmulq_f32(scale, vcvtq_f32_s32(lo)));
        vst1q_f32(y + i + 4, vmulq_f32(scale, vcvtq_f32_s32(hi)));
    }
    for (; i < n; i++)
        y[i] = p->scale * (float)(x[i] - p->zero_point);
}

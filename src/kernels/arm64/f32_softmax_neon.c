/* Softmax and log-softmax, NEON: the steps of f32_softmax__avx2 (the
 * reference's: float maximum, e = exp(x - max) in float, the sum of the e
 * in double, then e * (float)(1 / sum), or x - (max + log(sum)) in
 * double) with the exp of f32_exp_neon.h, the AVX2 one lane for lane, so
 * the same bound holds (kernels.h: within 1e-6 relative of the
 * reference). Contiguous rows (inner == 1) run four elements at a time,
 * the sum in two pairs of double accumulators; strided ones (inner > 1)
 * four columns at a time, each column summed in order as the reference
 * does. Tails go through a local vector (NEON has no masked load). A NaN
 * or +inf in a row makes the whole row NaN, as in the reference. */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/arm64/f32_exp_neon.h"

/* n (< 4) floats at p, the other lanes fill */
static inline float32x4_t load_part(const float *p, size_t n, float fill)
{
    float t[4] = {fill, fill, fill, fill};
    memcpy(t, p, n * sizeof *t);
    return vld1q_f32(t);
}

static inline void store_part(float *p, float32x4_t v, size_t n)
{
    float t[4];
    vst1q_f32(t, v);
    memcpy(p, t, n * sizeof *t);
}

/* the lanes [0, n) of a column block: whole (n == 4) or through a local vector */
static inline float32x4_t load_n(const float *p, size_t n, float fill)
{
    return n == 4 ? vld1q_f32(p) : load_part(p, n, fill);
}

static inline void store_n(float *p, float32x4_t v, size_t n)
{
    if (n == 4)
        vst1q_f32(p, v);
    else
        store_part(p, v, n);
}

/* (float)((double)x - shift) of 4 lanes, shift one double per lane pair */
static inline float32x4_t minus_shift(float32x4_t x, float64x2_t shift_lo, float64x2_t shift_hi)
{
    const float64x2_t lo = vsubq_f64(vcvt_f64_f32(vget_low_f32(x)), shift_lo);
    const float64x2_t hi = vsubq_f64(vcvt_high_f64_f32(x), shift_hi);
    return vcvt_high_f32_f64(vcvt_f32_f64(lo), hi);
}

static void softmax_row(size_t len, int log_out, const float *x, float *y)
{
    const size_t full = len & ~(size_t)3, rem = len - full;
    float32x4_t vmax = vdupq_n_f32(-INFINITY);
    for (size_t i = 0; i < full; i += 4)
        vmax = vmaxq_f32(vmax, vld1q_f32(x + i));
    if (rem)
        vmax = vmaxq_f32(vmax, load_part(x + full, rem, -INFINITY));
    const float max = vmaxvq_f32(vmax);
    const float32x4_t vm = vdupq_n_f32(max);

    float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0, b0 = a0, b1 = a0;
    size_t i = 0;
    for (; i + 8 <= full; i += 8) {
        const float32x4_t e0 = f32v4_exp(vsubq_f32(vld1q_f32(x + i), vm));
        const float32x4_t e1 = f32v4_exp(vsubq_f32(vld1q_f32(x + i + 4), vm));
        if (!log_out) {
            vst1q_f32(y + i, e0);
            vst1q_f32(y + i + 4, e1);
        }
        a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(e0)));
        a1 = vaddq_f64(a1, vcvt_high_f64_f32(e0));
        b0 = vaddq_f64(b0, vcvt_f64_f32(vget_low_f32(e1)));
        b1 = vaddq_f64(b1, vcvt_high_f64_f32(e1));
    }
    if (i < full) {
        const float32x4_t e = f32v4_exp(vsubq_f32(vld1q_f32(x + i), vm));
        if (!log_out)
            vst1q_f32(y + i, e);
        a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(e)));
        a1 = vaddq_f64(a1, vcvt_high_f64_f32(e));
    }
    if (rem) {
        /* lanes past the row: their e (0 or NaN) is cleared before the sum */
        static const uint32_t ones[8] = {~0u, ~0u, ~0u, ~0u, 0, 0, 0, 0};
        const uint32x4_t keep = vld1q_u32(ones + 4 - rem);
        float32x4_t e = f32v4_exp(vsubq_f32(load_part(x + full, rem, 0.0f), vm));
        e = vreinterpretq_f32_u32(vandq_u32(vreinterpretq_u32_f32(e), keep));
        if (!log_out)
            store_part(y + full, e, rem);
        a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(e)));
        a1 = vaddq_f64(a1, vcvt_high_f64_f32(e));
    }
    const double sum = vaddvq_f64(vaddq_f64(vaddq_f64(a0, a1), vaddq_f64(b0, b1)));

    if (log_out) {
        const float64x2_t shift = vdupq_n_f64((double)max + log(sum));
        for (i = 0; i < full; i += 4)
            vst1q_f32(y + i, minus_shift(vld1q_f32(x + i), shift, shift));
        if (rem)
            store_part(y + full, minus_shift(load_part(x + full, rem, 0.0f), shift, shift), rem);
        return;
    }
    const float32x4_t inv = vdupq_n_f32((float)(1.0 / sum));
    for (i = 0; i < full; i += 4)
        vst1q_f32(y + i, vmulq_f32(vld1q_f32(y + i), inv));
    if (rem)
        store_part(y + full, vmulq_f32(load_part(y + full, rem, 0.0f), inv), rem);
}

/* Columns c .. c + n - 1 (n <= 4) of a [len, inner] block. */
static void softmax_columns(size_t len, size_t inner, int log_out, size_t n, const float *x,
                            float *y)
{
    float32x4_t vmax = load_n(x, n, 0.0f);
    for (size_t i = 1; i < len; i++)
        vmax = vmaxq_f32(load_n(x + i * inner, n, 0.0f), vmax);
    float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0;
    for (size_t i = 0; i < len; i++) {
        const float32x4_t e = f32v4_exp(vsubq_f32(load_n(x + i * inner, n, 0.0f), vmax));
        if (!log_out)
            store_n(y + i * inner, e, n);
        s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(e)));
        s1 = vaddq_f64(s1, vcvt_high_f64_f32(e));
    }
    if (log_out) {
        double sums[4], shifts[4];
        float m4[4];
        vst1q_f64(sums, s0);
        vst1q_f64(sums + 2, s1);
        vst1q_f32(m4, vmax);
        for (int l = 0; l < 4; l++)
            shifts[l] = (double)m4[l] + log(sums[l]);
        const float64x2_t sh0 = vld1q_f64(shifts), sh1 = vld1q_f64(shifts + 2);
        for (size_t i = 0; i < len; i++)
            store_n(y + i * inner, minus_shift(load_n(x + i * inner, n, 0.0f), sh0, sh1), n);
        return;
    }
    const float64x2_t one = vdupq_n_f64(1.0);
    const float32x4_t inv =
        vcvt_high_f32_f64(vcvt_f32_f64(vdivq_f64(one, s0)), vdivq_f64(one, s1));
    for (size_t i = 0; i < len; i++)
        store_n(y + i * inner, vmulq_f32(load_n(y + i * inner, n, 0.0f), inv), n);
}

void f32_softmax__neon(const struct f32_softmax_params *p, const float *x, float *y)
{
    const size_t len = p->axis_len, inner = p->inner;
    for (size_t o = 0; o < p->outer; o++) {
        const float *xo = x + o * len * inner;
        float *yo = y + o * len * inner;
        if (inner == 1) {
            softmax_row(len, p->log, xo, yo);
            continue;
        }
        for (size_t c = 0; c < inner; c += 4)
            softmax_columns(len, inner, p->log, inner - c < 4 ? inner - c : 4, xo + c, yo + c);
    }
}

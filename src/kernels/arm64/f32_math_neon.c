/* Vectorized float exp, sigmoid, tanh, erf, silu and gelu, NEON, four
 * lanes at a time (the last < 4 through a local vector). The same
 * algorithm, constants and operation order as the AVX2 kernels
 * (src/kernels/x86/f32_math_avx2.c, f32_exp_avx2.h, where the
 * derivations are), every multiply-add fused as there, so the same
 * error bounds hold (kernels.h, tests/kernels/test_f32_vmath.c). The
 * other math ops go to the reference. The exp is f32_exp_neon.h's,
 * shared with the softmax.
 *
 * Where AVX2 relies on vminps/vmaxps returning their second operand for
 * NaN, FMIN/FMAX return NaN: a NaN passes the clamps either way. */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/arm64/f32_exp_neon.h"

static inline float32x4_t splat(float v)
{
    return vdupq_n_f32(v);
}

/* a * b - c with one rounding */
static inline float32x4_t fmsub(float32x4_t a, float32x4_t b, float32x4_t c)
{
    return vnegq_f32(vfmsq_f32(c, a, b));
}

static inline uint32x4_t sign_bits(float32x4_t x)
{
    return vandq_u32(vreinterpretq_u32_f32(x), vdupq_n_u32(0x80000000u));
}

/* x with the sign bits of s or-ed in */
static inline float32x4_t or_sign(float32x4_t x, float32x4_t s)
{
    return vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(x), sign_bits(s)));
}

/* all ones where the sign bit of s is set (blendv's select) */
static inline uint32x4_t sign_mask(float32x4_t s)
{
    return vreinterpretq_u32_s32(vshrq_n_s32(vreinterpretq_s32_f32(s), 31));
}

static inline float32x4_t abs4(float32x4_t x)
{
    return vabsq_f32(x);
}

/* m * sigmoid(z), as times_sigmoid of f32_math_avx2.c */
static inline float32x4_t times_sigmoid(float32x4_t m, float32x4_t z)
{
    float32x4_t s1, s2;
    const float32x4_t nz = vreinterpretq_f32_u32(
        vorrq_u32(vreinterpretq_u32_f32(z), vdupq_n_u32(0x80000000u)));
    const float32x4_t p = f32v4_exp_parts(nz, &s1, &s2);
    const float32x4_t d = vaddq_f32(splat(1.0f), vmulq_f32(vmulq_f32(p, s1), s2));
    const float32x4_t pos = vdivq_f32(m, d);
    const float32x4_t neg = vmulq_f32(vdivq_f32(vmulq_f32(vmulq_f32(m, s1), p), d), s2);
    const uint32x4_t tiny = vcltq_f32(z, splat(-120.0f));
    const float32x4_t y = vbslq_f32(sign_mask(z), neg, pos);
    return vbslq_f32(tiny, vreinterpretq_f32_u32(sign_bits(m)), y);
}

static inline float32x4_t sigmoid4(float32x4_t x)
{
    return times_sigmoid(splat(1.0f), x);
}

/* x * sigmoid(x); -inf gives NaN like the reference's -inf * 0. */
static inline float32x4_t silu4(float32x4_t x)
{
    const float32x4_t y = times_sigmoid(x, x);
    return vbslq_f32(vceqq_f32(x, splat(-INFINITY)), splat(NAN), y);
}

/* |x| < 0.5625: x + x^3 Q(x^2); above: 1 - 2 / (exp(2|x|) + 1) with the
 * sign of x. */
static inline float32x4_t tanh4(float32x4_t x)
{
    const float32x4_t ax = abs4(x);
    const float32x4_t t = vmulq_f32(x, x);
    float32x4_t q = splat(-6.519793067e-03f);
    q = vfmaq_f32(splat(2.125966921e-02f), q, t);
    q = vfmaq_f32(splat(-5.390101671e-02f), q, t);
    q = vfmaq_f32(splat(1.333306879e-01f), q, t);
    q = vfmaq_f32(splat(-3.333333135e-01f), q, t);
    /* the sign of x: -0 stays -0 */
    const float32x4_t small = or_sign(vfmaq_f32(x, vmulq_f32(x, t), q), x);
    const float32x4_t e = f32v4_exp(vaddq_f32(ax, ax));
    float32x4_t big = vsubq_f32(splat(1.0f), vdivq_f32(splat(2.0f), vaddq_f32(e, splat(1.0f))));
    big = or_sign(big, x);
    return vbslq_f32(vcltq_f32(ax, splat(0.5625f)), small, big);
}

/* C0_LO + t E1(t) of erf(a) / a = c0 + t E1(t), c0 = C0_HI + C0_LO */
#define C0_HI 1.128379226e+00f
static inline float32x4_t erf_small_rest(float32x4_t t)
{
    float32x4_t e = splat(8.351648285e-05f);
    e = vfmaq_f32(splat(-8.154885145e-04f), e, t);
    e = vfmaq_f32(splat(5.203948822e-03f), e, t);
    e = vfmaq_f32(splat(-2.686147019e-02f), e, t);
    e = vfmaq_f32(splat(1.128375083e-01f), e, t);
    e = vfmaq_f32(splat(-3.761263788e-01f), e, t);
    return vfmaq_f32(splat(-5.863538344e-08f), e, t);
}

/* m * erfc(a) for a >= 1, a^2 = hi + lo (times_erfc_tail of the AVX2 file) */
static inline float32x4_t times_erfc_tail(float32x4_t m, float32x4_t a, float32x4_t hi,
                                          float32x4_t lo)
{
    float32x4_t s1, s2;
    const float32x4_t p = f32v4_exp_parts(vsubq_f32(splat(0.0f), hi), &s1, &s2);
    const float32x4_t u = vdivq_f32(splat(1.0f), vminq_f32(a, splat(10.5f)));
    const float32x4_t v = vfmaq_f32(splat(-1.210526316e+00f), u, splat(2.210526316e+00f));
    float32x4_t r = splat(1.949531907e-05f);
    r = vfmaq_f32(splat(-1.893092121e-05f), r, v);
    r = vfmaq_f32(splat(-7.539892249e-05f), r, v);
    r = vfmaq_f32(splat(1.901862270e-04f), r, v);
    r = vfmaq_f32(splat(-2.421176323e-04f), r, v);
    r = vfmaq_f32(splat(9.052274254e-05f), r, v);
    r = vfmaq_f32(splat(9.417592082e-04f), r, v);
    r = vfmaq_f32(splat(-4.083387554e-03f), r, v);
    r = vfmaq_f32(splat(9.191593155e-03f), r, v);
    r = vfmaq_f32(splat(-4.312281031e-03f), r, v);
    r = vfmaq_f32(splat(-7.687601447e-02f), r, v);
    r = vfmaq_f32(splat(5.027581453e-01f), r, v);
    const float32x4_t fr = vmulq_f32(vmulq_f32(r, u), vsubq_f32(splat(1.0f), lo));
    return vmulq_f32(vmulq_f32(vmulq_f32(vmulq_f32(m, s1), p), fr), s2);
}

static inline float32x4_t erf4(float32x4_t x)
{
    const float32x4_t a = vminq_f32(splat(11.0f), abs4(x));
    const float32x4_t hi = vmulq_f32(a, a);
    const float32x4_t lo = fmsub(a, a, hi);
    const float32x4_t one = splat(1.0f);
    const float32x4_t small = vfmaq_f32(vmulq_f32(a, erf_small_rest(hi)), a, splat(C0_HI));
    const float32x4_t big = vsubq_f32(one, times_erfc_tail(one, a, hi, lo));
    return or_sign(vbslq_f32(vcltq_f32(a, one), small, big), x);
}

/* x/2 (1 + erf(x / sqrt 2)), as gelu_ps of the AVX2 file. */
static inline float32x4_t gelu4(float32x4_t x)
{
    const float32x4_t xc = vmaxq_f32(splat(-15.0f), vminq_f32(splat(15.0f), x));
    const float32x4_t half = splat(0.5f), one = splat(1.0f);
    const float32x4_t h = vmulq_f32(half, x), hc = vmulq_f32(half, xc);
    const float32x4_t k_hi = splat(0.70710677f), k_lo = splat(1.21016175e-08f);
    const float32x4_t s = vmulq_f32(xc, k_hi);
    const float32x4_t s_lo = vfmaq_f32(fmsub(xc, k_hi, s), xc, k_lo);
    const float32x4_t a = abs4(s);
    const float32x4_t xx = vmulq_f32(xc, xc);
    const float32x4_t hi = vmulq_f32(half, xx);
    const float32x4_t lo = vmulq_f32(half, fmsub(xc, xc, xx));
    const float32x4_t c0 = splat(C0_HI);
    const float32x4_t one_plus = vfmaq_f32(vfmaq_f32(one, s, c0), s_lo, c0);
    const float32x4_t small = vmulq_f32(h, vfmaq_f32(one_plus, s, erf_small_rest(hi)));
    const float32x4_t c = times_erfc_tail(hc, a, hi, lo);
    const float32x4_t big = vbslq_f32(sign_mask(x), c, fmsub(h, splat(2.0f), c));
    float32x4_t y = vbslq_f32(vcltq_f32(a, one), small, big);
    y = or_sign(y, x); /* gelu has the sign of x; -0 stays -0 */
    return vbslq_f32(vceqq_f32(x, splat(-INFINITY)), splat(NAN), y);
}

#define F32X4_MAP(name, fn)                                                     \
    static void name(size_t n, const float *x, float *y)                        \
    {                                                                           \
        size_t i = 0;                                                           \
        for (; i + 4 <= n; i += 4)                                              \
            vst1q_f32(y + i, fn(vld1q_f32(x + i)));                             \
        if (i < n) {                                                            \
            float t[4] = {0};                                                   \
            memcpy(t, x + i, (n - i) * sizeof *t);                              \
            vst1q_f32(t, fn(vld1q_f32(t)));                                     \
            memcpy(y + i, t, (n - i) * sizeof *t);                              \
        }                                                                       \
    }
F32X4_MAP(map_exp, f32v4_exp)
F32X4_MAP(map_sigmoid, sigmoid4)
F32X4_MAP(map_tanh, tanh4)
F32X4_MAP(map_erf, erf4)
F32X4_MAP(map_silu, silu4)
F32X4_MAP(map_gelu, gelu4)
#undef F32X4_MAP

void f32_sigmoid__neon(size_t n, const float *x, float *y, float alpha)
{
    (void)alpha;
    map_sigmoid(n, x, y);
}

void f32_tanh__neon(size_t n, const float *x, float *y, float alpha)
{
    (void)alpha;
    map_tanh(n, x, y);
}

void f32_math__neon(const struct f32_math_params *p, size_t n, const float *x, float *y)
{
    switch (p->op) {
    case F32_MATH_EXP: map_exp(n, x, y); return;
    case F32_MATH_ERF: map_erf(n, x, y); return;
    case F32_MATH_SILU: map_silu(n, x, y); return;
    case F32_MATH_GELU: map_gelu(n, x, y); return;
    default: f32_math__ref(p, n, x, y); return;
    }
}

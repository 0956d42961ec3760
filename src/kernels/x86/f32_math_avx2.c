/* Vectorized float exp, sigmoid, tanh, erf, silu and gelu, AVX2 + FMA,
 * eight lanes at a time (the last < 8 with masked loads and stores).
 * Error bounds (ulp against libm in double) are in kernels.h and
 * measured by tests/kernels/test_f32_vmath.c.
 *
 * Every function evaluates exp at an argument that is exact in float
 * (x, -|x|, 2|x|, or -x^2 as the unevaluated sum of two floats), since a
 * rounded argument t would cost |t| * 2^-24 of relative error in the tail.
 * The polynomials were fitted (least squares on Chebyshev nodes, relative
 * error) by a short NumPy script; their exact-arithmetic errors are given
 * beside them. The other math ops go to the reference. */
#include <immintrin.h>
#include <math.h>

#include "kernels/kernels.h"
#include "kernels/x86/f32_exp_avx2.h"

#define SIGN_MASK _mm256_set1_ps(-0.0f)

static inline __m256 abs_ps(__m256 x)
{
    return _mm256_andnot_ps(SIGN_MASK, x);
}

/* m * sigmoid(z) with exp(-|z|) = p * s1 * s2: z >= 0 m / (1 + e),
 * z < 0 m * e / (1 + e) with the scale s2 applied last (the result may be
 * subnormal: one rounding there). m * s1 neither overflows nor
 * underflows for the callers' m (m = 1 or z). Below z = -120 the
 * result is a zero with the sign of m (|m| e^z < 2^-150 for |m| <= 2^16,
 * and m = z beyond). */
static inline __m256 times_sigmoid(__m256 m, __m256 z)
{
    __m256 s1, s2;
    const __m256 p = f32v8_exp_parts(_mm256_or_ps(z, SIGN_MASK), &s1, &s2);
    const __m256 d = _mm256_add_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(_mm256_mul_ps(p, s1), s2));
    const __m256 pos = _mm256_div_ps(m, d);
    const __m256 neg = _mm256_mul_ps(_mm256_div_ps(_mm256_mul_ps(_mm256_mul_ps(m, s1), p), d), s2);
    const __m256 tiny = _mm256_cmp_ps(z, _mm256_set1_ps(-120.0f), _CMP_LT_OQ);
    const __m256 y = _mm256_blendv_ps(pos, neg, z);
    return _mm256_blendv_ps(y, _mm256_and_ps(m, SIGN_MASK), tiny);
}

static inline __m256 sigmoid_ps(__m256 x)
{
    return times_sigmoid(_mm256_set1_ps(1.0f), x);
}

/* x * sigmoid(x); -inf gives NaN like the reference's -inf * 0. */
static inline __m256 silu_ps(__m256 x)
{
    const __m256 y = times_sigmoid(x, x);
    const __m256 minf = _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ);
    return _mm256_blendv_ps(y, _mm256_set1_ps(NAN), minf);
}

/* |x| < 0.5625: x + x^3 Q(x^2), Q degree 4 (relative error of Q 5e-8,
 * of tanh 5e-9); above: 1 - 2 / (exp(2|x|) + 1) with the sign of x (no
 * cancellation: the result is >= 0.51). */
static inline __m256 tanh_ps(__m256 x)
{
    const __m256 ax = abs_ps(x);
    const __m256 t = _mm256_mul_ps(x, x);
    __m256 q = _mm256_set1_ps(-6.519793067e-03f);
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.125966921e-02f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-5.390101671e-02f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.333306879e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-3.333333135e-01f));
    /* the sign of x: -0 stays -0 */
    const __m256 small = _mm256_or_ps(_mm256_fmadd_ps(_mm256_mul_ps(x, t), q, x),
                                      _mm256_and_ps(x, SIGN_MASK));
    const __m256 e = f32v8_exp(_mm256_add_ps(ax, ax));
    const __m256 two = _mm256_set1_ps(2.0f);
    __m256 big = _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(two, _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
    big = _mm256_or_ps(big, _mm256_and_ps(x, SIGN_MASK));
    const __m256 is_small = _mm256_cmp_ps(ax, _mm256_set1_ps(0.5625f), _CMP_LT_OQ);
    return _mm256_blendv_ps(big, small, is_small);
}

/* erf(a) / a = c0 + t E1(t) for t = a^2 in [0, 1], c0 = 2 / sqrt(pi)
 * split as C0_HI + C0_LO so callers can add a * C0_HI exactly (fused):
 * returns C0_LO + t E1(t), E1 of degree 5 (relative error 3.6e-8 with
 * its float coefficients). */
#define C0_HI 1.128379226e+00f
static inline __m256 erf_small_rest(__m256 t)
{
    __m256 e = _mm256_set1_ps(8.351648285e-05f);
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(-8.154885145e-04f));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(5.203948822e-03f));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(-2.686147019e-02f));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(1.128375083e-01f));
    e = _mm256_fmadd_ps(e, t, _mm256_set1_ps(-3.761263788e-01f));
    return _mm256_fmadd_ps(e, t, _mm256_set1_ps(-5.863538344e-08f));
}

/* erfc(a) for a >= 1, as exp(-a^2) * R(a) / a with R(a) = a erfc(a)
 * exp(a^2), a smooth function of u = 1/a fitted over a in [1, 10.5]
 * (degree 11 in v = 2.2105 u - 1.2105, relative error 1e-8; beyond 10.5
 * exp(-a^2) is 0). a^2 = hi + lo exactly (lo tiny): exp(-hi) (1 - lo).
 * The result is m * erfc(a) with m applied before the final scale, so a
 * subnormal result is rounded once. a is finite and <= 11. */
static inline __m256 times_erfc_tail(__m256 m, __m256 a, __m256 hi, __m256 lo)
{
    __m256 s1, s2;
    const __m256 p = f32v8_exp_parts(_mm256_sub_ps(_mm256_setzero_ps(), hi), &s1, &s2);
    const __m256 u = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_min_ps(a, _mm256_set1_ps(10.5f)));
    const __m256 v = _mm256_fmadd_ps(u, _mm256_set1_ps(2.210526316e+00f),
                                     _mm256_set1_ps(-1.210526316e+00f));
    __m256 r = _mm256_set1_ps(1.949531907e-05f);
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(-1.893092121e-05f));
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(-7.539892249e-05f));
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(1.901862270e-04f));
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(-2.421176323e-04f));
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(9.052274254e-05f));
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(9.417592082e-04f));
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(-4.083387554e-03f));
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(9.191593155e-03f));
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(-4.312281031e-03f));
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(-7.687601447e-02f));
    r = _mm256_fmadd_ps(r, v, _mm256_set1_ps(5.027581453e-01f));
    const __m256 f = _mm256_mul_ps(_mm256_mul_ps(r, u),
                                   _mm256_sub_ps(_mm256_set1_ps(1.0f), lo));
    return _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(m, s1), p), f), s2);
}

static inline __m256 erf_ps(__m256 x)
{
    const __m256 a = _mm256_min_ps(_mm256_set1_ps(11.0f), abs_ps(x));
    const __m256 hi = _mm256_mul_ps(a, a);
    const __m256 lo = _mm256_fmsub_ps(a, a, hi);
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 small = _mm256_fmadd_ps(a, _mm256_set1_ps(C0_HI),
                                         _mm256_mul_ps(a, erf_small_rest(hi)));
    const __m256 big = _mm256_sub_ps(one, times_erfc_tail(one, a, hi, lo));
    const __m256 r = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, one, _CMP_LT_OQ));
    return _mm256_or_ps(r, _mm256_and_ps(x, SIGN_MASK));
}

/* x/2 (1 + erf(x / sqrt 2)) with a = |x| / sqrt 2, a^2 = x^2 / 2 exactly
 * as hi + lo. a < 1: h (1 + erf(+-a)); a >= 1: 2h - h erfc(a) for x >= 0,
 * h erfc(a) for x < 0 (no cancellation in the negative tail). x is
 * clamped to [-15, 15] for erfc (erfc(15 / sqrt 2) is 0 in float); -inf
 * gives NaN like the reference's -inf * 0; NaN passes the clamps. */
static inline __m256 gelu_ps(__m256 x)
{
    const __m256 xc = _mm256_max_ps(_mm256_set1_ps(-15.0f), _mm256_min_ps(_mm256_set1_ps(15.0f), x));
    const __m256 half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256 h = _mm256_mul_ps(half, x), hc = _mm256_mul_ps(half, xc);
    /* x / sqrt 2 = s + s_lo: an error of 2^-24 in s would move erfc by
     * 2.5 ulp near a = 1 */
    const __m256 k_hi = _mm256_set1_ps(0.70710677f), k_lo = _mm256_set1_ps(1.21016175e-08f);
    const __m256 s = _mm256_mul_ps(xc, k_hi);
    const __m256 s_lo = _mm256_fmadd_ps(xc, k_lo, _mm256_fmsub_ps(xc, k_hi, s));
    const __m256 a = abs_ps(s);
    const __m256 xx = _mm256_mul_ps(xc, xc);
    const __m256 hi = _mm256_mul_ps(half, xx);
    const __m256 lo = _mm256_mul_ps(half, _mm256_fmsub_ps(xc, xc, xx));
    /* 1 + s C0_HI is exact enough (fused, and near -0.004 where it
     * cancels), then s (C0_LO + t E1) is added with one rounding */
    const __m256 c0 = _mm256_set1_ps(C0_HI);
    const __m256 one_plus = _mm256_fmadd_ps(s_lo, c0, _mm256_fmadd_ps(s, c0, one));
    const __m256 small = _mm256_mul_ps(h, _mm256_fmadd_ps(s, erf_small_rest(hi), one_plus));
    const __m256 c = times_erfc_tail(hc, a, hi, lo);
    const __m256 big = _mm256_blendv_ps(_mm256_fmsub_ps(h, _mm256_set1_ps(2.0f), c), c, x);
    __m256 y = _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, one, _CMP_LT_OQ));
    y = _mm256_or_ps(y, _mm256_and_ps(x, SIGN_MASK)); /* gelu has the sign of x; -0 stays -0 */
    const __m256 minf = _mm256_cmp_ps(x, _mm256_set1_ps(-INFINITY), _CMP_EQ_OQ);
    return _mm256_blendv_ps(y, _mm256_set1_ps(NAN), minf);
}

#define F32V8_MAP(name, fn)                                                     \
    static void name(size_t n, const float *x, float *y)                        \
    {                                                                           \
        size_t i = 0;                                                           \
        for (; i + 8 <= n; i += 8)                                              \
            _mm256_storeu_ps(y + i, fn(_mm256_loadu_ps(x + i)));                \
        if (i < n) {                                                            \
            const __m256i m = f32v8_tail_mask(n - i);                           \
            _mm256_maskstore_ps(y + i, m, fn(_mm256_maskload_ps(x + i, m)));    \
        }                                                                       \
    }
F32V8_MAP(map_exp, f32v8_exp)
F32V8_MAP(map_sigmoid, sigmoid_ps)
F32V8_MAP(map_tanh, tanh_ps)
F32V8_MAP(map_erf, erf_ps)
F32V8_MAP(map_silu, silu_ps)
F32V8_MAP(map_gelu, gelu_ps)
#undef F32V8_MAP

void f32_sigmoid__avx2(size_t n, const float *x, float *y, float alpha)
{
    (void)alpha;
    map_sigmoid(n, x, y);
}

void f32_tanh__avx2(size_t n, const float *x, float *y, float alpha)
{
    (void)alpha;
    map_tanh(n, x, y);
}

void f32_math__avx2(const struct f32_math_params *p, size_t n, const float *x, float *y)
{
    switch (p->op) {
    case F32_MATH_EXP: map_exp(n, x, y); return;
    case F32_MATH_ERF: map_erf(n, x, y); return;
    case F32_MATH_SILU: map_silu(n, x, y); return;
    case F32_MATH_GELU: map_gelu(n, x, y); return;
    default: f32_math__ref(p, n, x, y); return;
    }
}

/* The vectorized transcendental kernels (sigmoid, tanh, math's exp, erf,
 * silu, gelu) of every level above ref against libm in double, and the
 * vector softmax and layer_norm against the reference.
 *
 * Element-wise: every 997th float bit pattern (QUANTA_TEST_VMATH_STRIDE
 * sets another stride; the bounds were measured at 97), the
 * specials and thresholds, and a dense sweep of [-20, 20] in steps of
 * 2^-14; the error is |got - exact| in units in the last place of the
 * exact value as a float (2^-149 for subnormal results), at most
 * F32_VMATH_ULP_<function> (kernels.h); a result that rounds to +-inf or is NaN
 * must be exactly that. Near 0 (|x| <= 1) sigmoid, tanh and erf also
 * stay within 1.5e-7 absolute. The worst case of each function is
 * printed.
 *
 * softmax: within 1e-6 relative (about 8 ulp; the exp is within
 * F32_VMATH_ULP_EXP, the sum in double and the reciprocal add a rounding
 * each) plus 1e-30 absolute of the reference, on random and adversarial
 * rows (lengths 1, 7, 8, 9, 1000, huge magnitudes, -inf entries), along
 * the last axis and strided; NaN where the reference gives NaN.
 * layer_norm: within 2 ulp (the row sums are in double in another
 * order), same shapes. */
#include <check.h>
#include <float.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "f32_test_util.h"

enum vfn { V_EXP, V_SIGMOID, V_TANH, V_ERF, V_SILU, V_GELU, V_COUNT };
static const char *const vfn_names[V_COUNT] = {"exp", "sigmoid", "tanh", "erf", "silu", "gelu"};
static const int vfn_ulp[V_COUNT] = {F32_VMATH_ULP_EXP,  F32_VMATH_ULP_SIGMOID,
                                     F32_VMATH_ULP_TANH, F32_VMATH_ULP_ERF,
                                     F32_VMATH_ULP_SILU, F32_VMATH_ULP_GELU};

static double exact(enum vfn f, double x)
{
    switch (f) {
    case V_EXP: return exp(x);
    case V_SIGMOID: return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x));
    case V_TANH: return tanh(x);
    case V_ERF: return erf(x);
    case V_SILU: return x >= 0 ? x / (1.0 + exp(-x)) : x * exp(x) / (1.0 + exp(x));
    /* erfc in the negative tail: 1 + erf(x) cancels there even in double */
    case V_GELU: return x >= 0 ? 0.5 * x * (1.0 + erf(x * M_SQRT1_2)) : 0.5 * x * erfc(-x * M_SQRT1_2);
    case V_COUNT: break;
    }
    return NAN;
}

static void run(const struct f32_kernels *k, enum vfn f, size_t n, const float *x, float *y)
{
    static const enum f32_math_op ops[V_COUNT] = {
        [V_EXP] = F32_MATH_EXP, [V_ERF] = F32_MATH_ERF, [V_SILU] = F32_MATH_SILU,
        [V_GELU] = F32_MATH_GELU};
    if (f == V_SIGMOID) {
        k->sigmoid(n, x, y, 0.0f);
    } else if (f == V_TANH) {
        k->tanh(n, x, y, 0.0f);
    } else {
        struct f32_math_params p = {.op = ops[f]};
        k->math(&p, n, x, y);
    }
}

/* Error of got in ulp of the exact value; HUGE_VAL for a wrong special. */
static double ulp_error(float got, double want)
{
    if (isnan(want))
        return isnan(got) ? 0.0 : HUGE_VAL;
    float rounded = (float)want;
    if (isinf(rounded))
        return got == rounded ? 0.0 : HUGE_VAL;
    if (isnan(got) || isinf(got))
        return HUGE_VAL;
    double a = fabs(want);
    double ulp = a < FLT_MIN ? ldexp(1.0, -149) : ldexp(1.0, ilogb(a) - 23);
    return fabs((double)got - want) / ulp;
}

struct worst {
    double ulp, abs_near0;
    float at, abs_at;
};

enum { CHUNK = 4096 };

/* Checks n inputs (n <= CHUNK, guarded output: the kernel's tail must
 * stay inside), updating the worst case. */
static void check_chunk(const struct f32_kernels *k, enum vfn f, const float *x, size_t n,
                        float *y, struct worst *w)
{
    run(k, f, n, x, y);
    ts_guarded_check(y, vfn_names[f]);
    for (size_t i = 0; i < n; i++) {
        double want = exact(f, x[i]);
        double e = ulp_error(y[i], want);
        ck_assert_msg(e <= vfn_ulp[f], "%s %s(%.9g) = %.9g, exact %.17g: %.3g ulp > %d",
                      k->level, vfn_names[f], (double)x[i], (double)y[i], want, e, vfn_ulp[f]);
        if (e > w->ulp) {
            w->ulp = e;
            w->at = x[i];
        }
        if (f != V_EXP && f != V_SILU && f != V_GELU && fabsf(x[i]) <= 1.0f) {
            double d = fabs((double)y[i] - want);
            ck_assert_msg(d <= 1.5e-7, "%s %s(%.9g) = %.9g, exact %.17g: abs error %.3g",
                          k->level, vfn_names[f], (double)x[i], (double)y[i], want, d);
            if (d > w->abs_near0) {
                w->abs_near0 = d;
                w->abs_at = x[i];
            }
        }
    }
}

static const struct f32_kernels *level_table(int level)
{
    const struct f32_kernels *k = f32_kernels_for_level((enum kernels_level)level);
    ck_assert_ptr_nonnull(k);
    return k;
}

static const float specials[] = {
    0.0f, -0.0f, INFINITY, -INFINITY, NAN, -NAN, FLT_MIN, -FLT_MIN, FLT_MAX, -FLT_MAX,
    FLT_TRUE_MIN, -FLT_TRUE_MIN, 1.0f, -1.0f, 0.5625f, -0.5625f, 0.56249994f, 88.7228394f,
    88.72283f, 88.72284f, 89.0f, 89.5f, -87.33654f, -87.3365479f, -103.972076f, -103.97208f,
    -103.9721f, -104.0f, -104.5f, 9.01f, -9.01f, 3.92f, -3.92f, 1.41421354f, -1.41421354f,
    -14.0f, -14.1f, -15.0f, -15.1f, 15.0f, 20.0f, -20.0f, 44.4f, -44.4f, 1e-20f, -1e-20f,
    1e30f, -1e30f, 0.34657359f, -0.34657359f, 1e-45f, -3e-39f,
};

/* The stride through the 2^32 bit patterns: 997 (4.3 million inputs,
 * some 16000 in every binade of either sign) unless
 * QUANTA_TEST_VMATH_STRIDE sets another (97 for the 44 million of the
 * error bounds' measurement in kernels.h). */
static uint64_t pattern_stride(void)
{
    const char *s = getenv("QUANTA_TEST_VMATH_STRIDE");
    long v = s ? strtol(s, NULL, 10) : 0;
    return v > 0 ? (uint64_t)v : 997;
}

/* _i = level * V_COUNT + function */
START_TEST(test_whole_range)
{
    const struct f32_kernels *k = level_table(_i / V_COUNT);
    const enum vfn f = (enum vfn)(_i % V_COUNT);
    const uint64_t stride = pattern_stride();
    float *x = ft_alloc_floats(CHUNK), *y = ft_alloc_guarded(CHUNK);
    struct worst w = {0};
    size_t n = 0;
    for (uint64_t bits = 0; bits <= UINT32_MAX; bits += stride) {
        uint32_t b = (uint32_t)bits;
        memcpy(&x[n++], &b, sizeof b);
        if (n == CHUNK) {
            check_chunk(k, f, x, n, y, &w);
            n = 0;
        }
    }
    if (n)
        check_chunk(k, f, x, n, y, &w);
    /* specials, one call each length 1 .. count: every tail length */
    const size_t ns = sizeof specials / sizeof specials[0];
    for (size_t len = 1; len <= ns; len++)
        check_chunk(k, f, specials + ns - len, len, y, &w);
    /* dense sweep of [-20, 20] */
    n = 0;
    for (int32_t s = -20 * 16384; s <= 20 * 16384; s++) {
        x[n++] = (float)s / 16384.0f;
        if (n == CHUNK) {
            check_chunk(k, f, x, n, y, &w);
            n = 0;
        }
    }
    if (n)
        check_chunk(k, f, x, n, y, &w);
    fprintf(stderr, "f32_vmath %s %s (stride %llu): max %.3f ulp at %.9g", k->level,
            vfn_names[f], (unsigned long long)stride, w.ulp, (double)w.at);
    if (w.abs_near0 > 0)
        fprintf(stderr, ", near 0 max abs %.3g at %.9g", w.abs_near0, (double)w.abs_at);
    fprintf(stderr, "\n");
    free(x);
    ts_guarded_free(y);
}
END_TEST

/* The specials give exactly the reference's (libm's) special values. */
START_TEST(test_specials_exact)
{
    const struct f32_kernels *k = level_table(_i);
    const float x[] = {INFINITY, -INFINITY, NAN, 0.0f, -0.0f, 100.0f, -200.0f};
    enum { N = sizeof x / sizeof x[0] };
    const float want[V_COUNT][N] = {
        [V_EXP] = {INFINITY, 0.0f, NAN, 1.0f, 1.0f, INFINITY, 0.0f},
        [V_SIGMOID] = {1.0f, 0.0f, NAN, 0.5f, 0.5f, 1.0f, 0.0f},
        [V_TANH] = {1.0f, -1.0f, NAN, 0.0f, -0.0f, 1.0f, -1.0f},
        [V_ERF] = {1.0f, -1.0f, NAN, 0.0f, -0.0f, 1.0f, -1.0f},
        [V_SILU] = {INFINITY, NAN, NAN, 0.0f, -0.0f, 100.0f, -0.0f},
        [V_GELU] = {INFINITY, NAN, NAN, 0.0f, -0.0f, 100.0f, -0.0f},
    };
    for (int f = 0; f < V_COUNT; f++) {
        float y[N];
        run(k, (enum vfn)f, N, x, y);
        for (int i = 0; i < N; i++) {
            if (isnan(want[f][i])) {
                ck_assert_msg(isnan(y[i]), "%s %s(%g) = %g, expected NaN", k->level,
                              vfn_names[f], (double)x[i], (double)y[i]);
                continue;
            }
            ck_assert_msg(y[i] == want[f][i] && signbit(y[i]) == signbit(want[f][i]),
                          "%s %s(%g) = %g, expected %g", k->level, vfn_names[f], (double)x[i],
                          (double)y[i], (double)want[f][i]);
        }
    }
}
END_TEST

/* In place (y == x), as the runner's fused activations call them. */
START_TEST(test_in_place)
{
    const struct f32_kernels *k = level_table(_i);
    enum { N = 37 };
    uint64_t rng = 0x77;
    float x[N], y[N], z[N];
    ts_fill(&rng, x, N, -6, 6);
    for (int f = 0; f < V_COUNT; f++) {
        memcpy(z, x, sizeof x);
        run(k, (enum vfn)f, N, x, y);
        run(k, (enum vfn)f, N, z, z);
        ck_assert_msg(memcmp(y, z, sizeof y) == 0, "%s %s in place differs", k->level,
                      vfn_names[f]);
    }
}
END_TEST

/* ---- softmax and layer_norm against the reference ---- */

static const size_t row_lengths[] = {1, 7, 8, 9, 16, 17, 1000};

/* Fills a row by kind: 0 uniform [-20, 20], 1 huge magnitudes (+-1e30),
 * 2 all equal, 3 with -inf entries, 4 one dominant value, 5 [-1e4, 1e4]. */
static void fill_row(uint64_t *rng, int kind, float *x, size_t n)
{
    switch (kind) {
    case 0: ts_fill(rng, x, n, -20, 20); break;
    case 1: ts_fill(rng, x, n, -1e30f, 1e30f); break;
    case 2: for (size_t i = 0; i < n; i++) x[i] = 3.25f; break;
    case 3:
        ts_fill(rng, x, n, -5, 5);
        for (size_t i = 0; i < n; i += 3)
            x[i] = -INFINITY;
        if (n > 1)
            x[n - 1] = 1.0f; /* not every entry -inf */
        break;
    case 4:
        ts_fill(rng, x, n, -1, 1);
        x[n / 2] = 90.0f;
        break;
    default: ts_fill(rng, x, n, -1e4f, 1e4f); break;
    }
}

static void expect_softmax_close(const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(want[i]) || isinf(want[i])) {
            ck_assert_msg(isnan(want[i]) ? isnan(got[i]) : got[i] == want[i],
                          "%s: element %zu is %.9g, reference %.9g", what, i, (double)got[i],
                          (double)want[i]);
            continue;
        }
        double tol = 1e-30 + 1e-6 * fabs((double)want[i]);
        ck_assert_msg(fabs((double)got[i] - (double)want[i]) <= tol,
                      "%s: element %zu is %.9g, reference %.9g", what, i, (double)got[i],
                      (double)want[i]);
    }
}

START_TEST(test_softmax_rows)
{
    const struct f32_kernels *k = level_table(_i);
    uint64_t rng = 0x5eed;
    for (size_t li = 0; li < sizeof row_lengths / sizeof row_lengths[0]; li++)
        for (int kind = 0; kind < 6; kind++)
            for (int log_out = 0; log_out < 2; log_out++)
                for (size_t inner = 1; inner <= 11; inner += 5) {
                    const size_t len = row_lengths[li], outer = 3, n = outer * len * inner;
                    float *x = ft_alloc_floats(n), *want = ft_alloc_floats(n);
                    float *got = ft_alloc_guarded(n);
                    for (size_t r = 0; r < outer * inner; r++) {
                        fill_row(&rng, kind, x + r * len, len);
                    }
                    struct f32_softmax_params p = {
                        .outer = outer, .axis_len = len, .inner = inner, .log = log_out};
                    f32_softmax__ref(&p, x, want);
                    k->softmax(&p, x, got);
                    ts_guarded_check(got, "softmax");
                    char what[128];
                    snprintf(what, sizeof what, "%s softmax len %zu inner %zu kind %d log %d",
                             k->level, len, inner, kind, log_out);
                    expect_softmax_close(got, want, n, what);
                    free(x);
                    free(want);
                    ts_guarded_free(got);
                }
}
END_TEST

START_TEST(test_softmax_nan_inf)
{
    const struct f32_kernels *k = level_table(_i);
    /* a NaN, a +inf, or only -inf: the reference's NaN rows */
    const float rows[3][9] = {
        {1, 2, 3, 4, 5, 6, 7, 8, NAN},
        {1, 2, INFINITY, 4, 5, 6, 7, 8, 9},
        {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY,
         -INFINITY, -INFINITY},
    };
    for (int log_out = 0; log_out < 2; log_out++) {
        float want[27], got[27];
        struct f32_softmax_params p = {.outer = 3, .axis_len = 9, .inner = 1, .log = log_out};
        f32_softmax__ref(&p, &rows[0][0], want);
        k->softmax(&p, &rows[0][0], got);
        expect_softmax_close(got, want, 27, k->level);
        for (int i = 0; i < 9; i++)
            ck_assert_msg(isnan(got[i]), "%s: a NaN in the row gives NaN", k->level);
    }
}
END_TEST

static void expect_ulp2(const float *got, const float *want, size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        double a = fabs((double)want[i]);
        double ulp = a < FLT_MIN ? ldexp(1.0, -149) : ldexp(1.0, ilogb(a) - 23);
        ck_assert_msg(fabs((double)got[i] - (double)want[i]) <= 2 * ulp,
                      "%s: element %zu is %.9g, reference %.9g", what, i, (double)got[i],
                      (double)want[i]);
    }
}

START_TEST(test_layer_norm_rows)
{
    const struct f32_kernels *k = level_table(_i);
    uint64_t rng = 0x1a7e;
    for (size_t li = 0; li < sizeof row_lengths / sizeof row_lengths[0]; li++)
        for (int kind = 0; kind < 6; kind++) {
            if (kind == 3)
                continue; /* -inf rows: NaN by definition, covered by the reference */
            const size_t cols = row_lengths[li], rows = 4, n = rows * cols;
            float *x = ft_alloc_floats(n), *want = ft_alloc_floats(n);
            float *scale = ft_alloc_floats(cols), *bias = ft_alloc_floats(cols);
            float *got = ft_alloc_guarded(n);
            for (size_t r = 0; r < rows; r++)
                fill_row(&rng, kind, x + r * cols, cols);
            ts_fill(&rng, scale, cols, -2, 2);
            ts_fill(&rng, bias, cols, -1, 1);
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                struct f32_layer_norm_params p = {.rows = rows, .cols = cols, .epsilon = 1e-5f};
                f32_layer_norm__ref(&p, x, scale, with_bias ? bias : NULL, want);
                k->layer_norm(&p, x, scale, with_bias ? bias : NULL, got);
                ts_guarded_check(got, "layer_norm");
                char what[128];
                snprintf(what, sizeof what, "%s layer_norm cols %zu kind %d bias %d", k->level,
                         cols, kind, with_bias);
                expect_ulp2(got, want, n, what);
            }
            free(x);
            free(want);
            free(scale);
            free(bias);
            ts_guarded_free(got);
        }
}
END_TEST

Suite *suite_f32_vmath(void);
Suite *suite_f32_vmath(void)
{
    Suite *s = suite_create("f32_vmath");
    TCase *tc = tcase_create("levels");
    tcase_set_timeout(tc, 600);
    for (int l = 1; l < KERNELS_LEVEL_COUNT; l++) {
        bool hardware;
        if (ts_level_missing(l, false, &hardware)) {
            ts_add_level_skip(tc, "f32_vmath", l, false);
            continue;
        }
        /* a level whose table runs the reference: nothing to test here */
        if (f32_kernels_for_level((enum kernels_level)l)->sigmoid == f32_sigmoid__ref)
            continue;
        tcase_add_loop_test(tc, test_specials_exact, l, l + 1);
        tcase_add_loop_test(tc, test_in_place, l, l + 1);
        tcase_add_loop_test(tc, test_softmax_rows, l, l + 1);
        tcase_add_loop_test(tc, test_softmax_nan_inf, l, l + 1);
        tcase_add_loop_test(tc, test_layer_norm_rows, l, l + 1);
        tcase_add_loop_test(tc, test_whole_range, l * V_COUNT, (l + 1) * V_COUNT);
    }
    suite_add_tcase(s, tc);
    return s;
}

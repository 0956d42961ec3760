/* The AVX2 int8 GEMM micro-kernel (q8_gemm_6x16__avx2) called directly
 * on A/B operands built here in the I16 layout (q8_packed.h), against
 * the exact formula acc = sat32(bias + sum A*B), y = clamp(zy +
 * requantize(acc), qmin, qmax) of kernels/requant.h; and the AVX2 max pool
 * in each of its output modes against q8_max_pool2d__ref. Covers the
 * kernel's fast epilogue (bias in the accumulators, no 64-bit clamp) at
 * its limits: accumulators at INT32_MIN / INT32_MAX, biases at and one
 * past the bound that selects it, multipliers INT32_MAX / 2^30 / 0 and
 * shifts 1 / 30 / 31, exact ties; and the general epilogue for the rest
 * (shift <= 0, negative M, saturating bias); and the quantize kernel's
 * float form next to ties. Registered only when the CPU
 * runs AVX2 (a printed note otherwise). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_packed.h"
#include "kernels/q8_testing.h"
#include "kernels/requant.h"
#include "support/test_support.h"

/* One GEMM problem: A [mc x kp] int16 (x - zx), W [kp x nc] int8. */
struct gemm_case {
    int mc, nc, kp, per_channel;
    int16_t *a;     /* row-major, a_stride = kp * 2 bytes */
    int8_t *w;      /* w[k * nc + j] */
    int32_t *bias, *mult, *shift;
    int32_t zy, qmin, qmax;
};

static void case_alloc(struct gemm_case *c, int mc, int nc, int kp)
{
    memset(c, 0, sizeof *c);
    c->mc = mc, c->nc = nc, c->kp = kp;
    c->a = calloc((size_t)mc * kp, sizeof *c->a);
    c->w = calloc((size_t)kp * nc, 1);
    c->bias = calloc((size_t)nc, sizeof(int32_t));
    c->mult = calloc((size_t)nc, sizeof(int32_t));
    c->shift = calloc((size_t)nc, sizeof(int32_t));
    ck_assert(c->a && c->w && c->bias && c->mult && c->shift);
    c->qmin = -128, c->qmax = 127;
}

static void case_free(struct gemm_case *c)
{
    free(c->a), free(c->w), free(c->bias), free(c->mult), free(c->shift);
}

/* The reference output of row i, column j. */
static int8_t expect(const struct gemm_case *c, int i, int j)
{
    int64_t d = 0;
    for (int k = 0; k < c->kp; k++)
        d += (int64_t)c->a[(size_t)i * c->kp + k] * c->w[(size_t)k * c->nc + j];
    const int32_t acc = q8_clamp_i64(c->bias[j] + d, INT32_MIN, INT32_MAX);
    const int p = c->per_channel ? j : 0;
    return q8_requant_clamp(acc, c->mult[p], c->shift[p], c->zy, c->qmin, c->qmax);
}

/* Packs W as I16 blocks, runs the kernel into y with ldy = nc + 3 (the 3
 * bytes after each row must stay untouched), compares every byte. A (one
 * int16 past a 64-byte boundary) and y (one byte past) are guarded copies
 * (ts_guarded_alloc); B and work keep the alignment q8_packed.h gives them
 * (64-byte sections, 64-aligned work). */
static void run_and_check(const struct gemm_case *c, const char *what)
{
    const int blocks = (c->nc + 15) / 16;
    const size_t block_bytes = (size_t)c->kp * 16 * 2;
    int16_t *b = calloc((size_t)blocks * c->kp * 16, sizeof *b);
    int32_t *wsum = calloc((size_t)c->nc, sizeof *wsum);
    const size_t ldy = (size_t)c->nc + 3;
    int8_t *y = ts_guarded_alloc((size_t)c->mc * ldy, 1);
    int16_t *a = ts_guarded_alloc((size_t)c->mc * c->kp * sizeof *a, sizeof *a);
    memcpy(a, c->a, (size_t)c->mc * c->kp * sizeof *a);
    void *work = aligned_alloc(64, Q8_GEMM_WORK);
    ck_assert(b && wsum && work);
    for (int j = 0; j < c->nc; j++)
        for (int k = 0; k < c->kp; k++)
            b[(size_t)(j / 16) * c->kp * 16 + ((size_t)(k / 2) * 16 + j % 16) * 2 + k % 2] =
                c->w[(size_t)k * c->nc + j];
    memset(y, 0x5a, (size_t)c->mc * ldy);
    const struct q8_gemm_args g = {
        .mc = c->mc, .nc = c->nc, .kp = c->kp, .a = a, .a_stride = (size_t)c->kp * 2,
        .b = (const int8_t *)b, .b_block = block_bytes, .bias = c->bias, .wsum = wsum,
        .mult = c->mult, .shift = c->shift, .per_channel = c->per_channel, .c = 0,
        .zy = c->zy, .qmin = c->qmin, .qmax = c->qmax, .y = y, .ldy = ldy, .work = work,
    };
    q8_gemm_6x16__avx2(&g);
    ts_guarded_check(y, what);
    for (int i = 0; i < c->mc; i++) {
        for (int j = 0; j < c->nc; j++) {
            const int8_t want = expect(c, i, j), got = y[(size_t)i * ldy + (size_t)j];
            const int p = c->per_channel ? j : 0;
            ck_assert_msg(got == want,
                          "%s: y[%d][%d] = %d, expected %d (kp %d, nc %d, bias %d, M %d, "
                          "shift %d, zy %d, clamp [%d, %d])",
                          what, i, j, got, want, c->kp, c->nc, c->bias[j], c->mult[p],
                          c->shift[p], c->zy, c->qmin, c->qmax);
        }
        for (size_t j = (size_t)c->nc; j < ldy; j++)
            ck_assert_msg(y[(size_t)i * ldy + j] == 0x5a, "%s: row %d written past nc", what, i);
    }
    free(b), free(wsum), ts_guarded_free(y), ts_guarded_free(a), free(work);
}

/* The kernel's fast-epilogue bound: |products| <= 255 * 128. */
static int64_t span_of(int kp)
{
    return (int64_t)kp * 255 * 128;
}

/* acc = bias (A is zero): results worked out by hand. M = 2^30 with
 * shift 1 is the multiplier 1/4 (fast form); shift -1 is 1 (identity,
 * general epilogue); M = INT32_MAX with shift 31 is just under 2^-31,
 * with shift 30 just under 2^-30. */
START_TEST(gemm_requant_by_hand)
{
    static const struct {
        int32_t bias, mult, shift;
        int8_t y;
    } t[] = {
        {2, 1 << 30, 1, 1},          /* 0.5 -> 1: ties away from zero */
        {-2, 1 << 30, 1, -1},        /* -0.5 -> -1 */
        {6, 1 << 30, 1, 2},          /* 1.5 -> 2 */
        {-6, 1 << 30, 1, -2},
        {5, 1 << 30, 1, 1},          /* 1.25 -> 1 */
        {-5, 1 << 30, 1, -1},
        {1, 1 << 30, 1, 0},          /* 0.25 -> 0 */
        {-1, 1 << 30, 1, 0},
        {0, 1 << 30, 1, 0},
        {1000, 1 << 30, 1, 127},     /* 250 -> clamp */
        {-1000, 1 << 30, 1, -128},
        {-37, 1 << 30, -1, -37},     /* identity */
        {2000000000, INT32_MAX, 31, 1},  /* 0.931 -> 1 */
        {-2000000000, INT32_MAX, 30, -2}, /* -1.863 -> -2 */
        {-3, 0, 5, 0},               /* M == 0 */
        {-3, -(1 << 30), 1, 1},      /* M < 0: -1 * -0.75 = 0.75 -> 1 */
    };
    const int n = (int)(sizeof t / sizeof t[0]);
    struct gemm_case c;
    case_alloc(&c, 7, n, 2);
    c.per_channel = 1;
    for (int j = 0; j < n; j++) {
        c.bias[j] = t[j].bias;
        c.mult[j] = t[j].mult;
        c.shift[j] = t[j].shift;
    }
    run_and_check(&c, "by hand");
    /* and the hand values themselves, so the formula above is checked too */
    for (int j = 0; j < n; j++)
        ck_assert_int_eq(expect(&c, 0, j), t[j].y);
    case_free(&c);
}
END_TEST

/* kp = 65536 with every product at +-32640: sums of +-2^31 - 2^23 and
 * biases at the fast bound put the accumulators exactly at INT32_MIN and
 * INT32_MAX; one past the bound (general epilogue) the sums saturate. */
START_TEST(gemm_accumulators_at_int32_limits)
{
    const int kp = 65536;
    const int64_t span = span_of(kp); /* 2139095040 */
    ck_assert_int_eq(span, INT64_C(2139095040));
    for (int past = 0; past <= 1; past++) {
        struct gemm_case c;
        case_alloc(&c, 8, 16, kp);
        c.per_channel = 1;
        c.zy = -3;
        for (int i = 0; i < c.mc; i++) /* rows: x - zx = +255, -255, ... */
            for (int k = 0; k < kp; k++)
                c.a[(size_t)i * kp + k] = (int16_t)(i % 2 ? -255 : 255);
        memset(c.w, -128, (size_t)kp * c.nc);
        static const int32_t shifts[4] = {1, 30, 31, 20};
        for (int j = 0; j < c.nc; j++) {
            /* even j: bias - span == INT32_MIN (+255 rows reach it);
             * odd j: bias + span == INT32_MAX (-255 rows reach it) */
            c.bias[j] = j % 2 ? (int32_t)(INT32_MAX - span + past)
                              : (int32_t)(INT32_MIN + span - past);
            c.mult[j] = j < 8 ? INT32_MAX : (1 << 30);
            c.shift[j] = shifts[(j / 2) % 4];
        }
        /* the exact accumulators, by hand */
        ck_assert_int_eq(c.bias[0] + (int64_t)255 * -128 * kp, (int64_t)INT32_MIN - past);
        ck_assert_int_eq(c.bias[1] + (int64_t)-255 * -128 * kp, (int64_t)INT32_MAX + past);
        run_and_check(&c, past ? "one past the fast bound" : "accumulators at int32 limits");
        /* shift 30 at j = 2, 3 (M = INT32_MAX) and j = 10, 11 (M = 2^30):
         * INT32_MIN * INT32_MAX / 2^61 = -2 + 2^-30 -> -2,
         * INT32_MAX * INT32_MAX / 2^61 = 2 - 2^-29 + 2^-61 -> 2,
         * INT32_MIN * 2^30 / 2^61 = -1, INT32_MAX * 2^30 / 2^61 -> 1 */
        ck_assert_int_eq(expect(&c, 0, 2), -3 - 2);
        ck_assert_int_eq(expect(&c, 1, 3), -3 + 2);
        ck_assert_int_eq(expect(&c, 0, 10), -3 - 1);
        ck_assert_int_eq(expect(&c, 1, 11), -3 + 1);
        case_free(&c);
    }
}
END_TEST

/* A multiplier: the fast form's extremes, or the general epilogue's. */
static void pick_mult(struct tq_rng *r, int32_t *m, int32_t *s)
{
    switch (tq_int(r, 0, 7)) {
    case 0: *m = INT32_MAX; break;
    case 1: *m = 1 << 30; break;
    case 2: *m = 0; break;
    case 3: *m = -(int32_t)tq_int(r, 1 << 30, INT32_MAX); break; /* general */
    default: *m = (int32_t)tq_int(r, 1 << 30, INT32_MAX); break;
    }
    switch (tq_int(r, 0, 8)) {
    case 0: *s = 1; break;
    case 1: *s = 31; break;
    case 2: *s = (int32_t)tq_int(r, Q8_SHIFT_MIN, 0); break; /* general */
    case 3: *s = 0; break; /* general, next to the fast form */
    default: *s = (int32_t)tq_int(r, 1, 24); break;
    }
}

/* Random shapes (every tail of the 6 x 16 tile), operands over their full
 * ranges, biases at, inside and past the fast bound, per-channel and
 * per-tensor multipliers mixing both epilogues within one call. */
START_TEST(gemm_random_equals_formula)
{
    struct tq_rng r = {0xA5A2};
    char what[64];
    for (int t = 0; t < 300; t++) {
        struct gemm_case c;
        case_alloc(&c, (int)tq_int(&r, 1, 20), (int)tq_int(&r, 1, 40),
                   2 * (int)tq_int(&r, 1, tq_int(&r, 0, 3) ? 20 : 400));
        c.per_channel = (int)tq_int(&r, 0, 1);
        const int extreme = tq_int(&r, 0, 4) == 0;
        for (size_t i = 0; i < (size_t)c.mc * c.kp; i++)
            c.a[i] =
                (int16_t)(extreme ? (tq_int(&r, 0, 1) ? 255 : -255) : tq_int(&r, -255, 255));
        for (size_t i = 0; i < (size_t)c.kp * c.nc; i++)
            c.w[i] = (int8_t)(extreme ? (tq_int(&r, 0, 1) ? 127 : -128) : tq_int(&r, -128, 127));
        const int64_t span = span_of(c.kp);
        for (int j = 0; j < c.nc; j++) {
            switch (tq_int(&r, 0, 5)) {
            case 0: c.bias[j] = (int32_t)(INT32_MAX - span + tq_int(&r, -1, 1)); break;
            case 1: c.bias[j] = (int32_t)(INT32_MIN + span + tq_int(&r, -1, 1)); break;
            case 2: c.bias[j] = tq_int(&r, 0, 1) ? INT32_MAX : INT32_MIN; break;
            default: c.bias[j] = (int32_t)tq_int(&r, -1000000, 1000000); break;
            }
        }
        for (int j = 0; j < (c.per_channel ? c.nc : 1); j++)
            pick_mult(&r, &c.mult[j], &c.shift[j]);
        if (!c.per_channel && tq_int(&r, 0, 1)) /* small outputs: the clamp rarely acts */
            c.mult[0] = 1 << 30, c.shift[0] = 31 - (int32_t)tq_int(&r, 0, 8);
        c.zy = (int32_t)tq_int(&r, -128, 127);
        switch (tq_int(&r, 0, 2)) {
        case 0: c.qmin = -128, c.qmax = 127; break;
        case 1: c.qmin = c.zy, c.qmax = 127; break;
        default:
            c.qmin = (int32_t)tq_int(&r, -128, 0), c.qmax = (int32_t)tq_int(&r, 0, 127);
            break;
        }
        snprintf(what, sizeof what, "random case %d", t);
        run_and_check(&c, what);
        case_free(&c);
    }
}
END_TEST

/* ---- max pool: every output mode of q8_max_pool2d__avx2 ---- */

START_TEST(max_pool_modes_equal_reference)
{
    const struct q8_kernels *k = q8_kernels_for_level(KERNELS_LEVEL_AVX2);
    ck_assert_ptr_nonnull(k);
    struct tq_rng r = {0x9001};
    static const int channels[] = {1, 5, 31, 32, 33, 64, 70};
    char what[96];
    for (int t = 0; t < 160; t++) {
        const int mode = t % 4;
        struct q8_unary u;
        u.in_zero_point = (int32_t)tq_int(&r, -128, 127);
        u.out_zero_point = (int32_t)tq_int(&r, -128, 127);
        switch (mode) {
        case 0: /* identity, zx == zy: the bytes only clamped */
            u.multiplier = 1 << 30, u.shift = -1;
            u.out_zero_point = u.in_zero_point;
            break;
        case 1: /* identity, zx != zy: |max - zx + zy| up to 383 */
            u.multiplier = 1 << 30, u.shift = -1;
            u.in_zero_point = tq_int(&r, 0, 1) ? 127 : -128;
            u.out_zero_point = -u.in_zero_point - 1;
            break;
        case 2: /* the fast requantization */
            u.multiplier = (int32_t)tq_int(&r, 1 << 30, INT32_MAX);
            u.shift = (int32_t)tq_int(&r, 1, 31);
            break;
        default: /* the general one: a gain or a negative M */
            u.multiplier = (int32_t)tq_int(&r, 1 << 30, INT32_MAX);
            if (tq_int(&r, 0, 1))
                u.multiplier = -u.multiplier;
            u.shift = (int32_t)tq_int(&r, -3, 0);
            break;
        }
        if (tq_int(&r, 0, 1)) {
            u.qmin = -128, u.qmax = 127;
        } else {
            u.qmin = (int32_t)tq_int(&r, -128, 0), u.qmax = (int32_t)tq_int(&r, 0, 127);
        }
        struct q8_pool2d_shape s;
        memset(&s, 0, sizeof s);
        s.batch = tq_int(&r, 1, 2);
        s.in_h = (int)tq_int(&r, 1, 7);
        s.in_w = (int)tq_int(&r, 1, 7);
        s.c = channels[tq_int(&r, 0, 6)];
        s.kernel_h = (int)tq_int(&r, 1, s.in_h < 3 ? s.in_h : 3); /* at least one output */
        s.kernel_w = (int)tq_int(&r, 1, s.in_w < 3 ? s.in_w : 3);
        s.stride_h = (int)tq_int(&r, 1, 2);
        s.stride_w = (int)tq_int(&r, 1, 2);
        s.pad_top = (int)tq_int(&r, 0, s.kernel_h - 1);
        s.pad_left = (int)tq_int(&r, 0, s.kernel_w - 1);
        s.out_h = (s.in_h + 2 * s.pad_top - s.kernel_h) / s.stride_h + 1;
        s.out_w = (s.in_w + 2 * s.pad_left - s.kernel_w) / s.stride_w + 1;
        const size_t nx = (size_t)s.batch * s.in_h * s.in_w * s.c;
        const size_t ny = (size_t)s.batch * s.out_h * s.out_w * s.c;
        int8_t *x = ts_guarded_alloc(nx, 1), *want = malloc(ny), *got = ts_guarded_alloc(ny, 1);
        ck_assert(want);
        for (size_t i = 0; i < nx; i++) /* often the extremes */
            x[i] = (int8_t)(tq_int(&r, 0, 3)   ? tq_int(&r, -128, 127)
                            : tq_int(&r, 0, 1) ? 127
                                               : -128);
        q8_max_pool2d__ref(&s, &u, x, want);
        memset(got, 0x5a, ny);
        k->max_pool2d(&s, &u, x, got);
        ts_guarded_check(got, "max_pool2d");
        for (size_t i = 0; i < ny; i++) {
            snprintf(what, sizeof what, "mode %d case %d: y[%zu]", mode, t, i);
            ck_assert_msg(got[i] == want[i],
                          "%s = %d, reference %d (M %d, shift %d, zx %d, zy %d)", what, got[i],
                          want[i], u.multiplier, u.shift, u.in_zero_point, u.out_zero_point);
        }
        ts_guarded_free(x), free(want), ts_guarded_free(got);
    }
}
END_TEST

/* ---- quantize: the float form and its fallback ---- */

/* Values a small distance d from the ties k + 1/2 (|k| up to 600, past
 * the float form's 512 limit), d from 0 to well outside the 2^-13 window
 * in which the float form gives way to the double one, one kind per run of
 * 8 so whole vectors take each form; scales of every size, 1 / scale
 * outside [2^-100, 2^100] included. */
START_TEST(quantize_near_ties_equals_reference)
{
    const struct q8_kernels *k = q8_kernels_for_level(KERNELS_LEVEL_AVX2);
    ck_assert_ptr_nonnull(k);
    struct tq_rng r = {0x7E5};
    static const double ds[] = {0, 0x1p-24, 0x1p-16, 0x1p-14, 0x1p-13, 0x1p-12, 0x1p-10, 0.25};
    enum { N = 8 * 64 + 5 };
    float *x = ts_guarded_alloc(N * sizeof *x, sizeof *x); /* misaligned, guarded */
    int8_t *want = malloc(N), *got = ts_guarded_alloc(N, 1);
    ck_assert(want);
    for (int it = 0; it < 400; it++) {
        struct q8_quantize_params p;
        switch (it % 5) {
        case 0: p.scale = ldexpf(1.0f, -(int)tq_int(&r, -4, 12)); break;
        case 1: p.scale = (float)exp(tq_uniform(&r, log(1e-6), log(1e3))); break;
        case 2: p.scale = (float)tq_uniform(&r, 1e-38, 1e-31); break; /* 1 / scale > 2^100 */
        case 3: p.scale = (float)tq_uniform(&r, 2e-45, 1e-39); break; /* subnormal */
        default: p.scale = (float)tq_uniform(&r, 0.001, 0.1); break;
        }
        ck_assert(p.scale > 0);
        p.zero_point = (int32_t)tq_int(&r, -128, 127);
        p.qmin = -128, p.qmax = 127;
        if (it % 3 == 0)
            p.qmin = (int32_t)tq_int(&r, -128, 0), p.qmax = (int32_t)tq_int(&r, 0, 127);
        for (int i = 0; i < N; i += 8) {
            const double d = ds[tq_int(&r, 0, 7)] * (tq_int(&r, 0, 1) ? 1 : -1);
            for (int j = i; j < i + 8 && j < N; j++) {
                const double kk = (double)tq_int(&r, -600, 600) + 0.5;
                x[j] = (float)((kk + d) * p.scale);
            }
        }
        q8_quantize__ref(N, &p, x, want);
        k->quantize(N, &p, x, got);
        ts_guarded_check(got, "quantize");
        for (int i = 0; i < N; i++)
            ck_assert_msg(got[i] == want[i], "x %a scale %a zp %d -> %d, reference %d",
                          (double)x[i], (double)p.scale, p.zero_point, got[i], want[i]);
    }
    ts_guarded_free(x), free(want), ts_guarded_free(got);
}
END_TEST

Suite *suite_q8_gemm_avx2(void); /* called by tests/main.c */
Suite *suite_q8_gemm_avx2(void)
{
    Suite *s = suite_create("q8_gemm_avx2");
    TCase *tc = tcase_create("core");
    bool hardware;
    if (ts_level_missing(KERNELS_LEVEL_AVX2, true, &hardware)) {
        ts_add_level_skip(tc, "q8_gemm_avx2", KERNELS_LEVEL_AVX2, true);
        suite_add_tcase(s, tc);
        return s;
    }
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, gemm_requant_by_hand);
    tcase_add_test(tc, gemm_accumulators_at_int32_limits);
    tcase_add_test(tc, gemm_random_equals_formula);
    tcase_add_test(tc, max_pool_modes_equal_reference);
    tcase_add_test(tc, quantize_near_ties_equals_reference);
    suite_add_tcase(s, tc);
    return s;
}

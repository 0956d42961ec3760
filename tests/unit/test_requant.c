/* src/kernels/requant: multipliers, the single-rounding requantization
 * against exact rational arithmetic (__int128), float quantization. */
#include <check.h>
#include <math.h>
#include <stdint.h>

#include "kernels/q8_testing.h"
#include "kernels/requant.h"

/* round(num / 2^r) by the documented rule (ties away from zero), from the
 * quotient and remainder of the exact 128-bit division. */
static __int128 exact_round_div(__int128 num, __int128 den)
{
    const int neg = num < 0;
    const __int128 a = neg ? -num : num;
    __int128 q = a / den;
    const __int128 rem = a % den;
    if (2 * rem >= den)
        q += 1;
    return neg ? -q : q;
}

static int32_t sat32(__int128 v)
{
    return v < INT32_MIN ? INT32_MIN : v > INT32_MAX ? INT32_MAX : (int32_t)v;
}

static int32_t exact_requantize(int32_t acc, int32_t m, int32_t shift)
{
    return sat32(exact_round_div((__int128)acc * m, (__int128)1 << (31 + shift)));
}

static int32_t exact_requantize_div(int64_t sum, int32_t m, int32_t shift, int32_t n)
{
    return sat32(exact_round_div((__int128)sum * m, ((__int128)n) << (31 + shift)));
}

static int32_t random_acc(struct tq_rng *r)
{
    switch (tq_int(r, 0, 3)) {
    case 0: return (int32_t)tq_int(r, -300, 300);
    case 1: return (int32_t)tq_int(r, -100000, 100000);
    case 2: return (int32_t)tq_int(r, INT32_MIN, INT32_MAX);
    default: return tq_int(r, 0, 1) ? INT32_MAX - (int32_t)tq_int(r, 0, 3)
                                    : INT32_MIN + (int32_t)tq_int(r, 0, 3);
    }
}

static int32_t random_multiplier(struct tq_rng *r)
{
    int32_t m = (int32_t)tq_int(r, INT32_C(1) << 30, INT32_MAX);
    if (tq_int(r, 0, 9) == 0)
        m = tq_int(r, 0, 1) ? INT32_C(1) << 30 : INT32_MAX;
    return tq_int(r, 0, 4) == 0 ? -m : m;
}

START_TEST(random_requantize_equals_exact_rational)
{
    struct tq_rng r = {12345};
    for (int i = 0; i < 200000; i++) {
        const int32_t acc = random_acc(&r);
        const int32_t m = random_multiplier(&r);
        const int32_t shift = (int32_t)tq_int(&r, Q8_SHIFT_MIN, Q8_SHIFT_MAX);
        const int32_t want = exact_requantize(acc, m, shift);
        const int32_t got = q8_requantize(acc, m, shift);
        ck_assert_msg(got == want, "acc %d M %d shift %d: got %d want %d", acc, m, shift, got,
                      want);
    }
}
END_TEST

START_TEST(random_requantize_div_equals_exact_rational)
{
    struct tq_rng r = {777};
    for (int i = 0; i < 200000; i++) {
        const int32_t n =
            (int32_t)(tq_int(&r, 0, 1) ? tq_int(&r, 1, 50) : tq_int(&r, 1, 1 << 24));
        const int64_t lim = INT64_C(1) << 32;
        const int64_t avg_lim = 255 * (int64_t)n;
        const int64_t sum =
            tq_int(&r, 0, 2) == 0 ? tq_int(&r, -lim, lim) : tq_int(&r, -avg_lim, avg_lim);
        const int32_t m = random_multiplier(&r);
        const int32_t shift = (int32_t)tq_int(&r, Q8_SHIFT_MIN, Q8_SHIFT_MAX);
        const int32_t want = exact_requantize_div(sum, m, shift, n);
        const int32_t got = q8_requantize_div(sum, m, shift, n);
        ck_assert_msg(got == want, "sum %lld M %d shift %d n %d: got %d want %d", (long long)sum,
                      m, shift, n, got, want);
    }
}
END_TEST

START_TEST(ties_round_half_away_from_zero)
{
    const int32_t half = INT32_C(1) << 30; /* with shift 0: m = 1/2 */
    ck_assert_int_eq(q8_requantize(1, half, 0), 1);   /*  0.5 ->  1 */
    ck_assert_int_eq(q8_requantize(-1, half, 0), -1); /* -0.5 -> -1 */
    ck_assert_int_eq(q8_requantize(3, half, 0), 2);   /*  1.5 ->  2 */
    ck_assert_int_eq(q8_requantize(-3, half, 0), -2); /* -1.5 -> -2 */
    ck_assert_int_eq(q8_requantize(5, half, 0), 3);   /*  2.5 ->  3 (not even) */
    ck_assert_int_eq(q8_requantize(-5, half, 0), -3);
    /* just below a tie: 0.5 - 2^-31 -> 0 */
    ck_assert_int_eq(q8_requantize(1, half - 1, 0), 0);
    ck_assert_int_eq(q8_requantize(-1, half - 1, 0), 0);
    /* negative multiplier, same rule */
    ck_assert_int_eq(q8_requantize(3, -half, 0), -2);
    ck_assert_int_eq(q8_requantize(-3, -half, 0), 2);
    /* division by n: 5 / 2 = 2.5 -> 3, -5 / 2 -> -3, 7 / 3 -> 2, -8 / 3 -> -3 */
    ck_assert_int_eq(q8_requantize_div(5, half, -1, 2), 3);
    ck_assert_int_eq(q8_requantize_div(-5, half, -1, 2), -3);
    ck_assert_int_eq(q8_requantize_div(7, half, -1, 3), 2);
    ck_assert_int_eq(q8_requantize_div(-8, half, -1, 3), -3);
}
END_TEST

START_TEST(int32_extreme_accumulators)
{
    const int32_t one_m = INT32_C(1) << 30; /* m = 1 with shift -1 */
    ck_assert_int_eq(q8_requantize(INT32_MAX, one_m, -1), INT32_MAX);
    ck_assert_int_eq(q8_requantize(INT32_MIN, one_m, -1), INT32_MIN);
    /* largest |m| (< 2^30): saturates both ways */
    ck_assert_int_eq(q8_requantize(INT32_MAX, INT32_MAX, Q8_SHIFT_MIN), INT32_MAX);
    ck_assert_int_eq(q8_requantize(INT32_MIN, INT32_MAX, Q8_SHIFT_MIN), INT32_MIN);
    ck_assert_int_eq(q8_requantize(INT32_MIN, -INT32_MAX, Q8_SHIFT_MIN), INT32_MAX);
    ck_assert_int_eq(q8_requantize(2, INT32_MAX, Q8_SHIFT_MIN), INT32_MAX); /* exactly, r = 1 */
    /* smallest m = 2^-32: INT32_MIN * 2^-32 = -1/2 is a tie -> -1 */
    ck_assert_int_eq(q8_requantize(INT32_MIN, one_m, Q8_SHIFT_MAX), -1);
    ck_assert_int_eq(q8_requantize(INT32_MAX, one_m, Q8_SHIFT_MAX), 0);
    ck_assert_int_eq(q8_requantize(INT32_MAX, INT32_MAX, Q8_SHIFT_MAX), 1);
    ck_assert_int_eq(q8_requantize(0, INT32_MAX, Q8_SHIFT_MIN), 0);
}
END_TEST

START_TEST(multiplier_powers_of_two_are_exact)
{
    for (int k = -32; k < 30; k++) {
        int32_t m = 0, s = 0;
        ck_assert(q8_multiplier_from_double(ldexp(1.0, k), &m, &s));
        ck_assert_int_eq(m, INT32_C(1) << 30);
        ck_assert_int_eq(s, -(k + 1));
        ck_assert(q8_multiplier_to_double(m, s) == ldexp(1.0, k));
    }
    int32_t m = 0, s = 0;
    ck_assert(q8_multiplier_from_double(1.0, &m, &s));
    ck_assert_int_eq(m, INT32_C(1) << 30);
    ck_assert_int_eq(s, -1);
    for (int32_t acc = -1000; acc <= 1000; acc += 7)
        ck_assert_int_eq(q8_requantize(acc, m, s), acc); /* identity */
    ck_assert(q8_multiplier_from_double(-0.25, &m, &s));
    ck_assert_int_eq(m, -(INT32_C(1) << 30));
    ck_assert_int_eq(s, 1);
}
END_TEST

START_TEST(multiplier_range_limits)
{
    int32_t m = 99, s = 99;
    ck_assert(q8_multiplier_from_double(0.0, &m, &s));
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(s, 0);
    /* below 2^-32: the zero multiplier */
    m = s = 99;
    ck_assert(q8_multiplier_from_double(ldexp(1.0, -33), &m, &s));
    ck_assert_int_eq(m, 0);
    ck_assert_int_eq(s, 0);
    ck_assert(q8_multiplier_from_double(1e-30, &m, &s));
    ck_assert_int_eq(m, 0);
    /* just below 2^-32 rounds up to exactly 2^-32 */
    ck_assert(q8_multiplier_from_double(ldexp(1.0 - ldexp(1.0, -40), -32), &m, &s));
    ck_assert_int_eq(m, INT32_C(1) << 30);
    ck_assert_int_eq(s, 31);
    /* large: 1.5 * 2^29 fits (shift -30); 2^30 and just below it (rounding up) do not */
    ck_assert(q8_multiplier_from_double(1.5 * ldexp(1.0, 29), &m, &s));
    ck_assert_int_eq(m, 3 << 29);
    ck_assert_int_eq(s, -30);
    ck_assert(!q8_multiplier_from_double(ldexp(1.0, 30), &m, &s));
    ck_assert(!q8_multiplier_from_double(ldexp(1.0 - ldexp(1.0, -40), 30), &m, &s));
    ck_assert(!q8_multiplier_from_double(1e300, &m, &s));
    ck_assert(!q8_multiplier_from_double(NAN, &m, &s));
    ck_assert(!q8_multiplier_from_double(INFINITY, &m, &s));
    ck_assert(!q8_multiplier_from_double(-INFINITY, &m, &s));
}
END_TEST

START_TEST(random_multiplier_relative_error)
{
    struct tq_rng r = {99};
    for (int i = 0; i < 100000; i++) {
        const double m = exp2(tq_uniform(&r, -31.9, 29.9)) * (tq_int(&r, 0, 5) ? 1 : -1);
        int32_t mm = 0, s = 0;
        ck_assert(q8_multiplier_from_double(m, &mm, &s));
        ck_assert(s >= Q8_SHIFT_MIN && s <= Q8_SHIFT_MAX);
        const int32_t am = mm < 0 ? -mm : mm;
        ck_assert(am >= (INT32_C(1) << 30));
        ck_assert((mm < 0) == (m < 0));
        /* |M - f 2^31| <= 1/2 with M >= 2^30: relative error <= 2^-31 */
        const double back = q8_multiplier_to_double(mm, s);
        ck_assert_msg(fabs(back - m) <= ldexp(fabs(m), -31), "m %.17g -> %.17g", m, back);
    }
}
END_TEST

START_TEST(requant_clamp_adds_zero_point_then_clamps)
{
    const int32_t half = INT32_C(1) << 30;
    ck_assert_int_eq(q8_requant_clamp(5, half, 0, 10, -128, 127), 13);
    ck_assert_int_eq(q8_requant_clamp(-5, half, 0, 10, -128, 127), 7);
    ck_assert_int_eq(q8_requant_clamp(1000, half, 0, 10, -128, 127), 127);
    ck_assert_int_eq(q8_requant_clamp(-1000, half, 0, 10, -128, 127), -128);
    ck_assert_int_eq(q8_requant_clamp(-5, half, 0, 10, 10, 20), 10); /* relu-like */
    ck_assert_int_eq(q8_requant_clamp(INT32_MAX, INT32_MAX, Q8_SHIFT_MIN, 127, -128, 127), 127);
    ck_assert_int_eq(q8_requant_clamp(INT32_MIN, INT32_MAX, Q8_SHIFT_MIN, -128, -128, 127),
                     -128);
    ck_assert_int_eq(q8_sat_i8(300), 127);
    ck_assert_int_eq(q8_sat_i8(-300), -128);
    ck_assert_int_eq(q8_sat_u8(-1), 0);
    ck_assert_int_eq(q8_sat_u8(256), 255);
}
END_TEST

START_TEST(quantize_float_values)
{
    ck_assert_int_eq(q8_quantize_i8(2.5f, 1.0f, 0), 3);
    ck_assert_int_eq(q8_quantize_i8(-2.5f, 1.0f, 0), -3);
    ck_assert_int_eq(q8_quantize_i8(0.25f, 0.5f, -3), -2);   /* 0.5 -> 1, + -3 */
    ck_assert_int_eq(q8_quantize_i8(-0.25f, 0.5f, -3), -4);  /* -0.5 -> -1 */
    ck_assert_int_eq(q8_quantize_i8(1000.0f, 0.1f, 0), 127);
    ck_assert_int_eq(q8_quantize_i8(-1000.0f, 0.1f, 0), -128);
    ck_assert_int_eq(q8_quantize_i8(NAN, 0.1f, 7), 7);
    ck_assert_int_eq(q8_quantize_i8(INFINITY, 0.1f, 7), 127);
    ck_assert_int_eq(q8_quantize_i8(-INFINITY, 0.1f, 7), -128);
    ck_assert_int_eq(q8_quantize_u8(-1.0f, 0.1f, 0), 0);
    ck_assert_int_eq(q8_quantize_u8(1.0f, 0.1f, 128), 138);
    ck_assert_int_eq(q8_quantize_u8(100.0f, 0.1f, 128), 255);
    ck_assert(q8_dequantize_value(-128, 0.5f, -100) == -14.0f);
    ck_assert(q8_dequantize_value(255, 0.25f, 0) == 63.75f);
    struct tq_rng r = {4242};
    for (int i = 0; i < 100000; i++) {
        const float s = (float)exp2(tq_uniform(&r, -12, 2));
        const int32_t z = (int32_t)tq_int(&r, -128, 127);
        const float x = (float)tq_uniform(&r, -200 * s, 200 * s);
        const int32_t q = q8_quantize_i8(x, s, z);
        const double ideal = z + (double)x / (double)s;
        if (ideal > -128 && ideal < 127)
            ck_assert_msg(fabs(q - ideal) <= 0.5, "x %g s %g z %d: q %d", (double)x, (double)s,
                          z, q);
        else
            ck_assert_int_eq(q, ideal <= -128 ? -128 : 127);
    }
}
END_TEST

Suite *suite_requant(void); /* called by tests/main.c */
Suite *suite_requant(void)
{
    Suite *s = suite_create("requant");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, random_requantize_equals_exact_rational);
    tcase_add_test(tc, random_requantize_div_equals_exact_rational);
    tcase_add_test(tc, ties_round_half_away_from_zero);
    tcase_add_test(tc, int32_extreme_accumulators);
    tcase_add_test(tc, multiplier_powers_of_two_are_exact);
    tcase_add_test(tc, multiplier_range_limits);
    tcase_add_test(tc, random_multiplier_relative_error);
    tcase_add_test(tc, requant_clamp_adds_zero_point_then_clamps);
    tcase_add_test(tc, quantize_float_values);
    suite_add_tcase(s, tc);
    return s;
}

/* src/base/dtype.c: names, sizes, f16/bf16 conversions against an
 * independent nearest-value search, and shape element counts. */
#include <check.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "quanta/dtype.h"

static float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Value of a finite, non-negative half by its definition. */
static double half_value(uint16_t h)
{
    int e = (h >> 10) & 0x1f;
    int m = h & 0x3ff;
    return e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
}

/* Reference f32 -> f16 for f >= 0: nearest of the finite halves, ties to the
 * even code; at or above 65520 (halfway to 2^16) infinity. */
static uint16_t half_reference(double f)
{
    if (f >= 65520.0)
        return 0x7c00;
    uint16_t lo = 0, hi = 0x7bff;
    while (lo < hi) { /* largest code with value <= f */
        uint16_t mid = (uint16_t)((lo + hi + 1) / 2);
        if (half_value(mid) <= f)
            lo = mid;
        else
            hi = (uint16_t)(mid - 1);
    }
    if (lo == 0x7bff)
        return lo;
    double below = f - half_value(lo), above = half_value((uint16_t)(lo + 1)) - f;
    if (below < above)
        return lo;
    if (above < below)
        return (uint16_t)(lo + 1);
    return (lo & 1) ? (uint16_t)(lo + 1) : lo;
}

START_TEST(names_and_sizes)
{
    ck_assert_uint_eq(quanta_dtype_size(QUANTA_F32), 4);
    ck_assert_uint_eq(quanta_dtype_size(QUANTA_BF16), 2);
    ck_assert_uint_eq(quanta_dtype_size(QUANTA_I64), 8);
    ck_assert_uint_eq(quanta_dtype_size(QUANTA_BOOL), 1);
    ck_assert_uint_eq(quanta_dtype_size(QUANTA_DTYPE_INVALID), 0);
    ck_assert_uint_eq(quanta_dtype_size((enum quanta_dtype)99), 0);
    ck_assert_str_eq(quanta_dtype_name(QUANTA_BF16), "BF16");
    ck_assert_str_eq(quanta_dtype_name((enum quanta_dtype)99), "invalid");
    for (int d = 1; d < QUANTA_DTYPE_COUNT; d++)
        ck_assert_int_eq(quanta_dtype_parse(quanta_dtype_name((enum quanta_dtype)d)), d);
    ck_assert_int_eq(quanta_dtype_parse("f32"), QUANTA_DTYPE_INVALID);
    ck_assert_int_eq(quanta_dtype_parse("F32 "), QUANTA_DTYPE_INVALID);
    ck_assert(quanta_dtype_is_float(QUANTA_F16));
    ck_assert(!quanta_dtype_is_float(QUANTA_I8));
}
END_TEST

START_TEST(f16_known_values)
{
    ck_assert_uint_eq(quanta_f32_to_f16(1.0f), 0x3c00);
    ck_assert_uint_eq(quanta_f32_to_f16(-2.0f), 0xc000);
    ck_assert_uint_eq(quanta_f32_to_f16(0.0f), 0x0000);
    ck_assert_uint_eq(quanta_f32_to_f16(-0.0f), 0x8000);
    ck_assert_uint_eq(quanta_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(quanta_f32_to_f16(65519.99f), 0x7bff);
    ck_assert_uint_eq(quanta_f32_to_f16(65520.0f), 0x7c00); /* tie -> even = inf */
    ck_assert_uint_eq(quanta_f32_to_f16(1e10f), 0x7c00);
    ck_assert_uint_eq(quanta_f32_to_f16(-INFINITY), 0xfc00);
    /* ties to even among normals: 1 + 2^-11 is halfway between 0x3c00 and 0x3c01 */
    ck_assert_uint_eq(quanta_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
    ck_assert_uint_eq(quanta_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    ck_assert_uint_eq(quanta_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    /* subnormals: step 2^-24 */
    ck_assert_uint_eq(quanta_f32_to_f16(0x1p-24f), 0x0001);
    ck_assert_uint_eq(quanta_f32_to_f16(0x1p-25f), 0x0000);        /* tie -> 0 */
    ck_assert_uint_eq(quanta_f32_to_f16(1.5f * 0x1p-24f), 0x0002); /* tie -> 2 */
    ck_assert_uint_eq(quanta_f32_to_f16(0x1p-26f), 0x0000);
    ck_assert_uint_eq(quanta_f32_to_f16(0x1p-14f), 0x0400);        /* smallest normal */
    ck_assert_uint_eq(quanta_f32_to_f16(0x1p-14f - 0x1p-25f), 0x0400); /* tie -> even 0x400 */
    ck_assert_uint_eq(quanta_f32_to_f16(-0x1p-24f), 0x8001);
    /* NaN stays NaN */
    uint16_t h = quanta_f32_to_f16(NAN);
    ck_assert_uint_eq(h & 0x7c00, 0x7c00);
    ck_assert_uint_ne(h & 0x03ff, 0);
    ck_assert(isnan(quanta_f16_to_f32(0x7e00)));
    ck_assert(isnan(quanta_f16_to_f32(0xfc01)));
    ck_assert(isinf(quanta_f16_to_f32(0x7c00)));
    ck_assert_float_eq(quanta_f16_to_f32(0x0001), 0x1p-24f);
    ck_assert_float_eq(quanta_f16_to_f32(0x3555), 0.333251953125f);
}
END_TEST

START_TEST(f16_round_trip_all_codes)
{
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = quanta_f16_to_f32((uint16_t)h);
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) {
            ck_assert(isnan(f));
            ck_assert(isnan(quanta_f16_to_f32(quanta_f32_to_f16(f))));
            continue;
        }
        if ((h & 0x7fff) < 0x7c00) /* finite: value by definition */
            ck_assert(fabs((double)f) == half_value((uint16_t)(h & 0x7fff)));
        ck_assert_uint_eq(quanta_f32_to_f16(f), h);
    }
}
END_TEST

START_TEST(f16_matches_reference)
{
    /* f32 bit patterns spread over [0, 2^17): every exponent, many mantissas,
     * including the exact halfway points between halves */
    uint32_t x = 7;
    for (int i = 0; i < 200000; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t u = x % 0x48000000u; /* below 2^17 */
        if (i % 4 == 0)
            u &= ~0xfffu; /* land on halves and midpoints often */
        float f = bits_to_float(u);
        uint16_t want = half_reference((double)f);
        ck_assert_msg(quanta_f32_to_f16(f) == want, "f=%a got 0x%04x want 0x%04x", (double)f,
                      quanta_f32_to_f16(f), want);
        ck_assert_uint_eq(quanta_f32_to_f16(-f), want | 0x8000u);
    }
}
END_TEST

START_TEST(bf16_conversions)
{
    ck_assert_uint_eq(quanta_f32_to_bf16(1.0f), 0x3f80);
    ck_assert_uint_eq(quanta_f32_to_bf16(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between 0x3f80 and 0x3f81: even */
    ck_assert_uint_eq(quanta_f32_to_bf16(1.0f + 0x1p-8f), 0x3f80);
    ck_assert_uint_eq(quanta_f32_to_bf16(1.0f + 3 * 0x1p-8f), 0x3f82);
    ck_assert_uint_eq(quanta_f32_to_bf16(1.0f + 0x1p-8f + 0x1p-20f), 0x3f81);
    ck_assert_uint_eq(quanta_f32_to_bf16(INFINITY), 0x7f80);
    ck_assert_uint_eq(quanta_f32_to_bf16(FLT_MAX), 0x7f80); /* rounds past the largest */
    ck_assert_uint_eq(quanta_f32_to_bf16(bits_to_float(0x00010000u)), 0x0001); /* subnormal */
    ck_assert_uint_eq(quanta_f32_to_bf16(bits_to_float(0x00008000u)), 0x0000); /* tie -> 0 */
    ck_assert_uint_eq(quanta_f32_to_bf16(bits_to_float(0x00018000u)), 0x0002); /* tie -> 2 */
    uint16_t b = quanta_f32_to_bf16(bits_to_float(0x7f800001u)); /* NaN with low bits only */
    ck_assert(isnan(quanta_bf16_to_f32(b)));
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = quanta_bf16_to_f32((uint16_t)h);
        ck_assert(memcmp(&(uint32_t){h << 16}, &f, 4) == 0);
        if (isnan(f))
            ck_assert(isnan(quanta_bf16_to_f32(quanta_f32_to_bf16(f))));
        else
            ck_assert_uint_eq(quanta_f32_to_bf16(f), h);
    }
    /* against the exact midpoint rule on random floats */
    uint32_t x = 3;
    for (int i = 0; i < 100000; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t u = x & 0x7f7fffffu; /* finite, below the overflow region */
        uint32_t lo = u & 0xffff0000u, rest = u & 0xffffu;
        uint32_t want = lo >> 16;
        if (rest > 0x8000u || (rest == 0x8000u && (want & 1)))
            want++;
        ck_assert_uint_eq(quanta_f32_to_bf16(bits_to_float(u)), want);
    }
}
END_TEST

START_TEST(convert_to_f32)
{
    const int8_t i8[3] = {-128, 0, 127};
    float out[3];
    quanta_convert_to_f32(QUANTA_I8, i8, out, 3);
    ck_assert_float_eq(out[0], -128.0f);
    ck_assert_float_eq(out[2], 127.0f);
    const uint16_t h[2] = {0x3c00, 0xc000};
    quanta_convert_to_f32(QUANTA_F16, h, out, 2);
    ck_assert_float_eq(out[1], -2.0f);
    const double d[2] = {0.5, -1e300};
    quanta_convert_to_f32(QUANTA_F64, d, out, 2);
    ck_assert_float_eq(out[0], 0.5f);
    ck_assert(isinf(out[1]) && out[1] < 0);
    const unsigned char bools[2] = {0, 7};
    quanta_convert_to_f32(QUANTA_BOOL, bools, out, 2);
    ck_assert_float_eq(out[1], 1.0f);
    const int64_t big[1] = {(int64_t)1 << 40};
    quanta_convert_to_f32(QUANTA_I64, big, out, 1);
    ck_assert_float_eq(out[0], 0x1p40f);
}
END_TEST

/* I4: two's-complement nibbles, low first, rows on whole bytes. */
START_TEST(i4_packing)
{
    ck_assert_int_eq(quanta_dtype_parse("I4"), QUANTA_I4);
    struct quanta_shape odd = {.rank = 2, .dims = {3, 5}}, vec = {.rank = 1, .dims = {4}};
    struct quanta_shape scalar = {.rank = 0}, empty = {.rank = 2, .dims = {2, 0}};
    struct quanta_shape bad = {.rank = 2, .dims = {-1, 4}};
    ck_assert_uint_eq(quanta_dtype_bytes(QUANTA_I4, &odd), 9);
    ck_assert_uint_eq(quanta_dtype_bytes(QUANTA_I4, &vec), 2);
    ck_assert_uint_eq(quanta_dtype_bytes(QUANTA_I4, &scalar), 1);
    ck_assert_uint_eq(quanta_dtype_bytes(QUANTA_I4, &empty), 0);
    ck_assert_uint_eq(quanta_dtype_bytes(QUANTA_I4, &bad), UINT64_MAX);
    ck_assert_uint_eq(quanta_dtype_bytes(QUANTA_I8, &odd), 15);
    const unsigned char row[3] = {0x7f, 0x08, 0x0f}; /* 15 7 | 8 0 | 15 0 */
    static const int want[6] = {-1, 7, -8, 0, -1, 0};
    float f[5];
    quanta_convert_to_f32(QUANTA_I4, row, f, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(quanta_i4_get(row, i), want[i]);
        ck_assert_float_eq(f[i], (float)want[i]);
    }
}
END_TEST

START_TEST(shape_numel)
{
    struct quanta_shape s = {0, {0}};
    ck_assert_int_eq(quanta_shape_numel(&s), 1); /* scalar */
    s = (struct quanta_shape){3, {2, 3, 4}};
    ck_assert_int_eq(quanta_shape_numel(&s), 24);
    s = (struct quanta_shape){2, {INT64_C(1) << 31, INT64_C(1) << 31}};
    ck_assert_int_eq(quanta_shape_numel(&s), INT64_C(1) << 62);
    s = (struct quanta_shape){2, {INT64_C(1) << 32, INT64_C(1) << 32}};
    ck_assert_int_eq(quanta_shape_numel(&s), -1); /* 2^64 */
    s = (struct quanta_shape){2, {INT64_C(1) << 62, 2}};
    ck_assert_int_eq(quanta_shape_numel(&s), -1); /* 2^63 */
    s = (struct quanta_shape){2, {INT64_MAX, 1}};
    ck_assert_int_eq(quanta_shape_numel(&s), INT64_MAX);
    s = (struct quanta_shape){3, {INT64_MAX, INT64_MAX, 0}};
    ck_assert_int_eq(quanta_shape_numel(&s), -1); /* overflow before the 0 */
    s = (struct quanta_shape){2, {0, INT64_MAX}};
    ck_assert_int_eq(quanta_shape_numel(&s), 0);
    s = (struct quanta_shape){2, {-1, 28}};
    ck_assert_int_eq(quanta_shape_numel(&s), -1);
    char buf[64];
    s = (struct quanta_shape){4, {1, 28, 28, 1}};
    ck_assert_str_eq(quanta_shape_format(&s, buf, sizeof buf), "[1, 28, 28, 1]");
    s = (struct quanta_shape){0, {0}};
    ck_assert_str_eq(quanta_shape_format(&s, buf, sizeof buf), "[]");
    struct quanta_shape a = {2, {2, 3}}, b = {2, {2, 3}}, c = {2, {3, 2}};
    ck_assert(quanta_shape_equal(&a, &b));
    ck_assert(!quanta_shape_equal(&a, &c));
}
END_TEST

Suite *suite_dtype(void); /* called by tests/main.c */
Suite *suite_dtype(void)
{
    Suite *s = suite_create("dtype");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, names_and_sizes);
    tcase_add_test(tc, f16_known_values);
    tcase_add_test(tc, f16_round_trip_all_codes);
    tcase_add_test(tc, f16_matches_reference);
    tcase_add_test(tc, bf16_conversions);
    tcase_add_test(tc, convert_to_f32);
    tcase_add_test(tc, shape_numel);
    tcase_add_test(tc, i4_packing);
    suite_add_tcase(s, tc);
    return s;
}

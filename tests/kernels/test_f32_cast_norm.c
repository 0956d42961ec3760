/* f32 cast (rounding to float16, truncation, range errors) and
 * layer_norm / instance_norm on hand cases, at every kernel level. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include "f32_test_util.h"
#include "quanta/dtype.h"

START_TEST(test_cast_f16_rounds_to_nearest_even)
{
    /* 2049 lies halfway between the float16 neighbours 2048 and 2050: ties
     * to even give 2048; 2051 (halfway to 2052) gives 2052; 1 + 2^-11 is the
     * halfway point above 1 (1 is even); 65520 rounds up past 65504 to inf */
    const float x[6] = {2049.0f, 2051.0f, 1.0f + 0x1p-11f, 1.0f + 0x1.8p-11f, 65520.0f, -0.1f};
    const double want[6] = {2048, 2052, 1, 1.0 + 0x1p-10, INFINITY, -0.0999755859375};
    FT_FOR_EACH_LEVEL(k) {
        float y[6];
        struct f32_cast_params p = {.to = QUANTA_F16};
        ck_assert_uint_eq(k->cast(&p, 6, x, y), 6);
        for (int i = 0; i < 6; i++)
            ck_assert_msg(y[i] == (float)want[i], "%s: element %d: %.9g, want %.9g", k->level,
                          i, y[i], want[i]);
    }
}
END_TEST

START_TEST(test_cast_integers_truncate_and_refuse_out_of_range)
{
    const float x[5] = {-0.5f, 2.9f, -128.9f, 127.9f, 255.5f};
    FT_FOR_EACH_LEVEL(k) {
        float y[5];
        struct f32_cast_params p = {.to = QUANTA_I8};
        /* 255.5 truncates to 255, outside [-128, 127]: index 4 */
        ck_assert_uint_eq(k->cast(&p, 5, x, y), 4);
        ck_assert(y[0] == 0.0f && !signbit(y[0])); /* the integer 0, not -0 */
        ck_assert(y[1] == 2.0f && y[2] == -128.0f && y[3] == 127.0f);
        p.to = QUANTA_U8;
        ck_assert_uint_eq(k->cast(&p, 5, x, y), 2); /* -128.9 */
        p.to = QUANTA_I16;
        ck_assert_uint_eq(k->cast(&p, 5, x, y), 5);
        ck_assert(y[4] == 255.0f);
        const float nan[1] = {NAN};
        ck_assert_uint_eq(k->cast(&p, 1, nan, y), 0);
        p.to = QUANTA_BOOL;
        ck_assert_uint_eq(k->cast(&p, 1, nan, y), 1);
        ck_assert(y[0] == 1.0f);
    }
}
END_TEST

START_TEST(test_layer_norm_hand)
{
    /* rows {1, 2, 3} and {4, 4, 4}: mean 2, var 2/3; mean 4, var 0 */
    const float x[6] = {1, 2, 3, 4, 4, 4};
    const float scale[3] = {1, 2, 3}, bias[3] = {0.5f, 0, -1};
    double inv = 1.0 / sqrt(2.0 / 3.0 + 0.25);
    const double want[6] = {-inv + 0.5, 0, 3 * inv - 1, 0.5, 0, -1};
    FT_FOR_EACH_LEVEL(k) {
        float y[6];
        struct f32_layer_norm_params p = {.rows = 2, .cols = 3, .epsilon = 0.25f};
        k->layer_norm(&p, x, scale, bias, y);
        ft_expect_near(y, want, 6, 1e-6, 1e-6, k->level);
        k->layer_norm(&p, x, scale, NULL, y);
        const double nob[6] = {-inv, 0, 3 * inv, 0, 0, 0};
        ft_expect_near(y, nob, 6, 1e-6, 1e-6, k->level);
    }
}
END_TEST

START_TEST(test_instance_norm_hand)
{
    /* x [1, 2 positions, 2 channels]: channel 0 {1, 3} (var 1), channel 1 {5, 5}
     * (var 0: the epsilon keeps it finite) */
    const float x[4] = {1, 5, 3, 5};
    const float scale[2] = {2, 1}, bias[2] = {0, 7};
    const double want[4] = {-2, 7, 2, 7};
    FT_FOR_EACH_LEVEL(k) {
        float y[4];
        struct f32_instance_norm_params p = {.n = 1, .spatial = 2, .channels = 2,
                                             .epsilon = 1e-6f};
        k->instance_norm(&p, x, scale, bias, y);
        ft_expect_near(y, want, 4, 1e-6, 1e-6, k->level);
    }
}
END_TEST

Suite *suite_f32_cast_norm(void);
Suite *suite_f32_cast_norm(void)
{
    Suite *s = suite_create("f32_cast_norm");
    TCase *tc = tcase_create("cast_norm");
    tcase_add_test(tc, test_cast_f16_rounds_to_nearest_even);
    tcase_add_test(tc, test_cast_integers_truncate_and_refuse_out_of_range);
    tcase_add_test(tc, test_layer_norm_hand);
    tcase_add_test(tc, test_instance_norm_hand);
    suite_add_tcase(s, tc);
    return s;
}

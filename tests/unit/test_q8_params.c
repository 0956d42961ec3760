/* src/runtime/q8_params: validation messages, U8 offset, activation bounds,
 * per-channel multipliers. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "kernels/q8_testing.h"
#include "runtime/q8_params.h"
#include "kernels/requant.h"

START_TEST(tensor_params_validate)
{
    struct graph_quant q;
    struct q8_tensor t;
    struct quanta_error err = {0};
    tq_set(&q, QUANTA_U8, 0.5f, 200);
    ck_assert(q8_tensor_params(&q, "n", "input", &t, &err) == QUANTA_OK);
    ck_assert_int_eq(t.zero_point, 72);
    tq_set(&q, QUANTA_I8, 0.5f, 128);
    ck_assert(q8_tensor_params(&q, "conv1", "input", &t, &err) == QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message,
                     "node 'conv1': input zero point 128 is outside [-128, 127] of I8");
    tq_set(&q, QUANTA_U8, 0.5f, -1);
    ck_assert(q8_tensor_params(&q, "c", "output", &t, &err) == QUANTA_ERR_INPUT);
    tq_set(&q, QUANTA_I8, 0.0f, 0);
    ck_assert(q8_tensor_params(&q, "c", "output", &t, &err) == QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message, "node 'c': output scale 0 is not a positive finite number");
    tq_set(&q, QUANTA_I8, NAN, 0);
    ck_assert(q8_tensor_params(&q, "c", "output", &t, &err) == QUANTA_ERR_INPUT);
    tq_set(&q, QUANTA_I32, 1.0f, 0);
    ck_assert(q8_tensor_params(&q, "c", "input", &t, &err) == QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message, "node 'c': input is I32 but an int8 kernel needs I8 or U8");
    q.dtype = QUANTA_DTYPE_INVALID;
    ck_assert(q8_tensor_params(&q, "c", "input", &t, &err) == QUANTA_ERR_INPUT);
    const float sc[2] = {1, 2};
    const int32_t zp[2] = {0, 0};
    tq_set_channels(&q, QUANTA_I8, 2, sc, zp);
    ck_assert(q8_tensor_params(&q, "c", "input", &t, &err) == QUANTA_ERR_INPUT);
}
END_TEST

START_TEST(activation_bounds)
{
    const struct q8_tensor t = {0.05f, -100};
    int32_t lo, hi;
    q8_activation_bounds(GRAPH_ACT_NONE, &t, &lo, &hi);
    ck_assert(lo == -128 && hi == 127);
    q8_activation_bounds(GRAPH_ACT_RELU, &t, &lo, &hi);
    ck_assert(lo == -100 && hi == 127);
    q8_activation_bounds(GRAPH_ACT_RELU6, &t, &lo, &hi);
    ck_assert(lo == -100 && hi == 20);
    const struct q8_tensor wide = {0.1f, 90}; /* 90 + 60 > 127 */
    q8_activation_bounds(GRAPH_ACT_RELU6, &wide, &lo, &hi);
    ck_assert(lo == 90 && hi == 127);
    const struct q8_tensor odd = {0.08f, 0}; /* 6 / 0.08 = 75 (74.99999... in float scale) */
    q8_activation_bounds(GRAPH_ACT_RELU6, &odd, &lo, &hi);
    ck_assert_int_eq(hi, (int32_t)round(6.0 / (double)0.08f));
}
END_TEST

START_TEST(conv_prepare_per_channel)
{
    struct graph_quant qx, qw, qb, qy;
    const float sw[3] = {0.5f, 0.25f, 0.125f};
    const int32_t zw[3] = {0, 0, 0};
    const float sb[3] = {0.5f * 0.2f, 0.25f * 0.2f, 0.125f * 0.2f};
    tq_set(&qx, QUANTA_U8, 0.2f, 3);
    tq_set_channels(&qw, QUANTA_I8, 3, sw, zw);
    tq_set_channels(&qb, QUANTA_I32, 3, sb, zw);
    tq_set(&qy, QUANTA_I8, 0.1f, 4);
    int32_t m[3], sh[3];
    struct q8_requant rq;
    struct quanta_error err = {0};
    ck_assert_msg(q8_conv2d_prepare(&qx, &qw, &qb, &qy, GRAPH_ACT_RELU, 3, m, sh, &rq, "c", &err) ==
                      QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(rq.n, 3);
    ck_assert_int_eq(rq.in_zero_point, 3 - 128);
    ck_assert_int_eq(rq.out_zero_point, 4);
    ck_assert(rq.qmin == 4 && rq.qmax == 127);
    ck_assert(rq.multiplier == m && rq.shift == sh);
    for (int o = 0; o < 3; o++) {
        const double want = (double)0.2f * sw[o] / (double)0.1f;
        ck_assert(fabs(q8_multiplier_to_double(m[o], sh[o]) - want) <= ldexp(want, -31));
    }
    /* per-tensor weights */
    tq_set(&qw, QUANTA_I8, 0.5f, 0);
    ck_assert(q8_dense_prepare(&qx, &qw, NULL, &qy, GRAPH_ACT_NONE, 3, m, sh, &rq, "d", &err) ==
              QUANTA_OK);
    ck_assert_int_eq(rq.n, 1);
    /* wrong: weight zero point, bias scale, channel count, multiplier range */
    const int32_t zbad[3] = {0, 1, 0};
    tq_set_channels(&qw, QUANTA_I8, 3, sw, zbad);
    ck_assert(q8_conv2d_prepare(&qx, &qw, &qb, &qy, GRAPH_ACT_NONE, 3, m, sh, &rq, "conv1",
                                &err) == QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message, "node 'conv1': weight zero point of channel 1 is 1 but weights "
                                  "are symmetric (0)");
    tq_set_channels(&qw, QUANTA_I8, 3, sw, zw);
    const float sbad[3] = {0.5f * 0.2f, 0.3f, 0.125f * 0.2f};
    tq_set_channels(&qb, QUANTA_I32, 3, sbad, zw);
    ck_assert(q8_conv2d_prepare(&qx, &qw, &qb, &qy, GRAPH_ACT_NONE, 3, m, sh, &rq, "conv1",
                                &err) == QUANTA_ERR_INPUT);
    ck_assert(strstr(err.message, "bias of channel 1 has scale 0.3") != NULL);
    ck_assert(q8_conv2d_prepare(&qx, &qw, NULL, &qy, GRAPH_ACT_NONE, 4, m, sh, &rq, "conv1",
                                &err) == QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message,
                     "node 'conv1': weight has 3 scales on axis 0 but needs 1 or 4 on axis 0");
    tq_set(&qy, QUANTA_I8, 1e-30f, 0);
    ck_assert(q8_conv2d_prepare(&qx, &qw, NULL, &qy, GRAPH_ACT_NONE, 3, m, sh, &rq, "conv1",
                                &err) == QUANTA_ERR_INPUT);
    ck_assert(strstr(err.message, "outside the representable range") != NULL);
    tq_set(&qw, QUANTA_U8, 0.5f, 0);
    tq_set(&qy, QUANTA_I8, 0.1f, 0);
    ck_assert(q8_dense_prepare(&qx, &qw, NULL, &qy, GRAPH_ACT_NONE, 3, m, sh, &rq, NULL, &err) ==
              QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message, "node '?': weight is U8 but must be I8");
}
END_TEST

START_TEST(add_and_mul_prepare)
{
    struct graph_quant qa, qb, qy;
    tq_set(&qa, QUANTA_I8, 0.25f, 1);
    tq_set(&qb, QUANTA_U8, 1.0f, 130);
    tq_set(&qy, QUANTA_I8, 0.5f, -3);
    struct q8_add_params pa;
    ck_assert(q8_add_prepare(&qa, &qb, &qy, GRAPH_ACT_NONE, &pa, "a", NULL) == QUANTA_OK);
    /* t = 2: ma = 1/8, mb = 1/2, mo = 2 / (2^20 * 0.5) = 2^-18 (all powers of two: exact) */
    ck_assert(pa.a_multiplier == 1 << 30 && pa.a_shift == 2);
    ck_assert(pa.b_multiplier == 1 << 30 && pa.b_shift == 0);
    ck_assert(pa.out_multiplier == 1 << 30 && pa.out_shift == 17);
    ck_assert(pa.b_zero_point == 2 && pa.a_zero_point == 1 && pa.out_zero_point == -3);
    struct q8_mul_params pm;
    ck_assert(q8_mul_prepare(&qa, &qb, &qy, GRAPH_ACT_RELU, &pm, "m", NULL) == QUANTA_OK);
    ck_assert(pm.multiplier == 1 << 30 && pm.shift == 0); /* 0.25 * 1 / 0.5 = 1/2 */
    ck_assert(pm.qmin == -3 && pm.qmax == 127);
}
END_TEST

Suite *suite_q8_params(void); /* called by tests/main.c */
Suite *suite_q8_params(void)
{
    Suite *s = suite_create("q8_params");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, tensor_params_validate);
    tcase_add_test(tc, activation_bounds);
    tcase_add_test(tc, conv_prepare_per_channel);
    tcase_add_test(tc, add_and_mul_prepare);
    suite_add_tcase(s, tc);
    return s;
}

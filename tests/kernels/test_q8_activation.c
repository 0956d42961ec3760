/* int8 relu, relu6, change of parameters, leaky_relu and the 256-entry
 * tables (sigmoid, tanh) against float on dequantized inputs, and hand
 * cases. Bounds: 1/2 step + 2^-29 relative (requant); 1/2 (tables). */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_testing.h"
#include "runtime/q8_params.h"

enum unary_op { OP_RELU, OP_RELU6, OP_REQUANT, OP_LEAKY, OP_SIGMOID, OP_TANH, OP_COUNT };

static double float_op(enum unary_op op, double x, double alpha)
{
    switch (op) {
    case OP_RELU: return x > 0 ? x : 0;
    case OP_RELU6: return x < 0 ? 0 : x > 6 ? 6 : x;
    case OP_REQUANT: return x;
    case OP_LEAKY: return x >= 0 ? x : alpha * x;
    case OP_SIGMOID: return 0.5 * (1.0 + tanh(0.5 * x)); /* not the prepare's formula */
    default: return tanh(x);
    }
}

static void run_unary(struct tq_rng *r, enum unary_op op, int id)
{
    const int64_t n = 256;
    int8_t x8[256], y8[256];
    double yr[256];
    const enum quanta_dtype in_dt = tq_int(r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
    const enum quanta_dtype out_dt = tq_int(r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
    const float sx = (float)tq_uniform(r, 0.01, 0.1);
    const int32_t zx = (int32_t)(in_dt == QUANTA_U8 ? tq_int(r, 0, 255) : tq_int(r, -128, 127));
    const double alpha = tq_int(r, 0, 4) == 0 ? -tq_uniform(r, 0, 1) : tq_uniform(r, 0, 0.5);
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) { /* every input code once */
        const int32_t q = (int32_t)i + (in_dt == QUANTA_U8 ? 0 : -128);
        x8[i] = (int8_t)(in_dt == QUANTA_U8 ? q - 128 : q);
        yr[i] = float_op(op, (double)sx * (q - zx), alpha);
        lo = fmin(lo, yr[i]);
        hi = fmax(hi, yr[i]);
    }
    float sy;
    int32_t zy;
    if (op == OP_SIGMOID || op == OP_TANH)
        hi = op == OP_SIGMOID ? 1 : fmax(hi, 1), lo = op == OP_SIGMOID ? 0 : fmin(lo, -1);
    tq_choose_out(lo, hi, out_dt, &sy, &zy);
    if (tq_int(r, 0, 3) == 0 && op <= OP_REQUANT && in_dt == out_dt) { /* same params */
        sy = sx;
        zy = zx;
    }
    struct graph_quant qx, qy;
    tq_set(&qx, in_dt, sx, zx);
    tq_set(&qy, out_dt, sy, zy);
    struct quanta_error err = {0};
    enum quanta_status st;
    if (op <= OP_REQUANT) {
        struct q8_unary p;
        const enum graph_activation act =
            op == OP_RELU ? GRAPH_ACT_RELU : op == OP_RELU6 ? GRAPH_ACT_RELU6 : GRAPH_ACT_NONE;
        st = q8_unary_prepare(&qx, &qy, act, &p, "act", &err);
        ck_assert_msg(st == QUANTA_OK, "%s", err.message);
        q8_requant_clamp__ref(n, &p, x8, y8);
    } else if (op == OP_LEAKY) {
        struct q8_leaky_relu_params p;
        st = q8_leaky_relu_prepare(&qx, &qy, (float)alpha, &p, "leaky", &err);
        ck_assert_msg(st == QUANTA_OK, "%s", err.message);
        q8_leaky_relu__ref(n, &p, x8, y8);
    } else {
        int8_t table[256];
        st = q8_lut_prepare(op == OP_SIGMOID ? GRAPH_OP_SIGMOID : GRAPH_OP_TANH, &qx, &qy, table,
                            "lut", &err);
        ck_assert_msg(st == QUANTA_OK, "%s", err.message);
        q8_lut__ref(n, table, x8, y8);
    }
    const int u8 = out_dt == QUANTA_U8;
    const int32_t qlo = u8 ? 0 : -128;
    char what[48];
    snprintf(what, sizeof what, "op %d case %d", (int)op, id);
    for (int64_t i = 0; i < n; i++) {
        const int32_t q = u8 ? y8[i] + 128 : y8[i];
        /* leaky_relu: alpha was rounded to float for the prepare */
        const int32_t qin = (int32_t)i + (in_dt == QUANTA_U8 ? 0 : -128);
        const double real =
            op == OP_LEAKY ? float_op(op, (double)sx * (qin - zx), (double)(float)alpha) : yr[i];
        const double ideal = tq_ideal(real, sy, zy, qlo, qlo + 255);
        TQ_CHECK(q, ideal, tq_bound1(ideal, zy), what, i);
    }
}

START_TEST(unary_random_against_float)
{
    struct tq_rng r = {21};
    for (int i = 0; i < 120; i++)
        for (int op = 0; op < OP_COUNT; op++)
            run_unary(&r, (enum unary_op)op, i);
}
END_TEST

START_TEST(relu_relu6_exact)
{
    struct graph_quant qx, qy;
    tq_set(&qx, QUANTA_I8, 0.05f, -100);
    tq_set(&qy, QUANTA_I8, 0.05f, -100);
    struct q8_unary p;
    ck_assert(q8_unary_prepare(&qx, &qy, GRAPH_ACT_RELU6, &p, "r6", NULL) == QUANTA_OK);
    ck_assert_int_eq(p.multiplier, 1 << 30); /* same scale: identity */
    ck_assert_int_eq(p.shift, -1);
    ck_assert_int_eq(p.qmin, -100);
    ck_assert_int_eq(p.qmax, 20); /* -100 + 6 / 0.05 */
    int8_t y[4];
    q8_requant_clamp__ref(4, &p, (const int8_t[]){-128, -100, 0, 127}, y);
    ck_assert_int_eq(y[0], -100);
    ck_assert_int_eq(y[1], -100);
    ck_assert_int_eq(y[2], 0);
    ck_assert_int_eq(y[3], 20);
    /* relu into half the scale, U8 output zero point 10 (int8 domain -118):
     * x - zx = 3 -> 6 -> u8 16 */
    tq_set(&qx, QUANTA_I8, 0.1f, 0);
    tq_set(&qy, QUANTA_U8, 0.05f, 10);
    ck_assert(q8_unary_prepare(&qx, &qy, GRAPH_ACT_RELU, &p, "r", NULL) == QUANTA_OK);
    ck_assert_int_eq(p.out_zero_point, -118);
    ck_assert_int_eq(p.qmin, -118);
    q8_requant_clamp__ref(3, &p, (const int8_t[]){3, -3, 127}, y);
    ck_assert_int_eq(y[0] + 128, 16);
    ck_assert_int_eq(y[1] + 128, 10);
    ck_assert_int_eq(y[2] + 128, 255); /* 10 + 254 saturates */
}
END_TEST

START_TEST(leaky_relu_exact)
{
    struct graph_quant q1;
    tq_set(&q1, QUANTA_I8, 1, 0);
    struct q8_leaky_relu_params p;
    int8_t y[4];
    ck_assert(q8_leaky_relu_prepare(&q1, &q1, 0.5f, &p, "l", NULL) == QUANTA_OK);
    q8_leaky_relu__ref(4, &p, (const int8_t[]){-3, 5, -128, 0}, y);
    ck_assert_int_eq(y[0], -2); /* -1.5 -> -2 */
    ck_assert_int_eq(y[1], 5);
    ck_assert_int_eq(y[2], -64);
    ck_assert_int_eq(y[3], 0);
    ck_assert(q8_leaky_relu_prepare(&q1, &q1, -1.0f, &p, "l", NULL) == QUANTA_OK);
    q8_leaky_relu__ref(2, &p, (const int8_t[]){-3, -128}, y);
    ck_assert_int_eq(y[0], 3);
    ck_assert_int_eq(y[1], 127); /* 128 saturates */
    ck_assert(q8_leaky_relu_prepare(&q1, &q1, 0.0f, &p, "l", NULL) == QUANTA_OK);
    ck_assert_int_eq(p.neg_multiplier, 0);
    q8_leaky_relu__ref(2, &p, (const int8_t[]){-3, 4}, y);
    ck_assert_int_eq(y[0], 0);
    ck_assert_int_eq(y[1], 4);
}
END_TEST

START_TEST(lut_exact)
{
    /* sigmoid, input scale 1/16, output 1/256 with zero point -128 */
    struct graph_quant qx, qy;
    tq_set(&qx, QUANTA_I8, 1.0f / 16, 0);
    tq_set(&qy, QUANTA_I8, 1.0f / 256, -128);
    int8_t table[256], y[3];
    ck_assert(q8_lut_prepare(GRAPH_OP_SIGMOID, &qx, &qy, table, "s", NULL) == QUANTA_OK);
    q8_lut__ref(3, table, (const int8_t[]){0, 127, -128}, y);
    ck_assert_int_eq(y[0], 0);    /* 0.5 * 256 - 128 */
    ck_assert_int_eq(y[1], 127);  /* 255.9 - 128 -> 128 saturates */
    ck_assert_int_eq(y[2], -128); /* sigmoid(-8) * 256 = 0.086 -> 0 */
    /* tanh, output scale 1/128: tanh(16/16 = 1) = 0.76159 * 128 = 97.48 -> 97 */
    tq_set(&qy, QUANTA_I8, 1.0f / 128, 0);
    ck_assert(q8_lut_prepare(GRAPH_OP_TANH, &qx, &qy, table, "t", NULL) == QUANTA_OK);
    q8_lut__ref(3, table, (const int8_t[]){16, -16, 0}, y);
    ck_assert_int_eq(y[0], 97);
    ck_assert_int_eq(y[1], -97);
    ck_assert_int_eq(y[2], 0);
    ck_assert(q8_lut_prepare(GRAPH_OP_RELU, &qx, &qy, table, "t", NULL) == QUANTA_ERR_INTERNAL);
}
END_TEST

static double square(double x, void *ctx)
{
    return x * x * *(double *)ctx;
}

START_TEST(lut_any_function_with_clamp)
{
    struct graph_quant qx, qy;
    tq_set(&qx, QUANTA_I8, 0.5f, 0);
    tq_set(&qy, QUANTA_I8, 1.0f, -10);
    int8_t table[256];
    double k = 2.0;
    ck_assert(q8_lut_prepare_fn(square, &k, &qx, &qy, -10, 100, table, "sq", NULL) == QUANTA_OK);
    /* q = 3: 2 * 1.5^2 = 4.5 -> 5 - 10 = -5; q = -128: 2 * 64^2 -> clamp 100 */
    ck_assert_int_eq(table[3 + 128], -5);
    ck_assert_int_eq(table[0], 100);
    ck_assert_int_eq(table[128], -10);
}
END_TEST

Suite *suite_q8_activation(void); /* called by tests/main.c */
Suite *suite_q8_activation(void)
{
    Suite *s = suite_create("q8_activation");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, unary_random_against_float);
    tcase_add_test(tc, relu_relu6_exact);
    tcase_add_test(tc, leaky_relu_exact);
    tcase_add_test(tc, lut_exact);
    tcase_add_test(tc, lut_any_function_with_clamp);
    suite_add_tcase(s, tc);
    return s;
}

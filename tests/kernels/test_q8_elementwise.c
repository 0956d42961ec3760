/* int8 add and mul (same shape and [C] broadcast, fused relu/relu6)
 * against float on dequantized inputs, and hand-computed cases.
 * Bounds (kernels_q8.h): mul 1/2 + 2^-29 relative; add adds
 * 2^-18 * max(sa, sb) / sy for the 2^-20 grid of its inputs. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_testing.h"
#include "runtime/q8_params.h"

static double act_apply(enum graph_activation act, double v)
{
    if (act != GRAPH_ACT_NONE && v < 0)
        v = 0;
    if (act == GRAPH_ACT_RELU6 && v > 6)
        v = 6;
    return v;
}

static void run_binary(struct tq_rng *r, int is_mul, int id)
{
    const int64_t c = tq_int(r, 1, 8), rows = tq_int(r, 1, 10), n = c * rows;
    const int64_t b_n = tq_int(r, 0, 1) ? n : c;
    int8_t *a8 = malloc(n), *b8 = malloc(b_n), *y8 = malloc(n);
    double *ar = malloc(sizeof(double) * n), *br = malloc(sizeof(double) * b_n);
    double *yr = malloc(sizeof(double) * n);
    enum quanta_dtype dts[3];
    float sc[2];
    int32_t zp[2];
    for (int k = 0; k < 2; k++) {
        dts[k] = tq_int(r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
        /* scales up to 40x apart, so the add's rescaling matters */
        sc[k] = (float)(tq_uniform(r, 0.005, 0.05) * (tq_int(r, 0, 1) ? 1 : tq_uniform(r, 1, 40)));
        zp[k] = (int32_t)(dts[k] == QUANTA_U8 ? tq_int(r, 0, 255) : tq_int(r, -128, 127));
        const int64_t m = k == 0 ? n : b_n;
        for (int64_t i = 0; i < m; i++) {
            const int32_t q =
                (int32_t)(dts[k] == QUANTA_U8 ? tq_int(r, 0, 255) : tq_int(r, -128, 127));
            (k == 0 ? a8 : b8)[i] = (int8_t)(dts[k] == QUANTA_U8 ? q - 128 : q);
            (k == 0 ? ar : br)[i] = (double)sc[k] * (q - zp[k]);
        }
    }
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        yr[i] = is_mul ? ar[i] * br[i % b_n] : ar[i] + br[i % b_n];
        lo = fmin(lo, yr[i]);
        hi = fmax(hi, yr[i]);
    }
    dts[2] = tq_int(r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
    float sy;
    int32_t zy;
    tq_choose_out(lo, hi, dts[2], &sy, &zy);
    const enum graph_activation act = (enum graph_activation)tq_int(r, 0, 2);
    struct graph_quant qa, qb, qy;
    tq_set(&qa, dts[0], sc[0], zp[0]);
    tq_set(&qb, dts[1], sc[1], zp[1]);
    tq_set(&qy, dts[2], sy, zy);
    struct quanta_error err = {0};
    if (is_mul) {
        struct q8_mul_params p;
        ck_assert_msg(q8_mul_prepare(&qa, &qb, &qy, act, &p, "mul", &err) == QUANTA_OK, "%s",
                      err.message);
        q8_mul__ref(n, b_n, &p, a8, b8, y8);
    } else {
        struct q8_add_params p;
        ck_assert_msg(q8_add_prepare(&qa, &qb, &qy, act, &p, "add", &err) == QUANTA_OK, "%s",
                      err.message);
        q8_add__ref(n, b_n, &p, a8, b8, y8);
    }
    const int u8 = dts[2] == QUANTA_U8;
    const int32_t qlo = u8 ? 0 : -128;
    char what[48];
    snprintf(what, sizeof what, "%s case %d", is_mul ? "mul" : "add", id);
    const double extra = is_mul ? 0 : ldexp(fmax(sc[0], sc[1]) / sy, -18);
    for (int64_t i = 0; i < n; i++) {
        const int32_t q = u8 ? y8[i] + 128 : y8[i];
        const double ideal = tq_ideal(act_apply(act, yr[i]), sy, zy, qlo, qlo + 255);
        TQ_CHECK(q, ideal, tq_bound1(ideal, zy) + extra, what, i);
    }
    free(a8), free(b8), free(y8), free(ar), free(br), free(yr);
}

START_TEST(add_random_against_float)
{
    struct tq_rng r = {11};
    for (int i = 0; i < 500; i++)
        run_binary(&r, 0, i);
}
END_TEST

START_TEST(mul_random_against_float)
{
    struct tq_rng r = {12};
    for (int i = 0; i < 500; i++)
        run_binary(&r, 1, i);
}
END_TEST

static void prep_add(float sa, int32_t za, float sb, int32_t zb, float sy, int32_t zy,
                     enum graph_activation act, struct q8_add_params *p)
{
    struct graph_quant qa, qb, qy;
    tq_set(&qa, QUANTA_I8, sa, za);
    tq_set(&qb, QUANTA_I8, sb, zb);
    tq_set(&qy, QUANTA_I8, sy, zy);
    ck_assert(q8_add_prepare(&qa, &qb, &qy, act, p, "add", NULL) == QUANTA_OK);
}

START_TEST(add_exact_cases)
{
    struct q8_add_params p;
    int8_t y[4];
    prep_add(1, 0, 1, 0, 1, 0, GRAPH_ACT_NONE, &p);
    ck_assert_int_eq(p.left_shift, 20);
    q8_add__ref(4, 4, &p, (const int8_t[]){3, 100, -100, -7}, (const int8_t[]){4, 100, -100, 7}, y);
    ck_assert_int_eq(y[0], 7);
    ck_assert_int_eq(y[1], 127);  /* 200 saturates */
    ck_assert_int_eq(y[2], -128); /* -200 saturates */
    ck_assert_int_eq(y[3], 0);
    /* 0.5 a + 0.5 b into scale 1: 1.5 -> 2, -1.5 -> -2 (ties away), 0.5 + 0.5 -> 1 */
    prep_add(0.5f, 0, 0.5f, 0, 1, 0, GRAPH_ACT_NONE, &p);
    q8_add__ref(3, 3, &p, (const int8_t[]){1, -1, 1}, (const int8_t[]){2, -2, 1}, y);
    ck_assert_int_eq(y[0], 2);
    ck_assert_int_eq(y[1], -2);
    ck_assert_int_eq(y[2], 1);
    /* different scales and zero points: a = 0.5 (q 3 - 2), b = 0.25 (q -2 - -3)... */
    prep_add(0.5f, 2, 0.25f, -3, 0.125f, 10, GRAPH_ACT_NONE, &p);
    q8_add__ref(1, 1, &p, (const int8_t[]){3}, (const int8_t[]){-2}, y);
    ck_assert_int_eq(y[0], 10 + 6); /* 0.75 / 0.125 = 6 */
    /* fused relu and relu6 with broadcast [2] over [2, 2] */
    prep_add(1, 0, 1, 0, 1, -20, GRAPH_ACT_RELU6, &p);
    ck_assert_int_eq(p.qmin, -20);
    ck_assert_int_eq(p.qmax, -14);
    q8_add__ref(4, 2, &p, (const int8_t[]){1, 2, -9, 9}, (const int8_t[]){1, 3}, y);
    ck_assert_int_eq(y[0], -18);
    ck_assert_int_eq(y[1], -15);
    ck_assert_int_eq(y[2], -20); /* -8 -> relu -> 0 */
    ck_assert_int_eq(y[3], -14); /* 12 -> relu6 -> 6 */
}
END_TEST

START_TEST(mul_exact_cases)
{
    struct graph_quant qa, qb, qy;
    tq_set(&qa, QUANTA_I8, 1, 0);
    tq_set(&qb, QUANTA_I8, 1, 1);
    tq_set(&qy, QUANTA_I8, 4, 0);
    struct q8_mul_params p;
    ck_assert(q8_mul_prepare(&qa, &qb, &qy, GRAPH_ACT_NONE, &p, "mul", NULL) == QUANTA_OK);
    int8_t y[6];
    /* a * (b - 1) / 4: 3 * 6 / 4 = 4.5 -> 5; -3 * 6 / 4 -> -5; 127 * -129 / 4 -> -128 */
    q8_mul__ref(3, 3, &p, (const int8_t[]){3, -3, 127}, (const int8_t[]){7, 7, -128}, y);
    ck_assert_int_eq(y[0], 5);
    ck_assert_int_eq(y[1], -5);
    ck_assert_int_eq(y[2], -128);
    /* broadcast [3] over [2, 3], relu */
    ck_assert(q8_mul_prepare(&qa, &qb, &qy, GRAPH_ACT_RELU, &p, "mul", NULL) == QUANTA_OK);
    q8_mul__ref(6, 3, &p, (const int8_t[]){4, 4, 4, -4, -4, -4}, (const int8_t[]){5, 9, -3}, y);
    ck_assert_int_eq(y[0], 4);
    ck_assert_int_eq(y[1], 8);
    ck_assert_int_eq(y[2], 0);
    ck_assert_int_eq(y[3], 0);
    ck_assert_int_eq(y[4], 0);
    ck_assert_int_eq(y[5], 4);
}
END_TEST

Suite *suite_q8_elementwise(void); /* called by tests/main.c */
Suite *suite_q8_elementwise(void)
{
    Suite *s = suite_create("q8_elementwise");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, add_random_against_float);
    tcase_add_test(tc, mul_random_against_float);
    tcase_add_test(tc, add_exact_cases);
    tcase_add_test(tc, mul_exact_cases);
    suite_add_tcase(s, tc);
    return s;
}

/* int8 concat, embedding, softmax (float output), quantize/dequantize:
 * against float on dequantized inputs and by hand. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/q8_testing.h"
#include "runtime/q8_params.h"

START_TEST(concat_random_against_float)
{
    struct tq_rng r = {31};
    for (int t = 0; t < 200; t++) {
        const int k = (int)tq_int(&r, 1, 4);
        const int64_t outer = tq_int(&r, 1, 6);
        int64_t inner[4], row = 0;
        int8_t *x[4];
        double *xr[4];
        struct graph_quant qx[4], qy;
        struct q8_unary rq[4];
        const enum quanta_dtype out_dt = tq_int(&r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
        const float sy = (float)tq_uniform(&r, 0.01, 0.05);
        const int32_t zy =
            (int32_t)(out_dt == QUANTA_U8 ? tq_int(&r, 0, 255) : tq_int(&r, -128, 127));
        tq_set(&qy, out_dt, sy, zy);
        for (int i = 0; i < k; i++) {
            inner[i] = tq_int(&r, 1, 7);
            row += inner[i];
            x[i] = malloc(outer * inner[i]);
            xr[i] = malloc(sizeof(double) * outer * inner[i]);
            const int same = tq_int(&r, 0, 1);
            const enum quanta_dtype dt = same ? out_dt : tq_int(&r, 0, 1) ? QUANTA_U8 : QUANTA_I8;
            const float s = same ? sy : (float)tq_uniform(&r, 0.005, 0.08);
            const int32_t z =
                same ? zy : (int32_t)(dt == QUANTA_U8 ? tq_int(&r, 0, 255) : tq_int(&r, -128, 127));
            tq_set(&qx[i], dt, s, z);
            for (int64_t j = 0; j < outer * inner[i]; j++) {
                const int32_t q =
                    (int32_t)(dt == QUANTA_U8 ? tq_int(&r, 0, 255) : tq_int(&r, -128, 127));
                x[i][j] = (int8_t)(dt == QUANTA_U8 ? q - 128 : q);
                xr[i][j] = (double)s * (q - z);
            }
            ck_assert(q8_unary_prepare(&qx[i], &qy, GRAPH_ACT_NONE, &rq[i], "cat", NULL) ==
                      QUANTA_OK);
        }
        int8_t *y = malloc(outer * row);
        q8_concat__ref(k, outer, inner, NULL, rq, (const int8_t *const *)x, y);
        const int32_t qlo = out_dt == QUANTA_U8 ? 0 : -128;
        for (int64_t o = 0; o < outer; o++) {
            int64_t col = 0;
            for (int i = 0; i < k; i++)
                for (int64_t j = 0; j < inner[i]; j++, col++) {
                    const int32_t q = y[o * row + col] + (out_dt == QUANTA_U8 ? 128 : 0);
                    const double ideal = tq_ideal(xr[i][o * inner[i] + j], sy, zy, qlo, qlo + 255);
                    TQ_CHECK(q, ideal, tq_bound1(ideal, zy), "concat", o * row + col);
                    if (qx[i].dtype == out_dt && qx[i].scale == sy && qx[i].zero_point == zy)
                        ck_assert_int_eq(y[o * row + col], x[i][o * inner[i] + j]); /* a copy */
                }
        }
        for (int i = 0; i < k; i++)
            free(x[i]), free(xr[i]);
        free(y);
    }
}
END_TEST

START_TEST(concat_repeats_constant_rows)
{
    /* a class token t (1 row of 2) before x (2 rows of 3), both in the
     * output's parameters and rescaled from a scale twice as large */
    const int8_t t[2] = {7, -8}, xv[6] = {1, 2, 3, 4, 5, 6};
    struct graph_quant qy, q2;
    tq_set(&qy, QUANTA_I8, 0.02f, 0);
    tq_set(&q2, QUANTA_I8, 0.04f, 0);
    struct q8_unary rq[2];
    ck_assert(q8_unary_prepare(&qy, &qy, GRAPH_ACT_NONE, &rq[0], "cat", NULL) == QUANTA_OK);
    ck_assert(q8_unary_prepare(&qy, &qy, GRAPH_ACT_NONE, &rq[1], "cat", NULL) == QUANTA_OK);
    const int64_t inner[2] = {2, 3}, rows[2] = {1, 2};
    const int8_t *x[2] = {t, xv};
    int8_t y[10];
    const int8_t want[10] = {7, -8, 1, 2, 3, 7, -8, 4, 5, 6};
    q8_concat__ref(2, 2, inner, rows, rq, x, y);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(y[i], want[i]);
    ck_assert(q8_unary_prepare(&q2, &qy, GRAPH_ACT_NONE, &rq[0], "cat", NULL) == QUANTA_OK);
    const int8_t want2[10] = {14, -16, 1, 2, 3, 14, -16, 4, 5, 6};
    q8_concat__ref(2, 2, inner, rows, rq, x, y);
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(y[i], want2[i]);
}
END_TEST

START_TEST(embedding_gathers_rows)
{
    const int8_t table[3 * 2] = {1, 2, -3, 4, 100, -100};
    const int64_t ids[4] = {2, 0, 2, 1};
    int8_t y[8];
    const struct q8_unary copy = {5, 5, INT32_C(1) << 30, -1, -128, 127};
    ck_assert_int_eq(q8_embedding__ref(4, ids, 3, 2, &copy, false, table, y), -1);
    const int8_t want[8] = {100, -100, 1, 2, 100, -100, -3, 4};
    ck_assert_mem_eq(y, want, 8);
    /* rescaled into other parameters: (q - 5) * 2 + 1, saturating */
    struct graph_quant qt, qy;
    tq_set(&qt, QUANTA_I8, 0.5f, 5);
    tq_set(&qy, QUANTA_I8, 0.25f, 1);
    struct q8_unary rq;
    ck_assert(q8_unary_prepare(&qt, &qy, GRAPH_ACT_NONE, &rq, "emb", NULL) == QUANTA_OK);
    ck_assert_int_eq(q8_embedding__ref(2, ids + 2, 3, 2, &rq, false, table, y), -1);
    ck_assert_int_eq(y[0], 127);
    ck_assert_int_eq(y[1], -128);
    ck_assert_int_eq(y[2], (-3 - 5) * 2 + 1);
    ck_assert_int_eq(y[3], (4 - 5) * 2 + 1);
    /* out of range ids: the position of the first */
    const int64_t bad[3] = {1, 3, -1};
    ck_assert_int_eq(q8_embedding__ref(3, bad, 3, 2, &copy, false, table, y), 1);
    const int64_t neg[1] = {-1};
    ck_assert_int_eq(q8_embedding__ref(1, neg, 3, 2, &copy, false, table, y), 0);
}
END_TEST

START_TEST(softmax_random_against_float)
{
    struct tq_rng r = {41};
    for (int t = 0; t < 200; t++) {
        const int64_t outer = tq_int(&r, 1, 3), len = tq_int(&r, 1, 40), inner = tq_int(&r, 1, 3);
        const int64_t n = outer * len * inner;
        int8_t *x = malloc(n);
        float *y = malloc(sizeof(float) * n);
        const float sx = (float)tq_uniform(&r, 0.01, 0.2);
        const int32_t zx = (int32_t)tq_int(&r, -128, 127);
        for (int64_t i = 0; i < n; i++)
            x[i] = (int8_t)tq_int(&r, -128, 127);
        struct graph_quant qx;
        tq_set(&qx, QUANTA_I8, sx, zx);
        float table[256];
        ck_assert(q8_softmax_prepare(&qx, table, "sm", NULL) == QUANTA_OK);
        q8_softmax__ref(outer, len, inner, table, x, y);
        const double bound = (double)(len + 3) * ldexp(1.0, -23);
        for (int64_t o = 0; o < outer; o++)
            for (int64_t i = 0; i < inner; i++) {
                double sum = 0;
                for (int64_t j = 0; j < len; j++)
                    sum += exp((double)sx * (x[(o * len + j) * inner + i] - zx));
                for (int64_t j = 0; j < len; j++) {
                    const int64_t k = (o * len + j) * inner + i;
                    const double want = exp((double)sx * (x[k] - zx)) / sum;
                    ck_assert_msg(fabs(y[k] - want) <= bound * want, "softmax[%lld]: %.9g vs %.9g",
                                  (long long)k, (double)y[k], want);
                }
            }
        free(x), free(y);
    }
}
END_TEST

START_TEST(softmax_exact)
{
    struct graph_quant qx;
    tq_set(&qx, QUANTA_I8, 0.5f, 3);
    float table[256], y[4];
    ck_assert(q8_softmax_prepare(&qx, table, "sm", NULL) == QUANTA_OK);
    ck_assert(table[0] == 1.0f);
    ck_assert(table[2] == (float)exp(-1.0));
    q8_softmax__ref(1, 4, 1, table, (const int8_t[]){7, 7, 7, 7}, y);
    for (int i = 0; i < 4; i++)
        ck_assert(y[i] == 0.25f);
    /* [-128, 127]: e = [exp(-127.5), 1]; inner stride 2 */
    q8_softmax__ref(1, 2, 2, table, (const int8_t[]){-128, 0, 127, 0}, y);
    ck_assert(y[2] == 1.0f / (table[255] + 1.0f));
    ck_assert(y[1] == 0.5f && y[3] == 0.5f);
}
END_TEST

START_TEST(quantize_dequantize_ops)
{
    struct graph_quant q;
    struct q8_quantize_params p;
    tq_set(&q, QUANTA_U8, 0.1f, 128);
    ck_assert(q8_quantize_prepare(&q, &p, "q", NULL) == QUANTA_OK);
    ck_assert_int_eq(p.zero_point, 0);
    const float x[5] = {1.0f, -1.0f, 0.05f, 100.0f, -100.0f};
    int8_t y[5];
    q8_quantize__ref(5, &p, x, y);
    uint8_t u[5];
    q8_i8_to_u8(5, y, u);
    ck_assert_int_eq(u[0], 138);
    ck_assert_int_eq(u[1], 118);
    ck_assert_int_eq(u[2], 129); /* 0.05f is exactly 0.1f / 2: a tie, away from zero -> 1 */
    ck_assert_int_eq(u[3], 255);
    ck_assert_int_eq(u[4], 0);
    float back[5];
    q8_dequantize__ref(5, &p, y, back);
    ck_assert(back[0] == 0.1f * 10.0f);
    ck_assert(back[3] == 0.1f * 127.0f);
    int8_t i8[3];
    q8_u8_to_i8(3, (const uint8_t[]){0, 128, 255}, i8);
    ck_assert_int_eq(i8[0], -128);
    ck_assert_int_eq(i8[1], 0);
    ck_assert_int_eq(i8[2], 127);
    /* random round trip: |dequantize(quantize(x)) - x| <= s / 2 inside the range */
    struct tq_rng r = {51};
    tq_set(&q, QUANTA_I8, 0.03f, -7);
    ck_assert(q8_quantize_prepare(&q, &p, "q", NULL) == QUANTA_OK);
    for (int i = 0; i < 10000; i++) {
        const float v = (float)tq_uniform(&r, -3.6, 3.6);
        int8_t qv;
        float d;
        q8_quantize__ref(1, &p, &v, &qv);
        q8_dequantize__ref(1, &p, &qv, &d);
        ck_assert_msg(fabs((double)d - v) <= 0.015 + 1e-6, "%g -> %d -> %g", (double)v, qv,
                      (double)d);
    }
}
END_TEST

START_TEST(kernel_table_points_at_ref)
{
    const struct q8_kernels *k = q8_kernels_for_level(KERNELS_LEVEL_REF);
    ck_assert_ptr_nonnull(k);
    ck_assert_str_eq(k->level, "ref");
    ck_assert(k->conv2d == q8_conv2d__ref);
    ck_assert(k->dense == q8_dense__ref);
    ck_assert(k->lut == q8_lut__ref);
    ck_assert(k->softmax == q8_softmax__ref);
    ck_assert(k->dequantize == q8_dequantize__ref);
    ck_assert_ptr_null(q8_kernels_for_level(KERNELS_LEVEL_COUNT));
    struct quanta_error err = {0};
    ck_assert(kernels_select("ref", &err) == QUANTA_OK);
    ck_assert(q8_kernels_get() == k);
}
END_TEST

Suite *suite_q8_data(void); /* called by tests/main.c */
Suite *suite_q8_data(void)
{
    Suite *s = suite_create("q8_data");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, concat_random_against_float);
    tcase_add_test(tc, concat_repeats_constant_rows);
    tcase_add_test(tc, embedding_gathers_rows);
    tcase_add_test(tc, softmax_random_against_float);
    tcase_add_test(tc, softmax_exact);
    tcase_add_test(tc, quantize_dequantize_ops);
    tcase_add_test(tc, kernel_table_points_at_ref);
    suite_add_tcase(s, tc);
    return s;
}

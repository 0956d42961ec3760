/* f32 concat and embedding gather: hand cases, random concat against
 * coordinate arithmetic, and the out-of-range id report. */
#include <check.h>
#include <stdlib.h>
#include "f32_test_util.h"

START_TEST(test_concat_hand)
{
    /* a [2, 2] = [[1,2],[3,4]], b [2, 1] = [[5],[6]] along axis 1 -> [[1,2,5],[3,4,6]];
     * along axis 0 (a and a): [a; a] */
    const float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    const double axis1[6] = {1, 2, 5, 3, 4, 6};
    const double axis0[8] = {1, 2, 3, 4, 1, 2, 3, 4};
    FT_FOR_EACH_LEVEL(k) {
        float y[8];
        const float *in[2] = {a, b};
        size_t chunk[2] = {2, 1};
        struct f32_concat_params p = {.outer = 2, .n_inputs = 2, .chunk = chunk};
        k->concat(&p, in, y);
        ft_expect_near(y, axis1, 6, 0, 0, k->level);
        const float *in0[2] = {a, a};
        size_t chunk0[2] = {4, 4};
        struct f32_concat_params p0 = {.outer = 1, .n_inputs = 2, .chunk = chunk0};
        k->concat(&p0, in0, y);
        ft_expect_near(y, axis0, 8, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_concat_random_middle_axis)
{
    /* [2, d_i, 3] for d = 1, 4, 2 along axis 1 -> [2, 7, 3] */
    uint64_t seed = 8;
    const size_t d[3] = {1, 4, 2};
    float x0[6], x1[24], x2[12], y[42];
    double want[42];
    ts_fill(&seed, x0, 6, -1, 1);
    ts_fill(&seed, x1, 24, -1, 1);
    ts_fill(&seed, x2, 12, -1, 1);
    const float *xs[3] = {x0, x1, x2};
    for (size_t n = 0; n < 2; n++)
        for (size_t j = 0; j < 7; j++)
            for (size_t c = 0; c < 3; c++) {
                size_t which = j < 1 ? 0 : j < 5 ? 1 : 2;
                size_t jj = j - (which == 0 ? 0 : which == 1 ? 1 : 5);
                want[(n * 7 + j) * 3 + c] = xs[which][(n * d[which] + jj) * 3 + c];
            }
    size_t chunk[3] = {3, 12, 6};
    struct f32_concat_params p = {.outer = 2, .n_inputs = 3, .chunk = chunk};
    FT_FOR_EACH_LEVEL(k) {
        k->concat(&p, xs, y);
        ft_expect_near(y, want, 42, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_concat_repeated_constant)
{
    /* a class token t [1, 1, 2] = [[[7, 8]]] before x [2, 2, 2] along axis 1:
     * outer 2 (the batch), t has 1 row repeated for each sample */
    const float t[2] = {7, 8}, x[8] = {1, 2, 3, 4, 5, 6, 7, 9};
    const double want[12] = {7, 8, 1, 2, 3, 4, 7, 8, 5, 6, 7, 9};
    FT_FOR_EACH_LEVEL(k) {
        float y[12];
        const float *in[2] = {t, x};
        size_t chunk[2] = {2, 4}, rows[2] = {1, 2};
        struct f32_concat_params p = {.outer = 2, .n_inputs = 2, .chunk = chunk, .rows = rows};
        k->concat(&p, in, y);
        ft_expect_near(y, want, 12, 0, 0, k->level);
    }
    /* rows that wrap more than once (3 of 6) beside one-float chunks */
    const float a[3] = {1, 2, 3}, b[12] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21};
    double want6[18];
    for (int o = 0; o < 6; o++) {
        want6[3 * o] = a[o % 3];
        want6[3 * o + 1] = b[2 * o];
        want6[3 * o + 2] = b[2 * o + 1];
    }
    FT_FOR_EACH_LEVEL(k) {
        float y[18];
        const float *in[2] = {a, b};
        size_t chunk[2] = {1, 2}, rows[2] = {3, 6};
        struct f32_concat_params p = {.outer = 6, .n_inputs = 2, .chunk = chunk, .rows = rows};
        k->concat(&p, in, y);
        ft_expect_near(y, want6, 18, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_embedding)
{
    /* table [4, 2]: row v = [10v, 10v + 1] */
    const float table[8] = {0, 1, 10, 11, 20, 21, 30, 31};
    const int64_t ids[3] = {3, 0, 3};
    const double want[6] = {30, 31, 0, 1, 30, 31};
    const int64_t bad_high[3] = {1, 4, 2}, bad_neg[2] = {-1, 0};
    FT_FOR_EACH_LEVEL(k) {
        float y[6];
        struct f32_embedding_params p = {.n_ids = 3, .vocab = 4, .dim = 2};
        ck_assert_int_eq(k->embedding(&p, ids, table, y), -1);
        ft_expect_near(y, want, 6, 0, 0, k->level);
        ck_assert_int_eq(k->embedding(&p, bad_high, table, y), 1);
        p.n_ids = 2;
        ck_assert_int_eq(k->embedding(&p, bad_neg, table, y), 0);
    }
}
END_TEST

Suite *suite_f32_data(void);
Suite *suite_f32_data(void)
{
    Suite *s = suite_create("f32_data");
    TCase *tc = tcase_create("data");
    tcase_add_test(tc, test_concat_hand);
    tcase_add_test(tc, test_concat_random_middle_axis);
    tcase_add_test(tc, test_concat_repeated_constant);
    tcase_add_test(tc, test_embedding);
    suite_add_tcase(s, tc);
    return s;
}

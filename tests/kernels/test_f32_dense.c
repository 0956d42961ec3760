/* f32 dense: hand cases and random cases against a double dot product. */
#include <check.h>
#include <stdlib.h>
#include "f32_test_util.h"

START_TEST(test_dense_hand)
{
    /* x [2,2], w [[3,4],[5,6]], b [0.5,-100] */
    const float x[4] = {1, 2, -1, 0}, w[4] = {3, 4, 5, 6}, b[2] = {0.5f, -100};
    const double want[4] = {1 * 3 + 2 * 4 + 0.5, 1 * 5 + 2 * 6 - 100, -3 + 0.5, -5 - 100};
    const double relu[4] = {11.5, 0, 0, 0};
    const double nob[4] = {11, 17, -3, -5};
    FT_FOR_EACH_LEVEL(k) {
        struct f32_dense_params p = {.batch = 2, .in_k = 2, .out_n = 2,
                                     .out_min = -INFINITY, .out_max = INFINITY};
        float y[4];
        k->dense(&p, x, w, b, y);
        ft_expect_near(y, want, 4, 0, 0, k->level);
        k->dense(&p, x, w, NULL, y);
        ft_expect_near(y, nob, 4, 0, 0, k->level);
        p.out_min = 0;
        k->dense(&p, x, w, b, y);
        ft_expect_near(y, relu, 4, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_dense_random)
{
    static const size_t shapes[][3] = {{1, 1, 1}, {3, 17, 5}, {7, 64, 10}, {2, 5, 33}};
    uint64_t seed = 99 + (uint64_t)_i;
    size_t batch = shapes[_i][0], kk = shapes[_i][1], o = shapes[_i][2];
    float *x = malloc(batch * kk * sizeof *x), *w = malloc(o * kk * sizeof *w);
    float *b = malloc(o * sizeof *b), *y = malloc(batch * o * sizeof *y);
    double *want = malloc(batch * o * sizeof *want);
    ck_assert(x && w && b && y && want);
    ts_fill(&seed, x, batch * kk, -2, 2);
    ts_fill(&seed, w, o * kk, -1, 1);
    ts_fill(&seed, b, o, -1, 1);
    /* column j of x * w^T: the dot product of row n of x with row j of w,
     * computed here from the transpose stored explicitly */
    double *wt = malloc(kk * o * sizeof *wt);
    ck_assert_ptr_nonnull(wt);
    for (size_t j = 0; j < o; j++)
        for (size_t c = 0; c < kk; c++)
            wt[c * o + j] = w[j * kk + c];
    for (size_t n = 0; n < batch; n++)
        for (size_t j = 0; j < o; j++) {
            double acc = b[j];
            for (size_t c = 0; c < kk; c++)
                acc += x[n * kk + c] * wt[c * o + j];
            want[n * o + j] = acc > 1.0 ? 1.0 : acc; /* clamp max 1 */
        }
    FT_FOR_EACH_LEVEL(k) {
        struct f32_dense_params p = {.batch = batch, .in_k = kk, .out_n = o,
                                     .out_min = -INFINITY, .out_max = 1.0f};
        k->dense(&p, x, w, b, y);
        ft_expect_near(y, want, batch * o, 1e-5, 1e-5, k->level);
    }
    free(x);
    free(w);
    free(wt);
    free(b);
    free(y);
    free(want);
}
END_TEST

Suite *suite_f32_dense(void);
Suite *suite_f32_dense(void)
{
    Suite *s = suite_create("f32_dense");
    TCase *tc = tcase_create("dense");
    tcase_add_test(tc, test_dense_hand);
    tcase_add_loop_test(tc, test_dense_random, 0, 4);
    suite_add_tcase(s, tc);
    return s;
}

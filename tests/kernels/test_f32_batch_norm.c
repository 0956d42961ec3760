/* f32 batch_norm (inference form): hand case and random against double. */
#include <check.h>
#include <stdlib.h>
#include "f32_test_util.h"

START_TEST(test_batch_norm_hand)
{
    /* x [2, 2]; channel 0: (x - 0) / sqrt(3 + 1) * 2 + 1; channel 1: (x - 2) / 1 * 1 + 0 */
    const float x[4] = {1, 2, -3, 5};
    const float gamma[2] = {2, 1}, beta[2] = {1, 0}, mean[2] = {0, 2}, var[2] = {3, 0};
    const double want[4] = {2, 0, -2, 3};
    FT_FOR_EACH_LEVEL(k) {
        float y[4];
        struct f32_batch_norm_params p = {.rows = 2, .channels = 2, .epsilon = 1.0f};
        k->batch_norm(&p, x, gamma, beta, mean, var, y);
        ft_expect_near(y, want, 4, 1e-6, 1e-6, k->level);
    }
}
END_TEST

START_TEST(test_batch_norm_random)
{
    uint64_t seed = 77;
    enum { ROWS = 20, C = 6, N = ROWS * C };
    float x[N], y[N], gamma[C], beta[C], mean[C], var[C];
    double want[N];
    ts_fill(&seed, x, N, -5, 5);
    ts_fill(&seed, gamma, C, 0.5f, 2);
    ts_fill(&seed, beta, C, -1, 1);
    ts_fill(&seed, mean, C, -1, 1);
    ts_fill(&seed, var, C, 0.01f, 4);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < C; c++)
            want[r * C + c] =
                ((double)x[r * C + c] - mean[c]) / sqrt((double)var[c] + 1e-5) * gamma[c] + beta[c];
    FT_FOR_EACH_LEVEL(k) {
        struct f32_batch_norm_params p = {.rows = ROWS, .channels = C, .epsilon = 1e-5f};
        k->batch_norm(&p, x, gamma, beta, mean, var, y);
        ft_expect_near(y, want, N, 1e-5, 1e-5, k->level);
    }
}
END_TEST

/* More channels than one block of scales (512) and a partial last block:
 * every channel gets its own scale and shift. */
START_TEST(test_batch_norm_many_channels)
{
    uint64_t seed = 78;
    enum { ROWS = 3, C = 1100, N = ROWS * C };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    float *prm = malloc(4 * C * sizeof *prm);
    double *want = malloc(N * sizeof *want);
    ck_assert(x && y && prm && want);
    float *gamma = prm, *beta = prm + C, *mean = prm + 2 * C, *var = prm + 3 * C;
    ts_fill(&seed, x, N, -5, 5);
    ts_fill(&seed, gamma, C, 0.5f, 2);
    ts_fill(&seed, beta, C, -1, 1);
    ts_fill(&seed, mean, C, -1, 1);
    ts_fill(&seed, var, C, 0.01f, 4);
    for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < C; c++)
            want[r * C + c] =
                ((double)x[r * C + c] - mean[c]) / sqrt((double)var[c] + 1e-3) * gamma[c] + beta[c];
    FT_FOR_EACH_LEVEL(k) {
        struct f32_batch_norm_params p = {.rows = ROWS, .channels = C, .epsilon = 1e-3f};
        k->batch_norm(&p, x, gamma, beta, mean, var, y);
        ft_expect_near(y, want, N, 1e-5, 1e-5, k->level);
    }
    free(x);
    free(y);
    free(prm);
    free(want);
}
END_TEST

Suite *suite_f32_batch_norm(void);
Suite *suite_f32_batch_norm(void)
{
    Suite *s = suite_create("f32_batch_norm");
    TCase *tc = tcase_create("batch_norm");
    tcase_add_test(tc, test_batch_norm_hand);
    tcase_add_test(tc, test_batch_norm_random);
    tcase_add_test(tc, test_batch_norm_many_channels);
    suite_add_tcase(s, tc);
    return s;
}

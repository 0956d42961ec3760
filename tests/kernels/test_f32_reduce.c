/* f32 mean over axes: hand cases and random rank-4 tensors against
 * direct nested loops in double. */
#include <check.h>
#include <stdlib.h>
#include "f32_test_util.h"

START_TEST(test_mean_hand)
{
    /* [2, 3] = [[1, 2, 3], [4, 5, 9]] */
    const float x[6] = {1, 2, 3, 4, 5, 9};
    const double rows[2] = {2, 6}, cols[3] = {2.5, 3.5, 6}, all[1] = {4};
    FT_FOR_EACH_LEVEL(k) {
        float y[6];
        struct f32_reduce_params p = {.rank = 2, .dims = {2, 3}, .reduce = {0, 1}};
        k->mean(&p, x, y);
        ft_expect_near(y, rows, 2, 1e-6, 0, k->level);
        p.reduce[0] = 1;
        p.reduce[1] = 0;
        k->mean(&p, x, y);
        ft_expect_near(y, cols, 3, 1e-6, 0, k->level);
        p.reduce[1] = 1;
        k->mean(&p, x, y);
        ft_expect_near(y, all, 1, 1e-6, 0, k->level);
        p.reduce[0] = p.reduce[1] = 0; /* no axis: a copy */
        k->mean(&p, x, y);
        const double same[6] = {1, 2, 3, 4, 5, 9};
        ft_expect_near(y, same, 6, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_mean_random)
{
    /* [2, 3, 4, 5], reduce mask _i in 1..15 */
    enum { A = 2, B = 3, C = 4, D = 5, N = A * B * C * D };
    uint64_t seed = 300 + (uint64_t)_i;
    float x[N], y[N];
    double want[N], sums[N];
    int counts[N];
    ts_fill(&seed, x, N, -4, 4);
    unsigned mask = (unsigned)_i;
    struct f32_reduce_params p = {.rank = 4, .dims = {A, B, C, D}};
    for (int a = 0; a < 4; a++)
        p.reduce[a] = (mask >> a) & 1u;
    size_t kept_dims[4], n_kept = 0;
    const size_t dims[4] = {A, B, C, D};
    for (int a = 0; a < 4; a++)
        if (!p.reduce[a])
            kept_dims[n_kept++] = dims[a];
    for (int i = 0; i < N; i++) {
        sums[i] = 0;
        counts[i] = 0;
    }
    for (size_t a = 0; a < A; a++)
        for (size_t b = 0; b < B; b++)
            for (size_t c = 0; c < C; c++)
                for (size_t d = 0; d < D; d++) {
                    size_t coord[4] = {a, b, c, d}, o = 0, t = 0;
                    for (int ax = 0; ax < 4; ax++)
                        if (!p.reduce[ax])
                            o = o * kept_dims[t++] + coord[ax];
                    sums[o] += x[((a * B + b) * C + c) * D + d];
                    counts[o]++;
                }
    size_t n_out = 1;
    for (size_t t = 0; t < n_kept; t++)
        n_out *= kept_dims[t];
    for (size_t o = 0; o < n_out; o++)
        want[o] = sums[o] / counts[o];
    FT_FOR_EACH_LEVEL(k) {
        k->mean(&p, x, y);
        ft_expect_near(y, want, n_out, 1e-6, 1e-6, k->level);
    }
}
END_TEST

Suite *suite_f32_reduce(void);
Suite *suite_f32_reduce(void)
{
    Suite *s = suite_create("f32_reduce");
    TCase *tc = tcase_create("reduce");
    tcase_add_test(tc, test_mean_hand);
    tcase_add_loop_test(tc, test_mean_random, 1, 16);
    suite_add_tcase(s, tc);
    return s;
}

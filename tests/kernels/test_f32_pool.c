/* f32 pools: max, average (padding not counted) and global average, by
 * hand and against window-counting formulas on random data. */
#include <check.h>
#include <stdlib.h>
#include "f32_test_util.h"

START_TEST(test_max_pool_hand)
{
    /* 4x4, 2x2 windows, stride 2 */
    const float x[16] = {1, 5, 2, 0, 3, 4, -1, 7, -2, -3, 9, 8, -4, -5, 6, 6};
    const double want[4] = {5, 7, -2, 9};
    FT_FOR_EACH_LEVEL(k) {
        struct f32_pool2d_params p = {.batch = 1, .in_h = 4, .in_w = 4, .channels = 1,
                                      .out_h = 2, .out_w = 2, .kernel_h = 2, .kernel_w = 2,
                                      .stride_h = 2, .stride_w = 2};
        float y[4];
        k->max_pool2d(&p, x, y);
        ft_expect_near(y, want, 4, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_max_pool_hand_negative_padded)
{
    /* all negative with padding: padding must not contribute a 0 */
    const float x[4] = {-4, -3, -2, -1};
    const double want[4] = {-4, -3, -2, -1}; /* windows grow from the top-left cell */
    FT_FOR_EACH_LEVEL(k) {
        struct f32_pool2d_params p = {.batch = 1, .in_h = 2, .in_w = 2, .channels = 1,
                                      .out_h = 2, .out_w = 2, .kernel_h = 2, .kernel_w = 2,
                                      .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_left = 1};
        float y[4];
        k->max_pool2d(&p, x, y);
        ft_expect_near(y, want, 4, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_avg_pool_hand_padding_not_counted)
{
    /* x = 1..9 (3x3), 3x3 window, stride 1, pad 1 all round:
     * corner (1+2+4+5)/4, edge (1+2+3+4+5+6)/6, centre 45/9 */
    const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
    const double want[9] = {3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7};
    FT_FOR_EACH_LEVEL(k) {
        struct f32_pool2d_params p = {.batch = 1, .in_h = 3, .in_w = 3, .channels = 1,
                                      .out_h = 3, .out_w = 3, .kernel_h = 3, .kernel_w = 3,
                                      .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_left = 1};
        float y[9];
        k->avg_pool2d(&p, x, y);
        ft_expect_near(y, want, 9, 1e-6, 0, k->level);
    }
}
END_TEST

START_TEST(test_global_avg_pool_hand)
{
    /* [1, 2, 2, 2]: channel 0 = 1,3,5,7; channel 1 = 2,4,6,-20 */
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, -20};
    const double want[2] = {4, -2};
    FT_FOR_EACH_LEVEL(k) {
        float y[2];
        k->global_avg_pool(1, 4, 2, x, y);
        ft_expect_near(y, want, 2, 1e-6, 0, k->level);
    }
}
END_TEST

struct pool_case {
    size_t batch, h, w, c, kh, kw, sh, sw, pt, pl, pb, pr;
};
static const struct pool_case pool_cases[] = {
    {1, 6, 6, 3, 2, 2, 2, 2, 0, 0, 0, 0},
    {2, 7, 5, 4, 3, 3, 2, 2, 1, 1, 1, 1},
    {3, 5, 8, 2, 3, 2, 1, 3, 2, 0, 1, 1},
    {1, 4, 4, 1, 4, 4, 1, 1, 3, 3, 3, 3},
};

START_TEST(test_pool_random)
{
    const struct pool_case *c = &pool_cases[_i];
    uint64_t seed = 7 + (uint64_t)_i;
    struct f32_pool2d_params p = {.batch = c->batch, .in_h = c->h, .in_w = c->w, .channels = c->c,
                                  .kernel_h = c->kh, .kernel_w = c->kw, .stride_h = c->sh,
                                  .stride_w = c->sw, .pad_top = c->pt, .pad_left = c->pl};
    p.out_h = (c->h + c->pt + c->pb - c->kh) / c->sh + 1;
    p.out_w = (c->w + c->pl + c->pr - c->kw) / c->sw + 1;
    size_t nx = c->batch * c->h * c->w * c->c, ny = c->batch * p.out_h * p.out_w * c->c;
    float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
    double *want_max = malloc(ny * sizeof(double)), *want_avg = malloc(ny * sizeof(double));
    ck_assert(x && y && want_max && want_avg);
    ts_fill(&seed, x, nx, -3, 1);
    for (size_t n = 0; n < c->batch; n++)
        for (size_t oy = 0; oy < p.out_h; oy++)
            for (size_t ox = 0; ox < p.out_w; ox++)
                for (size_t ch = 0; ch < c->c; ch++) {
                    double sum = 0, max = -INFINITY;
                    int count = 0;
                    for (long ky = 0; ky < (long)c->kh; ky++)
                        for (long kx = 0; kx < (long)c->kw; kx++) {
                            long iy = (long)(oy * c->sh) - (long)c->pt + ky;
                            long ix = (long)(ox * c->sw) - (long)c->pl + kx;
                            if (iy < 0 || ix < 0 || iy >= (long)c->h || ix >= (long)c->w)
                                continue;
                            double v = x[((n * c->h + (size_t)iy) * c->w + (size_t)ix) * c->c + ch];
                            sum += v;
                            count++;
                            if (v > max)
                                max = v;
                        }
                    size_t o = ((n * p.out_h + oy) * p.out_w + ox) * c->c + ch;
                    ck_assert_int_gt(count, 0);
                    want_avg[o] = sum / count;
                    want_max[o] = max;
                }
    FT_FOR_EACH_LEVEL(k) {
        k->max_pool2d(&p, x, y);
        ft_expect_near(y, want_max, ny, 0, 0, k->level);
        k->avg_pool2d(&p, x, y);
        ft_expect_near(y, want_avg, ny, 1e-6, 1e-6, k->level);
    }
    free(x);
    free(y);
    free(want_max);
    free(want_avg);
}
END_TEST

START_TEST(test_global_avg_pool_random)
{
    uint64_t seed = 3;
    const size_t batch = 3, pixels = 49, ch = 5;
    float x[3 * 49 * 5], y[15];
    double want[15];
    ts_fill(&seed, x, batch * pixels * ch, -1, 1);
    for (size_t n = 0; n < batch; n++)
        for (size_t c = 0; c < ch; c++) {
            double s = 0;
            for (size_t i = 0; i < pixels; i++)
                s += x[(n * pixels + i) * ch + c];
            want[n * ch + c] = s / pixels;
        }
    FT_FOR_EACH_LEVEL(k) {
        k->global_avg_pool(batch, pixels, ch, x, y);
        ft_expect_near(y, want, batch * ch, 1e-6, 1e-6, k->level);
    }
}
END_TEST

Suite *suite_f32_pool(void);
Suite *suite_f32_pool(void)
{
    Suite *s = suite_create("f32_pool");
    TCase *tc = tcase_create("pool");
    tcase_add_test(tc, test_max_pool_hand);
    tcase_add_test(tc, test_max_pool_hand_negative_padded);
    tcase_add_test(tc, test_avg_pool_hand_padding_not_counted);
    tcase_add_test(tc, test_global_avg_pool_hand);
    tcase_add_loop_test(tc, test_pool_random, 0, (int)(sizeof pool_cases / sizeof pool_cases[0]));
    tcase_add_test(tc, test_global_avg_pool_random);
    suite_add_tcase(s, tc);
    return s;
}

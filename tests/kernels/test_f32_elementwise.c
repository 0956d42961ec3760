/* f32 element-wise kernels: activations and add/mul with broadcast and
 * clamp, by hand and against double formulas. */
#include <check.h>
#include <stdlib.h>
#include "f32_test_util.h"

static const float xs[6] = {-7, -1, 0, 0.5f, 6, 100};

START_TEST(test_activations_hand)
{
    const double relu[6] = {0, 0, 0, 0.5, 6, 100};
    const double relu6[6] = {0, 0, 0, 0.5, 6, 6};
    const double leaky[6] = {-0.7, -0.1, 0, 0.5, 6, 100};
    FT_FOR_EACH_LEVEL(k) {
        float y[6];
        k->relu(6, xs, y, 0.0f);
        ft_expect_near(y, relu, 6, 0, 0, k->level);
        k->relu6(6, xs, y, 0.0f);
        ft_expect_near(y, relu6, 6, 0, 0, k->level);
        k->leaky_relu(6, xs, y, 0.1f);
        ft_expect_near(y, leaky, 6, 1e-7, 1e-6, k->level);
        /* sigmoid(0) = 1/2, sigmoid(-x) = 1 - sigmoid(x), saturation */
        const float s_in[4] = {0, -100, 100, -1000};
        const double s_want[4] = {0.5, 0, 1, 0};
        k->sigmoid(4, s_in, y, 0.0f);
        ft_expect_near(y, s_want, 4, 1e-30, 1e-7, k->level);
        const float t_in[3] = {0, 50, -50};
        const double t_want[3] = {0, 1, -1};
        k->tanh(3, t_in, y, 0.0f);
        ft_expect_near(y, t_want, 3, 0, 1e-7, k->level);
        /* in place */
        float z[6];
        for (int i = 0; i < 6; i++)
            z[i] = xs[i];
        k->relu6(6, z, z, 0.0f);
        ft_expect_near(z, relu6, 6, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_activations_random)
{
    uint64_t seed = 42;
    enum { N = 1000 };
    float x[N], y[N];
    double want[N];
    ts_fill(&seed, x, N, -12, 12);
    FT_FOR_EACH_LEVEL(k) {
        for (int i = 0; i < N; i++)
            want[i] = 1.0 / (1.0 + exp(-(double)x[i]));
        k->sigmoid(N, x, y, 0.0f);
        ft_expect_near(y, want, N, 1e-7, 1e-6, k->level);
        for (int i = 0; i < N; i++)
            want[i] = tanh((double)x[i]);
        k->tanh(N, x, y, 0.0f);
        ft_expect_near(y, want, N, 1e-7, 1e-6, k->level);
        for (int i = 0; i < N; i++)
            want[i] = x[i] > 0 ? x[i] : 0.25 * x[i];
        k->leaky_relu(N, x, y, 0.25f);
        ft_expect_near(y, want, N, 0, 1e-7, k->level);
    }
}
END_TEST

START_TEST(test_binary_hand)
{
    /* a [2, 3]; b same shape, then b [3] broadcast over the last axis */
    const float a[6] = {1, 2, 3, 4, 5, 6};
    const float b_full[6] = {10, 20, 30, 40, 50, 60};
    const float b_row[3] = {-1, 0, 2};
    const double add_full[6] = {11, 22, 33, 44, 55, 66};
    const double add_row[6] = {0, 2, 5, 3, 5, 8};
    const double mul_row[6] = {-1, 0, 6, -4, 0, 12};
    const double mul_row_relu6[6] = {0, 0, 6, 0, 0, 6};
    FT_FOR_EACH_LEVEL(k) {
        float y[6];
        struct f32_binary_params p = {.n = 6, .b_n = 6, .out_min = -INFINITY, .out_max = INFINITY};
        k->add(&p, a, b_full, y);
        ft_expect_near(y, add_full, 6, 0, 0, k->level);
        p.b_n = 3;
        k->add(&p, a, b_row, y);
        ft_expect_near(y, add_row, 6, 0, 0, k->level);
        k->mul(&p, a, b_row, y);
        ft_expect_near(y, mul_row, 6, 0, 0, k->level);
        p.out_min = 0;
        p.out_max = 6;
        k->mul(&p, a, b_row, y);
        ft_expect_near(y, mul_row_relu6, 6, 0, 0, k->level);
        /* in place on a */
        float z[6] = {1, 2, 3, 4, 5, 6};
        p.out_min = -INFINITY;
        p.out_max = INFINITY;
        k->add(&p, z, b_row, z);
        ft_expect_near(z, add_row, 6, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_binary_random)
{
    uint64_t seed = 5;
    enum { ROWS = 13, C = 7, N = ROWS * C };
    float a[N], b[N], y[N];
    double want[N];
    ts_fill(&seed, a, N, -2, 2);
    ts_fill(&seed, b, N, -2, 2);
    FT_FOR_EACH_LEVEL(k) {
        struct f32_binary_params p = {.n = N, .b_n = C, .out_min = -1, .out_max = 1};
        for (int r = 0; r < ROWS; r++)
            for (int c = 0; c < C; c++) {
                double v = (double)a[r * C + c] + b[c];
                want[r * C + c] = v < -1 ? -1 : v > 1 ? 1 : v;
            }
        k->add(&p, a, b, y);
        ft_expect_near(y, want, N, 0, 1e-7, k->level);
        p.b_n = N;
        p.out_min = -INFINITY;
        p.out_max = INFINITY;
        for (int i = 0; i < N; i++)
            want[i] = (double)a[i] * b[i];
        k->mul(&p, a, b, y);
        ft_expect_near(y, want, N, 0, 1e-7, k->level);
    }
}
END_TEST

Suite *suite_f32_elementwise(void);
Suite *suite_f32_elementwise(void)
{
    Suite *s = suite_create("f32_elementwise");
    TCase *tc = tcase_create("elementwise");
    tcase_add_test(tc, test_activations_hand);
    tcase_add_test(tc, test_activations_random);
    tcase_add_test(tc, test_binary_hand);
    tcase_add_test(tc, test_binary_random);
    suite_add_tcase(s, tc);
    return s;
}

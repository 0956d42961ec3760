/* f32 softmax: hand cases, huge inputs (stability), and random tensors
 * against exp/sum in double along every axis. */
#include <check.h>
#include <stdlib.h>
#include "f32_test_util.h"

START_TEST(test_softmax_hand)
{
    /* softmax([0, ln 3]) = [1/4, 3/4]; softmax of equal values is uniform */
    const float x[5] = {0, 1.0986122886681098f, 2, 2, 2};
    const double want[5] = {0.25, 0.75, 1.0 / 3, 1.0 / 3, 1.0 / 3};
    FT_FOR_EACH_LEVEL(k) {
        float y[5];
        struct f32_softmax_params p = {.outer = 1, .axis_len = 2, .inner = 1};
        k->softmax(&p, x, y);
        p.axis_len = 3;
        k->softmax(&p, x + 2, y + 2);
        ft_expect_near(y, want, 5, 1e-7, 1e-6, k->level);
    }
}
END_TEST

START_TEST(test_softmax_stable)
{
    /* exp(1000) overflows float: a stable softmax still gives 1/2, 1/2 */
    const float x[4] = {1000, 1000, -1000, -1000 + 0.6931471805599453f};
    const double want[4] = {0.5, 0.5, 1.0 / 3, 2.0 / 3};
    FT_FOR_EACH_LEVEL(k) {
        float y[4];
        struct f32_softmax_params p = {.outer = 2, .axis_len = 2, .inner = 1};
        k->softmax(&p, x, y);
        ft_expect_near(y, want, 4, 1e-6, 1e-4, k->level);
    }
}
END_TEST

START_TEST(test_softmax_random_each_axis)
{
    /* [3, 4, 5] along axis _i */
    const size_t dims[3] = {3, 4, 5};
    enum { N = 60 };
    uint64_t seed = 11 + (uint64_t)_i;
    float x[N], y[N];
    double want[N];
    ts_fill(&seed, x, N, -20, 20);
    int axis = _i;
    struct f32_softmax_params p = {.outer = 1, .axis_len = dims[axis], .inner = 1};
    for (int d = 0; d < axis; d++)
        p.outer *= dims[d];
    for (int d = axis + 1; d < 3; d++)
        p.inner *= dims[d];
    for (size_t i = 0; i < 3; i++)
        for (size_t j = 0; j < 4; j++)
            for (size_t l = 0; l < 5; l++) {
                size_t idx[3] = {i, j, l};
                double sum = 0;
                for (size_t t = 0; t < dims[axis]; t++) {
                    size_t jdx[3] = {i, j, l};
                    jdx[axis] = t;
                    sum += exp((double)x[(jdx[0] * 4 + jdx[1]) * 5 + jdx[2]]);
                }
                want[(idx[0] * 4 + idx[1]) * 5 + idx[2]] = exp((double)x[(i * 4 + j) * 5 + l]) / sum;
            }
    FT_FOR_EACH_LEVEL(k) {
        k->softmax(&p, x, y);
        ft_expect_near(y, want, N, 1e-7, 1e-5, k->level);
    }
}
END_TEST

Suite *suite_f32_softmax(void);
Suite *suite_f32_softmax(void)
{
    Suite *s = suite_create("f32_softmax");
    TCase *tc = tcase_create("softmax");
    tcase_add_test(tc, test_softmax_hand);
    tcase_add_test(tc, test_softmax_stable);
    tcase_add_loop_test(tc, test_softmax_random_each_axis, 0, 3);
    suite_add_tcase(s, tc);
    return s;
}

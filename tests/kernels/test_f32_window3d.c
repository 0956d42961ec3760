/* f32 conv3d and pool3d (NDHWC): against conv2d and pool2d applied to
 * depth slices (a depth kernel of 1 gives conv2d's numbers exactly; a
 * deeper one the sum of per-slice convolutions, in double), and small
 * pools worked out by hand, for every kernel level. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "f32_test_util.h"

static float *random_floats(size_t n, unsigned seed)
{
    float *p = ft_alloc_floats(n);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return p;
}

/* The output extent of one axis. */
static size_t out_extent(size_t in, size_t pad_a, size_t pad_b, size_t k, size_t dil, size_t s)
{
    return (in + pad_a + pad_b - dil * (k - 1) - 1) / s + 1;
}

/* conv3d of p against the sum over kd of conv2d (no bias) on the input
 * depth slice each tap reads, plus the bias, in double. */
static void check_conv3d_by_slices(const struct f32_kernels *k, struct f32_conv3d_params p,
                                   size_t pad_back, unsigned seed, bool exact)
{
    const size_t cg = p.in_c / p.groups, taps2 = p.kernel[1] * p.kernel[2];
    const size_t in_slice = p.in[1] * p.in[2] * p.in_c;
    p.out[0] = out_extent(p.in[0], p.pad[0], pad_back, p.kernel[0], p.dilation[0], p.stride[0]);
    const size_t xn = p.batch * p.in[0] * in_slice;
    const size_t wn = p.out_c * p.kernel[0] * taps2 * cg;
    float *x = random_floats(xn, seed), *w = random_floats(wn, seed + 1);
    float *b = random_floats(p.out_c, seed + 2);
    struct f32_conv2d_params q = {
        .batch = 1, .in_h = p.in[1], .in_w = p.in[2], .in_c = p.in_c, .out_h = p.out[1],
        .out_w = p.out[2], .out_c = p.out_c, .kernel_h = p.kernel[1], .kernel_w = p.kernel[2],
        .stride_h = p.stride[1], .stride_w = p.stride[2], .dilation_h = p.dilation[1],
        .dilation_w = p.dilation[2], .pad_top = p.pad[1], .pad_left = p.pad[2],
        .groups = p.groups, .out_min = -INFINITY, .out_max = INFINITY};
    const size_t out_slice = p.out[1] * p.out[2] * p.out_c;
    const size_t yn = p.batch * p.out[0] * out_slice;
    float *y = ft_alloc_floats(yn), *y2 = ft_alloc_floats(out_slice);
    float *w2 = ft_alloc_floats(p.out_c * taps2 * cg);
    double *want = calloc(yn, sizeof *want);
    ck_assert_ptr_nonnull(want);
    for (size_t n = 0; n < p.batch; n++)
        for (size_t od = 0; od < p.out[0]; od++) {
            double *wd = want + (n * p.out[0] + od) * out_slice;
            for (size_t i = 0; i < out_slice; i++)
                wd[i] = b[i % p.out_c];
            for (size_t kd = 0; kd < p.kernel[0]; kd++) {
                long id = (long)(od * p.stride[0] + kd * p.dilation[0]) - (long)p.pad[0];
                if (id < 0 || id >= (long)p.in[0])
                    continue;
                for (size_t o = 0; o < p.out_c; o++) /* w[o, kd] as [O, KH, KW, C/g] */
                    memcpy(w2 + o * taps2 * cg, w + (o * p.kernel[0] + kd) * taps2 * cg,
                           taps2 * cg * sizeof *w);
                f32_conv2d__ref(&q, x + (n * p.in[0] + (size_t)id) * in_slice, w2, NULL, y2);
                for (size_t i = 0; i < out_slice; i++)
                    wd[i] += y2[i];
            }
        }
    k->conv3d(&p, x, w, b, y);
    if (exact) {
        /* one tap in depth: the bias then conv2d's sum, conv2d's float order */
        float *z = ft_alloc_floats(out_slice);
        for (size_t n = 0; n < p.batch; n++)
            for (size_t od = 0; od < p.out[0]; od++) {
                long id = (long)(od * p.stride[0]) - (long)p.pad[0];
                const float *yd = y + (n * p.out[0] + od) * out_slice;
                if (id < 0 || id >= (long)p.in[0]) {
                    for (size_t i = 0; i < out_slice; i++)
                        ck_assert_float_eq(yd[i], b[i % p.out_c]);
                    continue;
                }
                f32_conv2d__ref(&q, x + (n * p.in[0] + (size_t)id) * in_slice, w, b, z);
                ck_assert_msg(memcmp(z, yd, out_slice * sizeof *z) == 0,
                              "%s: conv3d with a depth kernel of 1 differs from conv2d at "
                              "sample %zu depth %zu",
                              k->level, n, od);
            }
        free(z);
    } else {
        ft_expect_near(y, want, yn, 1e-5, 1e-5, k->level);
    }
    free(x), free(w), free(b), free(y), free(y2), free(w2), free(want);
}

START_TEST(test_conv3d_depth_kernel_one_is_conv2d_per_slice)
{
    FT_FOR_EACH_LEVEL(k) {
        struct f32_conv3d_params p = {
            .batch = 2, .in = {3, 6, 5}, .in_c = 4, .out = {0, 3, 5}, .out_c = 6,
            .kernel = {1, 3, 2}, .stride = {2, 2, 1}, .dilation = {1, 1, 2},
            .pad = {1, 1, 1}, .groups = 2, .out_min = -INFINITY, .out_max = INFINITY};
        check_conv3d_by_slices(k, p, 1, 7, true);
    }
}
END_TEST

START_TEST(test_conv3d_is_the_sum_of_depth_slices)
{
    FT_FOR_EACH_LEVEL(k) {
        /* groups, stride, dilation and padding on every axis, uneven ends */
        struct f32_conv3d_params p = {
            .batch = 2, .in = {7, 5, 6}, .in_c = 6, .out = {0, 3, 3}, .out_c = 4,
            .kernel = {3, 2, 3}, .stride = {2, 2, 2}, .dilation = {2, 1, 1},
            .pad = {2, 1, 1}, .groups = 2, .out_min = -INFINITY, .out_max = INFINITY};
        check_conv3d_by_slices(k, p, 1, 11, false);
        /* depthwise */
        struct f32_conv3d_params d = {
            .batch = 1, .in = {4, 4, 4}, .in_c = 3, .out = {0, 4, 4}, .out_c = 6,
            .kernel = {3, 3, 3}, .stride = {1, 1, 1}, .dilation = {1, 1, 1},
            .pad = {1, 1, 1}, .groups = 3, .out_min = -INFINITY, .out_max = INFINITY};
        check_conv3d_by_slices(k, d, 1, 13, false);
    }
}
END_TEST

/* A fused relu6: the sum clamped to [0, 6]. x [1, 1, 1, 3, 1] = {-2, 1, 5},
 * a 1x1x2 kernel {1, 2}: with bias 1, {1 - 2 + 2, 1 + 1 + 10} = {1, 12}
 * -> {1, 6}; with bias -4, {-4, 7} -> {0, 6}. */
START_TEST(test_conv3d_clamps_to_its_activation)
{
    const float x[3] = {-2, 1, 5}, w[2] = {1, 2};
    FT_FOR_EACH_LEVEL(k) {
        struct f32_conv3d_params p = {
            .batch = 1, .in = {1, 1, 3}, .in_c = 1, .out = {1, 1, 2}, .out_c = 1,
            .kernel = {1, 1, 2}, .stride = {1, 1, 1}, .dilation = {1, 1, 1}, .groups = 1,
            .out_min = 0.0f, .out_max = 6.0f};
        float y[2], b = 1.0f;
        const double want[2] = {1, 6}, want_neg[2] = {0, 6};
        k->conv3d(&p, x, w, &b, y);
        ft_expect_near(y, want, 2, 0, 0, k->level);
        b = -4.0f;
        k->conv3d(&p, x, w, &b, y);
        ft_expect_near(y, want_neg, 2, 0, 0, k->level);
    }
}
END_TEST

/* x [1, 2, 2, 2, 1] = 1..8 (depth slices {1, 2, 3, 4} and {5, 6, 7, 8}) */
static const float x8[8] = {1, 2, 3, 4, 5, 6, 7, 8};

START_TEST(test_pool3d_hand)
{
    FT_FOR_EACH_LEVEL(k) {
        /* the whole cube: max 8, mean 4.5 */
        struct f32_pool3d_params p = {
            .batch = 1, .in = {2, 2, 2}, .channels = 1, .out = {1, 1, 1}, .kernel = {2, 2, 2},
            .stride = {1, 1, 1}, .dilation = {1, 1, 1}};
        float y[2];
        k->max_pool3d(&p, x8, y);
        ck_assert_float_eq(y[0], 8.0f);
        k->avg_pool3d(&p, x8, y);
        ck_assert_float_eq(y[0], 4.5f);
        /* one slice of padding in front: the first window holds only
         * slice 0 (padding not counted), the second the whole cube */
        p.out[0] = 2;
        p.pad[0] = 1;
        const double want_avg[2] = {2.5, 4.5}, want_max[2] = {4, 8};
        k->avg_pool3d(&p, x8, y);
        ft_expect_near(y, want_avg, 2, 0, 0, k->level);
        k->max_pool3d(&p, x8, y);
        ft_expect_near(y, want_max, 2, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_max_pool3d_dilation_and_empty_window)
{
    /* x [1, 5, 1, 1, 1] = {3, 1, 4, 1, 5}: kernel 2 at dilation 3 takes
     * x[d] and x[d + 3] */
    const float x[5] = {3, 1, 4, 1, 5};
    FT_FOR_EACH_LEVEL(k) {
        struct f32_pool3d_params p = {
            .batch = 1, .in = {5, 1, 1}, .channels = 1, .out = {2, 1, 1}, .kernel = {2, 1, 1},
            .stride = {1, 1, 1}, .dilation = {3, 1, 1}};
        float y[2];
        const double want[2] = {3, 5};
        k->max_pool3d(&p, x, y);
        ft_expect_near(y, want, 2, 0, 0, k->level);
        /* in = 1, pad 1 both ends, kernel 2 at dilation 2: the only
         * window's taps are -1 and 1, both padding: -inf */
        struct f32_pool3d_params e = {
            .batch = 1, .in = {1, 1, 1}, .channels = 1, .out = {1, 1, 1}, .kernel = {2, 1, 1},
            .stride = {1, 1, 1}, .dilation = {2, 1, 1}, .pad = {1, 0, 0}};
        k->max_pool3d(&e, x, y);
        ck_assert_msg(isinf(y[0]) && y[0] < 0, "%s: %g", k->level, (double)y[0]);
    }
}
END_TEST

/* A depth kernel of 1 gives pool2d's numbers on each slice. */
START_TEST(test_pool3d_depth_kernel_one_is_pool2d_per_slice)
{
    FT_FOR_EACH_LEVEL(k) {
        const size_t d = 3, h = 7, w = 6, c = 5;
        float *x = random_floats(2 * d * h * w * c, 21);
        struct f32_pool2d_params q = {.batch = 1, .in_h = h, .in_w = w, .channels = c,
                                      .out_h = 4, .out_w = 3, .kernel_h = 3, .kernel_w = 2,
                                      .stride_h = 2, .stride_w = 2, .pad_top = 1,
                                      .pad_left = 0};
        struct f32_pool3d_params p = {
            .batch = 2, .in = {d, h, w}, .channels = c, .out = {d, 4, 3}, .kernel = {1, 3, 2},
            .stride = {1, 2, 2}, .dilation = {1, 1, 1}, .pad = {0, 1, 0}};
        const size_t out_slice = 4 * 3 * c;
        float *y = ft_alloc_floats(2 * d * out_slice), *z = ft_alloc_floats(out_slice);
        for (int is_max = 0; is_max < 2; is_max++) {
            (is_max ? k->max_pool3d : k->avg_pool3d)(&p, x, y);
            for (size_t s = 0; s < 2 * d; s++) {
                (is_max ? f32_max_pool2d__ref : f32_avg_pool2d__ref)(&q, x + s * h * w * c, z);
                ck_assert_msg(memcmp(z, y + s * out_slice, out_slice * sizeof *z) == 0,
                              "%s: %s pool3d slice %zu differs from pool2d", k->level,
                              is_max ? "max" : "avg", s);
            }
        }
        free(x), free(y), free(z);
    }
}
END_TEST

Suite *suite_f32_window3d(void);
Suite *suite_f32_window3d(void)
{
    Suite *s = suite_create("f32_window3d");
    TCase *tc = tcase_create("window3d");
    tcase_add_test(tc, test_conv3d_depth_kernel_one_is_conv2d_per_slice);
    tcase_add_test(tc, test_conv3d_is_the_sum_of_depth_slices);
    tcase_add_test(tc, test_conv3d_clamps_to_its_activation);
    tcase_add_test(tc, test_pool3d_hand);
    tcase_add_test(tc, test_max_pool3d_dilation_and_empty_window);
    tcase_add_test(tc, test_pool3d_depth_kernel_one_is_pool2d_per_slice);
    suite_add_tcase(s, tc);
    return s;
}

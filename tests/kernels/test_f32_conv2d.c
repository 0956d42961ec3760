/* f32 conv2d: tiny cases worked out by hand, and random cases against
 * im2col + matrix multiply in double, for every kernel level. */
#include <check.h>
#include <stdlib.h>
#include "f32_test_util.h"

static const float x123[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}; /* [1, 3, 3, 1] */

static struct f32_conv2d_params one_channel(size_t k, size_t out)
{
    return (struct f32_conv2d_params){
        .batch = 1, .in_h = 3, .in_w = 3, .in_c = 1, .out_h = out, .out_w = out, .out_c = 1,
        .kernel_h = k, .kernel_w = k, .stride_h = 1, .stride_w = 1, .dilation_h = 1,
        .dilation_w = 1, .groups = 1, .out_min = -INFINITY, .out_max = INFINITY};
}

START_TEST(test_conv2d_hand_valid)
{
    /* w = [[1,2],[3,4]]: out[0,0] = 1*1 + 2*2 + 4*3 + 5*4 = 37, ... */
    const float w[4] = {1, 2, 3, 4};
    const double want[4] = {37, 47, 67, 77};
    FT_FOR_EACH_LEVEL(k) {
        struct f32_conv2d_params p = one_channel(2, 2);
        float y[4];
        k->conv2d(&p, x123, w, NULL, y);
        ft_expect_near(y, want, 4, 0, 0, k->level);
        const float b = -0.5f;
        const double want_b[4] = {36.5, 46.5, 66.5, 76.5};
        k->conv2d(&p, x123, w, &b, y);
        ft_expect_near(y, want_b, 4, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_conv2d_hand_pad_stride)
{
    /* 3x3 ones, pad 1, stride 2: windows at rows/cols {-1..1} and {1..3} */
    const float w[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    const double want[4] = {1 + 2 + 4 + 5, 2 + 3 + 5 + 6, 4 + 5 + 7 + 8, 5 + 6 + 8 + 9};
    FT_FOR_EACH_LEVEL(k) {
        struct f32_conv2d_params p = one_channel(3, 2);
        p.stride_h = p.stride_w = 2;
        p.pad_top = p.pad_left = 1;
        float y[4];
        k->conv2d(&p, x123, w, NULL, y);
        ft_expect_near(y, want, 4, 0, 0, k->level);
        /* relu6 clamp: everything is above 6 */
        p.out_min = 0.0f;
        p.out_max = 6.0f;
        const double six[4] = {6, 6, 6, 6};
        k->conv2d(&p, x123, w, NULL, y);
        ft_expect_near(y, six, 4, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_conv2d_hand_dilation)
{
    /* 2x2 ones with dilation 2 touch the four corners: 1 + 3 + 7 + 9 */
    const float w[4] = {1, 1, 1, 1};
    const double want[1] = {20};
    FT_FOR_EACH_LEVEL(k) {
        struct f32_conv2d_params p = one_channel(2, 1);
        p.dilation_h = p.dilation_w = 2;
        float y[1];
        k->conv2d(&p, x123, w, NULL, y);
        ft_expect_near(y, want, 1, 0, 0, k->level);
    }
}
END_TEST

START_TEST(test_conv2d_hand_depthwise)
{
    /* x [1,1,1,2] = [2, 3]; groups 2, multiplier 2: w [4,1,1,1];
     * outputs 0,1 read channel 0, outputs 2,3 channel 1 */
    const float x[2] = {2, 3}, w[4] = {10, -1, 100, 0.5f}, b[4] = {1, 2, 3, 4};
    const double want[4] = {21, 0, 303, 5.5};
    FT_FOR_EACH_LEVEL(k) {
        struct f32_conv2d_params p = {
            .batch = 1, .in_h = 1, .in_w = 1, .in_c = 2, .out_h = 1, .out_w = 1, .out_c = 4,
            .kernel_h = 1, .kernel_w = 1, .stride_h = 1, .stride_w = 1, .dilation_h = 1,
            .dilation_w = 1, .groups = 2, .out_min = -INFINITY, .out_max = INFINITY};
        float y[4];
        k->conv2d(&p, x, w, b, y);
        ft_expect_near(y, want, 4, 0, 0, k->level);
    }
}
END_TEST

/* y = im2col(x) * w^T per group, in double. */
static void conv_im2col(const struct f32_conv2d_params *p, const float *x, const float *w,
                        const float *b, double *y)
{
    size_t cg = p->in_c / p->groups, og = p->out_c / p->groups;
    size_t cols = p->kernel_h * p->kernel_w * cg;
    size_t rows = p->batch * p->out_h * p->out_w;
    double *a = calloc(rows * cols, sizeof *a);
    ck_assert_ptr_nonnull(a);
    for (size_t g = 0; g < p->groups; g++) {
        /* im2col: row = output pixel, column = (ky, kx, ci) of group g */
        for (size_t n = 0; n < p->batch; n++)
            for (size_t oy = 0; oy < p->out_h; oy++)
                for (size_t ox = 0; ox < p->out_w; ox++) {
                    size_t row = (n * p->out_h + oy) * p->out_w + ox;
                    for (size_t ky = 0; ky < p->kernel_h; ky++)
                        for (size_t kx = 0; kx < p->kernel_w; kx++)
                            for (size_t ci = 0; ci < cg; ci++) {
                                long iy = (long)(oy * p->stride_h + ky * p->dilation_h) -
                                          (long)p->pad_top;
                                long ix = (long)(ox * p->stride_w + kx * p->dilation_w) -
                                          (long)p->pad_left;
                                double v = 0.0;
                                if (iy >= 0 && ix >= 0 && iy < (long)p->in_h && ix < (long)p->in_w)
                                    v = x[((n * p->in_h + (size_t)iy) * p->in_w + (size_t)ix) *
                                              p->in_c + g * cg + ci];
                                a[row * cols + (ky * p->kernel_w + kx) * cg + ci] = v;
                            }
                }
        /* matrix multiply with the group's weight rows */
        for (size_t row = 0; row < rows; row++)
            for (size_t oo = 0; oo < og; oo++) {
                size_t o = g * og + oo;
                double acc = b ? b[o] : 0.0;
                for (size_t c = 0; c < cols; c++)
                    acc += a[row * cols + c] * w[o * cols + c];
                y[row * p->out_c + o] = acc;
            }
    }
    free(a);
}

struct conv_case {
    size_t batch, in_h, in_w, in_c, out_c, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, groups;
};

static const struct conv_case random_cases[] = {
    /* batch h  w  c  o  kh kw sh sw dh dw pt pl pb pr groups */
    {1, 5, 5, 3, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1},       /* plain */
    {2, 7, 6, 3, 5, 3, 2, 2, 1, 1, 1, 1, 0, 1, 1, 1},       /* strides, uneven pads */
    {3, 8, 9, 4, 6, 3, 3, 1, 2, 2, 1, 2, 1, 2, 0, 2},       /* dilation, groups 2 */
    {2, 6, 6, 5, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 5},       /* depthwise */
    {1, 7, 5, 3, 6, 5, 3, 2, 2, 1, 2, 2, 2, 2, 2, 3},       /* depthwise multiplier 2 */
    {2, 4, 4, 8, 3, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},       /* 1x1 */
    {1, 3, 3, 2, 2, 3, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1},       /* pads as large as the kernel - 1 */
};

START_TEST(test_conv2d_random_vs_im2col)
{
    const struct conv_case *c = &random_cases[_i];
    uint64_t seed = 0x1234u + (uint64_t)_i;
    struct f32_conv2d_params p = {
        .batch = c->batch, .in_h = c->in_h, .in_w = c->in_w, .in_c = c->in_c, .out_c = c->out_c,
        .kernel_h = c->kh, .kernel_w = c->kw, .stride_h = c->sh, .stride_w = c->sw,
        .dilation_h = c->dh, .dilation_w = c->dw, .pad_top = c->pt, .pad_left = c->pl,
        .groups = c->groups, .out_min = -INFINITY, .out_max = INFINITY};
    p.out_h = (c->in_h + c->pt + c->pb - c->dh * (c->kh - 1) - 1) / c->sh + 1;
    p.out_w = (c->in_w + c->pl + c->pr - c->dw * (c->kw - 1) - 1) / c->sw + 1;
    size_t nx = p.batch * p.in_h * p.in_w * p.in_c;
    size_t nw = p.out_c * p.kernel_h * p.kernel_w * (p.in_c / p.groups);
    size_t ny = p.batch * p.out_h * p.out_w * p.out_c;
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc(p.out_c * sizeof *b);
    float *y = malloc(ny * sizeof *y);
    double *want = malloc(ny * sizeof *want), *clamped = malloc(ny * sizeof *clamped);
    ck_assert(x && w && b && y && want && clamped);
    ts_fill(&seed, x, nx, -1, 1);
    ts_fill(&seed, w, nw, -1, 1);
    ts_fill(&seed, b, p.out_c, -1, 1);
    conv_im2col(&p, x, w, b, want);
    for (size_t i = 0; i < ny; i++)
        clamped[i] = want[i] < -0.25 ? -0.25 : want[i] > 0.5 ? 0.5 : want[i];
    FT_FOR_EACH_LEVEL(k) {
        k->conv2d(&p, x, w, b, y);
        ft_expect_near(y, want, ny, 1e-5, 1e-5, k->level);
        struct f32_conv2d_params pc = p;
        pc.out_min = -0.25f;
        pc.out_max = 0.5f;
        k->conv2d(&pc, x, w, b, y);
        ft_expect_near(y, clamped, ny, 1e-5, 1e-5, k->level);
        conv_im2col(&p, x, w, NULL, want); /* and without bias */
        k->conv2d(&p, x, w, NULL, y);
        ft_expect_near(y, want, ny, 1e-5, 1e-5, k->level);
        conv_im2col(&p, x, w, b, want);
    }
    free(x);
    free(w);
    free(b);
    free(y);
    free(want);
    free(clamped);
}
END_TEST

Suite *suite_f32_conv2d(void);
Suite *suite_f32_conv2d(void)
{
    Suite *s = suite_create("f32_conv2d");
    TCase *tc = tcase_create("conv2d");
    tcase_add_test(tc, test_conv2d_hand_valid);
    tcase_add_test(tc, test_conv2d_hand_pad_stride);
    tcase_add_test(tc, test_conv2d_hand_dilation);
    tcase_add_test(tc, test_conv2d_hand_depthwise);
    tcase_add_loop_test(tc, test_conv2d_random_vs_im2col, 0,
                        (int)(sizeof random_cases / sizeof random_cases[0]));
    suite_add_tcase(s, tc);
    return s;
}

/* The packed (fast) conv2d and dense entries of every kernel level this
 * CPU has, against the reference kernels with weights as stored, on
 * random shapes (and their max/average pools, which must match bit for
 * bit): odd sizes, channel counts that are not multiples of the
 * vector or tile widths, padding, strides, dilation, groups, depthwise
 * multipliers, batch 1 and more, K across several k blocks, every clamp.
 *
 * Tolerance: |fast - ref| <= 1e-5 * max(1, |ref|) * max(1, sqrt(K / 256)),
 * K the number of products in each sum. Both sides round each of their K
 * additions, in different orders, so their difference grows like sqrt(K);
 * up to K = 256 the bound is the plain 1e-5 relative one.
 *
 * Levels the CPU lacks are not registered (a line on stderr says so);
 * they count neither as passed nor as failed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "f32_test_util.h"

static double tolerance(double want, size_t k)
{
    double scale = sqrt((double)k / 256.0);
    return 1e-5 * fmax(1.0, fabs(want)) * fmax(1.0, scale);
}

static void expect_close(const float *got, const float *want, size_t n, size_t k,
                         const char *what)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(want[i])) {
            ck_assert_msg(isnan(got[i]), "%s: element %zu is %.9g, expected NaN", what, i,
                          (double)got[i]);
            continue;
        }
        double tol = tolerance(want[i], k);
        ck_assert_msg(fabs((double)got[i] - (double)want[i]) <= tol,
                      "%s: element %zu is %.9g, expected %.9g (tolerance %.3g)", what, i,
                      (double)got[i], (double)want[i], tol);
    }
}

static const struct f32_kernels *level_table(int level)
{
    const struct f32_kernels *k = f32_kernels_for_level((enum kernels_level)level);
    ck_assert_ptr_nonnull(k);
    return k;
}

/* ---- conv2d ---- */

static const float clamps[4][2] = {{-INFINITY, INFINITY}, {0, INFINITY}, {0, 6}, {-0.3f, 0.4f}};

/* Runs one case at one level; returns nothing, asserts. */
static void conv_check(const struct f32_kernels *k, const struct ft_conv_case *c, int clamp,
                       int with_bias, uint64_t *rng, const char *name)
{
    struct f32_conv2d_params p = {
        .batch = c->batch, .in_h = c->in_h, .in_w = c->in_w, .in_c = c->in_c,
        .out_h = ft_conv_out(c->in_h, c->kh, c->sh, c->dh, c->pt, c->pb),
        .out_w = ft_conv_out(c->in_w, c->kw, c->sw, c->dw, c->pl, c->pr),
        .out_c = c->out_c, .kernel_h = c->kh, .kernel_w = c->kw, .stride_h = c->sh,
        .stride_w = c->sw, .dilation_h = c->dh, .dilation_w = c->dw, .pad_top = c->pt,
        .pad_left = c->pl, .groups = c->groups,
        .out_min = clamps[clamp][0], .out_max = clamps[clamp][1]};
    const size_t cg = p.in_c / p.groups, K = p.kernel_h * p.kernel_w * cg;
    const size_t nx = p.batch * p.in_h * p.in_w * p.in_c;
    const size_t nw = p.out_c * K, ny = p.batch * p.out_h * p.out_w * p.out_c;
    /* x, y, packed and scratch misaligned and guarded (ft_alloc_guarded) */
    float *x = ft_alloc_guarded(nx), *w = ft_alloc_floats(nw), *b = ft_alloc_floats(p.out_c);
    float *want = ft_alloc_floats(ny), *got = ft_alloc_guarded(ny);
    ts_fill(rng, x, nx, -1, 1);
    ts_fill(rng, w, nw, -1, 1);
    ts_fill(rng, b, p.out_c, -1, 1);
    f32_conv2d__ref(&p, x, w, with_bias ? b : NULL, want);

    size_t np = k->conv2d_pack_size(&p), ns = k->conv2d_scratch_size(&p);
    float *packed = ft_alloc_guarded(np), *scratch = ns ? ft_alloc_guarded(ns) : NULL;
    k->conv2d_pack(&p, w, with_bias ? b : NULL, packed);
    ts_guarded_check(packed, "conv2d_pack");
    memset(w, 0xff, nw * sizeof *w); /* the packed kernel must not read w */
    for (size_t i = 0; i < ny; i++)
        got[i] = -12345.0f;
    k->conv2d_packed(&p, x, packed, scratch, got);
    ts_guarded_check(got, "conv2d_packed y");
    if (scratch)
        ts_guarded_check(scratch, "conv2d_packed scratch");
    char what[256];
    snprintf(what, sizeof what,
             "%s %s: conv n%zu %zux%zux%zu->%zu k%zux%zu s%zu,%zu d%zu,%zu p%zu,%zu,%zu,%zu g%zu "
             "clamp%d bias%d",
             k->level, name, c->batch, c->in_h, c->in_w, c->in_c, c->out_c, c->kh, c->kw, c->sh,
             c->sw, c->dh, c->dw, c->pt, c->pl, c->pb, c->pr, c->groups, clamp, with_bias);
    expect_close(got, want, ny, K, what);

    /* every sample alone gives the same bits as within the batch */
    if (p.batch > 1) {
        struct f32_conv2d_params one = p;
        one.batch = 1;
        const size_t sx = nx / p.batch, sy = ny / p.batch;
        float *y1 = ft_alloc_guarded(sy);
        for (size_t n = 0; n < p.batch; n++) {
            k->conv2d_packed(&one, x + n * sx, packed, scratch, y1);
            ts_guarded_check(y1, what);
            ck_assert_msg(memcmp(y1, got + n * sy, sy * sizeof *y1) == 0,
                          "%s: sample %zu alone differs from the batch", what, n);
        }
        ts_guarded_free(y1);
    }
    if (scratch)
        ts_guarded_check(scratch, what);
    ts_guarded_free(x);
    free(w);
    free(b);
    free(want);
    ts_guarded_free(got);
    ts_guarded_free(packed);
    ts_guarded_free(scratch);
}

/* Hand-picked shapes for each path, then random ones. */
static const struct ft_conv_case conv_cases[] = {
    /* batch in_h in_w in_c out_c kh kw sh sw dh dw pt pl pb pr groups */
    {2, 7, 7, 1, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* fmnist conv1 shape, K = 9 */
    {3, 5, 6, 32, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* K = 288: two k blocks */
    {1, 7, 7, 70, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* M = 49 (lone last row), K = 630 */
    {2, 6, 5, 17, 45, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1},  /* 1x1 direct, odd channels */
    {1, 1, 1, 300, 200, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1}, /* 1x1 on one pixel: gemv */
    {2, 9, 8, 13, 7, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},   /* 1x1 stride 2: im2col */
    {1, 6, 6, 5, 9, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* 1x1 with padding */
    {2, 11, 10, 6, 12, 3, 2, 2, 3, 2, 1, 2, 1, 0, 3, 3}, /* groups 3, uneven pads */
    {1, 9, 9, 24, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 4},  /* groups 4, 1x1-free */
    {3, 8, 7, 19, 19, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 19}, /* depthwise, odd channels */
    {2, 10, 9, 40, 40, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2, 40}, /* depthwise 5x5 stride 2 */
    {2, 7, 6, 5, 15, 3, 3, 1, 2, 2, 1, 2, 1, 2, 0, 5},   /* depthwise multiplier 3, dilation */
    {1, 6, 6, 12, 24, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 12}, /* depthwise multiplier 2 */
    {5, 3, 4, 3, 37, 2, 3, 1, 1, 1, 1, 0, 1, 1, 1, 1},   /* batch 5, 37 outputs */
    {1, 4, 4, 2, 3, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1},    /* kernel larger than input */
};

START_TEST(test_conv2d_cases)
{
    const struct f32_kernels *k = level_table(_i);
    uint64_t rng = 0x1234567ull + (uint64_t)_i;
    for (size_t i = 0; i < sizeof conv_cases / sizeof conv_cases[0]; i++)
        for (int clamp = 0; clamp < 4; clamp++)
            conv_check(k, &conv_cases[i], clamp, clamp != 2, &rng, "case");
}
END_TEST

START_TEST(test_conv2d_random)
{
    const struct f32_kernels *k = level_table(_i);
    uint64_t rng = 0xfeedbeefull;
    for (int t = 0; t < 60; t++) {
        struct ft_conv_case c;
        ft_random_conv_window(&rng, &c);
        int kind = (int)ft_pick(&rng, 0, 2); /* 0 dense groups, 1 grouped, 2 depthwise */
        size_t groups = kind == 0 ? 1 : kind == 1 ? ft_pick(&rng, 2, 4) : ft_pick(&rng, 2, 24);
        c.groups = groups;
        c.in_c = kind == 2 ? groups : groups * ft_pick(&rng, 1, 20);
        c.out_c = groups * ft_pick(&rng, 1, kind == 2 ? 3 : 40);
        c.in_h = (c.kh - 1) * c.dh + ft_pick(&rng, 1, 9);
        c.in_w = (c.kw - 1) * c.dw + ft_pick(&rng, 1, 9);
        conv_check(k, &c, (int)ft_pick(&rng, 0, 3), (int)ft_pick(&rng, 0, 1), &rng, "random");
    }
}
END_TEST

/* ---- dense ---- */

static void dense_check(const struct f32_kernels *k, size_t batch, size_t in_k, size_t out_n,
                        int clamp, int with_bias, int with_nan, uint64_t *rng)
{
    struct f32_dense_params p = {.batch = batch, .in_k = in_k, .out_n = out_n,
                                 .out_min = clamps[clamp][0], .out_max = clamps[clamp][1]};
    float *x = ft_alloc_guarded(batch * in_k), *w = ft_alloc_floats(out_n * in_k);
    float *b = ft_alloc_floats(out_n), *want = ft_alloc_floats(batch * out_n);
    float *got = ft_alloc_guarded(batch * out_n);
    ts_fill(rng, x, batch * in_k, -1, 1);
    ts_fill(rng, w, out_n * in_k, -1, 1);
    ts_fill(rng, b, out_n, -1, 1);
    if (with_nan)
        x[(batch - 1) * in_k + in_k / 2] = NAN; /* the last row is NaN, clamped or not */
    f32_dense__ref(&p, x, w, with_bias ? b : NULL, want);
    float *packed = ft_alloc_guarded(k->dense_pack_size(&p));
    k->dense_pack(&p, w, with_bias ? b : NULL, packed);
    ts_guarded_check(packed, "dense_pack");
    memset(w, 0xff, out_n * in_k * sizeof *w);
    k->dense_packed(&p, x, packed, got);
    ts_guarded_check(got, "dense_packed y");
    char what[160];
    snprintf(what, sizeof what, "%s: dense %zux%zu->%zu clamp%d bias%d nan%d", k->level, batch,
             in_k, out_n, clamp, with_bias, with_nan);
    expect_close(got, want, batch * out_n, in_k, what);
    if (with_nan)
        ck_assert_msg(isnan(got[batch * out_n - 1]), "%s: NaN did not pass the clamp", what);
    /* each row alone (gemv path) gives the same bits as within the batch */
    struct f32_dense_params one = p;
    one.batch = 1;
    float *y1 = ft_alloc_guarded(out_n);
    for (size_t n = 0; n < batch; n++) {
        k->dense_packed(&one, x + n * in_k, packed, y1);
        ts_guarded_check(y1, what);
        ck_assert_msg(memcmp(y1, got + n * out_n, out_n * sizeof *y1) == 0,
                      "%s: row %zu alone differs from the batch", what, n);
    }
    ts_guarded_free(y1);
    ts_guarded_free(x);
    free(w);
    free(b);
    free(want);
    ts_guarded_free(got);
    ts_guarded_free(packed);
}

START_TEST(test_dense_shapes)
{
    const struct f32_kernels *k = level_table(_i);
    uint64_t rng = 0xabcdefull;
    static const size_t shapes[][3] = {
        /* batch in_k out_n */
        {1, 1, 1},     {1, 7, 10},    {1, 128, 10},  {1, 3136, 128}, {1, 100, 129},
        {1, 513, 200}, {2, 17, 33},   {6, 64, 16},   {7, 300, 5},    {8, 256, 32},
        {9, 31, 65},   {13, 600, 47}, {25, 129, 130}, {64, 288, 64}, {3, 5, 300},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        for (int clamp = 0; clamp < 4; clamp++)
            dense_check(k, shapes[i][0], shapes[i][1], shapes[i][2], clamp, clamp != 1,
                        clamp == 1 || clamp == 2, &rng);
}
END_TEST

START_TEST(test_dense_random)
{
    const struct f32_kernels *k = level_table(_i);
    uint64_t rng = 0x5151ull;
    for (int t = 0; t < 40; t++)
        dense_check(k, ft_pick(&rng, 1, 20), ft_pick(&rng, 1, 700), ft_pick(&rng, 1, 150),
                    (int)ft_pick(&rng, 0, 3), (int)ft_pick(&rng, 0, 1), 0, &rng);
}
END_TEST

/* ---- pools: same windows, same order of additions: the same bits ---- */

START_TEST(test_pools_random)
{
    const struct f32_kernels *k = level_table(_i);
    uint64_t rng = 0x9001ull;
    for (int t = 0; t < 60; t++) {
        struct f32_pool2d_params p = {
            .batch = ft_pick(&rng, 1, 3), .channels = ft_pick(&rng, 1, 40),
            .kernel_h = ft_pick(&rng, 1, 4), .kernel_w = ft_pick(&rng, 1, 4),
            .stride_h = ft_pick(&rng, 1, 3), .stride_w = ft_pick(&rng, 1, 3),
            .pad_top = ft_pick(&rng, 0, 2), .pad_left = ft_pick(&rng, 0, 2)};
        p.in_h = ft_pick(&rng, 1, 9);
        p.in_w = ft_pick(&rng, 1, 9);
        /* out sizes may reach into the bottom/right padding, even windows
         * with no input cell */
        p.out_h = (p.in_h + p.pad_top + ft_pick(&rng, 0, 3)) / p.stride_h + 1;
        p.out_w = (p.in_w + p.pad_left + ft_pick(&rng, 0, 3)) / p.stride_w + 1;
        const size_t nx = p.batch * p.in_h * p.in_w * p.channels;
        const size_t ny = p.batch * p.out_h * p.out_w * p.channels;
        float *x = ft_alloc_guarded(nx), *want = ft_alloc_floats(ny), *got = ft_alloc_guarded(ny);
        ts_fill(&rng, x, nx, -2, 2);
        if (t % 5 == 0) {
            x[ft_pick(&rng, 0, nx - 1)] = NAN;
            x[ft_pick(&rng, 0, nx - 1)] = -0.0f;
            x[ft_pick(&rng, 0, nx - 1)] = 0.0f;
        }
        for (int avg = 0; avg < 2; avg++) {
            (avg ? f32_avg_pool2d__ref : f32_max_pool2d__ref)(&p, x, want);
            (avg ? k->avg_pool2d : k->max_pool2d)(&p, x, got);
            ts_guarded_check(got, k->level);
            for (size_t i = 0; i < ny; i++)
                ck_assert_msg(memcmp(&got[i], &want[i], sizeof got[i]) == 0 ||
                                  (isnan(got[i]) && isnan(want[i])),
                              "%s: %s pool case %d element %zu is %.9g, ref %.9g", k->level,
                              avg ? "avg" : "max", t, i, (double)got[i], (double)want[i]);
        }
        ts_guarded_free(x);
        free(want);
        ts_guarded_free(got);
    }
}
END_TEST

/* ---- matmul of two activations: sums in double in k order, the same
 * bits at every level; the reference is a dot product per element ---- */

START_TEST(test_matmul_random)
{
    const struct f32_kernels *k = level_table(_i);
    uint64_t rng = 0x3a7e ^ (uint64_t)_i;
    for (int t = 0; t < 80; t++) {
        struct f32_matmul_params p = {.lead = (int)ft_pick(&rng, 0, 2),
                                      .m = ft_pick(&rng, 1, 9), .k = ft_pick(&rng, 1, 40),
                                      .n = ft_pick(&rng, 1, 45)};
        size_t total = 1, na = p.m * p.k, nb = p.k * p.n;
        for (int d = p.lead - 1; d >= 0; d--) {
            p.dims[d] = ft_pick(&rng, 1, 3);
            bool a_bcast = ft_pick(&rng, 0, 3) == 0, b_bcast = !a_bcast && ft_pick(&rng, 0, 3) == 0;
            p.a_stride[d] = a_bcast ? 0 : na;
            p.b_stride[d] = b_bcast ? 0 : nb;
            na *= a_bcast ? 1 : p.dims[d];
            nb *= b_bcast ? 1 : p.dims[d];
            total *= p.dims[d];
        }
        const size_t ny = total * p.m * p.n;
        float *a = ft_alloc_guarded(na), *b = ft_alloc_guarded(nb);
        float *want = ft_alloc_floats(ny), *got = ft_alloc_guarded(ny);
        ts_fill(&rng, a, na, -3, 3);
        ts_fill(&rng, b, nb, -3, 3);
        f32_matmul__ref(&p, a, b, want);
        k->matmul(&p, a, b, got);
        ts_guarded_check(got, k->level);
        ck_assert_msg(memcmp(got, want, ny * sizeof *got) == 0, "%s: matmul case %d differs",
                      k->level, t);
        if (p.lead == 0) /* the reference against one dot product per element */
            for (size_t i = 0; i < p.m; i++)
                for (size_t j = 0; j < p.n; j++) {
                    double dot = 0.0;
                    for (size_t q = 0; q < p.k; q++)
                        dot += (double)a[i * p.k + q] * (double)b[q * p.n + j];
                    ck_assert_msg(want[i * p.n + j] == (float)dot,
                                  "ref matmul case %d (%zu, %zu): %.9g, dot %.9g", t, i, j,
                                  (double)want[i * p.n + j], dot);
                }
        ts_guarded_free(a);
        ts_guarded_free(b);
        free(want);
        ts_guarded_free(got);
    }
}
END_TEST

/* The ref table's packed entries are the reference itself: exact. */
START_TEST(test_ref_packed_is_exact)
{
    const struct f32_kernels *k = level_table(KERNELS_LEVEL_REF);
    uint64_t rng = 99;
    struct f32_conv2d_params p = {.batch = 2, .in_h = 5, .in_w = 4, .in_c = 6, .out_h = 5,
                                  .out_w = 4, .out_c = 4, .kernel_h = 3, .kernel_w = 3,
                                  .stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                  .dilation_w = 1, .pad_top = 1, .pad_left = 1, .groups = 2,
                                  .out_min = 0, .out_max = INFINITY};
    float x[2 * 5 * 4 * 6], w[4 * 9 * 3], y0[2 * 5 * 4 * 4], y1[2 * 5 * 4 * 4];
    ts_fill(&rng, x, sizeof x / sizeof x[0], -1, 1);
    ts_fill(&rng, w, sizeof w / sizeof w[0], -1, 1);
    ck_assert_uint_eq(k->conv2d_pack_size(&p), sizeof w / sizeof w[0] + 4);
    float packed[sizeof w / sizeof w[0] + 4];
    k->conv2d_pack(&p, w, NULL, packed);
    f32_conv2d__ref(&p, x, w, NULL, y0);
    k->conv2d_packed(&p, x, packed, NULL, y1);
    ck_assert_mem_eq(y0, y1, sizeof y0);
}
END_TEST

/* Every level the dispatcher offers has all packed entries. */
START_TEST(test_tables_complete)
{
    const struct f32_kernels *k = level_table(_i);
    ck_assert_str_eq(k->level, kernels_level_name((enum kernels_level)_i));
    ck_assert(k->conv2d_pack_size && k->conv2d_pack && k->conv2d_scratch_size &&
              k->conv2d_packed && k->dense_pack_size && k->dense_pack && k->dense_packed);
    ck_assert(k->conv2d && k->dense && k->max_pool2d && k->softmax && k->embedding && k->matmul);
}
END_TEST

Suite *suite_f32_fast(void);
Suite *suite_f32_fast(void)
{
    Suite *s = suite_create("f32_fast");
    TCase *tc = tcase_create("levels");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_ref_packed_is_exact);
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        bool hardware;
        if (ts_level_missing(l, false, &hardware)) {
            ts_add_level_skip(tc, "f32_fast", l, false);
            continue;
        }
        tcase_add_loop_test(tc, test_tables_complete, l, l + 1);
        tcase_add_loop_test(tc, test_conv2d_cases, l, l + 1);
        tcase_add_loop_test(tc, test_conv2d_random, l, l + 1);
        tcase_add_loop_test(tc, test_dense_shapes, l, l + 1);
        tcase_add_loop_test(tc, test_dense_random, l, l + 1);
        tcase_add_loop_test(tc, test_pools_random, l, l + 1);
        tcase_add_loop_test(tc, test_matmul_random, l, l + 1);
    }
    suite_add_tcase(s, tc);
    return s;
}

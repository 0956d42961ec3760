/* The packed conv2d of every fast level (implicit GEMM over padded images)
 * against the reference, whole and cut into pieces exactly as the runner's
 * thread split cuts it (split_rows: whole samples, or output rows of one
 * sample reading a shifted input with its own pad_top), each piece with
 * scratch sized for the whole op: every piece must give the same bits as
 * the whole op. Shapes aim at the paths of the driver: the input read in
 * place (no padding), padded copies of several samples (row tiles across
 * samples) or of one sample (images larger than a chunk), a lone last row
 * (gemv kernel, per segment) that must match the tiles' bits, kernel-row
 * segments and per-tap segments (groups, dilation), segments longer than
 * a k block. Plus the max pool's 2x2 path, bit for bit against the
 * reference.
 *
 * Tolerance as in test_f32_fast.c: 1e-5 * max(1, |ref|) * max(1,
 * sqrt(K / 256)). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "f32_test_util.h"
#include "runtime/threadpool.h"

static const float clamps[3][2] = {{-INFINITY, INFINITY}, {0, INFINITY}, {-0.3f, 0.4f}};

/* The op cut into `parts` as the runner does; each piece into y. */
static void run_pieces(const struct f32_kernels *k, const struct f32_conv2d_params *p,
                       const float *x, const float *packed, float *scratch, int parts, float *y)
{
    const struct split_window win = {
        .batch = (int64_t)p->batch, .in_h = (int64_t)p->in_h, .out_h = (int64_t)p->out_h,
        .kernel_h = (int64_t)p->kernel_h, .stride_h = (int64_t)p->stride_h,
        .dilation_h = (int64_t)p->dilation_h, .pad_top = (int64_t)p->pad_top};
    parts = split_rows_parts(&win, parts);
    for (int part = 0; part < parts; part++) {
        struct split_piece pc[3];
        int count = split_rows(&win, part, parts, pc);
        ck_assert_int_ge(count, 0);
        for (int i = 0; i < count; i++) {
            struct f32_conv2d_params q = *p;
            q.batch = (size_t)pc[i].batch;
            q.in_h = (size_t)pc[i].in_h;
            q.out_h = (size_t)pc[i].out_h;
            q.pad_top = (size_t)pc[i].pad_top;
            const float *xi =
                x + ((size_t)pc[i].n0 * p->in_h + (size_t)pc[i].iy0) * p->in_w * p->in_c;
            float *yi = y + ((size_t)pc[i].n0 * p->out_h + (size_t)pc[i].oy0) * p->out_w * p->out_c;
            k->conv2d_packed(&q, xi, packed, scratch, yi);
            ts_guarded_check(y, "conv2d_packed piece");
        }
    }
}

static void conv_pieces_check(const struct f32_kernels *k, const struct ft_conv_case *c, int clamp,
                              uint64_t *rng, const char *name)
{
    struct f32_conv2d_params p = {
        .batch = c->batch, .in_h = c->in_h, .in_w = c->in_w, .in_c = c->in_c,
        .out_h = ft_conv_out(c->in_h, c->kh, c->sh, c->dh, c->pt, c->pb),
        .out_w = ft_conv_out(c->in_w, c->kw, c->sw, c->dw, c->pl, c->pr),
        .out_c = c->out_c, .kernel_h = c->kh, .kernel_w = c->kw, .stride_h = c->sh,
        .stride_w = c->sw, .dilation_h = c->dh, .dilation_w = c->dw, .pad_top = c->pt,
        .pad_left = c->pl, .groups = c->groups,
        .out_min = clamps[clamp][0], .out_max = clamps[clamp][1]};
    const size_t K = p.kernel_h * p.kernel_w * (p.in_c / p.groups);
    const size_t nx = p.batch * p.in_h * p.in_w * p.in_c, nw = p.out_c * K;
    const size_t ny = p.batch * p.out_h * p.out_w * p.out_c;
    /* x, y, packed and scratch misaligned and guarded (ft_alloc_guarded) */
    float *x = ft_alloc_guarded(nx), *w = ft_alloc_floats(nw), *b = ft_alloc_floats(p.out_c);
    float *want = ft_alloc_floats(ny), *got = ft_alloc_guarded(ny), *cut = ft_alloc_guarded(ny);
    ts_fill(rng, x, nx, -1, 1);
    ts_fill(rng, w, nw, -1, 1);
    ts_fill(rng, b, p.out_c, -1, 1);
    f32_conv2d__ref(&p, x, w, b, want);

    const size_t ns = k->conv2d_scratch_size(&p);
    float *packed = ft_alloc_guarded(k->conv2d_pack_size(&p));
    float *scratch = ns ? ft_alloc_guarded(ns) : NULL;
    k->conv2d_pack(&p, w, b, packed);
    ts_guarded_check(packed, "conv2d_pack");
    for (size_t i = 0; i < ny; i++)
        got[i] = -12345.0f;
    k->conv2d_packed(&p, x, packed, scratch, got);
    ts_guarded_check(got, "conv2d_packed y");

    char what[256];
    snprintf(what, sizeof what,
             "%s %s: conv n%zu %zux%zux%zu->%zu k%zux%zu s%zu,%zu d%zu,%zu p%zu,%zu,%zu,%zu g%zu "
             "clamp%d",
             k->level, name, c->batch, c->in_h, c->in_w, c->in_c, c->out_c, c->kh, c->kw, c->sh,
             c->sw, c->dh, c->dw, c->pt, c->pl, c->pb, c->pr, c->groups, clamp);
    for (size_t i = 0; i < ny; i++) {
        double tol = 1e-5 * fmax(1.0, fabs(want[i])) * fmax(1.0, sqrt((double)K / 256.0));
        ck_assert_msg(fabs((double)got[i] - (double)want[i]) <= tol,
                      "%s: element %zu is %.9g, expected %.9g", what, i, (double)got[i],
                      (double)want[i]);
    }
    static const int cuts[] = {2, 3, 5, 8};
    for (size_t t = 0; t < sizeof cuts / sizeof cuts[0]; t++) {
        for (size_t i = 0; i < ny; i++)
            cut[i] = -12345.0f;
        run_pieces(k, &p, x, packed, scratch, cuts[t], cut);
        for (size_t i = 0; i < ny; i++)
            ck_assert_msg(memcmp(&cut[i], &got[i], sizeof got[i]) == 0,
                          "%s: in %d parts, element %zu is %.9g, whole op %.9g", what, cuts[t],
                          i, (double)cut[i], (double)got[i]);
    }
    if (scratch)
        ts_guarded_check(scratch, "conv2d_packed scratch");
    ts_guarded_free(x);
    free(w);
    free(b);
    free(want);
    ts_guarded_free(got);
    ts_guarded_free(cut);
    ts_guarded_free(packed);
    ts_guarded_free(scratch);
}

static const struct f32_kernels *fast_level(int level)
{
    const struct f32_kernels *k = f32_kernels_for_level((enum kernels_level)level);
    ck_assert_ptr_nonnull(k);
    return k;
}

static const struct ft_conv_case path_cases[] = {
    /* batch in_h in_w in_c out_c kh kw sh sw dh dw pt pl pb pr groups */
    {2, 9, 8, 5, 7, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1},     /* no padding: input read in place */
    {3, 9, 10, 3, 9, 3, 2, 2, 3, 1, 1, 0, 0, 0, 0, 1},    /* in place, strides, unused edge */
    {2, 9, 8, 13, 7, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1},    /* 1x1 stride 2, in place */
    {2, 6, 7, 4, 5, 3, 3, 1, 1, 1, 1, 0, 0, 2, 1, 1},     /* bottom/right padding only */
    {3, 5, 5, 1, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* 25 rows a sample: tiles cross them */
    {2, 45, 45, 40, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* a sample larger than a chunk */
    {3, 25, 25, 40, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* chunks of 2 samples, then 1 */
    {2, 5, 6, 100, 33, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* kernel rows of 300 > kc floats */
    {1, 4, 5, 600, 20, 1, 1, 1, 1, 1, 1, 1, 0, 1, 2, 2},  /* 1x1 padded, taps of 300 floats */
    {2, 13, 12, 2, 6, 7, 7, 1, 1, 2, 1, 6, 6, 6, 6, 2},   /* 49 taps of 1 float, dilation_h */
    {1, 24, 25, 3, 8, 11, 11, 1, 1, 1, 2, 5, 10, 5, 10, 1}, /* 121 taps: two k blocks */
    {3, 7, 7, 6, 12, 2, 3, 2, 1, 1, 2, 1, 2, 0, 1, 3},    /* groups, dilation_w: per-tap segments */
    {1, 3, 3, 4, 9, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 1},     /* windows wholly in the padding */
    {3, 3, 3, 40, 150, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* 9 rows a sample: lone last row */
    {2, 1, 1, 70, 140, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* one row, 5 panels, 2 k blocks */
    {3, 5, 5, 6, 20, 3, 3, 1, 1, 2, 1, 2, 2, 2, 2, 2},    /* 25 rows, per-tap segments */
};

START_TEST(test_conv_paths)
{
    const struct f32_kernels *k = fast_level(_i);
    uint64_t rng = 0x77aa11ull + (uint64_t)_i;
    for (size_t i = 0; i < sizeof path_cases / sizeof path_cases[0]; i++)
        conv_pieces_check(k, &path_cases[i], (int)(i % 3), &rng, "path");
}
END_TEST

START_TEST(test_conv_random_pieces)
{
    const struct f32_kernels *k = fast_level(_i);
    uint64_t rng = 0xc0ffee11ull;
    for (int t = 0; t < 50; t++) {
        struct ft_conv_case c;
        ft_random_conv_window(&rng, &c);
        c.groups = ft_pick(&rng, 0, 2) == 0 ? ft_pick(&rng, 2, 3) : 1;
        c.in_c = c.groups * ft_pick(&rng, 1, 40);
        c.out_c = c.groups * ft_pick(&rng, 1, 40);
        c.in_h = (c.kh - 1) * c.dh + ft_pick(&rng, 1, 12);
        c.in_w = (c.kw - 1) * c.dw + ft_pick(&rng, 1, 12);
        conv_pieces_check(k, &c, (int)ft_pick(&rng, 0, 2), &rng, "random");
    }
}
END_TEST

/* 2x2 max pools (stride 2 and 1, clipped windows at odd edges and in the
 * padding), odd channel counts, NaN and signed zeros: the reference's bits. */
START_TEST(test_max_pool_2x2)
{
    const struct f32_kernels *k = fast_level(_i);
    uint64_t rng = 0x2222ull;
    for (int t = 0; t < 60; t++) {
        const size_t s = t % 3 == 2 ? 1 : 2;
        struct f32_pool2d_params p = {
            .batch = ft_pick(&rng, 1, 3), .channels = ft_pick(&rng, 1, 70), .kernel_h = 2,
            .kernel_w = 2, .stride_h = s, .stride_w = s, .pad_top = ft_pick(&rng, 0, 1),
            .pad_left = ft_pick(&rng, 0, 1)};
        p.in_h = ft_pick(&rng, 1, 11);
        p.in_w = ft_pick(&rng, 1, 11);
        p.out_h = (p.in_h + p.pad_top + ft_pick(&rng, 0, 2)) / s;
        p.out_w = (p.in_w + p.pad_left + ft_pick(&rng, 0, 2)) / s;
        p.out_h = p.out_h ? p.out_h : 1;
        p.out_w = p.out_w ? p.out_w : 1;
        const size_t nx = p.batch * p.in_h * p.in_w * p.channels;
        const size_t ny = p.batch * p.out_h * p.out_w * p.channels;
        float *x = ft_alloc_guarded(nx), *want = ft_alloc_floats(ny), *got = ft_alloc_guarded(ny);
        ts_fill(&rng, x, nx, -2, 2);
        for (int j = 0; j < 3 && t % 4 == 0; j++) {
            x[ft_pick(&rng, 0, nx - 1)] = NAN;
            x[ft_pick(&rng, 0, nx - 1)] = -0.0f;
            x[ft_pick(&rng, 0, nx - 1)] = 0.0f;
        }
        f32_max_pool2d__ref(&p, x, want);
        k->max_pool2d(&p, x, got);
        ts_guarded_check(got, "max_pool2d");
        for (size_t i = 0; i < ny; i++)
            ck_assert_msg(memcmp(&got[i], &want[i], sizeof got[i]) == 0 ||
                              (isnan(got[i]) && isnan(want[i])),
                          "%s: 2x2 max pool case %d (%zux%zux%zu s%zu p%zu,%zu) element %zu is "
                          "%.9g, ref %.9g",
                          k->level, t, p.in_h, p.in_w, p.channels, s, p.pad_top, p.pad_left, i,
                          (double)got[i], (double)want[i]);
        ts_guarded_free(x);
        free(want);
        ts_guarded_free(got);
    }
}
END_TEST

Suite *suite_f32_conv_pieces(void);
Suite *suite_f32_conv_pieces(void)
{
    Suite *s = suite_create("f32_conv_pieces");
    TCase *tc = tcase_create("levels");
    tcase_set_timeout(tc, 300);
    for (int l = KERNELS_LEVEL_REF + 1; l < KERNELS_LEVEL_COUNT; l++) {
        bool hardware;
        if (ts_level_missing(l, false, &hardware)) {
            ts_add_level_skip(tc, "f32_conv_pieces", l, false);
            continue;
        }
        tcase_add_loop_test(tc, test_conv_paths, l, l + 1);
        tcase_add_loop_test(tc, test_conv_random_pieces, l, l + 1);
        tcase_add_loop_test(tc, test_max_pool_2x2, l, l + 1);
    }
    suite_add_tcase(s, tc);
    return s;
}

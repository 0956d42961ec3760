/* quanta report's details: histograms that grow by doubling (counts kept
 * exact, the result independent of chunking), the int8 range of a
 * quantized value, the class-by-class changes, and the SVG charts' element
 * counts. Expected values are worked out by hand in the comments. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/detail.h"
#include "report/svg.h"

static int64_t bin_sum(const struct report_hist *h)
{
    int64_t s = 0;
    for (int i = 0; i < REPORT_HIST_BINS; i++)
        s += h->bins[i];
    return s;
}

START_TEST(test_hist_fixed_range)
{
    struct report_hist h;
    report_hist_init(&h, 0.0, 64.0); /* one unit a bin */
    const float x[] = {0.0f, 0.5f, 1.0f, 63.5f, 64.0f, NAN, INFINITY};
    report_hist_add(&h, x, 7);
    ck_assert_int_eq(h.count, 5);
    ck_assert_int_eq(h.nonfinite, 2);
    ck_assert_int_eq(h.bins[0], 2);    /* 0 and 0.5 */
    ck_assert_int_eq(h.bins[1], 1);    /* 1 */
    ck_assert_int_eq(h.bins[63], 2);   /* 63.5 and 64 (hi falls in the last bin) */
    ck_assert_double_eq(h.lo, 0.0);
    ck_assert_double_eq(h.hi, 64.0);
    ck_assert_double_eq(h.min, 0.0);
    ck_assert_double_eq(h.max, 64.0);
}
END_TEST

START_TEST(test_hist_grows_by_doubling)
{
    struct report_hist h;
    report_hist_init(&h, 0.0, 64.0);
    report_hist_set_clip(&h, 0.0, 64.0);
    const float inside[] = {0.5f, 1.5f, 2.5f, 3.5f};
    report_hist_add(&h, inside, 4);
    const float up = 100.0f; /* [0, 64] -> [0, 128]: bins 2 wide, old 0+1 -> 0, 2+3 -> 1 */
    report_hist_add(&h, &up, 1);
    ck_assert_double_eq(h.lo, 0.0);
    ck_assert_double_eq(h.hi, 128.0);
    ck_assert_int_eq(h.bins[0], 2);
    ck_assert_int_eq(h.bins[1], 2);
    ck_assert_int_eq(h.bins[50], 1);   /* 100 / 2 */
    const float down = -1.0f; /* [0, 128] -> [-128, 128]: old bins to the upper half */
    report_hist_add(&h, &down, 1);
    ck_assert_double_eq(h.lo, -128.0);
    ck_assert_double_eq(h.hi, 128.0);
    ck_assert_int_eq(h.bins[31], 1);   /* -1 in [-4, 0) */
    ck_assert_int_eq(h.bins[32], 4);   /* 0.5 .. 3.5 in [0, 4) */
    ck_assert_int_eq(h.bins[57], 1);   /* 100 in [100, 104) */
    ck_assert_int_eq(bin_sum(&h), 6);
    ck_assert_int_eq(h.above, 1);
    ck_assert_int_eq(h.below, 1);
}
END_TEST

START_TEST(test_hist_chunking_does_not_matter)
{
    enum { N = 1000 };
    float x[N];
    for (int i = 0; i < N; i++)
        x[i] = (float)((i * 37 % 101) - 50) * (i % 7 == 0 ? 9.0f : 1.0f);
    struct report_hist a, b;
    report_hist_init(&a, -1.0, 1.0);
    report_hist_init(&b, -1.0, 1.0);
    report_hist_add(&a, x, N);
    for (int i = 0; i < N; i += 13)
        report_hist_add(&b, x + i, (size_t)(N - i < 13 ? N - i : 13));
    ck_assert_mem_eq(a.bins, b.bins, sizeof a.bins);
    ck_assert_double_eq(a.lo, b.lo);
    ck_assert_double_eq(a.hi, b.hi);
    ck_assert_int_eq(bin_sum(&a), N);
    ck_assert(a.lo <= -450.0 && a.hi >= 450.0); /* -50 * 9 and 50 * 9 */
}
END_TEST

START_TEST(test_hist_range_from_first_values)
{
    struct report_hist h;
    report_hist_init(&h, NAN, NAN);
    const float x[] = {2.0f, 4.0f};
    report_hist_add(&h, x, 2);
    ck_assert_double_eq(h.lo, 2.0);
    ck_assert_double_eq(h.hi, 4.0);
    ck_assert_int_eq(h.bins[0], 1);
    ck_assert_int_eq(h.bins[63], 1);
    struct report_hist one;
    report_hist_init(&one, NAN, NAN);
    report_hist_add(&one, x, 1); /* a single value: a unit range around it */
    ck_assert_double_eq(one.lo, 1.5);
    ck_assert_double_eq(one.hi, 2.5);
}
END_TEST

START_TEST(test_quant_range)
{
    struct graph_quant q = {.dtype = QUANTA_I8, .axis = -1, .n = 1, .scale = 0.5f,
                            .zero_point = -128};
    q.scales = &q.scale;
    q.zero_points = &q.zero_point;
    double lo, hi;
    ck_assert(report_quant_range(&q, &lo, &hi));
    ck_assert_double_eq(lo, 0.0);              /* 0.5 * (-128 + 128) */
    ck_assert_double_eq(hi, 127.5);            /* 0.5 * (127 + 128) */
    const float scales[2] = {0.25f, 1.0f};
    const int32_t zps[2] = {0, 0};
    struct graph_quant pc = {.dtype = QUANTA_I8, .axis = 0, .n = 2, .scales = scales,
                             .zero_points = zps};
    ck_assert(report_quant_range(&pc, &lo, &hi));
    ck_assert_double_eq(lo, -128.0);           /* the widest channel */
    ck_assert_double_eq(hi, 127.0);
    struct graph_quant u8 = q;
    u8.dtype = QUANTA_U8;
    u8.zero_point = 10;
    u8.scales = &u8.scale;
    u8.zero_points = &u8.zero_point;
    ck_assert(report_quant_range(&u8, &lo, &hi));
    ck_assert_double_eq(lo, -5.0);             /* 0.5 * (0 - 10) */
    ck_assert_double_eq(hi, 122.5);            /* 0.5 * (255 - 10) */
    struct graph_quant f = {.dtype = QUANTA_DTYPE_INVALID};
    ck_assert(!report_quant_range(&f, &lo, &hi));
}
END_TEST

START_TEST(test_changes)
{
    struct report_changes c;
    struct quanta_error err;
    ck_assert_int_eq(report_changes_init(&c, 3, &err), QUANTA_OK);
    /* label, model 1 scores, model 2 scores */
    const float s[][2][3] = {
        {{1, 0, 0}, {1, 0, 0}}, /* label 0: both right */
        {{1, 0, 0}, {0, 0, 1}}, /* label 0: 1 right, 2 says 2: lost [0][2] */
        {{0, 1, 0}, {1, 0, 0}}, /* label 1: lost [1][0] */
        {{0, 0, 1}, {0, 1, 0}}, /* label 1: 2 right, 1 wrong: gained */
        {{0, 0, 1}, {0, 0, 1}}, /* label 2: both right */
    };
    const int label[] = {0, 0, 1, 1, 2};
    for (int i = 0; i < 5; i++)
        report_changes_add(&c, s[i][0], s[i][1], label[i]);
    report_changes_add(&c, s[0][0], s[0][1], 3);  /* not a class: left out */
    ck_assert_int_eq(c.lost[0 * 3 + 2], 1);
    ck_assert_int_eq(c.lost[1 * 3 + 0], 1);
    ck_assert_int_eq(report_changes_lost(&c, 0), 1);
    ck_assert_int_eq(report_changes_lost(&c, 1), 1);
    ck_assert_int_eq(report_changes_lost(&c, 2), 0);
    ck_assert_int_eq(c.gained[1], 1);
    ck_assert_int_eq(c.samples[0] + c.samples[1] + c.samples[2], 5);
    ck_assert_int_eq(c.right1[0], 2);
    ck_assert_int_eq(c.right2[0], 1);
    ck_assert_int_eq(c.right1[1], 1);
    ck_assert_int_eq(c.right2[1], 1);
    report_changes_free(&c);
    ck_assert_ptr_null(c.lost);
}
END_TEST

static int count(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)) != NULL; p += strlen(what))
        n++;
    return n;
}

START_TEST(test_svg_counts)
{
    struct report_hist h;
    report_hist_init(&h, 0.0, 4.0);
    report_hist_set_clip(&h, 1.0, 3.0);
    const float x[] = {0.1f, 0.11f, 2.0f, 3.9f}; /* bins of 1/16: 1, 1, 32, 62 */
    report_hist_add(&h, x, 4);
    struct report_buf b = {0};
    report_svg_hist(&b, &h, "act", "a <b> & \"c\"");
    ck_assert(!b.nomem);
    ck_assert_int_eq(count(b.data, "<svg "), 1);
    ck_assert_int_eq(count(b.data, "class=\"bar\""), 3);
    ck_assert_int_eq(count(b.data, "class=\"clip\""), 2);
    ck_assert_ptr_null(strstr(b.data, "<b>"));
    ck_assert_ptr_nonnull(strstr(b.data, "a &lt;b&gt; &amp; &quot;c&quot;"));
    report_buf_free(&b);

    const char *names[] = {"x", "y", "z", "w"};
    const double v[] = {10.0, INFINITY, NAN, -3.0};
    report_svg_bars(&b, 4, names, v, "dB", "sqnr", "layer");
    ck_assert_int_eq(count(b.data, "<rect class=\"bar"), 4);
    ck_assert_int_eq(count(b.data, "class=\"bar inf\""), 1);
    ck_assert_int_eq(count(b.data, "class=\"bar nan\""), 1);
    ck_assert_int_eq(count(b.data, "href=\"#layer-"), 4);
    ck_assert_ptr_nonnull(strstr(b.data, "href=\"#layer-3\""));
    report_buf_free(&b);
}
END_TEST

Suite *suite_report_detail(void);
Suite *suite_report_detail(void)
{
    Suite *s = suite_create("report_detail");
    TCase *tc = tcase_create("detail");
    tcase_add_test(tc, test_hist_fixed_range);
    tcase_add_test(tc, test_hist_grows_by_doubling);
    tcase_add_test(tc, test_hist_chunking_does_not_matter);
    tcase_add_test(tc, test_hist_range_from_first_values);
    tcase_add_test(tc, test_quant_range);
    tcase_add_test(tc, test_changes);
    tcase_add_test(tc, test_svg_counts);
    suite_add_tcase(s, tc);
    return s;
}

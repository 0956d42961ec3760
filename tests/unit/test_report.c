/* The report module: ranks and ties, probabilities, KL divergence, SQNR,
 * accumulators, and the exact text of a table. Expected values are worked
 * out by hand in the comments. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

START_TEST(test_argmax_and_ties)
{
    const float x[] = {0.5f, 2.0f, -1.0f, 2.0f};
    ck_assert_int_eq(report_argmax(x, 4), 1);          /* tie 1 vs 3: lower index */
    const float y[] = {NAN, -3.0f, -2.0f};
    ck_assert_int_eq(report_argmax(y, 3), 2);          /* NaN never wins */
    /* ranks: 1 first, 3 second (tie, higher index), 0 third, 2 last */
    ck_assert_int_eq(report_rank(x, 4, 1), 0);
    ck_assert_int_eq(report_rank(x, 4, 3), 1);
    ck_assert_int_eq(report_rank(x, 4, 0), 2);
    ck_assert_int_eq(report_rank(x, 4, 2), 3);
    ck_assert_int_eq(report_rank(x, 4, 4), 4);         /* out of range: never top-k */
    ck_assert_int_eq(report_rank(x, 4, -1), 4);
    int top[3];
    report_top_k(x, 4, 3, top);
    ck_assert_int_eq(top[0], 1);
    ck_assert_int_eq(top[1], 3);
    ck_assert_int_eq(top[2], 0);
}
END_TEST

START_TEST(test_probabilities)
{
    /* softmax([0, ln 3]) = [1/4, 3/4] */
    const float x[] = {0.0f, (float)log(3.0)};
    double p[2];
    ck_assert(!report_is_probability(x, 2));
    report_probabilities(x, 2, p);
    ck_assert_double_eq_tol(p[0], 0.25, 1e-7);
    ck_assert_double_eq_tol(p[1], 0.75, 1e-7);
    /* large logits do not overflow */
    const float big[] = {1000.0f, 1000.0f};
    report_probabilities(big, 2, p);
    ck_assert_double_eq_tol(p[0], 0.5, 1e-12);
    /* a distribution is taken as it is */
    const float dist[] = {0.2f, 0.3f, 0.5f};
    ck_assert(report_is_probability(dist, 3));
    double q[3];
    report_probabilities(dist, 3, q);
    ck_assert_double_eq_tol(q[2], 0.5, 1e-7);
    const float notdist[] = {0.2f, 0.3f, 0.6f};
    ck_assert(!report_is_probability(notdist, 3));
    double lp[2];
    report_log_probabilities(x, 2, lp);
    ck_assert_double_eq_tol(lp[0], log(0.25), 1e-7);
}
END_TEST

START_TEST(test_kl_divergence)
{
    /* KL([1/2, 1/2] || [1/4, 3/4]) = 1/2 ln 2 + 1/2 ln(2/3) = 1/2 ln(4/3) */
    const double logp[] = {log(0.5), log(0.5)};
    const double logq[] = {log(0.25), log(0.75)};
    ck_assert_double_eq_tol(report_kl_divergence(logp, logq, 2), 0.5 * log(4.0 / 3.0), 1e-12);
    ck_assert_double_eq(report_kl_divergence(logp, logp, 2), 0.0);
    /* p_i == 0 contributes nothing */
    const double logp0[] = {-INFINITY, 0.0};
    ck_assert_double_eq_tol(report_kl_divergence(logp0, logq, 2), -log(0.75), 1e-12);
}
END_TEST

START_TEST(test_sqnr)
{
    struct report_sqnr s = {0};
    ck_assert(isnan(report_sqnr_db(&s)));
    /* ref [1, 2], test [1, 1]: signal 5, noise 1 */
    const float ref[] = {1.0f, 2.0f}, test[] = {1.0f, 1.0f};
    report_sqnr_add(&s, ref, test, 2);
    ck_assert_double_eq_tol(report_sqnr_db(&s), 10.0 * log10(5.0), 1e-12);
    /* accumulated: + ref [3], test [3] adds signal 9, no noise: 14 / 1 */
    const float r2[] = {3.0f};
    report_sqnr_add(&s, r2, r2, 1);
    ck_assert_double_eq_tol(report_sqnr_db(&s), 10.0 * log10(14.0), 1e-12);
    ck_assert_int_eq(s.count, 3);
    struct report_sqnr same = {0};
    report_sqnr_add(&same, ref, ref, 2);
    ck_assert(isinf(report_sqnr_db(&same)) && report_sqnr_db(&same) > 0);
    struct report_sqnr zero = {0};
    const float z[] = {0.0f};
    report_sqnr_add(&zero, z, ref, 1);
    ck_assert(isinf(report_sqnr_db(&zero)) && report_sqnr_db(&zero) < 0);
}
END_TEST

START_TEST(test_accumulators)
{
    ck_assert_double_eq(report_percent(912, 1000), 91.2);
    ck_assert(isnan(report_percent(0, 0)));
    struct report_accuracy a = {0};
    const float x[] = {0.1f, 0.9f, 0.3f, 0.2f, 0.0f, 0.05f};
    report_accuracy_add(&a, x, 6, 1);   /* rank 0: top-1 and top-5 */
    report_accuracy_add(&a, x, 6, 4);   /* rank 5: neither */
    report_accuracy_add(&a, x, 6, 0);   /* rank 3: top-5 only */
    report_accuracy_add(&a, x, 6, 9);   /* outside: wrong */
    ck_assert_int_eq(a.samples, 4);
    ck_assert_int_eq(a.top1, 1);
    ck_assert_int_eq(a.top5, 2);

    struct report_compare c = {0};
    double scratch[4];
    const float a1[] = {0.0f, 1.0f}, a2[] = {0.0f, 1.0f}, b2[] = {1.0f, 0.0f};
    report_compare_add(&c, a1, a2, 2, scratch);
    report_compare_add(&c, a1, b2, 2, scratch);
    ck_assert_int_eq(c.agree, 1);
    ck_assert_int_eq(c.samples, 2);
    /* a1 = [0, 1] is a distribution: log(1e-12) stands for log 0 */
    ck_assert(report_compare_kl(&c) > 0.0);
    /* sqnr: signal 1 + 1 = 2, noise 0 + 2 = 2: 0 dB */
    ck_assert_double_eq_tol(report_sqnr_db(&c.sqnr), 0.0, 1e-12);
}
END_TEST

START_TEST(test_table)
{
    static const char *const head[] = {"name", "n", "note"};
    static const enum report_align align[] = {REPORT_ALIGN_LEFT, REPORT_ALIGN_RIGHT,
                                              REPORT_ALIGN_LEFT};
    struct report_table *t = report_table_create(3, head, align);
    ck_assert_ptr_nonnull(t);
    report_table_add(t, "%s", "conv1");
    report_table_add(t, "%d", 80);
    report_table_add(t, "%s", "");
    report_table_add(t, "%s", "fc");
    report_table_add(t, "%d", 7850);
    report_table_add(t, "%s", "big");
    report_table_add(t, "x"); /* short last row */
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(report_table_print(t, out), QUANTA_OK);
    fclose(out);
    ck_assert_str_eq(buf, "name      n  note\n"
                          "conv1    80\n"
                          "fc     7850  big\n"
                          "x\n");
    free(buf);
    report_table_free(t);
    ck_assert_int_eq(report_table_print(NULL, stdout), QUANTA_ERR_INTERNAL);
    report_table_free(NULL);
}
END_TEST

Suite *suite_report(void);
Suite *suite_report(void)
{
    Suite *s = suite_create("report");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_argmax_and_ties);
    tcase_add_test(tc, test_probabilities);
    tcase_add_test(tc, test_kl_divergence);
    tcase_add_test(tc, test_sqnr);
    tcase_add_test(tc, test_accumulators);
    tcase_add_test(tc, test_table);
    suite_add_tcase(s, tc);
    return s;
}

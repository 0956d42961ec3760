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

/* Significance figures against scripts/stats_ref.py (exact integer sums
 * for McNemar, the quadratic's roots for Wilson), printed by
 *   /usr/bin/python3 scripts/stats_ref.py
 * and pasted here. */
static void check_rel(double got, double want, double rel)
{
    ck_assert_msg(fabs(got - want) <= rel * fabs(want), "got %.17g, want %.17g", got, want);
}

START_TEST(test_mcnemar_exact)
{
    ck_assert_double_eq(report_mcnemar_exact_p(0, 0), 1.0);    /* no discordant pair */
    ck_assert_double_eq(report_mcnemar_exact_p(1, 0), 1.0);    /* 2 * 1/2 */
    check_rel(report_mcnemar_exact_p(0, 5), 0.0625, 1e-14); /* 2 / 32 */
    check_rel(report_mcnemar_exact_p(6, 1), 0.125, 1e-14);  /* 2 * 8 / 128 */
    ck_assert_double_eq(report_mcnemar_exact_p(7, 7), 1.0);
    check_rel(report_mcnemar_exact_p(20, 10), 0.098737146705389023, 1e-12);
    check_rel(report_mcnemar_exact_p(10, 20), 0.098737146705389023, 1e-12); /* symmetric */
    check_rel(report_mcnemar_exact_p(60, 40), 0.056887933640980791, 1e-12);
    check_rel(report_mcnemar_exact_p(600, 400), 2.7284641560660184e-10, 1e-10);
    /* n = 10,000: neither C(n, k) (~1e3008) nor 2^n overflows */
    check_rel(report_mcnemar_exact_p(5100, 4900), 0.046585527704947387, 1e-10);
    check_rel(report_mcnemar_exact_p(6500, 3500), 1.2132836191871588e-200, 1e-9);
    /* 2 * 2^-10000 is below the smallest double */
    ck_assert_double_eq(report_mcnemar_exact_p(10000, 0), 0.0);
    /* a million discordant pairs stay finite and exact in the middle */
    ck_assert_double_eq(report_mcnemar_exact_p(500000, 500000), 1.0);
    double p = report_mcnemar_exact_p(500001, 499999);
    ck_assert(p > 0.99 && p <= 1.0);
}
END_TEST

START_TEST(test_wilson_interval)
{
    double lo, hi;
    report_wilson_interval(0, 10, REPORT_Z95, &lo, &hi);
    ck_assert_double_eq(lo, 0.0);
    check_rel(hi, 0.2775327998628892, 1e-12);
    report_wilson_interval(10, 10, REPORT_Z95, &lo, &hi);
    check_rel(lo, 0.72246720013711108, 1e-12);
    ck_assert_double_eq(hi, 1.0);
    report_wilson_interval(3, 10, REPORT_Z95, &lo, &hi);
    check_rel(lo, 0.10779126740630103, 1e-12);
    check_rel(hi, 0.60322185253885463, 1e-12);
    report_wilson_interval(9883, 10000, REPORT_Z95, &lo, &hi);
    check_rel(lo, 0.98599698560653826, 1e-12);
    check_rel(hi, 0.99022800158465896, 1e-12);
    report_wilson_interval(10000, 10000, REPORT_Z95, &lo, &hi);
    check_rel(lo, 0.99961600162954412, 1e-12);
    ck_assert_double_eq(hi, 1.0);
    report_wilson_interval(0, 0, REPORT_Z95, &lo, &hi);
    ck_assert(isnan(lo) && isnan(hi));
}
END_TEST

static void check_newcombe(int64_t both, int64_t only1, int64_t only2, int64_t neither,
                           double want_lo, double want_hi)
{
    struct report_paired p = {0};
    /* through report_paired_add, as eval fills it */
    for (int64_t i = 0; i < both; i++)
        report_paired_add(&p, true, true);
    for (int64_t i = 0; i < only1; i++)
        report_paired_add(&p, true, false);
    for (int64_t i = 0; i < only2; i++)
        report_paired_add(&p, false, true);
    for (int64_t i = 0; i < neither; i++)
        report_paired_add(&p, false, false);
    ck_assert_int_eq(report_paired_samples(&p), both + only1 + only2 + neither);
    double lo, hi;
    report_paired_diff_interval(&p, REPORT_Z95, &lo, &hi);
    ck_assert_msg(fabs(lo - want_lo) <= 1e-12 && fabs(hi - want_hi) <= 1e-12,
                  "table %lld %lld %lld %lld: got [%.17g, %.17g], want [%.17g, %.17g]",
                  (long long)both, (long long)only1, (long long)only2, (long long)neither, lo,
                  hi, want_lo, want_hi);
}

START_TEST(test_paired_difference_interval)
{
    check_newcombe(12, 9, 2, 1, 0.03111612488646176, 0.50777597695578902);
    /* Cavo et al. 2012, as in Fagerland, Lydersen and Laake (2014) */
    check_newcombe(59, 6, 16, 80, -0.11735092760633911, -0.0059235054318085012);
    check_newcombe(9000, 150, 100, 750, 0.0018999162042130625, 0.0081258388069482042);
    check_newcombe(9850, 60, 30, 60, 0.0011482957226706077, 0.0049385613258443751);
    /* b = c = 0: a real interval around 0 (Wald's would be [0, 0]) */
    check_newcombe(9800, 0, 0, 200, -0.00036863843584944542, 0.00036863843584944542);
    /* a margin empty: phi is 0 */
    check_newcombe(0, 0, 0, 50, -0.071347599133358711, 0.071347599133358711);
    check_newcombe(50, 0, 0, 0, -0.07134759913335742, 0.07134759913335742);
    struct report_paired empty = {0};
    double lo, hi;
    report_paired_diff_interval(&empty, REPORT_Z95, &lo, &hi);
    ck_assert(isnan(lo) && isnan(hi));
    /* all right by model 1 only: the difference is 1, the interval within [-1, 1] */
    struct report_paired all1 = {.only1 = 40};
    report_paired_diff_interval(&all1, REPORT_Z95, &lo, &hi);
    ck_assert(lo > 0.8 && lo < 1.0);
    ck_assert_double_eq(hi, 1.0);
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
    tcase_add_test(tc, test_mcnemar_exact);
    tcase_add_test(tc, test_wilson_interval);
    tcase_add_test(tc, test_paired_difference_interval);
    suite_add_tcase(s, tc);
    return s;
}

/* Significance of a paired comparison: the Wilson score interval, Newcombe's
 * interval for the difference of paired proportions, and the exact McNemar
 * test. Double precision throughout; the formulas are in quanta-eval(1). */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double report_median(double *t, int64_t n)
{
    qsort(t, (size_t)n, sizeof *t, compare_double);
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

void report_paired_add(struct report_paired *p, bool correct1, bool correct2)
{
    if (correct1 && correct2)
        p->both++;
    else if (correct1)
        p->only1++;
    else if (correct2)
        p->only2++;
    else
        p->neither++;
}

int64_t report_paired_samples(const struct report_paired *p)
{
    return p->both + p->only1 + p->only2 + p->neither;
}

void report_wilson_interval(int64_t x, int64_t n, double z, double *lo, double *hi)
{
    if (n <= 0) {
        *lo = *hi = NAN;
        return;
    }
    double nn = (double)n, p = (double)x / nn, z2 = z * z;
    double denom = 1.0 + z2 / nn;
    double centre = (p + z2 / (2.0 * nn)) / denom;
    double half = z / denom * sqrt(p * (1.0 - p) / nn + z2 / (4.0 * nn * nn));
    /* the bounds at x = 0 and x = n are exactly 0 and 1; rounding would
     * leave a few ulps either side */
    *lo = x == 0 ? 0.0 : centre - half;
    *hi = x == n ? 1.0 : centre + half;
}

void report_paired_diff_interval(const struct report_paired *p, double z, double *lo,
                                 double *hi)
{
    int64_t n = report_paired_samples(p);
    if (n == 0) {
        *lo = *hi = NAN;
        return;
    }
    int64_t right1 = p->both + p->only1, right2 = p->both + p->only2;
    double p1 = (double)right1 / (double)n, p2 = (double)right2 / (double)n;
    double l1, u1, l2, u2;
    report_wilson_interval(right1, n, z, &l1, &u1);
    report_wilson_interval(right2, n, z, &l2, &u2);
    /* phi, the correlation of the two correctness indicators; 0 when a
     * margin is empty (then one of the proportions is 0 or 1) */
    double margins = (double)right1 * (double)(n - right1) * (double)right2 *
                     (double)(n - right2);
    double phi = 0.0;
    if (margins > 0.0)
        phi = ((double)p->both * (double)p->neither - (double)p->only1 * (double)p->only2) /
              sqrt(margins);
    double d = p1 - p2;
    double dl = (p1 - l1) * (p1 - l1) - 2.0 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) * (u2 - p2);
    double du = (u1 - p1) * (u1 - p1) - 2.0 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) * (p2 - l2);
    /* |phi| <= 1 keeps both sums >= 0 up to rounding */
    *lo = d - sqrt(dl > 0.0 ? dl : 0.0);
    *hi = d + sqrt(du > 0.0 ? du : 0.0);
}

double report_mcnemar_exact_p(int64_t b, int64_t c)
{
    int64_t n = b + c, k = b < c ? b : c;
    if (2 * k == n)
        return 1.0;
    /* P(X <= k) = sum_{j <= k} C(n, j) / 2^n. With k < n / 2 the terms grow
     * with j, so start at j = k, whose log comes from lgamma, and walk down
     * by the ratio C(n, j - 1) / C(n, j) = j / (n - j + 1): every partial
     * sum is relative to the largest term, which cannot overflow. */
    double log_top = lgamma((double)n + 1.0) - lgamma((double)k + 1.0) -
                     lgamma((double)(n - k) + 1.0) - (double)n * M_LN2;
    double sum = 0.0, term = 1.0;
    for (int64_t j = k; j >= 0 && term > 0.0; j--) {
        sum += term;
        term *= (double)j / (double)(n - j + 1);
    }
    double p = 2.0 * exp(log_top + log(sum));
    return p < 1.0 ? p : 1.0;
}

/* Output metrics: ranks, probabilities, KL divergence, SQNR, and the
 * streamed accumulators built on them. Sums are kept in double. */
#include "report/report.h"

#include <math.h>

/* a ranks before b (scores xa, xb at indices ia < ib or not): greater score
 * first, ties by lower index; NaN ranks after every number. */
static bool ranks_before(float xa, int ia, float xb, int ib)
{
    if (isnan(xa))
        return isnan(xb) && ia < ib;
    if (isnan(xb))
        return true;
    return xa > xb || (xa == xb && ia < ib);
}

int report_argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (ranks_before(x[i], i, x[best], best))
            best = i;
    return best;
}

int report_rank(const float *x, int n, int c)
{
    if (c < 0 || c >= n)
        return n;
    int rank = 0;
    for (int i = 0; i < n; i++)
        if (i != c && ranks_before(x[i], i, x[c], c))
            rank++;
    return rank;
}

void report_top_k(const float *x, int n, int k, int *classes)
{
    /* selection of the k best, k small: O(n * k) */
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int i = 0; i < n; i++) {
            bool taken = false;
            for (int t = 0; t < j; t++)
                if (classes[t] == i)
                    taken = true;
            if (!taken && (best < 0 || ranks_before(x[i], i, x[best], best)))
                best = i;
        }
        classes[j] = best;
    }
}

bool report_is_probability(const float *x, int n)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        if (!(x[i] >= 0.0f && x[i] <= 1.0f))
            return false;
        sum += x[i];
    }
    return fabs(sum - 1.0) <= 1e-3;
}

/* log(sum(exp(x))) shifted by the maximum; NaN scores propagate. */
static double log_sum_exp(const float *x, int n, double *max_out)
{
    double max = -INFINITY;
    for (int i = 0; i < n; i++)
        if (x[i] > max || isnan(x[i]))
            max = x[i];
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += exp((double)x[i] - max);
    *max_out = max;
    return log(sum);
}

void report_probabilities(const float *x, int n, double *p)
{
    if (report_is_probability(x, n)) {
        for (int i = 0; i < n; i++)
            p[i] = x[i];
        return;
    }
    double max, lse = log_sum_exp(x, n, &max);
    for (int i = 0; i < n; i++)
        p[i] = exp((double)x[i] - max - lse);
}

void report_log_probabilities(const float *x, int n, double *logp)
{
    if (report_is_probability(x, n)) {
        for (int i = 0; i < n; i++)
            logp[i] = log(x[i] > 1e-12f ? (double)x[i] : 1e-12);
        return;
    }
    double max, lse = log_sum_exp(x, n, &max);
    for (int i = 0; i < n; i++)
        logp[i] = (double)x[i] - max - lse;
}

double report_kl_divergence(const double *logp, const double *logq, int n)
{
    double kl = 0.0;
    for (int i = 0; i < n; i++) {
        double p = exp(logp[i]);
        if (p > 0.0)
            kl += p * (logp[i] - logq[i]);
    }
    /* rounding may leave a tiny negative sum for equal distributions */
    return kl < 0.0 ? 0.0 : kl;
}

void report_sqnr_add(struct report_sqnr *acc, const float *ref, const float *test, size_t n)
{
    double signal = 0.0, noise = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i], d = (double)ref[i] - (double)test[i];
        signal += r * r;
        noise += d * d;
    }
    acc->signal += signal;
    acc->noise += noise;
    acc->count += (int64_t)n;
}

double report_sqnr_db(const struct report_sqnr *acc)
{
    if (acc->count == 0)
        return NAN;
    if (acc->noise == 0.0)
        return INFINITY;
    if (acc->signal == 0.0)
        return -INFINITY;
    return 10.0 * log10(acc->signal / acc->noise);
}

double report_percent(int64_t count, int64_t total)
{
    if (total == 0)
        return NAN;
    return (100.0 * (double)count) / (double)total;
}

void report_accuracy_add(struct report_accuracy *acc, const float *x, int n, int label)
{
    int rank = report_rank(x, n, label);
    acc->samples++;
    if (rank < 1)
        acc->top1++;
    if (rank < 5)
        acc->top5++;
}

void report_compare_add(struct report_compare *acc, const float *x1, const float *x2, int n,
                        double *scratch)
{
    double *logp = scratch, *logq = scratch + n;
    acc->samples++;
    if (report_argmax(x1, n) == report_argmax(x2, n))
        acc->agree++;
    report_log_probabilities(x1, n, logp);
    report_log_probabilities(x2, n, logq);
    acc->kl_sum += report_kl_divergence(logp, logq, n);
    report_sqnr_add(&acc->sqnr, x1, x2, (size_t)n);
}

double report_compare_kl(const struct report_compare *acc)
{
    return acc->samples ? acc->kl_sum / (double)acc->samples : NAN;
}

/* Metrics of outputs that are not class scores: one probability or logit
 * per sample (AUC, log loss, accuracy at 0.5, calibration) and any output
 * against a reference (MSE, MAE, cosine similarity, SQNR). Double
 * precision throughout; the definitions are in quanta-eval(1). */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>

double report_binary_probability(float x, bool logit)
{
    if (!logit)
        return x;
    double z = x;
    /* 1 / (1 + e^-z) without overflow for large |z| */
    return z >= 0.0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));
}

bool report_binary_decision(float x, bool logit)
{
    return logit ? x > 0.0f : x > 0.5f;
}

double report_log_loss_term(double p, int y)
{
    if (p < REPORT_LOG_LOSS_EPS)
        p = REPORT_LOG_LOSS_EPS;
    if (p > 1.0 - REPORT_LOG_LOSS_EPS)
        p = 1.0 - REPORT_LOG_LOSS_EPS;
    return y ? -log(p) : -log1p(-p);
}

/* ascending score (NaN never reaches the sort) */
static int by_score(const void *a, const void *b, void *scores)
{
    const float *s = scores;
    float x = s[*(const int64_t *)a], y = s[*(const int64_t *)b];
    return (x > y) - (x < y);
}

double report_auc(const float *score, const uint8_t *y, int64_t n, int64_t *order)
{
    int64_t pos = 0;
    for (int64_t i = 0; i < n; i++) {
        if (isnan(score[i]))
            return NAN;
        pos += y[i] != 0;
        order[i] = i;
    }
    int64_t neg = n - pos;
    if (pos == 0 || neg == 0)
        return NAN;
    qsort_r(order, (size_t)n, sizeof *order, by_score, (void *)score);
    /* sum of the positives' ranks (1-based), a tie group taking the mean of
     * its ranks; U = R - pos (pos + 1) / 2 counts the (positive, negative)
     * pairs ordered right, ties as a half */
    double rank_sum = 0.0;
    for (int64_t i = 0; i < n;) {
        int64_t j = i, pos_in_group = 0;
        while (j < n && score[order[j]] == score[order[i]])
            pos_in_group += y[order[j++]] != 0;
        double mean_rank = 0.5 * ((double)(i + 1) + (double)j);
        rank_sum += mean_rank * (double)pos_in_group;
        i = j;
    }
    double u = rank_sum - 0.5 * (double)pos * (double)(pos + 1);
    return u / ((double)pos * (double)neg);
}

void report_errors_add(struct report_errors *acc, const float *ref, const float *test, size_t n)
{
    double sq = 0.0, ab = 0.0, dot = 0.0, rr = 0.0, tt = 0.0;
    for (size_t i = 0; i < n; i++) {
        double r = ref[i], t = test[i], d = t - r;
        sq += d * d;
        ab += fabs(d);
        dot += r * t;
        rr += r * r;
        tt += t * t;
    }
    acc->squared += sq;
    acc->absolute += ab;
    /* a zero vector has no direction: cosine 1 when both are zero, else 0 */
    if (rr > 0.0 && tt > 0.0)
        acc->cosine += dot / (sqrt(rr) * sqrt(tt));
    else if (rr == 0.0 && tt == 0.0)
        acc->cosine += 1.0;
    acc->samples++;
    report_sqnr_add(&acc->sqnr, ref, test, n);
}

double report_errors_mse(const struct report_errors *acc)
{
    return acc->sqnr.count ? acc->squared / (double)acc->sqnr.count : NAN;
}

double report_errors_mae(const struct report_errors *acc)
{
    return acc->sqnr.count ? acc->absolute / (double)acc->sqnr.count : NAN;
}

double report_errors_cosine(const struct report_errors *acc)
{
    return acc->samples ? acc->cosine / (double)acc->samples : NAN;
}

/* Calibration options and the streaming observer of one value: count,
 * min/max, mean and squared deviations, and a fixed-size histogram whose
 * range grows by merging adjacent bins (see src/include/quanta/calib.h). */
#include "quanta/calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const calib_method_names[] = {
#define CALIB_METHOD_NAME(id, name) name,
    CALIB_METHOD_LIST(CALIB_METHOD_NAME)
#undef CALIB_METHOD_NAME
};

const char *calib_method_name(enum calib_method method)
{
    if (method == CALIB_AUTO)
        return "auto";
    if ((int)method < 0 || method >= CALIB_METHOD_COUNT)
        return "invalid";
    return calib_method_names[method];
}

enum calib_method calib_method_parse(const char *name)
{
    for (int m = 0; m < CALIB_METHOD_COUNT; m++)
        if (name && strcmp(name, calib_method_names[m]) == 0)
            return (enum calib_method)m;
    if (name && strcmp(name, "auto") == 0)
        return CALIB_AUTO;
    return CALIB_METHOD_COUNT;
}

void calib_options_default(struct calib_options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->method = CALIB_MINMAX;
    opt->percentile = CALIB_DEFAULT_PERCENTILE;
    opt->k = CALIB_DEFAULT_K;
    opt->bins = CALIB_DEFAULT_BINS;
    opt->entropy_bins = CALIB_DEFAULT_ENTROPY_BINS;
    opt->mse_bits = CALIB_DEFAULT_MSE_BITS;
    opt->samples = 0;
    opt->batch = CALIB_DEFAULT_BATCH;
    opt->threads = 0;
}

static bool calib_bins_valid(int bins)
{
    return bins >= CALIB_MIN_BINS && bins <= CALIB_MAX_BINS && bins % 2 == 0;
}

enum quanta_status calib_options_check(const struct calib_options *opt, struct quanta_error *err)
{
    if (((int)opt->method < 0 || opt->method >= CALIB_METHOD_COUNT) && opt->method != CALIB_AUTO)
        return quanta_fail(err, QUANTA_ERR_USAGE, "unknown calibration method %d", (int)opt->method);
    if (!(opt->percentile >= 50 && opt->percentile <= 100))
        return quanta_fail(err, QUANTA_ERR_USAGE, "percentile %g is not within [50, 100]",
                           opt->percentile);
    if (!(opt->k > 0) || !isfinite(opt->k))
        return quanta_fail(err, QUANTA_ERR_USAGE, "k %g is not a positive number", opt->k);
    if (!calib_bins_valid(opt->bins))
        return quanta_fail(err, QUANTA_ERR_USAGE, "bins %d is not an even number within [%d, %d]",
                           opt->bins, CALIB_MIN_BINS, CALIB_MAX_BINS);
    if (opt->entropy_bins < 2 || opt->entropy_bins > opt->bins)
        return quanta_fail(err, QUANTA_ERR_USAGE, "entropy bins %d is not within [2, bins = %d]",
                           opt->entropy_bins, opt->bins);
    if (opt->mse_bits < 2 || opt->mse_bits > 16)
        return quanta_fail(err, QUANTA_ERR_USAGE, "mse bits %d is not within [2, 16]", opt->mse_bits);
    if (opt->samples < 0)
        return quanta_fail(err, QUANTA_ERR_USAGE, "samples %lld is negative", (long long)opt->samples);
    if (opt->batch < 1)
        return quanta_fail(err, QUANTA_ERR_USAGE, "batch %lld is not positive", (long long)opt->batch);
    if (opt->threads < 0)
        return quanta_fail(err, QUANTA_ERR_USAGE, "threads %d is negative", opt->threads);
    return QUANTA_OK;
}

/* ---- observer ---- */

enum quanta_status calib_observer_init(struct calib_observer *obs, int bins, struct quanta_error *err)
{
    memset(obs, 0, sizeof *obs);
    if (!calib_bins_valid(bins))
        return quanta_fail(err, QUANTA_ERR_USAGE, "bins %d is not an even number within [%d, %d]",
                           bins, CALIB_MIN_BINS, CALIB_MAX_BINS);
    obs->hist = calloc((size_t)bins, sizeof *obs->hist);
    if (!obs->hist)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for a %d-bin histogram", bins);
    obs->bins = bins;
    return QUANTA_OK;
}

void calib_observer_free(struct calib_observer *obs)
{
    free(obs->hist);
    memset(obs, 0, sizeof *obs);
}

double calib_observer_std(const struct calib_observer *obs)
{
    return obs->count > 0 ? sqrt(obs->m2 / (double)obs->count) : 0.0;
}

double calib_observer_bin_width(const struct calib_observer *obs)
{
    return obs->count > 0 ? (obs->h_hi - obs->h_lo) / obs->bins : 0.0;
}

/* Doubles the bin width keeping h_lo: new bin j = old bins 2j and 2j+1. */
static void hist_grow_up(struct calib_observer *obs)
{
    int half = obs->bins / 2;
    for (int j = 0; j < half; j++)
        obs->hist[j] = obs->hist[2 * j] + obs->hist[2 * j + 1];
    memset(obs->hist + half, 0, (size_t)half * sizeof *obs->hist);
    obs->h_hi = obs->h_lo + 2 * (obs->h_hi - obs->h_lo);
}

/* Doubles the bin width keeping h_hi: new bin j (j >= bins/2) = old bins
 * 2j-bins and 2j-bins+1. Walking j downward never reads a bin already
 * rewritten. */
static void hist_grow_down(struct calib_observer *obs)
{
    int n = obs->bins, half = n / 2;
    for (int j = n - 1; j >= half; j--)
        obs->hist[j] = obs->hist[2 * j - n] + obs->hist[2 * j - n + 1];
    memset(obs->hist, 0, (size_t)half * sizeof *obs->hist);
    obs->h_lo = obs->h_hi - 2 * (obs->h_hi - obs->h_lo);
}

/* Makes the histogram range cover [bmin, bmax]. */
static void hist_fit(struct calib_observer *obs, double bmin, double bmax)
{
    if (obs->count == 0) {
        obs->h_lo = bmin < 0 ? bmin : 0.0;
        obs->h_hi = bmax > 0 ? bmax : 0.0;
        if (obs->h_hi == obs->h_lo)       /* all zeros so far */
            obs->h_hi = ldexp(1.0, -20);
        return;
    }
    while (bmax > obs->h_hi)
        hist_grow_up(obs);
    while (bmin < obs->h_lo)
        hist_grow_down(obs);
}

void calib_observer_update(struct calib_observer *obs, const float *data, size_t n)
{
    int64_t bcount = 0;
    double bmin = INFINITY, bmax = -INFINITY, bsum = 0;
    for (size_t i = 0; i < n; i++) {
        float x = data[i];
        if (!isfinite(x)) {
            obs->nonfinite++;
            continue;
        }
        bcount++;
        bsum += x;
        if (x < bmin)
            bmin = x;
        if (x > bmax)
            bmax = x;
    }
    if (bcount == 0)
        return;
    double bmean = bsum / (double)bcount, bm2 = 0;
    int64_t b_nmin = 0, b_nmax = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(data[i])) {
            double d = data[i] - bmean;
            bm2 += d * d;
            b_nmin += data[i] == bmin;
            b_nmax += data[i] == bmax;
        }

    hist_fit(obs, bmin, bmax);
    double w = (obs->h_hi - obs->h_lo) / obs->bins;
    for (size_t i = 0; i < n; i++) {
        float x = data[i];
        if (!isfinite(x))
            continue;
        double t = (x - obs->h_lo) / w;
        int idx = t <= 0 ? 0 : t >= obs->bins - 1 ? obs->bins - 1 : (int)t;
        obs->hist[idx]++;
    }

    if (obs->count == 0) {
        obs->min = bmin;
        obs->max = bmax;
        obs->n_min = b_nmin;
        obs->n_max = b_nmax;
        obs->mean = bmean;
        obs->m2 = bm2;
    } else {
        /* Chan et al.: combining two sets' means and squared deviations. */
        double na = (double)obs->count, nb = (double)bcount, nt = na + nb;
        double delta = bmean - obs->mean;
        obs->mean += delta * nb / nt;
        obs->m2 += bm2 + delta * delta * na * nb / nt;
        if (bmin < obs->min) {
            obs->min = bmin;
            obs->n_min = b_nmin;
        } else if (bmin == obs->min) {
            obs->n_min += b_nmin;
        }
        if (bmax > obs->max) {
            obs->max = bmax;
            obs->n_max = b_nmax;
        } else if (bmax == obs->max) {
            obs->n_max += b_nmax;
        }
    }
    obs->count += bcount;
}

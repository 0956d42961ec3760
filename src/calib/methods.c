/* Range selection from an observer's state: minmax, meanstd, percentile,
 * entropy (KL threshold search) and mse (see src/include/quanta/calib.h). */
#include "quanta/calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Adds c elements spread uniformly over [a, b] (a point mass when b <= a)
 * to dst, nb bins of width tw from t_lo; the end bins take what falls
 * outside. */
static void spread(double *dst, int nb, double t_lo, double tw, double a, double b, double c)
{
    if (b <= a) {
        double t = (a - t_lo) / tw;
        int j = t <= 0 ? 0 : t >= nb - 1 ? nb - 1 : (int)t;
        dst[j] += c;
        return;
    }
    double ta = (a - t_lo) / tw, tb = (b - t_lo) / tw;
    int j0 = ta <= 0 ? 0 : ta >= nb - 1 ? nb - 1 : (int)ta;
    int j1 = tb <= 0 ? 0 : tb >= nb - 1 ? nb - 1 : (int)tb;
    for (int j = j0; j <= j1; j++) {
        double lo = j == 0 ? -INFINITY : t_lo + j * tw;
        double hi = j == nb - 1 ? INFINITY : t_lo + (j + 1) * tw;
        double overlap = fmin(b, hi) - fmax(a, lo);
        if (overlap > 0)
            dst[j] += c * overlap / (b - a);
    }
}

/* Re-bins the observer's histogram into nb bins over [t_lo, t_lo + nb*tw]:
 * side 0 all of x; side +1 only the part of x above 0; side -1 only the
 * part below 0, as |x|. Each source bin is first cut to the observed
 * [min, max], its elements taken as uniform over what remains (a bin
 * straddling 0 gives each side the share of its length on that side). */
static void rebin(const struct calib_observer *obs, double *dst, int nb, double t_lo, double tw,
                  int side)
{
    double w = (obs->h_hi - obs->h_lo) / obs->bins;
    memset(dst, 0, (size_t)nb * sizeof *dst);
    for (int i = 0; i < obs->bins; i++) {
        if (obs->hist[i] == 0)
            continue;
        double c = (double)obs->hist[i];
        double a = fmax(obs->h_lo + i * w, obs->min);
        double b = fmin(obs->h_lo + (i + 1) * w, obs->max);
        if (b < a) /* rounding at the edge of the range */
            b = a;
        if (side == 0) {
            spread(dst, nb, t_lo, tw, a, b, c);
        } else if (side > 0) {
            if (a >= 0)
                spread(dst, nb, t_lo, tw, a, b, c);
            else if (b > 0) /* straddles 0 */
                spread(dst, nb, t_lo, tw, 0, b, c * b / (b - a));
        } else {
            if (b <= 0)
                spread(dst, nb, t_lo, tw, -b, -a, c);
            else if (a < 0) /* straddles 0 */
                spread(dst, nb, t_lo, tw, 0, -a, c * (-a) / (b - a));
        }
    }
}

/* x at which the cumulative count reaches rank t, interpolating linearly
 * inside the bin. */
static double hist_quantile(const double *h, int nb, double t_lo, double tw, double t)
{
    double cum = 0;
    for (int b = 0; b < nb; b++) {
        if (h[b] > 0 && cum + h[b] >= t) {
            double frac = (t - cum) / h[b];
            frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
            return t_lo + (b + frac) * tw;
        }
        cum += h[b];
    }
    return t_lo + nb * tw;
}

static void range_percentile(const struct calib_observer *obs, double p, double *h, double *lo,
                             double *hi)
{
    int nb = obs->bins;
    double tw = (obs->max - obs->min) / nb;
    rebin(obs, h, nb, obs->min, tw, 0);
    double n = (double)obs->count;
    double t_lo = n * (1 - p / 100), t_hi = n * p / 100;
    /* ranks inside the elements equal to min (max) are min (max) exactly */
    *lo = t_lo <= (double)obs->n_min ? obs->min : hist_quantile(h, nb, obs->min, tw, t_lo);
    *hi = t_hi >= n - (double)obs->n_max ? obs->max : hist_quantile(h, nb, obs->min, tw, t_hi);
}

/* TensorRT-style KL threshold search on a one-sided histogram h (nb bins
 * over [0, max|x|] of that side) with `levels` (<= nb) quantization levels
 * over [0, T]. Returns the number of bins i kept (T = i * bin width). */
static int entropy_search(const double *h, int nb, int levels, double *prefix, double *p, double *q)
{
    prefix[0] = 0;
    for (int k = 0; k < nb; k++)
        prefix[k + 1] = prefix[k] + h[k];
    double total = prefix[nb];
    int best_i = nb;
    double best_kl = INFINITY;
    for (int i = levels; i <= nb; i++) {
        double kept = prefix[i];
        if (kept <= 0)
            continue;
        memcpy(p, h, (size_t)i * sizeof *p);
        p[i - 1] += total - kept;
        for (int j = 0; j < levels; j++) {
            int s = (int)((int64_t)j * i / levels), e = (int)((int64_t)(j + 1) * i / levels);
            double sum = prefix[e] - prefix[s];
            int nz = 0;
            for (int k = s; k < e; k++)
                nz += p[k] > 0;
            for (int k = s; k < e; k++)
                q[k] = p[k] > 0 ? sum / nz : 0;
        }
        double kl = 0;
        for (int k = 0; k < i && isfinite(kl); k++) {
            if (p[k] <= 0)
                continue;
            if (q[k] <= 0)
                kl = INFINITY;
            else
                kl += p[k] / total * log((p[k] / total) / (q[k] / kept));
        }
        if (kl < best_kl) {
            best_kl = kl;
            best_i = i;
        }
    }
    return best_i;
}

/* The entropy threshold T of one side (+1: x above 0, -1: x below 0 as
 * |x|), on that side's histogram re-binned to obs->bins bins over
 * [0, max] or [0, -min], searched with `levels` quantization levels.
 * work holds 4 * bins + 2 doubles. */
static double entropy_side(const struct calib_observer *obs, int side, int levels, double *work)
{
    int nb = obs->bins;
    double m = side > 0 ? obs->max : -obs->min;
    double tw = m / nb;
    rebin(obs, work, nb, 0.0, tw, side);
    int i = entropy_search(work, nb, levels, work + nb, work + 2 * nb + 1, work + 3 * nb + 2);
    return i == nb ? m : i * tw;
}

/* Exhaustive search over pairs of bin edges of the histogram h (nb bins of
 * width tw over [x0, x0 + nb*tw]) for the range of least expected squared
 * error of a uniform quantizer with `levels` levels. */
static void mse_search(const double *h, int nb, double x0, double tw, int levels, double *work,
                       double *lo, double *hi)
{
    /* Prefix sums of count, sum u, sum u^2 per bin, u = x - x0, elements
     * uniform inside a bin [a, b]: sum u = c (a+b)/2, sum u^2 = c (a^2+ab+b^2)/3. */
    double *C = work, *S1 = work + nb + 1, *S2 = work + 2 * (nb + 1);
    C[0] = S1[0] = S2[0] = 0;
    for (int k = 0; k < nb; k++) {
        double a = k * tw, b = (k + 1) * tw;
        C[k + 1] = C[k] + h[k];
        S1[k + 1] = S1[k] + h[k] * (a + b) / 2;
        S2[k + 1] = S2[k] + h[k] * (a * a + a * b + b * b) / 3;
    }
    double best = INFINITY;
    int best_a = 0, best_b = nb;
    for (int ia = 0; ia < nb; ia++) {
        double l = ia * tw;
        double err_lo = l * l * C[ia] - 2 * l * S1[ia] + S2[ia];
        if (err_lo > best)
            break; /* grows with ia */
        for (int ib = ia + 1; ib <= nb; ib++) {
            double u = ib * tw;
            double ca = C[nb] - C[ib], s1a = S1[nb] - S1[ib], s2a = S2[nb] - S2[ib];
            double err_hi = s2a - 2 * u * s1a + u * u * ca;
            double step = (u - l) / (levels - 1);
            double e = (C[ib] - C[ia]) * step * step / 12 + err_lo + (err_hi > 0 ? err_hi : 0);
            if (e < best) {
                best = e;
                best_a = ia;
                best_b = ib;
            }
        }
    }
    *lo = x0 + best_a * tw;
    *hi = best_b == nb ? x0 + nb * tw : x0 + best_b * tw;
}

/* mse_search with the error measured after f, the function the value's
 * one reader applies: bins below lo cost (f(x) - f(lo))^2, above hi
 * (f(x) - f(hi))^2, inside step^2/12 * f'(x)^2 (f' from the bin's edges).
 * A flat stretch of f (silu's negative side, sigmoid's tails) then spends
 * few levels. work holds 5 * (nb + 1) doubles. */
static void mse_search_after(const double *h, int nb, double x0, double tw, int levels,
                             double (*f)(double, void *), void *ctx, double *work, double *lo,
                             double *hi)
{
    double *C = work, *F1 = work + nb + 1, *F2 = work + 2 * (nb + 1), *D2 = work + 3 * (nb + 1);
    double *fe = work + 4 * (nb + 1); /* f at the bin edges */
    for (int k = 0; k <= nb; k++)
        fe[k] = f(x0 + k * tw, ctx);
    C[0] = F1[0] = F2[0] = D2[0] = 0;
    for (int k = 0; k < nb; k++) {
        double fm = f(x0 + (k + 0.5) * tw, ctx), d = (fe[k + 1] - fe[k]) / tw;
        if (!isfinite(fm) || !isfinite(d))
            fm = d = 0; /* outside f's domain: no weight */
        C[k + 1] = C[k] + h[k];
        F1[k + 1] = F1[k] + h[k] * fm;
        F2[k + 1] = F2[k] + h[k] * fm * fm;
        D2[k + 1] = D2[k] + h[k] * d * d;
    }
    double best = INFINITY;
    int best_a = 0, best_b = nb;
    for (int ia = 0; ia < nb; ia++) {
        double fl = fe[ia];
        double err_lo = isfinite(fl) ? F2[ia] - 2 * fl * F1[ia] + fl * fl * C[ia] : 0;
        for (int ib = ia + 1; ib <= nb; ib++) {
            double fu = fe[ib];
            double ca = C[nb] - C[ib], f1a = F1[nb] - F1[ib], f2a = F2[nb] - F2[ib];
            double err_hi = isfinite(fu) ? f2a - 2 * fu * f1a + fu * fu * ca : 0;
            double step = (ib - ia) * tw / (levels - 1);
            double e = (D2[ib] - D2[ia]) * step * step / 12 + (err_lo > 0 ? err_lo : 0) +
                       (err_hi > 0 ? err_hi : 0);
            if (e < best) {
                best = e;
                best_a = ia;
                best_b = ib;
            }
        }
    }
    *lo = x0 + best_a * tw;
    *hi = x0 + best_b * tw;
}

enum quanta_status calib_observer_range_after(const struct calib_observer *obs,
                                              const struct calib_options *opt,
                                              double (*f)(double x, void *ctx), void *ctx,
                                              double *lo, double *hi, struct quanta_error *err)
{
    if (!f || opt->method != CALIB_MSE || obs->count == 0 || obs->min == obs->max)
        return calib_observer_range(obs, opt, lo, hi, err);
    /* coarser than the plain search: O(bins^2) calls of f */
    int nb = obs->bins < 512 ? obs->bins : 512;
    double *work = malloc((size_t)(6 * nb + 8) * sizeof *work);
    if (!work)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for calibration work buffers");
    double tw = (obs->max - obs->min) / nb;
    rebin(obs, work, nb, obs->min, tw, 0);
    mse_search_after(work, nb, obs->min, tw, 1 << opt->mse_bits, f, ctx, work + nb, lo, hi);
    free(work);
    if (*lo < obs->min)
        *lo = obs->min;
    if (*hi > obs->max)
        *hi = obs->max;
    if (*lo > *hi)
        *lo = *hi;
    return QUANTA_OK;
}

enum quanta_status calib_observer_range(const struct calib_observer *obs,
                                        const struct calib_options *opt, double *lo, double *hi,
                                        struct quanta_error *err)
{
    if (opt->method == CALIB_AUTO)
        return quanta_fail(err, QUANTA_ERR_USAGE,
                           "method auto chooses with the graph and the data (calib_run), not "
                           "from one value's statistics");
    if (obs->count == 0) {
        *lo = *hi = 0;
        return QUANTA_OK;
    }
    if (obs->min == obs->max || opt->method == CALIB_MINMAX) {
        *lo = obs->min;
        *hi = obs->max;
        return QUANTA_OK;
    }
    if (opt->method == CALIB_MEANSTD) {
        double s = calib_observer_std(obs);
        *lo = fmax(obs->min, obs->mean - opt->k * s);
        *hi = fmin(obs->max, obs->mean + opt->k * s);
        if (*lo > *hi) /* rounding when std is tiny */
            *lo = *hi = obs->mean < obs->min ? obs->min : obs->mean > obs->max ? obs->max : obs->mean;
        return QUANTA_OK;
    }

    int nb = obs->bins;
    double *work = malloc((size_t)(6 * nb + 8) * sizeof *work);
    if (!work)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for calibration work buffers");
    double *h = work;
    switch (opt->method) {
    case CALIB_PERCENTILE:
        range_percentile(obs, opt->percentile, h, lo, hi);
        break;
    case CALIB_ENTROPY: {
        /* one sign: the asymmetric quantizer spends all its levels on
         * [0, T]; both signs: each side searched on its own */
        int e = opt->entropy_bins < nb ? opt->entropy_bins : nb;
        int one_side = 2 * e < nb ? 2 * e : nb;
        *lo = obs->min >= 0 ? obs->min : -entropy_side(obs, -1, obs->max <= 0 ? one_side : e, work);
        *hi = obs->max <= 0 ? obs->max : entropy_side(obs, 1, obs->min >= 0 ? one_side : e, work);
        break;
    }
    case CALIB_MSE: {
        double tw = (obs->max - obs->min) / nb;
        rebin(obs, h, nb, obs->min, tw, 0);
        int levels = 1 << opt->mse_bits;
        mse_search(h, nb, obs->min, tw, levels, work + nb, lo, hi);
        if (*hi > obs->max)
            *hi = obs->max;
        break;
    }
    default:
        free(work);
        return quanta_fail(err, QUANTA_ERR_USAGE, "unknown calibration method %d", (int)opt->method);
    }
    free(work);
    if (*lo < obs->min)
        *lo = obs->min;
    if (*hi > obs->max)
        *hi = obs->max;
    if (*lo > *hi)
        *lo = *hi;
    return QUANTA_OK;
}

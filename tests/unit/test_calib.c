/* Calibration observers and methods against brute-force computations on
 * known distributions (exact sorted-array percentiles, exact mean/std,
 * exhaustive threshold searches computing KL and MSE directly from the
 * samples), streaming versus one batch, and the calibration table. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/calib.h"
#include "support/test_support.h"

/* ---- data: a fixed-seed generator (splitmix64) ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double rng_uniform(void) /* [0, 1) */
{
    return (double)(rng_next() >> 11) * 0x1.0p-53;
}

static double rng_gauss(void) /* Box-Muller */
{
    double u1 = rng_uniform(), u2 = rng_uniform();
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
}

enum dist { DIST_UNIFORM, DIST_GAUSS, DIST_OUTLIERS, DIST_RELU, DIST_COUNT };
static const char *const dist_names[] = {"uniform", "gauss", "outliers", "relu"};

#define N_SAMPLES 40000

static float *make_data(enum dist d, size_t n)
{
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    rng_state = 12345 + (uint64_t)d;
    for (size_t i = 0; i < n; i++) {
        switch (d) {
        case DIST_UNIFORM:
            x[i] = (float)(-1 + 4 * rng_uniform()); /* U[-1, 3) */
            break;
        case DIST_GAUSS:
            x[i] = (float)(0.5 + 2 * rng_gauss()); /* N(0.5, 2^2) */
            break;
        case DIST_OUTLIERS: /* N(0, 1) with 0.1% of the samples at +-(20..60) */
            if (rng_uniform() < 0.001)
                x[i] = (float)((rng_uniform() < 0.5 ? -1 : 1) * (20 + 40 * rng_uniform()));
            else
                x[i] = (float)rng_gauss();
            break;
        default: { /* relu of N(0, 1.5^2) */
            double g = 1.5 * rng_gauss();
            x[i] = g > 0 ? (float)g : 0.0f;
            break;
        }
        }
    }
    return x;
}

static void feed(struct calib_observer *obs, const float *x, size_t n, size_t batch)
{
    for (size_t i = 0; i < n; i += batch)
        calib_observer_update(obs, x + i, n - i < batch ? n - i : batch);
}

static void observe(struct calib_observer *obs, const float *x, size_t n, size_t batch, int bins)
{
    struct quanta_error err = {0};
    ck_assert_int_eq(calib_observer_init(obs, bins, &err), QUANTA_OK);
    feed(obs, x, n, batch);
}

static void range_of(const struct calib_observer *obs, enum calib_method m, double *lo, double *hi)
{
    struct calib_options opt;
    struct quanta_error err = {0};
    calib_options_default(&opt);
    opt.method = m;
    opt.bins = obs->bins;
    ck_assert_int_eq(calib_observer_range(obs, &opt, lo, hi, &err), QUANTA_OK);
    ck_assert(*lo <= *hi);
}

static void range_meanstd(const struct calib_observer *obs, double k, double *lo, double *hi)
{
    struct calib_options opt;
    struct quanta_error err = {0};
    calib_options_default(&opt);
    opt.method = CALIB_MEANSTD;
    opt.k = k;
    ck_assert_int_eq(calib_observer_range(obs, &opt, lo, hi, &err), QUANTA_OK);
    ck_assert(*lo <= *hi);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double *sorted_copy(const float *x, size_t n)
{
    double *s = malloc(n * sizeof *s);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++)
        s[i] = x[i];
    qsort(s, n, sizeof *s, cmp_double);
    return s;
}

/* ---- minmax, meanstd ---- */

START_TEST(test_calib_minmax_exact)
{
    for (int d = 0; d < DIST_COUNT; d++) {
        float *x = make_data((enum dist)d, N_SAMPLES);
        double mn = INFINITY, mx = -INFINITY;
        for (size_t i = 0; i < N_SAMPLES; i++) {
            mn = fmin(mn, x[i]);
            mx = fmax(mx, x[i]);
        }
        struct calib_observer obs;
        observe(&obs, x, N_SAMPLES, 333, 2048);
        double lo, hi;
        range_of(&obs, CALIB_MINMAX, &lo, &hi);
        ck_assert_msg(lo == mn && hi == mx, "%s: [%g, %g] vs [%g, %g]", dist_names[d], lo, hi, mn, mx);
        ck_assert_int_eq(obs.count, N_SAMPLES);
        calib_observer_free(&obs);
        free(x);
    }
}
END_TEST

START_TEST(test_calib_meanstd_exact)
{
    for (int d = 0; d < DIST_COUNT; d++) {
        float *x = make_data((enum dist)d, N_SAMPLES);
        long double s = 0, ss = 0;
        double mn = INFINITY, mx = -INFINITY;
        for (size_t i = 0; i < N_SAMPLES; i++) {
            s += x[i];
            mn = fmin(mn, x[i]);
            mx = fmax(mx, x[i]);
        }
        long double mean = s / N_SAMPLES;
        for (size_t i = 0; i < N_SAMPLES; i++)
            ss += (x[i] - mean) * (x[i] - mean);
        double sd = sqrt((double)(ss / N_SAMPLES));
        struct calib_observer obs;
        observe(&obs, x, N_SAMPLES, 97, 2048);
        ck_assert_double_eq_tol(obs.mean, (double)mean, 1e-12 * (1 + fabs((double)mean)));
        ck_assert_double_eq_tol(calib_observer_std(&obs), sd, 1e-10 * sd);

        static const double ks[] = {1.5, 3, CALIB_DEFAULT_K};
        for (size_t j = 0; j < sizeof ks / sizeof ks[0]; j++) {
            double lo, hi;
            range_meanstd(&obs, ks[j], &lo, &hi);
            double elo = fmax(mn, (double)mean - ks[j] * sd), ehi = fmin(mx, (double)mean + ks[j] * sd);
            ck_assert_double_eq_tol(lo, elo, 1e-9 * sd);
            ck_assert_double_eq_tol(hi, ehi, 1e-9 * sd);
        }
        double lo, hi; /* the default k is the one documented */
        range_of(&obs, CALIB_MEANSTD, &lo, &hi);
        ck_assert_double_eq_tol(lo, fmax(mn, (double)mean - 6 * sd), 1e-9 * sd);
        ck_assert_double_eq_tol(hi, fmin(mx, (double)mean + 6 * sd), 1e-9 * sd);
        calib_observer_free(&obs);
        free(x);
    }
}
END_TEST

/* The uniform data lies well inside mean +- 3 std, so the clipping to the
 * observed range must act; the relu data has mean - 3 std < 0 = min. */
START_TEST(test_calib_meanstd_clipped)
{
    float *x = make_data(DIST_RELU, N_SAMPLES);
    struct calib_observer obs;
    observe(&obs, x, N_SAMPLES, 1000, 2048);
    double lo, hi;
    range_meanstd(&obs, 3, &lo, &hi);
    ck_assert(lo == 0.0);
    ck_assert(hi < obs.max);
    calib_observer_free(&obs);
    free(x);

    x = make_data(DIST_UNIFORM, N_SAMPLES);
    observe(&obs, x, N_SAMPLES, 1000, 2048);
    range_meanstd(&obs, 3, &lo, &hi);
    ck_assert(lo == obs.min && hi == obs.max);
    calib_observer_free(&obs);
    free(x);
}
END_TEST

/* ---- percentile against exact order statistics ---- */

START_TEST(test_calib_percentile_vs_sorted)
{
    static const double ps[] = {99.99, 99.9, 99.0, 95.0};
    for (int d = 0; d < DIST_COUNT; d++) {
        float *x = make_data((enum dist)d, N_SAMPLES);
        double *s = sorted_copy(x, N_SAMPLES);
        struct calib_observer obs;
        observe(&obs, x, N_SAMPLES, 500, 2048);
        double w = calib_observer_bin_width(&obs);
        for (size_t k = 0; k < sizeof ps / sizeof ps[0]; k++) {
            struct calib_options opt;
            struct quanta_error err = {0};
            calib_options_default(&opt);
            opt.method = CALIB_PERCENTILE;
            opt.percentile = ps[k];
            double lo, hi;
            ck_assert_int_eq(calib_observer_range(&obs, &opt, &lo, &hi, &err), QUANTA_OK);
            /* The value where the count of elements below reaches rank t lies
             * between the order statistics around t; the histogram may move
             * it by a bin width. */
            for (int side = 0; side < 2; side++) {
                double t = N_SAMPLES * (side ? ps[k] / 100 : 1 - ps[k] / 100);
                long r = (long)ceil(t);
                long a = r - 2 < 0 ? 0 : r - 2, b = r >= N_SAMPLES ? N_SAMPLES - 1 : r;
                double got = side ? hi : lo;
                ck_assert_msg(got >= s[a] - w && got <= s[b] + w,
                              "%s p=%g %s: %g not in [%g, %g] (w %g)", dist_names[d], ps[k],
                              side ? "hi" : "lo", got, s[a], s[b], w);
            }
        }
        /* p = 100 is minmax */
        struct calib_options opt;
        struct quanta_error err = {0};
        calib_options_default(&opt);
        opt.method = CALIB_PERCENTILE;
        opt.percentile = 100;
        double lo, hi;
        ck_assert_int_eq(calib_observer_range(&obs, &opt, &lo, &hi, &err), QUANTA_OK);
        ck_assert_double_eq_tol(lo, s[0], 1e-9);
        ck_assert_double_eq_tol(hi, s[N_SAMPLES - 1], 1e-9);
        calib_observer_free(&obs);
        free(s);
        free(x);
    }
}
END_TEST

/* ---- entropy: exhaustive KL search on exact one-sided histograms ---- */

/* KL(P || Q) for threshold i bins, written out directly: reference P
 * clipped into bin i-1, Q the i bins quantized to `levels` levels and
 * expanded over P's non-zero bins. */
static double bf_kl(const double *hist, int nb, int i, int levels)
{
    double total = 0, kept = 0;
    for (int k = 0; k < nb; k++) {
        total += hist[k];
        if (k < i)
            kept += hist[k];
    }
    if (kept == 0)
        return INFINITY;
    double *p = calloc((size_t)i, sizeof *p), *q = calloc((size_t)i, sizeof *q);
    ck_assert(p && q);
    for (int k = 0; k < i; k++)
        p[k] = hist[k];
    p[i - 1] += total - kept;
    for (int j = 0; j < levels; j++) {
        int s = (int)floor((double)j * i / levels), e = (int)floor((double)(j + 1) * i / levels);
        double sum = 0;
        int nz = 0;
        for (int k = s; k < e; k++) {
            sum += hist[k];
            nz += p[k] != 0;
        }
        for (int k = s; k < e; k++)
            q[k] = p[k] != 0 ? sum / nz : 0;
    }
    double kl = 0;
    for (int k = 0; k < i; k++) {
        if (p[k] == 0)
            continue;
        if (q[k] == 0) {
            kl = INFINITY;
            break;
        }
        kl += (p[k] / total) * log((p[k] / total) / (q[k] / kept));
    }
    free(p);
    free(q);
    return kl;
}

/* One side of the data searched exhaustively: side +1 takes the samples
 * x > 0 (x >= 0 when with_zero), side -1 the samples x < 0 as -x; their
 * exact histogram over [0, M] (M the side's largest magnitude) in nb bins,
 * then every threshold i in [levels, nb] tried. Returns T; kl_at[0] is the
 * least divergence, kl_at[1] the divergence at t_query (the least over
 * +-4 bins: the exact histogram is sparse in the tails, so a threshold
 * whose last chunk happens to be empty while elements lie beyond has
 * infinite KL). */
struct bf_side {
    double t, m, kl_best, kl_query;
};

static struct bf_side bf_entropy_side(const float *x, size_t n, int side, bool with_zero, int nb,
                                      int levels, double t_query)
{
    struct bf_side r = {0, 0, INFINITY, INFINITY};
    for (size_t i = 0; i < n; i++)
        r.m = fmax(r.m, side * (double)x[i]);
    double w = r.m / nb;
    double *hist = calloc((size_t)nb, sizeof *hist);
    ck_assert_ptr_nonnull(hist);
    for (size_t i = 0; i < n; i++) {
        double v = side * (double)x[i];
        if (v > 0 || (with_zero && v == 0)) {
            int b = (int)(v / w);
            hist[b >= nb ? nb - 1 : b] += 1;
        }
    }
    int best = nb;
    for (int i = levels; i <= nb; i++) {
        double kl = bf_kl(hist, nb, i, levels);
        if (kl < r.kl_best) {
            r.kl_best = kl;
            best = i;
        }
    }
    r.t = best * w;
    int iq = (int)lround(t_query / w);
    for (int i = iq - 4; i <= iq + 4; i++)
        if (i >= levels && i <= nb)
            r.kl_query = fmin(r.kl_query, bf_kl(hist, nb, i, levels));
    free(hist);
    return r;
}

static void range_entropy(const struct calib_observer *obs, int levels, double *lo, double *hi)
{
    struct calib_options opt;
    struct quanta_error err = {0};
    calib_options_default(&opt);
    opt.method = CALIB_ENTROPY;
    opt.bins = obs->bins;
    opt.entropy_bins = levels;
    ck_assert_int_eq(calib_observer_range(obs, &opt, lo, hi, &err), QUANTA_OK);
    ck_assert(*lo <= *hi);
}

/* Values with both signs: each side is searched on its own with E levels;
 * the side histograms are re-binned from the signed one, so the threshold
 * found must be near-optimal for the exact divergence of that side. The
 * relu data (one sign) gets 2E levels, and its histogram starts at 0 and
 * fits [0, max] exactly (one batch): same bins, same answer. */
START_TEST(test_calib_entropy_vs_bruteforce)
{
    const int nb = 512, e = 128; /* fewer bins than the default to keep the brute force quick */
    for (int d = 0; d < DIST_COUNT; d++) {
        float *x = make_data((enum dist)d, N_SAMPLES);
        struct calib_observer obs;
        observe(&obs, x, N_SAMPLES, N_SAMPLES, nb); /* one batch */
        double lo, hi;
        range_entropy(&obs, e, &lo, &hi);
        if (d == DIST_RELU) {
            struct bf_side r = bf_entropy_side(x, N_SAMPLES, 1, true, nb, 2 * e, hi);
            ck_assert_msg(fabs(hi - r.t) <= 1e-9 * r.m, "relu: %g vs brute %g", hi, r.t);
            ck_assert(lo == 0.0);
        } else {
            ck_assert(obs.min < 0 && obs.max > 0);
            for (int side = -1; side <= 1; side += 2) {
                double t = side > 0 ? hi : -lo;
                struct bf_side r = bf_entropy_side(x, N_SAMPLES, side, false, nb, e, t);
                ck_assert_msg(r.kl_query <= r.kl_best * 1.10 + 1e-4,
                              "%s side %+d: T %g KL %g, brute T %g KL %g", dist_names[d], side, t,
                              r.kl_query, r.t, r.kl_best);
                ck_assert(t > 0 && t <= r.m);
            }
        }
        calib_observer_free(&obs);
        free(x);
    }
}
END_TEST

/* A value of one sign is quantized over [0, T] with all 256 levels of the
 * 8-bit quantizer: its threshold is the brute-force one with 2E = 256
 * levels, which on this data lies bins away from the one 128 levels would
 * give (so the test tells them apart). Negated data mirror it exactly. */
START_TEST(test_calib_entropy_one_sign_all_levels)
{
    const int nb = 2048;
    float *x = make_data(DIST_RELU, N_SAMPLES);
    struct calib_observer obs;
    observe(&obs, x, N_SAMPLES, N_SAMPLES, nb);
    double lo, hi;
    range_of(&obs, CALIB_ENTROPY, &lo, &hi); /* defaults: E = 128 */
    struct bf_side r256 = bf_entropy_side(x, N_SAMPLES, 1, true, nb, 256, hi);
    struct bf_side r128 = bf_entropy_side(x, N_SAMPLES, 1, true, nb, 128, hi);
    ck_assert_msg(fabs(hi - r256.t) <= 1e-9 * r256.m, "relu: %g vs brute (256 levels) %g", hi, r256.t);
    ck_assert_msg(fabs(r128.t - r256.t) > 8 * r256.m / nb, "128 levels %g, 256 levels %g", r128.t,
                  r256.t);
    ck_assert(lo == 0.0);
    ck_assert(hi < obs.max);
    calib_observer_free(&obs);

    for (size_t i = 0; i < N_SAMPLES; i++)
        x[i] = -x[i];
    observe(&obs, x, N_SAMPLES, N_SAMPLES, nb);
    double nlo, nhi;
    range_of(&obs, CALIB_ENTROPY, &nlo, &nhi);
    ck_assert(nhi == 0.0);
    ck_assert_msg(fabs(nlo + hi) <= 1e-9 * r256.m, "mirrored: %g vs %g", nlo, -hi);
    calib_observer_free(&obs);
    free(x);
}
END_TEST

/* A normalized image: half the elements are the background, a spike at
 * exactly the minimum (-0.81), the rest spread up to 2.02. The spike must
 * stay in range (lo == min) and hi be chosen on its own, not mirrored
 * from lo; each side near the brute-force optimum with E levels. */
START_TEST(test_calib_entropy_spike_at_min)
{
    const int nb = 512, e = 64;
    const float bg = -0.810198f;
    float *x = malloc(N_SAMPLES * sizeof *x);
    ck_assert_ptr_nonnull(x);
    rng_state = 4242;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        if (rng_uniform() < 0.5) {
            x[i] = bg;
        } else { /* pixel levels 1..255, denser toward the bright end */
            int p = 1 + (int)(254 * sqrt(rng_uniform()));
            x[i] = (float)(bg + p * (2.022663 - bg) / 255);
        }
    }
    struct calib_observer obs;
    observe(&obs, x, N_SAMPLES, 1000, nb);
    ck_assert(obs.min == bg);
    double lo, hi;
    range_entropy(&obs, e, &lo, &hi);
    ck_assert_msg(lo == obs.min, "lo %g, min %g", lo, obs.min);
    ck_assert_msg(hi > 1.5 * -lo, "hi %g not chosen apart from lo %g", hi, lo);
    struct bf_side r = bf_entropy_side(x, N_SAMPLES, 1, false, nb, e, hi);
    ck_assert_msg(r.kl_query <= r.kl_best * 1.10 + 1e-4, "T %g KL %g, brute T %g KL %g", hi,
                  r.kl_query, r.t, r.kl_best);
    struct bf_side rn = bf_entropy_side(x, N_SAMPLES, -1, false, nb, e, -lo);
    ck_assert_msg(fabs(rn.t + lo) <= 4 * rn.m / nb, "negative side: %g, brute %g", -lo, rn.t);
    calib_observer_free(&obs);
    free(x);
}
END_TEST

/* Relu data: about half the elements are exactly 0, so the lower
 * percentile is 0 exactly (not a value interpolated inside the first bin);
 * n_min counts the zeros whatever the batching. */
START_TEST(test_calib_percentile_point_mass_at_min)
{
    float *x = make_data(DIST_RELU, N_SAMPLES);
    int64_t zeros = 0;
    for (size_t i = 0; i < N_SAMPLES; i++)
        zeros += x[i] == 0.0f;
    struct calib_observer obs;
    observe(&obs, x, N_SAMPLES, 13, 2048);
    ck_assert_int_eq(obs.n_min, zeros);
    ck_assert_int_eq(obs.n_max, 1);
    double lo, hi;
    range_of(&obs, CALIB_PERCENTILE, &lo, &hi);
    ck_assert(lo == 0.0);
    ck_assert(hi < obs.max);
    calib_observer_free(&obs);
    free(x);
}
END_TEST

/* Outliers must be cut: the entropy threshold of N(0,1) plus a few values
 * at |x| in [20, 60] lies far inside the observed range on each side. */
START_TEST(test_calib_entropy_cuts_outliers)
{
    float *x = make_data(DIST_OUTLIERS, N_SAMPLES);
    struct calib_observer obs;
    observe(&obs, x, N_SAMPLES, 256, 2048);
    double lo, hi;
    range_of(&obs, CALIB_ENTROPY, &lo, &hi);
    ck_assert_msg(hi < 15 && lo > -15 && hi > 2.5 && lo < -2.5, "[%g, %g]", lo, hi);
    ck_assert(obs.min < -20 && obs.max > 20);
    calib_observer_free(&obs);
    free(x);
}
END_TEST

/* ---- mse: exhaustive search with the error computed from the samples ---- */

struct bf_mse {
    const double *s;  /* sorted samples */
    size_t n;
    double *p1, *p2;  /* prefix sums of x and x^2 */
    double levels;
};

static size_t lower_index(const double *s, size_t n, double v) /* first index with s[i] >= v */
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t m = (a + b) / 2;
        if (s[m] < v)
            a = m + 1;
        else
            b = m;
    }
    return a;
}

/* Expected squared error over the samples of a uniform quantizer on [lo, hi]:
 * step^2/12 inside, exact clipping error outside. */
static double bf_mse_error(const struct bf_mse *m, double lo, double hi)
{
    size_t a = lower_index(m->s, m->n, lo);     /* elements < lo: [0, a) */
    size_t b = lower_index(m->s, m->n, nextafter(hi, INFINITY)); /* > hi: [b, n) */
    double below = lo * lo * a - 2 * lo * m->p1[a] + m->p2[a];
    double c_above = (double)(m->n - b), s1 = m->p1[m->n] - m->p1[b], s2 = m->p2[m->n] - m->p2[b];
    double above = s2 - 2 * hi * s1 + hi * hi * c_above;
    double step = (hi - lo) / (m->levels - 1);
    return ((double)(b - a) * step * step / 12 + below + above) / m->n;
}

static struct bf_mse bf_mse_make(const double *s, size_t n)
{
    struct bf_mse m = {s, n, NULL, NULL, 256};
    m.p1 = malloc((n + 1) * sizeof(double));
    m.p2 = malloc((n + 1) * sizeof(double));
    ck_assert(m.p1 && m.p2);
    m.p1[0] = m.p2[0] = 0;
    for (size_t i = 0; i < n; i++) {
        m.p1[i + 1] = m.p1[i] + s[i];
        m.p2[i + 1] = m.p2[i] + s[i] * s[i];
    }
    return m;
}

START_TEST(test_calib_mse_vs_bruteforce)
{
    for (int d = 0; d < DIST_COUNT; d++) {
        float *x = make_data((enum dist)d, N_SAMPLES);
        double *s = sorted_copy(x, N_SAMPLES);
        struct bf_mse m = bf_mse_make(s, N_SAMPLES);
        /* exhaustive over a 300 x 300 grid of [min, max] */
        const int g = 300;
        double mn = s[0], mx = s[N_SAMPLES - 1], best = INFINITY, blo = mn, bhi = mx;
        for (int i = 0; i <= g; i++)
            for (int j = i + 1; j <= g; j++) {
                double lo = mn + (mx - mn) * i / g, hi = mn + (mx - mn) * j / g;
                double e = bf_mse_error(&m, lo, hi);
                if (e < best) {
                    best = e;
                    blo = lo;
                    bhi = hi;
                }
            }
        struct calib_observer obs;
        observe(&obs, x, N_SAMPLES, 1024, 2048);
        double lo, hi;
        range_of(&obs, CALIB_MSE, &lo, &hi);
        double got = bf_mse_error(&m, lo, hi);
        ck_assert_msg(got <= best * 1.02, "%s: [%g, %g] err %g; brute [%g, %g] err %g", dist_names[d],
                      lo, hi, got, blo, bhi, best);
        /* and it is a real optimum: minmax is worse unless nothing is clipped */
        ck_assert(got <= bf_mse_error(&m, mn, mx) * 1.0000001);
        ck_assert_msg(fabs(lo - blo) <= 0.05 * (mx - mn) && fabs(hi - bhi) <= 0.05 * (mx - mn),
                      "%s: [%g, %g] vs brute [%g, %g]", dist_names[d], lo, hi, blo, bhi);
        calib_observer_free(&obs);
        free(m.p1);
        free(m.p2);
        free(s);
        free(x);
    }
}
END_TEST

/* With 2 bits (4 levels) clipping pays off much more: the range of the
 * outlier data must shrink well inside [min, max]. */
START_TEST(test_calib_mse_clips_outliers)
{
    float *x = make_data(DIST_OUTLIERS, N_SAMPLES);
    struct calib_observer obs;
    observe(&obs, x, N_SAMPLES, 4096, 2048);
    struct calib_options opt;
    struct quanta_error err = {0};
    calib_options_default(&opt);
    opt.method = CALIB_MSE;
    double lo8, hi8, lo2, hi2;
    ck_assert_int_eq(calib_observer_range(&obs, &opt, &lo8, &hi8, &err), QUANTA_OK);
    opt.mse_bits = 2;
    ck_assert_int_eq(calib_observer_range(&obs, &opt, &lo2, &hi2, &err), QUANTA_OK);
    ck_assert_msg(hi2 < hi8 && lo2 > lo8 && hi2 < 5 && lo2 > -5, "8 bit [%g, %g], 2 bit [%g, %g]", lo8,
                  hi8, lo2, hi2);
    calib_observer_free(&obs);
    free(x);
}
END_TEST

/* A value only a function reads: with mse the range minimises the error
 * after the function. For silu on N(0.5, 2^2) (flat near -1.3, nearly
 * linear above) and sigmoid (flat in both tails) the chosen range gives a
 * smaller error after f than the plain mse range and than min/max, and
 * clips more of the side where f is flat. */
static double silu_fn(double x, void *ctx)
{
    (void)ctx;
    return x / (1 + exp(-x));
}

static double sigmoid_fn(double x, void *ctx)
{
    (void)ctx;
    return 1 / (1 + exp(-x));
}

static double error_after(double (*f)(double, void *), const float *x, size_t n, double lo,
                          double hi)
{
    double step = (hi - lo) / 255, e = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
        double q = lo + round((v - lo) / step) * step;
        double d = f(x[i], NULL) - f(q, NULL);
        e += d * d;
    }
    return e / (double)n;
}

START_TEST(test_calib_mse_after_function)
{
    double (*const fns[2])(double, void *) = {silu_fn, sigmoid_fn};
    float *x = make_data(DIST_GAUSS, N_SAMPLES);
    struct calib_observer obs;
    observe(&obs, x, N_SAMPLES, 1024, 2048);
    struct calib_options opt;
    struct quanta_error err = {0};
    calib_options_default(&opt);
    opt.method = CALIB_MSE;
    double plo, phi;
    ck_assert_int_eq(calib_observer_range(&obs, &opt, &plo, &phi, &err), QUANTA_OK);
    for (int k = 0; k < 2; k++) {
        double lo, hi;
        ck_assert_int_eq(calib_observer_range_after(&obs, &opt, fns[k], NULL, &lo, &hi, &err),
                         QUANTA_OK);
        double e = error_after(fns[k], x, N_SAMPLES, lo, hi);
        double e_plain = error_after(fns[k], x, N_SAMPLES, plo, phi);
        double e_minmax = error_after(fns[k], x, N_SAMPLES, obs.min, obs.max);
        ck_assert_msg(e < 0.8 * e_plain && e < 0.8 * e_minmax,
                      "f %d: [%g, %g] err %g; plain mse [%g, %g] err %g; minmax err %g", k, lo,
                      hi, e, plo, phi, e_plain, e_minmax);
        ck_assert_msg(lo > plo, "f %d: lo %g, plain mse lo %g", k, lo, plo);
    }
    /* other methods ignore the function */
    opt.method = CALIB_MINMAX;
    double lo, hi;
    ck_assert_int_eq(calib_observer_range_after(&obs, &opt, silu_fn, NULL, &lo, &hi, &err),
                     QUANTA_OK);
    ck_assert(lo == obs.min && hi == obs.max);
    calib_observer_free(&obs);
    free(x);
}
END_TEST

/* ---- special data ---- */

START_TEST(test_calib_constant_data)
{
    static const float values[] = {1.25f, 0.0f, -7.5f};
    for (size_t v = 0; v < 3; v++) {
        float x[1000];
        for (int i = 0; i < 1000; i++)
            x[i] = values[v];
        struct calib_observer obs;
        observe(&obs, x, 1000, 64, 2048);
        for (int m = 0; m < CALIB_METHOD_COUNT; m++) {
            double lo, hi;
            range_of(&obs, (enum calib_method)m, &lo, &hi);
            ck_assert_msg(lo == values[v] && hi == values[v], "%s on %g: [%g, %g]",
                          calib_method_name((enum calib_method)m), values[v], lo, hi);
        }
        ck_assert_double_eq(calib_observer_std(&obs), 0);
        calib_observer_free(&obs);
    }
}
END_TEST

START_TEST(test_calib_nonfinite_and_empty)
{
    float x[6] = {1.0f, NAN, 2.0f, INFINITY, -INFINITY, 3.0f};
    struct calib_observer obs;
    observe(&obs, x, 6, 6, 64);
    ck_assert_int_eq(obs.count, 3);
    ck_assert_int_eq(obs.nonfinite, 3);
    ck_assert(obs.min == 1.0 && obs.max == 3.0);
    ck_assert_double_eq_tol(obs.mean, 2.0, 1e-15);
    calib_observer_free(&obs);

    observe(&obs, x + 1, 1, 1, 64); /* only NaN */
    ck_assert_int_eq(obs.count, 0);
    for (int m = 0; m < CALIB_METHOD_COUNT; m++) {
        double lo, hi;
        range_of(&obs, (enum calib_method)m, &lo, &hi);
        ck_assert(lo == 0 && hi == 0);
    }
    calib_observer_free(&obs);
}
END_TEST

/* After growth by merging, the histogram equals a direct binning of every
 * sample on the final grid: re-binning loses nothing. Data arrive in
 * increasing magnitude so the range grows many times, in both directions. */
START_TEST(test_calib_histogram_growth_exact)
{
    size_t n = 20000;
    float *x = malloc(n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    rng_state = 777;
    for (size_t i = 0; i < n; i++) {
        double scale = 0.01 * pow(1.001, (double)i); /* 0.01 .. ~5e6 */
        x[i] = (float)((rng_uniform() - 0.3) * scale);
    }
    struct calib_observer obs;
    observe(&obs, x, n, 50, 256);
    ck_assert(obs.h_lo <= obs.min && obs.h_hi >= obs.max);
    uint64_t *direct = calloc(256, sizeof *direct);
    ck_assert_ptr_nonnull(direct);
    double w = (obs.h_hi - obs.h_lo) / 256;
    for (size_t i = 0; i < n; i++) {
        int b = (int)floor((x[i] - obs.h_lo) / w);
        direct[b < 0 ? 0 : b > 255 ? 255 : b]++;
    }
    uint64_t total = 0;
    int mismatched = 0;
    for (int b = 0; b < 256; b++) {
        total += obs.hist[b];
        mismatched += obs.hist[b] != direct[b];
    }
    ck_assert_uint_eq(total, n);
    ck_assert_int_eq(mismatched, 0);
    free(direct);
    calib_observer_free(&obs);
    free(x);
}
END_TEST

/* Streaming in batches of 7 (the range growing as data arrive in sorted
 * order) versus one batch: the same statistics, and every method's range
 * within one bin width of the coarser histogram. */
START_TEST(test_calib_streaming_matches_one_batch)
{
    for (int d = 0; d < DIST_COUNT; d++) {
        float *x = make_data((enum dist)d, N_SAMPLES);
        /* put the values of small magnitude first so the histogram grows often */
        double *s = sorted_copy(x, N_SAMPLES);
        size_t lo_i = 0, hi_i = N_SAMPLES;
        for (size_t i = 0; i < N_SAMPLES; i++)
            x[N_SAMPLES - 1 - i] = (float)(fabs(s[lo_i]) > fabs(s[hi_i - 1]) ? s[lo_i++] : s[--hi_i]);
        struct calib_observer one, many;
        observe(&one, x, N_SAMPLES, N_SAMPLES, 2048);
        observe(&many, x, N_SAMPLES, 7, 2048);
        ck_assert_int_eq(one.count, many.count);
        ck_assert(one.min == many.min && one.max == many.max);
        ck_assert_double_eq_tol(one.mean, many.mean, 1e-12 * (1 + fabs(one.mean)));
        ck_assert_double_eq_tol(one.m2, many.m2, 1e-10 * one.m2);
        double w = fmax(calib_observer_bin_width(&one), calib_observer_bin_width(&many));
        for (int m = 0; m < CALIB_METHOD_COUNT; m++) {
            double lo1, hi1, lo2, hi2;
            range_of(&one, (enum calib_method)m, &lo1, &hi1);
            range_of(&many, (enum calib_method)m, &lo2, &hi2);
            double tol_lo = w, tol_hi = w;
            if (m == CALIB_ENTROPY) {
                /* the divergence is flat near its minimum and the two
                 * histograms differ in resolution: on each side both
                 * thresholds must be near-optimal for the exact divergence
                 * of the samples, and lie within 2% of the range */
                bool one_sign = one.min >= 0 || one.max <= 0;
                for (int side = -1; side <= 1; side += 2) {
                    if (side > 0 ? one.max <= 0 : one.min >= 0)
                        continue;
                    int e = CALIB_DEFAULT_ENTROPY_BINS, levels = one_sign ? 2 * e : e;
                    double t1 = side > 0 ? hi1 : -lo1, t2 = side > 0 ? hi2 : -lo2;
                    struct bf_side r1 = bf_entropy_side(x, N_SAMPLES, side, one_sign, 2048, levels, t1);
                    struct bf_side r2 = bf_entropy_side(x, N_SAMPLES, side, one_sign, 2048, levels, t2);
                    double bound = 1.3 * r1.kl_best + 1e-4;
                    ck_assert_msg(r1.kl_query <= bound && r2.kl_query <= bound,
                                  "%s entropy side %+d: KL %g at %g, %g at %g, least %g at %g",
                                  dist_names[d], side, r1.kl_query, t1, r2.kl_query, t2, r1.kl_best,
                                  r1.t);
                }
                tol_lo = tol_hi = 0.02 * (one.max - one.min);
            }
            if (m == CALIB_PERCENTILE) {
                /* in a sparse tail the interpolated value moves freely
                 * between the order statistics around the rank */
                long r = (long)ceil(N_SAMPLES * (1 - CALIB_DEFAULT_PERCENTILE / 100));
                tol_lo += s[r] - s[r - 2 < 0 ? 0 : r - 2];
                r = (long)ceil(N_SAMPLES * CALIB_DEFAULT_PERCENTILE / 100);
                tol_hi += s[r >= N_SAMPLES ? N_SAMPLES - 1 : r] - s[r - 2];
            }
            if (m == CALIB_MSE) {
                /* the error is flat near its minimum: both ranges must give
                 * the same error over the samples within 1%, and lie close */
                struct bf_mse bm = bf_mse_make(s, N_SAMPLES);
                double e1 = bf_mse_error(&bm, lo1, hi1), e2 = bf_mse_error(&bm, lo2, hi2);
                ck_assert_msg(fabs(e1 - e2) <= 0.01 * fmax(e1, e2), "%s mse: %g vs %g",
                              dist_names[d], e1, e2);
                free(bm.p1);
                free(bm.p2);
                tol_lo = tol_hi = 10 * w;
            }
            ck_assert_msg(fabs(lo1 - lo2) <= tol_lo && fabs(hi1 - hi2) <= tol_hi,
                          "%s %s: one batch [%g, %g], batches of 7 [%g, %g], w %g", dist_names[d],
                          calib_method_name((enum calib_method)m), lo1, hi1, lo2, hi2, w);
        }
        calib_observer_free(&one);
        calib_observer_free(&many);
        free(s);
        free(x);
    }
}
END_TEST

/* ---- options ---- */

START_TEST(test_calib_options)
{
    struct calib_options opt;
    struct quanta_error err = {0};
    calib_options_default(&opt);
    ck_assert_int_eq(calib_options_check(&opt, &err), QUANTA_OK);
    ck_assert_int_eq(opt.bins, 2048);
    ck_assert_int_eq(opt.entropy_bins, 128);
    ck_assert_double_eq(opt.percentile, 99.99);
    ck_assert_double_eq(opt.k, 6);
    ck_assert_int_eq(opt.mse_bits, 8);

    for (int m = 0; m < CALIB_METHOD_COUNT; m++)
        ck_assert_int_eq(calib_method_parse(calib_method_name((enum calib_method)m)), m);
    ck_assert_int_eq(calib_method_parse("kl"), CALIB_METHOD_COUNT);
    ck_assert_str_eq(calib_method_name(CALIB_ENTROPY), "entropy");

    struct calib_options bad = opt;
    bad.bins = 2047;
    ck_assert_int_eq(calib_options_check(&bad, &err), QUANTA_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "2047"));
    bad = opt;
    bad.percentile = 49;
    ck_assert_int_eq(calib_options_check(&bad, &err), QUANTA_ERR_USAGE);
    bad = opt;
    bad.percentile = NAN;
    ck_assert_int_eq(calib_options_check(&bad, &err), QUANTA_ERR_USAGE);
    bad = opt;
    bad.k = 0;
    ck_assert_int_eq(calib_options_check(&bad, &err), QUANTA_ERR_USAGE);
    bad = opt;
    bad.entropy_bins = 4096;
    ck_assert_int_eq(calib_options_check(&bad, &err), QUANTA_ERR_USAGE);
    bad = opt;
    bad.batch = 0;
    ck_assert_int_eq(calib_options_check(&bad, &err), QUANTA_ERR_USAGE);

    struct calib_observer obs;
    ck_assert_int_eq(calib_observer_init(&obs, 15, &err), QUANTA_ERR_USAGE);
    calib_observer_free(&obs);
}
END_TEST


/* ---- the calibration table ---- */

static void sample_table(struct calib_table *t)
{
    memset(t, 0, sizeof *t);
    calib_options_default(&t->params);
    t->method = CALIB_PERCENTILE;
    t->params.percentile = 99.9;
    t->params.bins = 1024;
    t->samples = 1000;
    strcpy(t->data_sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    t->n_values = 3;
    t->values = calloc(3, sizeof *t->values);
    ck_assert_ptr_nonnull(t->values);
    static const char *const names[] = {"image", "conv1.out", "we\"ird\\name"};
    static const double r[3][4] = {{0, 1, 0, 1}, {-3.25, 7.1, -2.0000000000000004, 6.5}, {1e-30, 2e30, 1e-30, 0.1}};
    for (int i = 0; i < 3; i++) {
        t->values[i].name = strdup(names[i]);
        t->values[i].count = 784000 + i;
        t->values[i].min = r[i][0];
        t->values[i].max = r[i][1];
        t->values[i].lo = r[i][2];
        t->values[i].hi = r[i][3];
    }
}

START_TEST(test_calib_table_round_trip)
{
    struct calib_table t, back;
    struct quanta_error err = {0};
    sample_table(&t);
    const char *path = ts_tmp_path("calib.json");
    ck_assert_int_eq(calib_table_save(&t, path, &err), QUANTA_OK);
    ck_assert_int_eq(calib_table_load(&back, path, &err), QUANTA_OK);
    ck_assert_int_eq(back.method, CALIB_PERCENTILE);
    ck_assert_double_eq(back.params.percentile, 99.9);
    ck_assert_int_eq(back.params.bins, 1024);
    ck_assert_int_eq(back.samples, 1000);
    ck_assert_str_eq(back.data_sha256, t.data_sha256);
    ck_assert_str_eq(back.model_sha256, "");
    ck_assert_int_eq(back.n_values, 3);
    for (int i = 0; i < 3; i++) {
        const struct calib_value *v = calib_table_find(&back, t.values[i].name);
        ck_assert_ptr_nonnull(v);
        ck_assert_int_eq(v->count, t.values[i].count);
        /* numbers read back bit for bit */
        ck_assert(v->min == t.values[i].min && v->max == t.values[i].max);
        ck_assert(v->lo == t.values[i].lo && v->hi == t.values[i].hi);
    }
    ck_assert_ptr_null(calib_table_find(&back, "absent"));

    /* deterministic: the same table gives the same bytes, also after a round trip */
    char *a = calib_table_to_json(&t), *b = calib_table_to_json(&back);
    size_t size = 0;
    char *file = ts_read_file(path, &size);
    ck_assert_str_eq(a, b);
    ck_assert_str_eq(a, file);
    ck_assert_ptr_nonnull(strstr(a, "\"format\": \"quanta.calibration\""));
    ck_assert_ptr_nonnull(strstr(a, "\"params\": {\"bins\": 1024, \"percentile\": 99.9}"));
    free(a);
    free(b);
    free(file);
    calib_table_free(&t);
    calib_table_free(&back);
}
END_TEST

START_TEST(test_calib_table_every_method)
{
    for (int m = 0; m < CALIB_METHOD_COUNT; m++) {
        struct calib_table t, back;
        struct quanta_error err = {0};
        sample_table(&t);
        t.method = (enum calib_method)m;
        char *json = calib_table_to_json(&t);
        ck_assert_ptr_nonnull(json);
        ck_assert_msg(calib_table_parse(&back, json, strlen(json), "t.json", &err) == QUANTA_OK, "%s: %s",
                      calib_method_name((enum calib_method)m), err.message);
        ck_assert_int_eq(back.method, m);
        free(json);
        calib_table_free(&t);
        calib_table_free(&back);
    }
}
END_TEST

static const char *const good_head =
    "{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"meanstd\", \"params\": {\"k\": 3},"
    " \"samples\": 10, \"data_sha256\": \"\", \"model_sha256\": \"\", \"values\": {";

START_TEST(test_calib_table_rejects_malformed)
{
    static const struct {
        const char *text;   /* appended to good_head unless it starts with '!' */
        const char *needle; /* expected in the message */
    } cases[] = {
        {"\"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 2, \"hi\": 1}}}", "lo 2 is above hi 1"},
        {"\"x\": {\"count\": 1, \"min\": 2, \"max\": 1, \"lo\": 0, \"hi\": 1}}}", "min 2 is above max 1"},
        {"\"x\": {\"count\": 1, \"min\": 0, \"max\": 1e999, \"lo\": 0, \"hi\": 1}}}", "finite"},
        {"\"x\": {\"count\": 1, \"min\": 0, \"max\": \"1\", \"lo\": 0, \"hi\": 1}}}", "finite"},
        {"\"x\": {\"count\": 1.5, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}}}", "count"},
        {"\"x\": {\"count\": -1, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}}}", "count"},
        {"\"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 0}}}", "lacks \"hi\""},
        {"\"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1, \"mid\": 0}}}", "unexpected key \"mid\""},
        {"\"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1, \"hi\": 1}}}", "duplicate key \"hi\""},
        {"\"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1},"
         " \"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}}}", "'x' appears twice"},
        {"\"x\": [1]}}", "not an object"},
        {"\"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}}} x", "text after"},
        {"\"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}}", "not valid JSON"},
        {"\"x\": {\"a\": [[[[[[[[[[1]]]]]]]]]]}}}", "nests too deep"},
        {"!{\"format\": \"quanta.calib\", \"version\": 1}", "no \"method\" key"},
        {"!{\"format\": \"other\", \"version\": 1, \"method\": \"minmax\", \"params\": {}, \"samples\": 1,"
         " \"data_sha256\": \"\", \"model_sha256\": \"\", \"values\": {}}", "\"format\" is not"},
        {"!{\"format\": \"quanta.calibration\", \"version\": 2, \"method\": \"minmax\", \"params\": {},"
         " \"samples\": 1, \"data_sha256\": \"\", \"model_sha256\": \"\", \"values\": {}}", "\"version\" is not 1"},
        {"!{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"kl\", \"params\": {},"
         " \"samples\": 1, \"data_sha256\": \"\", \"model_sha256\": \"\", \"values\": {}}", "\"method\""},
        {"!{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"minmax\", \"params\": {\"k\": 3},"
         " \"samples\": 1, \"data_sha256\": \"\", \"model_sha256\": \"\", \"values\": {}}", "unexpected key \"k\""},
        {"!{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"entropy\", \"params\": {\"bins\": 2048},"
         " \"samples\": 1, \"data_sha256\": \"\", \"model_sha256\": \"\", \"values\": {}}", "lacks \"entropy_bins\""},
        {"!{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"entropy\","
         " \"params\": {\"bins\": 2047, \"entropy_bins\": 128},"
         " \"samples\": 1, \"data_sha256\": \"\", \"model_sha256\": \"\", \"values\": {}}", "2047"},
        {"!{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"minmax\", \"params\": {},"
         " \"samples\": 1, \"data_sha256\": \"ABC\", \"model_sha256\": \"\", \"values\": {}}", "data_sha256"},
        {"!{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"minmax\", \"params\": {},"
         " \"samples\": -1, \"data_sha256\": \"\", \"model_sha256\": \"\", \"values\": {}}", "samples"},
        {"!{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"minmax\", \"params\": {},"
         " \"samples\": 1, \"data_sha256\": \"\", \"model_sha256\": \"\"}", "no \"values\""},
        {"![1, 2]", "not a JSON object"},
        {"!", "not valid JSON"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char text[1024];
        if (cases[c].text[0] == '!')
            snprintf(text, sizeof text, "%s", cases[c].text + 1);
        else
            snprintf(text, sizeof text, "%s%s", good_head, cases[c].text);
        const char *path = ts_tmp_path("bad.json");
        ts_write_file(path, text, strlen(text));
        struct calib_table t;
        struct quanta_error err = {0};
        ck_assert_msg(calib_table_load(&t, path, &err) == QUANTA_ERR_INPUT, "case %zu accepted: %s", c, text);
        ck_assert_msg(strstr(err.message, "bad.json") && strstr(err.message, cases[c].needle) &&
                          !strchr(err.message, '\n'),
                      "case %zu: message '%s' lacks '%s'", c, err.message, cases[c].needle);
        ck_assert_int_eq(t.n_values, 0);
        ck_assert_ptr_null(t.values);
    }
    /* the good head with a good value is accepted */
    char text[1024];
    snprintf(text, sizeof text, "%s%s", good_head,
             "\"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}}}\n");
    struct calib_table t;
    struct quanta_error err = {0};
    ck_assert_int_eq(calib_table_parse(&t, text, strlen(text), "ok.json", &err), QUANTA_OK);
    ck_assert_int_eq(t.n_values, 1);
    ck_assert_double_eq(t.params.k, 3);
    calib_table_free(&t);
    /* a NUL byte inside is refused, as is a missing file */
    char nul[] = "{\"format\"\0}";
    ck_assert_int_eq(calib_table_parse(&t, nul, sizeof nul - 1, "nul.json", &err), QUANTA_ERR_INPUT);
    ck_assert_int_eq(calib_table_load(&t, ts_tmp_path("absent.json"), &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "absent.json"));
}
END_TEST

Suite *suite_calib(void);
Suite *suite_calib(void)
{
    Suite *s = suite_create("calib");
    TCase *tc = tcase_create("observer");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_calib_minmax_exact);
    tcase_add_test(tc, test_calib_meanstd_exact);
    tcase_add_test(tc, test_calib_meanstd_clipped);
    tcase_add_test(tc, test_calib_percentile_vs_sorted);
    tcase_add_test(tc, test_calib_percentile_point_mass_at_min);
    tcase_add_test(tc, test_calib_entropy_vs_bruteforce);
    tcase_add_test(tc, test_calib_entropy_cuts_outliers);
    tcase_add_test(tc, test_calib_entropy_one_sign_all_levels);
    tcase_add_test(tc, test_calib_entropy_spike_at_min);
    tcase_add_test(tc, test_calib_mse_vs_bruteforce);
    tcase_add_test(tc, test_calib_mse_clips_outliers);
    tcase_add_test(tc, test_calib_mse_after_function);
    tcase_add_test(tc, test_calib_constant_data);
    tcase_add_test(tc, test_calib_nonfinite_and_empty);
    tcase_add_test(tc, test_calib_histogram_growth_exact);
    tcase_add_test(tc, test_calib_streaming_matches_one_batch);
    tcase_add_test(tc, test_calib_options);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("table");
    tcase_add_test(tt, test_calib_table_round_trip);
    tcase_add_test(tt, test_calib_table_every_method);
    tcase_add_test(tt, test_calib_table_rejects_malformed);
    suite_add_tcase(s, tt);
    return s;
}

/* Calibration: runs a float model over a data set and records, for every
 * activation (each graph input and each node output), streaming statistics
 * from which a method chooses the range [lo, hi] that quantization maps to
 * 8-bit integers. The result is a calibration table (JSON) that `quantize`
 * reuses, so one calibration serves many quantizations.
 *
 * Memory: an observer has a fixed size (a few scalars and one histogram of
 * `bins` counts), whatever the number of samples; the data set streams
 * through the runner one batch at a time.
 *
 * Methods (enum calib_method) and their parameters (struct calib_options):
 *
 *   minmax      lo = min, hi = max of everything observed.
 *   meanstd     lo = mean - k*std, hi = mean + k*std (population std over all
 *               elements), clipped to [min, max]. k: default 6, within a
 *               factor 2.1 of the least expected squared error of an
 *               8-bit quantizer for normal, Laplace and relu-of-normal
 *               data alike (k = 3 clips a relu-of-normal tail badly: 155
 *               times the least error).
 *   percentile  hi = the `percentile`-th percentile, lo = the
 *               (100 - `percentile`)-th (each tail separately), read from
 *               the histogram with linear interpolation inside the bin where
 *               the cumulative count crosses the rank p/100 * count; clipped
 *               to [min, max]; when the rank falls within the elements equal to min (or
 *               max), the bound is min (max) exactly, so a relu output
 *               with many zeros keeps lo = 0. percentile: default 99.99,
 *               in [50, 100].
 *   entropy     the KL-divergence threshold search popularised by TensorRT,
 *               run on each side of 0 that holds data, so that lo and hi
 *               are chosen independently. A side's histogram is the
 *               observed histogram re-binned to `bins` bins over [0, M]:
 *               of x for the positive side (M = max), of -x for the
 *               negative side (M = -min); a bin straddling 0 gives each
 *               side the share of its length on that side. With L levels,
 *               for each candidate i in [L, bins]: P = bins [0, i) with the
 *               mass of bins >= i added to bin i-1; Q = bins [0, i)
 *               (without that mass) merged into L chunks (chunk j = bins
 *               [floor(j*i/L), floor((j+1)*i/L))) and expanded back, each
 *               chunk's count shared equally by the bins of the chunk where
 *               P is non-zero; the candidate minimising KL(P || Q) (P and
 *               Q normalised to sum 1; Q == 0 where P > 0 counts as
 *               infinite; ties keep the smallest i; if every candidate is
 *               infinite, i = bins) gives the threshold T = i * M / bins. Levels: E = entropy_bins is the number of
 *               levels one side gets from a symmetric 8-bit quantizer
 *               (128). A value of one sign is quantized asymmetrically
 *               over [0, T] with all 2E levels: min >= 0 gives lo = min,
 *               hi = T searched with L = min(2E, bins); max <= 0 mirrors
 *               that. A value with both signs has each side searched with
 *               L = min(E, bins): lo = -T(negative side), hi = T(positive
 *               side). So a spike at the minimum (e.g. an input's
 *               background) stays in range whatever the positive tail does.
 *               entropy_bins: default 128.
 *   mse         the range minimising the expected squared error of a
 *               uniform quantizer with 2^mse_bits levels over [lo, hi]:
 *               step^2/12 for every element inside (step = (hi-lo) /
 *               (2^mse_bits - 1)) plus the clipping error (x-hi)^2 or
 *               (lo-x)^2 outside, computed from the histogram re-binned to
 *               `bins` bins over [min, max] (elements uniform inside a bin);
 *               lo and hi range over every pair of bin edges.
 *               mse_bits: default 8.
 *
 * The histogram: `bins` counts (default 2048, even) over [h_lo, h_hi],
 * which always contains 0. Its first range is the first batch's range
 * joined with 0; when later data falls outside, the bin width doubles,
 * adjacent pairs of bins merging (upward growth keeps h_lo, downward keeps
 * h_hi), until it fits: memory stays constant and bin edges stay exact, so
 * a non-negative value's histogram always starts at 0. Non-finite elements
 * (NaN, infinities) are counted apart and otherwise ignored.
 *
 * A value whose elements are all equal gets lo = hi = that value; a value
 * with no finite element gets count 0 and lo = hi = min = max = 0. Ranges
 * need not contain 0: quantize widens them to include it. */
#ifndef QUANTA_CALIB_H
#define QUANTA_CALIB_H

#include <stdbool.h>
#include <stdint.h>
#include "quanta/data.h"
#include "quanta/feed.h"
#include "quanta/graph.h"
#include "quanta/sha256.h"
#include "quanta/status.h"

/* X(enum suffix, name) */
#define CALIB_METHOD_LIST(X)                                                   \
    X(MINMAX, "minmax")                                                        \
    X(MEANSTD, "meanstd")                                                      \
    X(PERCENTILE, "percentile")                                                \
    X(ENTROPY, "entropy")                                                      \
    X(MSE, "mse")

/* The five single methods, then CALIB_AUTO ("auto"): per value, the range
 * among the five methods' ranges that gives the least squared error at
 * the outputs of the nodes reading the value (see calib_run). It needs the
 * graph and a second pass over the data, so calib_observer_range refuses
 * it. */
enum calib_method {
#define CALIB_METHOD_ENUM(id, name) CALIB_##id,
    CALIB_METHOD_LIST(CALIB_METHOD_ENUM)
#undef CALIB_METHOD_ENUM
    CALIB_METHOD_COUNT,
    CALIB_AUTO = CALIB_METHOD_COUNT + 1
};

const char *calib_method_name(enum calib_method method);   /* "invalid" if out of range */
/* The five methods and "auto"; CALIB_METHOD_COUNT if unknown. */
enum calib_method calib_method_parse(const char *name);

#define CALIB_DEFAULT_BINS 2048
#define CALIB_DEFAULT_PERCENTILE 99.99
#define CALIB_DEFAULT_K 6.0
#define CALIB_DEFAULT_ENTROPY_BINS 128
#define CALIB_DEFAULT_MSE_BITS 8
#define CALIB_DEFAULT_BATCH 32
#define CALIB_MIN_BINS 16
#define CALIB_MAX_BINS 65536

struct calib_options {
    enum calib_method method;   /* default CALIB_MINMAX; CALIB_AUTO allowed */
    double percentile;          /* percentile: [50, 100], default 99.99 */
    double k;                   /* meanstd: > 0, default 6 */
    int bins;                   /* histogram bins: even, [16, 65536], default 2048 */
    int entropy_bins;           /* entropy: levels per side of a symmetric
                                   quantizer (2x for one-signed values),
                                   [2, bins], default 128 */
    int mse_bits;               /* mse: quantizer bits, [2, 16], default 8 */
    int64_t samples;            /* samples to use; 0: every sample of the data set */
    int64_t batch;              /* samples per run, >= 1, default 32 */
    int threads;                /* runner threads, 0: all cores */
};

void calib_options_default(struct calib_options *opt);
/* QUANTA_ERR_USAGE naming the parameter and its allowed range. */
enum quanta_status calib_options_check(const struct calib_options *opt, struct quanta_error *err);

/* ---- observers: streaming statistics of one value ---- */

struct calib_observer {
    int64_t count;              /* finite elements seen */
    int64_t nonfinite;          /* NaN / infinite elements skipped */
    double min, max;            /* of the finite elements */
    int64_t n_min, n_max;       /* elements equal to min, to max */
    double mean, m2;            /* running mean and sum of squared deviations
                                   (batches combined with Chan's formula) */
    int bins;                   /* histogram size (even) */
    double h_lo, h_hi;          /* histogram range; h_lo <= 0 <= h_hi */
    uint64_t *hist;             /* bins counts, bin i = [h_lo + i*w, h_lo + (i+1)*w) */
};

/* Allocates the histogram (QUANTA_ERR_NOMEM) ; bins must be even and within
 * [CALIB_MIN_BINS, CALIB_MAX_BINS] (QUANTA_ERR_USAGE). */
enum quanta_status calib_observer_init(struct calib_observer *obs, int bins, struct quanta_error *err);
void calib_observer_free(struct calib_observer *obs);
void calib_observer_update(struct calib_observer *obs, const float *data, size_t n);
double calib_observer_std(const struct calib_observer *obs);    /* population std */
/* Histogram bin width, 0 before any finite data. */
double calib_observer_bin_width(const struct calib_observer *obs);
/* The range [lo, hi] of opt->method (parameters from opt; samples, batch and
 * threads unused). QUANTA_ERR_NOMEM if a work buffer cannot be allocated;
 * QUANTA_ERR_USAGE for CALIB_AUTO (only calib_run chooses with it). */
enum quanta_status calib_observer_range(const struct calib_observer *obs,
                                        const struct calib_options *opt, double *lo, double *hi,
                                        struct quanta_error *err);

/* The same, for a value whose one reader applies the element-wise function
 * f (f NULL: calib_observer_range): with method mse the squared error is
 * measured after f, so a range may clip where f is flat. Other methods
 * ignore f. */
enum quanta_status calib_observer_range_after(const struct calib_observer *obs,
                                              const struct calib_options *opt,
                                              double (*f)(double x, void *ctx), void *ctx,
                                              double *lo, double *hi, struct quanta_error *err);

/* ---- the calibration table ---- */

struct calib_value {
    char *name;                 /* value name in the graph */
    int64_t count;              /* finite elements observed */
    int64_t nonfinite;          /* NaN / infinite elements left out of the range */
    double min, max;            /* observed range */
    double lo, hi;              /* chosen range, lo <= hi */
    enum calib_method method;   /* the method that gave lo, hi: the table's,
                                   or for an "auto" table the one chosen */
};

struct calib_table {
    enum calib_method method;
    struct calib_options params;  /* method parameters (percentile, k, bins,
                                     entropy_bins, mse_bits); samples/batch/
                                     threads are not stored */
    int64_t samples;              /* samples the statistics come from */
    char data_sha256[QUANTA_SHA256_HEX_SIZE];   /* of the data file, "" if unknown */
    char model_sha256[QUANTA_SHA256_HEX_SIZE];  /* of the model file, "" if unknown */
    int n_values;
    struct calib_value *values;   /* graph order: inputs, then node outputs */
};

/* The file format (model-format-like JSON, keys in this order, numbers
 * printed with the fewest digits that read back exactly):
 *   {"format": "quanta.calibration", "version": 1, "method": "entropy",
 *    "params": {"bins": 2048, "entropy_bins": 128},
 *    "samples": 1000, "data_sha256": "<64 hex>", "model_sha256": "<64 hex>",
 *    "values": {"<name>": {"count": N, "min": .., "max": .., "lo": .., "hi": ..}, ...}}
 * A value that met NaN or infinite elements also has "nonfinite": N after
 * "count" (those elements are left out of every statistic). A value with
 * no finite element has count 0 and min = max = lo = hi = 0.
 * "params" holds the parameters of the method only (minmax: none; meanstd:
 * k; percentile: bins, percentile; entropy: bins, entropy_bins; mse: bins,
 * mse_bits; auto: all five, in the order bins, entropy_bins, k, mse_bits,
 * percentile). A sha256 that is unknown is written as "".
 * A table of method "auto" (still version 1: a reader that predates auto
 * rejects the method by name) gives every value a "method" key after
 * "count" (and "nonfinite"), naming the single method chosen for it; other
 * tables have no such key. */

/* Deterministic JSON text (same table, same bytes), ending in a newline.
 * NULL on no memory. Caller frees. */
char *calib_table_to_json(const struct calib_table *table);
/* Writes the JSON through safe_file_write_all. */
enum quanta_status calib_table_save(const struct calib_table *table, const char *path,
                                    struct quanta_error *err);
/* Strict reader: every key above required (params: those of the method),
 * no other key, no duplicate, format/version as above, a known method,
 * ("nonfinite" optional; a value's "method" required in an "auto" table,
 * one of the five, and refused in others), parameters within
 * calib_options_check's ranges, finite numbers,
 * min <= max, lo <= hi, count >= 0, sha256 "" or 64 lowercase hex digits,
 * unique value names, nesting at most 8 deep. Anything else is
 * QUANTA_ERR_INPUT with a one-line message naming source (the file). */
enum quanta_status calib_table_parse(struct calib_table *table, const char *json, size_t size,
                                     const char *source, struct quanta_error *err);
enum quanta_status calib_table_load(struct calib_table *table, const char *path,
                                    struct quanta_error *err);
void calib_table_free(struct calib_table *table);
/* The warning for value v of a table made from source (v->nonfinite > 0):
 * "SOURCE: value 'x': N NaN or infinite elements (of M) were left out of
 * its range", in buf of size bytes. */
void calib_nonfinite_format(const struct calib_value *v, const char *source, char *buf,
                            size_t size);
/* The entry of a value by name, NULL if absent. */
const struct calib_value *calib_table_find(const struct calib_table *table, const char *name);
/* The range [lo, hi] of value `name` in table (a struct calib_table *), as
 * quantize's struct quantize_ranges asks for it; false when absent. */
bool calib_table_range(void *table, const char *name, float *lo, float *hi);

/* ---- the driver ---- */

/* Runs g (a float model) over the feed (opened for g with a batch of
 * opt->batch and a limit of opt->samples): every batch of the feed, every
 * graph input and node output of a float dtype feeding its observer through
 * the runner hook (integer inputs such as token ids pass through
 * unobserved, and so does whatever else is not float); then fills out
 * (method, params, samples, data_sha256 of feed->path, one entry per
 * observed value in graph order). out->model_sha256 is left "" for the
 * caller. out is empty on failure.
 *
 * Method auto: the first pass gives each value the five methods' ranges
 * (the candidates); a second pass over the same samples measures, for
 * each candidate, the squared error it causes where the value is used,
 * the value being fake-quantized as quantize would (asymmetric int8 over
 * the range widened to include 0) and everything else float:
 *   - a reader that is an element-wise function (relu, relu6, leaky_relu
 *     and the functions of runner_node_function): after that function;
 *   - a conv2d, dense or matmul reader whose other inputs are constants:
 *     at its output (fused activation included), the node re-run alone on
 *     the runner's float kernels, a batch at a time (a runner made for the
 *     batch and freed after it, so one such node holds memory at once);
 *   - a graph output, and any other reader: at the value itself.
 * Errors of a value's readers add up; the candidate of least total error
 * wins, ties going to the earlier method of CALIB_METHOD_LIST (candidates
 * giving the same scale and zero point are evaluated once). Memory stays
 * constant: five sums per reader, and one batch of one re-run node (its
 * input and float output, and its runner). */
enum quanta_status calib_run(const struct graph *g, struct data_feed *feed,
                             const struct calib_options *opt, struct calib_table *out,
                             struct quanta_error *err);

/* ---- channel means of conv2d/dense inputs (bias correction) ---- */

struct calib_channel_means {
    char *name;                 /* the value (input 0 of a conv2d or dense) */
    int64_t channels;           /* its last axis */
    int64_t count;              /* positions averaged (samples * rows) */
    double *mean;               /* channels means */
};

struct calib_means {
    int n;
    struct calib_channel_means *list;   /* in node order */
};

/* Runs float graph g over the feed (every sample, feed->batch at a time)
 * and averages every channel of each conv2d/dense input over samples and
 * positions. */
enum quanta_status calib_input_means(const struct graph *g, struct data_feed *feed, int threads,
                                     struct calib_means *out, struct quanta_error *err);
void calib_means_free(struct calib_means *m);
/* quantize_means.find over a struct calib_means (ctx). */
bool calib_means_find(void *ctx, const char *value, int64_t *n, const double **mean);

#endif

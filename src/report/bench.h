/* Speed measurement (quanta bench, quanta profile): one or more models on
 * deterministic synthetic input, batch size by batch size, the models
 * taking turns; wall and CPU time, median / p90 / p99, GOP/s, the share of
 * the kernel level's theoretical peak, the peak RSS, and per node (when
 * profiling) the median time, share, GOP/s and peak share. The formulas
 * are in man quanta-bench(1). Nothing here prints; bench_print.c does. */
#ifndef QUANTA_REPORT_BENCH_H
#define QUANTA_REPORT_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>

#include "quanta/graph.h"
#include "quanta/status.h"
#include "report/report.h"

/* ---- the clock, the machine, the statistics ---- */

double bench_now_seconds(void);         /* CLOCK_MONOTONIC */
double bench_cpu_seconds(void);         /* CPU time of the process, every thread */
long bench_peak_rss_kb(void);           /* getrusage's ru_maxrss, -1 if unknown */

/* Nearest-rank percentile of sorted t[0..n): the smallest value with at
 * least p percent of the samples at or below it. */
double bench_percentile(const double *t, int64_t n, double p);

struct bench_clock {
    double ghz;                         /* NaN when unknown */
    const char *source;                 /* where ghz came from */
};
/* cpuinfo_max_freq of cpu0, else the first "cpu MHz" of /proc/cpuinfo. */
void bench_read_clock(struct bench_clock *c);

/* Theoretical peak in GOP/s of threads cores at the clock, for the current
 * kernel level's float or int8 arithmetic; NaN when the clock is unknown. */
double bench_peak_gops(const struct bench_clock *c, int threads, bool int8);

/* ---- synthetic input ---- */

struct bench_input {
    int n;
    void **buffers;                     /* one per graph input, runner_run's layout */
};

/* max_batch samples for every graph input of g: floats uniform in [-1, 1)
 * (already normalized), ids uniform in [0, vocab) of the smallest
 * embedding reading them (an embedding_bag's offsets split its ids
 * evenly); xorshift64* with a fixed seed per input, so the same on every
 * machine. path names the model in messages. */
enum quanta_status bench_input_make(struct bench_input *in, const struct graph *g,
                                    const char *path, int64_t max_batch,
                                    struct quanta_error *err);
void bench_input_free(struct bench_input *in);

/* ---- a measurement ---- */

struct bench_config {
    char *const *models;                /* paths */
    int n_models;
    const int64_t *batches;             /* each in [1, 2^20] */
    int n_batches;
    const int64_t *threads;             /* as given: 0 is every core */
    int n_threads;
    int64_t iters, warmup;              /* timed runs >= 1, untimed runs before them */
    bool optimize;                      /* runner_options.optimize (what quanta run runs) */
    bool profile;                       /* time every node of every timed run */
};

/* One node of the graph the runner ran, at one batch size. */
struct bench_node {
    char *name;
    enum graph_op op;
    bool int8;                          /* runs on int8 values */
    struct quanta_shape shape;          /* first output, at this batch */
    double ops;                         /* operations at this batch (graph_node_ops) */
    double median_ms, share;            /* over the timed runs; of node_sum_ms */
    double gops, peak_fraction;         /* ops / median; of the peak of its kind */
};

struct bench_batch {
    int64_t batch;
    double median_ms, p90_ms, p99_ms;
    double samples_per_s, gops, peak_fraction, speedup;
    double cpu_ms;                      /* median process CPU time per run, all threads */
    double *runs_ms;                    /* [iters] wall ms of each timed run, in run order */
    /* profile only: */
    struct bench_node *nodes;           /* [n_nodes], graph order */
    int n_nodes;
    struct report_profile profile;      /* the same medians, with the per-op rows */
    double node_sum_ms;                 /* sum of the node medians */
};

struct bench_model {
    const char *path;
    int threads;                        /* resolved: never 0 */
    bool int8;                          /* conv2d/dense run on int8 activations */
    double ops_per_sample;
    double peak_gops;
    long peak_rss_kb;
    struct bench_batch *batches;        /* [n_batches] */
};

/* Rows: every model at the first thread count, then every model at the
 * next one, and so on. */
struct bench {
    struct bench_config cfg;
    const char *kernels;                /* the kernel level's name */
    struct bench_clock clock;
    struct bench_model *models;         /* [n_rows] */
    int n_rows;                         /* n_models x n_threads */
};

/* Initialises the kernels, opens every model, runs the warm-up and timed
 * runs and fills b. Per batch size: the warm-up runs of every model, then
 * rounds in which every model in turn makes one untimed run (its weights
 * back in cache after the others ran) and up to 5 timed ones, so that a
 * slower phase of a shared machine falls on all models alike. b is to be
 * freed with bench_free whatever the result. */
enum quanta_status bench_measure(struct bench *b, const struct bench_config *cfg,
                                 struct quanta_error *err);
void bench_free(struct bench *b);

/* ---- reports (bench_print.c) ---- */

/* The table of every model and batch size, and a line per model. */
enum quanta_status bench_print_text(const struct bench *b, FILE *out);
cJSON *bench_json(const struct bench *b);

/* Per thread count and batch size, one node table: the models' nodes side
 * by side (one or two models), paired by node name in graph order, a node
 * of one model only with blanks on the other side, and a total line. */
enum quanta_status bench_print_profile(const struct bench *b, FILE *out);
/* The same as a JSON array, added to root as "profile". */
bool bench_profile_json(const struct bench *b, cJSON *root);

#endif

/* Metrics for comparing model outputs, a plain-text table printer, and the
 * per-layer comparison of two models.
 *
 * The metrics see output vectors (one sample's scores over n classes) and
 * float arrays; only the per-layer comparison (layers.c) knows graphs and
 * runners. Counts are accumulated sample by sample so that data sets
 * stream through. */
#ifndef QUANTA_REPORT_H
#define QUANTA_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cJSON.h>
#include "quanta/data.h"
#include "quanta/feed.h"
#include "quanta/graph.h"
#include "quanta/runtime.h"
#include "quanta/status.h"

/* ---- one sample: scores x[0..n) over n classes (n >= 1) ---- */

/* Index of the largest score; the lowest index wins a tie. NaN never wins. */
int report_argmax(const float *x, int n);

/* Position of class c when the classes are sorted by descending score, ties
 * broken by lower index first: the number of classes ranked before c.
 * "c is in the top k" is report_rank(x, n, c) < k. A class outside [0, n)
 * has rank n (never in any top k). */
int report_rank(const float *x, int n, int c);

/* The k best classes (k <= n) in rank order, written to classes[0..k). */
void report_top_k(const float *x, int n, int k, int *classes);

/* True when x already is a probability distribution: every entry in
 * [0, 1] and the sum within 1e-3 of 1 (e.g. the graph ends in softmax). */
bool report_is_probability(const float *x, int n);

/* Probabilities of x: x itself when report_is_probability, else the
 * softmax of x (computed in double, shifted by the maximum). */
void report_probabilities(const float *x, int n, double *p);

/* Natural-log probabilities, as report_probabilities but without underflow:
 * log-softmax of x, or log(max(x[i], 1e-12)) when x is a distribution. */
void report_log_probabilities(const float *x, int n, double *logp);

/* KL(P || Q) = sum_i p_i * (log p_i - log q_i) in nats, from the natural-log
 * probabilities of P and Q; entries with p_i == 0 contribute 0. */
double report_kl_divergence(const double *logp, const double *logq, int n);

/* ---- signal-to-quantization-noise ratio ---- */

/* Accumulates sum(ref^2) and sum((ref - test)^2) over any number of calls. */
struct report_sqnr {
    double signal;
    double noise;
    int64_t count;          /* elements seen */
};

void report_sqnr_add(struct report_sqnr *acc, const float *ref, const float *test, size_t n);
/* 10 * log10(signal / noise) in dB: +INFINITY when noise == 0 (identical),
 * -INFINITY when signal == 0 < noise. NaN if no element was added. */
double report_sqnr_db(const struct report_sqnr *acc);

/* ---- accumulators over a data set ---- */

/* 100 * count / total, computed so that 912 of 1000 gives exactly 91.2;
 * NaN when total == 0. */
double report_percent(int64_t count, int64_t total);

struct report_accuracy {
    int64_t samples;
    int64_t top1;           /* label ranked first */
    int64_t top5;           /* label among the five best (all, if n < 5) */
};

/* Adds one labelled sample. A label outside [0, n) counts as wrong. */
void report_accuracy_add(struct report_accuracy *acc, const float *x, int n, int label);

/* Model 1 against model 2 on the same samples. */
struct report_compare {
    int64_t samples;
    int64_t agree;          /* same top-1 class */
    double kl_sum;          /* sum over samples of KL(P1 || P2) */
    struct report_sqnr sqnr;/* model 1's output as the reference */
};

/* Adds one sample's outputs x1 (reference) and x2; scratch holds 2 * n
 * doubles. */
void report_compare_add(struct report_compare *acc, const float *x1, const float *x2, int n,
                        double *scratch);
/* Mean KL divergence per sample; NaN when no sample was added. */
double report_compare_kl(const struct report_compare *acc);

/* ---- binary outputs and errors against a reference (task_metrics.c) ---- */

/* Probabilities are clipped to [eps, 1 - eps] in the log loss, as
 * scikit-learn's log_loss does. */
#define REPORT_LOG_LOSS_EPS 1e-15

/* The probability of class 1: x itself, or the logistic function of x in
 * double when x is a logit. */
double report_binary_probability(float x, bool logit);
/* The decision at 0.5: x > 0.5 for a probability, x > 0 for a logit. */
bool report_binary_decision(float x, bool logit);
/* -ln p for y = 1, -ln(1 - p) for y = 0, p clipped by REPORT_LOG_LOSS_EPS. */
double report_log_loss_term(double p, int y);
/* Area under the ROC curve of scores against labels y (0 or 1), exact:
 * the Mann-Whitney U of the positives' ranks (ties take the mean rank) over
 * pos * neg. NaN when a class is absent or a score is NaN. order is
 * scratch for n indices. */
double report_auc(const float *score, const uint8_t *y, int64_t n, int64_t *order);

/* Errors of test against ref, accumulated sample by sample. */
struct report_errors {
    double squared;         /* sum (test - ref)^2 */
    double absolute;        /* sum |test - ref| */
    double cosine;          /* sum over samples of cos(ref, test) */
    int64_t samples;
    struct report_sqnr sqnr;/* ref as the signal; its count is the elements */
};

/* Adds one sample of n elements. A sample whose ref or test is all zeros
 * has cosine 0, or 1 when both are. */
void report_errors_add(struct report_errors *acc, const float *ref, const float *test, size_t n);
double report_errors_mse(const struct report_errors *acc);     /* per element */
double report_errors_mae(const struct report_errors *acc);     /* per element */
double report_errors_cosine(const struct report_errors *acc);  /* mean per sample */

/* ---- shapes and numbers as reports print them (format.c) ---- */

/* "[N, 28, 28, 1]": a shape whose first dim is -1 shows it as N. */
char *report_shape_text(const struct quanta_shape *shape, char *buf, size_t size);
/* The shape as a JSON array of integers (-1 kept as -1); NULL on no memory. */
cJSON *report_json_shape(const struct quanta_shape *shape);
/* Adds a number, or null when v is NaN or infinite; false on no memory. */
bool report_json_number(cJSON *object, const char *key, double v);
/* A node's op as the reports print it: what the optimizer fused into it
 * ("conv2d+add+relu") or its mode ("pad:reflect"). */
const char *report_op_label(const struct graph_node *n, char *buf, size_t size);

/* ---- significance of a comparison, and a median (stats.c) ---- */

/* Median of t[0..n) (n >= 1); sorts t. Bench's and the profile's. */
double report_median(double *t, int64_t n);

/* Two-sided 95% normal quantile, z = Phi^-1(0.975). */
#define REPORT_Z95 1.959963984540054

/* Both models' correctness on the same labelled samples: a 2x2 table. */
struct report_paired {
    int64_t both;           /* right by both models */
    int64_t only1;          /* right by model 1 only (b) */
    int64_t only2;          /* right by model 2 only (c) */
    int64_t neither;
};

void report_paired_add(struct report_paired *p, bool correct1, bool correct2);
int64_t report_paired_samples(const struct report_paired *p);

/* Wilson score interval for a proportion of x successes in n trials at the
 * normal quantile z (lo = 0 exactly when x == 0, hi = 1 when x == n).
 * NaN for both when n == 0. */
void report_wilson_interval(int64_t x, int64_t n, double z, double *lo, double *hi);

/* Interval for p1 - p2 (accuracy of model 1 minus model 2, as a fraction)
 * by Newcombe's hybrid score method for paired data (1998, method 10):
 * Wilson intervals of both marginal proportions, squared and added with
 * the correlation phi of the 2x2 table. Always within [-1, 1]; NaN for an
 * empty table. */
void report_paired_diff_interval(const struct report_paired *p, double z, double *lo,
                                 double *hi);

/* Exact two-sided McNemar test of b against c discordant pairs: under equal
 * accuracy b ~ Binomial(b + c, 1/2), p = min(1, 2 P(X <= min(b, c))); 1 when
 * b == c (and b = c = 0). Summed in double from the largest term down with
 * the log-gamma function, so b + c in the millions neither overflows nor
 * loses the tail before it drops below the smallest double (~1e-308). */
double report_mcnemar_exact_p(int64_t b, int64_t c);

/* ---- per-layer comparison (layers.c) ---- */

struct report_hist;

/* A node output of model 1 that model 2 also produces under the same name
 * with as many elements per sample. */
struct report_layer {
    int value1, value2;         /* indices in the graphs g1 and g2 of report_layers */
    int64_t per_sample;         /* elements per sample */
    float *ref;                 /* model 1's value, max_batch samples */
    int64_t ref_count;          /* elements stored in the last run, -1: none */
    bool mismatch;              /* shapes differed at run time */
    struct report_sqnr sqnr;    /* model 2 against model 1 */
    struct report_hist *hist;   /* model 1's values (report_layers_histograms), or NULL */
};

struct report_layers {
    /* The graphs the two runners run (runner_graph: a float model's
     * optimized copy, whose values the optimizer renumbered), not the
     * graphs as stored: the hooks report values by these indices. */
    const struct graph *g1, *g2;
    struct report_layer *list;  /* in graph 1's node order */
    int n;
    int *of_value1;             /* graph 1 value -> layer, -1 */
    int *of_value2;             /* graph 2 value -> layer, -1 */
};

/* Lists the values both runners compute (by name, each of the same size in
 * both) and sets both runners' hooks (model 1 must run each batch first). */
enum quanta_status report_layers_init(struct report_layers *ls, struct runner *r1,
                                      struct runner *r2, int64_t max_batch,
                                      struct quanta_error *err);
/* Also keeps a histogram of every layer's model 1 values, with the range
 * model 2 quantizes the value to marked (detail.h). */
enum quanta_status report_layers_histograms(struct report_layers *ls, struct quanta_error *err);
void report_layers_free(struct report_layers *ls);

/* Runs the float graph fg and its quantized copy qg on every batch of the
 * feed (opened for fg; qg takes the same inputs) and fills ls with every
 * layer's SQNR of qg against fg. */
enum quanta_status report_check_quantized(const struct graph *fg, const struct graph *qg,
                                          struct data_feed *feed, struct report_layers *ls,
                                          struct quanta_error *err);
/* report_check_quantized as quantize_file's compare hook
 * (quant/quantize_file.h): each layer's value in fg and its SQNR in dB
 * (ctx unused). */
struct quantize_file_layer;
enum quanta_status report_quantize_compare(void *ctx, const struct graph *fg,
                                           const struct graph *qg, struct data_feed *feed,
                                           struct quantize_file_layer **layers, int *n,
                                           struct quanta_error *err);

/* ---- plain-text tables ---- */

enum report_align { REPORT_ALIGN_LEFT, REPORT_ALIGN_RIGHT };

struct report_table;

/* A table of n_cols columns. headers (may be NULL: no header row) and align
 * (may be NULL: all left) have n_cols entries; both are copied. */
struct report_table *report_table_create(int n_cols, const char *const *headers,
                                         const enum report_align *align);
/* Appends the next cell, row by row, left to right. An allocation failure
 * is remembered and reported by report_table_print. */
void report_table_add(struct report_table *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the table with each column as wide as its widest cell, columns
 * separated by two spaces, no trailing spaces. A short last row is padded
 * with empty cells. QUANTA_ERR_NOMEM if a cell could not be stored (nothing
 * is printed then); QUANTA_ERR_INTERNAL for a NULL table. */
enum quanta_status report_table_print(const struct report_table *t, FILE *out);
void report_table_free(struct report_table *t);

/* ---- per-node time (quanta profile) ---- */

/* Whether node runs on int8 values (a quantized input or output). */
bool report_node_int8(const struct graph *g, int node);

struct report_profile_row {
    enum graph_op op;
    bool int8;
    int first_node;             /* the node (per node), or its first (per op) */
    int count;                  /* nodes in the row */
    double median_ms;           /* per node: the median over runs; per op: their sum */
    double share;               /* of total_ms */
};

struct report_profile {
    int n_nodes;
    struct report_profile_row *nodes;   /* [n_nodes], graph order */
    int n_ops;
    struct report_profile_row *ops;     /* per (op, kind), slowest first */
    double total_ms;                    /* sum of the node medians */
};

/* From seconds[r * n_nodes + i], node i's time in timed run r (runs >= 1). */
enum quanta_status report_profile_make(const struct graph *g, const double *seconds, int runs,
                                       struct report_profile *p, struct quanta_error *err);
/* The node rows slowest first (ties in graph order) into rows[n_nodes]. */
void report_profile_sorted(const struct report_profile *p, struct report_profile_row *rows);
void report_profile_free(struct report_profile *p);

#endif

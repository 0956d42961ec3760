/* What quanta report shows beyond eval's figures: histograms of a float
 * model's values with the clipping range its int8 copy chose, and the
 * samples whose class the int8 model gets wrong that the float model got
 * right, class by class. */
#ifndef QUANTA_REPORT_DETAIL_H
#define QUANTA_REPORT_DETAIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "quanta/graph.h"
#include "quanta/status.h"

/* A power of two: a histogram grows by doubling its range and merging
 * pairs of bins, so earlier counts stay exact. */
#define REPORT_HIST_BINS 64

/* Counts of values over [lo, hi] in REPORT_HIST_BINS equal bins (a value
 * equal to hi falls in the last). A value outside doubles the range
 * towards it until it fits, so the result depends only on the values and
 * their order, never on a guess of the range. */
struct report_hist {
    bool has_range;
    double lo, hi;
    int64_t bins[REPORT_HIST_BINS];
    int64_t count;              /* finite values */
    double min, max;            /* of the finite values, when count > 0 */
    int64_t nonfinite;          /* NaN and infinities, not in any bin */
    bool has_clip;
    double clip_lo, clip_hi;    /* the int8 copy's range */
    int64_t below, above;       /* finite values outside [clip_lo, clip_hi] */
};

/* Starts empty. lo < hi (finite): the first range; else the range of the
 * first values added. */
void report_hist_init(struct report_hist *h, double lo, double hi);
void report_hist_set_clip(struct report_hist *h, double lo, double hi);
void report_hist_add(struct report_hist *h, const float *x, size_t n);

/* The real values a quantized value's integers stand for, scale * (q -
 * zero_point) for q over the whole integer type, widest over the channels
 * of a per-channel value. false for a float value. */
bool report_quant_range(const struct graph_quant *q, double *lo, double *hi);

/* The float weight (input 1) of a conv2d, dense or matmul node of fg, or -1. */
int report_node_weight(const struct graph *fg, int node);

/* The histogram of fg's float weight w, with the clipping range of the
 * value of the same name in qg when qg stores it quantized. */
void report_weight_hist(const struct graph *fg, int w, const struct graph *qg,
                        struct report_hist *h);

/* Class-by-class changes between model 1 (float) and model 2 (int8) on
 * labelled samples. */
struct report_changes {
    int classes;                /* 0: not kept */
    int64_t *lost;              /* [label * classes + model 2's class]: model 1 right, 2 wrong */
    int64_t *samples;           /* [label] */
    int64_t *right1, *right2;   /* [label] */
    int64_t *gained;            /* [label]: model 2 right, model 1 wrong */
};

enum quanta_status report_changes_init(struct report_changes *c, int classes,
                                       struct quanta_error *err);
/* One sample: both models' scores over the classes and its label (a label
 * outside the classes is left out). */
void report_changes_add(struct report_changes *c, const float *x1, const float *x2, int label);
int64_t report_changes_lost(const struct report_changes *c, int label);   /* row sum */
void report_changes_free(struct report_changes *c);

#endif

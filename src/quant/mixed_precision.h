/* Accuracy-budget mixed precision (quanta quantize --max-drop,
 * --min-agreement): which layers of a static int8 model stay in float so
 * that the model meets a budget the caller measures (on held-out data).
 *
 * The search (man quanta-quantize(1), MIXED PRECISION), for n layers:
 *   1. measure the model with every layer int8; if it meets the budget,
 *      stop: no layer stays float;
 *   2. sensitivity: measure it n times, each time with one layer alone in
 *      float; a layer's gain is how much that raises the budget's figure
 *      (ties: the lower KL divergence from float, then graph order);
 *   3. sort the layers by gain and binary-search the shortest prefix of
 *      that order which, kept in float, meets the budget (the whole
 *      order, every layer float, is measured only if the search gets
 *      there).
 * So at most 1 + n + ceil(log2 n) + 1 measurements: linear in n. The
 * result is the fewest layers of that order, not the fewest of all 2^n
 * subsets; it always is a measured candidate that met the budget. */
#ifndef QUANTA_QUANT_MIXED_PRECISION_H
#define QUANTA_QUANT_MIXED_PRECISION_H

#include <stdbool.h>
#include <cJSON.h>
#include "quanta/quantize.h"

struct progress;

/* One candidate's figures, as the caller measured them. */
struct mixed_score {
    bool pass;                  /* meets the budget */
    double merit;               /* the budget's figure, higher is better
                                   (agreement %, or minus the accuracy drop) */
    double kl;                  /* mean KL(float || candidate): lower breaks ties */
    double drop;                /* accuracy drop in points, NaN without labels */
    double agreement;           /* top-1 agreement with float, percent */
};

/* Measures the candidate with keep[i] set for the layers kept in float. */
typedef enum quanta_status (*mixed_measure_fn)(void *ctx, const bool *keep,
                                               struct mixed_score *score,
                                               struct quanta_error *err);

struct mixed_layer {
    struct mixed_score alone;   /* this layer alone in float (not measured
                                   when every layer int8 met the budget) */
    double gain;                /* alone.merit - base.merit */
    bool kept;                  /* stays float in the result */
};

struct mixed_search {
    int n;
    struct mixed_layer *layers; /* [n], in the caller's (graph) order */
    int *order;                 /* [n] layer indices, most sensitive first */
    struct mixed_score base;    /* every layer int8 */
    struct mixed_score chosen;  /* the result */
    int n_kept;                 /* the first n_kept of order stay float */
    int measured;               /* measurements made */
    bool met;                   /* false: not even every layer in float met it */
};

/* Runs the search over n >= 0 layers. names (may be NULL) label the
 * progress line. Deterministic for a deterministic measure. */
enum quanta_status mixed_search_run(int n, mixed_measure_fn measure, void *ctx,
                                    const char *const *names, struct progress *progress,
                                    struct mixed_search *s, struct quanta_error *err);
void mixed_search_free(struct mixed_search *s);

/* ---- on a graph: the layers are quantize_model's int8 nodes ---- */

/* Measures a quantized candidate graph. */
typedef enum quanta_status (*mixed_score_fn)(void *ctx, const struct graph *q,
                                             struct mixed_score *score,
                                             struct quanta_error *err);

struct mixed_request {
    const struct graph *src;            /* the float graph to quantize */
    const struct quantize_options *opt; /* static mode; its exclude list stays */
    const struct quantize_ranges *ranges;
    const char *source;                 /* names src in messages */
    mixed_score_fn score;
    void *ctx;
    struct progress *progress;          /* may be NULL */
    struct quantize_notes *notes;       /* may be NULL: receives the adjustments
                                           of the chosen graph's rewrite */
    struct quantize_applied *applied;   /* may be NULL: the full quantization's
                                           record, whose bias corrections of
                                           layers left float are removed */
};

struct mixed_result {
    int n;
    char **names;               /* [n] the layers: src nodes int8 in the full
                                   quantization, graph order */
    enum graph_op *ops;         /* [n] */
    bool *is_float;             /* [n] float in the chosen graph: kept, or
                                   fed only by float values (a pool after a
                                   kept conv2d) */
    struct mixed_search search;
};

/* Quantizes req->src with every layer int8, lists the layers, runs the
 * search, and leaves in *out the chosen graph (the layers kept float
 * added to opt's exclude list; src must outlive out). QUANTA_ERR_CHECK
 * (out empty) when not even every layer in float meets the budget. */
enum quanta_status quantize_mixed(const struct mixed_request *req, struct mixed_result *res,
                                  struct graph *out, struct quanta_error *err);
void mixed_result_free(struct mixed_result *res);
/* The record: {"layers": [{"node", "op", "gain", "drop_alone",
 * "agreement_alone", "kl_alone", "kept", "float"}...] (graph order; kept:
 * chosen by the search; float: float in the written graph), "order":
 * [names, most sensitive first], "float": [kept names], "measured": N,
 * "int8": {"drop", "agreement", "kl", "pass"}, "chosen": {...}}; numbers
 * that are NaN become null. NULL: no memory. */
cJSON *mixed_result_json(const struct mixed_result *res);

#endif

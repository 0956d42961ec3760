/* Quantizing one model file into another: what quanta quantize and the
 * public quanta_quantize_file do (man quanta-quantize(1)). Loads the float
 * model, takes its activation ranges from a calibration table or
 * calibrates on a data file (with cross-layer equalization and bias
 * correction), rewrites it (quantize_model, or tensor by tensor for a
 * checkpoint without a graph), optionally checks it layer by layer and
 * searches which layers stay float, and writes it with its provenance in
 * __metadata__ through a temporary file renamed into place.
 *
 * Two steps measure the result on data with code that lives above quant
 * (src/report): the layer check and the accuracy-budget search. The caller
 * injects them; without them the file is written all the same. The
 * library never prints: warnings go to a callback. */
#ifndef QUANTA_QUANT_QUANTIZE_FILE_H
#define QUANTA_QUANT_QUANTIZE_FILE_H

#include <stdbool.h>
#include <stdint.h>
#include <cJSON.h>
#include "quanta/calib.h"
#include "quanta/feed.h"
#include "quant/mixed_precision.h"

struct progress;

/* One value of the float graph compared with the quantized graph. */
struct quantize_file_layer {
    int value;                  /* index in the float graph's values */
    bool mismatch;              /* shapes differed at run time */
    double sqnr_db;             /* quantized against float */
};

/* Runs float graph f and quantized graph q on every batch of feed (opened
 * for f) and leaves in *layers (malloc'd, freed by the caller) the *n
 * values compared, in f's node order. */
typedef enum quanta_status (*quantize_file_compare_fn)(void *ctx, const struct graph *f,
                                                       const struct graph *q,
                                                       struct data_feed *feed,
                                                       struct quantize_file_layer **layers,
                                                       int *n, struct quanta_error *err);

/* The accuracy-budget search (quantize_mixed with the caller's scoring):
 * on req, against the float graph fg, data laid out as layout; leaves the
 * chosen graph in *q and the record (metadata key
 * quanta.quantize.mixed_precision) in *record. */
typedef enum quanta_status (*quantize_file_search_fn)(void *ctx, const struct graph *fg,
                                                      enum quanta_layout layout,
                                                      struct mixed_request *req, struct graph *q,
                                                      cJSON **record, struct quanta_error *err);

struct quantize_file_search {
    quantize_file_search_fn run;
    void *ctx;
    /* the budget, recorded in quanta.quantize.options */
    bool has_max_drop, has_min_agreement;
    double max_drop, min_agreement;
    const char *holdout;        /* the held-out data file */
};

struct quantize_file_options {
    const char *model, *output;
    /* static mode: the ranges from one of these */
    const char *calib;          /* a table written by quanta calibrate */
    const char *data;           /* calibrate here */
    enum calib_method method;   /* with data; default CALIB_MINMAX */
    int64_t samples;            /* with data: the first N, 0: all */
    int layout;                 /* of 4-D data: a quanta_layout, -1: the model's */
    struct quantize_options opt;/* mode, weights, activations, exclude...; its
                                   notes, applied, means and equalize are set here */
    const char *const *include; /* without a graph: tensor globs to convert */
    int n_include;
    bool need_graph;            /* a model without a graph is an error (the
                                   public API), not converted tensor by tensor */
    int equalize;               /* -1: auto (with data both tried, the higher
                                   output SQNR kept), 0 off, 1 on (needs data) */
    int bias_correction;        /* -1: on with data (the default), 0 off, 1 on
                                   (needs data) */
    /* the layer check: float and quantized on check_data, a warning for
     * each layer below check_db; strict: such a layer fails (QUANTA_ERR_CHECK) */
    const char *check_data;     /* NULL: data in static mode, else no check */
    int64_t check_samples;      /* 0: no check */
    double check_db;
    bool strict;
    quantize_file_compare_fn compare;   /* NULL: no check; equalization auto
                                           with data needs it */
    void *compare_ctx;
    const struct quantize_file_search *search;  /* NULL: every layer int8 */
    struct progress *progress;  /* may be NULL */
    void (*warn)(void *ctx, const char *message);   /* may be NULL */
    void *warn_ctx;
};

/* The defaults of quanta quantize: static, per-channel, asymmetric int8,
 * equalization auto and bias correction with data, a check of 16 samples
 * at 10 dB where check_data is given, no hooks. */
void quantize_file_options_default(struct quantize_file_options *o);

/* QUANTA_ERR_USAGE (err names the command's options) when o's options do
 * not go together: static mode needs exactly one of calib and data, the
 * other modes neither; fp16 keeps 8 embedding bits; samples, equalize and
 * bias correction need data; strict needs a check; the search needs static
 * mode. quantize_file checks this first. */
enum quanta_status quantize_file_check(const struct quantize_file_options *o,
                                       struct quanta_error *err);

/* The layer check's data: check_data, else in static mode data. */
const char *quantize_file_check_data(const struct quantize_file_options *o);

/* quanta.quantize.options: every option as one deterministic JSON object
 * (files by base name, so the output does not depend on where they are);
 * malloc'd, NULL: no memory. */
char *quantize_file_options_json(const struct quantize_file_options *o);

/* Quantizes o->model into o->output. QUANTA_OK, or the status (the exit
 * code class of man quanta(1)) with err filled: QUANTA_ERR_USAGE (the
 * output names an input, an unknown exclude node, include with a graph),
 * QUANTA_ERR_INPUT, QUANTA_ERR_CHECK (strict), QUANTA_ERR_OUTPUT,
 * QUANTA_ERR_NOMEM. On failure nothing is written. *record (may be NULL)
 * receives the search's record, or NULL when there was no search. */
enum quanta_status quantize_file(const struct quantize_file_options *o, cJSON **record,
                                 struct quanta_error *err);

#endif

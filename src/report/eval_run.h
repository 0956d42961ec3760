/* Runs one model, or two side by side on the same batches, over a data
 * file and fills the figures of quanta eval (struct report_eval), and on
 * request the per-layer comparison, the float model's activation
 * histograms and the class-by-class changes. quanta eval and quanta
 * report share it; they differ only in what they print. */
#ifndef QUANTA_REPORT_EVAL_RUN_H
#define QUANTA_REPORT_EVAL_RUN_H

#include "base/progress.h"
#include "report/detail.h"
#include "report/eval.h"

struct report_run_options {
    const char *model[2];
    int n_models;
    const char *data;
    const char *labels;         /* NULL: the data file's own, or the IDX file next to it */
    int64_t samples;            /* <= 0: all */
    int64_t batch, threads;
    int layout;                 /* enum quanta_layout, -1: each model's own */
    bool per_layer;             /* two models: SQNR of every value both name */
    bool histograms;            /* with per_layer: model 1's activation histograms */
    bool changes;               /* two models, class outputs, labels: report_changes */
    struct report_eval_options eval;
    struct progress *progress;  /* NULL: none; else labelled and advanced per batch */
};

struct report_run_side {
    const char *path;
    struct model model;
    bool opened;
    struct runner *runner;
    struct data_feed feed;      /* own feed (model 2 borrows model 1's when it can) */
    struct data_feed *input;    /* the feed this model reads */
    int64_t per_sample;         /* output 0 elements per sample */
};

struct report_run {
    struct report_run_options opt;
    struct report_run_side side[2];
    int n;
    struct labels labels;
    int64_t samples;
    struct report_eval eval;
    struct report_layers layers;
    struct report_changes changes;  /* classes == 0: not kept */
    bool usage_error;           /* err holds a usage error (from report_eval_init) */
};

/* Opens the models and the data, runs every batch and finishes the figures.
 * Free r with report_run_free whatever the outcome. */
enum quanta_status report_run(struct report_run *r, const struct report_run_options *opt,
                              struct quanta_error *err);
void report_run_free(struct report_run *r);

#endif

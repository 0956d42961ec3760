/* The figures of quanta eval for one model or two side by side, whatever
 * the output: class scores, one probability or logit per sample (binary),
 * class scores per position (tokens), or anything compared against float
 * targets (regression). The task comes from the output shape and the
 * labels (report_eval_init, rule in quanta-eval(1)); --metric names the
 * figure the metric gate reads. Samples stream through report_eval_add;
 * binary scores are kept (4 bytes a sample and model) for the exact AUC. */
#ifndef QUANTA_REPORT_EVAL_H
#define QUANTA_REPORT_EVAL_H

#include <cJSON.h>
#include "report/report.h"

#define REPORT_TASKS(X)                                                                        \
    X(REPORT_TASK_CLASS, "class")                                                              \
    X(REPORT_TASK_BINARY, "binary")                                                            \
    X(REPORT_TASK_TOKEN, "token")                                                              \
    X(REPORT_TASK_REGRESSION, "regression")

enum report_task {
#define X(e, name) e,
    REPORT_TASKS(X)
#undef X
};

/* name, higher is better, needs labels (else measured against model 1) */
#define REPORT_METRICS(X)                                                                      \
    X(REPORT_METRIC_ACCURACY, "accuracy", true, true)                                          \
    X(REPORT_METRIC_TOP5, "top5", true, true)                                                  \
    X(REPORT_METRIC_AUC, "auc", true, true)                                                    \
    X(REPORT_METRIC_LOGLOSS, "logloss", false, true)                                           \
    X(REPORT_METRIC_MSE, "mse", false, false)                                                  \
    X(REPORT_METRIC_MAE, "mae", false, false)                                                  \
    X(REPORT_METRIC_COSINE, "cosine", true, false)                                             \
    X(REPORT_METRIC_AGREEMENT, "agreement", true, false)                                       \
    X(REPORT_METRIC_TOKEN_AGREEMENT, "token-agreement", true, false)

enum report_metric {
    REPORT_METRIC_DEFAULT = -1,     /* by the task */
#define X(e, name, higher, labelled) e,
    REPORT_METRICS(X)
#undef X
    REPORT_METRIC_COUNT
};

enum report_output_kind { REPORT_OUTPUT_AUTO, REPORT_OUTPUT_PROB, REPORT_OUTPUT_LOGIT };

const char *report_task_name(enum report_task t);
const char *report_metric_name(enum report_metric m);
/* REPORT_METRIC_COUNT when name is none of them. */
enum report_metric report_metric_from_name(const char *name);
bool report_metric_higher_is_better(enum report_metric m);

/* The command line's choices and gates. */
struct report_eval_options {
    enum report_metric metric;
    enum report_output_kind output_kind;
    bool has_max_drop, has_min_agreement, has_significance, has_max_metric_drop;
    double max_drop, min_agreement, significance, max_metric_drop;
};

struct report_eval_model {
    const char *path;
    int64_t bytes;
    double seconds;             /* inside the runner */
    struct report_accuracy acc; /* class: samples; token: positions */
    double loss_sum;            /* class and token: sum of -ln p(label) */
    struct report_errors vs_labels;     /* regression */
    float *scores;              /* binary: every sample's output */
    /* binary, by report_eval_finish */
    double auc, log_loss, mean_predicted;
    int64_t right;              /* decisions at 0.5 equal to the label */
};

struct report_eval {
    struct report_eval_options opt;
    enum report_task task;
    enum report_metric metric;
    int n_models;
    struct report_eval_model model[2];
    const struct labels *labels;    /* NULL: none */
    int64_t per_sample;         /* output elements per sample */
    int64_t classes;            /* class: per_sample; token: the last axis */
    int64_t positions;          /* token: T; else 1 */
    int64_t samples;            /* samples added */
    int64_t capacity;           /* binary: samples the score arrays hold */
    bool logit;                 /* binary: outputs are logits */
    struct report_compare cmp;  /* class and token (per position) */
    struct report_paired paired;/* class and binary, with labels */
    struct report_errors out;   /* model 2 against model 1 */
    int64_t decisions_agree;    /* binary */
    double *scratch;            /* 2 * classes */
    bool pass;
    char reason[2 * QUANTA_ERROR_MESSAGE_MAX];
};

/* Chooses the task from the per-sample output shape of model 1 and the
 * labels (NULL or none: without labels), checks the labels against it
 * (each label a class of the output, 0 or 1 for binary outputs, the shape
 * of the output for float targets) and the options against the task.
 * QUANTA_ERR_USAGE for an option the task or the labels cannot serve
 * (data_path names the data in its message), QUANTA_ERR_INPUT for labels
 * that do not fit. capacity: the samples that will be added (binary
 * outputs keep every score). The labels must outlive e. */
enum quanta_status report_eval_init(struct report_eval *e, const struct report_eval_options *opt,
                                    int n_models, const struct quanta_shape *output,
                                    const struct labels *labels, int64_t capacity,
                                    const char *data_path, struct quanta_error *err);
/* Adds samples [start, start + count) given each model's outputs for them,
 * per_sample floats a sample. */
enum quanta_status report_eval_add(struct report_eval *e, int64_t start, int64_t count,
                                   const float *const out[2], struct quanta_error *err);
/* Computes what needs every sample (the binary figures) and the gates. */
enum quanta_status report_eval_finish(struct report_eval *e, struct quanta_error *err);
void report_eval_free(struct report_eval *e);

/* The figures; NaN when unknown (no labels, or not of this task). */
bool report_eval_has_labels(const struct report_eval *e);
double report_eval_accuracy(const struct report_eval *e, int i);    /* percent */
double report_eval_top5(const struct report_eval *e, int i);        /* percent */
/* Mean -ln p(label) in nats: binary, or class and token (softmax). */
double report_eval_log_loss(const struct report_eval *e, int i);
double report_eval_agreement(const struct report_eval *e);          /* percent */
double report_eval_accuracy_drop(const struct report_eval *e);      /* points */
double report_eval_mcnemar_p(const struct report_eval *e);
/* Binary with labels: the share of labels equal to 1. */
double report_eval_observed_rate(const struct report_eval *e);
/* Samples (class, binary) or positions (token) with the same decision. */
void report_eval_agreement_counts(const struct report_eval *e, int64_t *agree, int64_t *total);
/* 95% intervals in points and percent (class and binary only, else NaN):
 * Newcombe's for the accuracy drop, Wilson's for the agreement. */
void report_eval_drop_interval(const struct report_eval *e, double *lo, double *hi);
void report_eval_agreement_interval(const struct report_eval *e, double *lo, double *hi);
/* The gates, read after report_eval_finish. */
double report_eval_drop_threshold(const struct report_eval *e);
bool report_eval_drop_gate_fails(const struct report_eval *e);
bool report_eval_agreement_gate_fails(const struct report_eval *e);
bool report_eval_metric_gate_fails(const struct report_eval *e);
/* The chosen metric of model i: against the labels, or, for metrics that
 * do without, model 2 against model 1 (model 1 then scores perfectly). */
double report_eval_metric(const struct report_eval *e, int i);
/* Model 1's metric minus model 2's when higher is better, else the reverse. */
double report_eval_metric_drop(const struct report_eval *e);

/* The text tables and the JSON object (eval_print.c). layers: the
 * per-layer comparison, or NULL. */
enum quanta_status report_eval_print(const struct report_eval *e,
                                     const struct report_layers *layers, FILE *out);
cJSON *report_eval_json(const struct report_eval *e, const char *data_path,
                        const struct report_layers *layers);

#endif

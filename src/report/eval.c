/* quanta eval's figures: the task chosen from the output shape and the
 * labels, the labels checked against it, samples streamed into the
 * accumulators of that task, and the gates. */
#include "report/eval.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Token labels of this value mark a position not to count (PyTorch's
 * CrossEntropyLoss ignore_index). */
#define TOKEN_IGNORE (-100)

static const char *const task_names[] = {
#define X(e, name) name,
    REPORT_TASKS(X)
#undef X
};

static const struct {
    const char *name;
    bool higher, labelled;
} metrics[] = {
#define X(e, name, higher, labelled) {name, higher, labelled},
    REPORT_METRICS(X)
#undef X
};

const char *report_task_name(enum report_task t)
{
    return task_names[t];
}

const char *report_metric_name(enum report_metric m)
{
    return m >= 0 && m < REPORT_METRIC_COUNT ? metrics[m].name : "default";
}

enum report_metric report_metric_from_name(const char *name)
{
    for (int m = 0; m < REPORT_METRIC_COUNT; m++)
        if (strcmp(metrics[m].name, name) == 0)
            return (enum report_metric)m;
    return REPORT_METRIC_COUNT;
}

bool report_metric_higher_is_better(enum report_metric m)
{
    return metrics[m].higher;
}

bool report_eval_has_labels(const struct report_eval *e)
{
    return e->labels != NULL;
}

/* ---- choosing the task, checking labels and options ---- */

static enum report_task choose_task(const struct quanta_shape *output, int64_t per_sample,
                                    const struct labels *labels)
{
    if (labels && labels->targets)
        return REPORT_TASK_REGRESSION;
    if (output->rank == 2 && output->dims[1] >= 2)
        return REPORT_TASK_TOKEN;
    if (per_sample == 1)
        return REPORT_TASK_BINARY;
    return REPORT_TASK_CLASS;
}

static enum quanta_status check_labels(const struct report_eval *e, const struct labels *l,
                                       struct quanta_error *err)
{
    char have[128], want[128];
    if (e->task == REPORT_TASK_REGRESSION) {
        if (l->per_sample != e->per_sample)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: float labels (regression targets) have %" PRId64
                               " values a sample but the output has %" PRId64, l->path,
                               l->per_sample, e->per_sample);
        return QUANTA_OK;
    }
    int64_t per = e->task == REPORT_TASK_TOKEN ? e->positions : 1;
    if (l->per_sample != per) {
        quanta_shape_format(&l->sample_shape, have, sizeof have);
        if (e->task == REPORT_TASK_TOKEN)
            snprintf(want, sizeof want, "%" PRId64 " a sample (labels [N, %" PRId64 "])", per,
                     per);
        else
            snprintf(want, sizeof want, "one a sample (labels [N])");
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: labels have shape %s a sample but %s outputs take %s", l->path,
                           have, report_task_name(e->task), want);
    }
    for (int64_t s = 0; s < l->n; s++)
        for (int64_t t = 0; t < per; t++) {
            int32_t v = l->values[s * per + t];
            if (e->task == REPORT_TASK_BINARY && v != 0 && v != 1)
                return quanta_fail(err, QUANTA_ERR_INPUT,
                                   "%s: sample %" PRId64 " has label %" PRId32
                                   "; labels of a binary output are 0 or 1", l->path, s, v);
            if (e->task == REPORT_TASK_CLASS && (v < 0 || v >= e->classes))
                return quanta_fail(err, QUANTA_ERR_INPUT,
                                   "%s: sample %" PRId64 " has label %" PRId32
                                   ", outside the output's %" PRId64 " classes [0, %" PRId64 ")",
                                   l->path, s, v, e->classes, e->classes);
            if (e->task == REPORT_TASK_TOKEN && v != TOKEN_IGNORE && (v < 0 || v >= e->classes))
                return quanta_fail(err, QUANTA_ERR_INPUT,
                                   "%s: sample %" PRId64 " position %" PRId64 " has label %" PRId32
                                   ", outside the output's %" PRId64 " classes [0, %" PRId64
                                   ") (-100 skips a position)",
                                   l->path, s, t, v, e->classes, e->classes);
        }
    return QUANTA_OK;
}

static bool metric_fits(enum report_metric m, enum report_task t)
{
    switch (m) {
    case REPORT_METRIC_ACCURACY:
    case REPORT_METRIC_AGREEMENT:
        return t != REPORT_TASK_REGRESSION;
    case REPORT_METRIC_TOP5:
        return t == REPORT_TASK_CLASS || t == REPORT_TASK_TOKEN;
    case REPORT_METRIC_AUC:
        return t == REPORT_TASK_BINARY;
    case REPORT_METRIC_LOGLOSS:
        return t != REPORT_TASK_REGRESSION;
    case REPORT_METRIC_TOKEN_AGREEMENT:
        return t == REPORT_TASK_TOKEN;
    default:
        return true;
    }
}

static enum report_metric default_metric(enum report_task t, bool labelled)
{
    switch (t) {
    case REPORT_TASK_CLASS:
        return labelled ? REPORT_METRIC_ACCURACY : REPORT_METRIC_AGREEMENT;
    case REPORT_TASK_BINARY:
        return labelled ? REPORT_METRIC_AUC : REPORT_METRIC_AGREEMENT;
    case REPORT_TASK_TOKEN:
        return labelled ? REPORT_METRIC_ACCURACY : REPORT_METRIC_TOKEN_AGREEMENT;
    default:
        return REPORT_METRIC_MSE;
    }
}

static enum quanta_status check_options(struct report_eval *e, const char *data_path,
                                        struct quanta_error *err)
{
    const struct report_eval_options *o = &e->opt;
    const char *task = report_task_name(e->task);
    bool labelled = e->labels != NULL;
    if (o->metric != REPORT_METRIC_DEFAULT && !metric_fits(o->metric, e->task))
        return quanta_fail(err, QUANTA_ERR_USAGE, "--metric %s does not fit %s outputs%s",
                           report_metric_name(o->metric), task,
                           e->task == REPORT_TASK_REGRESSION
                               ? " (float labels): use mse, mae or cosine" : "");
    if (o->output_kind != REPORT_OUTPUT_AUTO && e->task != REPORT_TASK_BINARY)
        return quanta_fail(err, QUANTA_ERR_USAGE,
                           "--output-kind needs one output per sample (a binary output), not "
                           "%s outputs", task);
    bool decided = e->task != REPORT_TASK_REGRESSION;
    if ((o->has_max_drop || o->has_significance) && !decided)
        return quanta_fail(err, QUANTA_ERR_USAGE,
                           "%s needs class, binary or token outputs with class labels; for "
                           "float labels use --max-metric-drop",
                           o->has_max_drop ? "--max-drop" : "--significance");
    if ((o->has_max_drop || o->has_significance) && !labelled)
        return quanta_fail(err, QUANTA_ERR_USAGE,
                           "%s needs labels but none were found for %s; give --labels",
                           o->has_max_drop ? "--max-drop" : "--significance", data_path);
    if (o->has_significance && e->task == REPORT_TASK_TOKEN)
        return quanta_fail(err, QUANTA_ERR_USAGE,
                           "--significance needs class or binary outputs (the positions of "
                           "one sample are not independent)");
    if (o->has_min_agreement && !decided)
        return quanta_fail(err, QUANTA_ERR_USAGE,
                           "--min-agreement needs class, binary or token outputs; these are "
                           "compared by --metric mse, mae or cosine");
    if (o->has_max_metric_drop && metrics[e->metric].labelled && !labelled)
        return quanta_fail(err, QUANTA_ERR_USAGE,
                           "--max-metric-drop with metric %s needs labels but none were found "
                           "for %s; give --labels",
                           report_metric_name(e->metric), data_path);
    return QUANTA_OK;
}

enum quanta_status report_eval_init(struct report_eval *e, const struct report_eval_options *opt,
                                    int n_models, const struct quanta_shape *output,
                                    const struct labels *labels, int64_t capacity,
                                    const char *data_path, struct quanta_error *err)
{
    memset(e, 0, sizeof *e);
    e->opt = *opt;
    e->n_models = n_models;
    e->labels = labels && labels->n > 0 ? labels : NULL;
    e->per_sample = quanta_shape_numel(output);
    e->task = choose_task(output, e->per_sample, e->labels);
    e->classes = e->per_sample;
    e->positions = 1;
    if (e->task == REPORT_TASK_TOKEN) {
        e->positions = output->dims[0];
        e->classes = output->dims[1];
    }
    e->metric = opt->metric != REPORT_METRIC_DEFAULT ? opt->metric
                                                     : default_metric(e->task, e->labels != NULL);
    e->pass = true;
    enum quanta_status st;
    if (e->labels && (st = check_labels(e, e->labels, err)) != QUANTA_OK)
        return st;
    if ((st = check_options(e, data_path, err)) != QUANTA_OK)
        return st;
    if (e->task == REPORT_TASK_BINARY) {
        e->capacity = capacity;
        for (int i = 0; i < n_models; i++)
            if (!(e->model[i].scores = malloc((size_t)(capacity > 0 ? capacity : 1) *
                                              sizeof(float))))
                return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for %" PRId64 " scores",
                                   capacity);
    }
    if (!(e->scratch = malloc(2 * (size_t)e->classes * sizeof *e->scratch)))
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    return QUANTA_OK;
}

void report_eval_free(struct report_eval *e)
{
    for (int i = 0; i < 2; i++)
        free(e->model[i].scores);
    free(e->scratch);
    memset(e, 0, sizeof *e);
}

/* ---- accumulating ---- */

static int32_t label_at(const struct report_eval *e, int64_t index)
{
    return e->labels ? e->labels->values[index] : -1;
}

/* -ln p(label), p the distribution report_log_probabilities gives (the
 * softmax of the scores, or the scores when they already are one), at most
 * -ln 1e-15 as for binary outputs. */
static double class_loss(const float *x, int n, int32_t label, double *logp)
{
    report_log_probabilities(x, n, logp);
    double floor = log(REPORT_LOG_LOSS_EPS);
    return -(logp[label] > floor ? logp[label] : floor);
}

/* One sample (class) or position (token) of class scores. */
static void add_scores(struct report_eval *e, const float *x1, const float *x2, int32_t label,
                       bool paired)
{
    int n = (int)e->classes;
    if (e->labels && label != TOKEN_IGNORE) {
        report_accuracy_add(&e->model[0].acc, x1, n, label);
        e->model[0].loss_sum += class_loss(x1, n, label, e->scratch);
        if (x2) {
            report_accuracy_add(&e->model[1].acc, x2, n, label);
            e->model[1].loss_sum += class_loss(x2, n, label, e->scratch);
            if (paired)
                report_paired_add(&e->paired, report_rank(x1, n, label) == 0,
                                  report_rank(x2, n, label) == 0);
        }
    }
    if (x2)
        report_compare_add(&e->cmp, x1, x2, n, e->scratch);
}

enum quanta_status report_eval_add(struct report_eval *e, int64_t start, int64_t count,
                                   const float *const out[2], struct quanta_error *err)
{
    if (e->task == REPORT_TASK_BINARY && e->samples + count > e->capacity)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "more samples than the %" PRId64 " planned",
                           e->capacity);
    bool two = e->n_models == 2;
    for (int64_t k = 0; k < count; k++) {
        const float *x1 = out[0] + k * e->per_sample;
        const float *x2 = two ? out[1] + k * e->per_sample : NULL;
        int64_t s = start + k;
        switch (e->task) {
        case REPORT_TASK_CLASS:
            add_scores(e, x1, x2, label_at(e, s), true);
            break;
        case REPORT_TASK_TOKEN:
            for (int64_t t = 0; t < e->positions; t++)
                add_scores(e, x1 + t * e->classes, x2 ? x2 + t * e->classes : NULL,
                           label_at(e, s * e->positions + t), false);
            break;
        case REPORT_TASK_BINARY:
            for (int i = 0; i < e->n_models; i++)
                e->model[i].scores[e->samples + k] = out[i][k];
            break;
        case REPORT_TASK_REGRESSION:
            for (int i = 0; i < e->n_models; i++)
                report_errors_add(&e->model[i].vs_labels,
                                  e->labels->targets + s * e->per_sample,
                                  out[i] + k * e->per_sample, (size_t)e->per_sample);
            break;
        }
        if (two)
            report_errors_add(&e->out, x1, x2, (size_t)e->per_sample);
    }
    e->samples += count;
    return QUANTA_OK;
}

/* ---- binary figures, once every score is in ---- */

static enum quanta_status finish_binary(struct report_eval *e, struct quanta_error *err)
{
    int64_t n = e->samples;
    const float *s1 = e->model[0].scores;
    e->logit = e->opt.output_kind == REPORT_OUTPUT_LOGIT;
    if (e->opt.output_kind == REPORT_OUTPUT_AUTO)
        for (int64_t k = 0; k < n; k++)
            if (!(s1[k] >= 0.0f && s1[k] <= 1.0f))
                e->logit = true;
    if (e->n_models == 2)
        for (int64_t k = 0; k < n; k++)
            e->decisions_agree += report_binary_decision(s1[k], e->logit) ==
                                  report_binary_decision(e->model[1].scores[k], e->logit);
    for (int i = 0; i < e->n_models; i++) {
        struct report_eval_model *m = &e->model[i];
        double sum_p = 0.0, loss = 0.0;
        for (int64_t k = 0; k < n; k++) {
            double p = report_binary_probability(m->scores[k], e->logit);
            sum_p += p;
            if (e->labels) {
                int y = e->labels->values[k];
                loss += report_log_loss_term(p, y);
                m->right += report_binary_decision(m->scores[k], e->logit) == (y == 1);
            }
        }
        m->mean_predicted = n ? sum_p / (double)n : NAN;
        m->log_loss = e->labels && n ? loss / (double)n : NAN;
        m->auc = NAN;
    }
    if (!e->labels)
        return QUANTA_OK;
    for (int64_t k = 0; k < n && e->n_models == 2; k++) {
        int y = e->labels->values[k];
        report_paired_add(&e->paired,
                          report_binary_decision(s1[k], e->logit) == (y == 1),
                          report_binary_decision(e->model[1].scores[k], e->logit) == (y == 1));
    }
    uint8_t *y = malloc((size_t)(n > 0 ? n : 1));
    int64_t *order = malloc((size_t)(n > 0 ? n : 1) * sizeof *order);
    if (!y || !order) {
        free(y);
        free(order);
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the AUC of %" PRId64
                           " samples", n);
    }
    for (int64_t k = 0; k < n; k++)
        y[k] = (uint8_t)e->labels->values[k];
    for (int i = 0; i < e->n_models; i++)
        e->model[i].auc = report_auc(e->model[i].scores, y, n, order);
    free(y);
    free(order);
    return QUANTA_OK;
}

/* ---- figures ---- */

double report_eval_observed_rate(const struct report_eval *e)
{
    if (e->task != REPORT_TASK_BINARY || !e->labels || e->samples == 0)
        return NAN;
    int64_t pos = 0;
    for (int64_t k = 0; k < e->samples; k++)
        pos += e->labels->values[k] == 1;
    return (double)pos / (double)e->samples;
}

double report_eval_log_loss(const struct report_eval *e, int i)
{
    if (!e->labels || e->task == REPORT_TASK_REGRESSION)
        return NAN;
    if (e->task == REPORT_TASK_BINARY)
        return e->model[i].log_loss;
    const struct report_eval_model *m = &e->model[i];
    return m->acc.samples ? m->loss_sum / (double)m->acc.samples : NAN;
}

double report_eval_accuracy(const struct report_eval *e, int i)
{
    if (!e->labels || e->task == REPORT_TASK_REGRESSION)
        return NAN;
    if (e->task == REPORT_TASK_BINARY)
        return report_percent(e->model[i].right, e->samples);
    return report_percent(e->model[i].acc.top1, e->model[i].acc.samples);
}

double report_eval_top5(const struct report_eval *e, int i)
{
    if (!e->labels || (e->task != REPORT_TASK_CLASS && e->task != REPORT_TASK_TOKEN))
        return NAN;
    return report_percent(e->model[i].acc.top5, e->model[i].acc.samples);
}

void report_eval_agreement_counts(const struct report_eval *e, int64_t *agree, int64_t *total)
{
    *agree = *total = 0;
    if (e->n_models < 2)
        return;
    if (e->task == REPORT_TASK_BINARY) {
        *agree = e->decisions_agree;
        *total = e->samples;
    } else if (e->task != REPORT_TASK_REGRESSION) {
        *agree = e->cmp.agree;
        *total = e->cmp.samples;
    }
}

double report_eval_agreement(const struct report_eval *e)
{
    int64_t agree, total;
    report_eval_agreement_counts(e, &agree, &total);
    return report_percent(agree, total);
}

double report_eval_accuracy_drop(const struct report_eval *e)
{
    return report_eval_accuracy(e, 0) - report_eval_accuracy(e, 1);
}

static bool paired_task(const struct report_eval *e)
{
    return e->labels && (e->task == REPORT_TASK_CLASS || e->task == REPORT_TASK_BINARY);
}

double report_eval_mcnemar_p(const struct report_eval *e)
{
    return paired_task(e) ? report_mcnemar_exact_p(e->paired.only1, e->paired.only2) : NAN;
}

void report_eval_drop_interval(const struct report_eval *e, double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (paired_task(e)) {
        report_paired_diff_interval(&e->paired, REPORT_Z95, lo, hi);
        *lo *= 100.0;
        *hi *= 100.0;
    }
}

void report_eval_agreement_interval(const struct report_eval *e, double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (e->task == REPORT_TASK_CLASS || e->task == REPORT_TASK_BINARY) {
        int64_t agree, total;
        report_eval_agreement_counts(e, &agree, &total);
        report_wilson_interval(agree, total, REPORT_Z95, lo, hi);
        *lo *= 100.0;
        *hi *= 100.0;
    }
}

double report_eval_metric(const struct report_eval *e, int i)
{
    bool two = e->n_models == 2;
    bool targets = e->task == REPORT_TASK_REGRESSION;
    const struct report_errors *err = targets ? &e->model[i].vs_labels : &e->out;
    switch (e->metric) {
    case REPORT_METRIC_ACCURACY:
        return report_eval_accuracy(e, i);
    case REPORT_METRIC_TOP5:
        return report_eval_top5(e, i);
    case REPORT_METRIC_AUC:
        return e->task == REPORT_TASK_BINARY ? e->model[i].auc : NAN;
    case REPORT_METRIC_LOGLOSS:
        return report_eval_log_loss(e, i);
    case REPORT_METRIC_MSE:
    case REPORT_METRIC_MAE:
    case REPORT_METRIC_COSINE:
        if (!targets && !two)
            return NAN;
        if (!targets && i == 0) /* model 1 against itself */
            return e->metric == REPORT_METRIC_COSINE ? 1.0 : 0.0;
        return e->metric == REPORT_METRIC_MSE   ? report_errors_mse(err)
               : e->metric == REPORT_METRIC_MAE ? report_errors_mae(err)
                                                : report_errors_cosine(err);
    case REPORT_METRIC_AGREEMENT:
    case REPORT_METRIC_TOKEN_AGREEMENT:
        if (!two)
            return NAN;
        return i == 0 ? 100.0 : report_eval_agreement(e);
    default:
        return NAN;
    }
}

double report_eval_metric_drop(const struct report_eval *e)
{
    double a = report_eval_metric(e, 0), b = report_eval_metric(e, 1);
    return report_metric_higher_is_better(e->metric) ? a - b : b - a;
}

/* ---- gates ---- */

double report_eval_drop_threshold(const struct report_eval *e)
{
    return e->opt.has_max_drop ? e->opt.max_drop : 0.0;
}

bool report_eval_drop_gate_fails(const struct report_eval *e)
{
    if (!(report_eval_accuracy_drop(e) > report_eval_drop_threshold(e)))
        return false;
    return !e->opt.has_significance || report_eval_mcnemar_p(e) < e->opt.significance;
}

bool report_eval_agreement_gate_fails(const struct report_eval *e)
{
    return report_eval_agreement(e) < e->opt.min_agreement;
}

bool report_eval_metric_gate_fails(const struct report_eval *e)
{
    /* an unknown drop (NaN, e.g. an AUC without both classes) fails */
    return !(report_eval_metric_drop(e) <= e->opt.max_metric_drop);
}

static void check_gates(struct report_eval *e)
{
    const struct report_eval_options *o = &e->opt;
    size_t len = 0, size = sizeof e->reason;
    double drop = report_eval_accuracy_drop(e);
#define REASON(...)                                                                             \
    do {                                                                                        \
        if (len < size)                                                                         \
            len += (size_t)snprintf(e->reason + len, size - len, __VA_ARGS__);                  \
    } while (0)
    e->pass = true;
    e->reason[0] = '\0';
    if ((o->has_max_drop || o->has_significance) && report_eval_drop_gate_fails(e)) {
        e->pass = false;
        if (!o->has_significance)
            REASON("accuracy drop %.2f points exceeds --max-drop %g", drop, o->max_drop);
        else if (o->has_max_drop)
            REASON("accuracy drop %.2f points exceeds --max-drop %g and is significant "
                   "(McNemar p %.3g < --significance %g)",
                   drop, o->max_drop, report_eval_mcnemar_p(e), o->significance);
        else
            REASON("accuracy drop %.2f points is significant (McNemar p %.3g < --significance "
                   "%g)", drop, report_eval_mcnemar_p(e), o->significance);
    }
    if (o->has_min_agreement && report_eval_agreement_gate_fails(e)) {
        REASON("%sagreement %.2f%% is below --min-agreement %g", e->pass ? "" : "; ",
               report_eval_agreement(e), o->min_agreement);
        e->pass = false;
    }
    if (o->has_max_metric_drop && report_eval_metric_gate_fails(e)) {
        REASON("%s%s drop %.4g exceeds --max-metric-drop %g", e->pass ? "" : "; ",
               report_metric_name(e->metric), report_eval_metric_drop(e), o->max_metric_drop);
        e->pass = false;
    }
#undef REASON
}

enum quanta_status report_eval_finish(struct report_eval *e, struct quanta_error *err)
{
    if (e->task == REPORT_TASK_BINARY) {
        enum quanta_status st = finish_binary(e, err);
        if (st != QUANTA_OK)
            return st;
    }
    if (e->n_models == 2)
        check_gates(e);
    return QUANTA_OK;
}

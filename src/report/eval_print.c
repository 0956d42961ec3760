/* quanta eval's report: the text tables and the JSON object, with the
 * rows and keys of the task at hand. */
#include "report/eval.h"

#include <math.h>
#include <string.h>

/* "91.20%", or "-" when v is unknown. */
static const char *fmt_percent(double v, char *buf, size_t size)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.2f%%", v);
    return buf;
}

static const char *fmt_db(double v, char *buf, size_t size)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else if (isinf(v))
        snprintf(buf, size, "%s", v > 0 ? "inf (identical)" : "-inf");
    else
        snprintf(buf, size, "%.2f dB", v);
    return buf;
}

static const char *fmt_number(double v, char *buf, size_t size)
{
    if (isnan(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.6g", v);
    return buf;
}

static const char *fmt_shape(const struct quanta_shape *shape, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < shape->rank && len < size; d++) {
        if (d == 0 && shape->dims[0] < 0)
            len += (size_t)snprintf(buf + len, size - len, "N");
        else
            len += (size_t)snprintf(buf + len, size - len, "%s%lld", d ? ", " : "",
                                    (long long)shape->dims[d]);
    }
    if (len < size)
        snprintf(buf + len, size - len, "]");
    return buf;
}

/* One row: a name, then one cell per model. */
static void row_models(struct report_table *t, const struct report_eval *e, const char *name,
                       double (*get)(const struct report_eval *, int),
                       const char *(*fmt)(double, char *, size_t))
{
    char b[64];
    report_table_add(t, "%s", name);
    for (int i = 0; i < e->n_models; i++)
        report_table_add(t, "%s", fmt(get(e, i), b, sizeof b));
}

static double auc_of(const struct report_eval *e, int i) { return e->model[i].auc; }
static double mean_p_of(const struct report_eval *e, int i) { return e->model[i].mean_predicted; }
static double observed_of(const struct report_eval *e, int i)
{
    (void)i;
    return report_eval_observed_rate(e);
}
static double mse_of(const struct report_eval *e, int i)
{
    return report_errors_mse(&e->model[i].vs_labels);
}
static double mae_of(const struct report_eval *e, int i)
{
    return report_errors_mae(&e->model[i].vs_labels);
}
static double cosine_of(const struct report_eval *e, int i)
{
    return report_errors_cosine(&e->model[i].vs_labels);
}
static double sqnr_of(const struct report_eval *e, int i)
{
    return report_sqnr_db(&e->model[i].vs_labels.sqnr);
}
static double ms_of(const struct report_eval *e, int i)
{
    return e->samples ? 1000.0 * e->model[i].seconds / (double)e->samples : NAN;
}
static const char *fmt_ms(double v, char *buf, size_t size)
{
    snprintf(buf, size, "%.4f", v);
    return buf;
}

/* A comparison row: name and one cell. */
#define ROW(t, name, ...)                                                                        \
    do {                                                                                         \
        report_table_add(t, "%s", name);                                                         \
        report_table_add(t, __VA_ARGS__);                                                        \
        report_table_add(t, "%s", "");                                                           \
    } while (0)

static void comparison_rows(struct report_table *t, const struct report_eval *e)
{
    char a[64];
    double lo, hi;
    bool decided = e->task != REPORT_TASK_REGRESSION;
    bool paired = e->task == REPORT_TASK_CLASS || e->task == REPORT_TASK_BINARY;
    const char *per = e->task == REPORT_TASK_TOKEN ? " (per token)" : "";
    char name[64];
    if (decided) {
        snprintf(name, sizeof name, "accuracy drop%s", per);
        if (e->labels)
            ROW(t, name, "%.2f points", report_eval_accuracy_drop(e));
        else
            ROW(t, name, "-");
    }
    if (paired) {
        report_eval_drop_interval(e, &lo, &hi);
        if (e->labels)
            ROW(t, "drop 95% CI", "%.2f to %.2f points", lo, hi);
        else
            ROW(t, "drop 95% CI", "-");
        if (e->labels)
            ROW(t, "McNemar exact p", "%.4g (%lld vs %lld)", report_eval_mcnemar_p(e),
                (long long)e->paired.only1, (long long)e->paired.only2);
        else
            ROW(t, "McNemar exact p", "-");
    }
    if (decided) {
        snprintf(name, sizeof name, "agreement%s",
                 e->task == REPORT_TASK_BINARY ? " (at 0.5)" : per);
        ROW(t, name, "%s", fmt_percent(report_eval_agreement(e), a, sizeof a));
    }
    if (paired) {
        report_eval_agreement_interval(e, &lo, &hi);
        ROW(t, "agreement 95% CI", "%.2f%% to %.2f%%", lo, hi);
    }
    if (e->task == REPORT_TASK_CLASS || e->task == REPORT_TASK_TOKEN) {
        snprintf(name, sizeof name, "KL divergence%s", per);
        ROW(t, name, "%.6f", report_compare_kl(&e->cmp));
    }
    ROW(t, "output SQNR", "%s", fmt_db(report_sqnr_db(&e->out.sqnr), a, sizeof a));
    ROW(t, "output MSE", "%.6g", report_errors_mse(&e->out));
    ROW(t, "output MAE", "%.6g", report_errors_mae(&e->out));
    ROW(t, "output cosine", "%.6f", report_errors_cosine(&e->out));
    snprintf(name, sizeof name, "metric drop (%s)", report_metric_name(e->metric));
    ROW(t, name, "%s", fmt_number(report_eval_metric_drop(e), a, sizeof a));
    const struct report_eval_options *o = &e->opt;
    if (o->has_max_drop || o->has_significance) {
        if (!o->has_significance)
            snprintf(name, sizeof name, "--max-drop %g", o->max_drop);
        else if (o->has_max_drop)
            snprintf(name, sizeof name, "--max-drop %g --significance %g", o->max_drop,
                     o->significance);
        else
            snprintf(name, sizeof name, "--significance %g", o->significance);
        ROW(t, name, "%s", report_eval_drop_gate_fails(e) ? "FAIL" : "pass");
    }
    if (o->has_min_agreement) {
        snprintf(name, sizeof name, "--min-agreement %g", o->min_agreement);
        ROW(t, name, "%s", report_eval_agreement_gate_fails(e) ? "FAIL" : "pass");
    }
    if (o->has_max_metric_drop) {
        snprintf(name, sizeof name, "--max-metric-drop %g", o->max_metric_drop);
        ROW(t, name, "%s", report_eval_metric_gate_fails(e) ? "FAIL" : "pass");
    }
}

enum quanta_status report_eval_print(const struct report_eval *e,
                                     const struct report_layers *layers, FILE *out)
{
    static const enum report_align align[] = {REPORT_ALIGN_LEFT, REPORT_ALIGN_RIGHT,
                                              REPORT_ALIGN_RIGHT};
    static const char *const head2[] = {"", "model 1", "model 2"};
    static const char *const head1[] = {"", "model"};
    char a[64], b[64];
    int n = e->n_models;
    struct report_table *t = report_table_create(n + 1, n == 2 ? head2 : head1, align);
    report_table_add(t, "file");
    for (int i = 0; i < n; i++)
        report_table_add(t, "%s", e->model[i].path);
    switch (e->task) {
    case REPORT_TASK_CLASS:
        row_models(t, e, "accuracy", report_eval_accuracy, fmt_percent);
        row_models(t, e, "top-5", report_eval_top5, fmt_percent);
        row_models(t, e, "log loss", report_eval_log_loss, fmt_number);
        break;
    case REPORT_TASK_TOKEN:
        row_models(t, e, "accuracy (per token)", report_eval_accuracy, fmt_percent);
        row_models(t, e, "top-5 (per token)", report_eval_top5, fmt_percent);
        row_models(t, e, "log loss (per token)", report_eval_log_loss, fmt_number);
        break;
    case REPORT_TASK_BINARY:
        row_models(t, e, "AUC", auc_of, fmt_number);
        row_models(t, e, "log loss", report_eval_log_loss, fmt_number);
        row_models(t, e, "accuracy at 0.5", report_eval_accuracy, fmt_percent);
        row_models(t, e, "mean predicted", mean_p_of, fmt_number);
        row_models(t, e, "observed rate", observed_of, fmt_number);
        break;
    case REPORT_TASK_REGRESSION:
        row_models(t, e, "MSE", mse_of, fmt_number);
        row_models(t, e, "MAE", mae_of, fmt_number);
        row_models(t, e, "cosine", cosine_of, fmt_number);
        row_models(t, e, "SQNR", sqnr_of, fmt_db);
        break;
    }
    row_models(t, e, "ms/sample", ms_of, fmt_ms);
    report_table_add(t, "bytes");
    for (int i = 0; i < n; i++)
        report_table_add(t, "%lld", (long long)e->model[i].bytes);
    report_table_add(t, "samples");
    report_table_add(t, "%lld", (long long)e->samples);
    if (n == 1)
        ROW(t, "task", "%s%s, metric %s", report_task_name(e->task),
            e->task != REPORT_TASK_BINARY ? "" : e->logit ? " (logits)" : " (probabilities)",
            report_metric_name(e->metric));
    if (n == 2) {
        report_table_add(t, "%s", "");
        report_table_add(t, "task");
        report_table_add(t, "%s%s, metric %s", report_task_name(e->task),
                         e->task != REPORT_TASK_BINARY ? "" : e->logit ? " (logits)"
                                                                       : " (probabilities)",
                         report_metric_name(e->metric));
        report_table_add(t, "%s", "");
        comparison_rows(t, e);
    }
    enum quanta_status st = report_table_print(t, out);
    report_table_free(t);
    if (st != QUANTA_OK || !layers)
        return st;

    static const char *const lhead[] = {"value", "op", "shape", "sqnr"};
    static const enum report_align lalign[] = {REPORT_ALIGN_LEFT, REPORT_ALIGN_LEFT,
                                               REPORT_ALIGN_LEFT, REPORT_ALIGN_RIGHT};
    t = report_table_create(4, lhead, lalign);
    for (int i = 0; i < layers->n; i++) {
        const struct report_layer *l = &layers->list[i];
        const struct graph *g1 = layers->g1;
        const struct graph_value *v = &g1->values[l->value1];
        report_table_add(t, "%s", v->name);
        report_table_add(t, "%s", report_op_label(&g1->nodes[v->producer], a, sizeof a));
        report_table_add(t, "%s", fmt_shape(&v->shape, a, sizeof a));
        if (l->mismatch)
            report_table_add(t, "shape mismatch");
        else
            report_table_add(t, "%s", fmt_db(report_sqnr_db(&l->sqnr), b, sizeof b));
    }
    fprintf(out, "\nper-layer SQNR of model 2 against model 1 (%d values in both graphs)\n",
            layers->n);
    st = report_table_print(t, out);
    report_table_free(t);
    return st;
}

/* ---- JSON ---- */

/* key: [lo, hi], or null when unknown. */
static void add_interval(cJSON *object, const char *key, double lo, double hi)
{
    if (isnan(lo) || isnan(hi)) {
        cJSON_AddNullToObject(object, key);
        return;
    }
    const double v[2] = {lo, hi};
    cJSON *a = cJSON_CreateDoubleArray(v, 2);
    if (a)
        cJSON_AddItemToObject(object, key, a);
}

/* A check's name, threshold and value; the caller adds "pass" last. */
static cJSON *add_check(cJSON *checks, const char *name, double threshold, double value)
{
    cJSON *c = cJSON_CreateObject();
    if (!c || !cJSON_AddItemToArray(checks, c)) {
        cJSON_Delete(c);
        return NULL;
    }
    cJSON_AddStringToObject(c, "name", name);
    cJSON_AddNumberToObject(c, "threshold", threshold);
    report_json_number(c, "value", value);
    return c;
}

static void model_json(cJSON *m, const struct report_eval *e, int i)
{
    cJSON_AddStringToObject(m, "path", e->model[i].path);
    report_json_number(m, "accuracy", report_eval_accuracy(e, i));
    report_json_number(m, "top5", report_eval_top5(e, i));
    report_json_number(m, "ms_per_sample", ms_of(e, i));
    cJSON_AddNumberToObject(m, "bytes", (double)e->model[i].bytes);
    report_json_number(m, "metric_value", report_eval_metric(e, i));
    if (e->task != REPORT_TASK_REGRESSION)
        report_json_number(m, "logloss", report_eval_log_loss(e, i));
    if (e->task == REPORT_TASK_BINARY) {
        report_json_number(m, "auc", e->model[i].auc);
        report_json_number(m, "mean_predicted", e->model[i].mean_predicted);
        report_json_number(m, "observed_rate", report_eval_observed_rate(e));
    }
    if (e->task == REPORT_TASK_REGRESSION) {
        report_json_number(m, "mse", mse_of(e, i));
        report_json_number(m, "mae", mae_of(e, i));
        report_json_number(m, "cosine", cosine_of(e, i));
        report_json_number(m, "sqnr_db", sqnr_of(e, i));
    }
}

static void comparison_json(cJSON *root, const struct report_eval *e,
                            const struct report_layers *layers)
{
    double lo, hi;
    bool paired = e->labels && (e->task == REPORT_TASK_CLASS || e->task == REPORT_TASK_BINARY);
    report_json_number(root, "accuracy_drop", report_eval_accuracy_drop(e));
    report_json_number(root, "top5_drop", report_eval_top5(e, 0) - report_eval_top5(e, 1));
    report_json_number(root, "agreement", report_eval_agreement(e));
    report_eval_drop_interval(e, &lo, &hi);
    add_interval(root, "accuracy_drop_ci95", lo, hi);
    report_json_number(root, "model1_only_correct", paired ? (double)e->paired.only1 : NAN);
    report_json_number(root, "model2_only_correct", paired ? (double)e->paired.only2 : NAN);
    report_json_number(root, "mcnemar_p", report_eval_mcnemar_p(e));
    report_eval_agreement_interval(e, &lo, &hi);
    add_interval(root, "agreement_ci95", lo, hi);
    bool scores = e->task == REPORT_TASK_CLASS || e->task == REPORT_TASK_TOKEN;
    report_json_number(root, "kl_divergence", scores ? report_compare_kl(&e->cmp) : NAN);
    report_json_number(root, "sqnr_db", report_sqnr_db(&e->out.sqnr));
    cJSON_AddBoolToObject(root, "identical_outputs", e->out.sqnr.noise == 0.0);
    report_json_number(root, "output_mse", report_errors_mse(&e->out));
    report_json_number(root, "output_mae", report_errors_mae(&e->out));
    report_json_number(root, "output_cosine", report_errors_cosine(&e->out));
    report_json_number(root, "metric_drop", report_eval_metric_drop(e));
    if (!layers)
        return;
    cJSON *pl = cJSON_AddArrayToObject(root, "per_layer");
    for (int i = 0; pl && i < layers->n; i++) {
        const struct report_layer *l = &layers->list[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(pl, o)) {
            cJSON_Delete(o);
            break;
        }
        cJSON_AddStringToObject(o, "value", layers->g1->values[l->value1].name);
        report_json_number(o, "sqnr_db", l->mismatch ? NAN : report_sqnr_db(&l->sqnr));
        cJSON_AddBoolToObject(o, "identical", !l->mismatch && l->sqnr.noise == 0.0);
    }
}

cJSON *report_eval_json(const struct report_eval *e, const char *data_path,
                        const struct report_layers *layers)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    const struct report_eval_options *o = &e->opt;
    cJSON_AddNumberToObject(root, "samples", (double)e->samples);
    cJSON_AddStringToObject(root, "data", data_path);
    cJSON_AddBoolToObject(root, "labels", e->labels != NULL);
    cJSON_AddStringToObject(root, "task", report_task_name(e->task));
    cJSON_AddStringToObject(root, "metric", report_metric_name(e->metric));
    cJSON_AddBoolToObject(root, "metric_higher_is_better",
                          report_metric_higher_is_better(e->metric));
    if (e->task == REPORT_TASK_BINARY)
        cJSON_AddStringToObject(root, "output_kind", e->logit ? "logit" : "prob");
    if (e->task == REPORT_TASK_TOKEN)
        cJSON_AddNumberToObject(root, "positions", (double)e->positions);
    cJSON *models = cJSON_AddArrayToObject(root, "models");
    for (int i = 0; models && i < e->n_models; i++) {
        cJSON *m = cJSON_CreateObject();
        if (!m || !cJSON_AddItemToArray(models, m)) {
            cJSON_Delete(m);
            break;
        }
        model_json(m, e, i);
    }
    if (e->n_models == 2)
        comparison_json(root, e, layers);
    cJSON *checks = cJSON_AddArrayToObject(root, "checks");
    cJSON *c;
    if (checks && (o->has_max_drop || o->has_significance) &&
        (c = add_check(checks, "max_drop", report_eval_drop_threshold(e),
                       report_eval_accuracy_drop(e)))) {
        if (o->has_significance) {
            cJSON_AddNumberToObject(c, "significance", o->significance);
            report_json_number(c, "p_value", report_eval_mcnemar_p(e));
        }
        cJSON_AddBoolToObject(c, "pass", !report_eval_drop_gate_fails(e));
    }
    if (checks && o->has_min_agreement &&
        (c = add_check(checks, "min_agreement", o->min_agreement, report_eval_agreement(e))))
        cJSON_AddBoolToObject(c, "pass", !report_eval_agreement_gate_fails(e));
    if (checks && o->has_max_metric_drop &&
        (c = add_check(checks, "max_metric_drop", o->max_metric_drop,
                       report_eval_metric_drop(e)))) {
        cJSON_AddStringToObject(c, "metric", report_metric_name(e->metric));
        cJSON_AddBoolToObject(c, "pass", !report_eval_metric_gate_fails(e));
    }
    cJSON_AddBoolToObject(root, "pass", e->pass);
    return root;
}

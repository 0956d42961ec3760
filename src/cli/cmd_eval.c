/* quanta eval: accuracy and latency of one model, or of two models side by
 * side on the same batches (agreement, KL divergence, output SQNR, and
 * per-layer SQNR), with optional pass/fail gates for scripts and CI. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "report/report.h"

static const char eval_usage[] =
    "usage: quanta eval MODEL [MODEL2] --data FILE [--labels FILE] [--samples N]\n"
    "                   [--batch N] [--json] [--per-layer] [--max-drop PTS]\n"
    "                   [--min-agreement PCT] [--significance ALPHA] [--threads N]\n"
    "                   [--layout nchw|nhwc]\n";

static const char eval_help[] =
    "usage: quanta eval MODEL [MODEL2] --data FILE [--labels FILE] [--samples N]\n"
    "                   [--batch N] [--json] [--per-layer] [--max-drop PTS]\n"
    "                   [--min-agreement PCT] [--significance ALPHA] [--threads N]\n"
    "                   [--layout nchw|nhwc]\n"
    "\n"
    "Runs MODEL on the samples of FILE and reports top-1 and top-5 accuracy,\n"
    "milliseconds per sample (time spent running the model only) and the file\n"
    "size. With MODEL2, both models run on the same batches and one table\n"
    "compares them: accuracy drop (MODEL - MODEL2, in points), top-1\n"
    "agreement, mean KL divergence KL(P_MODEL || P_MODEL2) of the output\n"
    "distributions, and the SQNR of MODEL2's outputs against MODEL's. With\n"
    "labels, the drop has a 95% confidence interval for paired proportions\n"
    "(Newcombe) and the exact McNemar test of the samples only one model gets\n"
    "right; agreement has a 95% Wilson interval.\n"
    "\n"
    "options:\n"
    "  --data FILE          samples (IDX, NPY or safetensors; required)\n"
    "  --labels FILE        labels (default: the data file's own, or the IDX\n"
    "                       labels file next to it); without labels accuracy\n"
    "                       is not reported\n"
    "  --samples N          use only the first N samples (default all)\n"
    "  --batch N            samples per batch (default 64)\n"
    "  --json               print one JSON object on stdout instead of tables\n"
    "  --per-layer          with MODEL2: SQNR of every value both graphs name\n"
    "  --max-drop PTS       with MODEL2: fail (exit 1) if the top-1 accuracy\n"
    "                       drops by more than PTS points, 0..100\n"
    "  --min-agreement PCT  with MODEL2: fail (exit 1) if the models agree on\n"
    "                       fewer than PCT percent of the samples, 0..100\n"
    "  --significance ALPHA with MODEL2 and labels: the drop gate fails only\n"
    "                       when the drop is also significant (exact McNemar\n"
    "                       p < ALPHA, 0 < ALPHA < 1); alone, fail on any\n"
    "                       significant drop (as --max-drop 0)\n"
    "  --threads N          worker threads (default 0: all cores)\n"
    "  --layout L           layout of 4-D data: nhwc or nchw (samples [C, H, W]\n"
    "                       transposed for an input [N, H, W, C]); default: each\n"
    "                       model's, nchw for models made by quanta import\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: 0 ok, 1 a check failed, 2 usage error, 3 invalid model, data\n"
    "or labels file, 5 out of memory. See man quanta-eval(1).\n";

struct eval_options {
    const char *model[2];
    int n_models;
    const char *data;
    const char *labels;
    int64_t samples, batch, threads;
    bool json, per_layer;
    bool has_max_drop, has_min_agreement, has_significance;
    double max_drop, min_agreement, significance;
    int layout;                 /* --layout, -1: each model's own */
};

static int parse_options(int argc, char **argv, struct eval_options *o)
{
    enum {
        OPT_DATA = 256, OPT_LABELS, OPT_SAMPLES, OPT_BATCH, OPT_JSON, OPT_PER_LAYER,
        OPT_MAX_DROP, OPT_MIN_AGREEMENT, OPT_SIGNIFICANCE, OPT_THREADS, OPT_LAYOUT
    };
    static const struct option options[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"json", no_argument, NULL, OPT_JSON},
        {"per-layer", no_argument, NULL, OPT_PER_LAYER},
        {"max-drop", required_argument, NULL, OPT_MAX_DROP},
        {"min-agreement", required_argument, NULL, OPT_MIN_AGREEMENT},
        {"significance", required_argument, NULL, OPT_SIGNIFICANCE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"layout", required_argument, NULL, OPT_LAYOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct eval_options){.batch = 64};
    int c, rc = 0;
    o->layout = -1;
    optind = 0;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(eval_help) - 1; /* -1: stop, exit 0 */
        case OPT_DATA:
            o->data = optarg;
            break;
        case OPT_LABELS:
            o->labels = optarg;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_PER_LAYER:
            o->per_layer = true;
            break;
        case OPT_SAMPLES:
            rc = cli_opt_samples("eval", eval_usage, optarg, &o->samples);
            break;
        case OPT_BATCH:
            rc = cli_opt_batch("eval", eval_usage, optarg, &o->batch);
            break;
        case OPT_THREADS:
            rc = cli_opt_threads("eval", eval_usage, optarg, &o->threads);
            break;
        case OPT_LAYOUT:
            rc = cli_opt_layout("eval", eval_usage, optarg, &o->layout);
            break;
        case OPT_MAX_DROP:
            if (!cli_parse_double(optarg, &o->max_drop) || o->max_drop < 0.0 ||
                o->max_drop > 100.0)
                return cli_usage_error("eval", eval_usage,
                                       "--max-drop '%s' is not a number of points in [0, 100]",
                                       optarg);
            o->has_max_drop = true;
            break;
        case OPT_MIN_AGREEMENT:
            if (!cli_parse_double(optarg, &o->min_agreement) || o->min_agreement < 0.0 ||
                o->min_agreement > 100.0)
                return cli_usage_error("eval", eval_usage,
                                       "--min-agreement '%s' is not a percentage in [0, 100]",
                                       optarg);
            o->has_min_agreement = true;
            break;
        case OPT_SIGNIFICANCE:
            if (!cli_parse_double(optarg, &o->significance) || !(o->significance > 0.0) ||
                !(o->significance < 1.0))
                return cli_usage_error("eval", eval_usage,
                                       "--significance '%s' is not a level in (0, 1)", optarg);
            o->has_significance = true;
            break;
        default:
            return cli_option_error("eval", eval_usage, c, argv);
        }
    }
    if (rc != 0)
        return rc;
    o->n_models = argc - optind;
    if (o->n_models < 1)
        return cli_usage_error("eval", eval_usage, "a model file is needed");
    if (o->n_models > 2)
        return cli_usage_error("eval", eval_usage, "at most two model files are compared");
    for (int i = 0; i < o->n_models; i++)
        o->model[i] = argv[optind + i];
    if (!o->data)
        return cli_usage_error("eval", eval_usage, "--data FILE is needed");
    if (o->n_models < 2 &&
        (o->per_layer || o->has_max_drop || o->has_min_agreement || o->has_significance))
        return cli_usage_error("eval", eval_usage, "%s needs a second model to compare with",
                               o->per_layer           ? "--per-layer"
                               : o->has_max_drop      ? "--max-drop"
                               : o->has_min_agreement ? "--min-agreement"
                                                      : "--significance");
    return 0;
}

/* ---- the evaluation ---- */

struct side {
    const char *path;
    struct model model;
    bool opened;
    struct runner *runner;
    struct data_feed feed;       /* own feed (model 2 borrows model 1's when it can) */
    struct data_feed *input;     /* the feed this model reads */
    int64_t bytes;
    double seconds;             /* inside runner_run */
    int64_t per_sample;         /* output 0 elements per sample */
    struct report_accuracy acc;
};

struct eval {
    struct eval_options opt;
    struct side side[2];
    int n;
    struct labels labels;
    int64_t samples;
    struct report_compare cmp;
    struct report_paired paired;    /* with labels: right by both, one, neither */
    struct report_layers layers;
    bool usage_error;           /* err holds a usage error of ours */
    /* gates */
    bool pass;
    char reason[2 * QUANTA_ERROR_MESSAGE_MAX];
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static bool have_labels(const struct eval *e)
{
    return e->labels.n > 0;
}

static enum quanta_status open_side(struct eval *e, int i, struct quanta_error *err)
{
    struct side *s = &e->side[i];
    enum quanta_status st = cli_model_open_graph(&s->model, s->path, ", so it cannot run", err);
    if (st != QUANTA_OK)
        return st;
    s->opened = true;
    const struct graph *g = &s->model.graph;
    s->bytes = cli_file_size(s->path);
    struct quanta_shape shape = graph_value_shape(g, g->outputs[0], 1);
    s->per_sample = quanta_shape_numel(&shape);
    if (s->per_sample < 1 || s->per_sample > INT32_MAX)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: output '%s' has %lld values per sample",
                           s->path, g->values[g->outputs[0]].name, (long long)s->per_sample);
    if (i == 1 && data_feed_shared(&e->side[0].model.graph, g)) {
        s->input = &e->side[0].feed;
    } else {
        st = data_feed_open(&s->feed, g, e->opt.data, e->opt.samples, e->opt.batch,
                                  cli_layout(e->opt.layout, &s->model), err);
        if (st != QUANTA_OK)
            return st;
        s->input = &s->feed;
        if (i == 1 && s->feed.batch != e->side[0].feed.batch)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s and %s need different batch sizes (%lld and %lld)",
                               e->side[0].path, s->path, (long long)e->side[0].feed.batch,
                               (long long)s->feed.batch);
    }
    struct runner_options ro = {.max_batch = s->input->batch, .threads = (int)e->opt.threads};
    st = runner_create(&s->runner, g, &ro, err);
    if (st != QUANTA_OK && st != QUANTA_ERR_USAGE && strncmp(err->message, s->path,
                                                             strlen(s->path)) != 0)
        quanta_error_prefix(err, "%s", s->path);
    return st;
}

static enum quanta_status load_labels(struct eval *e, struct quanta_error *err)
{
    enum quanta_status st;
    if (e->opt.labels)
        st = labels_load(&e->labels, e->opt.labels, err);
    else
        st = labels_load_for_data(&e->labels, e->opt.data, err);
    if (st != QUANTA_OK)
        return st;
    const char *where = e->opt.labels ? e->opt.labels : e->opt.data;
    int64_t in_file = e->side[0].input->datasets[0]->n_samples;
    if (have_labels(e) && e->labels.n != in_file)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: holds %lld labels but %s has %lld samples",
                           where, (long long)e->labels.n, e->opt.data, (long long)in_file);
    return QUANTA_OK;
}

static enum quanta_status run_batches(struct eval *e, struct quanta_error *err)
{
    enum quanta_status st;
    int64_t batch = e->side[0].input->batch;
    int n_classes = (int)e->side[0].per_sample;
    double *scratch = malloc(2 * (size_t)n_classes * sizeof *scratch);
    if (!scratch)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    for (int64_t start = 0; start < e->samples; start += batch) {
        int64_t count = e->samples - start < batch ? e->samples - start : batch;
        const float *out[2] = {NULL, NULL};
        for (int i = 0; i < e->n; i++) {
            struct side *s = &e->side[i];
            if (s->input == &s->feed && (st = data_feed_read(&s->feed, start, count, err)))
                goto done;
            double t0 = now_seconds();
            st = runner_run(s->runner, count, data_feed_inputs(s->input), err);
            s->seconds += now_seconds() - t0;
            if (st != QUANTA_OK) {
                if (strncmp(err->message, s->path, strlen(s->path)) != 0)
                    quanta_error_prefix(err, "%s", s->path);
                goto done;
            }
            struct quanta_shape shape;
            out[i] = runner_output(s->runner, 0, &shape);
        }
        for (int64_t k = 0; k < count; k++) {
            const float *x1 = out[0] + k * n_classes;
            int label = have_labels(e) ? e->labels.values[start + k] : -1;
            if (have_labels(e))
                report_accuracy_add(&e->side[0].acc, x1, n_classes, label);
            if (e->n == 2) {
                const float *x2 = out[1] + k * n_classes;
                if (have_labels(e)) {
                    report_accuracy_add(&e->side[1].acc, x2, n_classes, label);
                    report_paired_add(&e->paired, report_rank(x1, n_classes, label) == 0,
                                      report_rank(x2, n_classes, label) == 0);
                }
                report_compare_add(&e->cmp, x1, x2, n_classes, scratch);
            }
        }
    }
    st = QUANTA_OK;
done:
    free(scratch);
    return st;
}

static double accuracy(const struct eval *e, int i)
{
    return have_labels(e) ? report_percent(e->side[i].acc.top1, e->side[i].acc.samples) : NAN;
}

static double top5(const struct eval *e, int i)
{
    return have_labels(e) ? report_percent(e->side[i].acc.top5, e->side[i].acc.samples) : NAN;
}

static double ms_per_sample(const struct eval *e, int i)
{
    return 1000.0 * e->side[i].seconds / (double)e->samples;
}

static double accuracy_drop(const struct eval *e)
{
    return accuracy(e, 0) - accuracy(e, 1);
}

static double agreement(const struct eval *e)
{
    return report_percent(e->cmp.agree, e->cmp.samples);
}

/* Exact McNemar p of the discordant samples; NaN without labels. */
static double mcnemar_p(const struct eval *e)
{
    return have_labels(e) ? report_mcnemar_exact_p(e->paired.only1, e->paired.only2) : NAN;
}

/* 95% interval of the accuracy drop in points (Newcombe); NaN without labels. */
static void drop_interval(const struct eval *e, double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (have_labels(e)) {
        report_paired_diff_interval(&e->paired, REPORT_Z95, lo, hi);
        *lo *= 100.0;
        *hi *= 100.0;
    }
}

static void agreement_interval(const struct eval *e, double *lo, double *hi)
{
    report_wilson_interval(e->cmp.agree, e->cmp.samples, REPORT_Z95, lo, hi);
    *lo *= 100.0;
    *hi *= 100.0;
}

/* The drop gate: --max-drop PTS (0 with --significance alone), and with
 * --significance the drop must also be significant. */
static bool drop_gate(const struct eval *e)
{
    return e->opt.has_max_drop || e->opt.has_significance;
}

static double drop_threshold(const struct eval *e)
{
    return e->opt.has_max_drop ? e->opt.max_drop : 0.0;
}

static bool drop_gate_fails(const struct eval *e)
{
    if (!(accuracy_drop(e) > drop_threshold(e)))
        return false;
    return !e->opt.has_significance || mcnemar_p(e) < e->opt.significance;
}

static void check_gates(struct eval *e)
{
    size_t len = 0;
    e->pass = true;
    e->reason[0] = '\0';
    if (drop_gate(e) && drop_gate_fails(e)) {
        e->pass = false;
        if (!e->opt.has_significance)
            len += (size_t)snprintf(e->reason + len, sizeof e->reason - len,
                                    "accuracy drop %.2f points exceeds --max-drop %g",
                                    accuracy_drop(e), e->opt.max_drop);
        else if (e->opt.has_max_drop)
            len += (size_t)snprintf(e->reason + len, sizeof e->reason - len,
                                    "accuracy drop %.2f points exceeds --max-drop %g and is "
                                    "significant (McNemar p %.3g < --significance %g)",
                                    accuracy_drop(e), e->opt.max_drop, mcnemar_p(e),
                                    e->opt.significance);
        else
            len += (size_t)snprintf(e->reason + len, sizeof e->reason - len,
                                    "accuracy drop %.2f points is significant (McNemar p %.3g "
                                    "< --significance %g)",
                                    accuracy_drop(e), mcnemar_p(e), e->opt.significance);
    }
    if (e->opt.has_min_agreement && agreement(e) < e->opt.min_agreement && len < sizeof e->reason) {
        e->pass = false;
        snprintf(e->reason + len, sizeof e->reason - len,
                 "%sagreement %.2f%% is below --min-agreement %g", len ? "; " : "", agreement(e),
                 e->opt.min_agreement);
    }
}

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

static enum quanta_status print_text(const struct eval *e)
{
    char a[64], b[64];
    static const enum report_align align[] = {REPORT_ALIGN_LEFT, REPORT_ALIGN_RIGHT,
                                              REPORT_ALIGN_RIGHT};
    static const char *const head2[] = {"", "model 1", "model 2"};
    static const char *const head1[] = {"", "model"};
    struct report_table *t = report_table_create(e->n + 1, e->n == 2 ? head2 : head1, align);
    report_table_add(t, "file");
    for (int i = 0; i < e->n; i++)
        report_table_add(t, "%s", e->side[i].path);
    report_table_add(t, "accuracy");
    for (int i = 0; i < e->n; i++)
        report_table_add(t, "%s", fmt_percent(accuracy(e, i), a, sizeof a));
    report_table_add(t, "top-5");
    for (int i = 0; i < e->n; i++)
        report_table_add(t, "%s", fmt_percent(top5(e, i), a, sizeof a));
    report_table_add(t, "ms/sample");
    for (int i = 0; i < e->n; i++)
        report_table_add(t, "%.4f", ms_per_sample(e, i));
    report_table_add(t, "bytes");
    for (int i = 0; i < e->n; i++)
        report_table_add(t, "%lld", (long long)e->side[i].bytes);
    report_table_add(t, "samples");
    report_table_add(t, "%lld", (long long)e->samples);
    if (e->n == 2) {
        report_table_add(t, "%s", "");
        report_table_add(t, "accuracy drop");
        if (have_labels(e))
            report_table_add(t, "%.2f points", accuracy_drop(e));
        else
            report_table_add(t, "-");
        report_table_add(t, "%s", "");
        double lo, hi;
        drop_interval(e, &lo, &hi);
        report_table_add(t, "drop 95%% CI");
        if (have_labels(e))
            report_table_add(t, "%.2f to %.2f points", lo, hi);
        else
            report_table_add(t, "-");
        report_table_add(t, "%s", "");
        report_table_add(t, "McNemar exact p");
        if (have_labels(e))
            report_table_add(t, "%.4g (%lld vs %lld)", mcnemar_p(e), (long long)e->paired.only1,
                             (long long)e->paired.only2);
        else
            report_table_add(t, "-");
        report_table_add(t, "%s", "");
        report_table_add(t, "agreement");
        report_table_add(t, "%s", fmt_percent(agreement(e), a, sizeof a));
        report_table_add(t, "%s", "");
        agreement_interval(e, &lo, &hi);
        report_table_add(t, "agreement 95%% CI");
        report_table_add(t, "%.2f%% to %.2f%%", lo, hi);
        report_table_add(t, "%s", "");
        report_table_add(t, "KL divergence");
        report_table_add(t, "%.6f", report_compare_kl(&e->cmp));
        report_table_add(t, "%s", "");
        report_table_add(t, "output SQNR");
        report_table_add(t, "%s", fmt_db(report_sqnr_db(&e->cmp.sqnr), b, sizeof b));
        report_table_add(t, "%s", "");
        if (drop_gate(e)) {
            if (!e->opt.has_significance)
                report_table_add(t, "--max-drop %g", e->opt.max_drop);
            else if (e->opt.has_max_drop)
                report_table_add(t, "--max-drop %g --significance %g", e->opt.max_drop,
                                 e->opt.significance);
            else
                report_table_add(t, "--significance %g", e->opt.significance);
            report_table_add(t, "%s", drop_gate_fails(e) ? "FAIL" : "pass");
            report_table_add(t, "%s", "");
        }
        if (e->opt.has_min_agreement) {
            report_table_add(t, "--min-agreement %g", e->opt.min_agreement);
            report_table_add(t, "%s", agreement(e) < e->opt.min_agreement ? "FAIL" : "pass");
            report_table_add(t, "%s", "");
        }
    }
    enum quanta_status st = report_table_print(t, stdout);
    report_table_free(t);
    if (st != QUANTA_OK || !e->opt.per_layer)
        return st;

    static const char *const lhead[] = {"value", "op", "shape", "sqnr"};
    static const enum report_align lalign[] = {REPORT_ALIGN_LEFT, REPORT_ALIGN_LEFT,
                                               REPORT_ALIGN_LEFT, REPORT_ALIGN_RIGHT};
    const struct graph *g1 = &e->side[0].model.graph;
    t = report_table_create(4, lhead, lalign);
    for (int i = 0; i < e->layers.n; i++) {
        const struct report_layer *l = &e->layers.list[i];
        const struct graph_value *v = &g1->values[l->value1];
        report_table_add(t, "%s", v->name);
        report_table_add(t, "%s", graph_op_name(g1->nodes[v->producer].op));
        report_table_add(t, "%s", cli_shape_format(&v->shape, a, sizeof a));
        if (l->mismatch)
            report_table_add(t, "shape mismatch");
        else
            report_table_add(t, "%s", fmt_db(report_sqnr_db(&l->sqnr), b, sizeof b));
    }
    printf("\nper-layer SQNR of model 2 against model 1 (%d values in both graphs)\n",
           e->layers.n);
    st = report_table_print(t, stdout);
    report_table_free(t);
    return st;
}

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

static cJSON *eval_json(const struct eval *e)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddNumberToObject(root, "samples", (double)e->samples);
    cJSON_AddStringToObject(root, "data", e->opt.data);
    cJSON_AddBoolToObject(root, "labels", have_labels(e));
    cJSON *models = cJSON_AddArrayToObject(root, "models");
    for (int i = 0; models && i < e->n; i++) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToArray(models, m);
        cJSON_AddStringToObject(m, "path", e->side[i].path);
        cli_json_add_number(m, "accuracy", accuracy(e, i));
        cli_json_add_number(m, "top5", top5(e, i));
        cli_json_add_number(m, "ms_per_sample", ms_per_sample(e, i));
        cJSON_AddNumberToObject(m, "bytes", (double)e->side[i].bytes);
    }
    if (e->n == 2) {
        cli_json_add_number(root, "accuracy_drop", accuracy_drop(e));
        cli_json_add_number(root, "top5_drop", top5(e, 0) - top5(e, 1));
        cli_json_add_number(root, "agreement", agreement(e));
        double lo, hi;
        drop_interval(e, &lo, &hi);
        add_interval(root, "accuracy_drop_ci95", lo, hi);
        if (have_labels(e)) {
            cJSON_AddNumberToObject(root, "model1_only_correct", (double)e->paired.only1);
            cJSON_AddNumberToObject(root, "model2_only_correct", (double)e->paired.only2);
        } else {
            cJSON_AddNullToObject(root, "model1_only_correct");
            cJSON_AddNullToObject(root, "model2_only_correct");
        }
        cli_json_add_number(root, "mcnemar_p", mcnemar_p(e));
        agreement_interval(e, &lo, &hi);
        add_interval(root, "agreement_ci95", lo, hi);
        cli_json_add_number(root, "kl_divergence", report_compare_kl(&e->cmp));
        double db = report_sqnr_db(&e->cmp.sqnr);
        cli_json_add_number(root, "sqnr_db", db);
        cJSON_AddBoolToObject(root, "identical_outputs", e->cmp.sqnr.noise == 0.0);
        if (e->opt.per_layer) {
            const struct graph *g1 = &e->side[0].model.graph;
            cJSON *pl = cJSON_AddArrayToObject(root, "per_layer");
            for (int i = 0; pl && i < e->layers.n; i++) {
                const struct report_layer *l = &e->layers.list[i];
                cJSON *o = cJSON_CreateObject();
                cJSON_AddItemToArray(pl, o);
                cJSON_AddStringToObject(o, "value", g1->values[l->value1].name);
                cli_json_add_number(o, "sqnr_db", l->mismatch ? NAN : report_sqnr_db(&l->sqnr));
                cJSON_AddBoolToObject(o, "identical", !l->mismatch && l->sqnr.noise == 0.0);
            }
        }
    }
    cJSON *checks = cJSON_AddArrayToObject(root, "checks");
    if (checks && drop_gate(e)) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(checks, c);
        cJSON_AddStringToObject(c, "name", "max_drop");
        cJSON_AddNumberToObject(c, "threshold", drop_threshold(e));
        cli_json_add_number(c, "value", accuracy_drop(e));
        if (e->opt.has_significance) {
            cJSON_AddNumberToObject(c, "significance", e->opt.significance);
            cli_json_add_number(c, "p_value", mcnemar_p(e));
        }
        cJSON_AddBoolToObject(c, "pass", !drop_gate_fails(e));
    }
    if (checks && e->opt.has_min_agreement) {
        cJSON *c = cJSON_CreateObject();
        cJSON_AddItemToArray(checks, c);
        cJSON_AddStringToObject(c, "name", "min_agreement");
        cJSON_AddNumberToObject(c, "threshold", e->opt.min_agreement);
        cli_json_add_number(c, "value", agreement(e));
        cJSON_AddBoolToObject(c, "pass", !(agreement(e) < e->opt.min_agreement));
    }
    cJSON_AddBoolToObject(root, "pass", e->pass);
    return root;
}

static enum quanta_status evaluate(struct eval *e, struct quanta_error *err)
{
    enum quanta_status st;
    for (int i = 0; i < e->n; i++)
        if ((st = open_side(e, i, err)) != QUANTA_OK)
            return st;
    e->samples = e->side[0].input->samples;
    if (e->n == 2) {
        if (e->side[1].input->samples < e->samples)
            e->samples = e->side[1].input->samples;
        if (e->side[0].per_sample != e->side[1].per_sample)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s gives %lld outputs per sample but %s gives %lld",
                               e->side[0].path, (long long)e->side[0].per_sample,
                               e->side[1].path, (long long)e->side[1].per_sample);
    }
    if ((st = load_labels(e, err)) != QUANTA_OK)
        return st;
    if ((e->opt.has_max_drop || e->opt.has_significance) && !have_labels(e)) {
        e->usage_error = true;
        return quanta_fail(err, QUANTA_ERR_USAGE,
                           "%s needs labels but none were found for %s; give --labels",
                           e->opt.has_max_drop ? "--max-drop" : "--significance", e->opt.data);
    }
    if (e->n == 2 && e->opt.per_layer) {
        st = report_layers_init(&e->layers, &e->side[0].model.graph, &e->side[1].model.graph,
                                e->side[0].input->batch, err);
        if (st != QUANTA_OK)
            return st;
        report_layers_attach(&e->layers, e->side[0].runner, e->side[1].runner);
    }
    if ((st = run_batches(e, err)) != QUANTA_OK)
        return st;
    check_gates(e);
    return QUANTA_OK;
}

static void eval_free(struct eval *e)
{
    for (int i = e->n - 1; i >= 0; i--) {
        struct side *s = &e->side[i];
        runner_free(s->runner);
        data_feed_close(&s->feed);
        if (s->opened)
            model_close(&s->model);
    }
    report_layers_free(&e->layers);
    labels_free(&e->labels);
}

int cmd_eval(int argc, char **argv)
{
    struct eval e;
    memset(&e, 0, sizeof e);
    int rc = parse_options(argc, argv, &e.opt);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    e.n = e.opt.n_models;
    for (int i = 0; i < e.n; i++)
        e.side[i].path = e.opt.model[i];

    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = evaluate(&e, &err);
    if (st == QUANTA_OK) {
        if (e.opt.json)
            st = cli_json_print(eval_json(&e), &err);
        else
            st = print_text(&e);
        if (st == QUANTA_ERR_NOMEM && !err.message[0])
            quanta_fail(&err, st, "out of memory printing the report");
    }
    bool pass = e.pass, usage_error = e.usage_error;
    char reason[sizeof e.reason];
    memcpy(reason, e.reason, sizeof reason);
    eval_free(&e);
    if (usage_error) {
        fprintf(stderr, "quanta eval: %s\n%s", err.message, eval_usage);
        return st;
    }
    if (st != QUANTA_OK)
        return cli_report(&err);
    if (fflush(stdout) != 0)
        return QUANTA_ERR_OUTPUT;
    if (!pass) {
        fprintf(stderr, "quanta: check failed: %s\n", reason);
        return QUANTA_ERR_CHECK;
    }
    return 0;
}

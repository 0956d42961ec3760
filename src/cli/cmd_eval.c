/* quanta eval: the figures and latency of one model, or of two models side
 * by side on the same batches, with optional pass/fail gates for scripts
 * and CI. The figures, the task they fit and the gates are src/report/
 * (eval.c); this file reads options, runs the models and prints. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/progress.h"
#include "cli/cli.h"
#include "cli/cli_data.h"
#include "report/eval.h"

static const char eval_usage[] =
    "usage: quanta eval MODEL [MODEL2] --data FILE [--labels FILE] [--samples N]\n"
    "                   [--batch N] [--json] [--per-layer] [--max-drop PTS]\n"
    "                   [--min-agreement PCT] [--significance ALPHA] [--metric NAME]\n"
    "                   [--max-metric-drop X] [--output-kind prob|logit] [--threads N]\n"
    "                   [--layout nchw|nhwc] [--quiet]\n";

static const char eval_help[] =
    "usage: quanta eval MODEL [MODEL2] --data FILE [--labels FILE] [--samples N]\n"
    "                   [--batch N] [--json] [--per-layer] [--max-drop PTS]\n"
    "                   [--min-agreement PCT] [--significance ALPHA] [--metric NAME]\n"
    "                   [--max-metric-drop X] [--output-kind prob|logit] [--threads N]\n"
    "                   [--layout nchw|nhwc] [--quiet]\n"
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
    "The figures fit the output: class scores [N, C] (above), one probability\n"
    "or logit per sample (binary: AUC, log loss, accuracy at 0.5, calibration),\n"
    "class scores per position [N, T, C] (per-token accuracy and agreement), or\n"
    "float labels of the output's shape (regression: MSE, MAE, cosine, SQNR).\n"
    "Two models are also compared by the MSE, MAE and cosine of their outputs.\n"
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
    "  --metric NAME        the figure --max-metric-drop reads: accuracy, top5,\n"
    "                       auc, logloss, mse, mae, cosine, agreement,\n"
    "                       token-agreement (default: by the output and labels)\n"
    "  --max-metric-drop X  with MODEL2: fail if the metric drops by more than X\n"
    "                       (MODEL - MODEL2 when higher is better, else\n"
    "                       MODEL2 - MODEL), in the metric's units\n"
    "  --output-kind K      one output per sample: prob or logit (default: prob\n"
    "                       when every output of MODEL is in [0, 1])\n"
    "  --threads N          worker threads (default 0: all cores)\n"
    "  --layout L           layout of 4-D data: nhwc or nchw (samples [C, H, W]\n"
    "                       transposed for an input [N, H, W, C]); default: each\n"
    "                       model's, nchw for models made by quanta import\n"
    "  --quiet              no progress line (one is shown on stderr when it is\n"
    "                       a terminal)\n"
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
    bool json, per_layer, quiet;
    int layout;                 /* --layout, -1: each model's own */
    struct report_eval_options report;
};

/* A number in [0, hi] (hi: INFINITY for none) for a gate. */
static int gate_value(const char *opt, const char *arg, double hi, const char *what, double *v,
                      bool *has)
{
    if (!cli_parse_double(arg, v) || !(*v >= 0.0) || *v > hi || isinf(*v))
        return cli_usage_error("eval", eval_usage, "%s '%s' is not %s", opt, arg, what);
    *has = true;
    return 0;
}

static int parse_options(int argc, char **argv, struct eval_options *o)
{
    enum {
        OPT_DATA = 256, OPT_LABELS, OPT_SAMPLES, OPT_BATCH, OPT_JSON, OPT_PER_LAYER,
        OPT_MAX_DROP, OPT_MIN_AGREEMENT, OPT_SIGNIFICANCE, OPT_THREADS, OPT_LAYOUT, OPT_METRIC,
        OPT_MAX_METRIC_DROP, OPT_OUTPUT_KIND, OPT_QUIET
    };
    static const struct option options[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"per-layer", no_argument, NULL, OPT_PER_LAYER},
        {"max-drop", required_argument, NULL, OPT_MAX_DROP},
        {"min-agreement", required_argument, NULL, OPT_MIN_AGREEMENT},
        {"significance", required_argument, NULL, OPT_SIGNIFICANCE},
        {"metric", required_argument, NULL, OPT_METRIC},
        {"max-metric-drop", required_argument, NULL, OPT_MAX_METRIC_DROP},
        {"output-kind", required_argument, NULL, OPT_OUTPUT_KIND},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"layout", required_argument, NULL, OPT_LAYOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct eval_options){.batch = 64, .layout = -1};
    struct report_eval_options *r = &o->report;
    r->metric = REPORT_METRIC_DEFAULT;
    int c, rc = 0;
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
        case OPT_QUIET:
            o->quiet = true;
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
            rc = gate_value("--max-drop", optarg, 100.0, "a number of points in [0, 100]",
                            &r->max_drop, &r->has_max_drop);
            break;
        case OPT_MIN_AGREEMENT:
            rc = gate_value("--min-agreement", optarg, 100.0, "a percentage in [0, 100]",
                            &r->min_agreement, &r->has_min_agreement);
            break;
        case OPT_MAX_METRIC_DROP:
            rc = gate_value("--max-metric-drop", optarg, INFINITY, "a finite number >= 0",
                            &r->max_metric_drop, &r->has_max_metric_drop);
            break;
        case OPT_SIGNIFICANCE:
            if (!cli_parse_double(optarg, &r->significance) || !(r->significance > 0.0) ||
                !(r->significance < 1.0))
                return cli_usage_error("eval", eval_usage,
                                       "--significance '%s' is not a level in (0, 1)", optarg);
            r->has_significance = true;
            break;
        case OPT_METRIC:
            r->metric = report_metric_from_name(optarg);
            if (r->metric == REPORT_METRIC_COUNT)
                return cli_usage_error("eval", eval_usage,
                                       "--metric '%s' is none of accuracy, top5, auc, logloss, "
                                       "mse, mae, cosine, agreement, token-agreement", optarg);
            break;
        case OPT_OUTPUT_KIND:
            if (strcmp(optarg, "prob") == 0)
                r->output_kind = REPORT_OUTPUT_PROB;
            else if (strcmp(optarg, "logit") == 0)
                r->output_kind = REPORT_OUTPUT_LOGIT;
            else
                return cli_usage_error("eval", eval_usage,
                                       "--output-kind '%s' is neither prob nor logit", optarg);
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
    if (o->n_models < 2 && (o->per_layer || r->has_max_drop || r->has_min_agreement ||
                            r->has_significance || r->has_max_metric_drop))
        return cli_usage_error("eval", eval_usage, "%s needs a second model to compare with",
                               o->per_layer             ? "--per-layer"
                               : r->has_max_drop        ? "--max-drop"
                               : r->has_min_agreement   ? "--min-agreement"
                               : r->has_significance    ? "--significance"
                                                        : "--max-metric-drop");
    return 0;
}

/* ---- running the models ---- */

struct side {
    const char *path;
    struct model model;
    bool opened;
    struct runner *runner;
    struct data_feed feed;       /* own feed (model 2 borrows model 1's when it can) */
    struct data_feed *input;     /* the feed this model reads */
    int64_t per_sample;         /* output 0 elements per sample */
};

struct eval {
    struct eval_options opt;
    struct side side[2];
    int n;
    struct labels labels;
    int64_t samples;
    struct report_eval report;
    struct report_layers layers;
    bool usage_error;           /* err holds a usage error of ours */
};

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
static enum quanta_status open_side(struct eval *e, int i, struct quanta_error *err)
{
    struct side *s = &e->side[i];
    enum quanta_status st = cli_model_open_graph(&s->model, s->path, ", so it cannot run", err);
    if (st != QUANTA_OK)
        return st;
    s->opened = true;
    const struct graph *g = &s->model.graph;
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
    struct runner_options ro = {.max_batch = s->input->batch, .threads = (int)e->opt.threads,
                               .optimize = true};
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
        st = labels_load_any(&e->labels, e->opt.labels, err);
    else
        st = labels_load_for_data_any(&e->labels, e->opt.data, err);
    if (st != QUANTA_OK)
        return st;
    int64_t in_file = e->side[0].input->datasets[0]->n_samples;
    if (e->labels.n > 0 && e->labels.n != in_file)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: holds %lld labels but %s has %lld samples",
                           e->labels.path, (long long)e->labels.n, e->opt.data,
                           (long long)in_file);
    return QUANTA_OK;
}

static enum quanta_status run_batches(struct eval *e, struct quanta_error *err)
{
    enum quanta_status st;
    int64_t batch = e->side[0].input->batch;
    for (int64_t start = 0; start < e->samples; start += batch) {
        int64_t count = e->samples - start < batch ? e->samples - start : batch;
        const float *out[2] = {NULL, NULL};
        for (int i = 0; i < e->n; i++) {
            struct side *s = &e->side[i];
            if (s->input == &s->feed && (st = data_feed_read(&s->feed, start, count, err)))
                return st;
            double t0 = now_seconds();
            st = runner_run(s->runner, count, data_feed_inputs(s->input), err);
            e->report.model[i].seconds += now_seconds() - t0;
            if (st != QUANTA_OK) {
                if (strncmp(err->message, s->path, strlen(s->path)) != 0)
                    quanta_error_prefix(err, "%s", s->path);
                return st;
            }
            struct quanta_shape shape;
            out[i] = runner_output(s->runner, 0, &shape);
        }
        if ((st = report_eval_add(&e->report, start, count, out, err)) != QUANTA_OK)
            return st;
    }
    return QUANTA_OK;
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
    const struct graph *g1 = &e->side[0].model.graph;
    struct quanta_shape out = graph_value_shape(g1, g1->outputs[0], 1);
    if (out.rank > 0)
        out.rank--; /* per sample: without the batch axis */
    memmove(out.dims, out.dims + 1, (size_t)out.rank * sizeof out.dims[0]);
    st = report_eval_init(&e->report, &e->opt.report, e->n, &out, &e->labels, e->samples,
                          e->opt.data, err);
    if (st != QUANTA_OK) {
        e->usage_error = st == QUANTA_ERR_USAGE;
        return st;
    }
    for (int i = 0; i < e->n; i++) {
        e->report.model[i].path = e->side[i].path;
        e->report.model[i].bytes = cli_file_size(e->side[i].path);
    }
    if (e->n == 2 && e->opt.per_layer) {
        st = report_layers_init(&e->layers, g1, &e->side[1].model.graph,
                                e->side[0].input->batch, err);
        if (st != QUANTA_OK)
            return st;
        report_layers_attach(&e->layers, e->side[0].runner, e->side[1].runner);
    }
    struct progress progress;
    progress_init(&progress, progress_wanted(stderr, e->opt.quiet) ? stderr : NULL);
    const char *slash = strrchr(e->opt.data, '/');
    progress_label(&progress, "evaluating on %s", slash ? slash + 1 : e->opt.data);
    e->side[0].input->progress = &progress; /* model 1 reads every batch */
    st = run_batches(e, err);
    e->side[0].input->progress = NULL;
    progress_clear(&progress);
    if (st != QUANTA_OK)
        return st;
    return report_eval_finish(&e->report, err);
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
    report_eval_free(&e->report);
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
        const struct report_layers *layers = e.opt.per_layer ? &e.layers : NULL;
        const struct graph *g1 = &e.side[0].model.graph;
        if (e.opt.json)
            st = cli_json_print(report_eval_json(&e.report, e.opt.data, layers, g1), &err);
        else
            st = report_eval_print(&e.report, layers, g1, stdout);
        if (st == QUANTA_ERR_NOMEM && !err.message[0])
            quanta_fail(&err, st, "out of memory printing the report");
    }
    bool pass = e.report.pass, usage_error = e.usage_error;
    char reason[sizeof e.report.reason];
    memcpy(reason, e.report.reason, sizeof reason);
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

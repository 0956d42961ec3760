/* quanta eval: the figures and latency of one model, or of two models side
 * by side on the same batches, with optional pass/fail gates for scripts
 * and CI. The figures, the task they fit and the gates are src/report/
 * (eval.c), and so is the run (eval_run.c); this file reads options and
 * prints. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/progress.h"
#include "cli/cli.h"
#include "cli/cli_data.h"
#include "report/eval_run.h"

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

int cmd_eval(int argc, char **argv)
{
    struct eval_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    struct report_run_options ro = {
        .model = {o.model[0], o.model[1]}, .n_models = o.n_models, .data = o.data,
        .labels = o.labels, .samples = o.samples, .batch = o.batch, .threads = o.threads,
        .layout = o.layout, .per_layer = o.per_layer, .eval = o.report};
    struct progress progress;
    progress_init(&progress, progress_wanted(stderr, o.quiet) ? stderr : NULL);
    ro.progress = &progress;
    struct report_run r;
    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = report_run(&r, &ro, &err);
    progress_clear(&progress);
    if (st == QUANTA_OK) {
        cli_warn_skipped("eval", r.side[0].input);
        const struct report_layers *layers = o.per_layer ? &r.layers : NULL;
        if (o.json)
            st = cli_json_print(report_eval_json(&r.eval, o.data, layers), &err);
        else
            st = report_eval_print(&r.eval, layers, stdout);
        if (st == QUANTA_ERR_NOMEM && !err.message[0])
            quanta_fail(&err, st, "out of memory printing the report");
    }
    bool pass = r.eval.pass, usage_error = r.usage_error;
    char reason[sizeof r.eval.reason];
    memcpy(reason, r.eval.reason, sizeof reason);
    report_run_free(&r);
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

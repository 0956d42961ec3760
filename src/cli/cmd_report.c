/* quanta report: a float model against its int8 copy as one self-contained
 * HTML page. The run is eval's (src/report/eval_run.c), the page
 * src/report/report_html.c; this file reads options. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "report/report_html.h"

static const char report_usage[] =
    "usage: quanta report FLOAT QUANT --data FILE -o FILE.html [--labels FILE]\n"
    "                     [--samples N] [--batch N] [--threads N]\n"
    "                     [--layout nchw|nhwc] [--no-latency] [--quiet]\n";

static const char report_help[] =
    "usage: quanta report FLOAT QUANT --data FILE -o FILE.html [--labels FILE]\n"
    "                     [--samples N] [--batch N] [--threads N]\n"
    "                     [--layout nchw|nhwc] [--no-latency] [--quiet]\n"
    "\n"
    "Runs the float model FLOAT and its quantized copy QUANT on the same\n"
    "batches of FILE (as quanta eval FLOAT QUANT --per-layer) and writes one\n"
    "self-contained HTML page: the summary (accuracy or the task metric,\n"
    "agreement, KL divergence, SQNR, file size, latency; the numbers of\n"
    "quanta eval --json), every layer's SQNR as a bar chart in graph order,\n"
    "each layer's activation and weight histograms with the range the int8\n"
    "model can represent marked, and, for class scores with labels, the\n"
    "samples the int8 model gets wrong that the float model got right, class\n"
    "by class. Nothing is fetched from the network; the tables read without\n"
    "JavaScript (the inline script only sorts them).\n"
    "\n"
    "options:\n"
    "  --data FILE          samples (IDX, NPY or safetensors; required)\n"
    "  -o, --output FILE    the HTML file to write (required)\n"
    "  --labels FILE        labels (default: the data file's own, or the IDX\n"
    "                       labels file next to it)\n"
    "  --samples N          use only the first N samples (default all)\n"
    "  --batch N            samples per batch (default 64)\n"
    "  --threads N          worker threads (default 0: all cores)\n"
    "  --layout L           layout of 4-D data: nhwc or nchw (as quanta eval)\n"
    "  --no-latency         leave the latency out, so the same inputs give the\n"
    "                       same bytes (latency is the one figure that varies)\n"
    "  --quiet              no progress line (one is shown on stderr when it is\n"
    "                       a terminal)\n"
    "  -h, --help           show this help\n"
    "\n"
    "exit status: 0 ok, 2 usage error, 3 invalid model, data or labels file,\n"
    "4 cannot write the output, 5 out of memory. See man quanta-report(1).\n";

struct report_cli {
    struct report_run_options run;
    const char *output;
    bool no_latency, quiet;
};

static int parse_options(int argc, char **argv, struct report_cli *o)
{
    enum {
        OPT_DATA = 256, OPT_LABELS, OPT_SAMPLES, OPT_BATCH, OPT_THREADS, OPT_LAYOUT,
        OPT_NO_LATENCY, OPT_QUIET
    };
    static const struct option options[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"labels", required_argument, NULL, OPT_LABELS},
        {"output", required_argument, NULL, 'o'},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"layout", required_argument, NULL, OPT_LAYOUT},
        {"no-latency", no_argument, NULL, OPT_NO_LATENCY},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct report_run_options *r = &o->run;
    *o = (struct report_cli){0};
    *r = (struct report_run_options){.n_models = 2, .batch = 64, .layout = -1,
                                     .per_layer = true, .histograms = true, .changes = true};
    r->eval.metric = REPORT_METRIC_DEFAULT;
    int c, rc = 0;
    optind = 0;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":ho:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(report_help) - 1; /* -1: stop, exit 0 */
        case 'o':
            o->output = optarg;
            break;
        case OPT_DATA:
            r->data = optarg;
            break;
        case OPT_LABELS:
            r->labels = optarg;
            break;
        case OPT_SAMPLES:
            rc = cli_opt_samples("report", report_usage, optarg, &r->samples);
            break;
        case OPT_BATCH:
            rc = cli_opt_batch("report", report_usage, optarg, &r->batch);
            break;
        case OPT_THREADS:
            rc = cli_opt_threads("report", report_usage, optarg, &r->threads);
            break;
        case OPT_LAYOUT:
            rc = cli_opt_layout("report", report_usage, optarg, &r->layout);
            break;
        case OPT_NO_LATENCY:
            o->no_latency = true;
            break;
        case OPT_QUIET:
            o->quiet = true;
            break;
        default:
            return cli_option_error("report", report_usage, c, argv);
        }
    }
    if (rc != 0)
        return rc;
    if (argc - optind != 2)
        return cli_usage_error("report", report_usage, "%s",
                               argc - optind < 2 ? "a float and a quantized model are needed"
                                                 : "only two model files are compared");
    r->model[0] = argv[optind];
    r->model[1] = argv[optind + 1];
    if (!r->data)
        return cli_usage_error("report", report_usage, "--data FILE is needed");
    if (!o->output)
        return cli_usage_error("report", report_usage, "-o FILE is needed");
    rc = cli_output_not_input("report", report_usage, o->output, r->model[0], r->model[1]);
    if (rc == 0)
        rc = cli_output_not_input("report", report_usage, o->output, r->data, r->labels);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    struct report_cli o;
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    struct progress progress;
    progress_init(&progress, progress_wanted(stderr, o.quiet) ? stderr : NULL);
    o.run.progress = &progress;
    struct report_run r;
    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = report_run(&r, &o.run, &err);
    progress_clear(&progress);
    if (st == QUANTA_OK) {
        cli_warn_skipped("report", r.side[0].input);
        struct report_html_options ho = {.latency = !o.no_latency};
        st = report_html_write(&r, o.output, &ho, &err);
    }
    bool usage_error = r.usage_error;
    report_run_free(&r);
    if (usage_error) {
        fprintf(stderr, "quanta report: %s\n%s", err.message, report_usage);
        return st;
    }
    if (st != QUANTA_OK)
        return cli_report(&err);
    printf("wrote %s\n", o.output);
    return 0;
}

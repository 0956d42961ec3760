/* quanta calibrate: runs a float model over a data file and writes the
 * calibration table (activation ranges) that quantize reuses. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "base/progress.h"
#include "quanta/calib.h"
#include "report/report.h"

static const char calibrate_usage[] =
    "usage: quanta calibrate MODEL --data FILE -o CALIB.json [--samples N] [--batch N]\n"
    "                        [--method minmax|meanstd|percentile|entropy|mse|auto]\n"
    "                        [--percentile P] [--k K] [--bins N] [--entropy-bins N]\n"
    "                        [--mse-bits N] [--threads N] [--layout nchw|nhwc] [--json]\n"
    "                        [--quiet]\n";

static const char calibrate_help[] =
    "usage: quanta calibrate MODEL --data FILE -o CALIB.json [--samples N] [--batch N]\n"
    "                        [--method minmax|meanstd|percentile|entropy|mse|auto]\n"
    "                        [--percentile P] [--k K] [--bins N] [--entropy-bins N]\n"
    "                        [--mse-bits N] [--threads N] [--layout nchw|nhwc] [--json]\n"
    "                        [--quiet]\n"
    "\n"
    "Runs the float MODEL over the samples of FILE (IDX, NPY or safetensors,\n"
    "normalized as the graph input says), batch by batch in constant memory,\n"
    "and records for every activation (graph input and node output) its\n"
    "count, min, max, mean, variance and a histogram; METHOD then picks the\n"
    "range [lo, hi] each activation is quantized over. The table written to\n"
    "CALIB.json (with the method, its parameters, the sample count and the\n"
    "SHA-256 of the data and model files) is what 'quanta quantize --calib'\n"
    "reads.\n"
    "\n"
    "methods:\n"
    "  minmax       the observed [min, max] (default)\n"
    "  meanstd      mean -+ K standard deviations, clipped to [min, max]\n"
    "  percentile   the (100-P)th and Pth percentiles, from the histogram\n"
    "  entropy      TensorRT's KL-divergence threshold search, each side of 0 apart\n"
    "  mse          the range of least expected squared quantization error\n"
    "  auto         per value, the one of the five above whose range gives the least\n"
    "               squared error at the outputs of the value's readers (a second\n"
    "               pass over the data); the table names each value's choice\n"
    "\n"
    "options:\n"
    "  --data FILE         calibration samples (required)\n"
    "  -o, --output FILE   where to write the calibration table (required)\n"
    "  --samples N         use the first N samples (default all)\n"
    "  --batch N           samples per run (default 32)\n"
    "  --method M          range method (default minmax)\n"
    "  --percentile P      percentile: P in [50, 100] (default 99.99)\n"
    "  --k K               meanstd: K > 0 (default 6)\n"
    "  --bins N            histogram bins, even, in [16, 65536] (default 2048)\n"
    "  --entropy-bins N    entropy: levels per side of 0, 2N for one-signed values\n"
    "                      (default 128)\n"
    "  --mse-bits N        mse: bits of the quantizer, [2, 16] (default 8)\n"
    "  --threads N         worker threads (default 0: all cores)\n"
    "  --layout L          layout of 4-D data: nhwc or nchw (samples [C, H, W]\n"
    "                      transposed for an input [N, H, W, C]); default: the\n"
    "                      model's, nchw for models made by quanta import\n"
    "  --json              print the table as JSON on stdout instead of a text table\n"
    "  --quiet             no progress line (one is shown on stderr when it is a\n"
    "                      terminal)\n"
    "  -h, --help          show this help\n"
    "\n"
    "exit status: 0 ok, 2 usage error, 3 invalid model or data file,\n"
    "4 cannot write the output, 5 out of memory. See man quanta-calibrate(1).\n";

struct calibrate_args {
    const char *model;
    const char *data;
    const char *output;
    bool json, quiet;
    int layout;                 /* --layout, -1: the model's */
    struct calib_options opt;
};

static int parse_options(int argc, char **argv, struct calibrate_args *a)
{
    enum {
        OPT_DATA = 256, OPT_SAMPLES, OPT_BATCH, OPT_METHOD, OPT_PERCENTILE, OPT_K, OPT_BINS,
        OPT_ENTROPY_BINS, OPT_MSE_BITS, OPT_THREADS, OPT_JSON, OPT_LAYOUT, OPT_QUIET
    };
    static const struct option options[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"output", required_argument, NULL, 'o'},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"method", required_argument, NULL, OPT_METHOD},
        {"percentile", required_argument, NULL, OPT_PERCENTILE},
        {"k", required_argument, NULL, OPT_K},
        {"bins", required_argument, NULL, OPT_BINS},
        {"entropy-bins", required_argument, NULL, OPT_ENTROPY_BINS},
        {"mse-bits", required_argument, NULL, OPT_MSE_BITS},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"json", no_argument, NULL, OPT_JSON},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"layout", required_argument, NULL, OPT_LAYOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(a, 0, sizeof *a);
    calib_options_default(&a->opt);
    a->layout = -1;
    int c, rc = 0;
    int64_t v;
    optind = 0;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":ho:", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(calibrate_help) - 1; /* -1: stop, exit 0 */
        case OPT_DATA:
            a->data = optarg;
            break;
        case 'o':
            a->output = optarg;
            break;
        case OPT_JSON:
            a->json = true;
            break;
        case OPT_QUIET:
            a->quiet = true;
            break;
        case OPT_LAYOUT:
            rc = cli_opt_layout("calibrate", calibrate_usage, optarg, &a->layout);
            break;
        case OPT_SAMPLES:
            rc = cli_opt_samples("calibrate", calibrate_usage, optarg, &a->opt.samples);
            break;
        case OPT_BATCH:
            rc = cli_opt_batch("calibrate", calibrate_usage, optarg, &a->opt.batch);
            break;
        case OPT_METHOD:
            a->opt.method = calib_method_parse(optarg);
            if (a->opt.method == CALIB_METHOD_COUNT)
                return cli_usage_error("calibrate", calibrate_usage,
                                       "--method '%s' is not one of minmax, meanstd, percentile, "
                                       "entropy, mse, auto",
                                       optarg);
            break;
        case OPT_PERCENTILE:
            if (!cli_parse_double(optarg, &a->opt.percentile) || a->opt.percentile < 50 ||
                a->opt.percentile > 100)
                return cli_usage_error("calibrate", calibrate_usage,
                                       "--percentile '%s' is not a number in [50, 100]", optarg);
            break;
        case OPT_K:
            if (!cli_parse_double(optarg, &a->opt.k) || !(a->opt.k > 0))
                return cli_usage_error("calibrate", calibrate_usage,
                                       "--k '%s' is not a positive number", optarg);
            break;
        case OPT_BINS:
            if (!cli_parse_i64(optarg, CALIB_MIN_BINS, CALIB_MAX_BINS, &v) || v % 2 != 0)
                return cli_usage_error("calibrate", calibrate_usage,
                                       "--bins '%s' is not an even number in [%d, %d]", optarg,
                                       CALIB_MIN_BINS, CALIB_MAX_BINS);
            a->opt.bins = (int)v;
            break;
        case OPT_ENTROPY_BINS:
            if (!cli_parse_i64(optarg, 2, CALIB_MAX_BINS, &v))
                return cli_usage_error("calibrate", calibrate_usage,
                                       "--entropy-bins '%s' is not a number in [2, %d]", optarg,
                                       CALIB_MAX_BINS);
            a->opt.entropy_bins = (int)v;
            break;
        case OPT_MSE_BITS:
            if (!cli_parse_i64(optarg, 2, 16, &v))
                return cli_usage_error("calibrate", calibrate_usage,
                                       "--mse-bits '%s' is not a number in [2, 16]", optarg);
            a->opt.mse_bits = (int)v;
            break;
        case OPT_THREADS:
            if ((rc = cli_opt_threads("calibrate", calibrate_usage, optarg, &v)) == 0)
                a->opt.threads = (int)v;
            break;
        default:
            return cli_option_error("calibrate", calibrate_usage, c, argv);
        }
    }
    if (rc != 0 || (rc = cli_one_model("calibrate", calibrate_usage, argc, argv, &a->model)) != 0)
        return rc;
    if (!a->data)
        return cli_usage_error("calibrate", calibrate_usage, "--data FILE is needed");
    if (!a->output)
        return cli_usage_error("calibrate", calibrate_usage, "-o CALIB.json is needed");
    if (a->opt.entropy_bins > a->opt.bins)
        return cli_usage_error("calibrate", calibrate_usage,
                               "--entropy-bins %d exceeds --bins %d", a->opt.entropy_bins,
                               a->opt.bins);
    return 0;
}

/* The data set for the graph's input: a tensor named after the input
 * first, else the file's only samples tensor. */
static void print_table(const struct calib_table *t, const char *output)
{
    /* an auto table also names each value's method */
    static const char *const head[] = {"value", "count", "min", "max", "lo", "hi", "method"};
    static const enum report_align align[] = {REPORT_ALIGN_LEFT,  REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT,
                                              REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT,
                                              REPORT_ALIGN_LEFT};
    const bool is_auto = t->method == CALIB_AUTO;
    struct report_table *rt = report_table_create(is_auto ? 7 : 6, head, align);
    for (int i = 0; rt && i < t->n_values; i++) {
        const struct calib_value *v = &t->values[i];
        report_table_add(rt, "%s", v->name);
        report_table_add(rt, "%lld", (long long)v->count);
        report_table_add(rt, "%.6g", v->min);
        report_table_add(rt, "%.6g", v->max);
        report_table_add(rt, "%.6g", v->lo);
        report_table_add(rt, "%.6g", v->hi);
        if (is_auto)
            report_table_add(rt, "%s", calib_method_name(v->method));
    }
    printf("method %s, %lld samples\n", calib_method_name(t->method), (long long)t->samples);
    if (!rt || report_table_print(rt, stdout) != QUANTA_OK)
        fprintf(stderr, "quanta: out of memory printing the ranges\n");
    report_table_free(rt);
    printf("\nwrote %s\n", output);
}

int cmd_calibrate(int argc, char **argv)
{
    struct calibrate_args a;
    int rc = parse_options(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    if ((rc = cli_output_not_input("calibrate", calibrate_usage, a.output, a.model, a.data)) != 0)
        return rc;

    struct quanta_error err;
    quanta_error_clear(&err);
    struct model m;
    struct data_feed feed = {0};
    struct calib_table table = {0};
    enum quanta_status st =
        cli_model_open_graph(&m, a.model, ", so it cannot be calibrated", &err);
    if (st != QUANTA_OK)
        return cli_report(&err);
    if ((st = data_feed_open(&feed, &m.graph, a.data, a.opt.samples, a.opt.batch,
                             cli_layout(a.layout, &m), &err)) != QUANTA_OK)
        goto done;
    cli_warn_skipped("calibrate", &feed);
    struct progress progress;
    progress_init(&progress, progress_wanted(stderr, a.quiet) ? stderr : NULL);
    const char *slash = strrchr(a.data, '/');
    progress_label(&progress, "calibrating on %s", slash ? slash + 1 : a.data);
    feed.progress = &progress;
    st = calib_run(&m.graph, &feed, &a.opt, &table, &err);
    progress_clear(&progress);
    if (st != QUANTA_OK)
        goto done;
    if ((st = quanta_sha256_file(a.model, table.model_sha256, &err)) != QUANTA_OK)
        goto done;
    if ((st = calib_table_save(&table, a.output, &err)) != QUANTA_OK)
        goto done;
    cli_warn_nonfinite("calibrate", a.data, &table);
    if (a.json) {
        char *json = calib_table_to_json(&table);
        if (!json) {
            st = quanta_fail(&err, QUANTA_ERR_NOMEM, "out of memory printing the table");
            goto done;
        }
        fputs(json, stdout);
        free(json);
    } else {
        print_table(&table, a.output);
    }
done:
    calib_table_free(&table);
    data_feed_close(&feed);
    model_close(&m);
    if (st != QUANTA_OK)
        return cli_report(&err);
    return fflush(stdout) == 0 ? 0 : QUANTA_ERR_OUTPUT;
}

/* quanta run: runs a model on a data file and prints the top-K classes of
 * every sample; optionally writes the raw outputs as NPY. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "report/report.h"

static const char run_usage[] =
    "usage: quanta run MODEL --data FILE [--batch N] [--top K] [--samples N]\n"
    "                  [--output OUT.npy] [--json] [--threads N]\n"
    "                  [--layout nchw|nhwc]\n";

static const char run_help[] =
    "usage: quanta run MODEL --data FILE [--batch N] [--top K] [--samples N]\n"
    "                  [--output OUT.npy] [--json] [--threads N]\n"
    "                  [--layout nchw|nhwc]\n"
    "\n"
    "Runs MODEL on the samples of FILE (IDX, NPY or safetensors; integer data\n"
    "is normalized as the graph input says) and prints, for every sample, the\n"
    "K most likely classes of the first graph output with their probabilities\n"
    "(the softmax of the outputs, or the outputs themselves when they already\n"
    "sum to 1).\n"
    "\n"
    "options:\n"
    "  --data FILE       samples to run (required)\n"
    "  --batch N         samples per batch (default 64)\n"
    "  --top K           classes shown per sample (default 1)\n"
    "  --samples N       run only the first N samples (default all)\n"
    "  --output OUT.npy  write the first output of every sample run as an F32\n"
    "                    NPY array [samples, ...]; held in memory until the\n"
    "                    end, so bound it with --samples on large data sets\n"
    "  --json            print one JSON object on stdout instead of a table\n"
    "  --threads N       worker threads (default 0: all cores)\n"
    "  --layout L        layout of 4-D data: nhwc or nchw (samples [C, H, W]\n"
    "                    transposed for an input [N, H, W, C]); default: the\n"
    "                    model's, nchw for models made by quanta import\n"
    "  -h, --help        show this help\n"
    "\n"
    "exit status: 0 ok, 2 usage error, 3 invalid model or data file,\n"
    "4 cannot write the output, 5 out of memory. See man quanta-run(1).\n";

struct run_options {
    const char *model;
    const char *data;
    const char *output;
    int64_t batch, top, samples, threads;
    bool json;
    int layout;                 /* --layout, -1: the model's */
};

static int parse_options(int argc, char **argv, struct run_options *o)
{
    enum { OPT_DATA = 256, OPT_BATCH, OPT_TOP, OPT_SAMPLES, OPT_OUTPUT, OPT_JSON, OPT_THREADS, OPT_LAYOUT };
    static const struct option options[] = {
        {"data", required_argument, NULL, OPT_DATA},
        {"batch", required_argument, NULL, OPT_BATCH},
        {"top", required_argument, NULL, OPT_TOP},
        {"samples", required_argument, NULL, OPT_SAMPLES},
        {"output", required_argument, NULL, OPT_OUTPUT},
        {"json", no_argument, NULL, OPT_JSON},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"layout", required_argument, NULL, OPT_LAYOUT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct run_options){.batch = 64, .top = 1, .samples = 0, .threads = 0};
    int c, rc = 0;
    o->layout = -1;
    optind = 0;
    opterr = 0;
    while (rc == 0 && (c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(run_help) - 1; /* -1: stop, exit 0 */
        case OPT_DATA:
            o->data = optarg;
            break;
        case OPT_OUTPUT:
            o->output = optarg;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case OPT_BATCH:
            rc = cli_opt_batch("run", run_usage, optarg, &o->batch);
            break;
        case OPT_TOP:
            if (!cli_parse_i64(optarg, 1, 1 << 20, &o->top))
                return cli_usage_error("run", run_usage,
                                       "--top '%s' is not a number in [1, 1048576]", optarg);
            break;
        case OPT_SAMPLES:
            rc = cli_opt_samples("run", run_usage, optarg, &o->samples);
            break;
        case OPT_THREADS:
            rc = cli_opt_threads("run", run_usage, optarg, &o->threads);
            break;
        case OPT_LAYOUT:
            rc = cli_opt_layout("run", run_usage, optarg, &o->layout);
            break;
        default:
            return cli_option_error("run", run_usage, c, argv);
        }
    }
    if (rc != 0 || (rc = cli_one_model("run", run_usage, argc, argv, &o->model)) != 0)
        return rc;
    if (!o->data)
        return cli_usage_error("run", run_usage, "--data FILE is needed");
    return 0;
}

/* Predictions kept until the end so that a failure half-way prints nothing. */
struct run_result {
    int64_t samples;        /* run so far */
    int k;                  /* classes kept per sample */
    int *classes;           /* samples * k */
    float *probs;           /* samples * k */
    float *outputs;         /* --output: samples * per_sample */
    int64_t per_sample;     /* elements of output 0 per sample */
    struct quanta_shape out_shape; /* output 0 for one sample, batch axis = samples */
};

static enum quanta_status run_model(const struct run_options *o, struct model *m,
                                    struct run_result *res, struct quanta_error *err)
{
    struct data_feed feed;
    struct runner *r = NULL;
    double *p = NULL;
    int *top = NULL;
    enum quanta_status st;
    const struct graph *g = &m->graph;

    if ((st = data_feed_open(&feed, g, o->data, o->samples, o->batch, cli_layout(o->layout, m),
                             err)) != QUANTA_OK)
        return st;
    cli_warn_skipped("run", &feed);
    struct runner_options ro = {.max_batch = feed.batch, .threads = (int)o->threads,
                               .optimize = true};
    if ((st = runner_create(&r, g, &ro, err)) != QUANTA_OK) {
        if (st != QUANTA_ERR_USAGE && strncmp(err->message, o->model, strlen(o->model)) != 0)
            quanta_error_prefix(err, "%s", o->model);
        goto done;
    }

    struct quanta_shape sample;
    if (!graph_value_sample_shape(g, g->outputs[0], feed.batch, &sample)) {
        char buf[128];
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: output '%s' %s has no sample axis: its first "
                         "axis is not the batch of %lld samples the model runs",
                         o->model, g->values[g->outputs[0]].name,
                         quanta_shape_format(&g->values[g->outputs[0]].shape, buf, sizeof buf),
                         (long long)feed.batch);
        goto done;
    }
    res->out_shape.rank = sample.rank + 1; /* dims[0]: the samples, at the end */
    memcpy(res->out_shape.dims + 1, sample.dims, (size_t)sample.rank * sizeof sample.dims[0]);
    res->per_sample = quanta_shape_numel(&sample);
    if (res->per_sample < 1 || res->per_sample > INT32_MAX) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: output '%s' has %lld values per sample",
                         o->model, g->values[g->outputs[0]].name, (long long)res->per_sample);
        goto done;
    }
    int n = (int)res->per_sample;
    res->k = o->top < n ? (int)o->top : n;
    size_t total = (size_t)feed.samples;
    res->classes = malloc(total * (size_t)res->k * sizeof *res->classes);
    res->probs = malloc(total * (size_t)res->k * sizeof *res->probs);
    p = malloc((size_t)n * sizeof *p);
    top = malloc((size_t)res->k * sizeof *top);
    if (o->output && (uint64_t)res->per_sample <= SIZE_MAX / sizeof(float) / total)
        res->outputs = malloc(total * (size_t)res->per_sample * sizeof *res->outputs);
    if (!res->classes || !res->probs || !p || !top || (o->output && !res->outputs)) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the outputs of %lld samples",
                         (long long)feed.samples);
        goto done;
    }

    for (int64_t start = 0; start < feed.samples; start += feed.batch) {
        int64_t count = feed.samples - start < feed.batch ? feed.samples - start : feed.batch;
        if ((st = data_feed_read(&feed, start, count, err)) != QUANTA_OK)
            goto done;
        if ((st = runner_run(r, count, data_feed_inputs(&feed), err)) != QUANTA_OK) {
            if (strncmp(err->message, o->model, strlen(o->model)) != 0)
                quanta_error_prefix(err, "%s", o->model);
            goto done;
        }
        struct quanta_shape shape;
        const float *out = runner_output(r, 0, &shape);
        for (int64_t s = 0; s < count; s++) {
            const float *x = out + s * res->per_sample;
            int64_t at = start + s;
            report_probabilities(x, n, p);
            report_top_k(x, n, res->k, top);
            for (int j = 0; j < res->k; j++) {
                res->classes[at * res->k + j] = top[j];
                res->probs[at * res->k + j] = (float)p[top[j]];
            }
            if (res->outputs)
                memcpy(res->outputs + at * res->per_sample, x,
                       (size_t)res->per_sample * sizeof *x);
        }
        res->samples = start + count;
    }
    res->out_shape.dims[0] = res->samples;
    if (o->output && (st = npy_write(o->output, QUANTA_F32, &res->out_shape, res->outputs,
                                     err)) != QUANTA_OK)
        goto done;
    st = QUANTA_OK;
done:
    free(p);
    free(top);
    runner_free(r);
    data_feed_close(&feed);
    return st;
}

static void print_table(const struct run_options *o, const struct run_result *res)
{
    int cols = 1 + 2 * res->k;
    const char **head = calloc((size_t)cols, sizeof *head);
    enum report_align *align = calloc((size_t)cols, sizeof *align);
    char(*names)[16] = calloc((size_t)cols, sizeof *names);
    struct report_table *t = NULL;
    if (head && align && names) {
        head[0] = "sample";
        align[0] = REPORT_ALIGN_RIGHT;
        for (int j = 0; j < res->k; j++) {
            if (res->k == 1) {
                snprintf(names[1], sizeof names[1], "class");
                snprintf(names[2], sizeof names[2], "prob");
            } else {
                snprintf(names[1 + 2 * j], sizeof names[0], "top%d", j + 1);
                snprintf(names[2 + 2 * j], sizeof names[0], "prob%d", j + 1);
            }
            head[1 + 2 * j] = names[1 + 2 * j];
            head[2 + 2 * j] = names[2 + 2 * j];
            align[1 + 2 * j] = align[2 + 2 * j] = REPORT_ALIGN_RIGHT;
        }
        t = report_table_create(cols, head, align);
    }
    for (int64_t s = 0; t && s < res->samples; s++) {
        report_table_add(t, "%lld", (long long)s);
        for (int j = 0; j < res->k; j++) {
            report_table_add(t, "%d", res->classes[s * res->k + j]);
            report_table_add(t, "%.4f", res->probs[s * res->k + j]);
        }
    }
    if (!t || report_table_print(t, stdout) != QUANTA_OK)
        fprintf(stderr, "quanta: out of memory printing the predictions\n");
    report_table_free(t);
    free(head);
    free(align);
    free(names);
    if (o->output) {
        char buf[128];
        printf("\nwrote %s: F32 %s\n", o->output,
               quanta_shape_format(&res->out_shape, buf, sizeof buf));
    }
}

static cJSON *run_json(const struct run_options *o, const struct run_result *res)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "model", o->model);
    cJSON_AddStringToObject(root, "data", o->data);
    cJSON_AddNumberToObject(root, "samples", (double)res->samples);
    cJSON_AddNumberToObject(root, "top", res->k);
    if (o->output) {
        cJSON_AddStringToObject(root, "output", o->output);
        cJSON_AddItemToObject(root, "output_shape", report_json_shape(&res->out_shape));
    } else {
        cJSON_AddNullToObject(root, "output");
        cJSON_AddNullToObject(root, "output_shape");
    }
    cJSON *preds = cJSON_AddArrayToObject(root, "predictions");
    for (int64_t s = 0; preds && s < res->samples; s++) {
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(preds, e)) {
            cJSON_Delete(e);
            cJSON_Delete(root);
            return NULL;
        }
        cJSON_AddNumberToObject(e, "sample", (double)s);
        cJSON *cls = cJSON_AddArrayToObject(e, "classes");
        cJSON *prob = cJSON_AddArrayToObject(e, "probabilities");
        for (int j = 0; cls && prob && j < res->k; j++) {
            cJSON_AddItemToArray(cls, cJSON_CreateNumber(res->classes[s * res->k + j]));
            /* six decimals are plenty and keep the JSON short */
            double pr = round(1e6 * (double)res->probs[s * res->k + j]) / 1e6;
            cJSON_AddItemToArray(prob, cJSON_CreateNumber(pr));
        }
    }
    return root;
}

int cmd_run(int argc, char **argv)
{
    struct run_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    if (o.output && (rc = cli_output_not_input("run", run_usage, o.output, o.model, o.data)) != 0)
        return rc;

    struct quanta_error err;
    quanta_error_clear(&err);
    struct model m;
    enum quanta_status st = cli_model_open_graph(&m, o.model, ", so it cannot run", &err);
    if (st != QUANTA_OK)
        return cli_report(&err);
    struct run_result res = {0};
    st = run_model(&o, &m, &res, &err);
    if (st == QUANTA_OK) {
        if (o.json)
            st = cli_json_print(run_json(&o, &res), &err);
        else
            print_table(&o, &res);
    }
    free(res.classes);
    free(res.probs);
    free(res.outputs);
    model_close(&m);
    if (st != QUANTA_OK)
        return cli_report(&err);
    return fflush(stdout) == 0 ? 0 : QUANTA_ERR_OUTPUT;
}

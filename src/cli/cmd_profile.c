/* quanta profile: where a model's time goes, node by node, slowest first.
 * The measurement is quanta bench --profile's (report/bench.h) for one
 * model at one batch size, on the graph as stored (not optimized: every
 * node of inspect shows); this prints the slowest nodes with their share
 * of the sum, then the same per operator (int8 and float apart). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "report/bench.h"

#define PROFILE_USAGE                                                                  \
    "usage: quanta profile MODEL [--batch N] [--threads N] [--iters N] [--warmup N]\n"   \
    "                      [--top N] [--json]\n"

static const char profile_usage[] = PROFILE_USAGE;

static const char profile_help[] =
    PROFILE_USAGE
    "\n"
    "Shows where MODEL's time goes: runs it on the synthetic input of quanta\n"
    "bench, times every node of every timed run (wall clock around the node,\n"
    "its threads included), and prints the slowest nodes with each one's\n"
    "median over the runs and share of the sum of the medians, then the same\n"
    "summed per operator, int8 and float nodes apart. The graph runs as\n"
    "stored (not optimized). quanta bench --profile shows the nodes in graph\n"
    "order with GOP/s, a float model and its int8 copy side by side.\n"
    "\n"
    "options:\n"
    "  --batch N     samples per run, [1, 1048576] (default 1)\n"
    "  --threads N   worker threads, 0: all cores (default 1)\n"
    "  --iters N     timed runs, [1, 100000] (default 20)\n"
    "  --warmup N    untimed runs before them, [0, 100000] (default 3)\n"
    "  --top N       nodes listed, slowest first, 0: all (default 20)\n"
    "  --json        every node in graph order, and the operators, as JSON\n"
    "  -h, --help    show this help\n"
    "\n"
    "QUANTA_ISA=ref|avx2|avx512|vnni|amx forces a kernel level.\n"
    "exit status: 0 ok, 2 usage error, 3 invalid model, 4 I/O error,\n"
    "5 out of memory. See man quanta-profile(1).\n";

struct profile_options {
    const char *model;
    int64_t batch, threads, iters, warmup, top;
    bool json;
};

static int parse_options(int argc, char **argv, struct profile_options *o)
{
    enum { OPT_BATCH = 256, OPT_THREADS, OPT_ITERS, OPT_WARMUP, OPT_TOP, OPT_JSON };
    static const struct option options[] = {
        {"batch", required_argument, NULL, OPT_BATCH},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"iters", required_argument, NULL, OPT_ITERS},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"top", required_argument, NULL, OPT_TOP},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static const struct { const char *name; int64_t lo, hi; } range[] = {
        {"--batch", 1, 1048576}, {"--threads", 0, 1024}, {"--iters", 1, 100000},
        {"--warmup", 0, 100000}, {"--top", 0, 1000000}};
    *o = (struct profile_options){.batch = 1, .threads = 1, .iters = 20, .warmup = 3, .top = 20};
    int64_t *field[] = {&o->batch, &o->threads, &o->iters, &o->warmup, &o->top};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (c == 'h')
            return cli_help(profile_help) - 1; /* -1: stop, exit 0 */
        if (c == OPT_JSON) {
            o->json = true;
            continue;
        }
        if (c < OPT_BATCH || c > OPT_TOP)
            return cli_option_error("profile", profile_usage, c, argv);
        int k = c - OPT_BATCH;
        if (!cli_parse_i64(optarg, range[k].lo, range[k].hi, field[k]))
            return cli_usage_error("profile", profile_usage, "%s '%s' is not a number in "
                                   "[%lld, %lld]",
                                   range[k].name, optarg, (long long)range[k].lo,
                                   (long long)range[k].hi);
    }
    if (argc - optind != 1)
        return cli_usage_error("profile", profile_usage, "one model file is needed");
    o->model = argv[optind];
    return 0;
}

static void print_text(const struct profile_options *o, const struct bench *b)
{
    const struct bench_batch *bb = &b->models[0].batches[0];
    const struct report_profile *p = &bb->profile;
    printf("model: %s  kernels: %s  batch: %lld  threads: %lld  iters: %lld\n", o->model,
           b->kernels, (long long)o->batch, (long long)o->threads, (long long)o->iters);
    printf("median run: %.3f ms (wall); sum of node medians: %.3f ms over %d nodes\n\n",
           bb->median_ms, p->total_ms, p->n_nodes);
    static const char *const head[] = {"node", "op", "kind", "output shape", "median ms",
                                       "share", "cumulative"};
    static const enum report_align align[] = {REPORT_ALIGN_LEFT,  REPORT_ALIGN_LEFT,
                                              REPORT_ALIGN_LEFT,  REPORT_ALIGN_LEFT,
                                              REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT,
                                              REPORT_ALIGN_RIGHT};
    struct report_profile_row *rows = malloc((size_t)(p->n_nodes + 1) * sizeof *rows);
    struct report_table *t = report_table_create(7, head, align);
    if (rows && t) {
        report_profile_sorted(p, rows);
        int shown = o->top == 0 || o->top > p->n_nodes ? p->n_nodes : (int)o->top;
        double cumulative = 0;
        for (int i = 0; i < shown; i++) {
            const struct bench_node *nd = &bb->nodes[rows[i].first_node];
            char shape[128];
            cumulative += rows[i].share;
            report_table_add(t, "%s", nd->name);
            report_table_add(t, "%s", graph_op_name(nd->op));
            report_table_add(t, "%s", rows[i].int8 ? "int8" : "float");
            report_table_add(t, "%s", quanta_shape_format(&nd->shape, shape, sizeof shape));
            report_table_add(t, "%.4f", rows[i].median_ms);
            report_table_add(t, "%.1f%%", 100 * rows[i].share);
            report_table_add(t, "%.1f%%", 100 * cumulative);
        }
        report_table_print(t, stdout);
        if (shown < p->n_nodes)
            printf("(%d more nodes: --top 0 lists them all)\n", p->n_nodes - shown);
    }
    report_table_free(t);
    free(rows);
    static const char *const op_head[] = {"op", "kind", "nodes", "median ms", "share"};
    static const enum report_align op_align[] = {REPORT_ALIGN_LEFT, REPORT_ALIGN_LEFT,
                                                 REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT,
                                                 REPORT_ALIGN_RIGHT};
    printf("\nper operator:\n");
    t = report_table_create(5, op_head, op_align);
    for (int k = 0; t && k < p->n_ops; k++) {
        report_table_add(t, "%s", graph_op_name(p->ops[k].op));
        report_table_add(t, "%s", p->ops[k].int8 ? "int8" : "float");
        report_table_add(t, "%d", p->ops[k].count);
        report_table_add(t, "%.4f", p->ops[k].median_ms);
        report_table_add(t, "%.1f%%", 100 * p->ops[k].share);
    }
    if (t)
        report_table_print(t, stdout);
    report_table_free(t);
}

static cJSON *row_json(const struct report_profile_row *row, const char *node)
{
    cJSON *j = cJSON_CreateObject();
    if (node)
        cJSON_AddStringToObject(j, "node", node);
    cJSON_AddStringToObject(j, "op", graph_op_name(row->op));
    cJSON_AddBoolToObject(j, "int8", row->int8);
    if (!node)
        cJSON_AddNumberToObject(j, "nodes", row->count);
    cJSON_AddNumberToObject(j, "median_ms", row->median_ms);
    cJSON_AddNumberToObject(j, "share", row->share);
    return j;
}

static enum quanta_status print_json(const struct profile_options *o, const struct bench *b,
                                     struct quanta_error *err)
{
    const struct bench_batch *bb = &b->models[0].batches[0];
    const struct report_profile *p = &bb->profile;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the JSON output");
    cJSON_AddStringToObject(root, "model", o->model);
    cJSON_AddStringToObject(root, "kernels", b->kernels);
    cJSON_AddNumberToObject(root, "batch", (double)o->batch);
    cJSON_AddNumberToObject(root, "threads", (double)o->threads);
    cJSON_AddNumberToObject(root, "iters", (double)o->iters);
    cJSON_AddNumberToObject(root, "median_run_ms", bb->median_ms);
    cJSON_AddNumberToObject(root, "node_sum_ms", p->total_ms);
    cJSON *nodes = cJSON_AddArrayToObject(root, "nodes");
    for (int i = 0; i < p->n_nodes; i++)
        cJSON_AddItemToArray(nodes, row_json(&p->nodes[i], bb->nodes[i].name));
    cJSON *ops = cJSON_AddArrayToObject(root, "ops");
    for (int k = 0; k < p->n_ops; k++)
        cJSON_AddItemToArray(ops, row_json(&p->ops[k], NULL));
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!text)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the JSON output");
    puts(text);
    free(text);
    return QUANTA_OK;
}

int cmd_profile(int argc, char **argv)
{
    struct profile_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    char *models[1] = {(char *)o.model};
    struct bench_config cfg = {
        .models = models, .n_models = 1, .batches = &o.batch, .n_batches = 1,
        .threads = &o.threads, .n_threads = 1, .iters = o.iters, .warmup = o.warmup,
        .optimize = false, .profile = true};
    struct quanta_error err;
    quanta_error_clear(&err);
    struct bench b;
    enum quanta_status st = bench_measure(&b, &cfg, &err);
    if (st == QUANTA_OK && o.json)
        st = print_json(&o, &b, &err);
    else if (st == QUANTA_OK)
        print_text(&o, &b);
    bench_free(&b);
    return st ? cli_report(&err) : 0;
}

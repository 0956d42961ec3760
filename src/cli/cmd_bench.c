/* quanta bench: latency and throughput of one or more models on synthetic
 * input, batch size by batch size, with achieved GOP/s, the share of the
 * machine's theoretical peak for the kernel level in use, the peak RSS and
 * each model's speed-up against the first; with --profile, node by node.
 * The usual call compares a float model with its int8 copy. The options
 * are parsed here; the measurement and the reports are report/bench.h. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "report/bench.h"

static const char bench_usage[] =
    "usage: quanta bench MODEL [MODEL...] [--batch N[,N...]] [--threads N[,N...]]\n"
    "                    [--iters N] [--warmup N] [--profile] [--json]\n";

static const char bench_help[] =
    "usage: quanta bench MODEL [MODEL...] [--batch N[,N...]] [--threads N[,N...]]\n"
    "                    [--iters N] [--warmup N] [--profile] [--json]\n"
    "\n"
    "Runs each MODEL on deterministic synthetic input (pseudo-random\n"
    "normalized floats, or in-range ids for embedding inputs) for every batch\n"
    "size: --warmup untimed runs, then --iters timed runs, made in rounds\n"
    "in which the models take turns (fair speed-ups on a busy machine).\n"
    "Reports per batch\n"
    "the median, p90 and p99 latency, samples per second (batch / median),\n"
    "GOP/s (operations per sample x batch / median; a multiply-add is 2 ops),\n"
    "the share of the theoretical peak of the kernel level in use\n"
    "(threads x GHz x ops per cycle), the peak resident set size, and the\n"
    "speed-up of each model against the first one (ratio of medians), and\n"
    "cpu ms: the median process CPU time of one run (all threads summed, so\n"
    "up to threads x the wall time; not divided by threads; coarse for\n"
    "short runs on several threads, see the man page).\n"
    "\n"
    "options:\n"
    "  --batch N[,N...]  batch sizes, comma-separated, each in [1, 1048576]\n"
    "                    (default 1,64)\n"
    "  --threads N[,N...]\n"
    "                    worker threads passed to the runner, 0: all cores\n"
    "                    (default 1); a list benches every model at each\n"
    "                    count, all in the same rounds\n"
    "  --iters N         timed runs per batch size, [1, 1000000] (default 20)\n"
    "  --warmup N        untimed runs before them, [0, 1000000] (default 3)\n"
    "  --profile         also time every node of every timed run and print, per\n"
    "                    thread count and batch size, each node in graph order:\n"
    "                    op, output shape, median ms, share of the sum of the\n"
    "                    node medians, GOP/s and share of the level's peak; two\n"
    "                    MODELs (float and int8) side by side, nodes paired by\n"
    "                    name (a node of one model only has blanks on the other\n"
    "                    side), the node speed-up and a total line\n"
    "  --json            print one JSON object on stdout instead of a table\n"
    "  -h, --help        show this help\n"
    "\n"
    "QUANTA_ISA=ref|avx2|avx512|vnni|amx forces a kernel level.\n"
    "exit status: 0 ok, 2 usage error, 3 invalid model, 5 out of memory.\n"
    "See man quanta-bench(1) for the formulas and the JSON keys.\n";

#define BENCH_MAX_BATCHES 32
#define BENCH_MAX_THREADS 8
#define BENCH_MAX_BATCH (1 << 20)

struct bench_options {
    char **models;
    int n_models;
    int64_t batches[BENCH_MAX_BATCHES];
    int n_batches;
    int64_t threads[BENCH_MAX_THREADS]; /* as given: 0 is every core */
    int n_threads;
    int64_t iters, warmup;
    bool profile, json;
};

/* Parses "1,64,256" into at most max numbers in [lo, hi]. */
static bool parse_list(const char *text, int64_t lo, int64_t hi, int64_t *out, int max, int *n)
{
    *n = 0;
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char item[32];
        if (len == 0 || len >= sizeof item || *n == max)
            return false;
        memcpy(item, p, len);
        item[len] = '\0';
        if (!cli_parse_i64(item, lo, hi, &out[*n]))
            return false;
        (*n)++;
        if (!comma)
            return true;
        p = comma + 1;
    }
}

static int parse_options(int argc, char **argv, struct bench_options *o)
{
    enum { OPT_BATCH = 256, OPT_THREADS, OPT_ITERS, OPT_WARMUP, OPT_PROFILE, OPT_JSON };
    static const struct option options[] = {
        {"batch", required_argument, NULL, OPT_BATCH},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"iters", required_argument, NULL, OPT_ITERS},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"profile", no_argument, NULL, OPT_PROFILE},
        {"json", no_argument, NULL, OPT_JSON},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *o = (struct bench_options){.threads = {1}, .n_threads = 1, .iters = 20, .warmup = 3,
                                .batches = {1, 64}, .n_batches = 2};
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(bench_help) - 1; /* -1: stop, exit 0 */
        case OPT_BATCH:
            if (!parse_list(optarg, 1, BENCH_MAX_BATCH, o->batches, BENCH_MAX_BATCHES,
                            &o->n_batches))
                return cli_usage_error("bench", bench_usage,
                                       "--batch '%s' is not a comma-separated list of at most "
                                       "%d numbers in [1, %d]",
                                       optarg, BENCH_MAX_BATCHES, BENCH_MAX_BATCH);
            break;
        case OPT_THREADS:
            if (!parse_list(optarg, 0, 1024, o->threads, BENCH_MAX_THREADS, &o->n_threads))
                return cli_usage_error("bench", bench_usage,
                                       "--threads '%s' is not a comma-separated list of at "
                                       "most %d numbers in [0, 1024]",
                                       optarg, BENCH_MAX_THREADS);
            break;
        case OPT_ITERS:
            if (!cli_parse_i64(optarg, 1, 1000000, &o->iters))
                return cli_usage_error("bench", bench_usage,
                                       "--iters '%s' is not a number in [1, 1000000]", optarg);
            break;
        case OPT_WARMUP:
            if (!cli_parse_i64(optarg, 0, 1000000, &o->warmup))
                return cli_usage_error("bench", bench_usage,
                                       "--warmup '%s' is not a number in [0, 1000000]", optarg);
            break;
        case OPT_PROFILE:
            o->profile = true;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        default:
            return cli_option_error("bench", bench_usage, c, argv);
        }
    }
    o->n_models = argc - optind;
    if (o->n_models < 1)
        return cli_usage_error("bench", bench_usage, "a model file is needed");
    if (o->profile && o->n_models > 2)
        return cli_usage_error("bench", bench_usage,
                               "--profile shows one model, or two side by side, not %d",
                               o->n_models);
    o->models = argv + optind;
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    struct bench_options o;
    int rc = parse_options(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    struct bench_config cfg = {
        .models = o.models, .n_models = o.n_models, .batches = o.batches,
        .n_batches = o.n_batches, .threads = o.threads, .n_threads = o.n_threads,
        .iters = o.iters, .warmup = o.warmup, .optimize = true, .profile = o.profile};
    struct quanta_error err;
    quanta_error_clear(&err);
    struct bench b;
    enum quanta_status st = bench_measure(&b, &cfg, &err);
    if (st == QUANTA_OK && o.json) {
        cJSON *root = bench_json(&b);
        if (root && o.profile && !bench_profile_json(&b, root)) {
            cJSON_Delete(root);
            root = NULL;
        }
        st = cli_json_print(root, &err);
    } else if (st == QUANTA_OK) {
        st = bench_print_text(&b, stdout);
        if (st == QUANTA_OK && o.profile)
            st = bench_print_profile(&b, stdout);
    }
    if (st == QUANTA_ERR_NOMEM && !err.message[0])
        quanta_fail(&err, st, "out of memory printing the report");
    bench_free(&b);
    if (st != QUANTA_OK)
        return cli_report(&err);
    if (fflush(stdout) != 0)
        return QUANTA_ERR_OUTPUT;
    return 0;
}

/* quanta bench: latency and throughput of one or more models on synthetic
 * input, batch size by batch size, with achieved GOP/s, the share of the
 * machine's theoretical peak for the kernel level in use, the peak RSS and
 * each model's speed-up against the first. The usual call compares a float
 * model with its int8 copy. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_data.h"
#include "cli/cli_input.h"
#include "kernels/kernels.h"
#include "report/report.h"

static const char bench_usage[] =
    "usage: quanta bench MODEL [MODEL...] [--batch N[,N...]] [--threads N[,N...]]\n"
    "                    [--iters N] [--warmup N] [--json]\n";

static const char bench_help[] =
    "usage: quanta bench MODEL [MODEL...] [--batch N[,N...]] [--threads N[,N...]]\n"
    "                    [--iters N] [--warmup N] [--json]\n"
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
    bool json;
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
    enum { OPT_BATCH = 256, OPT_THREADS, OPT_ITERS, OPT_WARMUP, OPT_JSON };
    static const struct option options[] = {
        {"batch", required_argument, NULL, OPT_BATCH},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"iters", required_argument, NULL, OPT_ITERS},
        {"warmup", required_argument, NULL, OPT_WARMUP},
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
    o->models = argv + optind;
    return 0;
}

/* ---- the machine: clock and peak ---- */

struct bench_clock {
    double ghz;             /* NaN when unknown */
    const char *source;     /* where ghz came from */
};

static void read_clock(struct bench_clock *c)
{
    c->ghz = NAN;
    c->source = "unknown";
    FILE *f = fopen("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", "r");
    if (f) {
        double khz;
        if (fscanf(f, "%lf", &khz) == 1 && khz > 0.0) {
            c->ghz = khz / 1e6;
            c->source = "cpuinfo_max_freq";
        }
        fclose(f);
        if (!isnan(c->ghz))
            return;
    }
    f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        double mhz;
        if (strncmp(line, "cpu MHz", 7) == 0) {
            const char *colon = strchr(line, ':');
            if (colon && sscanf(colon + 1, "%lf", &mhz) == 1 && mhz > 0.0) {
                c->ghz = mhz / 1e3;
                c->source = "/proc/cpuinfo cpu MHz";
            }
            break;
        }
    }
    fclose(f);
}

/* Operations per cycle and core of the level's widest arithmetic: float
 * 2 FMA units x lanes x 2; int8 as man quanta-bench(1) states; the
 * reference counts one scalar multiply-add (2 ops) per cycle. */
static double ops_per_cycle(enum kernels_level level, bool int8)
{
    switch (level) {
    case KERNELS_LEVEL_REF: return 2.0;
#if defined(__x86_64__)
    case KERNELS_LEVEL_AVX2: return int8 ? 2.0 * 16 * 2 : 2.0 * 8 * 2;
    case KERNELS_LEVEL_AVX512: return int8 ? 2.0 * 32 * 2 : 2.0 * 16 * 2;
    case KERNELS_LEVEL_VNNI: return int8 ? 2.0 * 64 * 2 : 2.0 * 16 * 2;
    case KERNELS_LEVEL_AMX: return int8 ? 1024.0 * 2 : 2.0 * 16 * 2;
#elif defined(__aarch64__)
    case KERNELS_LEVEL_NEON: return int8 ? 2.0 * 4 * 2 : 2.0; /* float: the reference */
    case KERNELS_LEVEL_DOTPROD: return int8 ? 2.0 * 16 * 2 : 2.0;
#endif
    case KERNELS_LEVEL_COUNT: break;
    }
    return NAN;
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the whole process (every thread), seconds. */
static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss; /* kilobytes on Linux */
}

/* ---- one model ---- */

struct bench_batch {
    int64_t batch;
    double median_ms, p90_ms, p99_ms;
    double samples_per_s, gops, peak_fraction, speedup;
    double cpu_ms;          /* median process CPU time per run, all threads */
    double *runs_ms;        /* [iters] wall ms of each timed run, in run order */
};

struct bench_model {
    const char *path;
    int threads;            /* resolved: never 0 */
    bool int8;              /* conv2d/dense run on int8 activations */
    double ops_per_sample;
    double peak_gops;
    long peak_rss_kb;
    struct bench_batch batches[BENCH_MAX_BATCHES];
};

/* The rows: every MODEL at the first thread count, then every MODEL at
 * the next one, and so on. */
struct bench {
    struct bench_options opt;
    enum kernels_level level;
    struct bench_clock clock;
    struct bench_model *models; /* [n_rows] */
    int n_rows;                 /* n_models x n_threads */
};

/* The graph runs integer kernels when some conv2d or dense reads a
 * quantized activation (weight-only models run float kernels). */
static bool graph_is_int8(const struct graph *g)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        if ((n->op == GRAPH_OP_CONV2D || n->op == GRAPH_OP_DENSE) &&
            g->values[n->inputs[0]].quant.dtype != QUANTA_DTYPE_INVALID)
            return true;
    }
    return false;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted t[0..n): the smallest value with at
 * least p percent of the samples at or below it. */
static double percentile(const double *t, int64_t n, double p)
{
    int64_t rank = (int64_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return t[rank - 1];
}

static double median(const double *t, int64_t n)
{
    return n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
}

/* Whether input value v is the ids [L] of an embedding_bag with offsets:
 * its length is not the batch (the bags are). */
static bool bag_ids(const struct graph *g, int v)
{
    for (int i = 0; i < g->n_nodes; i++) {
        int off, w;
        if (g->nodes[i].op != GRAPH_OP_EMBEDDING_BAG || g->nodes[i].inputs[0] != v)
            continue;
        graph_bag_inputs(g, &g->nodes[i], &off, &w);
        if (off >= 0)
            return true;
    }
    return false;
}

static enum quanta_status check_batches(const struct bench *b, const struct graph *g,
                                        const char *path, struct quanta_error *err)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const struct graph_value *v = &g->values[g->inputs[i].value];
        if (v->shape.rank < 1 || v->shape.dims[0] == -1 || bag_ids(g, g->inputs[i].value))
            continue;
        for (int k = 0; k < b->opt.n_batches; k++)
            if (b->opt.batches[k] != v->shape.dims[0])
                return quanta_fail(err, QUANTA_ERR_INPUT,
                                   "%s: input '%s' has a fixed batch of %lld, so batch %lld "
                                   "cannot run; give --batch %lld",
                                   path, v->name, (long long)v->shape.dims[0],
                                   (long long)b->opt.batches[k], (long long)v->shape.dims[0]);
    }
    return QUANTA_OK;
}

/* --threads 0: every online core. */
static int resolve_threads(int64_t threads)
{
    if (threads > 0)
        return (int)threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores > 0 ? (int)(cores < 1024 ? cores : 1024) : 1;
}

/* One model while the runs go on: all are open together so that the timed
 * runs can take turns. */
struct bench_run {
    struct model m;
    bool opened;
    struct runner *r;
    struct cli_input in;
    double *times, *cpu;    /* [iters] of the current batch size */
};

static void bench_close(struct bench_run *run)
{
    free(run->times);
    free(run->cpu);
    cli_input_free(&run->in);
    runner_free(run->r);
    if (run->opened)
        model_close(&run->m);
    memset(run, 0, sizeof *run);
}

/* Opens model `index`, fills what the graph alone gives (int8, ops, peak)
 * and readies its runner and input for the largest batch. */
static enum quanta_status bench_open(struct bench *b, int index, struct bench_run *run,
                                     struct quanta_error *err)
{
    struct bench_model *bm = &b->models[index];
    enum quanta_status st;
    bm->path = b->opt.models[index % b->opt.n_models];
    bm->threads = resolve_threads(b->opt.threads[index / b->opt.n_models]);
    if ((st = model_open(&run->m, bm->path, err)) != QUANTA_OK)
        return st;
    run->opened = true;
    const struct graph *g = &run->m.graph;
    if (!run->m.has_graph)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph, so it cannot run",
                           bm->path);
    if ((st = check_batches(b, g, bm->path, err)) != QUANTA_OK)
        return st;
    int64_t max_batch = 1;
    for (int k = 0; k < b->opt.n_batches; k++)
        if (b->opt.batches[k] > max_batch)
            max_batch = b->opt.batches[k];
    bm->int8 = graph_is_int8(g);
    /* counted at a batch the graph accepts (a fixed batch stays fixed) */
    bm->ops_per_sample = graph_ops_count(g, max_batch) / (double)max_batch;
    bm->peak_gops = (double)bm->threads * b->clock.ghz * ops_per_cycle(b->level, bm->int8);

    struct runner_options ro = {.max_batch = max_batch, .threads = bm->threads, .optimize = true};
    if ((st = runner_create(&run->r, g, &ro, err)) != QUANTA_OK) {
        if (st != QUANTA_ERR_USAGE && strncmp(err->message, bm->path, strlen(bm->path)) != 0)
            quanta_error_prefix(err, "%s", bm->path);
        return st;
    }
    if ((st = cli_input_make(&run->in, g, bm->path, max_batch, err)) != QUANTA_OK)
        return st;
    run->times = malloc((size_t)b->opt.iters * sizeof *run->times);
    run->cpu = malloc((size_t)b->opt.iters * sizeof *run->cpu);
    if (!run->times || !run->cpu)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    return QUANTA_OK;
}

static enum quanta_status run_once(const struct bench_model *bm, struct bench_run *run,
                                   int64_t batch, double *wall, double *cpu,
                                   struct quanta_error *err)
{
    double c0 = cpu_seconds(), t0 = now_seconds();
    enum quanta_status st =
        runner_run(run->r, batch, (const void *const *)run->in.buffers, err);
    *wall = now_seconds() - t0;
    *cpu = cpu_seconds() - c0;
    if (st != QUANTA_OK && strncmp(err->message, bm->path, strlen(bm->path)) != 0)
        quanta_error_prefix(err, "%s", bm->path);
    return st;
}

/* The figures of batch size k of one model from its timed runs. */
static void batch_stats(struct bench *b, int index, int k, struct bench_run *run)
{
    struct bench_model *bm = &b->models[index];
    struct bench_batch *bb = &bm->batches[k];
    const int64_t n = b->opt.iters;
    bb->runs_ms = malloc((size_t)n * sizeof *bb->runs_ms);
    for (int64_t i = 0; bb->runs_ms && i < n; i++)
        bb->runs_ms[i] = 1e3 * run->times[i];
    qsort(run->cpu, (size_t)n, sizeof *run->cpu, compare_double);
    bb->cpu_ms = 1e3 * median(run->cpu, n);
    qsort(run->times, (size_t)n, sizeof *run->times, compare_double);
    double med = median(run->times, n);
    bb->median_ms = 1e3 * med;
    bb->p90_ms = 1e3 * percentile(run->times, n, 90.0);
    bb->p99_ms = 1e3 * percentile(run->times, n, 99.0);
    bb->samples_per_s = med > 0.0 ? (double)bb->batch / med : INFINITY;
    bb->gops = med > 0.0 ? bm->ops_per_sample * (double)bb->batch / med * 1e-9 : INFINITY;
    bb->peak_fraction = bb->gops / bm->peak_gops;
    const struct bench_batch *first = &b->models[0].batches[k];
    bb->speedup = bb->median_ms > 0.0 ? first->median_ms / bb->median_ms : NAN;
}

/* Timed runs per model and round. */
#define ROUND_RUNS 5

/* Per batch size: the warm-up runs of every model, then rounds in which
 * every model in turn makes one untimed run (its weights back in cache
 * after the others ran) and up to ROUND_RUNS timed ones, so that a slower
 * phase of a shared machine falls on all models alike and the speed-ups
 * stay fair. */
static enum quanta_status bench_all(struct bench *b, struct quanta_error *err)
{
    const int n = b->n_rows;
    struct bench_run *runs = calloc((size_t)n, sizeof *runs);
    if (!runs)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    enum quanta_status st = QUANTA_OK;
    for (int j = 0; j < n && st == QUANTA_OK; j++)
        st = bench_open(b, j, &runs[j], err);
    for (int k = 0; k < b->opt.n_batches && st == QUANTA_OK; k++) {
        const int64_t batch = b->opt.batches[k];
        for (int j = 0; j < n; j++)
            b->models[j].batches[k].batch = batch;
        for (int64_t i = 0; i < b->opt.warmup && st == QUANTA_OK; i++)
            for (int j = 0; j < n && st == QUANTA_OK; j++) {
                double wall, cpu;
                st = run_once(&b->models[j], &runs[j], batch, &wall, &cpu, err);
            }
        for (int64_t i0 = 0; i0 < b->opt.iters && st == QUANTA_OK; i0 += ROUND_RUNS) {
            const int64_t i1 = i0 + ROUND_RUNS < b->opt.iters ? i0 + ROUND_RUNS : b->opt.iters;
            for (int j = 0; j < n && st == QUANTA_OK; j++) {
                double wall, cpu;
                if (n > 1 && i0 > 0)
                    st = run_once(&b->models[j], &runs[j], batch, &wall, &cpu, err);
                for (int64_t i = i0; i < i1 && st == QUANTA_OK; i++)
                    st = run_once(&b->models[j], &runs[j], batch, &runs[j].times[i],
                                  &runs[j].cpu[i], err);
            }
        }
        for (int j = 0; j < n && st == QUANTA_OK; j++)
            batch_stats(b, j, k, &runs[j]);
    }
    if (st == QUANTA_OK) {
        long rss = peak_rss_kb();
        for (int j = 0; j < n; j++)
            b->models[j].peak_rss_kb = rss;
    }
    for (int j = 0; j < n; j++)
        bench_close(&runs[j]);
    free(runs);
    return st;
}

/* ---- reports ---- */

/* "12.3%", or "-" when unknown. */
static const char *fmt_fraction(double v, char *buf, size_t size)
{
    if (!isfinite(v))
        snprintf(buf, size, "-");
    else
        snprintf(buf, size, "%.1f%%", 100.0 * v);
    return buf;
}

static enum quanta_status print_text(const struct bench *b)
{
    char ghz[64], f[32];
    if (isnan(b->clock.ghz))
        snprintf(ghz, sizeof ghz, "unknown");
    else
        snprintf(ghz, sizeof ghz, "%.2f GHz (%s)", b->clock.ghz, b->clock.source);
    char threads[BENCH_MAX_THREADS * 8] = "";
    for (int i = 0, at = 0; i < b->opt.n_threads; i++)
        at += snprintf(threads + at, sizeof threads - (size_t)at, "%s%d", i ? "," : "",
                       b->models[i * b->opt.n_models].threads);
    printf("kernels: %s  threads: %s  clock: %s  iters: %lld  warmup: %lld\n",
           kernels_level_name(b->level), threads, ghz, (long long)b->opt.iters,
           (long long)b->opt.warmup);
    static const char *const head[] = {"model", "type", "threads", "batch", "median ms",
                                       "cpu ms", "p90 ms", "p99 ms", "samples/s", "GOP/s",
                                       "peak", "speed-up", "peak RSS"};
    static const enum report_align align[] = {
        REPORT_ALIGN_LEFT, REPORT_ALIGN_LEFT, REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT,
        REPORT_ALIGN_RIGHT,
        REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT,
        REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT};
    struct report_table *t = report_table_create(13, head, align);
    for (int i = 0; i < b->n_rows; i++) {
        const struct bench_model *bm = &b->models[i];
        for (int k = 0; k < b->opt.n_batches; k++) {
            const struct bench_batch *bb = &bm->batches[k];
            report_table_add(t, "%s", k == 0 ? bm->path : "");
            report_table_add(t, "%s", k == 0 ? (bm->int8 ? "int8" : "float") : "");
            if (k == 0)
                report_table_add(t, "%d", bm->threads);
            else
                report_table_add(t, "%s", "");
            report_table_add(t, "%lld", (long long)bb->batch);
            report_table_add(t, "%.3f", bb->median_ms);
            report_table_add(t, "%.3f", bb->cpu_ms);
            report_table_add(t, "%.3f", bb->p90_ms);
            report_table_add(t, "%.3f", bb->p99_ms);
            report_table_add(t, "%.1f", bb->samples_per_s);
            report_table_add(t, "%.2f", bb->gops);
            report_table_add(t, "%s", fmt_fraction(bb->peak_fraction, f, sizeof f));
            report_table_add(t, "%.2fx", bb->speedup);
            if (k == 0)
                report_table_add(t, "%.1f MiB", (double)bm->peak_rss_kb / 1024.0);
            else
                report_table_add(t, "%s", "");
        }
    }
    enum quanta_status st = report_table_print(t, stdout);
    report_table_free(t);
    if (st != QUANTA_OK)
        return st;
    for (int i = 0; i < b->n_rows; i++) {
        const struct bench_model *bm = &b->models[i];
        printf("%s: %.4g MOP per sample, peak %.1f GOP/s (%s, %d thread%s)\n", bm->path,
               bm->ops_per_sample * 1e-6, bm->peak_gops, bm->int8 ? "int8" : "float",
               bm->threads, bm->threads == 1 ? "" : "s");
    }
    return QUANTA_OK;
}

static cJSON *bench_json(const struct bench *b)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "kernels", kernels_level_name(b->level));
    cJSON_AddNumberToObject(root, "threads", b->models[0].threads);
    cli_json_add_number(root, "ghz", b->clock.ghz);
    cJSON_AddStringToObject(root, "ghz_source", b->clock.source);
    cJSON_AddNumberToObject(root, "iters", (double)b->opt.iters);
    cJSON_AddNumberToObject(root, "warmup", (double)b->opt.warmup);
    cJSON *batches = cJSON_AddArrayToObject(root, "batches");
    for (int k = 0; batches && k < b->opt.n_batches; k++)
        cJSON_AddItemToArray(batches, cJSON_CreateNumber((double)b->opt.batches[k]));
    cJSON *models = cJSON_AddArrayToObject(root, "models");
    for (int i = 0; models && i < b->n_rows; i++) {
        const struct bench_model *bm = &b->models[i];
        cJSON *m = cJSON_CreateObject();
        cJSON_AddItemToArray(models, m);
        cJSON_AddStringToObject(m, "path", bm->path);
        cJSON_AddStringToObject(m, "precision", bm->int8 ? "int8" : "float");
        cJSON_AddStringToObject(m, "kernels", kernels_level_name(b->level));
        cJSON_AddNumberToObject(m, "threads", bm->threads);
        cJSON_AddNumberToObject(m, "ops_per_sample", bm->ops_per_sample);
        cli_json_add_number(m, "peak_gops", bm->peak_gops);
        cJSON_AddNumberToObject(m, "peak_rss_kb", (double)bm->peak_rss_kb);
        cJSON *list = cJSON_AddArrayToObject(m, "batches");
        for (int k = 0; list && k < b->opt.n_batches; k++) {
            const struct bench_batch *bb = &bm->batches[k];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddItemToArray(list, o);
            cJSON_AddNumberToObject(o, "batch", (double)bb->batch);
            cli_json_add_number(o, "median_ms", bb->median_ms);
            cli_json_add_number(o, "cpu_ms", bb->cpu_ms);
            cli_json_add_number(o, "p90_ms", bb->p90_ms);
            cli_json_add_number(o, "p99_ms", bb->p99_ms);
            cli_json_add_number(o, "samples_per_s", bb->samples_per_s);
            cli_json_add_number(o, "gops", bb->gops);
            cli_json_add_number(o, "peak_fraction", bb->peak_fraction);
            cli_json_add_number(o, "speedup", bb->speedup);
            cJSON *runs = cJSON_AddArrayToObject(o, "runs_ms");
            for (int64_t r = 0; runs && bb->runs_ms && r < b->opt.iters; r++)
                cJSON_AddItemToArray(runs, cJSON_CreateNumber(bb->runs_ms[r]));
        }
    }
    return root;
}

int cmd_bench(int argc, char **argv)
{
    struct bench b;
    memset(&b, 0, sizeof b);
    int rc = parse_options(argc, argv, &b.opt);
    if (rc != 0)
        return rc < 0 ? 0 : rc;

    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = kernels_init(&err);
    if (st != QUANTA_OK)
        return cli_report(&err);
    b.level = kernels_current_level();
    read_clock(&b.clock);
    b.n_rows = b.opt.n_models * b.opt.n_threads;
    b.models = calloc((size_t)b.n_rows, sizeof *b.models);
    if (!b.models) {
        quanta_fail(&err, QUANTA_ERR_NOMEM, "out of memory");
        return cli_report(&err);
    }
    st = bench_all(&b, &err);
    if (st == QUANTA_OK) {
        if (b.opt.json)
            st = cli_json_print(bench_json(&b), &err);
        else
            st = print_text(&b);
        if (st == QUANTA_ERR_NOMEM && !err.message[0])
            quanta_fail(&err, st, "out of memory printing the report");
    }
    for (int j = 0; j < b.n_rows; j++)
        for (int k = 0; k < b.opt.n_batches; k++)
            free(b.models[j].batches[k].runs_ms);
    free(b.models);
    if (st != QUANTA_OK)
        return cli_report(&err);
    if (fflush(stdout) != 0)
        return QUANTA_ERR_OUTPUT;
    return 0;
}

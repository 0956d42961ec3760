/* Speed measurement for quanta bench and quanta profile: the clocks, the
 * machine's peak, the statistics and the timed runs in which the models
 * take turns. */
#include "report/bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "quanta/runtime.h"

/* ---- the clock, the machine, the statistics ---- */

double bench_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double bench_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

long bench_peak_rss_kb(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return ru.ru_maxrss; /* kilobytes on Linux */
}

double bench_percentile(const double *t, int64_t n, double p)
{
    int64_t rank = (int64_t)ceil(p / 100.0 * (double)n);
    if (rank < 1)
        rank = 1;
    return t[rank - 1];
}

void bench_read_clock(struct bench_clock *c)
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

double bench_peak_gops(const struct bench_clock *c, int threads, bool int8)
{
    return (double)threads * c->ghz * runtime_peak_ops_per_cycle(int8);
}

/* ---- one model ---- */

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

static enum quanta_status check_batches(const struct bench_config *cfg, const struct graph *g,
                                        const char *path, struct quanta_error *err)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const struct graph_value *v = &g->values[g->inputs[i].value];
        if (v->shape.rank < 1 || v->shape.dims[0] == -1 || bag_ids(g, g->inputs[i].value))
            continue;
        for (int k = 0; k < cfg->n_batches; k++)
            if (cfg->batches[k] != v->shape.dims[0])
                return quanta_fail(err, QUANTA_ERR_INPUT,
                                   "%s: input '%s' has a fixed batch of %lld, so batch %lld "
                                   "cannot run; give --batch %lld",
                                   path, v->name, (long long)v->shape.dims[0],
                                   (long long)cfg->batches[k], (long long)v->shape.dims[0]);
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
    struct bench_input in;
    double *times, *cpu;    /* [iters] of the current batch size */
    double *node_seconds;   /* profile: [iters x nodes of the runner's graph] */
};

static void run_close(struct bench_run *run)
{
    free(run->times);
    free(run->cpu);
    free(run->node_seconds);
    bench_input_free(&run->in);
    runner_free(run->r);
    if (run->opened)
        model_close(&run->m);
    memset(run, 0, sizeof *run);
}

/* Opens model `index`, fills what the graph alone gives (int8, ops, peak)
 * and readies its runner and input for the largest batch. */
static enum quanta_status run_open(struct bench *b, int index, struct bench_run *run,
                                   struct quanta_error *err)
{
    const struct bench_config *cfg = &b->cfg;
    struct bench_model *bm = &b->models[index];
    enum quanta_status st;
    bm->path = cfg->models[index % cfg->n_models];
    bm->threads = resolve_threads(cfg->threads[index / cfg->n_models]);
    bm->batches = calloc((size_t)cfg->n_batches, sizeof *bm->batches);
    if (!bm->batches)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    if ((st = model_open(&run->m, bm->path, err)) != QUANTA_OK)
        return st;
    run->opened = true;
    const struct graph *g = &run->m.graph;
    if (!run->m.has_graph)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: has no graph, so it cannot run",
                           bm->path);
    if ((st = check_batches(cfg, g, bm->path, err)) != QUANTA_OK)
        return st;
    int64_t max_batch = 1;
    for (int k = 0; k < cfg->n_batches; k++)
        if (cfg->batches[k] > max_batch)
            max_batch = cfg->batches[k];
    bm->int8 = graph_is_int8(g);
    /* counted at a batch the graph accepts (a fixed batch stays fixed) */
    bm->ops_per_sample = graph_ops_count(g, max_batch) / (double)max_batch;
    bm->peak_gops = bench_peak_gops(&b->clock, bm->threads, bm->int8);

    struct runner_options ro = {
        .max_batch = max_batch, .threads = bm->threads, .optimize = cfg->optimize};
    if ((st = runner_create(&run->r, g, &ro, err)) != QUANTA_OK) {
        if (st != QUANTA_ERR_USAGE && strncmp(err->message, bm->path, strlen(bm->path)) != 0)
            quanta_error_prefix(err, "%s", bm->path);
        return st;
    }
    if ((st = bench_input_make(&run->in, g, bm->path, max_batch, err)) != QUANTA_OK)
        return st;
    run->times = malloc((size_t)cfg->iters * sizeof *run->times);
    run->cpu = malloc((size_t)cfg->iters * sizeof *run->cpu);
    if (!run->times || !run->cpu)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    if (!cfg->profile)
        return QUANTA_OK;
    const int n_nodes = runner_graph(run->r)->n_nodes;
    run->node_seconds = malloc(((size_t)cfg->iters * (size_t)n_nodes + 1) * sizeof(double));
    if (!run->node_seconds)
        return quanta_fail(err, QUANTA_ERR_NOMEM,
                           "%s: out of memory for the times of %d nodes in %lld runs "
                           "(give fewer --iters)",
                           bm->path, n_nodes, (long long)cfg->iters);
    return QUANTA_OK;
}

/* One run; timed run i (>= 0) also records each node's time when
 * profiling. */
static enum quanta_status run_once(const struct bench_model *bm, struct bench_run *run,
                                   int64_t batch, int64_t i, struct quanta_error *err)
{
    double *nodes = NULL;
    if (i >= 0 && run->node_seconds) {
        int n = runner_graph(run->r)->n_nodes;
        nodes = run->node_seconds + (size_t)i * (size_t)n;
        memset(nodes, 0, (size_t)n * sizeof *nodes);
    }
    runner_set_profile(run->r, nodes);
    double c0 = bench_cpu_seconds(), t0 = bench_now_seconds();
    enum quanta_status st =
        runner_run(run->r, batch, (const void *const *)run->in.buffers, err);
    double wall = bench_now_seconds() - t0, cpu = bench_cpu_seconds() - c0;
    runner_set_profile(run->r, NULL);
    if (i >= 0) {
        run->times[i] = wall;
        run->cpu[i] = cpu;
    }
    if (st != QUANTA_OK && strncmp(err->message, bm->path, strlen(bm->path)) != 0)
        quanta_error_prefix(err, "%s", bm->path);
    return st;
}

/* Each node's figures at batch size k from the profiled runs. */
static enum quanta_status node_stats(struct bench *b, struct bench_model *bm,
                                     struct bench_batch *bb, struct bench_run *run,
                                     struct quanta_error *err)
{
    const struct graph *g = runner_graph(run->r);
    enum quanta_status st =
        report_profile_make(g, run->node_seconds, (int)b->cfg.iters, &bb->profile, err);
    if (st != QUANTA_OK)
        return st;
    bb->nodes = calloc((size_t)g->n_nodes + 1, sizeof *bb->nodes);
    if (!bb->nodes)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the profile");
    bb->n_nodes = g->n_nodes;
    bb->node_sum_ms = bb->profile.total_ms;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct report_profile_row *row = &bb->profile.nodes[i];
        struct bench_node *nd = &bb->nodes[i];
        nd->name = strdup(g->nodes[i].name);
        if (!nd->name)
            return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the profile");
        nd->op = row->op;
        nd->int8 = row->int8;
        nd->shape = graph_value_shape(g, g->nodes[i].outputs[0], bb->batch);
        nd->ops = graph_node_ops(g, i, bb->batch);
        nd->median_ms = row->median_ms;
        nd->share = row->share;
        nd->gops = nd->median_ms > 0.0 ? nd->ops / nd->median_ms * 1e-6 : NAN;
        nd->peak_fraction = nd->gops / bench_peak_gops(&b->clock, bm->threads, nd->int8);
    }
    return QUANTA_OK;
}

/* The figures of batch size k of one model from its timed runs. */
static enum quanta_status batch_stats(struct bench *b, int index, int k,
                                      struct bench_run *run, struct quanta_error *err)
{
    struct bench_model *bm = &b->models[index];
    struct bench_batch *bb = &bm->batches[k];
    const int64_t n = b->cfg.iters;
    bb->runs_ms = malloc((size_t)n * sizeof *bb->runs_ms);
    if (!bb->runs_ms)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        bb->runs_ms[i] = 1e3 * run->times[i];
    bb->cpu_ms = 1e3 * report_median(run->cpu, n);
    double med = report_median(run->times, n); /* sorted now */
    bb->median_ms = 1e3 * med;
    bb->p90_ms = 1e3 * bench_percentile(run->times, n, 90.0);
    bb->p99_ms = 1e3 * bench_percentile(run->times, n, 99.0);
    bb->samples_per_s = med > 0.0 ? (double)bb->batch / med : INFINITY;
    bb->gops = med > 0.0 ? bm->ops_per_sample * (double)bb->batch / med * 1e-9 : INFINITY;
    bb->peak_fraction = bb->gops / bm->peak_gops;
    /* against the first model of the first thread count */
    bb->speedup = bb->median_ms > 0.0 ? b->models[0].batches[k].median_ms / bb->median_ms : NAN;
    return run->node_seconds ? node_stats(b, bm, bb, run, err) : QUANTA_OK;
}

/* Timed runs per model and round. */
#define ROUND_RUNS 5

static enum quanta_status measure(struct bench *b, struct bench_run *runs,
                                  struct quanta_error *err)
{
    const int n = b->n_rows;
    enum quanta_status st = QUANTA_OK;
    for (int j = 0; j < n && st == QUANTA_OK; j++)
        st = run_open(b, j, &runs[j], err);
    for (int k = 0; k < b->cfg.n_batches && st == QUANTA_OK; k++) {
        const int64_t batch = b->cfg.batches[k];
        for (int j = 0; j < n; j++)
            b->models[j].batches[k].batch = batch;
        for (int64_t i = 0; i < b->cfg.warmup && st == QUANTA_OK; i++)
            for (int j = 0; j < n && st == QUANTA_OK; j++)
                st = run_once(&b->models[j], &runs[j], batch, -1, err);
        for (int64_t i0 = 0; i0 < b->cfg.iters && st == QUANTA_OK; i0 += ROUND_RUNS) {
            const int64_t i1 = i0 + ROUND_RUNS < b->cfg.iters ? i0 + ROUND_RUNS : b->cfg.iters;
            for (int j = 0; j < n && st == QUANTA_OK; j++) {
                if (n > 1 && i0 > 0)
                    st = run_once(&b->models[j], &runs[j], batch, -1, err);
                for (int64_t i = i0; i < i1 && st == QUANTA_OK; i++)
                    st = run_once(&b->models[j], &runs[j], batch, i, err);
            }
        }
        for (int j = 0; j < n && st == QUANTA_OK; j++)
            st = batch_stats(b, j, k, &runs[j], err);
    }
    if (st == QUANTA_OK) {
        long rss = bench_peak_rss_kb();
        for (int j = 0; j < n; j++)
            b->models[j].peak_rss_kb = rss;
    }
    return st;
}

enum quanta_status bench_measure(struct bench *b, const struct bench_config *cfg,
                                 struct quanta_error *err)
{
    memset(b, 0, sizeof *b);
    b->cfg = *cfg;
    enum quanta_status st = runtime_kernels(&b->kernels, err);
    if (st != QUANTA_OK)
        return st;
    bench_read_clock(&b->clock);
    b->n_rows = cfg->n_models * cfg->n_threads;
    b->models = calloc((size_t)b->n_rows, sizeof *b->models);
    struct bench_run *runs = calloc((size_t)b->n_rows, sizeof *runs);
    if (!b->models || !runs) {
        free(runs);
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    }
    st = measure(b, runs, err);
    for (int j = 0; j < b->n_rows; j++)
        run_close(&runs[j]);
    free(runs);
    return st;
}

void bench_free(struct bench *b)
{
    for (int j = 0; b->models && j < b->n_rows; j++) {
        struct bench_model *bm = &b->models[j];
        for (int k = 0; bm->batches && k < b->cfg.n_batches; k++) {
            struct bench_batch *bb = &bm->batches[k];
            free(bb->runs_ms);
            for (int i = 0; bb->nodes && i < bb->n_nodes; i++)
                free(bb->nodes[i].name);
            free(bb->nodes);
            report_profile_free(&bb->profile);
        }
        free(bm->batches);
    }
    free(b->models);
    memset(b, 0, sizeof *b);
}

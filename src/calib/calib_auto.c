/* Method auto's second pass: the data streams through the float runner
 * once more; at each observed value (runner hook) every distinct candidate
 * range fake-quantizes the value, and the error is measured where the
 * value is used (a "site"): after an element-wise reader, at the output of
 * a conv2d/dense/matmul reader re-run alone, or at the value itself. */
#include "calib/calib_auto.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/runtime.h"

enum site_kind {
    SITE_FUNCTION,  /* an element-wise reader: error after its function */
    SITE_NODE,      /* a conv2d/dense/matmul reader: error at its output */
};

struct site {
    enum site_kind kind;
    const struct graph_node *node;
    /* SITE_FUNCTION: f at each of the 256 levels of each candidate */
    double (*levels)[256];
    /* SITE_NODE: the node alone, its input the value (its runner made
     * for each batch, so that only one holds memory at a time) */
    struct graph sub;
};

struct fq {
    float scale;
    int32_t zero_point;
};

struct auto_value {
    struct fq fq[CALIB_METHOD_COUNT];
    int value_sites;            /* graph output and other readers: error at the value */
    int first_site, n_sites;
};

struct auto_state {
    const struct graph *g;
    struct calib_auto_value *vals;
    struct auto_value *av;
    int *slot;                  /* per graph value: index in vals, or -1 */
    struct site *sites;
    int n_sites;
    float *in_buf, *ref_buf;    /* one batch of the largest SITE_NODE */
    size_t in_cap, ref_cap;
    int64_t batch;              /* of the feed */
    int threads;
    enum quanta_status st;      /* the first failure inside the hook */
    struct quanta_error *err;
};

void calib_fake_quant_params(double lo, double hi, float *scale, int32_t *zero_point)
{
    /* as quantize_choose_params (asymmetric, I8) on the table's range read
     * as float */
    float lf = (float)lo, hf = (float)hi;
    double l = lf < 0.0f ? lf : 0.0, h = hf > 0.0f ? hf : 0.0;
    float s = (float)((h - l) / 255.0);
    if (!(s > 0.0f) || !isfinite(s)) {
        *scale = 1.0f;
        *zero_point = 0;
        return;
    }
    if (s < (float)0x1p-100) /* QUANTIZE_MIN_SCALE */
        s = (float)0x1p-100;
    double zp = round(-128.0 - l / (double)s);
    *scale = s;
    *zero_point = (int32_t)(zp < -128 ? -128 : zp > 127 ? 127 : zp);
}

static double level_value(int q, float scale, int32_t zero_point)
{
    return (double)scale * (double)(q - zero_point);
}

static int quantize_level(double x, float scale, int32_t zero_point)
{
    double q = round(x / (double)scale) + zero_point;
    return q < -128 ? -128 : q > 127 ? 127 : (int)q;
}

double calib_fake_quant(double x, float scale, int32_t zero_point)
{
    return level_value(quantize_level(x, scale, zero_point), scale, zero_point);
}

/* The element-wise function of reader nd: relu, relu6, leaky_relu, and
 * those the runner names. */
static bool reader_function(const struct graph_node *nd, double x, double *y)
{
    switch (nd->op) {
    case GRAPH_OP_RELU:
        *y = x > 0 ? x : 0;
        return true;
    case GRAPH_OP_RELU6:
        *y = x < 0 ? 0 : x > 6 ? 6 : x;
        return true;
    case GRAPH_OP_LEAKY_RELU:
        *y = x < 0 ? (double)nd->attrs.alpha * x : x;
        return true;
    default:
        return runner_node_function(nd, x, y);
    }
}

/* Whether reader nd of value v can be re-run alone: a conv2d, dense or
 * matmul reading v once, its other inputs constants, its output float. */
static bool node_rerunnable(const struct graph *g, const struct graph_node *nd, int v)
{
    if (nd->op != GRAPH_OP_CONV2D && nd->op != GRAPH_OP_DENSE && nd->op != GRAPH_OP_MATMUL)
        return false;
    if (nd->n_outputs != 1 || g->values[nd->outputs[0]].dtype != QUANTA_F32)
        return false;
    int reads = 0;
    for (int k = 0; k < nd->n_inputs; k++) {
        int in = nd->inputs[k];
        if (in == v)
            reads++;
        else if (in >= 0 && g->values[in].kind != GRAPH_VALUE_CONST)
            return false;
    }
    return reads == 1;
}

/* sub = node nd of g alone: v its graph input, the other inputs constants
 * sharing g's data, the output the graph output. */
static enum quanta_status one_node_graph(const struct graph *g, const struct graph_node *nd, int v,
                                         struct graph *sub, struct quanta_error *err)
{
    memset(sub, 0, sizeof *sub);
    int ins[8];
    if (nd->n_inputs > 8)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "node '%s' has %d inputs", nd->name,
                           nd->n_inputs);
    int in_value = -1;
    for (int k = 0; k < nd->n_inputs; k++) {
        int src = nd->inputs[k];
        ins[k] = -1;
        if (src < 0)
            continue;
        const struct graph_value *sv = &g->values[src];
        ins[k] = graph_add_value(sub, sv->name, src == v ? GRAPH_VALUE_INPUT : GRAPH_VALUE_CONST,
                                 sv->dtype, &sv->shape);
        if (ins[k] < 0)
            goto nomem;
        if (src == v)
            in_value = ins[k];
        else
            sub->values[ins[k]].data = sv->data; /* not owned: g keeps it */
    }
    const struct graph_value *ov = &g->values[nd->outputs[0]];
    int out = graph_add_value(sub, ov->name, GRAPH_VALUE_NODE, ov->dtype, &ov->shape);
    if (out < 0 || graph_add_node(sub, nd->op, nd->name, ins, nd->n_inputs, &out, 1) < 0)
        goto nomem;
    sub->nodes[0].attrs = nd->attrs;
    sub->inputs = calloc(1, sizeof *sub->inputs);
    sub->outputs = malloc(sizeof *sub->outputs);
    sub->name = strdup(nd->name);
    if (!sub->inputs || !sub->outputs || !sub->name)
        goto nomem;
    sub->inputs[0].value = in_value;
    sub->inputs[0].data_dtype = QUANTA_DTYPE_INVALID;
    sub->n_inputs = 1;
    sub->outputs[0] = out;
    sub->n_outputs = 1;
    return graph_validate(sub, "calibration (method auto)", err);
nomem:
    graph_free(sub);
    return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory re-running node '%s'", nd->name);
}

static bool is_graph_output(const struct graph *g, int v)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v)
            return true;
    return false;
}

/* Adds the site of reader nd of value v (index i). */
static enum quanta_status add_site(struct auto_state *s, int i, const struct graph_node *nd,
                                   struct quanta_error *err)
{
    const struct graph *g = s->g;
    int v = s->vals[i].value;
    struct auto_value *av = &s->av[i];
    double probe;
    bool fn = nd->n_inputs == 1 && reader_function(nd, 0.0, &probe);
    if (!fn && !node_rerunnable(g, nd, v)) {
        av->value_sites++;
        return QUANTA_OK;
    }
    struct site *site = &s->sites[s->n_sites];
    memset(site, 0, sizeof *site);
    site->node = nd;
    if (fn) {
        site->kind = SITE_FUNCTION;
        site->levels = malloc(CALIB_METHOD_COUNT * sizeof *site->levels);
        if (!site->levels)
            return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for method auto");
        for (int m = 0; m < CALIB_METHOD_COUNT; m++)
            for (int q = 0; q < 256; q++) {
                double y = NAN;
                reader_function(nd, level_value(q - 128, av->fq[m].scale, av->fq[m].zero_point),
                                &y);
                site->levels[m][q] = y;
            }
        s->n_sites++;
        av->n_sites++;
        return QUANTA_OK;
    }
    site->kind = SITE_NODE;
    s->n_sites++; /* freed on failure from here on */
    av->n_sites++;
    enum quanta_status st = one_node_graph(g, nd, v, &site->sub, err);
    if (st != QUANTA_OK)
        return st;
    struct quanta_shape in_shape = graph_value_shape(g, v, s->batch);
    struct quanta_shape out_shape = graph_value_shape(&site->sub, site->sub.outputs[0], s->batch);
    size_t n_in = (size_t)quanta_shape_numel(&in_shape);
    size_t n_out = (size_t)quanta_shape_numel(&out_shape);
    if (n_in > s->in_cap)
        s->in_cap = n_in;
    if (n_out > s->ref_cap)
        s->ref_cap = n_out;
    return QUANTA_OK;
}

static void free_sites(struct auto_state *s)
{
    for (int k = 0; k < s->n_sites; k++) {
        free(s->sites[k].levels);
        graph_free(&s->sites[k].sub);
    }
    s->n_sites = 0;
}

/* Squared differences of a and b (n elements), the non-finite left out. */
static double squared_error(const float *a, const float *b, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        if (isfinite(d))
            e += d * d;
    }
    return e;
}

static void measure_node(struct auto_state *s, int i, struct site *site, const float *x,
                         const struct quanta_shape *shape)
{
    struct calib_auto_value *cv = &s->vals[i];
    const struct auto_value *av = &s->av[i];
    int64_t batch = shape->rank > 0 ? shape->dims[0] : 1;
    size_t n = (size_t)quanta_shape_numel(shape);
    struct runner *runner = NULL;
    struct runner_options ro = {.max_batch = batch, .threads = s->threads};
    const void *inputs[1] = {s->in_buf};
    struct quanta_shape os;
    if ((s->st = runner_create(&runner, &site->sub, &ro, s->err)) != QUANTA_OK)
        return;
    memcpy(s->in_buf, x, n * sizeof *x);
    if ((s->st = runner_run(runner, batch, inputs, s->err)) != QUANTA_OK)
        goto done;
    const float *y = runner_output(runner, 0, &os);
    size_t n_out = (size_t)quanta_shape_numel(&os);
    memcpy(s->ref_buf, y, n_out * sizeof *y);
    for (size_t k = 0; k < n_out; k++)
        if (isfinite(s->ref_buf[k]))
            cv->signal += (double)s->ref_buf[k] * s->ref_buf[k];
    for (int m = 0; m < CALIB_METHOD_COUNT; m++) {
        if (cv->first[m] != m)
            continue;
        for (size_t k = 0; k < n; k++)
            s->in_buf[k] = isfinite(x[k]) ? (float)calib_fake_quant(x[k], av->fq[m].scale,
                                                                    av->fq[m].zero_point)
                                          : x[k];
        if ((s->st = runner_run(runner, batch, inputs, s->err)) != QUANTA_OK)
            goto done;
        y = runner_output(runner, 0, &os);
        cv->error[m] += squared_error(y, s->ref_buf, n_out);
    }
done:
    runner_free(runner);
}

static void measure_function(struct auto_state *s, int i, const struct site *site, const float *x,
                             size_t n)
{
    struct calib_auto_value *cv = &s->vals[i];
    const struct auto_value *av = &s->av[i];
    for (size_t k = 0; k < n; k++) {
        double fx;
        if (!isfinite(x[k]) || !reader_function(site->node, x[k], &fx) || !isfinite(fx))
            continue;
        cv->signal += fx * fx;
        for (int m = 0; m < CALIB_METHOD_COUNT; m++) {
            if (cv->first[m] != m)
                continue;
            int q = quantize_level(x[k], av->fq[m].scale, av->fq[m].zero_point);
            double d = site->levels[m][q + 128] - fx;
            if (isfinite(d))
                cv->error[m] += d * d;
        }
    }
}

static void measure_value(struct auto_state *s, int i, const float *x, size_t n)
{
    struct calib_auto_value *cv = &s->vals[i];
    const struct auto_value *av = &s->av[i];
    double signal = 0, error[CALIB_METHOD_COUNT] = {0};
    for (size_t k = 0; k < n; k++) {
        if (!isfinite(x[k]))
            continue;
        signal += (double)x[k] * x[k];
        for (int m = 0; m < CALIB_METHOD_COUNT; m++)
            if (cv->first[m] == m) {
                double d = calib_fake_quant(x[k], av->fq[m].scale, av->fq[m].zero_point) - x[k];
                error[m] += d * d;
            }
    }
    cv->signal += av->value_sites * signal;
    for (int m = 0; m < CALIB_METHOD_COUNT; m++)
        cv->error[m] += av->value_sites * error[m];
}

static void auto_hook(void *ctx, const struct graph *g, int value, const float *data,
                      const struct quanta_shape *shape)
{
    (void)g;
    struct auto_state *s = ctx;
    int i = s->slot[value];
    if (i < 0 || !data || s->st != QUANTA_OK)
        return;
    int64_t n = quanta_shape_numel(shape);
    if (n <= 0)
        return;
    const struct auto_value *av = &s->av[i];
    if (av->value_sites)
        measure_value(s, i, data, (size_t)n);
    for (int k = av->first_site; k < av->first_site + av->n_sites; k++) {
        struct site *site = &s->sites[k];
        if (site->kind == SITE_FUNCTION)
            measure_function(s, i, site, data, (size_t)n);
        else
            measure_node(s, i, site, data, shape);
    }
}

/* Candidates of the same scale and zero point share the first's result. */
static void find_duplicates(struct calib_auto_value *cv, struct auto_value *av)
{
    for (int m = 0; m < CALIB_METHOD_COUNT; m++) {
        calib_fake_quant_params(cv->lo[m], cv->hi[m], &av->fq[m].scale, &av->fq[m].zero_point);
        cv->first[m] = m;
        for (int j = 0; j < m; j++)
            if (av->fq[j].scale == av->fq[m].scale &&
                av->fq[j].zero_point == av->fq[m].zero_point) {
                cv->first[m] = j;
                break;
            }
    }
}

enum quanta_status calib_auto_measure(const struct graph *g, struct data_feed *feed, int threads,
                                      struct calib_auto_value *vals, int n,
                                      struct quanta_error *err)
{
    struct auto_state s = {.g = g, .vals = vals, .batch = feed->batch, .threads = threads,
                           .err = err};
    struct runner *runner = NULL;
    enum quanta_status st = QUANTA_OK;
    size_t n_values = g->n_values > 0 ? (size_t)g->n_values : 1;
    size_t n_readers = 0;
    for (int k = 0; k < g->n_nodes; k++)
        n_readers += (size_t)g->nodes[k].n_inputs;
    s.slot = malloc(n_values * sizeof *s.slot);
    s.av = calloc(n > 0 ? (size_t)n : 1, sizeof *s.av);
    s.sites = calloc(n_readers ? n_readers : 1, sizeof *s.sites);
    if (!s.slot || !s.av || !s.sites) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for method auto");
        goto done;
    }
    for (int v = 0; v < g->n_values; v++)
        s.slot[v] = -1;
    for (int i = 0; i < n; i++) {
        struct calib_auto_value *cv = &vals[i];
        s.slot[cv->value] = i;
        cv->signal = 0;
        for (int m = 0; m < CALIB_METHOD_COUNT; m++)
            cv->error[m] = 0;
        find_duplicates(cv, &s.av[i]);
        s.av[i].first_site = s.n_sites;
        s.av[i].value_sites = is_graph_output(g, cv->value);
        for (int k = 0; k < g->n_nodes; k++) {
            const struct graph_node *nd = &g->nodes[k];
            bool reads = false;
            for (int j = 0; j < nd->n_inputs; j++)
                reads |= nd->inputs[j] == cv->value;
            if (reads && (st = add_site(&s, i, nd, err)) != QUANTA_OK)
                goto done;
        }
        if (s.av[i].value_sites == 0 && s.av[i].n_sites == 0) /* read by nothing */
            s.av[i].value_sites = 1;
    }
    s.in_buf = malloc((s.in_cap ? s.in_cap : 1) * sizeof *s.in_buf);
    s.ref_buf = malloc((s.ref_cap ? s.ref_cap : 1) * sizeof *s.ref_buf);
    if (!s.in_buf || !s.ref_buf) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for method auto");
        goto done;
    }

    struct runner_options ro = {.max_batch = feed->batch, .threads = threads};
    if ((st = runner_create(&runner, g, &ro, err)) != QUANTA_OK)
        goto done;
    runner_set_hook(runner, auto_hook, &s);
    for (int64_t start = 0; start < feed->samples; start += feed->batch) {
        int64_t count = feed->samples - start < feed->batch ? feed->samples - start : feed->batch;
        if ((st = data_feed_read(feed, start, count, err)) != QUANTA_OK ||
            (st = runner_run(runner, count, data_feed_inputs(feed), err)) != QUANTA_OK ||
            (st = s.st) != QUANTA_OK)
            goto done;
    }
    for (int i = 0; i < n; i++) {
        struct calib_auto_value *cv = &vals[i];
        cv->chosen = CALIB_MINMAX;
        for (int m = 0; m < CALIB_METHOD_COUNT; m++) {
            cv->error[m] = cv->error[cv->first[m]];
            if (cv->error[m] < cv->error[cv->chosen])
                cv->chosen = (enum calib_method)m;
        }
    }
done:
    runner_free(runner);
    free_sites(&s);
    free(s.in_buf);
    free(s.ref_buf);
    free(s.sites);
    free(s.av);
    free(s.slot);
    return st;
}

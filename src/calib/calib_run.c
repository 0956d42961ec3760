/* The calibration driver: streams a data feed through the float runner and
 * feeds every float activation to its observer (runner hook), then asks the
 * method for each value's range. Memory: one batch of input, the runner's
 * arena, and one fixed-size observer per value. */
#include "quanta/calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calib_auto.h"
#include "quanta/runtime.h"

struct calib_state {
    int *slot;                      /* per graph value: observer index or -1 */
    struct calib_observer *obs;
    int n_obs;
};

static void calib_hook(void *ctx, const struct graph *g, int value, const float *data,
                       const struct quanta_shape *shape)
{
    (void)g;
    struct calib_state *cs = ctx;
    int k = cs->slot[value];
    if (k < 0 || !data)
        return;
    int64_t n = quanta_shape_numel(shape);
    if (n > 0)
        calib_observer_update(&cs->obs[k], data, (size_t)n);
}

/* The one node reading value v, or NULL (several readers, or a graph
 * output: its own values matter too). */
static const struct graph_node *sole_reader(const struct graph *g, int v)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v)
            return NULL;
    const struct graph_node *reader = NULL;
    for (int n = 0; n < g->n_nodes; n++)
        for (int k = 0; k < g->nodes[n].n_inputs; k++)
            if (g->nodes[n].inputs[k] == v) {
                if (reader)
                    return NULL;
                reader = &g->nodes[n];
            }
    return reader;
}

static double reader_function(double x, void *node)
{
    double y = NAN;
    runner_node_function(node, x, &y);
    return y;
}

static bool is_integer_dtype(enum quanta_dtype dtype)
{
    return dtype == QUANTA_I32 || dtype == QUANTA_I64;
}

/* The range of value v (observer o) by opt->method; for a value only a
 * function reads (conv -> silu), mse counts its error after that
 * function. */
static enum quanta_status single_range(const struct graph *g, int v, const struct calib_observer *o,
                                       const struct calib_options *opt, double *lo, double *hi,
                                       struct quanta_error *err)
{
    const struct graph_node *reader = sole_reader(g, v);
    double probe;
    bool fn = reader && runner_node_function(reader, 0.0, &probe);
    return calib_observer_range_after(o, opt, fn ? reader_function : NULL, (void *)reader, lo, hi,
                                      err);
}

/* Method auto: every value's five candidates, then the second pass over
 * the feed choosing among them. */
static enum quanta_status choose_auto(const struct graph *g, struct data_feed *feed,
                                      const struct calib_options *opt,
                                      const struct calib_state *cs, struct calib_table *out,
                                      struct calib_auto_value **detail, struct quanta_error *err)
{
    struct calib_auto_value *vals = calloc((size_t)(cs->n_obs ? cs->n_obs : 1), sizeof *vals);
    if (!vals)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for method auto");
    enum quanta_status st = QUANTA_OK;
    for (int v = 0; v < g->n_values && st == QUANTA_OK; v++) {
        int k = cs->slot[v];
        if (k < 0)
            continue;
        vals[k].value = v;
        for (int m = 0; m < CALIB_METHOD_COUNT && st == QUANTA_OK; m++) {
            struct calib_options one = *opt;
            one.method = (enum calib_method)m;
            st = single_range(g, v, &cs->obs[k], &one, &vals[k].lo[m], &vals[k].hi[m], err);
        }
    }
    if (st == QUANTA_OK)
        st = calib_auto_measure(g, feed, opt->threads, vals, cs->n_obs, err);
    if (st != QUANTA_OK) {
        free(vals);
        return st;
    }
    for (int k = 0; k < cs->n_obs; k++) {
        struct calib_value *cv = &out->values[k];
        cv->method = vals[k].chosen;
        cv->lo = vals[k].lo[cv->method];
        cv->hi = vals[k].hi[cv->method];
    }
    if (detail)
        *detail = vals;
    else
        free(vals);
    return QUANTA_OK;
}

static enum quanta_status run(const struct graph *g, struct data_feed *feed,
                              const struct calib_options *opt, struct calib_table *out,
                              struct calib_auto_value **detail, struct quanta_error *err)
{
    memset(out, 0, sizeof *out);
    enum quanta_status st = calib_options_check(opt, err);
    if (st != QUANTA_OK)
        return st;
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].quant.dtype != QUANTA_DTYPE_INVALID)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: value '%s' is already quantized; calibrate the float model",
                               feed->path, g->values[i].name);
    const int64_t batch = feed->batch, samples = feed->samples;

    struct calib_state cs = {0};
    struct runner *runner = NULL;
    size_t n_values = g->n_values > 0 ? (size_t)g->n_values : 1;
    cs.slot = malloc(n_values * sizeof *cs.slot);
    cs.obs = calloc(n_values, sizeof *cs.obs);
    if (!cs.slot || !cs.obs) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for calibration of %s",
                         feed->path);
        goto fail;
    }
    /* graph order: the inputs, then node outputs in node order */
    for (int v = 0; v < g->n_values; v++)
        cs.slot[v] = -1;
    for (int step = 0; step < 2; step++) {
        int count = step == 0 ? g->n_inputs : g->n_nodes;
        for (int i = 0; i < count; i++) {
            int n_out = step == 0 ? 1 : g->nodes[i].n_outputs;
            for (int o = 0; o < n_out; o++) {
                int v = step == 0 ? g->inputs[i].value : g->nodes[i].outputs[o];
                if (v < 0 || cs.slot[v] >= 0 || is_integer_dtype(g->values[v].dtype))
                    continue;
                st = calib_observer_init(&cs.obs[cs.n_obs], opt->bins, err);
                if (st != QUANTA_OK)
                    goto fail;
                cs.slot[v] = cs.n_obs++;
            }
        }
    }

    struct runner_options ro = {.max_batch = batch, .threads = opt->threads};
    st = runner_create(&runner, g, &ro, err);
    if (st != QUANTA_OK)
        goto fail;
    runner_set_hook(runner, calib_hook, &cs);
    for (int64_t start = 0; start < samples; start += batch) {
        int64_t count = samples - start < batch ? samples - start : batch;
        if ((st = data_feed_read(feed, start, count, err)) != QUANTA_OK ||
            (st = runner_run(runner, count, data_feed_inputs(feed), err)) != QUANTA_OK)
            goto fail;
    }
    runner_free(runner);
    runner = NULL;

    st = quanta_sha256_file(feed->path, out->data_sha256, err);
    if (st != QUANTA_OK)
        goto fail;
    out->method = opt->method;
    out->params = *opt;
    out->params.samples = 0;
    out->params.batch = CALIB_DEFAULT_BATCH;
    out->params.threads = 0;
    out->samples = samples;
    out->values = calloc((size_t)(cs.n_obs ? cs.n_obs : 1), sizeof *out->values);
    if (!out->values) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the calibration table");
        goto fail;
    }
    out->n_values = cs.n_obs; /* filled by observer index, which follows graph order */
    for (int v = 0; v < g->n_values; v++) {
        int k = cs.slot[v];
        if (k < 0)
            continue;
        struct calib_value *cv = &out->values[k];
        const struct calib_observer *o = &cs.obs[k];
        cv->name = strdup(g->values[v].name);
        if (!cv->name) {
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the calibration table");
            goto fail;
        }
        cv->count = o->count;
        cv->nonfinite = o->nonfinite;
        cv->min = o->count ? o->min : 0;
        cv->max = o->count ? o->max : 0;
        cv->method = opt->method;
        if (opt->method != CALIB_AUTO &&
            (st = single_range(g, v, o, opt, &cv->lo, &cv->hi, err)) != QUANTA_OK)
            goto fail;
    }
    if (opt->method == CALIB_AUTO &&
        (st = choose_auto(g, feed, opt, &cs, out, detail, err)) != QUANTA_OK)
        goto fail;
    for (int k = 0; k < cs.n_obs; k++)
        calib_observer_free(&cs.obs[k]);
    free(cs.obs);
    free(cs.slot);
    return QUANTA_OK;

fail:
    runner_free(runner);
    if (cs.obs)
        for (int k = 0; k < cs.n_obs; k++)
            calib_observer_free(&cs.obs[k]);
    free(cs.obs);
    free(cs.slot);
    calib_table_free(out); /* names not yet set are NULL */
    return st;
}

enum quanta_status calib_run(const struct graph *g, struct data_feed *feed,
                             const struct calib_options *opt, struct calib_table *out,
                             struct quanta_error *err)
{
    return run(g, feed, opt, out, NULL, err);
}

enum quanta_status calib_run_auto(const struct graph *g, struct data_feed *feed,
                                  const struct calib_options *opt, struct calib_table *out,
                                  struct calib_auto_value **detail, struct quanta_error *err)
{
    struct calib_options o = *opt;
    o.method = CALIB_AUTO;
    *detail = NULL;
    return run(g, feed, &o, out, detail, err);
}

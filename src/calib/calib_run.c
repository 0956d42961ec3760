/* The calibration driver: streams a data set through the float runner and
 * feeds every float activation to its observer (runner hook), then asks the
 * method for each value's range. Memory: one batch of input, the runner's
 * arena, and one fixed-size observer per value. */
#include "quanta/calib.h"

#include <stdlib.h>
#include <string.h>

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

static bool is_integer_dtype(enum quanta_dtype dtype)
{
    return dtype == QUANTA_I32 || dtype == QUANTA_I64;
}

enum quanta_status calib_run(const struct graph *g, struct dataset *ds,
                             const struct calib_options *opt, struct calib_table *out,
                             struct quanta_error *err)
{
    memset(out, 0, sizeof *out);
    enum quanta_status st = calib_options_check(opt, err);
    if (st != QUANTA_OK)
        return st;
    if (g->n_inputs != 1)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: calibration needs a model with one input, '%s' has %d", ds->path,
                           g->name ? g->name : "graph", g->n_inputs);
    const struct graph_input *in = &g->inputs[0];
    const struct graph_value *iv = &g->values[in->value];
    if (is_integer_dtype(iv->dtype))
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: input '%s' takes integer ids (%s); calibration needs a float input",
                           ds->path, iv->name, quanta_dtype_name(iv->dtype));
    for (int i = 0; i < g->n_values; i++)
        if (g->values[i].quant.dtype != QUANTA_DTYPE_INVALID)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: value '%s' is already quantized; calibrate the float model",
                               ds->path, g->values[i].name);

    struct quanta_shape want = {.rank = iv->shape.rank > 0 ? iv->shape.rank - 1 : 0};
    for (int d = 1; d < iv->shape.rank; d++)
        want.dims[d - 1] = iv->shape.dims[d];
    if (!quanta_shape_equal(&ds->sample_shape, &want)) {
        char have_s[128], want_s[128];
        quanta_shape_format(&ds->sample_shape, have_s, sizeof have_s);
        quanta_shape_format(&want, want_s, sizeof want_s);
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: samples have shape %s but graph input '%s' needs %s",
                           ds->path, have_s, iv->name, want_s);
    }
    int64_t batch = opt->batch;
    bool fixed_batch = iv->shape.rank > 0 && iv->shape.dims[0] > 0;
    if (fixed_batch)
        batch = iv->shape.dims[0];
    int64_t samples = ds->n_samples;
    if (opt->samples > 0 && opt->samples < samples)
        samples = opt->samples;
    if (fixed_batch)
        samples -= samples % batch;
    if (samples < 1)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: holds no sample%s", ds->path,
                           fixed_batch ? " for the model's fixed batch size" : "");
    if (batch > samples)
        batch = samples;
    int64_t numel = quanta_shape_numel(&want);
    if (numel < 1 || (uint64_t)numel > SIZE_MAX / sizeof(float) / (uint64_t)batch)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: samples of '%s' are too large", ds->path, iv->name);

    struct calib_state cs = {0};
    struct runner *runner = NULL;
    float *buf = NULL;
    cs.slot = malloc((size_t)g->n_values * sizeof *cs.slot);
    cs.obs = calloc((size_t)g->n_values, sizeof *cs.obs);
    buf = malloc((size_t)numel * (size_t)batch * sizeof *buf);
    if (!cs.slot || !cs.obs || !buf) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for calibration of %s", ds->path);
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
    const void *inputs[1] = {buf};
    for (int64_t start = 0; start < samples; start += batch) {
        int64_t count = samples - start < batch ? samples - start : batch;
        st = dataset_read_f32(ds, start, count, in->has_normalize ? &in->normalize : NULL, buf, err);
        if (st != QUANTA_OK)
            goto fail;
        st = runner_run(runner, count, inputs, err);
        if (st != QUANTA_OK)
            goto fail;
    }
    runner_free(runner);
    runner = NULL;
    free(buf);
    buf = NULL;

    st = quanta_sha256_file(ds->path, out->data_sha256, err);
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
        st = calib_observer_range(o, opt, &cv->lo, &cv->hi, err);
        if (st != QUANTA_OK)
            goto fail;
    }
    for (int k = 0; k < cs.n_obs; k++)
        calib_observer_free(&cs.obs[k]);
    free(cs.obs);
    free(cs.slot);
    return QUANTA_OK;

fail:
    runner_free(runner);
    free(buf);
    if (cs.obs)
        for (int k = 0; k < cs.n_obs; k++)
            calib_observer_free(&cs.obs[k]);
    free(cs.obs);
    free(cs.slot);
    calib_table_free(out); /* names not yet set are NULL */
    return st;
}

/* Per-channel means of the inputs of conv2d and dense, for bias correction
 * (man quanta-quantize(1), BIAS CORRECTION): one more pass of the data
 * feed through the float runner, summing each channel (last axis) in
 * double over every sample and position. */
#include "quanta/calib.h"

#include <stdlib.h>
#include <string.h>

#include "quanta/runtime.h"

struct means_state {
    int *slot;                  /* per graph value: index in out or -1 */
    struct calib_means *out;
};

static void means_hook(void *ctx, const struct graph *g, int value, const float *data,
                       const struct quanta_shape *shape)
{
    (void)g;
    struct means_state *ms = ctx;
    int k = ms->slot[value];
    if (k < 0 || !data || shape->rank < 1)
        return;
    struct calib_channel_means *m = &ms->out->list[k];
    int64_t c = shape->dims[shape->rank - 1];
    if (c != m->channels)
        return;
    int64_t rows = c > 0 ? quanta_shape_numel(shape) / c : 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < c; j++)
            m->mean[j] += (double)data[r * c + j];
    m->count += rows;
}

void calib_means_free(struct calib_means *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n; i++) {
        free(m->list[i].name);
        free(m->list[i].mean);
    }
    free(m->list);
    memset(m, 0, sizeof *m);
}

bool calib_means_find(void *ctx, const char *value, int64_t *n, const double **mean)
{
    const struct calib_means *m = ctx;
    for (int i = 0; i < m->n; i++)
        if (strcmp(m->list[i].name, value) == 0 && m->list[i].count > 0) {
            *n = m->list[i].channels;
            *mean = m->list[i].mean;
            return true;
        }
    return false;
}

enum quanta_status calib_input_means(const struct graph *g, struct data_feed *feed, int threads,
                                     struct calib_means *out, struct quanta_error *err)
{
    memset(out, 0, sizeof *out);
    struct means_state ms = {.out = out};
    struct runner *runner = NULL;
    enum quanta_status st = QUANTA_OK;
    ms.slot = malloc(((size_t)g->n_values + 1) * sizeof *ms.slot);
    out->list = calloc((size_t)g->n_nodes + 1, sizeof *out->list);
    if (!ms.slot || !out->list)
        goto nomem;
    for (int v = 0; v < g->n_values; v++)
        ms.slot[v] = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        if ((n->op != GRAPH_OP_CONV2D && n->op != GRAPH_OP_DENSE) || n->n_inputs < 1)
            continue;
        int v = n->inputs[0];
        const struct quanta_shape *s = &g->values[v].shape;
        if (v < 0 || ms.slot[v] >= 0 || s->rank < 1 || s->dims[s->rank - 1] <= 0)
            continue;
        struct calib_channel_means *m = &out->list[out->n];
        m->channels = s->dims[s->rank - 1];
        m->name = strdup(g->values[v].name);
        m->mean = calloc((size_t)m->channels, sizeof *m->mean);
        ms.slot[v] = out->n++;
        if (!m->name || !m->mean)
            goto nomem;
    }
    struct runner_options ro = {.max_batch = feed->batch, .threads = threads};
    if ((st = runner_create(&runner, g, &ro, err)) != QUANTA_OK)
        goto fail;
    runner_set_hook(runner, means_hook, &ms);
    for (int64_t start = 0; start < feed->samples; start += feed->batch) {
        int64_t count = feed->samples - start < feed->batch ? feed->samples - start : feed->batch;
        if ((st = data_feed_read(feed, start, count, err)) != QUANTA_OK ||
            (st = runner_run(runner, count, data_feed_inputs(feed), err)) != QUANTA_OK)
            goto fail;
    }
    for (int i = 0; i < out->n; i++)
        for (int64_t j = 0; j < out->list[i].channels && out->list[i].count > 0; j++)
            out->list[i].mean[j] /= (double)out->list[i].count;
    runner_free(runner);
    free(ms.slot);
    return QUANTA_OK;
nomem:
    st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the input means of %s", feed->path);
fail:
    runner_free(runner);
    free(ms.slot);
    calib_means_free(out);
    return st;
}

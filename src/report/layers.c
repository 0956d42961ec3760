/* Per-layer comparison of two models run on the same batches (eval
 * --per-layer, the quantizer's check): through runner hooks, model 1's
 * value is kept while model 2 runs, then model 2's value is compared with
 * it. Also the check that runs a float model and its quantized copy on a
 * few samples of a data set. */
#include "report/report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/data.h"
#include "quant/quantize_file.h"
#include "report/detail.h"

void report_layers_free(struct report_layers *ls)
{
    for (int i = 0; i < ls->n; i++) {
        free(ls->list[i].ref);
        free(ls->list[i].hist);
    }
    free(ls->list);
    free(ls->of_value1);
    free(ls->of_value2);
    memset(ls, 0, sizeof *ls);
}

static void hook_model1(void *ctx, const struct graph *g, int value, const float *data,
                        const struct quanta_shape *shape);
static void hook_model2(void *ctx, const struct graph *g, int value, const float *data,
                        const struct quanta_shape *shape);

enum quanta_status report_layers_init(struct report_layers *ls, struct runner *r1,
                                      struct runner *r2, int64_t max_batch,
                                      struct quanta_error *err)
{
    memset(ls, 0, sizeof *ls);
    const struct graph *g1 = ls->g1 = runner_graph(r1), *g2 = ls->g2 = runner_graph(r2);
    ls->list = calloc((size_t)g1->n_values + 1, sizeof *ls->list);
    ls->of_value1 = malloc(((size_t)g1->n_values + 1) * sizeof *ls->of_value1);
    ls->of_value2 = malloc(((size_t)g2->n_values + 1) * sizeof *ls->of_value2);
    if (!ls->list || !ls->of_value1 || !ls->of_value2)
        goto nomem;
    for (int v = 0; v < g1->n_values; v++)
        ls->of_value1[v] = -1;
    for (int v = 0; v < g2->n_values; v++)
        ls->of_value2[v] = -1;
    for (int i = 0; i < g1->n_nodes; i++) {
        const struct graph_node *node = &g1->nodes[i];
        for (int o = 0; o < node->n_outputs; o++) {
            int v1 = node->outputs[o];
            int v2 = graph_find_value(g2, g1->values[v1].name);
            if (v2 < 0 || g2->values[v2].kind != GRAPH_VALUE_NODE || ls->of_value1[v1] >= 0)
                continue;
            struct quanta_shape s1 = graph_value_shape(g1, v1, 1);
            struct quanta_shape s2 = graph_value_shape(g2, v2, 1);
            int64_t n1 = quanta_shape_numel(&s1), n2 = quanta_shape_numel(&s2);
            if (n1 < 1 || n1 != n2)
                continue;
            struct report_layer *l = &ls->list[ls->n];
            l->value1 = v1;
            l->value2 = v2;
            l->per_sample = n1;
            l->ref_count = -1;
            if ((uint64_t)n1 > SIZE_MAX / sizeof(float) / (uint64_t)max_batch ||
                !(l->ref = malloc((size_t)n1 * (size_t)max_batch * sizeof(float))))
                goto nomem;
            ls->of_value1[v1] = ls->n;
            ls->of_value2[v2] = ls->n;
            ls->n++;
        }
    }
    runner_set_hook(r1, hook_model1, ls);
    runner_set_hook(r2, hook_model2, ls);
    return QUANTA_OK;
nomem:
    report_layers_free(ls);
    return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for per-layer buffers");
}

enum quanta_status report_layers_histograms(struct report_layers *ls, struct quanta_error *err)
{
    const struct graph *g2 = ls->g2;
    for (int i = 0; i < ls->n; i++) {
        struct report_layer *l = &ls->list[i];
        if (!l->hist && !(l->hist = malloc(sizeof *l->hist)))
            return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for histograms");
        double lo = NAN, hi = NAN;
        bool quantized = report_quant_range(&g2->values[l->value2].quant, &lo, &hi);
        /* A margin so that values just past the range show beside it
         * rather than doubling the histogram's range. */
        double margin = quantized ? (hi - lo) / 16.0 : 0.0;
        report_hist_init(l->hist, lo - margin, hi + margin);
        if (quantized)
            report_hist_set_clip(l->hist, lo, hi);
    }
    return QUANTA_OK;
}

static void hook_model1(void *ctx, const struct graph *g, int value, const float *data,
                        const struct quanta_shape *shape)
{
    struct report_layers *ls = ctx;
    if (g != ls->g1 || value < 0 || value >= g->n_values || ls->of_value1[value] < 0)
        return;
    struct report_layer *l = &ls->list[ls->of_value1[value]];
    int64_t n = quanta_shape_numel(shape);
    int64_t batch = shape->rank > 0 && shape->dims[0] > 0 ? shape->dims[0] : 1;
    if (n < 0 || n > l->per_sample * batch || n % l->per_sample != 0) {
        l->mismatch = true;
        l->ref_count = -1;
        return;
    }
    memcpy(l->ref, data, (size_t)n * sizeof *data);
    l->ref_count = n;
    /* A histogram without a given range takes the first sample's, so the
     * batch size does not change it. */
    if (l->hist && n > 0) {
        report_hist_add(l->hist, data, (size_t)l->per_sample);
        report_hist_add(l->hist, data + l->per_sample, (size_t)(n - l->per_sample));
    }
}

static void hook_model2(void *ctx, const struct graph *g, int value, const float *data,
                        const struct quanta_shape *shape)
{
    struct report_layers *ls = ctx;
    if (g != ls->g2 || value < 0 || value >= g->n_values || ls->of_value2[value] < 0)
        return;
    struct report_layer *l = &ls->list[ls->of_value2[value]];
    int64_t n = quanta_shape_numel(shape);
    if (l->ref_count < 0 || n != l->ref_count) {
        l->mismatch = true;
        return;
    }
    report_sqnr_add(&l->sqnr, l->ref, data, (size_t)n);
    l->ref_count = -1;
}

enum quanta_status report_check_quantized(const struct graph *fg, const struct graph *qg,
                                          struct data_feed *feed, struct report_layers *ls,
                                          struct quanta_error *err)
{
    memset(ls, 0, sizeof *ls);
    struct runner *r1 = NULL, *r2 = NULL;
    /* Not optimized: the runners run fg and qg themselves, so the indices
     * of ls stay valid once the runners are freed. */
    struct runner_options ro = {.max_batch = feed->batch, .threads = 0};
    enum quanta_status st = runner_create(&r1, fg, &ro, err);
    if (st == QUANTA_OK)
        st = runner_create(&r2, qg, &ro, err);
    if (st == QUANTA_OK)
        st = report_layers_init(ls, r1, r2, feed->batch, err);
    for (int64_t start = 0; st == QUANTA_OK && start < feed->samples; start += feed->batch) {
        int64_t count = feed->samples - start < feed->batch ? feed->samples - start : feed->batch;
        st = data_feed_read(feed, start, count, err);
        if (st == QUANTA_OK)
            st = runner_run(r1, count, data_feed_inputs(feed), err);
        if (st == QUANTA_OK)
            st = runner_run(r2, count, data_feed_inputs(feed), err);
    }
    runner_free(r1);
    runner_free(r2);
    if (st != QUANTA_OK)
        report_layers_free(ls);
    return st;
}

enum quanta_status report_quantize_compare(void *ctx, const struct graph *fg,
                                           const struct graph *qg, struct data_feed *feed,
                                           struct quantize_file_layer **layers, int *n,
                                           struct quanta_error *err)
{
    (void)ctx;
    struct report_layers ls;
    *layers = NULL;
    *n = 0;
    enum quanta_status st = report_check_quantized(fg, qg, feed, &ls, err);
    if (st != QUANTA_OK)
        return st;
    *layers = calloc(ls.n > 0 ? (size_t)ls.n : 1, sizeof **layers);
    if (!*layers) {
        report_layers_free(&ls);
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory comparing the layers");
    }
    /* layers name values of fg as given (the runner's graph may be a copy) */
    for (int i = 0; i < ls.n; i++) {
        int v = graph_find_value(fg, ls.g1->values[ls.list[i].value1].name);
        if (v < 0)
            continue;
        (*layers)[(*n)++] = (struct quantize_file_layer){
            .value = v, .mismatch = ls.list[i].mismatch,
            .sqnr_db = report_sqnr_db(&ls.list[i].sqnr)};
    }
    report_layers_free(&ls);
    return QUANTA_OK;
}

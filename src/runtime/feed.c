/* Streaming a data file into a graph's inputs (run, eval, calibrate,
 * quantize's check): one dataset per graph input, checked against the
 * input shapes, read batch by batch into buffers sized for one batch. */
#include "quanta/feed.h"
#include "base/progress.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_integer_input(enum quanta_dtype dtype)
{
    return dtype == QUANTA_I32 || dtype == QUANTA_I64;
}

/* Whether every value of data dtype from is a value of the declared type
 * to. F32 inputs take any numeric data, as they always have (F64 rounded
 * to nearest, integers above 2^24 rounded). */
static bool converts_exactly(enum quanta_dtype from, enum quanta_dtype to)
{
    if (from == to || to == QUANTA_F32 || from == QUANTA_BOOL)
        return true;
    switch (to) {
    case QUANTA_F64:
        return from != QUANTA_I64 && from != QUANTA_U64;
    case QUANTA_F16:
    case QUANTA_BF16:
    case QUANTA_I16:
        return from == QUANTA_U8 || from == QUANTA_I8;
    case QUANTA_U16:
        return from == QUANTA_U8;
    default:
        return false;
    }
}

/* Ids and values must not be mixed up: an id input takes integer data only
 * (float data, whole or not, is the wrong file), and an F32 input does not
 * take I32/I64 data (ids; 8- and 16-bit integers are pixels and samples,
 * normalized as they are read; other declared types are converts_exactly's
 * business). The message names the first value. */
static enum quanta_status check_kind(struct data_feed *feed, int i, struct quanta_error *err)
{
    const struct graph_value *v = &feed->graph->values[feed->graph->inputs[i].value];
    struct dataset *ds = feed->datasets[i];
    bool ids = is_integer_input(v->dtype), float_data = quanta_dtype_is_float(ds->dtype);
    if (ids ? !float_data
            : !is_integer_input(ds->dtype) || graph_input_dtype(feed->graph, i) != QUANTA_F32)
        return QUANTA_OK;
    if (ds->n_samples < 1 || quanta_shape_numel(&ds->sample_shape) < 1)
        return QUANTA_OK; /* nothing to misread */
    float *first = feed->buffers[i]; /* a batch of int64 or float: room for a sample */
    enum quanta_status st = dataset_read_f32(ds, 0, 1, NULL, first, err);
    if (st != QUANTA_OK)
        return st;
    if (ids)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "%s: sample 0 element 0 is %g, %s data, but input '%s' takes integer "
                           "ids (%s): store the ids as integers", feed->path, (double)first[0],
                           quanta_dtype_name(ds->dtype), v->name, quanta_dtype_name(v->dtype));
    return quanta_fail(err, QUANTA_ERR_INPUT,
                       "%s: sample 0 element 0 is %.0f, %s data (ids?), but input '%s' takes %s "
                       "values: store them as floats", feed->path, (double)first[0],
                       quanta_dtype_name(ds->dtype), v->name, quanta_dtype_name(v->dtype));
}

/* Opens the dataset for graph input i: by the input's name first (a
 * safetensors data file with a tensor per input), else, for a graph with a
 * single input, the file's only samples tensor. */
static enum quanta_status open_input(struct dataset **ds, const struct graph *g, int i,
                                     const char *path, struct quanta_error *err)
{
    const char *name = g->values[g->inputs[i].value].name;
    enum quanta_status st = dataset_open(ds, path, name, err);
    if (st != QUANTA_ERR_INPUT || g->n_inputs != 1)
        return st;
    struct quanta_error second;
    quanta_error_clear(&second);
    if (dataset_open(ds, path, NULL, &second) == QUANTA_OK) {
        quanta_error_clear(err);
        return QUANTA_OK;
    }
    return st; /* the first message, which names the input */
}

/* With --layout nchw: samples [C, H, W] for a graph input [N, H, W, C]. */
static bool nchw_samples(const struct dataset *ds, const struct graph_value *v,
                         const struct quanta_shape *want)
{
    const struct quanta_shape *s = &ds->sample_shape;
    return v->shape.rank == 4 && s->rank == 3 && !quanta_shape_equal(s, want) &&
           s->dims[0] == v->shape.dims[3] && s->dims[1] == v->shape.dims[1] &&
           s->dims[2] == v->shape.dims[2];
}

/* The ids an embedding reads straight from an input index its table's
 * rows: checking them here lets the error name the file and the sample,
 * which the runner (seeing one batch) cannot. */
static void find_id_limits(struct data_feed *feed)
{
    const struct graph *g = feed->graph;
    for (int i = 0; i < g->n_inputs; i++) {
        feed->id_reader[i] = -1;
        if (!feed->integer[i])
            continue;
        for (int k = 0; k < g->n_nodes; k++) {
            const struct graph_node *nd = &g->nodes[k];
            if ((nd->op != GRAPH_OP_EMBEDDING && nd->op != GRAPH_OP_EMBEDDING_BAG) ||
                nd->n_inputs < 2 || nd->inputs[0] != g->inputs[i].value || nd->inputs[1] < 0)
                continue;
            int64_t rows = g->values[nd->inputs[1]].shape.dims[0];
            if (rows > 0 && (feed->id_limit[i] == 0 || rows < feed->id_limit[i])) {
                feed->id_limit[i] = rows;
                feed->id_reader[i] = k;
            }
        }
    }
}

static enum quanta_status check_ids(const struct data_feed *feed, int i, int64_t start,
                                    int64_t count, struct quanta_error *err)
{
    int64_t limit = feed->id_limit[i];
    if (limit <= 0)
        return QUANTA_OK;
    const int64_t *ids = feed->buffers[i];
    int64_t per = count > 0 ? quanta_shape_numel(&feed->datasets[i]->sample_shape) : 0;
    for (int64_t k = 0; k < count * per; k++)
        if (ids[k] < 0 || ids[k] >= limit) {
            const struct graph *g = feed->graph;
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: sample %lld of '%s' holds id %lld, outside [0, %lld) of "
                               "node '%s' (%s)",
                               feed->path, (long long)(start + k / per),
                               g->values[g->inputs[i].value].name, (long long)ids[k],
                               (long long)limit, g->nodes[feed->id_reader[i]].name,
                               graph_op_name(g->nodes[feed->id_reader[i]].op));
        }
    return QUANTA_OK;
}

const char *data_feed_skipped_note(const struct data_feed *feed, char *buf, size_t size)
{
    if (size > 0)
        buf[0] = '\0';
    if (feed->skipped > 0)
        snprintf(buf, size, "%s: the last %lld samples are not run: the model's input has a "
                            "fixed batch size of %lld, and it runs whole batches only",
                 feed->path, (long long)feed->skipped, (long long)feed->batch);
    return buf;
}

enum quanta_status data_feed_open(struct data_feed *feed, const struct graph *g,
                                        const char *path, int64_t limit, int64_t batch,
                                        enum quanta_layout layout, struct quanta_error *err)
{
    enum quanta_status st;
    memset(feed, 0, sizeof *feed);
    feed->graph = g;
    feed->path = path;
    feed->n_inputs = g->n_inputs;
    if (g->n_inputs < 1)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: the graph has no input", path);
    size_t n = (size_t)g->n_inputs;
    feed->datasets = calloc(n, sizeof *feed->datasets);
    feed->buffers = calloc(n, sizeof *feed->buffers);
    feed->integer = calloc(n, sizeof *feed->integer);
    feed->id_limit = calloc(n, sizeof *feed->id_limit);
    feed->id_reader = calloc(n, sizeof *feed->id_reader);
    if (!feed->datasets || !feed->buffers || !feed->integer || !feed->id_limit ||
        !feed->id_reader) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory opening %s", path);
        goto fail;
    }
    feed->batch = batch;
    feed->samples = -1;
    bool fixed_batch = false;
    for (int i = 0; i < g->n_inputs; i++) {
        const struct graph_value *v = &g->values[g->inputs[i].value];
        if (v->shape.rank > 0 && v->shape.dims[0] > 0) { /* a fixed batch size */
            feed->batch = v->shape.dims[0];
            fixed_batch = true;
        }
    }
    for (int i = 0; i < g->n_inputs; i++) {
        const struct graph_value *v = &g->values[g->inputs[i].value];
        st = open_input(&feed->datasets[i], g, i, path, err);
        if (st != QUANTA_OK)
            goto fail;
        struct dataset *ds = feed->datasets[i];
        enum quanta_dtype declared = graph_input_dtype(g, i);
        if (!is_integer_input(v->dtype) && !converts_exactly(ds->dtype, declared)) {
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: samples of '%s' are %s but the model declares %s; %s does not "
                             "convert exactly to %s",
                             path, v->name, quanta_dtype_name(ds->dtype),
                             quanta_dtype_name(declared), quanta_dtype_name(ds->dtype),
                             quanta_dtype_name(declared));
            goto fail;
        }
        struct quanta_shape want = {.rank = v->shape.rank > 0 ? v->shape.rank - 1 : 0};
        for (int d = 1; d < v->shape.rank; d++)
            want.dims[d - 1] = v->shape.dims[d];
        if (layout == QUANTA_LAYOUT_NCHW && !is_integer_input(v->dtype) &&
            nchw_samples(ds, v, &want)) {
            int64_t numel = quanta_shape_numel(&want);
            if (!feed->nchw && !(feed->nchw = calloc(n, sizeof *feed->nchw))) {
                st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory opening %s", path);
                goto fail;
            }
            feed->nchw[i] = true;
            free(feed->scratch);
            feed->scratch = NULL;
            if ((uint64_t)numel <= SIZE_MAX / sizeof(float) / (uint64_t)feed->batch)
                feed->scratch = malloc((size_t)numel * sizeof(float) * (size_t)feed->batch + 1);
            if (!feed->scratch) {
                st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for a batch of %s", path);
                goto fail;
            }
        } else if (!quanta_shape_equal(&ds->sample_shape, &want)) {
            char have_s[128], want_s[128];
            quanta_shape_format(&ds->sample_shape, have_s, sizeof have_s);
            quanta_shape_format(&want, want_s, sizeof want_s);
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "%s: samples have shape %s but graph input '%s' needs %s%s", path,
                             have_s, v->name, want_s,
                             layout == QUANTA_LAYOUT_NHWC && nchw_samples(ds, v, &want)
                                 ? " (NCHW data: use --layout nchw)" : "");
            goto fail;
        }
        feed->integer[i] = is_integer_input(v->dtype);
        if (feed->samples < 0 || ds->n_samples < feed->samples)
            feed->samples = ds->n_samples;
        int64_t numel = quanta_shape_numel(&want);
        size_t elem = feed->integer[i] ? sizeof(int64_t) : sizeof(float);
        if (numel < 0 || (uint64_t)numel > SIZE_MAX / elem / (uint64_t)feed->batch) {
            st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: samples of '%s' are too large", path,
                             v->name);
            goto fail;
        }
        feed->buffers[i] = malloc((size_t)numel * elem * (size_t)feed->batch + 1);
        if (!feed->buffers[i]) {
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for a batch of %s", path);
            goto fail;
        }
        if ((st = check_kind(feed, i, err)) != QUANTA_OK)
            goto fail;
    }
    find_id_limits(feed);
    if (limit > 0 && limit < feed->samples)
        feed->samples = limit;
    if (fixed_batch) { /* a fixed batch size runs whole batches only */
        feed->skipped = feed->samples % feed->batch;
        feed->samples -= feed->skipped;
    }
    if (feed->samples < 1) {
        st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: holds no sample", path);
        goto fail;
    }
    return QUANTA_OK;
fail:
    data_feed_close(feed);
    return st;
}

/* Input i from NCHW samples: raw values, transposed to NHWC, then
 * normalized (integer data only) with c the channel. */
static enum quanta_status read_nchw(struct data_feed *feed, int i, int64_t start, int64_t count,
                                   struct quanta_error *err)
{
    const struct graph_input *in = &feed->graph->inputs[i];
    const struct quanta_shape *s = &feed->graph->values[in->value].shape;
    int64_t h = s->dims[1], w = s->dims[2], c = s->dims[3], per = h * w * c;
    struct dataset *ds = feed->datasets[i];
    enum quanta_status st = dataset_read_f32(ds, start, count, NULL, feed->scratch, err);
    if (st != QUANTA_OK)
        return st;
    float *out = feed->buffers[i];
    const struct quanta_normalize *nz = in->has_normalize && !quanta_dtype_is_float(ds->dtype)
                                            ? &in->normalize : NULL;
    for (int64_t k = 0; k < count; k++)
        for (int64_t y = 0; y < h; y++)
            for (int64_t x = 0; x < w; x++)
                for (int64_t ch = 0; ch < c; ch++) {
                    float v = feed->scratch[k * per + (ch * h + y) * w + x];
                    if (nz) {
                        double mean = nz->n_mean == 0 ? 0.0 : nz->mean[nz->n_mean == 1 ? 0 : ch];
                        double sd = nz->n_std == 0 ? 1.0 : nz->std[nz->n_std == 1 ? 0 : ch];
                        v = (float)(((double)v * nz->scale - mean) / sd);
                    }
                    out[k * per + (y * w + x) * c + ch] = v;
                }
    return QUANTA_OK;
}

enum quanta_status data_feed_read(struct data_feed *feed, int64_t start, int64_t count,
                                 struct quanta_error *err)
{
    for (int i = 0; i < feed->n_inputs; i++) {
        const struct graph_input *in = &feed->graph->inputs[i];
        enum quanta_status st;
        if (feed->integer[i]) {
            st = dataset_read_i64(feed->datasets[i], start, count, feed->buffers[i], err);
            if (st == QUANTA_OK)
                st = check_ids(feed, i, start, count, err);
        }
        else if (feed->nchw && feed->nchw[i])
            st = read_nchw(feed, i, start, count, err);
        else
            st = dataset_read_f32(feed->datasets[i], start, count,
                                  in->has_normalize ? &in->normalize : NULL, feed->buffers[i],
                                  err);
        if (st != QUANTA_OK)
            return st;
    }
    progress_show(feed->progress, start + count, feed->samples);
    return QUANTA_OK;
}

void data_feed_close(struct data_feed *feed)
{
    for (int i = 0; i < feed->n_inputs; i++) {
        if (feed->datasets)
            dataset_close(feed->datasets[i]);
        if (feed->buffers)
            free(feed->buffers[i]);
    }
    free(feed->datasets);
    free(feed->buffers);
    free(feed->integer);
    free(feed->id_limit);
    free(feed->id_reader);
    free(feed->nchw);
    free(feed->scratch);
    memset(feed, 0, sizeof *feed);
}

static bool float_lists_equal(int na, const float *a, int nb, const float *b)
{
    if (na != nb)
        return false;
    for (int i = 0; i < na; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

bool data_feed_shared(const struct graph *a, const struct graph *b)
{
    if (a->n_inputs != b->n_inputs)
        return false;
    for (int i = 0; i < a->n_inputs; i++) {
        const struct graph_input *ia = &a->inputs[i], *ib = &b->inputs[i];
        const struct graph_value *va = &a->values[ia->value], *vb = &b->values[ib->value];
        if (strcmp(va->name, vb->name) != 0 || va->dtype != vb->dtype ||
            graph_input_dtype(a, i) != graph_input_dtype(b, i) ||
            !quanta_shape_equal(&va->shape, &vb->shape) ||
            ia->has_normalize != ib->has_normalize)
            return false;
        if (ia->has_normalize) {
            const struct quanta_normalize *na = &ia->normalize, *nb = &ib->normalize;
            if (na->scale != nb->scale ||
                !float_lists_equal(na->n_mean, na->mean, nb->n_mean, nb->mean) ||
                !float_lists_equal(na->n_std, na->std, nb->n_std, nb->std))
                return false;
        }
    }
    return true;
}


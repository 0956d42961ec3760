/* quanta inspect's report gathered: the model opened (and optimized when
 * asked), every tensor's statistics, the activation memory a runner plans
 * for one sample. Printing is inspect_print.c's. */
#include "report/inspect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>


static enum quanta_status tensor_stats(const struct st_tensor *t, struct report_tensor_stats *s,
                                       struct quanta_error *err)
{
    enum { CHUNK = 4096 };
    size_t elem = quanta_dtype_size(t->dtype);
    int64_t numel = quanta_shape_numel(&t->shape);
    memset(s, 0, sizeof *s);
    s->min = s->max = s->mean = s->std = NAN;
    if (numel <= 0 || elem == 0)
        return QUANTA_OK;
    float *buf = malloc(CHUNK * sizeof *buf);
    if (!buf)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory reading tensor '%s'", t->name);
    double sum = 0.0, sumsq = 0.0, min = INFINITY, max = -INFINITY;
    bool nan_seen = false;
    const uint8_t *src = t->data;
    for (int64_t done = 0; done < numel; done += CHUNK) {
        size_t n = (size_t)(numel - done < CHUNK ? numel - done : CHUNK);
        if (t->dtype == QUANTA_I4) { /* packed rows along the last axis */
            int64_t d = t->shape.rank > 0 ? t->shape.dims[t->shape.rank - 1] : 1;
            uint64_t row = quanta_dtype_row_bytes(QUANTA_I4, d);
            for (size_t i = 0; i < n; i++) {
                int64_t k = done + (int64_t)i;
                buf[i] = (float)quanta_i4_get(src + (uint64_t)(k / d) * row, k % d);
            }
        } else {
            quanta_convert_to_f32(t->dtype, src + (size_t)done * elem, buf, n);
        }
        for (size_t i = 0; i < n; i++) {
            double v = buf[i];
            if (isnan(v)) {
                nan_seen = true;
                continue;
            }
            sum += v;
            sumsq += v * v;
            if (v < min)
                min = v;
            if (v > max)
                max = v;
        }
    }
    free(buf);
    s->count = numel;
    if (nan_seen) /* NaN anywhere: every statistic is NaN, shown as such */
        return QUANTA_OK;
    s->min = min;
    s->max = max;
    s->mean = sum / (double)numel;
    double var = sumsq / (double)numel - s->mean * s->mean;
    s->std = sqrt(var > 0.0 ? var : 0.0);
    return QUANTA_OK;
}

/* Short text of a value's quantization parameters, "" for a float value. */
enum quanta_status report_inspect_open(struct report_inspect *in, const char *path,
                                       bool optimized, struct quanta_error *err)
{
    memset(in, 0, sizeof *in);
    in->path = path;
    enum quanta_status st = model_open(&in->model, path, err);
    if (st != QUANTA_OK)
        return st;
    const struct st_file *f = &in->model.file;
    struct stat sb;
    in->file_bytes = stat(path, &sb) == 0 ? (int64_t)sb.st_size : (int64_t)f->map_size;
    in->stats = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *in->stats);
    if (!in->stats) {
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory inspecting %s", path);
    }
    for (size_t i = 0; i < f->n_tensors; i++) {
        if ((st = tensor_stats(&f->tensors[i], &in->stats[i], err)) != QUANTA_OK)
            return st;
        in->parameters += quanta_shape_numel(&f->tensors[i].shape);
    }
    if (optimized && in->model.has_graph) {
        struct graph g;
        if ((st = graph_optimize(&in->model.graph, NULL, &g, &in->log, in->path, err)))
            return st;
        graph_free(&in->model.graph);
        in->model.graph = g;
        in->optimized = true;
    }
    if (in->model.has_graph) {
        struct runner *r = NULL;
        struct runner_options ro = {.max_batch = 1, .threads = 1};
        struct quanta_error rerr;
        quanta_error_clear(&rerr);
        if (runner_create(&r, &in->model.graph, &ro, &rerr) == QUANTA_OK) {
            in->arena_known = true;
            in->arena_bytes = runner_arena_size(r);
            runner_free(r);
        } else {
            snprintf(in->arena_error, sizeof in->arena_error, "%s", rerr.message);
        }
    }
    return QUANTA_OK;
}

void report_inspect_close(struct report_inspect *in)
{
    free(in->stats);
    graph_optimize_log_free(&in->log);
    model_close(&in->model);
    memset(in, 0, sizeof *in);
}

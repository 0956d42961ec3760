/* Helpers shared by the model rewrites: copying values, nodes and the
 * graph's inputs and outputs from one graph to another. */
#include "quant/quantize_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *qz_unique_name(const struct graph *a, const struct graph *b, const char *base,
                     const char *suffix)
{
    size_t size = strlen(base) + strlen(suffix) + 24;
    char *name = malloc(size);
    if (!name)
        return NULL;
    snprintf(name, size, "%s%s", base, suffix);
    for (unsigned k = 2; graph_find_value(a, name) >= 0 || (b && graph_find_value(b, name) >= 0);
         k++)
        snprintf(name, size, "%s%s%u", base, suffix, k);
    return name;
}

int qz_copy_value(struct graph *out, const struct graph *src, int v, const char *name)
{
    const struct graph_value *s = &src->values[v];
    int i = graph_add_value(out, name ? name : s->name, s->kind, s->dtype, &s->shape);
    if (i < 0)
        return -1;
    out->values[i].data = s->data;
    out->values[i].owned = NULL;
    out->values[i].producer = -1;
    out->values[i].quant.dtype = QUANTA_DTYPE_INVALID;
    return i;
}

int qz_add_owned_const(struct graph *out, const char *name, enum quanta_dtype dtype,
                       const struct quanta_shape *shape, void *data)
{
    int i = graph_add_value(out, name, GRAPH_VALUE_CONST, dtype, shape);
    if (i < 0) {
        free(data);
        return -1;
    }
    out->values[i].data = data;
    out->values[i].owned = data;
    out->values[i].producer = -1;
    out->values[i].quant.dtype = QUANTA_DTYPE_INVALID;
    return i;
}

int qz_add_node_like(struct graph *out, const struct graph_node *node, const char *name,
                     const int *ins, int n_ins, const int *outs, int n_outs)
{
    int k = graph_add_node(out, node->op, name ? name : node->name, ins, n_ins, outs, n_outs);
    if (k < 0)
        return -1;
    out->nodes[k].attrs = node->attrs;
    for (int o = 0; o < n_outs; o++)
        out->values[outs[o]].producer = k;
    return k;
}

void qz_quant_per_tensor(struct graph_quant *q, enum quanta_dtype dtype, float scale,
                         int32_t zero_point)
{
    q->dtype = dtype;
    q->axis = -1;
    q->n = 1;
    q->scale = scale;
    q->zero_point = zero_point;
    q->scales = &q->scale;
    q->zero_points = &q->zero_point;
}

void qz_fix_quant_pointers(struct graph *g)
{
    for (int v = 0; v < g->n_values; v++) {
        struct graph_quant *q = &g->values[v].quant;
        if (q->dtype != QUANTA_DTYPE_INVALID && q->axis < 0) {
            q->n = 1;
            q->scales = &q->scale;
            q->zero_points = &q->zero_point;
        }
    }
}

enum quanta_status qz_copy_graph_header(struct graph *out, const struct graph *src,
                                        const int *input_map, struct quanta_error *err)
{
    if (src->name && !(out->name = strdup(src->name)))
        goto nomem;
    if (src->n_inputs > 0) {
        out->inputs = calloc((size_t)src->n_inputs, sizeof *out->inputs);
        if (!out->inputs)
            goto nomem;
    }
    out->n_inputs = src->n_inputs;
    for (int i = 0; i < src->n_inputs; i++) {
        const struct graph_input *s = &src->inputs[i];
        struct graph_input *d = &out->inputs[i];
        d->value = input_map[i];
        d->data_dtype = s->data_dtype;
        d->has_normalize = s->has_normalize;
        d->normalize.scale = s->normalize.scale;
        if (s->normalize.n_mean > 0) {
            float *mean = malloc((size_t)s->normalize.n_mean * sizeof *mean);
            if (!mean)
                goto nomem;
            memcpy(mean, s->normalize.mean, (size_t)s->normalize.n_mean * sizeof *mean);
            d->normalize.mean = mean;
            d->normalize.n_mean = s->normalize.n_mean;
        }
        if (s->normalize.n_std > 0) {
            float *std = malloc((size_t)s->normalize.n_std * sizeof *std);
            if (!std)
                goto nomem;
            memcpy(std, s->normalize.std, (size_t)s->normalize.n_std * sizeof *std);
            d->normalize.std = std;
            d->normalize.n_std = s->normalize.n_std;
        }
    }
    return QUANTA_OK;
nomem:
    return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory copying the graph");
}

enum quanta_status qz_set_outputs(struct graph *out, const int *values, int n,
                                  struct quanta_error *err)
{
    if (n > 0) {
        out->outputs = malloc((size_t)n * sizeof *out->outputs);
        if (!out->outputs)
            return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory copying the graph");
        memcpy(out->outputs, values, (size_t)n * sizeof *values);
    }
    out->n_outputs = n;
    return QUANTA_OK;
}

float *qz_const_to_f32(const struct graph_value *v)
{
    int64_t n = quanta_shape_numel(&v->shape);
    if (n < 0)
        return NULL;
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    if (!f)
        return NULL;
    quanta_convert_to_f32(v->dtype, v->data, f, (size_t)n);
    return f;
}

int *qz_count_readers(const struct graph *g)
{
    int *readers = calloc((size_t)(g->n_values > 0 ? g->n_values : 1), sizeof *readers);
    if (!readers)
        return NULL;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0)
                readers[g->nodes[i].inputs[k]]++;
    for (int o = 0; o < g->n_outputs; o++)
        readers[g->outputs[o]]++;
    return readers;
}

bool qz_is_excluded(const char *name, const char *const *exclude, int n_exclude)
{
    for (int i = 0; i < n_exclude; i++)
        if (name && strcmp(name, exclude[i]) == 0)
            return true;
    return false;
}

void qz_steal_owned(struct graph *to, struct graph *from)
{
    for (int v = 0; v < to->n_values; v++) {
        struct graph_value *t = &to->values[v];
        if (t->kind != GRAPH_VALUE_CONST || t->owned || !t->data)
            continue;
        for (int u = 0; u < from->n_values; u++)
            if (from->values[u].owned && from->values[u].owned == t->data) {
                t->owned = from->values[u].owned;
                from->values[u].owned = NULL;
                break;
            }
    }
}

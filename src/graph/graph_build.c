/* Building and tearing down struct graph: values, nodes, look-ups. */
#include "graph/graph_internal.h"

#include <stdlib.h>
#include <string.h>

void graph_fix_quant_pointers(struct graph *g)
{
    for (int v = 0; v < g->n_values; v++) {
        struct graph_quant *q = &g->values[v].quant;
        if (q->dtype != QUANTA_DTYPE_INVALID && q->axis == -1) {
            q->n = 1;
            q->scales = &q->scale;
            q->zero_points = &q->zero_point;
        }
    }
}

int graph_add_value(struct graph *g, const char *name, enum graph_value_kind kind,
                    enum quanta_dtype dtype, const struct quanta_shape *shape)
{
    if (g->n_values == INT32_MAX)
        return -1;
    char *copy = strdup(name);
    struct graph_value *values =
        copy ? realloc(g->values, ((size_t)g->n_values + 1) * sizeof *values) : NULL;
    if (!values) {
        free(copy);
        return -1;
    }
    g->values = values;
    graph_fix_quant_pointers(g); /* the array may have moved */
    struct graph_value *v = &values[g->n_values];
    memset(v, 0, sizeof *v);
    v->name = copy;
    v->kind = kind;
    v->dtype = dtype;
    if (shape)
        v->shape = *shape;
    v->producer = -1;
    v->last_use = -1;
    v->quant.dtype = QUANTA_DTYPE_INVALID;
    v->quant.axis = -1;
    return g->n_values++;
}

int graph_add_node(struct graph *g, enum graph_op op, const char *name, const int *inputs,
                   int n_inputs, const int *outputs, int n_outputs)
{
    if ((unsigned)op >= GRAPH_OP_COUNT || n_inputs < 0 || n_outputs < 0 ||
        g->n_nodes == INT32_MAX)
        return -1;
    char *copy = strdup(name);
    int *in = malloc(((size_t)n_inputs + 1) * sizeof *in);
    int *out = malloc(((size_t)n_outputs + 1) * sizeof *out);
    struct graph_node *nodes =
        copy && in && out ? realloc(g->nodes, ((size_t)g->n_nodes + 1) * sizeof *nodes) : NULL;
    if (!nodes) {
        free(copy);
        free(in);
        free(out);
        return -1;
    }
    g->nodes = nodes;
    if (n_inputs)
        memcpy(in, inputs, (size_t)n_inputs * sizeof *in);
    if (n_outputs)
        memcpy(out, outputs, (size_t)n_outputs * sizeof *out);
    struct graph_node *n = &nodes[g->n_nodes];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = copy;
    n->n_inputs = n_inputs;
    n->inputs = in;
    n->n_outputs = n_outputs;
    n->outputs = out;
    graph_attrs_default_op(&n->attrs, op);
    for (int i = 0; i < n_outputs; i++)
        if (out[i] >= 0 && out[i] < g->n_values)
            g->values[out[i]].producer = g->n_nodes;
    return g->n_nodes++;
}

int graph_find_value(const struct graph *g, const char *name)
{
    for (int v = 0; v < g->n_values; v++)
        if (strcmp(g->values[v].name, name) == 0)
            return v;
    return -1;
}

enum quanta_dtype graph_input_dtype(const struct graph *g, int i)
{
    const struct graph_input *in = &g->inputs[i];
    return in->data_dtype != QUANTA_DTYPE_INVALID ? in->data_dtype : g->values[in->value].dtype;
}

int graph_find_const_data(const struct graph *g, const void *ptr)
{
    if (!ptr)
        return -1;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == GRAPH_VALUE_CONST && g->values[v].data == ptr)
            return v;
    return -1;
}

struct quanta_shape graph_value_shape(const struct graph *g, int v, int64_t batch)
{
    struct quanta_shape s = g->values[v].shape;
    if (s.rank > 0 && s.dims[0] == -1)
        s.dims[0] = batch;
    return s;
}

bool graph_value_sample_shape(const struct graph *g, int v, int64_t batch,
                              struct quanta_shape *sample)
{
    const struct quanta_shape *s = &g->values[v].shape;
    if (s->rank < 1 || (s->dims[0] != -1 && s->dims[0] != batch))
        return false;
    sample->rank = s->rank - 1;
    memcpy(sample->dims, s->dims + 1, (size_t)sample->rank * sizeof sample->dims[0]);
    return true;
}

bool graph_quant_dtype_range(enum quanta_dtype dtype, int64_t *lo, int64_t *hi)
{
    switch (dtype) {
    case QUANTA_I8: *lo = INT8_MIN; *hi = INT8_MAX; return true;
    case QUANTA_U8: *lo = 0; *hi = UINT8_MAX; return true;
    case QUANTA_I32: *lo = INT32_MIN; *hi = INT32_MAX; return true;
    case QUANTA_I4: *lo = -8; *hi = 7; return true;
    default: return false;
    }
}

/* Marks CONST value v (and its per-channel parameter tensors) as saved. */
static void mark_const(const struct graph *g, int v, bool *used, int *order, int *n)
{
    if (v < 0 || v >= g->n_values)
        return;
    const struct graph_value *val = &g->values[v];
    if (val->kind == GRAPH_VALUE_CONST && !used[v]) {
        used[v] = true;
        order[(*n)++] = v;
    }
    if (val->quant.dtype != QUANTA_DTYPE_INVALID && val->quant.axis >= 0) {
        mark_const(g, graph_find_const_data(g, val->quant.scales), used, order, n);
        mark_const(g, graph_find_const_data(g, val->quant.zero_points), used, order, n);
    }
}

int graph_saved_consts(const struct graph *g, bool *used, int *order)
{
    int n = 0;
    memset(used, 0, (size_t)g->n_values * sizeof *used);
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *node = &g->nodes[i];
        for (int k = 0; k < node->n_inputs; k++)
            mark_const(g, node->inputs[k], used, order, &n);
        for (int k = 0; k < node->n_outputs; k++)
            mark_const(g, node->outputs[k], used, order, &n);
    }
    for (int i = 0; i < g->n_outputs; i++)
        mark_const(g, g->outputs[i], used, order, &n);
    return n;
}

static void *memdup(const void *p, size_t size)
{
    void *q = malloc(size ? size : 1);
    if (q && size)
        memcpy(q, p, size);
    return q;
}

enum quanta_status graph_copy(struct graph *out, const struct graph *src,
                              struct quanta_error *err)
{
    memset(out, 0, sizeof *out);
    out->name = src->name ? strdup(src->name) : NULL;
    out->values = calloc((size_t)src->n_values + 1, sizeof *out->values);
    out->nodes = calloc((size_t)src->n_nodes + 1, sizeof *out->nodes);
    out->inputs = calloc((size_t)src->n_inputs + 1, sizeof *out->inputs);
    out->outputs = memdup(src->outputs, (size_t)src->n_outputs * sizeof *src->outputs);
    if ((src->name && !out->name) || !out->values || !out->nodes || !out->inputs || !out->outputs)
        goto nomem;
    out->n_outputs = src->n_outputs;
    for (int v = 0; v < src->n_values; v++, out->n_values++) {
        const struct graph_value *s = &src->values[v];
        struct graph_value *d = &out->values[v];
        *d = *s;
        d->name = strdup(s->name);
        d->owned = NULL;
        if (!d->name)
            goto nomem;
        if (s->owned) {
            d->data = d->owned = memdup(s->owned, (size_t)quanta_dtype_bytes(s->dtype, &s->shape));
            if (!d->owned)
                goto nomem;
        }
    }
    /* per-channel parameters are constants of the graph: follow copied ones */
    for (int v = 0; v < out->n_values; v++) {
        struct graph_quant *q = &out->values[v].quant;
        if (q->dtype == QUANTA_DTYPE_INVALID || q->axis < 0)
            continue;
        int s = graph_find_const_data(src, q->scales), z = graph_find_const_data(src, q->zero_points);
        if (s >= 0)
            q->scales = out->values[s].data;
        if (z >= 0)
            q->zero_points = out->values[z].data;
    }
    graph_fix_quant_pointers(out);
    for (int n = 0; n < src->n_nodes; n++, out->n_nodes++) {
        const struct graph_node *s = &src->nodes[n];
        struct graph_node *d = &out->nodes[n];
        *d = *s;
        d->name = strdup(s->name);
        d->inputs = memdup(s->inputs, (size_t)s->n_inputs * sizeof *s->inputs);
        d->outputs = memdup(s->outputs, (size_t)s->n_outputs * sizeof *s->outputs);
        if (!d->name || !d->inputs || !d->outputs)
            goto nomem;
    }
    for (int i = 0; i < src->n_inputs; i++, out->n_inputs++) {
        const struct graph_input *s = &src->inputs[i];
        struct graph_input *d = &out->inputs[i];
        *d = *s;
        d->normalize.mean = NULL;
        d->normalize.std = NULL;
        if (s->normalize.mean &&
            !(d->normalize.mean = memdup(s->normalize.mean, (size_t)s->normalize.n_mean * sizeof(float))))
            goto nomem;
        if (s->normalize.std &&
            !(d->normalize.std = memdup(s->normalize.std, (size_t)s->normalize.n_std * sizeof(float))))
            goto nomem;
    }
    return QUANTA_OK;
nomem:
    graph_free(out);
    return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory copying graph '%s'",
                       src->name ? src->name : "");
}

void graph_free(struct graph *g)
{
    if (!g)
        return;
    for (int v = 0; v < g->n_values; v++) {
        free(g->values[v].name);
        free(g->values[v].owned);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        free(g->nodes[i].name);
        free(g->nodes[i].inputs);
        free(g->nodes[i].outputs);
    }
    for (int i = 0; i < g->n_inputs; i++) {
        free((void *)g->inputs[i].normalize.mean);
        free((void *)g->inputs[i].normalize.std);
    }
    free(g->values);
    free(g->nodes);
    free(g->inputs);
    free(g->outputs);
    free(g->name);
    memset(g, 0, sizeof *g);
}

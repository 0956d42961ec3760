/* quantized model -> float model (man quanta-dequantize(1)): every
 * quantized constant becomes F32 scale * (q - zero_point), F16/BF16/F64
 * constants become F32, quantize/dequantize nodes disappear (their readers
 * read the value before them) and quant entries are dropped. A graph
 * output that was written by a dequantize keeps its name: the value the
 * dequantize read is renamed to it. */
#include "quant/quantize_internal.h"

#include <stdlib.h>
#include <string.h>

static double quant_value(enum quanta_dtype dtype, const void *data, int64_t i)
{
    switch (dtype) {
    case QUANTA_I8:
        return ((const int8_t *)data)[i];
    case QUANTA_U8:
        return ((const uint8_t *)data)[i];
    case QUANTA_I16: {
        int16_t x;
        memcpy(&x, (const char *)data + 2 * i, 2);
        return x;
    }
    case QUANTA_I32: {
        int32_t x;
        memcpy(&x, (const char *)data + 4 * i, 4);
        return x;
    }
    default:
        return 0.0;
    }
}

/* A new F32 array for CONST value v (quantized, or float of another width). */
static float *dequantize_const(const struct graph_value *v)
{
    const struct graph_quant *q = &v->quant;
    if (q->dtype == QUANTA_DTYPE_INVALID)
        return qz_const_to_f32(v);
    int64_t n = quanta_shape_numel(&v->shape);
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    if (!f)
        return NULL;
    int64_t inner = 1, dim = 1;
    bool per_channel = q->axis >= 0 && q->axis < v->shape.rank && q->n > 1;
    if (per_channel) {
        dim = v->shape.dims[q->axis];
        for (int d = q->axis + 1; d < v->shape.rank; d++)
            inner *= v->shape.dims[d];
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t c = per_channel ? (i / inner) % dim : 0;
        double s = q->n > 0 && q->scales ? q->scales[c] : q->scale;
        double zp = q->n > 0 && q->zero_points ? q->zero_points[c] : q->zero_point;
        double x;
        if (v->dtype == QUANTA_I4) { /* packed rows along the last axis */
            int64_t d = v->shape.dims[v->shape.rank - 1];
            x = quanta_i4_get((const char *)v->data +
                                  (uint64_t)(i / d) * quanta_dtype_row_bytes(QUANTA_I4, d),
                              i % d);
        } else {
            x = quant_value(v->dtype, v->data, i);
        }
        f[i] = (float)(s * (x - zp));
    }
    return f;
}

static int map_value(struct graph *out, const struct graph *q, int *map, int v)
{
    if (map[v] >= 0 || q->values[v].kind != GRAPH_VALUE_CONST)
        return map[v];
    const struct graph_value *c = &q->values[v];
    if (c->dtype == QUANTA_F32 && c->quant.dtype == QUANTA_DTYPE_INVALID)
        return map[v] = qz_copy_value(out, q, v, NULL);
    if (c->quant.dtype == QUANTA_DTYPE_INVALID && !quanta_dtype_is_float(c->dtype))
        return map[v] = qz_copy_value(out, q, v, NULL); /* integer data (ids) */
    float *f = dequantize_const(c);
    if (!f)
        return -1;
    return map[v] = qz_add_owned_const(out, c->name, QUANTA_F32, &c->shape, f);
}

enum quanta_status dequantize_model(const struct graph *q, struct graph *out, const char *source,
                                    struct quanta_error *err)
{
    enum quanta_status st = QUANTA_OK;
    size_t nv = (size_t)q->n_values + 1;
    memset(out, 0, sizeof *out);
    int *rep = malloc(nv * sizeof *rep);
    int *map = malloc(nv * sizeof *map);
    const char **name = calloc(nv, sizeof *name);
    bool *is_output = calloc(nv, sizeof *is_output);
    int *ins = malloc(nv * sizeof *ins);
    int *outs = malloc(nv * sizeof *outs);
    int *input_map = malloc(((size_t)q->n_inputs + 1) * sizeof *input_map);
    if (!rep || !map || !name || !is_output || !ins || !outs || !input_map)
        goto nomem;
    for (int v = 0; v < q->n_values; v++) {
        rep[v] = v;
        map[v] = -1;
        name[v] = q->values[v].name;
    }
    for (int i = 0; i < q->n_nodes; i++) {
        const struct graph_node *n = &q->nodes[i];
        if ((n->op == GRAPH_OP_QUANTIZE || n->op == GRAPH_OP_DEQUANTIZE) && n->n_inputs == 1 &&
            n->n_outputs == 1)
            rep[n->outputs[0]] = rep[n->inputs[0]];
    }
    for (int o = 0; o < q->n_outputs; o++)
        is_output[q->outputs[o]] = true;
    /* a graph output written by a removed node lends its name to the value
     * that replaces it */
    for (int o = 0; o < q->n_outputs; o++) {
        int v = q->outputs[o], r = rep[v];
        if (r != v && q->values[r].kind == GRAPH_VALUE_NODE && !is_output[r] &&
            name[r] == q->values[r].name)
            name[r] = q->values[v].name;
    }
    for (int i = 0; i < q->n_inputs; i++) {
        int v = q->inputs[i].value;
        if ((map[v] = input_map[i] = qz_copy_value(out, q, v, NULL)) < 0)
            goto nomem;
    }
    for (int i = 0; i < q->n_nodes; i++) {
        const struct graph_node *n = &q->nodes[i];
        if (n->op == GRAPH_OP_QUANTIZE || n->op == GRAPH_OP_DEQUANTIZE) {
            if (n->n_inputs != 1 || n->n_outputs != 1) {
                st = quanta_fail(err, QUANTA_ERR_INPUT, "%s: node '%s' (%s) needs one input and one output",
                                 source, n->name, graph_op_name(n->op));
                goto done;
            }
            continue;
        }
        for (int k = 0; k < n->n_inputs; k++) {
            ins[k] = -1;
            if (n->inputs[k] < 0)
                continue;
            if ((ins[k] = map_value(out, q, map, rep[n->inputs[k]])) < 0)
                goto nomem;
        }
        for (int o = 0; o < n->n_outputs; o++) {
            int y = n->outputs[o];
            const struct graph_value *yv = &q->values[y];
            enum quanta_dtype dtype = yv->quant.dtype != QUANTA_DTYPE_INVALID ? QUANTA_F32 : yv->dtype;
            if ((map[y] = outs[o] = graph_add_value(out, name[y], GRAPH_VALUE_NODE, dtype,
                                                    &yv->shape)) < 0)
                goto nomem;
            out->values[outs[o]].quant.dtype = QUANTA_DTYPE_INVALID;
        }
        if (qz_add_node_like(out, n, NULL, ins, n->n_inputs, outs, n->n_outputs) < 0)
            goto nomem;
    }
    for (int o = 0; o < q->n_outputs; o++) {
        if ((outs[o] = map_value(out, q, map, rep[q->outputs[o]])) < 0)
            goto nomem;
    }
    if ((st = qz_copy_graph_header(out, q, input_map, err)) ||
        (st = qz_set_outputs(out, outs, q->n_outputs, err)))
        goto done;
    st = graph_validate(out, source, err);
    goto done;
nomem:
    st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory dequantizing", source);
done:
    if (st) {
        graph_free(out);
        memset(out, 0, sizeof *out);
    }
    free(rep);
    free(map);
    free(name);
    free(is_output);
    free(ins);
    free(outs);
    free(input_map);
    return st;
}

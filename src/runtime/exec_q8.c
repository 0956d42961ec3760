/* Int8 execution of one node: a switch on the op, one small exec function
 * per op that turns the current shapes into kernel shapes and calls the q8
 * table with the integer parameters planned at runner_create (plan_q8.c).
 * No float arithmetic here except in the quantize, dequantize and softmax
 * kernels themselves (quanta-format(5), INT8 OPERATORS). */
#include "runtime/plan_q8.h"

#include <string.h>

static const struct quanta_shape *shape_of(const struct runner *r, int v)
{
    return &r->values[v].shape;
}

static int64_t numel(const struct quanta_shape *s)
{
    return quanta_shape_numel(s);
}

static int norm_axis(int axis, int rank)
{
    return axis < 0 ? axis + rank : axis;
}

static void exec_conv2d(struct runner *r, const struct graph_node *nd,
                        const struct q8_node_plan *np, int8_t *y)
{
    struct q8_conv2d_shape s;
    plan_q8_conv2d_shape(nd, shape_of(r, nd->inputs[0]), &r->g->values[nd->inputs[1]].shape,
                         shape_of(r, nd->outputs[0]), &s);
    const int8_t *x = q8_in(r, nd->inputs[0]);
    if (np->reduce.packed)
        r->q8->k->conv2d_packed(&s, &np->reduce.rq, x, np->reduce.packed, r->q8->scratch, y);
    else
        r->q8->k->conv2d(&s, &np->reduce.rq, x, q8_in(r, nd->inputs[1]), np->reduce.bias, y);
}

static void exec_dense(struct runner *r, const struct graph_node *nd,
                       const struct q8_node_plan *np, int8_t *y)
{
    struct q8_dense_shape s;
    plan_q8_dense_shape(shape_of(r, nd->inputs[0]), &r->g->values[nd->inputs[1]].shape, &s);
    const int8_t *x = q8_in(r, nd->inputs[0]);
    if (np->reduce.packed)
        r->q8->k->dense_packed(&s, &np->reduce.rq, x, np->reduce.packed, r->q8->scratch, y);
    else
        r->q8->k->dense(&s, &np->reduce.rq, x, q8_in(r, nd->inputs[1]), np->reduce.bias, y);
}

static void exec_pool(struct runner *r, const struct graph_node *nd,
                      const struct q8_node_plan *np, int8_t *y, q8_pool2d_fn fn)
{
    const struct quanta_shape *xs = shape_of(r, nd->inputs[0]);
    const struct quanta_shape *ys = shape_of(r, nd->outputs[0]);
    const struct graph_attrs *a = &nd->attrs;
    struct q8_pool2d_shape s = {
        .batch = xs->dims[0],
        .in_h = (int)xs->dims[1], .in_w = (int)xs->dims[2], .c = (int)xs->dims[3],
        .out_h = (int)ys->dims[1], .out_w = (int)ys->dims[2],
        .kernel_h = a->kernel[0], .kernel_w = a->kernel[1],
        .stride_h = a->strides[0], .stride_w = a->strides[1],
        .pad_top = a->pads[0], .pad_left = a->pads[1],
    };
    fn(&s, &np->unary, q8_in(r, nd->inputs[0]), y);
}

static void exec_global_avg_pool(struct runner *r, const struct graph_node *nd,
                                 const struct q8_node_plan *np, int8_t *y)
{
    const struct quanta_shape *xs = shape_of(r, nd->inputs[0]);
    r->q8->k->global_avg_pool(xs->dims[0], xs->dims[1] * xs->dims[2], (int)xs->dims[3],
                              &np->unary, q8_in(r, nd->inputs[0]), y);
}

/* relu, relu6, flatten, reshape: a change of parameters with a clamp, or
 * the same bytes under another shape. */
static void exec_requant(struct runner *r, const struct graph_node *nd,
                         const struct q8_node_plan *np, int8_t *y)
{
    int64_t n = numel(shape_of(r, nd->inputs[0]));
    if (np->copy)
        memcpy(y, q8_in(r, nd->inputs[0]), (size_t)n);
    else
        r->q8->k->requant_clamp(n, &np->unary, q8_in(r, nd->inputs[0]), y);
}

static void exec_binary(struct runner *r, const struct graph_node *nd,
                        const struct q8_node_plan *np, int8_t *y)
{
    int64_t n = numel(shape_of(r, nd->inputs[0]));
    int64_t b_n = numel(shape_of(r, nd->inputs[1]));
    const int8_t *a = q8_in(r, nd->inputs[0]), *b = q8_in(r, nd->inputs[1]);
    if (nd->op == GRAPH_OP_ADD)
        r->q8->k->add(n, b_n, &np->add, a, b, y);
    else
        r->q8->k->mul(n, b_n, &np->mul, a, b, y);
}

static void exec_concat(struct runner *r, const struct graph_node *nd,
                        const struct q8_node_plan *np, int8_t *y)
{
    const struct quanta_shape *ys = shape_of(r, nd->outputs[0]);
    int axis = norm_axis(nd->attrs.axis, ys->rank);
    int64_t outer = 1;
    for (int d = 0; d < axis; d++)
        outer *= ys->dims[d];
    for (int i = 0; i < nd->n_inputs; i++) {
        const struct quanta_shape *xs = shape_of(r, nd->inputs[i]);
        int64_t inner = 1;
        for (int d = axis; d < xs->rank; d++)
            inner *= xs->dims[d];
        np->concat.inner[i] = inner;
        np->concat.x[i] = q8_in(r, nd->inputs[i]);
    }
    r->q8->k->concat(nd->n_inputs, outer, np->concat.inner, np->concat.rq, np->concat.x, y);
}

static void exec_mean(struct runner *r, const struct graph_node *nd,
                      const struct q8_node_plan *np, int8_t *y)
{
    const struct quanta_shape *xs = shape_of(r, nd->inputs[0]);
    unsigned mask = 0;
    for (int i = 0; i < nd->attrs.n_axes; i++)
        mask |= 1u << norm_axis(nd->attrs.axes[i], xs->rank);
    r->q8->k->mean(xs->rank, xs->dims, mask, &np->unary, q8_in(r, nd->inputs[0]), y);
}

static enum quanta_status exec_embedding(struct runner *r, const struct graph_node *nd,
                                         const struct q8_node_plan *np, int8_t *y,
                                         struct quanta_error *err)
{
    const struct runner_value *ids = &r->values[nd->inputs[0]];
    const struct quanta_shape *ts = &r->g->values[nd->inputs[1]].shape;
    int64_t bad = r->q8->k->embedding(numel(&ids->shape), ids->ids, ts->dims[0],
                                      (int)ts->dims[1], &np->unary, q8_in(r, nd->inputs[1]), y);
    if (bad >= 0)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s' (embedding): id %lld outside [0, %lld)", nd->name,
                           (long long)ids->ids[bad], (long long)ts->dims[0]);
    return QUANTA_OK;
}

static void exec_softmax(struct runner *r, const struct graph_node *nd,
                         const struct q8_node_plan *np)
{
    const struct quanta_shape *xs = shape_of(r, nd->inputs[0]);
    int axis = norm_axis(nd->attrs.axis, xs->rank);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= xs->dims[d];
    for (int d = axis + 1; d < xs->rank; d++)
        inner *= xs->dims[d];
    int y = nd->outputs[0];
    float *out = np->softmax.quantize_out ? np->softmax.scratch : runner_slot(r, y);
    r->q8->k->softmax(outer, xs->dims[axis], inner, np->softmax.table, q8_in(r, nd->inputs[0]),
                      out);
    if (np->softmax.quantize_out)
        r->q8->k->quantize(numel(xs), &np->softmax.out, out, q8_out(r, y));
}

enum quanta_status exec_q8_node(struct runner *r, int node_index, struct quanta_error *err)
{
    const struct graph_node *nd = &r->g->nodes[node_index];
    const struct q8_node_plan *np = &r->q8->nodes[node_index];
    const struct q8_kernels *k = r->q8->k;
    int yv = nd->outputs[0];
    int8_t *y = q8_out(r, yv);
    enum quanta_status st = QUANTA_OK;
    switch (nd->op) {
    case GRAPH_OP_QUANTIZE:
        k->quantize(numel(shape_of(r, yv)), &np->qparams, r->values[nd->inputs[0]].view, y);
        break;
    case GRAPH_OP_DEQUANTIZE:
        k->dequantize(numel(shape_of(r, yv)), &np->qparams, q8_in(r, nd->inputs[0]),
                      runner_slot(r, yv));
        break;
    case GRAPH_OP_CONV2D: exec_conv2d(r, nd, np, y); break;
    case GRAPH_OP_DENSE: exec_dense(r, nd, np, y); break;
    case GRAPH_OP_MAX_POOL2D: exec_pool(r, nd, np, y, k->max_pool2d); break;
    case GRAPH_OP_AVG_POOL2D: exec_pool(r, nd, np, y, k->avg_pool2d); break;
    case GRAPH_OP_GLOBAL_AVG_POOL: exec_global_avg_pool(r, nd, np, y); break;
    case GRAPH_OP_RELU:
    case GRAPH_OP_RELU6:
    case GRAPH_OP_FLATTEN:
    case GRAPH_OP_RESHAPE: exec_requant(r, nd, np, y); break;
    case GRAPH_OP_LEAKY_RELU:
        k->leaky_relu(numel(shape_of(r, yv)), &np->leaky, q8_in(r, nd->inputs[0]), y);
        break;
    case GRAPH_OP_SIGMOID:
    case GRAPH_OP_TANH:
        k->lut(numel(shape_of(r, yv)), np->lut, q8_in(r, nd->inputs[0]), y);
        break;
    case GRAPH_OP_ADD:
    case GRAPH_OP_MUL: exec_binary(r, nd, np, y); break;
    case GRAPH_OP_CONCAT: exec_concat(r, nd, r->q8->nodes + node_index, y); break;
    case GRAPH_OP_MEAN: exec_mean(r, nd, np, y); break;
    case GRAPH_OP_EMBEDDING: st = exec_embedding(r, nd, np, y, err); break;
    case GRAPH_OP_SOFTMAX: exec_softmax(r, nd, np); break;
    case GRAPH_OP_BATCH_NORM:
    case GRAPH_OP_COUNT:
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "node '%s' (%s): no int8 kernel", nd->name,
                           graph_op_name(nd->op));
    }
    /* a quantized graph output also has its float view (runner_output) */
    struct runner_value *rv = &r->values[yv];
    if (st == QUANTA_OK && rv->owned && r->g->values[yv].quant.dtype != QUANTA_DTYPE_INVALID)
        k->dequantize(numel(&rv->shape), &r->q8->dq[yv], q8_in(r, yv), rv->owned);
    return st;
}

/* The int8 plan (see plan_q8.h): at runner_create, once per int8 node, the
 * q8_*_prepare functions of src/runtime/q8_params.h turn the graph's float
 * scales into the integer multipliers, shifts and tables the kernels read;
 * quantized constants are made ready in the int8 domain; quantized graph
 * outputs get a float buffer (runner_output is always float) and the hook
 * a float scratch for the dequantized view of other int8 values. */
#include "runtime/plan_q8.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "runtime/q8_params.h"
#include "kernels/requant.h"

static double math_value(double x, void *params)
{
    return f32_math_one(params, x);
}

static bool is_quantized(const struct graph_value *v)
{
    return v->quant.dtype != QUANTA_DTYPE_INVALID;
}

bool runner_q8_node(const struct graph *g, int n)
{
    const struct graph_node *nd = &g->nodes[n];
    if (nd->op == GRAPH_OP_QUANTIZE || nd->op == GRAPH_OP_DEQUANTIZE)
        return true;
    for (int o = 0; o < nd->n_outputs; o++)
        if (is_quantized(&g->values[nd->outputs[o]]))
            return true;
    for (int i = 0; i < nd->n_inputs; i++) {
        int v = nd->inputs[i];
        if (v >= 0 && g->values[v].kind != GRAPH_VALUE_CONST && is_quantized(&g->values[v]))
            return true;
    }
    return false;
}

/* Whether some node of the given kind (int8 or float) reads value v. */
static bool read_by(const struct graph *g, int v, bool int8)
{
    for (int n = 0; n < g->n_nodes; n++) {
        const struct graph_node *nd = &g->nodes[n];
        for (int i = 0; i < nd->n_inputs; i++)
            if (nd->inputs[i] == v && runner_q8_node(g, n) == int8)
                return true;
    }
    return false;
}

bool runner_q8_const_only(const struct graph *g, int v)
{
    const struct graph_value *gv = &g->values[v];
    return gv->kind == GRAPH_VALUE_CONST && is_quantized(gv) && read_by(g, v, true) &&
           !read_by(g, v, false);
}

static enum quanta_status nomem(struct quanta_error *err)
{
    return quanta_fail(err, QUANTA_ERR_NOMEM, "runner: out of memory planning int8 nodes");
}

static size_t numel_at(const struct runner *r, int v)
{
    struct quanta_shape s = graph_value_shape(r->g, v, r->max_batch);
    int64_t n = quanta_shape_numel(&s);
    return n > 0 ? (size_t)n : 0;
}

/* The int8-domain (or int32) data of a quantized constant. */
static enum quanta_status plan_const(struct runner *r, int v, struct quanta_error *err)
{
    const struct graph_value *gv = &r->g->values[v];
    struct q8_plan *p = r->q8;
    int64_t count = quanta_shape_numel(&gv->shape);
    if (count < 0 || !gv->data)
        return quanta_fail(err, QUANTA_ERR_INPUT, "tensor '%s': no data", gv->name);
    size_t n = (size_t)count;
    r->values[v].shape = gv->shape;
    if (gv->dtype != gv->quant.dtype)
        return quanta_fail(err, QUANTA_ERR_INPUT, "tensor '%s' is %s but its quant says %s",
                           gv->name, quanta_dtype_name(gv->dtype),
                           quanta_dtype_name(gv->quant.dtype));
    switch (gv->dtype) {
    case QUANTA_I8:
    case QUANTA_I4: /* packed rows: embedding tables, read by the bag kernel */
        p->data[v] = gv->data;
        return QUANTA_OK;
    case QUANTA_U8:
        if (!(p->owned[v] = malloc(n ? n : 1)))
            return nomem(err);
        q8_u8_to_i8((int64_t)n, gv->data, p->owned[v]);
        p->data[v] = p->owned[v];
        return QUANTA_OK;
    case QUANTA_I32:
        if ((uintptr_t)gv->data % _Alignof(int32_t) == 0) {
            p->data[v] = gv->data;
            return QUANTA_OK;
        }
        if (!(p->owned[v] = malloc((n ? n : 1) * sizeof(int32_t))))
            return nomem(err);
        memcpy(p->owned[v], gv->data, n * sizeof(int32_t));
        p->data[v] = p->owned[v];
        return QUANTA_OK;
    default:
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "tensor '%s': quantized %s constants have no int8 kernel", gv->name,
                           quanta_dtype_name(gv->dtype));
    }
}

/* ---- node checks ---- */

static const char *value_name(const struct graph *g, int v)
{
    return v >= 0 ? g->values[v].name : "(none)";
}

static enum quanta_status need_int8(const struct graph *g, const struct graph_node *nd, int v,
                                    const char *what, struct quanta_error *err)
{
    if (v < 0 || !is_quantized(&g->values[v]))
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s' (%s): %s '%s' is float but the node runs int8 (a "
                           "quantize node must convert it)",
                           nd->name, graph_op_name(nd->op), what, value_name(g, v));
    return QUANTA_OK;
}

static enum quanta_status need_float(const struct graph *g, const struct graph_node *nd, int v,
                                     const char *what, struct quanta_error *err)
{
    if (v < 0 || is_quantized(&g->values[v]) || !quanta_dtype_is_float(g->values[v].dtype))
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (%s): %s '%s' must be float",
                           nd->name, graph_op_name(nd->op), what, value_name(g, v));
    return QUANTA_OK;
}

static enum quanta_status need_const(const struct graph *g, const struct graph_node *nd, int v,
                                     const char *what, struct quanta_error *err)
{
    if (v < 0 || g->values[v].kind != GRAPH_VALUE_CONST)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s' (%s): %s '%s' must be a constant for int8 execution",
                           nd->name, graph_op_name(nd->op), what, value_name(g, v));
    return QUANTA_OK;
}

static bool is_identity(const struct q8_unary *u)
{
    return u->in_zero_point == u->out_zero_point && u->multiplier == (INT32_C(1) << 30) &&
           u->shift == -1 && u->qmin == INT8_MIN && u->qmax == INT8_MAX;
}

/* A float bias of an int8 conv2d/dense, rounded to I32 at scale s_in * s_w[o]
 * (half away from zero, saturated), as quantize does for stored biases. */
static enum quanta_status float_bias(struct runner *r, struct q8_node_plan *np, int x, int w, int b,
                                     int out_channels, struct quanta_error *err)
{
    const struct graph_quant *qx = &r->g->values[x].quant, *qw = &r->g->values[w].quant;
    const float *f = r->values[b].view;
    if (!f || quanta_shape_numel(&r->g->values[b].shape) != out_channels)
        return quanta_fail(err, QUANTA_ERR_INPUT, "tensor '%s': bias has no float data for %d "
                                                  "channels",
                           r->g->values[b].name, out_channels);
    int32_t *q = malloc((size_t)out_channels * sizeof *q);
    if (!q)
        return nomem(err);
    for (int o = 0; o < out_channels; o++) {
        double s = (double)qx->scales[0] * (double)qw->scales[qw->n == 1 ? 0 : o];
        double v = round((double)f[o] / s);
        q[o] = isnan(v) ? 0 : v <= INT32_MIN ? INT32_MIN : v >= INT32_MAX ? INT32_MAX : (int32_t)v;
    }
    np->reduce.bias = q;
    np->bias_owned = q;
    return QUANTA_OK;
}

void plan_q8_conv2d_shape(const struct graph_node *nd, const struct quanta_shape *xs,
                          const struct quanta_shape *ws, const struct quanta_shape *ys,
                          struct q8_conv2d_shape *s)
{
    const struct graph_attrs *a = &nd->attrs;
    *s = (struct q8_conv2d_shape){
        .batch = xs->dims[0],
        .in_h = (int)xs->dims[1], .in_w = (int)xs->dims[2], .in_c = (int)xs->dims[3],
        .out_h = (int)ys->dims[1], .out_w = (int)ys->dims[2], .out_c = (int)ys->dims[3],
        .kernel_h = (int)ws->dims[1], .kernel_w = (int)ws->dims[2],
        .stride_h = a->strides[0], .stride_w = a->strides[1],
        .pad_top = a->pads[0], .pad_left = a->pads[1],
        .dilation_h = a->dilations[0], .dilation_w = a->dilations[1],
        .groups = a->groups,
    };
}

void plan_q8_dense_shape(const struct quanta_shape *xs, const struct quanta_shape *ws,
                         struct q8_dense_shape *s)
{
    s->in_features = (int)ws->dims[1];
    s->out_features = (int)ws->dims[0];
    s->batch = quanta_shape_numel(xs) / (ws->dims[1] > 0 ? ws->dims[1] : 1);
}

/* Packs the weights (and bias) of an int8 conv2d/dense once for the
 * table's packed kernel, when the table has one, and notes its scratch. */
static enum quanta_status plan_pack(struct runner *r, const struct graph_node *nd,
                                    struct q8_node_plan *np, size_t *scratch,
                                    struct quanta_error *err)
{
    const struct q8_kernels *k = r->q8->k;
    const struct graph *g = r->g;
    struct quanta_shape xs = graph_value_shape(g, nd->inputs[0], r->max_batch);
    struct quanta_shape ys = graph_value_shape(g, nd->outputs[0], r->max_batch);
    const struct quanta_shape *ws = &g->values[nd->inputs[1]].shape;
    const int8_t *w = r->q8->data[nd->inputs[1]];
    struct q8_conv2d_shape cs;
    struct q8_dense_shape ds;
    size_t size, need;
    if (nd->op == GRAPH_OP_CONV2D) {
        if (!k->conv2d_pack_size || !k->conv2d_pack || !k->conv2d_scratch_size ||
            !k->conv2d_packed)
            return QUANTA_OK;
        plan_q8_conv2d_shape(nd, &xs, ws, &ys, &cs);
        size = k->conv2d_pack_size(&cs);
        need = k->conv2d_scratch_size(&cs);
    } else {
        if (!k->dense_pack_size || !k->dense_pack || !k->dense_scratch_size ||
            !k->dense_packed)
            return QUANTA_OK;
        plan_q8_dense_shape(&xs, ws, &ds);
        size = k->dense_pack_size(&ds);
        need = k->dense_scratch_size(&ds);
    }
    np->reduce.packed = aligned_alloc(64, (size + 63) / 64 * 64 + 64);
    if (!np->reduce.packed)
        return quanta_fail(err, QUANTA_ERR_NOMEM,
                           "node '%s' (%s): cannot allocate %zu bytes of packed weights",
                           nd->name, graph_op_name(nd->op), size);
    if (nd->op == GRAPH_OP_CONV2D)
        k->conv2d_pack(&cs, w, np->reduce.bias, np->reduce.packed);
    else
        k->dense_pack(&ds, w, np->reduce.bias, np->reduce.packed);
    if (need > *scratch)
        *scratch = need;
    return QUANTA_OK;
}

static enum quanta_status plan_reduce(struct runner *r, const struct graph_node *nd,
                                      struct q8_node_plan *np, size_t *scratch,
                                      struct quanta_error *err)
{
    const struct graph *g = r->g;
    int x = nd->inputs[0], y = nd->outputs[0];
    int w = nd->n_inputs > 1 ? nd->inputs[1] : -1;
    int b = nd->n_inputs > 2 ? nd->inputs[2] : -1;
    enum quanta_status st;
    /* an output without quant: float straight from the accumulator */
    bool float_out = !is_quantized(&g->values[y]);
    if ((st = need_int8(g, nd, x, "input", err)) ||
        (st = (float_out ? need_float : need_int8)(g, nd, y, "output", err)) ||
        (st = need_const(g, nd, w, "weight", err)) ||
        (st = need_int8(g, nd, w, "weight", err)) ||
        (b >= 0 && (st = need_const(g, nd, b, "bias", err))))
        return st;
    const struct graph_value *gw = &g->values[w];
    int out_channels = gw->shape.rank > 0 ? (int)gw->shape.dims[0] : 0;
    np->reduce.multiplier = malloc((size_t)(out_channels > 0 ? out_channels : 1) * sizeof(int32_t));
    np->reduce.shift = malloc((size_t)(out_channels > 0 ? out_channels : 1) * sizeof(int32_t));
    if (!np->reduce.multiplier || !np->reduce.shift)
        return nomem(err);
    const struct graph_quant *qb = b >= 0 ? &g->values[b].quant : NULL;
    if (float_out) {
        np->reduce.float_out = true;
        np->reduce.scale = malloc((size_t)(out_channels > 0 ? out_channels : 1) * sizeof(float));
        if (!np->reduce.scale)
            return nomem(err);
        st = q8_reduction_f32_prepare(&g->values[x].quant, &gw->quant, qb, nd->attrs.activation,
                                      out_channels, np->reduce.scale, &np->reduce.f32, nd->name,
                                      err);
        if (st)
            return st;
        if (b >= 0 && is_quantized(&g->values[b]))
            np->reduce.bias = r->q8->data[b];
        else if (b >= 0)
            st = float_bias(r, np, x, w, b, out_channels, err);
        return st; /* the reference kernels on the weights as stored */
    }
    st = (nd->op == GRAPH_OP_CONV2D ? q8_conv2d_prepare : q8_dense_prepare)(
        &g->values[x].quant, &gw->quant, qb, &g->values[y].quant, nd->attrs.activation,
        out_channels, np->reduce.multiplier, np->reduce.shift, &np->reduce.rq, nd->name, err);
    if (st)
        return st;
    if (b >= 0 && is_quantized(&g->values[b]))
        np->reduce.bias = r->q8->data[b];
    else if (b >= 0 && (st = float_bias(r, np, x, w, b, out_channels, err)))
        return st;
    return plan_pack(r, nd, np, scratch, err);
}

static enum quanta_status plan_unary(struct runner *r, const struct graph_node *nd,
                                     struct q8_node_plan *np, enum graph_activation act,
                                     struct quanta_error *err)
{
    const struct graph *g = r->g;
    int x = nd->inputs[0], y = nd->outputs[0];
    enum quanta_status st;
    if ((st = need_int8(g, nd, x, "input", err)) || (st = need_int8(g, nd, y, "output", err)))
        return st;
    return q8_unary_prepare(&g->values[x].quant, &g->values[y].quant, act, &np->unary, nd->name,
                            err);
}

static enum quanta_status plan_binary(struct runner *r, const struct graph_node *nd,
                                      struct q8_node_plan *np, struct quanta_error *err)
{
    const struct graph *g = r->g;
    int a = nd->inputs[0], b = nd->inputs[1], y = nd->outputs[0];
    enum quanta_status st;
    if ((st = need_int8(g, nd, a, "input", err)) || (st = need_int8(g, nd, b, "input", err)) ||
        (st = need_int8(g, nd, y, "output", err)))
        return st;
    /* the int8 kernels take b of a's shape or [C] along a's last axis */
    const struct quanta_shape *sa = &g->values[a].shape, *sb = &g->values[b].shape;
    bool channel = sb->rank == 1 && sa->rank >= 1 && sb->dims[0] == sa->dims[sa->rank - 1];
    if (!quanta_shape_equal(sa, &g->values[y].shape) || !(quanta_shape_equal(sa, sb) || channel))
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s' (%s): int8 %s broadcasts only b of a's shape or [C] "
                           "along a's last axis; dequantize for other shapes",
                           nd->name, graph_op_name(nd->op), graph_op_name(nd->op));
    if (nd->op == GRAPH_OP_ADD)
        return q8_add_prepare(&g->values[a].quant, &g->values[b].quant, &g->values[y].quant,
                              nd->attrs.activation, &np->add, nd->name, err);
    return q8_mul_prepare(&g->values[a].quant, &g->values[b].quant, &g->values[y].quant,
                          nd->attrs.activation, &np->mul, nd->name, err);
}

static enum quanta_status plan_concat(struct runner *r, const struct graph_node *nd,
                                      struct q8_node_plan *np, struct quanta_error *err)
{
    const struct graph *g = r->g;
    int y = nd->outputs[0];
    enum quanta_status st = need_int8(g, nd, y, "output", err);
    if (st)
        return st;
    size_t k = (size_t)nd->n_inputs;
    np->concat.rq = calloc(k, sizeof *np->concat.rq);
    np->concat.inner = calloc(k, sizeof *np->concat.inner);
    np->concat.rows = calloc(k, sizeof *np->concat.rows);
    np->concat.x = calloc(k, sizeof *np->concat.x);
    if (!np->concat.rq || !np->concat.inner || !np->concat.rows || !np->concat.x)
        return nomem(err);
    for (int i = 0; i < nd->n_inputs; i++) {
        int x = nd->inputs[i];
        if ((st = need_int8(g, nd, x, "input", err)) ||
            (st = q8_unary_prepare(&g->values[x].quant, &g->values[y].quant, GRAPH_ACT_NONE,
                                   &np->concat.rq[i], nd->name, err)))
            return st;
    }
    return QUANTA_OK;
}

/* The arithmetic of quanta-format(5) "embedding_bag": rows dequantized
 * with their table's parameters, reduced in double, one rounding. */
static enum quanta_status plan_embedding_bag(struct runner *r, const struct graph_node *nd,
                                             struct q8_node_plan *np, struct quanta_error *err)
{
    const struct graph *g = r->g;
    int ids = nd->inputs[0], table = nd->inputs[1], y = nd->outputs[0], off = -1, w = -1;
    if (nd->op == GRAPH_OP_EMBEDDING_BAG)
        graph_bag_inputs(g, nd, &off, &w);
    enum quanta_status st;
    if ((st = need_const(g, nd, table, "table", err)) ||
        (st = need_int8(g, nd, table, "table", err)) ||
        (st = need_int8(g, nd, y, "output", err)))
        return st;
    const struct graph_value *tv = &g->values[table];
    const struct graph_quant *tq = &tv->quant, *yq = &g->values[y].quant;
    if ((tq->dtype != QUANTA_I8 && tq->dtype != QUANTA_I4) || yq->dtype != QUANTA_I8 ||
        yq->axis >= 0)
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (%s): an I8 or I4 table and a "
                                                  "per-tensor I8 output are needed",
                           nd->name, graph_op_name(nd->op));
    if (tq->axis >= 0 && (tq->axis != 0 || tq->n != tv->shape.dims[0]))
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (%s): table '%s' is "
                                                  "quantized along axis %d; per row (axis 0) "
                                                  "or per tensor is needed",
                           nd->name, graph_op_name(nd->op), tv->name, tq->axis);
    if (w >= 0 && is_quantized(&g->values[w]) && g->values[w].quant.dtype != QUANTA_I8)
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (embedding_bag): weights '%s' must "
                                                  "be float or I8",
                           nd->name, g->values[w].name);
    (void)ids;
    struct q8_embedding_bag_params *p = &np->bag;
    memset(p, 0, sizeof *p);
    p->vocab = tv->shape.dims[0];
    p->dim = (int)tv->shape.dims[1];
    p->bits = tq->dtype == QUANTA_I4 ? 4 : 8;
    p->mode = nd->op == GRAPH_OP_EMBEDDING        ? F32_BAG_SUM /* bags of one id */
              : nd->attrs.mode == GRAPH_MODE_SUM  ? F32_BAG_SUM
              : nd->attrs.mode == GRAPH_MODE_MEAN ? F32_BAG_MEAN
                                                  : F32_BAG_MAX;
    p->per_row = tq->axis == 0;
    p->scale = tq->scales;
    p->zero_point = tq->zero_points;
    if (w >= 0 && is_quantized(&g->values[w])) {
        p->w_scale = g->values[w].quant.scale;
        p->w_zero_point = g->values[w].quant.zero_point;
    }
    p->out_scale = yq->scale;
    p->out_zero_point = yq->zero_point;
    return QUANTA_OK;
}

static enum quanta_status plan_embedding(struct runner *r, const struct graph_node *nd,
                                         struct q8_node_plan *np, struct quanta_error *err)
{
    const struct graph *g = r->g;
    int ids = nd->inputs[0], table = nd->inputs[1], y = nd->outputs[0];
    enum quanta_status st;
    if (is_quantized(&g->values[ids]) || quanta_dtype_is_float(g->values[ids].dtype))
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (embedding): ids '%s' must be "
                                                  "integer",
                           nd->name, g->values[ids].name);
    if ((st = need_const(g, nd, table, "table", err)) ||
        (st = need_int8(g, nd, table, "table", err)) ||
        (st = need_int8(g, nd, y, "output", err)))
        return st;
    const struct graph_quant *tq = &g->values[table].quant;
    if (tq->dtype == QUANTA_I4) /* 4-bit rows: the bag kernel, one id per bag */
        return plan_embedding_bag(r, nd, np, err);
    if (tq->axis < 0)
        return q8_unary_prepare(tq, &g->values[y].quant, GRAPH_ACT_NONE, &np->embedding.one,
                                nd->name, err);
    /* row-wise: each row brought from its own parameters to the output's */
    if (tq->axis != 0 || tq->n != g->values[table].shape.dims[0])
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (embedding): table '%s' is "
                                                  "quantized along axis %d; per row (axis 0) "
                                                  "or per tensor is needed",
                           nd->name, g->values[table].name, tq->axis);
    if (!(np->embedding.rows = malloc((size_t)tq->n * sizeof *np->embedding.rows)))
        return nomem(err);
    for (int i = 0; i < tq->n; i++) {
        struct graph_quant row = {.dtype = tq->dtype, .axis = -1, .n = 1,
                                  .scale = tq->scales[i],
                                  .zero_point = tq->zero_points ? tq->zero_points[i] : 0};
        row.scales = &row.scale;
        row.zero_points = &row.zero_point;
        if ((st = q8_unary_prepare(&row, &g->values[y].quant, GRAPH_ACT_NONE,
                                   &np->embedding.rows[i], nd->name, err)))
            return st;
    }
    return QUANTA_OK;
}

static enum quanta_status plan_softmax(struct runner *r, const struct graph_node *nd,
                                       struct q8_node_plan *np, struct quanta_error *err)
{
    const struct graph *g = r->g;
    int x = nd->inputs[0], y = nd->outputs[0];
    enum quanta_status st;
    if ((st = need_int8(g, nd, x, "input", err)) ||
        (st = q8_softmax_prepare(&g->values[x].quant, np->softmax.table, nd->name, err)))
        return st;
    if (!is_quantized(&g->values[y]))
        return need_float(g, nd, y, "output", err);
    /* int8 output: float probabilities in scratch, then quantize */
    np->softmax.quantize_out = true;
    if ((st = q8_quantize_prepare(&g->values[y].quant, &np->softmax.out, nd->name, err)))
        return st;
    size_t n = numel_at(r, y);
    if (!(np->softmax.scratch = malloc((n ? n : 1) * sizeof(float))))
        return nomem(err);
    return QUANTA_OK;
}

/* Linear resize in int8 (kernels_q8.h): input and output share their
 * parameters; per resized axis the taps and the weight of the upper tap,
 * w1 = round(r * 2^11) from the float kernel's coordinate (r = c - floor(c),
 * 0 where both taps clamp to one index). At most Q8_RESIZE_MAX_AXES axes. */
static enum quanta_status plan_resize_linear(struct runner *r, const struct graph_node *nd,
                                             struct q8_node_plan *np, struct quanta_error *err)
{
    bool resized[QUANTA_MAX_RANK];
    enum quanta_status st;
    if (graph_resize_axes(r->g, nd, resized) > Q8_RESIZE_MAX_AXES)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s' (resize): linear over more than %d axes has no int8 "
                           "kernel; its quantized values must be dequantized first",
                           nd->name, Q8_RESIZE_MAX_AXES);
    st = plan_unary(r, nd, np, GRAPH_ACT_NONE, err);
    const bool same = !st && is_identity(&np->unary);
    const int32_t zx = np->unary.in_zero_point;
    memset(&np->resize, 0, sizeof np->resize); /* replaces unary in the union: the
                                                  pointers runner_q8_free frees */
    if (st)
        return st;
    if (!same)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s' (resize): int8 input and output must have the same "
                           "scale and zero point",
                           nd->name);
    np->resize.zero_point = zx;
    const struct quanta_shape *xs = &r->g->values[nd->inputs[0]].shape;
    struct resize_params p;
    exec_resize_params(nd, xs, 1, &p);
    for (int d = 0; d < xs->rank; d++) {
        if (!resized[d])
            continue;
        size_t n = p.out[d];
        int32_t *t = malloc(3 * n * sizeof *t);
        if (!t)
            return quanta_fail(err, QUANTA_ERR_NOMEM, "node '%s': out of memory", nd->name);
        np->resize.i0[d] = t;
        np->resize.i1[d] = t + n;
        np->resize.w1[d] = t + 2 * n;
        const double last = (double)(p.in[d] - 1);
        for (size_t o = 0; o < n; o++) {
            double c = resize_coord(&p, d, o), f = floor(c);
            double lo = f < 0 ? 0 : f > last ? last : f;
            double hi = f + 1 < 0 ? 0 : f + 1 > last ? last : f + 1;
            t[o] = (int32_t)lo;
            t[n + o] = (int32_t)hi;
            t[2 * n + o] = lo == hi ? 0 : (int32_t)floor((c - f) * 2048.0 + 0.5);
        }
    }
    return QUANTA_OK;
}

static enum quanta_status plan_node(struct runner *r, int n, size_t *scratch,
                                    struct quanta_error *err)
{
    const struct graph *g = r->g;
    const struct graph_node *nd = &g->nodes[n];
    struct q8_node_plan *np = &r->q8->nodes[n];
    np->int8 = true;
    if (nd->n_outputs != 1 || nd->n_inputs < 1)
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (%s): %d inputs and %d outputs, "
                                                  "expected at least 1 and 1",
                           nd->name, graph_op_name(nd->op), nd->n_inputs, nd->n_outputs);
    int x = nd->inputs[0], y = nd->outputs[0];
    enum quanta_status st;
    if (nd->attrs.activation > GRAPH_ACT_RELU6) /* int8 clamps relu and relu6 only */
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (%s): fused activation '%s' has no "
                                                  "int8 kernel",
                           nd->name, graph_op_name(nd->op),
                           graph_activation_name(nd->attrs.activation));
    if (graph_op_is_function(nd->op)) {
        /* one table of 256 entries from the float kernel's own function */
        struct f32_math_params mp;
        if ((st = need_int8(g, nd, x, "input", err)) ||
            (st = need_int8(g, nd, y, "output", err)))
            return st;
        if (!exec_math_params(nd, &mp)) /* sigmoid, tanh */
            return q8_lut_prepare(nd->op, &g->values[x].quant, &g->values[y].quant, np->lut,
                                  nd->name, err);
        return q8_lut_prepare_fn(math_value, &mp, &g->values[x].quant, &g->values[y].quant,
                                 INT8_MIN, INT8_MAX, np->lut, nd->name, err);
    }
    switch (nd->op) {
    case GRAPH_OP_QUANTIZE:
        if ((st = need_float(g, nd, x, "input", err)) ||
            (st = need_int8(g, nd, y, "output", err)))
            return st;
        return q8_quantize_prepare(&g->values[y].quant, &np->qparams, nd->name, err);
    case GRAPH_OP_DEQUANTIZE:
        if ((st = need_int8(g, nd, x, "input", err)) ||
            (st = need_float(g, nd, y, "output", err)))
            return st;
        return q8_quantize_prepare(&g->values[x].quant, &np->qparams, nd->name, err);
    case GRAPH_OP_CONV2D:
    case GRAPH_OP_DENSE:
        return plan_reduce(r, nd, np, scratch, err);
    case GRAPH_OP_RELU:
        return plan_unary(r, nd, np, GRAPH_ACT_RELU, err);
    case GRAPH_OP_RELU6:
        return plan_unary(r, nd, np, GRAPH_ACT_RELU6, err);
    case GRAPH_OP_FLATTEN:
    case GRAPH_OP_RESHAPE:
        if ((st = plan_unary(r, nd, np, GRAPH_ACT_NONE, err)))
            return st;
        np->copy = is_identity(&np->unary);
        return QUANTA_OK;
    case GRAPH_OP_RESIZE:
        if (nd->attrs.mode == GRAPH_MODE_LINEAR)
            return plan_resize_linear(r, nd, np, err);
        /* fall through */
    case GRAPH_OP_TRANSPOSE: /* move bytes: input and output share parameters */
    case GRAPH_OP_SLICE:
    case GRAPH_OP_PAD:
        if ((st = plan_unary(r, nd, np, GRAPH_ACT_NONE, err)))
            return st;
        if (!is_identity(&np->unary))
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "node '%s' (%s): int8 input and output must have the same "
                               "scale and zero point",
                               nd->name, graph_op_name(nd->op));
        if (nd->op == GRAPH_OP_PAD) { /* the constant in x's parameters, as quantize does */
            struct q8_quantize_params qp;
            if ((st = q8_quantize_prepare(&g->values[x].quant, &qp, nd->name, err)))
                return st;
            q8_quantize__ref(1, &qp, &nd->attrs.value, &np->pad_value);
        }
        return QUANTA_OK;
    case GRAPH_OP_MAX_POOL2D:
    case GRAPH_OP_AVG_POOL2D:
    case GRAPH_OP_GLOBAL_AVG_POOL:
    case GRAPH_OP_MEAN:
        return plan_unary(r, nd, np, GRAPH_ACT_NONE, err);
    case GRAPH_OP_LEAKY_RELU:
        if ((st = need_int8(g, nd, x, "input", err)) ||
            (st = need_int8(g, nd, y, "output", err)))
            return st;
        return q8_leaky_relu_prepare(&g->values[x].quant, &g->values[y].quant, nd->attrs.alpha,
                                     &np->leaky, nd->name, err);
    case GRAPH_OP_ADD:
    case GRAPH_OP_MUL:
        return plan_binary(r, nd, np, err);
    case GRAPH_OP_MATMUL: /* the product's scale, as mul: sa sb / sy */
        if ((st = need_int8(g, nd, x, "input a", err)) ||
            (st = need_int8(g, nd, nd->inputs[1], "input b", err)) ||
            (st = need_int8(g, nd, y, "output", err)))
            return st;
        return q8_mul_prepare(&g->values[x].quant, &g->values[nd->inputs[1]].quant,
                              &g->values[y].quant, nd->attrs.activation, &np->mul, nd->name, err);
    case GRAPH_OP_CONCAT:
        return plan_concat(r, nd, np, err);
    case GRAPH_OP_EMBEDDING:
        return plan_embedding(r, nd, np, err);
    case GRAPH_OP_EMBEDDING_BAG:
        return plan_embedding_bag(r, nd, np, err);
    case GRAPH_OP_SOFTMAX:
        return plan_softmax(r, nd, np, err);
    default: /* batch_norm and the float-only ops */
        break;
    }
    return quanta_fail(err, QUANTA_ERR_INPUT,
                       "node '%s' (%s): no int8 kernel for this op; its quantized values must "
                       "be dequantized first",
                       nd->name, graph_op_name(nd->op));
}

/* Dequantization parameters and float buffers of quantized activations. */
static enum quanta_status plan_activations(struct runner *r, struct quanta_error *err)
{
    const struct graph *g = r->g;
    struct q8_plan *p = r->q8;
    size_t hook_max = 0;
    for (int v = 0; v < g->n_values; v++) {
        const struct graph_value *gv = &g->values[v];
        if (gv->kind == GRAPH_VALUE_CONST || !is_quantized(gv))
            continue;
        const char *node = gv->producer >= 0 ? g->nodes[gv->producer].name : gv->name;
        enum quanta_status st = q8_quantize_prepare(&gv->quant, &p->dq[v], node, err);
        if (st)
            return st;
        struct runner_value *rv = &r->values[v];
        rv->view = NULL;
        size_t n = numel_at(r, v);
        bool is_output = false;
        for (int o = 0; o < g->n_outputs; o++)
            is_output = is_output || g->outputs[o] == v;
        if (is_output) {
            /* runner_output is float: the producer dequantizes here too */
            if (!(rv->owned = malloc((n ? n : 1) * sizeof(float))))
                return nomem(err);
            rv->view = rv->owned;
        } else if (n > hook_max) {
            hook_max = n;
        }
    }
    if (hook_max && !(p->hook_view = malloc(hook_max * sizeof(float))))
        return nomem(err);
    return QUANTA_OK;
}

enum quanta_status runner_q8_plan(struct runner *r, struct quanta_error *err)
{
    const struct graph *g = r->g;
    bool any = false;
    for (int n = 0; n < g->n_nodes && !any; n++)
        any = runner_q8_node(g, n);
    if (!any)
        return QUANTA_OK;
    struct q8_plan *p = calloc(1, sizeof *p);
    if (!p)
        return nomem(err);
    r->q8 = p;
    p->k = q8_kernels_get();
    if (!p->k)
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "runner: no int8 kernel table");
    size_t nv = (size_t)g->n_values + 1;
    p->nodes = calloc((size_t)g->n_nodes + 1, sizeof *p->nodes);
    p->data = calloc(nv, sizeof *p->data);
    p->owned = calloc(nv, sizeof *p->owned);
    p->dq = calloc(nv, sizeof *p->dq);
    if (!p->nodes || !p->data || !p->owned || !p->dq)
        return nomem(err);
    enum quanta_status st;
    if ((st = plan_activations(r, err)))
        return st;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == GRAPH_VALUE_CONST && is_quantized(&g->values[v]) &&
            read_by(g, v, true) && (st = plan_const(r, v, err)))
            return st;
    size_t scratch = 0;
    for (int n = 0; n < g->n_nodes; n++)
        if (runner_q8_node(g, n) && (st = plan_node(r, n, &scratch, err)))
            return st;
    if (scratch) {
        /* one per thread, each on its own cache lines */
        p->scratch_stride = (scratch + 63) / 64 * 64;
        if (!(p->scratch = aligned_alloc(64, p->scratch_stride * (size_t)r->n_threads)))
            return nomem(err);
    }
    return QUANTA_OK;
}

void runner_q8_free(struct runner *r)
{
    struct q8_plan *p = r->q8;
    if (!p)
        return;
    if (p->nodes) {
        for (int n = 0; n < r->g->n_nodes; n++) {
            struct q8_node_plan *np = &p->nodes[n];
            if (!np->int8)
                continue;
            switch (r->g->nodes[n].op) {
            case GRAPH_OP_CONV2D:
            case GRAPH_OP_DENSE:
                free(np->reduce.multiplier);
                free(np->reduce.shift);
                free(np->reduce.packed);
                free(np->reduce.scale);
                break;
            case GRAPH_OP_EMBEDDING: /* a 4-bit table's plan is np->bag: nothing owned */
                if (r->g->values[r->g->nodes[n].inputs[1]].quant.dtype != QUANTA_I4)
                    free(np->embedding.rows);
                break;
            case GRAPH_OP_CONCAT:
                free(np->concat.rq);
                free(np->concat.inner);
                free(np->concat.rows);
                free(np->concat.x);
                break;
            case GRAPH_OP_SOFTMAX:
                free(np->softmax.scratch);
                break;
            case GRAPH_OP_RESIZE:
                if (r->g->nodes[n].attrs.mode == GRAPH_MODE_LINEAR)
                    for (int d = 0; d < 8; d++)
                        free(np->resize.i0[d]);
                break;
            default:
                break;
            }
            free(np->bias_owned);
        }
    }
    if (p->owned)
        for (int v = 0; v < r->g->n_values; v++)
            free(p->owned[v]);
    free(p->nodes);
    free(p->data);
    free(p->owned);
    free(p->dq);
    free(p->hook_view);
    free(p->scratch);
    free(p);
    r->q8 = NULL;
}

const float *runner_q8_view(struct runner *r, int v)
{
    struct q8_plan *p = r->q8;
    if (!p || !p->hook_view)
        return NULL;
    const struct runner_value *rv = &r->values[v];
    p->k->dequantize(quanta_shape_numel(&rv->shape), &p->dq[v], q8_in(r, v), p->hook_view);
    return p->hook_view;
}

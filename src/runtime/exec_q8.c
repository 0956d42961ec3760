/* Int8 execution of one node: a switch on the op, one small exec function
 * per op that turns the current shapes into kernel shapes and calls the q8
 * table with the integer parameters planned at runner_create (plan_q8.c).
 * No float arithmetic here except in the quantize, dequantize and softmax
 * kernels and the float outputs of conv2d/dense themselves (quanta-format(5), INT8 OPERATORS). */
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

/* ---- on several threads ----
 * conv2d and pools are cut by samples or output rows (split_rows), dense
 * and global average pool by samples, matmul by its outer leading axis,
 * element-wise ops by elements; each
 * part calls the same kernel on its piece with its own scratch. Integer
 * results are exact, so the bytes do not depend on the cut. */

static struct split_window conv_window(const struct q8_conv2d_shape *s)
{
    return (struct split_window){
        .batch = s->batch, .in_h = s->in_h, .out_h = s->out_h, .kernel_h = s->kernel_h,
        .stride_h = s->stride_h, .dilation_h = s->dilation_h, .pad_top = s->pad_top,
    };
}

struct conv_job {
    struct runner *r;
    const struct q8_node_plan *np;
    const struct q8_conv2d_shape *s;
    const int8_t *x, *w;
    void *y;                     /* int8, or float when np->reduce.float_out */
};

static void conv_part(void *ctx, int part, int parts, int thread)
{
    const struct conv_job *j = ctx;
    const struct q8_conv2d_shape *s = j->s;
    struct split_window win = conv_window(s);
    struct split_piece pc[3];
    int count = split_rows(&win, part, parts, pc);
    const struct q8_plan *p = j->r->q8;
    void *scratch = p->scratch ? (char *)p->scratch + (size_t)thread * p->scratch_stride : NULL;
    for (int i = 0; i < count; i++) {
        struct q8_conv2d_shape q = *s;
        q.batch = pc[i].batch;
        q.in_h = (int)pc[i].in_h;
        q.out_h = (int)pc[i].out_h;
        q.pad_top = (int)pc[i].pad_top;
        const int8_t *x = j->x + (pc[i].n0 * s->in_h + pc[i].iy0) * s->in_w * s->in_c;
        int64_t y0 = (pc[i].n0 * s->out_h + pc[i].oy0) * s->out_w * s->out_c;
        int8_t *y = (int8_t *)j->y + y0;
        if (j->np->reduce.float_out)
            p->k->conv2d_f32(&q, &j->np->reduce.f32, x, j->w, j->np->reduce.bias,
                             (float *)j->y + y0);
        else if (j->np->reduce.packed)
            p->k->conv2d_packed(&q, &j->np->reduce.rq, x, j->np->reduce.packed, scratch, y);
        else
            p->k->conv2d(&q, &j->np->reduce.rq, x, j->w, j->np->reduce.bias, y);
    }
}

static void exec_conv2d(struct runner *r, const struct graph_node *nd,
                        const struct q8_node_plan *np, void *y)
{
    struct q8_conv2d_shape s;
    plan_q8_conv2d_shape(nd, shape_of(r, nd->inputs[0]), &r->g->values[nd->inputs[1]].shape,
                         shape_of(r, nd->outputs[0]), &s);
    int64_t work = s.batch * s.out_h * s.out_w * s.out_c * s.kernel_h * s.kernel_w *
                   (s.in_c / s.groups);
    struct split_window win = conv_window(&s);
    struct conv_job j = {r, np, &s, q8_in(r, nd->inputs[0]), q8_in(r, nd->inputs[1]), y};
    threadpool_run(r->pool, conv_part, &j, split_rows_parts(&win, runner_parts(r, work)));
}

struct dense_job {
    struct runner *r;
    const struct q8_node_plan *np;
    const struct q8_dense_shape *s;
    const int8_t *x, *w;
    void *y;                     /* int8, or float when np->reduce.float_out */
};

static void dense_part(void *ctx, int part, int parts, int thread)
{
    const struct dense_job *j = ctx;
    const struct q8_plan *p = j->r->q8;
    int64_t b0, b1;
    runner_range(j->s->batch, 1, part, parts, &b0, &b1);
    if (b1 <= b0)
        return;
    struct q8_dense_shape q = *j->s;
    q.batch = b1 - b0;
    const int8_t *x = j->x + b0 * q.in_features;
    int8_t *y = (int8_t *)j->y + b0 * q.out_features;
    void *scratch = p->scratch ? (char *)p->scratch + (size_t)thread * p->scratch_stride : NULL;
    if (j->np->reduce.float_out)
        p->k->dense_f32(&q, &j->np->reduce.f32, x, j->w, j->np->reduce.bias,
                        (float *)j->y + b0 * q.out_features);
    else if (j->np->reduce.packed)
        p->k->dense_packed(&q, &j->np->reduce.rq, x, j->np->reduce.packed, scratch, y);
    else
        p->k->dense(&q, &j->np->reduce.rq, x, j->w, j->np->reduce.bias, y);
}

static void exec_dense(struct runner *r, const struct graph_node *nd,
                       const struct q8_node_plan *np, void *y)
{
    struct q8_dense_shape s;
    plan_q8_dense_shape(shape_of(r, nd->inputs[0]), &r->g->values[nd->inputs[1]].shape, &s);
    int parts = runner_parts(r, s.batch * s.in_features * s.out_features);
    if (parts > s.batch)
        parts = (int)s.batch;
    struct dense_job j = {r, np, &s, q8_in(r, nd->inputs[0]), q8_in(r, nd->inputs[1]), y};
    threadpool_run(r->pool, dense_part, &j, parts);
}

/* matmul: the leading axes as exec_f32's matmul reads them (broadcast
 * where a or b has 1 or no axis); threads take ranges of the outermost
 * leading axis longer than 1 (the axes before it are 1). */
struct matmul_job {
    const struct q8_kernels *k;
    const struct q8_mul_params *p;
    const struct q8_matmul_shape *s;
    int axis;
    const int8_t *a, *b;
    int8_t *y;
};

static void matmul_part(void *ctx, int part, int parts, int thread)
{
    (void)thread;
    const struct matmul_job *j = ctx;
    int64_t i0, i1;
    runner_range(j->s->dims[j->axis], 1, part, parts, &i0, &i1);
    if (i1 <= i0)
        return;
    struct q8_matmul_shape q = *j->s;
    q.dims[j->axis] = i1 - i0;
    int64_t y_step = (int64_t)q.m * q.n;
    for (int d = q.lead - 1; d > j->axis; d--)
        y_step *= q.dims[d];
    j->k->matmul(&q, j->p, j->a + i0 * q.a_stride[j->axis], j->b + i0 * q.b_stride[j->axis],
                 j->y + i0 * y_step);
}

static void exec_matmul(struct runner *r, const struct graph_node *nd,
                        const struct q8_node_plan *np, int8_t *y)
{
    const struct quanta_shape *sa = shape_of(r, nd->inputs[0]), *sb = shape_of(r, nd->inputs[1]);
    const struct quanta_shape *out = shape_of(r, nd->outputs[0]);
    struct q8_matmul_shape s = {.lead = out->rank - 2,
                                .m = (int)sa->dims[sa->rank - 2],
                                .k = (int)sa->dims[sa->rank - 1],
                                .n = (int)sb->dims[sb->rank - 1]};
    int64_t step_a = (int64_t)s.m * s.k, step_b = (int64_t)s.k * s.n;
    for (int d = s.lead - 1; d >= 0; d--) {
        int ka = d - (out->rank - sa->rank), kb = d - (out->rank - sb->rank);
        int64_t da = ka >= 0 ? sa->dims[ka] : 1, db = kb >= 0 ? sb->dims[kb] : 1;
        s.dims[d] = out->dims[d];
        s.a_stride[d] = da == 1 ? 0 : step_a;
        s.b_stride[d] = db == 1 ? 0 : step_b;
        step_a *= da;
        step_b *= db;
    }
    int axis = 0;
    while (axis < s.lead && s.dims[axis] == 1)
        axis++;
    struct matmul_job j = {r->q8->k, &np->mul, &s, axis, q8_in(r, nd->inputs[0]),
                           q8_in(r, nd->inputs[1]), y};
    int parts = 1;
    if (axis < s.lead) {
        parts = runner_parts(r, numel(out) * s.k);
        if (parts > s.dims[axis])
            parts = (int)s.dims[axis];
    }
    if (parts <= 1)
        r->q8->k->matmul(&s, &np->mul, j.a, j.b, y);
    else
        threadpool_run(r->pool, matmul_part, &j, parts);
}

struct pool_job {
    const struct q8_pool2d_shape *s;
    const struct q8_unary *rq;
    const int8_t *x;
    int8_t *y;
    q8_pool2d_fn fn;
};

static struct split_window pool_window(const struct q8_pool2d_shape *s)
{
    return (struct split_window){
        .batch = s->batch, .in_h = s->in_h, .out_h = s->out_h, .kernel_h = s->kernel_h,
        .stride_h = s->stride_h, .dilation_h = 1, .pad_top = s->pad_top,
    };
}

static void pool_part(void *ctx, int part, int parts, int thread)
{
    (void)thread; /* no scratch */
    const struct pool_job *j = ctx;
    const struct q8_pool2d_shape *s = j->s;
    struct split_window win = pool_window(s);
    struct split_piece pc[3];
    int count = split_rows(&win, part, parts, pc);
    for (int i = 0; i < count; i++) {
        struct q8_pool2d_shape q = *s;
        q.batch = pc[i].batch;
        q.in_h = (int)pc[i].in_h;
        q.out_h = (int)pc[i].out_h;
        q.pad_top = (int)pc[i].pad_top;
        j->fn(&q, j->rq, j->x + (pc[i].n0 * s->in_h + pc[i].iy0) * s->in_w * s->c,
              j->y + (pc[i].n0 * s->out_h + pc[i].oy0) * s->out_w * s->c);
    }
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
    struct split_window win = pool_window(&s);
    struct pool_job j = {&s, &np->unary, q8_in(r, nd->inputs[0]), y, fn};
    int64_t work = numel(ys) * s.kernel_h * s.kernel_w;
    threadpool_run(r->pool, pool_part, &j, split_rows_parts(&win, runner_parts(r, work)));
}

static void exec_global_avg_pool(struct runner *r, const struct graph_node *nd,
                                 const struct q8_node_plan *np, int8_t *y)
{
    const struct quanta_shape *xs = shape_of(r, nd->inputs[0]);
    r->q8->k->global_avg_pool(xs->dims[0], xs->dims[1] * xs->dims[2], (int)xs->dims[3],
                              &np->unary, q8_in(r, nd->inputs[0]), y);
}

/* Element-wise ops: parts of whole elements (binary with a broadcast b:
 * of whole rows of b). */
enum ew_kind { EW_REQUANT, EW_COPY, EW_ADD, EW_MUL, EW_LEAKY, EW_LUT, EW_QUANTIZE, EW_DEQUANTIZE };

struct ew_job {
    struct runner *r;
    enum ew_kind kind;
    const struct q8_node_plan *np;
    int64_t n, b_n;
    const void *a;
    const int8_t *b;
    void *y;
};

static void ew_part(void *ctx, int part, int parts, int thread)
{
    (void)thread; /* no scratch */
    const struct ew_job *j = ctx;
    const struct q8_kernels *k = j->r->q8->k;
    const struct q8_node_plan *np = j->np;
    int64_t i0, i1;
    runner_range(j->n, j->b_n < j->n ? j->b_n : 1, part, parts, &i0, &i1);
    int64_t n = i1 - i0;
    if (n <= 0)
        return;
    const int8_t *a8 = (const int8_t *)j->a + i0;
    int8_t *y8 = (int8_t *)j->y + i0;
    const int8_t *b = j->b_n < j->n ? j->b : j->b + i0;
    int64_t b_n = j->b_n < j->n ? j->b_n : n;
    switch (j->kind) {
    case EW_REQUANT: k->requant_clamp(n, &np->unary, a8, y8); break;
    case EW_COPY: memcpy(y8, a8, (size_t)n); break;
    case EW_ADD: k->add(n, b_n, &np->add, a8, b, y8); break;
    case EW_MUL: k->mul(n, b_n, &np->mul, a8, b, y8); break;
    case EW_LEAKY: k->leaky_relu(n, &np->leaky, a8, y8); break;
    case EW_LUT: k->lut(n, np->lut, a8, y8); break;
    case EW_QUANTIZE: k->quantize(n, &np->qparams, (const float *)j->a + i0, y8); break;
    case EW_DEQUANTIZE: k->dequantize(n, &np->qparams, a8, (float *)j->y + i0); break;
    }
}

static void exec_elementwise(struct runner *r, enum ew_kind kind, const struct q8_node_plan *np,
                             int64_t n, int64_t b_n, const void *a, const int8_t *b, void *y)
{
    struct ew_job j = {r, kind, np, n, b_n, a, b, y};
    int parts = runner_parts(r, n);
    int64_t units = b_n < n ? n / b_n : n;
    if (parts > units)
        parts = (int)units;
    threadpool_run(r->pool, ew_part, &j, parts);
}

/* relu, relu6, flatten, reshape: a change of parameters with a clamp, or
 * the same bytes under another shape. */
static void exec_requant(struct runner *r, const struct graph_node *nd,
                         const struct q8_node_plan *np, int8_t *y)
{
    int64_t n = numel(shape_of(r, nd->inputs[0]));
    exec_elementwise(r, np->copy ? EW_COPY : EW_REQUANT, np, n, n, q8_in(r, nd->inputs[0]), NULL,
                     y);
}

static void exec_binary(struct runner *r, const struct graph_node *nd,
                        const struct q8_node_plan *np, int8_t *y)
{
    int64_t n = numel(shape_of(r, nd->inputs[0]));
    int64_t b_n = numel(shape_of(r, nd->inputs[1]));
    exec_elementwise(r, nd->op == GRAPH_OP_ADD ? EW_ADD : EW_MUL, np, n, b_n,
                     q8_in(r, nd->inputs[0]), q8_in(r, nd->inputs[1]), y);
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
        /* a constant of dim 0 1 under a batch of several: repeated */
        np->concat.rows[i] = xs->dims[0] == ys->dims[0] ? outer : outer / ys->dims[0];
        np->concat.x[i] = q8_in(r, nd->inputs[i]);
    }
    r->q8->k->concat(nd->n_inputs, outer, np->concat.inner, np->concat.rows, np->concat.rq,
                     np->concat.x, y);
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
    if (r->g->values[nd->inputs[1]].quant.dtype == QUANTA_I4) {
        /* 4-bit rows: bags of one id (plan_embedding) */
        struct q8_embedding_bag_params p = np->bag;
        p.n_ids = p.n_bags = quanta_shape_numel(&ids->shape);
        p.bag = 1;
        int64_t bad = r->q8->k->embedding_bag(&p, ids->ids, NULL, q8_in(r, nd->inputs[1]), y);
        if (bad >= 0)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "node '%s' (embedding): id %lld outside [0, %lld)", nd->name,
                               (long long)ids->ids[bad], (long long)ts->dims[0]);
        return QUANTA_OK;
    }
    const struct q8_unary *rq = np->embedding.rows ? np->embedding.rows : &np->embedding.one;
    int64_t bad = r->q8->k->embedding(numel(&ids->shape), ids->ids, ts->dims[0],
                                      (int)ts->dims[1], rq, np->embedding.rows != NULL,
                                      q8_in(r, nd->inputs[1]), y);
    if (bad >= 0)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s' (embedding): id %lld outside [0, %lld)", nd->name,
                           (long long)ids->ids[bad], (long long)ts->dims[0]);
    return QUANTA_OK;
}

static enum quanta_status exec_embedding_bag(struct runner *r, const struct graph_node *nd,
                                             const struct q8_node_plan *np, int8_t *y,
                                             struct quanta_error *err)
{
    const struct runner_value *ids = &r->values[nd->inputs[0]];
    int off, w;
    graph_bag_inputs(r->g, nd, &off, &w);
    struct q8_embedding_bag_params p = np->bag; /* table parameters from plan */
    p.n_bags = shape_of(r, nd->outputs[0])->dims[0];
    p.n_ids = quanta_shape_numel(&ids->shape);
    p.bag = off >= 0 ? 0 : ids->shape.dims[1];
    const int64_t *offsets = off >= 0 ? r->values[off].ids : NULL;
    enum quanta_status st;
    if (offsets &&
        (st = runner_check_offsets(nd, offsets, (size_t)p.n_bags, (size_t)p.n_ids, err)))
        return st;
    if (w >= 0 && r->g->values[w].quant.dtype != QUANTA_DTYPE_INVALID)
        p.weights_q8 = q8_in(r, w);
    else if (w >= 0)
        p.weights = r->values[w].view;
    int64_t bad = r->q8->k->embedding_bag(&p, ids->ids, offsets, q8_in(r, nd->inputs[1]), y);
    if (bad >= 0)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s' (embedding_bag): id %lld outside [0, %lld)", nd->name,
                           (long long)ids->ids[bad], (long long)p.vocab);
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
    /* a function is a table of 256 entries; it falls through to the float
     * view of a graph output below like every other op */
    if (graph_op_is_function(nd->op))
        exec_elementwise(r, EW_LUT, np, numel(shape_of(r, yv)), numel(shape_of(r, yv)),
                         q8_in(r, nd->inputs[0]), NULL, y);
    else switch (nd->op) {
    case GRAPH_OP_QUANTIZE:
        exec_elementwise(r, EW_QUANTIZE, np, numel(shape_of(r, yv)), numel(shape_of(r, yv)),
                         r->values[nd->inputs[0]].view, NULL, y);
        break;
    case GRAPH_OP_DEQUANTIZE:
        exec_elementwise(r, EW_DEQUANTIZE, np, numel(shape_of(r, yv)), numel(shape_of(r, yv)),
                         q8_in(r, nd->inputs[0]), NULL, runner_slot(r, yv));
        break;
    case GRAPH_OP_CONV2D:
        exec_conv2d(r, nd, np, np->reduce.float_out ? runner_slot(r, yv) : (void *)y);
        break;
    case GRAPH_OP_DENSE:
        exec_dense(r, nd, np, np->reduce.float_out ? runner_slot(r, yv) : (void *)y);
        break;
    case GRAPH_OP_MAX_POOL2D: exec_pool(r, nd, np, y, k->max_pool2d); break;
    case GRAPH_OP_AVG_POOL2D: exec_pool(r, nd, np, y, k->avg_pool2d); break;
    case GRAPH_OP_GLOBAL_AVG_POOL: exec_global_avg_pool(r, nd, np, y); break;
    case GRAPH_OP_RELU:
    case GRAPH_OP_RELU6:
    case GRAPH_OP_FLATTEN:
    case GRAPH_OP_RESHAPE: exec_requant(r, nd, np, y); break;
    case GRAPH_OP_TRANSPOSE: {
        struct transpose_params p;
        exec_transpose_params(nd, shape_of(r, nd->inputs[0]), 1, &p);
        r->f32->transpose(&p, q8_in(r, nd->inputs[0]), y);
        break;
    }
    case GRAPH_OP_SLICE: {
        struct slice_params p;
        exec_slice_params(nd, shape_of(r, nd->inputs[0]), 1, &p);
        r->f32->slice(&p, q8_in(r, nd->inputs[0]), y);
        break;
    }
    case GRAPH_OP_PAD: {
        struct pad_params p;
        exec_pad_params(nd, shape_of(r, nd->inputs[0]), 1, &np->pad_value, &p);
        r->f32->pad(&p, q8_in(r, nd->inputs[0]), y);
        break;
    }
    case GRAPH_OP_RESIZE: {
        const struct quanta_shape *xs = shape_of(r, nd->inputs[0]), *ys = shape_of(r, yv);
        if (nd->attrs.mode == GRAPH_MODE_LINEAR) {
            struct q8_resize_params p = {.rank = xs->rank,
                                         .zero_point = np->resize.zero_point};
            for (int d = 0; d < xs->rank; d++) {
                p.in[d] = xs->dims[d];
                p.out[d] = ys->dims[d];
                p.i0[d] = np->resize.i0[d];
                p.i1[d] = np->resize.i1[d];
                p.w1[d] = np->resize.w1[d];
            }
            k->resize_linear(&p, q8_in(r, nd->inputs[0]), y);
            break;
        }
        struct resize_params p;
        exec_resize_params(nd, xs, 1, &p);
        r->f32->resize_nearest(&p, q8_in(r, nd->inputs[0]), y);
        break;
    }
    case GRAPH_OP_LEAKY_RELU:
        exec_elementwise(r, EW_LEAKY, np, numel(shape_of(r, yv)), numel(shape_of(r, yv)),
                         q8_in(r, nd->inputs[0]), NULL, y);
        break;
    case GRAPH_OP_ADD:
    case GRAPH_OP_MUL: exec_binary(r, nd, np, y); break;
    case GRAPH_OP_MATMUL: exec_matmul(r, nd, np, y); break;
    case GRAPH_OP_CONCAT: exec_concat(r, nd, r->q8->nodes + node_index, y); break;
    case GRAPH_OP_MEAN: exec_mean(r, nd, np, y); break;
    case GRAPH_OP_EMBEDDING: st = exec_embedding(r, nd, np, y, err); break;
    case GRAPH_OP_EMBEDDING_BAG: st = exec_embedding_bag(r, nd, np, y, err); break;
    case GRAPH_OP_SOFTMAX: exec_softmax(r, nd, np); break;
    default: /* float-only ops: plan_q8 refused them */
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "node '%s' (%s): no int8 kernel", nd->name,
                           graph_op_name(nd->op));
    }
    /* a quantized graph output also has its float view (runner_output) */
    struct runner_value *rv = &r->values[yv];
    if (st == QUANTA_OK && rv->owned && r->g->values[yv].quant.dtype != QUANTA_DTYPE_INVALID)
        k->dequantize(numel(&rv->shape), &r->q8->dq[yv], q8_in(r, yv), rv->owned);
    return st;
}

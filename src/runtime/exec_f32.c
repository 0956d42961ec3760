/* Float execution of one node: a switch on the op, one small exec function
 * per op that turns graph attrs and the current shapes into kernel params
 * and calls the chosen f32 table. Shapes were validated by the graph, so
 * these only translate. */
#include "runtime/runner_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const float *in_data(const struct runner *r, const struct graph_node *nd, int i)
{
    if (i >= nd->n_inputs || nd->inputs[i] < 0)
        return NULL;
    return r->values[nd->inputs[i]].view;
}

static const struct quanta_shape *in_shape(const struct runner *r, const struct graph_node *nd,
                                           int i)
{
    return &r->values[nd->inputs[i]].shape;
}

static size_t numel(const struct quanta_shape *s)
{
    return (size_t)quanta_shape_numel(s);
}

/* The clamp of a fused activation (relu, relu6, clip; none for the others,
 * which epilogue applies). */
static void act_range(const struct graph_attrs *a, float *lo, float *hi)
{
    enum graph_activation act = a->activation;
    bool clamp = act == GRAPH_ACT_RELU || act == GRAPH_ACT_RELU6;
    *lo = act == GRAPH_ACT_CLIP ? a->min : clamp ? 0.0f : -INFINITY;
    *hi = act == GRAPH_ACT_CLIP ? a->max : act == GRAPH_ACT_RELU6 ? 6.0f : INFINITY;
}

/* A fused activation that is no clamp (graph_optimize), applied in place
 * to y[0..n) just written (still in cache) by the kernel of the op's own
 * node, so fused and separate nodes compute the same function. */
static void epilogue(const struct f32_kernels *k, const struct graph_attrs *a, float *y,
                     size_t n)
{
    struct f32_math_params mp = {0};
    switch (a->activation) {
    case GRAPH_ACT_LEAKY_RELU: k->leaky_relu(n, y, y, a->alpha); return;
    case GRAPH_ACT_SIGMOID: k->sigmoid(n, y, y, 0.0f); return;
    case GRAPH_ACT_TANH: k->tanh(n, y, y, 0.0f); return;
    case GRAPH_ACT_HARD_SWISH: mp.op = F32_MATH_HARD_SWISH; break;
    case GRAPH_ACT_SILU: mp.op = F32_MATH_SILU; break;
    case GRAPH_ACT_GELU: mp.op = F32_MATH_GELU; break;
    default: return; /* none, or a clamp the kernel applied */
    }
    k->math(&mp, n, y, y);
}

/* An axis as written (may be negative) as an index into rank dims. */
static int norm_axis(int axis, int rank)
{
    return axis < 0 ? axis + rank : axis;
}

static void conv2d_params(const struct graph_node *nd, const struct quanta_shape *xs,
                          const struct quanta_shape *ws, const struct quanta_shape *ys,
                          struct f32_conv2d_params *p)
{
    const struct graph_attrs *a = &nd->attrs;
    *p = (struct f32_conv2d_params){
        .batch = (size_t)xs->dims[0],
        .in_h = (size_t)xs->dims[1], .in_w = (size_t)xs->dims[2], .in_c = (size_t)xs->dims[3],
        .out_h = (size_t)ys->dims[1], .out_w = (size_t)ys->dims[2], .out_c = (size_t)ys->dims[3],
        .kernel_h = (size_t)ws->dims[1], .kernel_w = (size_t)ws->dims[2],
        .stride_h = (size_t)a->strides[0], .stride_w = (size_t)a->strides[1],
        .dilation_h = (size_t)a->dilations[0], .dilation_w = (size_t)a->dilations[1],
        .pad_top = (size_t)a->pads[0], .pad_left = (size_t)a->pads[1],
        .groups = (size_t)a->groups,
    };
    act_range(a, &p->out_min, &p->out_max);
}

static void dense_params(const struct graph_node *nd, const struct quanta_shape *xs,
                         const struct quanta_shape *ws, struct f32_dense_params *p)
{
    *p = (struct f32_dense_params){
        .in_k = (size_t)ws->dims[1],
        .out_n = (size_t)ws->dims[0],
    };
    p->batch = numel(xs) / p->in_k;
    act_range(&nd->attrs, &p->out_min, &p->out_max);
}

/* ---- conv2d, dense and pools on several threads ----
 * A node is cut by samples or output rows (split_rows) or by dense rows;
 * each part calls the same kernel on its piece, so every output element
 * is computed exactly as unsplit (the kernels' rows do not depend on the
 * batch or the rows around them). */

/* The residual add the optimizer fused into a conv2d/dense (input 3). */
static const float *residual_input(const struct runner *r, const struct graph_node *nd)
{
    return nd->n_inputs > 3 && nd->inputs[3] >= 0 ? in_data(r, nd, 3) : NULL;
}

struct conv_job {
    struct runner *r;
    int n;
    const struct graph_attrs *a;
    const struct f32_conv2d_params *p;
    const float *x, *w, *b;
    float *y;
    int parts;
};

static struct split_window conv_window(const struct f32_conv2d_params *p)
{
    return (struct split_window){
        .batch = (int64_t)p->batch, .in_h = (int64_t)p->in_h, .out_h = (int64_t)p->out_h,
        .kernel_h = (int64_t)p->kernel_h, .stride_h = (int64_t)p->stride_h,
        .dilation_h = (int64_t)p->dilation_h, .pad_top = (int64_t)p->pad_top,
    };
}

static void conv_part(void *ctx, int part, int parts, int thread)
{
    const struct conv_job *j = ctx;
    const struct f32_conv2d_params *p = j->p;
    struct split_window win = conv_window(p);
    struct split_piece pc[3];
    int count = split_rows(&win, part, parts, pc);
    float *scratch = j->r->scratch ? j->r->scratch + (size_t)thread * j->r->scratch_stride : NULL;
    for (int i = 0; i < count; i++) {
        struct f32_conv2d_params q = *p;
        q.batch = (size_t)pc[i].batch;
        q.in_h = (size_t)pc[i].in_h;
        q.out_h = (size_t)pc[i].out_h;
        q.pad_top = (size_t)pc[i].pad_top;
        const float *x = j->x + ((size_t)pc[i].n0 * p->in_h + (size_t)pc[i].iy0) * p->in_w * p->in_c;
        const size_t first = ((size_t)pc[i].n0 * p->out_h + (size_t)pc[i].oy0) * p->out_w * p->out_c;
        float *y = j->y + first;
        if (p->residual)
            q.residual = p->residual + first;
        if (j->r->packed && j->r->packed[j->n])
            j->r->f32->conv2d_packed(&q, x, j->r->packed[j->n], scratch, y);
        else
            j->r->f32->conv2d(&q, x, j->w, j->b, y);
        epilogue(j->r->f32, j->a, y, q.batch * q.out_h * q.out_w * q.out_c);
    }
}

static void exec_conv2d(struct runner *r, int n, const struct graph_node *nd, float *y)
{
    struct f32_conv2d_params p;
    conv2d_params(nd, in_shape(r, nd, 0), in_shape(r, nd, 1), &r->values[nd->outputs[0]].shape,
                  &p);
    p.residual = residual_input(r, nd);
    int64_t work = (int64_t)(p.batch * p.out_h * p.out_w * p.out_c * p.kernel_h * p.kernel_w *
                             (p.in_c / p.groups));
    struct split_window win = conv_window(&p);
    struct conv_job j = {r, n, &nd->attrs, &p, in_data(r, nd, 0), in_data(r, nd, 1), in_data(r, nd, 2), y, 1};
    j.parts = split_rows_parts(&win, runner_parts(r, work));
    threadpool_run(r->pool, conv_part, &j, j.parts);
}

struct dense_job {
    struct runner *r;
    int n;
    const struct graph_attrs *a;
    const struct f32_dense_params *p;
    const float *x, *w, *b;
    float *y;
};

static void dense_part(void *ctx, int part, int parts, int thread)
{
    (void)thread; /* no scratch */
    const struct dense_job *j = ctx;
    int64_t b0, b1;
    runner_range((int64_t)j->p->batch, 1, part, parts, &b0, &b1);
    if (b1 <= b0)
        return;
    struct f32_dense_params q = *j->p;
    q.batch = (size_t)(b1 - b0);
    const float *x = j->x + (size_t)b0 * q.in_k;
    float *y = j->y + (size_t)b0 * q.out_n;
    if (q.residual)
        q.residual += (size_t)b0 * q.out_n;
    if (j->r->packed && j->r->packed[j->n])
        j->r->f32->dense_packed(&q, x, j->r->packed[j->n], y);
    else
        j->r->f32->dense(&q, x, j->w, j->b, y);
    epilogue(j->r->f32, j->a, y, q.batch * q.out_n);
}

static void exec_dense(struct runner *r, int n, const struct graph_node *nd, float *y)
{
    struct f32_dense_params p;
    dense_params(nd, in_shape(r, nd, 0), in_shape(r, nd, 1), &p);
    p.residual = residual_input(r, nd);
    int parts = runner_parts(r, (int64_t)(p.batch * p.in_k * p.out_n));
    if ((size_t)parts > p.batch)
        parts = (int)p.batch;
    struct dense_job j = {r, n, &nd->attrs, &p, in_data(r, nd, 0), in_data(r, nd, 1), in_data(r, nd, 2), y};
    threadpool_run(r->pool, dense_part, &j, parts);
}

/* ---- weights packed once (runner_create) ---- */

/* Whether node n is a float conv2d/dense whose weights (and bias) are
 * constants with a float view. */
static bool packable(const struct runner *r, int n)
{
    const struct graph *g = r->g;
    const struct graph_node *nd = &g->nodes[n];
    if ((nd->op != GRAPH_OP_CONV2D && nd->op != GRAPH_OP_DENSE) || runner_q8_node(g, n))
        return false;
    for (int i = 1; i < nd->n_inputs && i <= 2; i++) {
        int v = nd->inputs[i];
        if (v < 0)
            continue;
        if (g->values[v].kind != GRAPH_VALUE_CONST || !r->values[v].view)
            return false;
    }
    return nd->n_inputs >= 2 && nd->inputs[1] >= 0;
}

enum quanta_status exec_f32_pack(struct runner *r, struct quanta_error *err)
{
    const struct graph *g = r->g;
    const struct f32_kernels *k = r->f32;
    size_t scratch = 0;
    r->packed = calloc((size_t)g->n_nodes + 1, sizeof *r->packed);
    if (!r->packed)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "runner: out of memory");
    for (int n = 0; n < g->n_nodes; n++) {
        if (!packable(r, n))
            continue;
        const struct graph_node *nd = &g->nodes[n];
        struct quanta_shape xs = graph_value_shape(g, nd->inputs[0], r->max_batch);
        struct quanta_shape ys = graph_value_shape(g, nd->outputs[0], r->max_batch);
        const struct quanta_shape *ws = &r->values[nd->inputs[1]].shape;
        struct f32_conv2d_params cp;
        struct f32_dense_params dp;
        size_t size;
        if (nd->op == GRAPH_OP_CONV2D) {
            conv2d_params(nd, &xs, ws, &ys, &cp);
            size = k->conv2d_pack_size(&cp);
            size_t s = k->conv2d_scratch_size(&cp);
            if (s > scratch)
                scratch = s;
        } else {
            dense_params(nd, &xs, ws, &dp);
            size = k->dense_pack_size(&dp);
        }
        /* 64-byte aligned, whole cache lines */
        r->packed[n] = aligned_alloc(64, (size * sizeof(float) + 63) / 64 * 64);
        if (!r->packed[n])
            return quanta_fail(err, QUANTA_ERR_NOMEM,
                               "node '%s' (%s): cannot allocate %zu bytes of packed weights",
                               nd->name, graph_op_name(nd->op), size * sizeof(float));
        if (nd->op == GRAPH_OP_CONV2D)
            k->conv2d_pack(&cp, in_data(r, nd, 1), in_data(r, nd, 2), r->packed[n]);
        else
            k->dense_pack(&dp, in_data(r, nd, 1), in_data(r, nd, 2), r->packed[n]);
    }
    if (scratch) {
        /* one per thread, each on its own cache lines */
        r->scratch_stride = (scratch + 15) / 16 * 16;
        size_t bytes = r->scratch_stride * sizeof(float) * (size_t)r->n_threads;
        r->scratch = aligned_alloc(64, bytes);
        if (!r->scratch)
            return quanta_fail(err, QUANTA_ERR_NOMEM,
                               "runner: cannot allocate %zu bytes of conv2d scratch", bytes);
    }
    return QUANTA_OK;
}

void exec_f32_unpack(struct runner *r)
{
    if (r->packed)
        for (int n = 0; n < r->g->n_nodes; n++)
            free(r->packed[n]);
    free(r->packed);
    free(r->scratch);
    r->packed = NULL;
    r->scratch = NULL;
}

struct pool_job {
    const struct f32_pool2d_params *p;
    const float *x;
    float *y;
    f32_pool2d_fn fn;
};

static struct split_window pool_window(const struct f32_pool2d_params *p)
{
    return (struct split_window){
        .batch = (int64_t)p->batch, .in_h = (int64_t)p->in_h, .out_h = (int64_t)p->out_h,
        .kernel_h = (int64_t)p->kernel_h, .stride_h = (int64_t)p->stride_h, .dilation_h = 1,
        .pad_top = (int64_t)p->pad_top,
    };
}

static void pool_part(void *ctx, int part, int parts, int thread)
{
    (void)thread; /* no scratch */
    const struct pool_job *j = ctx;
    const struct f32_pool2d_params *p = j->p;
    struct split_window win = pool_window(p);
    struct split_piece pc[3];
    int count = split_rows(&win, part, parts, pc);
    for (int i = 0; i < count; i++) {
        struct f32_pool2d_params q = *p;
        q.batch = (size_t)pc[i].batch;
        q.in_h = (size_t)pc[i].in_h;
        q.out_h = (size_t)pc[i].out_h;
        q.pad_top = (size_t)pc[i].pad_top;
        j->fn(&q, j->x + ((size_t)pc[i].n0 * p->in_h + (size_t)pc[i].iy0) * p->in_w * p->channels,
              j->y + ((size_t)pc[i].n0 * p->out_h + (size_t)pc[i].oy0) * p->out_w * p->channels);
    }
}

static void exec_pool(struct runner *r, const struct graph_node *nd, float *y, f32_pool2d_fn fn)
{
    const struct quanta_shape *xs = in_shape(r, nd, 0);
    const struct quanta_shape *ys = &r->values[nd->outputs[0]].shape;
    const struct graph_attrs *a = &nd->attrs;
    struct f32_pool2d_params p = {
        .batch = (size_t)xs->dims[0],
        .in_h = (size_t)xs->dims[1], .in_w = (size_t)xs->dims[2], .channels = (size_t)xs->dims[3],
        .out_h = (size_t)ys->dims[1], .out_w = (size_t)ys->dims[2],
        .kernel_h = (size_t)a->kernel[0], .kernel_w = (size_t)a->kernel[1],
        .stride_h = (size_t)a->strides[0], .stride_w = (size_t)a->strides[1],
        .pad_top = (size_t)a->pads[0], .pad_left = (size_t)a->pads[1],
    };
    struct split_window win = pool_window(&p);
    int64_t work = (int64_t)(numel(ys) * p.kernel_h * p.kernel_w);
    struct pool_job j = {&p, in_data(r, nd, 0), y, fn};
    threadpool_run(r->pool, pool_part, &j, split_rows_parts(&win, runner_parts(r, work)));
}

static void exec_global_avg_pool(struct runner *r, const struct graph_node *nd, float *y)
{
    const struct quanta_shape *xs = in_shape(r, nd, 0);
    r->f32->global_avg_pool((size_t)xs->dims[0], (size_t)(xs->dims[1] * xs->dims[2]),
                            (size_t)xs->dims[3], in_data(r, nd, 0), y);
}

/* element-wise: parts of whole elements (binary: of whole rows of b) */
struct elementwise_job {
    size_t n, align;
    const float *a, *b;
    float *y;
    f32_unary_fn unary;
    float alpha;
    f32_binary_fn binary;
    const struct f32_binary_params *p;
};

static void elementwise_part(void *ctx, int part, int parts, int thread)
{
    (void)thread; /* no scratch */
    const struct elementwise_job *j = ctx;
    int64_t i0, i1;
    runner_range((int64_t)j->n, (int64_t)j->align, part, parts, &i0, &i1);
    if (i1 <= i0)
        return;
    if (j->unary) {
        j->unary((size_t)(i1 - i0), j->a + i0, j->y + i0, j->alpha);
    } else {
        struct f32_binary_params q = *j->p;
        bool same = q.b_n == q.n;
        q.n = (size_t)(i1 - i0);
        if (same)
            q.b_n = q.n;
        j->binary(&q, j->a + i0, same ? j->b + i0 : j->b, j->y + i0);
    }
}

static void exec_unary(struct runner *r, const struct graph_node *nd, float *y, f32_unary_fn fn)
{
    struct elementwise_job j = {.n = numel(in_shape(r, nd, 0)), .align = 1,
                                .a = in_data(r, nd, 0), .y = y, .unary = fn,
                                .alpha = nd->attrs.alpha};
    threadpool_run(r->pool, elementwise_part, &j, runner_parts(r, (int64_t)j.n));
}

static void exec_binary(struct runner *r, const struct graph_node *nd, float *y,
                        f32_binary_fn fn)
{
    struct f32_binary_params p = {
        .n = numel(in_shape(r, nd, 0)),
        .b_n = numel(in_shape(r, nd, 1)),
    };
    act_range(&nd->attrs, &p.out_min, &p.out_max);
    struct elementwise_job j = {.n = p.n, .align = p.b_n == p.n ? 1 : p.b_n,
                                .a = in_data(r, nd, 0), .b = in_data(r, nd, 1), .y = y,
                                .binary = fn, .p = &p};
    int parts = runner_parts(r, (int64_t)p.n);
    if ((size_t)parts > p.n / j.align)
        parts = (int)(p.n / j.align);
    threadpool_run(r->pool, elementwise_part, &j, parts);
}

/* ---- element-wise math and broadcasting binary operators ---- */

struct math_job {
    const struct f32_kernels *k;
    struct f32_math_params p;
    size_t n;
    const float *x;
    float *y;
};

static void math_part(void *ctx, int part, int parts, int thread)
{
    (void)thread;
    const struct math_job *j = ctx;
    int64_t i0, i1;
    runner_range((int64_t)j->n, 1, part, parts, &i0, &i1);
    if (i1 > i0)
        j->k->math(&j->p, (size_t)(i1 - i0), j->x + i0, j->y + i0);
}

bool exec_math_params(const struct graph_node *nd, struct f32_math_params *p)
{
    static const struct { enum graph_op op; enum f32_math_op math; } map[] = {
        {GRAPH_OP_NEG, F32_MATH_NEG},   {GRAPH_OP_ABS, F32_MATH_ABS},
        {GRAPH_OP_EXP, F32_MATH_EXP},   {GRAPH_OP_LOG, F32_MATH_LOG},
        {GRAPH_OP_SQRT, F32_MATH_SQRT}, {GRAPH_OP_ERF, F32_MATH_ERF},
        {GRAPH_OP_HARD_SIGMOID, F32_MATH_HARD_SIGMOID},
        {GRAPH_OP_HARD_SWISH, F32_MATH_HARD_SWISH},
        {GRAPH_OP_ELU, F32_MATH_ELU},   {GRAPH_OP_SELU, F32_MATH_SELU},
        {GRAPH_OP_CLIP, F32_MATH_CLIP}, {GRAPH_OP_SILU, F32_MATH_SILU},
        {GRAPH_OP_GELU, F32_MATH_GELU}, {GRAPH_OP_GELU_TANH, F32_MATH_GELU_TANH},
    };
    const struct graph_attrs *a = &nd->attrs;
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (map[i].op != nd->op)
            continue;
        if (!p)
            return true;
        *p = (struct f32_math_params){.op = map[i].math};
        if (p->op == F32_MATH_HARD_SIGMOID || p->op == F32_MATH_ELU) {
            p->a = a->alpha;
            p->b = a->beta;
        } else if (p->op == F32_MATH_SELU) {
            p->a = a->alpha;
            p->b = a->gamma;
        } else if (p->op == F32_MATH_CLIP) {
            p->a = a->min;
            p->b = a->max;
        }
        return true;
    }
    return false;
}

bool runner_node_function(const struct graph_node *nd, double x, double *y)
{
    struct f32_math_params p;
    if (nd->op == GRAPH_OP_SIGMOID)
        *y = 1.0 / (1.0 + exp(-x));
    else if (nd->op == GRAPH_OP_TANH)
        *y = tanh(x);
    else if (exec_math_params(nd, &p))
        *y = f32_math_one(&p, x);
    else
        return false;
    return true;
}

static void exec_math(struct runner *r, const struct graph_node *nd, float *y)
{
    struct math_job j = {.k = r->f32, .n = numel(in_shape(r, nd, 0)),
                         .x = in_data(r, nd, 0), .y = y};
    exec_math_params(nd, &j.p);
    threadpool_run(r->pool, math_part, &j, runner_parts(r, (int64_t)j.n));
}

/* Strides (in elements) of an operand of shape s read along the axes of
 * out (right-aligned, NumPy rules): 0 where it broadcasts. */
static void broadcast_strides(const struct quanta_shape *s, const struct quanta_shape *out,
                              size_t *stride)
{
    size_t step = 1;
    for (int d = out->rank - 1; d >= 0; d--) {
        int k = d - (out->rank - s->rank);
        size_t dim = k >= 0 ? (size_t)s->dims[k] : 1;
        stride[d] = dim == 1 ? 0 : step;
        step *= dim;
    }
}

struct broadcast_job {
    const struct f32_kernels *k;
    struct f32_broadcast_params p;  /* the whole output */
    const float *a, *b;
    float *y;
};

/* Parts cut along the outermost axis of more than one element. */
static void broadcast_part(void *ctx, int part, int parts, int thread)
{
    (void)thread;
    const struct broadcast_job *j = ctx;
    struct f32_broadcast_params p = j->p;
    int d = 0;
    size_t inner = 1;
    while (d < p.rank - 1 && p.dims[d] == 1)
        d++;
    for (int e = d + 1; e < p.rank; e++)
        inner *= p.dims[e];
    int64_t i0, i1;
    runner_range((int64_t)p.dims[d], 1, part, parts, &i0, &i1);
    if (i1 <= i0)
        return;
    p.dims[d] = (size_t)(i1 - i0);
    j->k->broadcast(&p, j->a + (size_t)i0 * j->p.a_stride[d], j->b + (size_t)i0 * j->p.b_stride[d],
                    j->y + (size_t)i0 * inner);
}

static void exec_broadcast(struct runner *r, const struct graph_node *nd, float *y,
                           enum f32_binary_op op)
{
    const struct quanta_shape *out = &r->values[nd->outputs[0]].shape;
    struct broadcast_job j = {.k = r->f32, .p = {.op = op, .rank = out->rank > 0 ? out->rank : 1},
                              .a = in_data(r, nd, 0), .b = in_data(r, nd, 1), .y = y};
    act_range(&nd->attrs, &j.p.out_min, &j.p.out_max);
    if (out->rank == 0) {
        j.p.dims[0] = 1;
    } else {
        for (int d = 0; d < out->rank; d++)
            j.p.dims[d] = (size_t)out->dims[d];
        broadcast_strides(in_shape(r, nd, 0), out, j.p.a_stride);
        broadcast_strides(in_shape(r, nd, 1), out, j.p.b_stride);
    }
    int d = 0;
    while (d < j.p.rank - 1 && j.p.dims[d] == 1)
        d++;
    int parts = runner_parts(r, (int64_t)numel(out));
    if ((size_t)parts > j.p.dims[d])
        parts = (int)j.p.dims[d];
    threadpool_run(r->pool, broadcast_part, &j, parts);
}

/* add, mul: the fast kernels when b has a's shape or is [C] along a's
 * last axis and a has the output's shape; NumPy broadcasting otherwise. */
static void exec_add_mul(struct runner *r, const struct graph_node *nd, float *y,
                         f32_binary_fn fn, enum f32_binary_op op)
{
    const struct quanta_shape *a = in_shape(r, nd, 0), *b = in_shape(r, nd, 1);
    const struct quanta_shape *out = &r->values[nd->outputs[0]].shape;
    bool channel = b->rank == 1 && a->rank >= 1 && b->dims[0] == a->dims[a->rank - 1];
    if (quanta_shape_equal(a, out) && (quanta_shape_equal(a, b) || channel))
        exec_binary(r, nd, y, fn);
    else
        exec_broadcast(r, nd, y, op);
}

/* Kernel params of a transpose node for its input's current shape. */
void exec_transpose_params(const struct graph_node *nd, const struct quanta_shape *xs,
                           size_t elem_size, struct transpose_params *p)
{
    p->rank = xs->rank;
    p->elem_size = elem_size;
    for (int d = 0; d < xs->rank; d++) {
        p->dims[d] = (size_t)xs->dims[d];
        p->perm[d] = nd->attrs.perm[d];
    }
}

/* Kernel params of a slice node for its input's current shape (the batch,
 * taken whole, at its current size). */
void exec_slice_params(const struct graph_node *nd, const struct quanta_shape *xs,
                       size_t elem_size, struct slice_params *p)
{
    const struct graph_attrs *a = &nd->attrs;
    p->rank = xs->rank;
    p->elem_size = elem_size;
    for (int d = 0; d < xs->rank; d++) {
        p->in[d] = (size_t)xs->dims[d];
        p->out[d] = a->shape.dims[d] < 0 ? (size_t)xs->dims[d] : (size_t)a->shape.dims[d];
        p->starts[d] = a->starts[d];
        p->steps[d] = a->n_steps ? a->steps[d] : 1;
    }
}

void exec_pad_params(const struct graph_node *nd, const struct quanta_shape *xs,
                     size_t elem_size, const void *value, struct pad_params *p)
{
    const struct graph_attrs *a = &nd->attrs;
    p->rank = xs->rank;
    p->elem_size = elem_size;
    p->value = value;
    p->mode = a->mode == GRAPH_MODE_REFLECT ? PAD_REFLECT
              : a->mode == GRAPH_MODE_EDGE  ? PAD_EDGE
                                            : PAD_CONSTANT;
    for (int d = 0; d < xs->rank; d++) {
        p->in[d] = (size_t)xs->dims[d];
        p->begin[d] = a->pads_begin[d];
        p->end[d] = a->pads_end[d];
        p->out[d] = (size_t)(xs->dims[d] + a->pads_begin[d] + a->pads_end[d]);
    }
}

static void exec_pad(struct runner *r, const struct graph_node *nd, float *y)
{
    struct pad_params p;
    const float value = nd->attrs.value;
    exec_pad_params(nd, in_shape(r, nd, 0), sizeof(float), &value, &p);
    r->f32->pad(&p, in_data(r, nd, 0), y);
}

/* Scale and real output extent of each axis as ONNX's reference has them:
 * a given float scale s gives the extent (float)(s * in); without one,
 * s = out / in and the extent s * in, in double. */
void exec_resize_params(const struct graph_node *nd, const struct quanta_shape *xs,
                        size_t elem_size, struct resize_params *p)
{
    const struct graph_attrs *a = &nd->attrs;
    static const enum resize_coord coords[] = {
        [GRAPH_COORD_HALF_PIXEL] = RESIZE_HALF_PIXEL,
        [GRAPH_COORD_ASYMMETRIC] = RESIZE_ASYMMETRIC,
        [GRAPH_COORD_ALIGN_CORNERS] = RESIZE_ALIGN_CORNERS,
        [GRAPH_COORD_PYTORCH_HALF_PIXEL] = RESIZE_PYTORCH_HALF_PIXEL,
        [GRAPH_COORD_TF_HALF_PIXEL_FOR_NN] = RESIZE_TF_HALF_PIXEL_FOR_NN,
    };
    static const enum resize_round rounds[] = {
        [GRAPH_ROUND_ROUND_PREFER_FLOOR] = RESIZE_PREFER_FLOOR,
        [GRAPH_ROUND_ROUND_PREFER_CEIL] = RESIZE_PREFER_CEIL,
        [GRAPH_ROUND_FLOOR] = RESIZE_FLOOR,
        [GRAPH_ROUND_CEIL] = RESIZE_CEIL,
    };
    p->rank = xs->rank;
    p->elem_size = elem_size;
    p->coord = coords[a->coord];
    p->round = rounds[a->nearest];
    for (int d = 0; d < xs->rank; d++) {
        size_t in = (size_t)xs->dims[d];
        p->in[d] = in;
        p->out[d] = a->shape.dims[d] < 0 ? in : (size_t)a->shape.dims[d];
        float s = a->n_scales ? a->scales[d] : 0.0f;
        if (a->shape.dims[d] < 0) {
            p->scale[d] = 1.0;
            p->width[d] = (double)in;
        } else if (s > 0.0f) {
            p->scale[d] = (double)s;
            p->width[d] = (double)(s * (float)in);
        } else {
            p->scale[d] = (double)p->out[d] / (double)in;
            p->width[d] = p->scale[d] * (double)in;
        }
    }
}

static void exec_resize(struct runner *r, const struct graph_node *nd, float *y)
{
    struct resize_params p;
    exec_resize_params(nd, in_shape(r, nd, 0), sizeof(float), &p);
    if (nd->attrs.mode == GRAPH_MODE_LINEAR)
        r->f32->resize_linear(&p, in_data(r, nd, 0), y);
    else
        r->f32->resize_nearest(&p, in_data(r, nd, 0), y);
}

static void exec_slice(struct runner *r, const struct graph_node *nd, float *y)
{
    struct slice_params p;
    exec_slice_params(nd, in_shape(r, nd, 0), sizeof(float), &p);
    r->f32->slice(&p, in_data(r, nd, 0), y);
}

static void exec_matmul(struct runner *r, const struct graph_node *nd, float *y)
{
    const struct quanta_shape *sa = in_shape(r, nd, 0), *sb = in_shape(r, nd, 1);
    const struct quanta_shape *out = &r->values[nd->outputs[0]].shape;
    struct f32_matmul_params p = {.lead = out->rank - 2,
                                  .m = (size_t)sa->dims[sa->rank - 2],
                                  .k = (size_t)sa->dims[sa->rank - 1],
                                  .n = (size_t)sb->dims[sb->rank - 1]};
    size_t step_a = p.m * p.k, step_b = p.k * p.n;
    for (int d = p.lead - 1; d >= 0; d--) {
        int ka = d - (out->rank - sa->rank), kb = d - (out->rank - sb->rank);
        size_t da = ka >= 0 ? (size_t)sa->dims[ka] : 1, db = kb >= 0 ? (size_t)sb->dims[kb] : 1;
        p.dims[d] = (size_t)out->dims[d];
        p.a_stride[d] = da == 1 ? 0 : step_a;
        p.b_stride[d] = db == 1 ? 0 : step_b;
        step_a *= da;
        step_b *= db;
    }
    r->f32->matmul(&p, in_data(r, nd, 0), in_data(r, nd, 1), y);
    float lo, hi;
    act_range(&nd->attrs, &lo, &hi);
    if (lo > -INFINITY || hi < INFINITY) /* matmul has no clamp of its own */
        for (size_t i = 0, n = numel(out); i < n; i++)
            y[i] = fminf(fmaxf(y[i], lo), hi);
    epilogue(r->f32, &nd->attrs, y, numel(out));
}

static void exec_transpose(struct runner *r, const struct graph_node *nd, float *y)
{
    struct transpose_params p;
    exec_transpose_params(nd, in_shape(r, nd, 0), sizeof(float), &p);
    r->f32->transpose(&p, in_data(r, nd, 0), y);
}

/* flatten, reshape: the same numbers under another shape. */
static void exec_copy(struct runner *r, const struct graph_node *nd, float *y)
{
    memcpy(y, in_data(r, nd, 0), numel(in_shape(r, nd, 0)) * sizeof *y);
}

static void exec_concat(struct runner *r, const struct graph_node *nd, float *y)
{
    const struct quanta_shape *ys = &r->values[nd->outputs[0]].shape;
    int axis = norm_axis(nd->attrs.axis, ys->rank);
    size_t outer = 1;
    for (int d = 0; d < axis; d++)
        outer *= (size_t)ys->dims[d];
    for (int i = 0; i < nd->n_inputs; i++) {
        const struct quanta_shape *xs = in_shape(r, nd, i);
        size_t chunk = 1;
        for (int d = axis; d < xs->rank; d++)
            chunk *= (size_t)xs->dims[d];
        r->chunk[i] = chunk;
        /* a constant of dim 0 1 under a batch of several: repeated */
        r->rows[i] = xs->dims[0] == ys->dims[0] ? outer : outer / (size_t)ys->dims[0];
        r->ptrs[i] = in_data(r, nd, i);
    }
    struct f32_concat_params p = {.outer = outer, .n_inputs = (size_t)nd->n_inputs,
                                  .chunk = r->chunk, .rows = r->rows};
    r->f32->concat(&p, r->ptrs, y);
}

static void exec_softmax(struct runner *r, const struct graph_node *nd, float *y)
{
    const struct quanta_shape *xs = in_shape(r, nd, 0);
    int axis = norm_axis(nd->attrs.axis, xs->rank);
    struct f32_softmax_params p = {.outer = 1, .axis_len = (size_t)xs->dims[axis], .inner = 1,
                                   .log = nd->op == GRAPH_OP_LOG_SOFTMAX};
    for (int d = 0; d < axis; d++)
        p.outer *= (size_t)xs->dims[d];
    for (int d = axis + 1; d < xs->rank; d++)
        p.inner *= (size_t)xs->dims[d];
    r->f32->softmax(&p, in_data(r, nd, 0), y);
}

static void exec_batch_norm(struct runner *r, const struct graph_node *nd, float *y)
{
    const struct quanta_shape *xs = in_shape(r, nd, 0);
    struct f32_batch_norm_params p = {
        .channels = (size_t)xs->dims[xs->rank - 1],
        .epsilon = nd->attrs.epsilon,
    };
    p.rows = numel(xs) / p.channels;
    r->f32->batch_norm(&p, in_data(r, nd, 0), in_data(r, nd, 1), in_data(r, nd, 2),
                       in_data(r, nd, 3), in_data(r, nd, 4), y);
}

static void exec_layer_norm(struct runner *r, const struct graph_node *nd, float *y)
{
    const struct quanta_shape *xs = in_shape(r, nd, 0);
    int axis = nd->attrs.axis < 0 ? nd->attrs.axis + xs->rank : nd->attrs.axis;
    struct f32_layer_norm_params p = {.cols = 1, .epsilon = nd->attrs.epsilon};
    for (int d = axis; d < xs->rank; d++)
        p.cols *= (size_t)xs->dims[d];
    p.rows = numel(xs) / p.cols;
    const float *bias = nd->n_inputs > 2 && nd->inputs[2] >= 0 ? in_data(r, nd, 2) : NULL;
    r->f32->layer_norm(&p, in_data(r, nd, 0), in_data(r, nd, 1), bias, y);
}

static void exec_instance_norm(struct runner *r, const struct graph_node *nd, float *y)
{
    const struct quanta_shape *xs = in_shape(r, nd, 0);
    struct f32_instance_norm_params p = {
        .n = (size_t)xs->dims[0],
        .channels = (size_t)xs->dims[xs->rank - 1],
        .epsilon = nd->attrs.epsilon,
    };
    p.spatial = numel(xs) / p.n / p.channels;
    r->f32->instance_norm(&p, in_data(r, nd, 0), in_data(r, nd, 1), in_data(r, nd, 2), y);
}

static enum quanta_status exec_cast(struct runner *r, const struct graph_node *nd, float *y,
                                    struct quanta_error *err)
{
    struct f32_cast_params p = {.to = (int)nd->attrs.to};
    const float *x = in_data(r, nd, 0);
    size_t n = numel(in_shape(r, nd, 0));
    size_t bad = r->f32->cast(&p, n, x, y);
    if (bad < n)
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (cast): value %g at %zu is outside "
                                                  "the range of %s",
                           nd->name, (double)x[bad], bad, quanta_dtype_name(nd->attrs.to));
    return QUANTA_OK;
}

static enum quanta_status exec_embedding(struct runner *r, const struct graph_node *nd, float *y,
                                         struct quanta_error *err)
{
    const struct runner_value *ids = &r->values[nd->inputs[0]];
    const struct quanta_shape *ts = in_shape(r, nd, 1);
    struct f32_embedding_params p = {
        .n_ids = numel(&ids->shape),
        .vocab = (size_t)ts->dims[0],
        .dim = (size_t)ts->dims[1],
    };
    int64_t bad = r->f32->embedding(&p, ids->ids, in_data(r, nd, 1), y);
    if (bad >= 0)
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (embedding): id %lld outside [0, %zu)",
                           nd->name, (long long)ids->ids[bad], p.vocab);
    return QUANTA_OK;
}

static enum quanta_status exec_embedding_bag(struct runner *r, const struct graph_node *nd,
                                             float *y, struct quanta_error *err)
{
    const struct runner_value *ids = &r->values[nd->inputs[0]];
    const struct quanta_shape *ts = in_shape(r, nd, 1);
    int off, w;
    graph_bag_inputs(r->g, nd, &off, &w);
    const struct quanta_shape *ys = &r->values[nd->outputs[0]].shape;
    struct f32_embedding_bag_params p = {
        .n_bags = (size_t)ys->dims[0],
        .n_ids = numel(&ids->shape),
        .bag = off >= 0 ? 0 : (size_t)ids->shape.dims[1],
        .vocab = (size_t)ts->dims[0],
        .dim = (size_t)ts->dims[1],
        .mode = nd->attrs.mode == GRAPH_MODE_SUM    ? F32_BAG_SUM
                : nd->attrs.mode == GRAPH_MODE_MEAN ? F32_BAG_MEAN
                                                    : F32_BAG_MAX,
    };
    const int64_t *offsets = off >= 0 ? r->values[off].ids : NULL;
    enum quanta_status st;
    if (offsets && (st = runner_check_offsets(nd, offsets, p.n_bags, p.n_ids, err)))
        return st;
    int64_t bad = r->f32->embedding_bag(&p, ids->ids, offsets, w >= 0 ? r->values[w].view : NULL,
                                        in_data(r, nd, 1), y);
    if (bad >= 0)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s' (embedding_bag): id %lld outside [0, %zu)", nd->name,
                           (long long)ids->ids[bad], p.vocab);
    return QUANTA_OK;
}

static void exec_mean(struct runner *r, const struct graph_node *nd, float *y,
                      enum f32_reduce_op op)
{
    const struct quanta_shape *xs = in_shape(r, nd, 0);
    struct f32_reduce_params p = {.op = op, .rank = xs->rank,
                                  .select_last = nd->attrs.select_last};
    for (int d = 0; d < xs->rank; d++)
        p.dims[d] = (size_t)xs->dims[d];
    for (int i = 0; i < nd->attrs.n_axes; i++)
        p.reduce[norm_axis(nd->attrs.axes[i], xs->rank)] = 1;
    r->f32->mean(&p, in_data(r, nd, 0), y);
}

bool exec_f32_supports(enum graph_op op)
{
    return op != GRAPH_OP_QUANTIZE && op != GRAPH_OP_DEQUANTIZE && op < GRAPH_OP_COUNT;
}

enum quanta_status exec_f32_node(struct runner *r, int node_index, struct quanta_error *err)
{
    const struct graph_node *nd = &r->g->nodes[node_index];
    const struct f32_kernels *k = r->f32;
    float *y = runner_slot(r, nd->outputs[0]);
    switch (nd->op) {
    case GRAPH_OP_CONV2D: exec_conv2d(r, node_index, nd, y); break;
    case GRAPH_OP_DENSE: exec_dense(r, node_index, nd, y); break;
    case GRAPH_OP_RELU: exec_unary(r, nd, y, k->relu); break;
    case GRAPH_OP_RELU6: exec_unary(r, nd, y, k->relu6); break;
    case GRAPH_OP_SIGMOID: exec_unary(r, nd, y, k->sigmoid); break;
    case GRAPH_OP_TANH: exec_unary(r, nd, y, k->tanh); break;
    case GRAPH_OP_LEAKY_RELU: exec_unary(r, nd, y, k->leaky_relu); break;
    case GRAPH_OP_MAX_POOL2D: exec_pool(r, nd, y, k->max_pool2d); break;
    case GRAPH_OP_AVG_POOL2D: exec_pool(r, nd, y, k->avg_pool2d); break;
    case GRAPH_OP_GLOBAL_AVG_POOL: exec_global_avg_pool(r, nd, y); break;
    case GRAPH_OP_CONV3D:
    case GRAPH_OP_MAX_POOL3D:
    case GRAPH_OP_AVG_POOL3D: exec_f32_window3d(r, nd, y); break;
    case GRAPH_OP_FLATTEN:
    case GRAPH_OP_RESHAPE: exec_copy(r, nd, y); break;
    case GRAPH_OP_ADD: exec_add_mul(r, nd, y, k->add, F32_BIN_ADD); break;
    case GRAPH_OP_MUL: exec_add_mul(r, nd, y, k->mul, F32_BIN_MUL); break;
    case GRAPH_OP_SUB: exec_broadcast(r, nd, y, F32_BIN_SUB); break;
    case GRAPH_OP_DIV: exec_broadcast(r, nd, y, F32_BIN_DIV); break;
    case GRAPH_OP_POW: exec_broadcast(r, nd, y, F32_BIN_POW); break;
    case GRAPH_OP_MIN: exec_broadcast(r, nd, y, F32_BIN_MIN); break;
    case GRAPH_OP_MAX: exec_broadcast(r, nd, y, F32_BIN_MAX); break;
    case GRAPH_OP_PRELU: exec_broadcast(r, nd, y, F32_BIN_PRELU); break;
    case GRAPH_OP_NEG:
    case GRAPH_OP_ABS:
    case GRAPH_OP_EXP:
    case GRAPH_OP_LOG:
    case GRAPH_OP_SQRT:
    case GRAPH_OP_ERF:
    case GRAPH_OP_HARD_SIGMOID:
    case GRAPH_OP_HARD_SWISH:
    case GRAPH_OP_ELU:
    case GRAPH_OP_SELU:
    case GRAPH_OP_CLIP:
    case GRAPH_OP_SILU:
    case GRAPH_OP_GELU:
    case GRAPH_OP_GELU_TANH: exec_math(r, nd, y); break;
    case GRAPH_OP_TRANSPOSE: exec_transpose(r, nd, y); break;
    case GRAPH_OP_SLICE: exec_slice(r, nd, y); break;
    case GRAPH_OP_PAD: exec_pad(r, nd, y); break;
    case GRAPH_OP_RESIZE: exec_resize(r, nd, y); break;
    case GRAPH_OP_MATMUL: exec_matmul(r, nd, y); break;
    case GRAPH_OP_CONCAT: exec_concat(r, nd, y); break;
    case GRAPH_OP_SOFTMAX: exec_softmax(r, nd, y); break;
    case GRAPH_OP_BATCH_NORM: exec_batch_norm(r, nd, y); break;
    case GRAPH_OP_LAYER_NORM: exec_layer_norm(r, nd, y); break;
    case GRAPH_OP_INSTANCE_NORM: exec_instance_norm(r, nd, y); break;
    case GRAPH_OP_CAST: return exec_cast(r, nd, y, err);
    case GRAPH_OP_EMBEDDING: return exec_embedding(r, nd, y, err);
    case GRAPH_OP_EMBEDDING_BAG: return exec_embedding_bag(r, nd, y, err);
    case GRAPH_OP_MEAN: exec_mean(r, nd, y, F32_REDUCE_MEAN); break;
    case GRAPH_OP_REDUCE_SUM: exec_mean(r, nd, y, F32_REDUCE_SUM); break;
    case GRAPH_OP_ARGMAX: exec_mean(r, nd, y, F32_REDUCE_ARGMAX); break;
    case GRAPH_OP_ARGMIN: exec_mean(r, nd, y, F32_REDUCE_ARGMIN); break;
    case GRAPH_OP_REDUCE_MAX: exec_mean(r, nd, y, F32_REDUCE_MAX); break;
    case GRAPH_OP_REDUCE_MIN: exec_mean(r, nd, y, F32_REDUCE_MIN); break;
    case GRAPH_OP_REDUCE_L2: exec_mean(r, nd, y, F32_REDUCE_L2); break;
    case GRAPH_OP_LOG_SOFTMAX: exec_softmax(r, nd, y); break;
    case GRAPH_OP_QUANTIZE:
    case GRAPH_OP_DEQUANTIZE:
    case GRAPH_OP_COUNT:
        return quanta_fail(err, QUANTA_ERR_INTERNAL, "node '%s' (%s): no float kernel",
                           nd->name, graph_op_name(nd->op));
    }
    return QUANTA_OK;
}

/* The runner: plans memory once (runner_create), then walks the nodes in
 * order calling the kernel table (runner_run), allocating nothing.
 *
 * Memory plan. Every activation (float graph input or node output) gets a
 * slot in one arena, sized for max_batch. Its lifetime is the closed
 * interval of node steps [def, end]: def is its producer (-1 for a graph
 * input), end the last node reading it (graph_value.last_use), n_nodes for
 * a graph output, def itself for a value nobody reads. Two values may share
 * arena bytes only when their lifetimes are disjoint, so a node's inputs
 * never overlap its outputs (kernels need not run in place). Slots are
 * placed in definition order, each at the lowest offset clear of every
 * already placed value it overlaps in time (first fit).
 *
 * Constants are converted to float once here: F32 is used in place when
 * aligned, F16/BF16/F64 are converted, and I8/U8/I32 tensors with
 * quantization parameters are dequantized (scale * (q - zero_point), per
 * tensor or per channel): the weight-only path. Quantized constants read
 * only by int8 nodes stay as stored, and quantized activations take one
 * byte per element in the arena: the int8 path (plan_q8.c, exec_q8.c).
 *
 * Threads. runner_create starts a pool of runner_options.threads threads
 * (threadpool.c; 0: every online core), the caller being one of them. The
 * executors cut a big node into parts (samples or output rows of conv2d
 * and pools, samples of dense, elements of element-wise ops), one per
 * thread, each with its own scratch; every output element is computed by
 * one part with the arithmetic of the unsplit kernel, so the results are
 * the same bits for any thread count. Nodes still run one after another,
 * and the hook is called on the calling thread after each. */
#include "runtime/runner_internal.h"
#include "graph/graph_optimize.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SLOT_ALIGN_FLOATS 16 /* 64 bytes */

struct lifetime {
    int def, end;
};

struct placed {
    size_t offset, size;
};

static int cmp_placed(const void *a, const void *b)
{
    const struct placed *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static bool is_activation(const struct graph_value *v)
{
    return v->kind == GRAPH_VALUE_NODE ||
           (v->kind == GRAPH_VALUE_INPUT && quanta_dtype_is_float(v->dtype));
}

/* Lifetimes of every value from the node list (the same definition as
 * graph_value.last_use, recomputed so the plan never depends on a stale
 * field of an edited graph). */
static void compute_lifetimes(const struct graph *g, struct lifetime *life)
{
    for (int v = 0; v < g->n_values; v++) {
        const struct graph_value *gv = &g->values[v];
        life[v].def = gv->kind == GRAPH_VALUE_NODE ? gv->producer : -1;
        life[v].end = life[v].def;
        if (gv->last_use > life[v].end && gv->last_use < g->n_nodes)
            life[v].end = gv->last_use;
    }
    for (int n = 0; n < g->n_nodes; n++)
        for (int i = 0; i < g->nodes[n].n_inputs; i++) {
            int v = g->nodes[n].inputs[i];
            if (v >= 0 && life[v].end < n)
                life[v].end = n;
        }
    for (int o = 0; o < g->n_outputs; o++)
        life[g->outputs[o]].end = g->n_nodes;
}

/* Lowest offset for value v clear of the n_done values placed before it
 * (order[0..n_done)) whose lifetimes overlap its own; scratch holds
 * n_values entries. */
static size_t place(const struct runner *r, const struct lifetime *life, const int *order,
                    int n_done, int v, struct placed *scratch)
{
    int n = 0;
    for (int i = 0; i < n_done; i++) {
        int w = order[i];
        if (life[w].def <= life[v].end && life[v].def <= life[w].end)
            scratch[n++] = (struct placed){r->values[w].offset, r->values[w].capacity};
    }
    qsort(scratch, (size_t)n, sizeof *scratch, cmp_placed);
    size_t offset = 0, need = r->values[v].capacity;
    for (int i = 0; i < n; i++) {
        if (scratch[i].offset >= offset + need)
            break;
        if (scratch[i].offset + scratch[i].size > offset)
            offset = scratch[i].offset + scratch[i].size;
    }
    return offset;
}

static enum quanta_status plan_arena(struct runner *r, struct quanta_error *err)
{
    const struct graph *g = r->g;
    enum quanta_status st = QUANTA_OK;
    struct lifetime *life = calloc((size_t)g->n_values + 1, sizeof *life);
    int *order = calloc((size_t)g->n_values + 1, sizeof *order);
    struct placed *scratch = calloc((size_t)g->n_values + 1, sizeof *scratch);
    if (!life || !order || !scratch) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "runner: out of memory planning buffers");
        goto done;
    }
    compute_lifetimes(g, life);

    /* definition order: graph inputs, then node outputs node by node */
    int n_order = 0;
    for (int i = 0; i < g->n_inputs; i++)
        if (is_activation(&g->values[g->inputs[i].value]))
            order[n_order++] = g->inputs[i].value;
    for (int n = 0; n < g->n_nodes; n++)
        for (int o = 0; o < g->nodes[n].n_outputs; o++)
            order[n_order++] = g->nodes[n].outputs[o];

    size_t total = 0;
    for (int i = 0; i < n_order; i++) {
        int v = order[i];
        struct quanta_shape s = graph_value_shape(g, v, r->max_batch);
        int64_t count = quanta_shape_numel(&s);
        if (count > 0 && g->values[v].quant.dtype != QUANTA_DTYPE_INVALID) /* int8: bytes */
            count = (count * (int64_t)quanta_dtype_size(g->values[v].quant.dtype) + 3) / 4;
        if (count < 0 || (uint64_t)count > SIZE_MAX / 8) {
            st = quanta_fail(err, QUANTA_ERR_INPUT,
                             "value '%s': size at batch %lld overflows", g->values[v].name,
                             (long long)r->max_batch);
            goto done;
        }
        size_t cap = ((size_t)count + SLOT_ALIGN_FLOATS - 1) / SLOT_ALIGN_FLOATS *
                     SLOT_ALIGN_FLOATS;
        struct runner_value *rv = &r->values[v];
        rv->in_arena = true;
        rv->capacity = cap ? cap : SLOT_ALIGN_FLOATS;
        rv->offset = place(r, life, order, i, v, scratch);
        if (rv->offset + rv->capacity > total)
            total = rv->offset + rv->capacity;
    }
    r->arena_floats = total;
    if (total) {
        r->arena = aligned_alloc(64, total * sizeof(float));
        if (!r->arena) {
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "runner: cannot allocate %zu bytes of activations",
                             total * sizeof(float));
            goto done;
        }
    }
    for (int i = 0; i < n_order; i++)
        r->values[order[i]].view = runner_slot(r, order[i]);
done:
    free(life);
    free(order);
    free(scratch);
    return st;
}

/* scale * (q - zero_point) per tensor, or per channel along quant.axis. */
static void dequantize_const(const struct graph_value *v, float *out, size_t n)
{
    const struct graph_quant *q = &v->quant;
    size_t inner = 1, channels = 1;
    bool per_channel = q->axis >= 0 && q->axis < v->shape.rank && q->n > 1;
    if (per_channel) {
        for (int d = q->axis + 1; d < v->shape.rank; d++)
            inner *= (size_t)v->shape.dims[d];
        channels = (size_t)v->shape.dims[q->axis];
    }
    if (v->dtype == QUANTA_I4) { /* packed rows along the last axis */
        int64_t d = v->shape.rank > 0 ? v->shape.dims[v->shape.rank - 1] : 1;
        uint64_t row = quanta_dtype_row_bytes(QUANTA_I4, d);
        for (size_t i = 0; d > 0 && i < n / (size_t)d; i++)
            quanta_convert_to_f32(QUANTA_I4, (const char *)v->data + i * row, out + i * d,
                                  (size_t)d);
    } else {
        quanta_convert_to_f32(v->dtype, v->data, out, n);
    }
    for (size_t i = 0; i < n; i++) {
        size_t c = per_channel ? (i / inner) % channels : 0;
        float scale = q->scales ? q->scales[c] : q->scale;
        int32_t zp = q->zero_points ? q->zero_points[c] : q->zero_point;
        out[i] = scale * (out[i] - (float)zp);
    }
}

/* Integer constants read as ids (embedding). */
static void const_to_ids(const struct graph_value *v, int64_t *out, size_t n)
{
    const unsigned char *p = v->data;
    for (size_t i = 0; i < n; i++) {
        switch (v->dtype) {
        case QUANTA_I64: memcpy(&out[i], p + 8 * i, 8); break;
        case QUANTA_I32: { int32_t x; memcpy(&x, p + 4 * i, 4); out[i] = x; break; }
        case QUANTA_I16: { int16_t x; memcpy(&x, p + 2 * i, 2); out[i] = x; break; }
        case QUANTA_I8: out[i] = (int8_t)p[i]; break;
        default: out[i] = p[i]; break;
        }
    }
}

static enum quanta_status prepare_const(struct runner *r, int v, struct quanta_error *err)
{
    const struct graph_value *gv = &r->g->values[v];
    struct runner_value *rv = &r->values[v];
    rv->shape = gv->shape;
    int64_t count = quanta_shape_numel(&gv->shape);
    if (count < 0 || !gv->data)
        return quanta_fail(err, QUANTA_ERR_INPUT, "tensor '%s': no data", gv->name);
    size_t n = (size_t)count;
    if (gv->quant.dtype == QUANTA_DTYPE_INVALID && gv->dtype == QUANTA_F32 &&
        (uintptr_t)gv->data % _Alignof(float) == 0) {
        rv->view = gv->data;
        return QUANTA_OK;
    }
    rv->owned = malloc((n ? n : 1) * sizeof(float));
    if (!rv->owned)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "tensor '%s': out of memory", gv->name);
    if (gv->quant.dtype != QUANTA_DTYPE_INVALID)
        dequantize_const(gv, rv->owned, n);
    else
        quanta_convert_to_f32(gv->dtype, gv->data, rv->owned, n);
    rv->view = rv->owned;
    if (!quanta_dtype_is_float(gv->dtype) && gv->quant.dtype == QUANTA_DTYPE_INVALID) {
        rv->owned_ids = malloc((n ? n : 1) * sizeof(int64_t));
        if (!rv->owned_ids)
            return quanta_fail(err, QUANTA_ERR_NOMEM, "tensor '%s': out of memory", gv->name);
        const_to_ids(gv, rv->owned_ids, n);
        rv->ids = rv->owned_ids;
    }
    return QUANTA_OK;
}

/* A float node: float activations only (int8 nodes are checked when
 * runner_q8_plan plans them). */
static enum quanta_status check_node(const struct graph *g, int n, struct quanta_error *err)
{
    const struct graph_node *nd = &g->nodes[n];
    if (runner_q8_node(g, n))
        return QUANTA_OK;
    if (!exec_f32_supports(nd->op))
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s' (%s): int8 execution is not implemented yet", nd->name,
                           graph_op_name(nd->op));
    for (int i = 0; i < nd->n_inputs + nd->n_outputs; i++) {
        int v = i < nd->n_inputs ? nd->inputs[i] : nd->outputs[i - nd->n_inputs];
        if (v < 0)
            continue;
        const struct graph_value *gv = &g->values[v];
        if (gv->kind != GRAPH_VALUE_CONST && gv->quant.dtype != QUANTA_DTYPE_INVALID)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "node '%s' (%s): quantized value '%s' needs int8 execution, "
                               "which is not implemented yet",
                               nd->name, graph_op_name(nd->op), gv->name);
    }
    if (nd->n_outputs != 1)
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s' (%s): %d outputs, expected 1",
                           nd->name, graph_op_name(nd->op), nd->n_outputs);
    return QUANTA_OK;
}

/* Whether any value carries quantization parameters (graph_optimize
 * rewrites float graphs only). */
static bool has_quant(const struct graph *g)
{
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].quant.dtype != QUANTA_DTYPE_INVALID)
            return true;
    return false;
}

enum quanta_status runner_create(struct runner **out, const struct graph *g,
                                 const struct runner_options *options, struct quanta_error *err)
{
    *out = NULL;
    int64_t max_batch = options ? options->max_batch : 1;
    if (max_batch < 1)
        return quanta_fail(err, QUANTA_ERR_USAGE, "runner: max_batch %lld must be at least 1",
                           (long long)max_batch);
    enum quanta_status st = kernels_init(err);
    if (st != QUANTA_OK)
        return st;
    struct runner *r = calloc(1, sizeof *r);
    if (!r)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "runner: out of memory");
    r->g = g;
    if (options && options->optimize && !has_quant(g)) {
        r->optimized = malloc(sizeof *r->optimized);
        if (!r->optimized) {
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "runner: out of memory");
            goto fail;
        }
        if ((st = graph_optimize(g, NULL, r->optimized, NULL, "runner", err)) != QUANTA_OK) {
            free(r->optimized);
            r->optimized = NULL;
            goto fail;
        }
        r->g = g = r->optimized;
    }
    for (int n = 0; n < g->n_nodes; n++)
        if ((st = check_node(g, n, err)) != QUANTA_OK)
            goto fail;
    r->f32 = f32_kernels_get();
    r->max_batch = max_batch;
    r->threads = options ? options->threads : 0;
    r->values = calloc((size_t)g->n_values + 1, sizeof *r->values);
    int max_inputs = 1;
    for (int n = 0; n < g->n_nodes; n++)
        if (g->nodes[n].n_inputs > max_inputs)
            max_inputs = g->nodes[n].n_inputs;
    r->chunk = calloc((size_t)max_inputs, sizeof *r->chunk);
    r->rows = calloc((size_t)max_inputs, sizeof *r->rows);
    r->ptrs = calloc((size_t)max_inputs, sizeof *r->ptrs);
    if (!r->values || !r->chunk || !r->rows || !r->ptrs) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "runner: out of memory");
        goto fail;
    }
    if ((st = plan_arena(r, err)) != QUANTA_OK)
        goto fail;
    for (int v = 0; v < g->n_values; v++) {
        const struct graph_value *gv = &g->values[v];
        if (gv->kind == GRAPH_VALUE_CONST) {
            if (!runner_q8_const_only(g, v) && (st = prepare_const(r, v, err)) != QUANTA_OK)
                goto fail;
        } else if (!is_activation(gv)) {
            /* integer graph input: the caller's int64 ids, plus a float view
             * for the hook */
            struct quanta_shape s = graph_value_shape(g, v, max_batch);
            int64_t count = quanta_shape_numel(&s);
            if (count < 0) {
                st = quanta_fail(err, QUANTA_ERR_INPUT, "input '%s': size overflows", gv->name);
                goto fail;
            }
            r->values[v].owned = malloc(((size_t)count + 1) * sizeof(float));
            if (!r->values[v].owned) {
                st = quanta_fail(err, QUANTA_ERR_NOMEM, "runner: out of memory");
                goto fail;
            }
            r->values[v].view = r->values[v].owned;
        }
    }
    if ((st = threadpool_create(&r->pool, r->threads, err)) != QUANTA_OK)
        goto fail;
    r->n_threads = threadpool_size(r->pool);
    if ((st = runner_q8_plan(r, err)) != QUANTA_OK)
        goto fail;
    if ((st = exec_f32_pack(r, err)) != QUANTA_OK)
        goto fail;
    *out = r;
    return QUANTA_OK;
fail:
    runner_free(r);
    return st;
}

void runner_free(struct runner *r)
{
    if (!r)
        return;
    runner_q8_free(r);
    exec_f32_unpack(r);
    threadpool_free(r->pool);
    if (r->values) {
        for (int v = 0; v < r->g->n_values; v++) {
            free(r->values[v].owned);
            free(r->values[v].owned_ids);
        }
    }
    free(r->values);
    free(r->arena);
    free(r->chunk);
    free(r->rows);
    free(r->ptrs);
    if (r->optimized)
        graph_free(r->optimized);
    free(r->optimized);
    free(r);
}

void runner_set_hook(struct runner *r, runner_value_hook hook, void *ctx)
{
    r->hook = hook;
    r->hook_ctx = ctx;
}

/* One node: int8 (exec_q8.c) when its values are quantized, else float. */
static enum quanta_status exec_node(struct runner *r, int n, struct quanta_error *err)
{
    if (r->q8 && runner_q8_node(r->g, n))
        return exec_q8_node(r, n, err);
    return exec_f32_node(r, n, err);
}

void runner_set_profile(struct runner *r, double *node_seconds)
{
    r->node_seconds = node_seconds;
}

const struct graph *runner_graph(const struct runner *r)
{
    return r->g;
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void call_hook(struct runner *r, int v)
{
    if (!r->hook)
        return;
    const float *data = r->values[v].view ? r->values[v].view : runner_q8_view(r, v);
    r->hook(r->hook_ctx, r->g, v, data, &r->values[v].shape);
}

enum quanta_status runner_run(struct runner *r, int64_t batch, const void *const *inputs,
                              struct quanta_error *err)
{
    const struct graph *g = r->g;
    if (batch < 1 || batch > r->max_batch)
        return quanta_fail(err, QUANTA_ERR_USAGE, "runner: batch %lld outside [1, %lld]",
                           (long long)batch, (long long)r->max_batch);
    for (int i = 0; i < g->n_inputs; i++)
        if (!inputs || !inputs[i])
            return quanta_fail(err, QUANTA_ERR_USAGE, "runner: no data for input '%s'",
                               g->values[g->inputs[i].value].name);
    r->batch = 0;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind != GRAPH_VALUE_CONST)
            r->values[v].shape = graph_value_shape(g, v, batch);

    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i].value;
        struct runner_value *rv = &r->values[v];
        size_t n = (size_t)quanta_shape_numel(&rv->shape);
        if (rv->in_arena) {
            memcpy(runner_slot(r, v), inputs[i], n * sizeof(float));
        } else {
            rv->ids = inputs[i];
            for (size_t k = 0; k < n; k++)
                rv->owned[k] = (float)rv->ids[k];
        }
        call_hook(r, v);
    }
    for (int n = 0; n < g->n_nodes; n++) {
        double t0 = r->node_seconds ? monotonic_seconds() : 0.0;
        enum quanta_status st = exec_node(r, n, err);
        if (r->node_seconds)
            r->node_seconds[n] += monotonic_seconds() - t0;
        if (st != QUANTA_OK)
            return st;
        for (int o = 0; o < g->nodes[n].n_outputs; o++)
            call_hook(r, g->nodes[n].outputs[o]);
    }
    r->batch = batch;
    return QUANTA_OK;
}

const float *runner_output(const struct runner *r, int index, struct quanta_shape *shape)
{
    if (r->batch == 0 || index < 0 || index >= r->g->n_outputs)
        return NULL;
    int v = r->g->outputs[index];
    if (shape)
        *shape = r->values[v].shape;
    return r->values[v].view;
}

size_t runner_arena_size(const struct runner *r)
{
    return r->arena_floats * sizeof(float);
}

enum quanta_status runner_check_offsets(const struct graph_node *nd, const int64_t *off,
                                        size_t n_bags, size_t n_ids, struct quanta_error *err)
{
    for (size_t b = 0; b < n_bags; b++) {
        int64_t lo = b ? off[b - 1] : 0;
        if (off[b] < lo || (uint64_t)off[b] > n_ids)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "node '%s' (embedding_bag): offsets[%zu] = %lld; offsets must "
                               "rise from 0 up to the number of ids (%zu)",
                               nd->name, b, (long long)off[b], n_ids);
    }
    return QUANTA_OK;
}

enum quanta_status runtime_kernels(const char **level, struct quanta_error *err)
{
    enum quanta_status st = kernels_init(err);
    *level = st == QUANTA_OK ? kernels_level_name(kernels_current_level()) : NULL;
    return st;
}

double runtime_peak_ops_per_cycle(bool int8)
{
    return kernels_peak_ops_per_cycle(kernels_current_level(), int8);
}

void runtime_cpu_describe(char *buf, size_t size)
{
    kernels_cpu_describe(buf, size);
}

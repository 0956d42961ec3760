/* graph_to_json: the graph as the "quanta.graph" string. Written by hand
 * so the bytes are stable: keys in a fixed order (format, version, name,
 * inputs, outputs, nodes, quant), every attr of an op written explicitly,
 * floats as "%.9g" (which reads back to the same float32) and doubles as
 * "%.17g". */
#include "graph/graph_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sbuf {
    char *p;
    size_t len, cap;
    bool failed;
};

static void sb_reserve(struct sbuf *b, size_t extra)
{
    if (b->failed || b->len + extra + 1 <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    b->p = p;
    b->cap = cap;
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
    char small[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    sb_reserve(b, (size_t)n);
    if (b->failed)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

static void sb_puts(struct sbuf *b, const char *s)
{
    size_t n = strlen(s);
    sb_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

/* A JSON string: quotes, backslashes and control bytes escaped; other
 * bytes (UTF-8) as they are. */
static void sb_string(struct sbuf *b, const char *s)
{
    sb_puts(b, "\"");
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            sb_printf(b, "\\%c", ch);
        else if (ch == '\n')
            sb_puts(b, "\\n");
        else if (ch == '\t')
            sb_puts(b, "\\t");
        else if (ch < 0x20)
            sb_printf(b, "\\u%04x", ch);
        else
            sb_printf(b, "%c", ch);
    }
    sb_puts(b, "\"");
}

static void sb_float(struct sbuf *b, float f)
{
    sb_printf(b, "%.9g", (double)f);
}

static void sb_ints(struct sbuf *b, const int *v, int n)
{
    sb_puts(b, "[");
    for (int i = 0; i < n; i++)
        sb_printf(b, "%s%d", i ? ", " : "", v[i]);
    sb_puts(b, "]");
}

static void sb_i64s(struct sbuf *b, const int64_t *v, int n)
{
    sb_puts(b, "[");
    for (int i = 0; i < n; i++)
        sb_printf(b, "%s%lld", i ? ", " : "", (long long)v[i]);
    sb_puts(b, "]");
}

static void sb_shape(struct sbuf *b, const struct quanta_shape *s)
{
    sb_puts(b, "[");
    for (int i = 0; i < s->rank; i++)
        sb_printf(b, "%s%lld", i ? ", " : "", (long long)s->dims[i]);
    sb_puts(b, "]");
}

static void sb_floats(struct sbuf *b, const float *v, int n)
{
    sb_puts(b, "[");
    for (int i = 0; i < n; i++) {
        sb_puts(b, i ? ", " : "");
        sb_float(b, v[i]);
    }
    sb_puts(b, "]");
}

static void write_attr(struct sbuf *b, const struct graph_attrs *a, enum graph_attr_id id,
                       int spatial)
{
    switch (id) {
    case GRAPH_ATTR_STRIDES: sb_ints(b, a->strides, spatial); break;
    case GRAPH_ATTR_PADS: sb_ints(b, a->pads, 2 * spatial); break;
    case GRAPH_ATTR_DILATIONS: sb_ints(b, a->dilations, spatial); break;
    case GRAPH_ATTR_GROUPS: sb_printf(b, "%d", a->groups); break;
    case GRAPH_ATTR_KERNEL: sb_ints(b, a->kernel, spatial); break;
    case GRAPH_ATTR_ACTIVATION: sb_string(b, graph_activation_name(a->activation)); break;
    case GRAPH_ATTR_TO: sb_string(b, quanta_dtype_name(a->to)); break;
    case GRAPH_ATTR_ALPHA: sb_float(b, a->alpha); break;
    case GRAPH_ATTR_AXIS: sb_printf(b, "%d", a->axis); break;
    case GRAPH_ATTR_EPSILON: sb_float(b, a->epsilon); break;
    case GRAPH_ATTR_BETA: sb_float(b, a->beta); break;
    case GRAPH_ATTR_GAMMA: sb_float(b, a->gamma); break;
    case GRAPH_ATTR_MIN: sb_float(b, a->min); break;
    case GRAPH_ATTR_MAX: sb_float(b, a->max); break;
    case GRAPH_ATTR_PERM: sb_ints(b, a->perm, a->n_perm); break;
    case GRAPH_ATTR_STARTS: sb_i64s(b, a->starts, a->n_starts); break;
    case GRAPH_ATTR_STEPS: sb_i64s(b, a->steps, a->n_steps); break;
    case GRAPH_ATTR_PADS_BEGIN: sb_i64s(b, a->pads_begin, a->n_pads_begin); break;
    case GRAPH_ATTR_PADS_END: sb_i64s(b, a->pads_end, a->n_pads_end); break;
    case GRAPH_ATTR_MODE: sb_string(b, graph_mode_name(a->mode)); break;
    case GRAPH_ATTR_VALUE: sb_float(b, a->value); break;
    case GRAPH_ATTR_SCALES: sb_floats(b, a->scales, a->n_scales); break;
    case GRAPH_ATTR_COORD: sb_string(b, graph_coord_name(a->coord)); break;
    case GRAPH_ATTR_NEAREST: sb_string(b, graph_round_name(a->nearest)); break;
    case GRAPH_ATTR_SHAPE: sb_shape(b, &a->shape); break;
    case GRAPH_ATTR_AXES: sb_ints(b, a->axes, a->n_axes); break;
    case GRAPH_ATTR_KEEPDIMS: sb_puts(b, a->keepdims ? "true" : "false"); break;
    case GRAPH_ATTR_SELECT_LAST: sb_puts(b, a->select_last ? "true" : "false"); break;
    case GRAPH_ATTR_COUNT: break;
    }
}

static void write_node(struct sbuf *b, const struct graph *g, const struct graph_node *n)
{
    unsigned attrs = graph_op_table[n->op].attrs;
    sb_puts(b, "{\"op\": ");
    sb_string(b, graph_op_name(n->op));
    sb_puts(b, ", \"name\": ");
    sb_string(b, n->name);
    sb_puts(b, ", \"inputs\": [");
    bool first = true;
    for (int k = 0; k < n->n_inputs; k++) {
        if (n->inputs[k] < 0)
            continue; /* omitted optional input */
        sb_puts(b, first ? "" : ", ");
        sb_string(b, g->values[n->inputs[k]].name);
        first = false;
    }
    sb_puts(b, "], \"outputs\": [");
    for (int k = 0; k < n->n_outputs; k++) {
        sb_puts(b, k ? ", " : "");
        sb_string(b, g->values[n->outputs[k]].name);
    }
    sb_puts(b, "], \"attrs\": {");
    first = true;
    for (int id = 0; id < GRAPH_ATTR_COUNT; id++) {
        if (!(attrs & (1u << id)) || (id == GRAPH_ATTR_SCALES && n->attrs.n_scales == 0) ||
            (id == GRAPH_ATTR_STEPS && n->attrs.n_steps == 0))
            continue; /* no scales: output / input extents; no steps: all 1 */
        sb_puts(b, first ? "" : ", ");
        sb_string(b, graph_attr_table[id].name);
        sb_puts(b, ": ");
        write_attr(b, &n->attrs, (enum graph_attr_id)id, graph_op_spatial(n->op));
        first = false;
    }
    sb_puts(b, "}}");
}

static void write_input(struct sbuf *b, const struct graph *g, const struct graph_input *in)
{
    const struct graph_value *v = &g->values[in->value];
    sb_puts(b, "{\"name\": ");
    sb_string(b, v->name);
    sb_puts(b, ", \"shape\": ");
    sb_shape(b, &v->shape);
    sb_puts(b, ", \"dtype\": ");
    sb_string(b, quanta_dtype_name(in->data_dtype != QUANTA_DTYPE_INVALID ? in->data_dtype
                                                                           : v->dtype));
    if (in->has_normalize) {
        sb_printf(b, ", \"normalize\": {\"scale\": %.17g, \"mean\": ", in->normalize.scale);
        sb_floats(b, in->normalize.mean, in->normalize.n_mean);
        sb_puts(b, ", \"std\": ");
        sb_floats(b, in->normalize.std, in->normalize.n_std);
        sb_puts(b, "}");
    }
    sb_puts(b, "}");
}

static void write_quant(struct sbuf *b, const struct graph *g, const struct graph_value *v)
{
    const struct graph_quant *q = &v->quant;
    sb_string(b, v->name);
    sb_puts(b, ": {\"dtype\": ");
    sb_string(b, quanta_dtype_name(q->dtype));
    sb_printf(b, ", \"axis\": %d, \"scale\": ", q->axis);
    if (q->axis == -1) {
        sb_float(b, q->scale);
        sb_printf(b, ", \"zero_point\": %d}", (int)q->zero_point);
        return;
    }
    int s = graph_find_const_data(g, q->scales), z = graph_find_const_data(g, q->zero_points);
    sb_string(b, s >= 0 ? g->values[s].name : "");
    if (q->zero_points) { /* none: all zero */
        sb_puts(b, ", \"zero_point\": ");
        sb_string(b, z >= 0 ? g->values[z].name : "");
    }
    sb_puts(b, "}");
}

char *graph_to_json(const struct graph *g)
{
    struct sbuf b = {0};
    bool *used = calloc((size_t)g->n_values + 1, sizeof *used);
    int *order = calloc((size_t)g->n_values + 1, sizeof *order);
    if (!used || !order) {
        free(used);
        free(order);
        return NULL;
    }
    graph_saved_consts(g, used, order);

    sb_puts(&b, "{\"format\": \"quanta.graph\", \"version\": 1");
    if (g->name) {
        sb_puts(&b, ", \"name\": ");
        sb_string(&b, g->name);
    }
    sb_puts(&b, ",\n \"inputs\": [");
    for (int i = 0; i < g->n_inputs; i++) {
        sb_puts(&b, i ? ",\n  " : "\n  ");
        write_input(&b, g, &g->inputs[i]);
    }
    sb_puts(&b, "],\n \"outputs\": [");
    for (int i = 0; i < g->n_outputs; i++) {
        sb_puts(&b, i ? ", " : "");
        sb_string(&b, g->values[g->outputs[i]].name);
    }
    sb_puts(&b, "],\n \"nodes\": [");
    for (int i = 0; i < g->n_nodes; i++) {
        sb_puts(&b, i ? ",\n  " : "\n  ");
        write_node(&b, g, &g->nodes[i]);
    }
    sb_puts(&b, "]");
    /* Quant entries of values that a saved file keeps: not of tensors
     * graph_save leaves out. */
    bool first = true;
    for (int v = 0; v < g->n_values; v++) {
        const struct graph_value *val = &g->values[v];
        if (val->quant.dtype == QUANTA_DTYPE_INVALID ||
            (val->kind == GRAPH_VALUE_CONST && !used[v]))
            continue;
        sb_puts(&b, first ? ",\n \"quant\": {\n  " : ",\n  ");
        write_quant(&b, g, val);
        first = false;
    }
    if (!first)
        sb_puts(&b, "}");
    sb_puts(&b, "}\n");
    free(used);
    free(order);
    if (b.failed) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

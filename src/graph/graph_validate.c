/* graph_validate: every rule of model-format.md sections 2 and 3 (and the
 * "quant" extension) on a built graph, shape inference for node outputs,
 * and last_use. graph_parse builds the graph from JSON, then calls this. */
#include "graph/graph_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SHAPE_BUF 128

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Unique, non-empty names: sorted copy of the pointers, neighbours compared. */
static enum quanta_status check_unique(const char **names, int n, const char *what,
                                       const char *source, struct quanta_error *err)
{
    for (int i = 0; i < n; i++)
        if (!names[i] || !names[i][0])
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: a %s has an empty name", source, what);
    qsort(names, (size_t)n, sizeof *names, cmp_names);
    for (int i = 1; i < n; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: %s name '%s' is used twice", source,
                               what, names[i]);
    return QUANTA_OK;
}

static enum quanta_status check_names(const struct graph *g, const char *source,
                                      struct quanta_error *err)
{
    int n = g->n_values > g->n_nodes ? g->n_values : g->n_nodes;
    const char **names = malloc(((size_t)n + 1) * sizeof *names);
    if (!names)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", source);
    for (int v = 0; v < g->n_values; v++)
        names[v] = g->values[v].name;
    enum quanta_status st = check_unique(names, g->n_values, "value", source, err);
    if (!st) {
        for (int i = 0; i < g->n_nodes; i++)
            names[i] = g->nodes[i].name;
        st = check_unique(names, g->n_nodes, "node", source, err);
    }
    free(names);
    return st;
}

static bool is_float_dtype(enum quanta_dtype d)
{
    return d == QUANTA_F32 || d == QUANTA_F16 || d == QUANTA_BF16;
}

static enum quanta_status check_norm_list(const struct graph_value *v, const char *what, int n,
                                          const float *list, bool nonzero, const char *source,
                                          struct quanta_error *err)
{
    int64_t c = v->shape.rank > 0 ? v->shape.dims[v->shape.rank - 1] : 1;
    if (n < 1 || !list || (n != 1 && n != c))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s': normalize %s has %d entries "
                                                  "but 1 or %lld (the last dimension) are needed",
                           source, v->name, what, n, (long long)c);
    for (int i = 0; i < n; i++) {
        if (!isfinite(list[i]))
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s': normalize %s[%d] is not "
                                                      "a finite number",
                               source, v->name, what, i);
        if (nonzero && list[i] == 0)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s': normalize std[%d] is 0",
                               source, v->name, i);
    }
    return QUANTA_OK;
}

static enum quanta_status check_inputs(const struct graph *g, const char *source,
                                       struct quanta_error *err)
{
    char buf[SHAPE_BUF];
    int listed = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        const struct graph_input *in = &g->inputs[i];
        if (in->value < 0 || in->value >= g->n_values ||
            g->values[in->value].kind != GRAPH_VALUE_INPUT)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: graph input %d is not an input value",
                               source, i);
        for (int j = 0; j < i; j++)
            if (g->inputs[j].value == in->value)
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s' is listed twice",
                                   source, g->values[in->value].name);
        const struct graph_value *v = &g->values[in->value];
        if (v->dtype != QUANTA_F32 && v->dtype != QUANTA_I32 && v->dtype != QUANTA_I64)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s' has dtype %s but F32, I32 "
                                                      "or I64 is needed",
                               source, v->name, quanta_dtype_name(v->dtype));
        for (int d = 0; d < v->shape.rank; d++) {
            int64_t dim = v->shape.dims[d];
            if (dim == -1 && d != 0)
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s' has shape %s but -1 "
                                                          "may stand only as the first (batch) "
                                                          "dimension",
                                   source, v->name, quanta_shape_format(&v->shape, buf, sizeof buf));
            if (dim < 1 && dim != -1)
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s' has shape %s but "
                                                          "dimensions must be >= 1 (or -1 first)",
                                   source, v->name, quanta_shape_format(&v->shape, buf, sizeof buf));
        }
        enum quanta_dtype dd = in->data_dtype;
        bool id_data = dd == QUANTA_I32 || dd == QUANTA_I64 || dd == QUANTA_U32 ||
                       dd == QUANTA_U64;
        if (dd != QUANTA_DTYPE_INVALID && dd != v->dtype &&
            !(v->dtype == QUANTA_F32 && !id_data) &&
            !(v->dtype == QUANTA_I64 && (dd == QUANTA_U32 || dd == QUANTA_U64)))
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s' declares %s data but its "
                                                      "value has dtype %s",
                               source, v->name, quanta_dtype_name(dd),
                               quanta_dtype_name(v->dtype));
        if (v->quant.dtype != QUANTA_DTYPE_INVALID)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s' cannot have a quant entry "
                                                      "(inputs are fed as they are; add a "
                                                      "quantize node)",
                               source, v->name);
        if (in->has_normalize && dd != QUANTA_DTYPE_INVALID && dd != QUANTA_F32)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s' declares %s data, which "
                                                      "is fed as it is; normalize applies only "
                                                      "to F32 inputs",
                               source, v->name, quanta_dtype_name(dd));
        if (in->has_normalize) {
            const struct quanta_normalize *nz = &in->normalize;
            enum quanta_status st;
            if (!isfinite(nz->scale))
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s': normalize scale is "
                                                          "not a finite number",
                                   source, v->name);
            if ((st = check_norm_list(v, "mean", nz->n_mean, nz->mean, false, source, err)) ||
                (st = check_norm_list(v, "std", nz->n_std, nz->std, true, source, err)))
                return st;
        }
        listed++;
    }
    int n_input_values = 0;
    for (int v = 0; v < g->n_values; v++)
        n_input_values += g->values[v].kind == GRAPH_VALUE_INPUT;
    if (n_input_values != listed)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: %d input values but %d graph inputs",
                           source, n_input_values, listed);
    return QUANTA_OK;
}

static float read_f32(const void *base, int64_t i)
{
    float f;
    memcpy(&f, (const char *)base + i * 4, 4);
    return f;
}

static int32_t read_i32(const void *base, int64_t i)
{
    int32_t x;
    memcpy(&x, (const char *)base + i * 4, 4);
    return x;
}

/* The per-channel parameter tensor of v's quant: a CONST of dtype [n]. */
static enum quanta_status check_param_tensor(const struct graph *g, const struct graph_value *v,
                                             const void *ptr, const char *what,
                                             enum quanta_dtype dtype, int64_t n,
                                             const char *source, struct quanta_error *err)
{
    char buf[SHAPE_BUF];
    int p = graph_find_const_data(g, ptr);
    if (p < 0)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: quant of '%s': per-channel %s is not "
                                                  "the data of a tensor of the file",
                           source, v->name, what);
    const struct graph_value *t = &g->values[p];
    if (t->dtype != dtype || t->shape.rank != 1 || t->shape.dims[0] != n)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: quant of '%s': %s tensor '%s' is %s %s "
                                                  "but %s [%lld] is needed",
                           source, v->name, what, t->name, quanta_dtype_name(t->dtype),
                           quanta_shape_format(&t->shape, buf, sizeof buf),
                           quanta_dtype_name(dtype), (long long)n);
    return QUANTA_OK;
}

static enum quanta_status check_quant(const struct graph *g, struct graph_value *v,
                                      const char *source, struct quanta_error *err)
{
    struct graph_quant *q = &v->quant;
    int64_t lo, hi;
    enum quanta_status st;

    if (!graph_quant_dtype_range(q->dtype, &lo, &hi))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: quant of '%s': dtype %s is not I8, U8, "
                                                  "I32 or I4",
                           source, v->name, quanta_dtype_name(q->dtype));
    if (q->dtype == QUANTA_I4 && (v->kind != GRAPH_VALUE_CONST || v->shape.rank != 2))
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: quant of '%s': dtype I4 is for embedding "
                                                  "tables [V, D] only",
                           source, v->name);
    if (q->dtype == QUANTA_I32 && v->kind != GRAPH_VALUE_CONST)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: quant of '%s': dtype I32 is for bias "
                                                  "tensors only",
                           source, v->name);
    if (v->kind == GRAPH_VALUE_CONST && v->dtype != q->dtype)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s' is stored as %s but its "
                                                  "quant dtype is %s",
                           source, v->name, quanta_dtype_name(v->dtype),
                           quanta_dtype_name(q->dtype));
    if (q->axis == -1) {
        q->n = 1;
        q->scales = &q->scale;
        q->zero_points = &q->zero_point;
    } else {
        if (v->kind != GRAPH_VALUE_CONST)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: quant of '%s': per-channel "
                                                      "parameters apply to tensors of the file "
                                                      "only",
                               source, v->name);
        if (q->axis < 0 || q->axis >= v->shape.rank)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: quant of '%s': axis %d is out of "
                                                      "range for rank %d",
                               source, v->name, q->axis, v->shape.rank);
        int64_t n = v->shape.dims[q->axis];
        if (q->n != n)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: quant of '%s': %d parameters but "
                                                      "axis %d has %lld entries",
                               source, v->name, q->n, q->axis, (long long)n);
        if ((st = check_param_tensor(g, v, q->scales, "scale", QUANTA_F32, n, source, err)) ||
            (q->zero_points && (st = check_param_tensor(g, v, q->zero_points, "zero_point",
                                                         QUANTA_I32, n, source, err))))
            return st;
    }
    for (int i = 0; i < q->n; i++) {
        float s = read_f32(q->scales, i);
        int32_t z = q->zero_points ? read_i32(q->zero_points, i) : 0;
        if (!(isfinite(s) && s > 0))
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: quant of '%s': scale %.9g (channel "
                                                      "%d) must be finite and > 0",
                               source, v->name, (double)s, i);
        if (z < lo || z > hi)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: quant of '%s': zero_point %d "
                                                      "(channel %d) is outside the %s range "
                                                      "[%lld, %lld]",
                               source, v->name, (int)z, i, quanta_dtype_name(q->dtype),
                               (long long)lo, (long long)hi);
    }
    return QUANTA_OK;
}

static enum quanta_status check_values(struct graph *g, const char *source,
                                       struct quanta_error *err)
{
    char buf[SHAPE_BUF];
    enum quanta_status st;
    for (int i = 0; i < g->n_values; i++) {
        struct graph_value *v = &g->values[i];
        v->last_use = -1;
        if (v->shape.rank < 0 || v->shape.rank > QUANTA_MAX_RANK)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s' has rank %d (at most %d)",
                               source, v->name, v->shape.rank, QUANTA_MAX_RANK);
        if ((unsigned)v->kind > GRAPH_VALUE_NODE)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s' has no valid kind", source,
                               v->name);
        if (v->kind == GRAPH_VALUE_CONST) {
            if (quanta_shape_numel(&v->shape) < 0)
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s' has shape %s",
                                   source, v->name,
                                   quanta_shape_format(&v->shape, buf, sizeof buf));
            if (!v->data && quanta_shape_numel(&v->shape) > 0)
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: tensor '%s' has no data", source,
                                   v->name);
        }
        if (v->kind == GRAPH_VALUE_NODE) {
            v->producer = -1;
            v->dtype = v->quant.dtype != QUANTA_DTYPE_INVALID ? v->quant.dtype : QUANTA_F32;
        }
        if (v->kind != GRAPH_VALUE_INPUT && v->quant.dtype != QUANTA_DTYPE_INVALID &&
            (st = check_quant(g, v, source, err)))
            return st;
    }
    return QUANTA_OK;
}

static const char *role_name(const struct graph_node *node, char role)
{
    switch (role) {
    case 'w':
        return node->op == GRAPH_OP_EMBEDDING || node->op == GRAPH_OP_EMBEDDING_BAG ? "table"
                                                                                    : "weight";
    case 'b': return "bias";
    case 'p': return "parameter";
    case 'i': return "ids";
    default: return "input";
    }
}

/* The dtype (and kind) a node input needs in its position. */
static enum quanta_status check_role(const struct graph_check *c, const struct graph_value *v,
                                     char role)
{
    const char *what = role_name(c->node, role);
    enum quanta_dtype q = v->quant.dtype;
    bool quantized = q != QUANTA_DTYPE_INVALID;
    bool fl = !quantized && is_float_dtype(v->dtype);

    if (role == 'n') /* cast: an activation, or ids read as numbers; bag offsets or weights */
        role = !quantized && (v->dtype == QUANTA_I32 || v->dtype == QUANTA_I64) ? 'i' : 'x';
    if (role != 'x' && role != 'i' && v->kind != GRAPH_VALUE_CONST)
        return graph_node_fail(c, "%s '%s' must be a tensor of the file", what, v->name);
    switch (role) {
    case 'x':
        if (fl || q == QUANTA_I8 || q == QUANTA_U8)
            return QUANTA_OK;
        return graph_node_fail(c, "input '%s' has dtype %s but a float (F32, F16, BF16) or "
                                  "quantized (I8, U8) value is needed",
                               v->name, quanta_dtype_name(v->dtype));
    case 'w':
        if (fl || q == QUANTA_I8 || q == QUANTA_U8)
            return QUANTA_OK;
        if (q == QUANTA_I4 &&
            (c->node->op == GRAPH_OP_EMBEDDING || c->node->op == GRAPH_OP_EMBEDDING_BAG))
            return QUANTA_OK;
        return graph_node_fail(c, "%s '%s' has dtype %s but F32, F16 or BF16 is needed (or I8, "
                                  "U8 with a quant entry)",
                               what, v->name, quanta_dtype_name(v->dtype));
    case 'b':
        if (fl || q == QUANTA_I32)
            return QUANTA_OK;
        return graph_node_fail(c, "bias '%s' has dtype %s but F32, F16 or BF16 is needed (or "
                                  "I32 with a quant entry)",
                               v->name, quanta_dtype_name(v->dtype));
    case 'p':
        if (fl)
            return QUANTA_OK;
        return graph_node_fail(c, "parameter '%s' has dtype %s but F32, F16 or BF16 is needed",
                               v->name, quanta_dtype_name(v->dtype));
    case 'i':
        if (!quantized && (v->dtype == QUANTA_I32 || v->dtype == QUANTA_I64))
            return QUANTA_OK;
        return graph_node_fail(c, "ids '%s' has dtype %s but I32 or I64 is needed", v->name,
                               quanta_dtype_name(v->dtype));
    }
    return QUANTA_OK;
}

/* conv2d, conv3d and dense always carry 3 inputs, the bias -1 when
 * omitted. */
static enum quanta_status pad_optional_bias(struct graph_node *node, const char *source,
                                            struct quanta_error *err)
{
    if ((node->op != GRAPH_OP_CONV2D && node->op != GRAPH_OP_CONV3D &&
         node->op != GRAPH_OP_DENSE) ||
        node->n_inputs != 2)
        return QUANTA_OK;
    int *in = realloc(node->inputs, 3 * sizeof *in);
    if (!in)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", source);
    in[2] = -1;
    node->inputs = in;
    node->n_inputs = 3;
    return QUANTA_OK;
}

static enum quanta_status check_node(struct graph *g, int index, struct graph_check *c)
{
    struct graph_node *node = &g->nodes[index];
    const struct graph_op_info *info = &graph_op_table[node->op];
    enum quanta_status st;

    if (node->n_inputs < info->min_inputs ||
        (info->max_inputs && node->n_inputs > info->max_inputs)) {
        if (info->max_inputs == 0)
            return graph_node_fail(c, "has %d inputs but at least %d are needed",
                                   node->n_inputs, info->min_inputs);
        if (info->min_inputs == info->max_inputs)
            return graph_node_fail(c, "has %d inputs but %d are needed", node->n_inputs,
                                   info->min_inputs);
        return graph_node_fail(c, "has %d inputs but %d to %d are needed", node->n_inputs,
                               info->min_inputs, info->max_inputs);
    }
    if (node->n_outputs != 1)
        return graph_node_fail(c, "has %d outputs but 1 is needed", node->n_outputs);
    int out = node->outputs[0];
    if (out < 0 || out >= g->n_values)
        return graph_node_fail(c, "output %d is not a value", out);
    struct graph_value *y = &g->values[out];
    if (y->kind != GRAPH_VALUE_NODE)
        return graph_node_fail(c, "output '%s' is %s, not a node output", y->name,
                               y->kind == GRAPH_VALUE_INPUT ? "a graph input" : "a tensor");
    if (y->producer >= 0)
        return graph_node_fail(c, "output '%s' is already produced by node '%s'", y->name,
                               g->nodes[y->producer].name);
    c->out = y;

    size_t n_roles = strlen(info->roles);
    for (int k = 0; k < node->n_inputs; k++) {
        int v = node->inputs[k];
        c->in[k] = NULL;
        if (v == -1 && k >= info->min_inputs)
            continue; /* omitted optional input */
        if (v < 0 || v >= g->n_values)
            return graph_node_fail(c, "input %d is not a value", k);
        const struct graph_value *x = &g->values[v];
        if (x->kind == GRAPH_VALUE_NODE && (x->producer < 0 || x->producer >= index))
            return graph_node_fail(c, "input '%s' is not defined before it (nodes must be in "
                                      "topological order)",
                                   x->name);
        char role = info->roles[(size_t)k < n_roles ? (size_t)k : n_roles - 1];
        if ((st = check_role(c, x, role)))
            return st;
        c->in[k] = x;
    }
    c->n_in = node->n_inputs;
    if ((st = graph_check_attrs(c)))
        return st;

    struct quanta_shape shape;
    if ((st = info->shape(c, &shape)))
        return st;
    struct quanta_shape one = shape;
    if (one.rank > 0 && one.dims[0] == -1)
        one.dims[0] = 1;
    if (quanta_shape_numel(&one) < 0)
        return graph_node_fail(c, "output '%s' is too large", y->name);
    y->shape = shape;
    y->producer = index;
    for (int k = 0; k < node->n_inputs; k++)
        if (node->inputs[k] >= 0)
            g->values[node->inputs[k]].last_use = index;
    return QUANTA_OK;
}

static enum quanta_status check_nodes(struct graph *g, const char *source,
                                      struct quanta_error *err)
{
    int max_in = 1;
    enum quanta_status st;
    for (int i = 0; i < g->n_nodes; i++) {
        struct graph_node *node = &g->nodes[i];
        if ((unsigned)node->op >= GRAPH_OP_COUNT)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: node '%s': unknown op %d", source,
                               node->name, (int)node->op);
        if ((st = pad_optional_bias(node, source, err)))
            return st;
        if (node->n_inputs > max_in)
            max_in = node->n_inputs;
    }
    const struct graph_value **in = calloc((size_t)max_in, sizeof *in);
    if (!in)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", source);
    for (int i = 0; i < g->n_nodes && !st; i++) {
        struct graph_check c = {.g = g, .node = &g->nodes[i], .in = in, .source = source,
                                .err = err};
        st = check_node(g, i, &c);
    }
    free(in);
    return st;
}

static enum quanta_status check_outputs(struct graph *g, const char *source,
                                        struct quanta_error *err)
{
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == GRAPH_VALUE_NODE && g->values[v].producer < 0)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: value '%s' is not produced by any "
                                                      "node",
                               source, g->values[v].name);
    if (g->n_outputs < 1)
        return quanta_fail(err, QUANTA_ERR_INPUT, "%s: the graph has no outputs", source);
    for (int i = 0; i < g->n_outputs; i++) {
        int v = g->outputs[i];
        if (v < 0 || v >= g->n_values)
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: graph output %d is not a value",
                               source, i);
        for (int j = 0; j < i; j++)
            if (g->outputs[j] == v)
                return quanta_fail(err, QUANTA_ERR_INPUT, "%s: output '%s' is listed twice",
                                   source, g->values[v].name);
        g->values[v].last_use = g->n_nodes;
    }
    return QUANTA_OK;
}

enum quanta_status graph_validate(struct graph *g, const char *source, struct quanta_error *err)
{
    enum quanta_status st;
    if (!source)
        source = "graph";
    if ((st = check_names(g, source, err)) || (st = check_inputs(g, source, err)) ||
        (st = check_values(g, source, err)) || (st = check_nodes(g, source, err)) ||
        (st = check_outputs(g, source, err)))
        return st;
    return QUANTA_OK;
}

/* Rewrites of a built graph: fusing the element-wise patterns that
 * exporters spell out into the one operator quanta has for them, and
 * dropping what nothing reads. Run by tools before graph_validate. */
#include "graph/graph_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The node reading value v, when exactly one node does and v is no graph
 * output; else -1. */
int graph_sole_reader(const struct graph *g, int v)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v)
            return -1;
    int reader = -1;
    for (int n = 0; n < g->n_nodes; n++)
        for (int k = 0; k < g->nodes[n].n_inputs; k++)
            if (g->nodes[n].inputs[k] == v) {
                if (reader >= 0 && reader != n)
                    return -1;
                reader = n;
            }
    return reader;
}

int graph_producer(const struct graph *g, int v)
{
    for (int n = 0; n < g->n_nodes; n++)
        for (int k = 0; k < g->nodes[n].n_outputs; k++)
            if (g->nodes[n].outputs[k] == v)
                return n;
    return -1;
}

/* Whether v is a float32 constant whose every element is want, to a
 * relative tol (0: exactly; exporters round 1/sqrt 2 either way). */
static bool const_near(const struct graph *g, int v, double want, double tol)
{
    const struct graph_value *c = &g->values[v];
    if (c->kind != GRAPH_VALUE_CONST || c->dtype != QUANTA_F32 || !c->data)
        return false;
    int64_t n = quanta_shape_numel(&c->shape);
    if (n < 1)
        return false;
    for (int64_t i = 0; i < n; i++)
        if (fabs(((const float *)c->data)[i] - want) > tol * fabs(want))
            return false;
    return true;
}

/* Binary node n of op with a constant operand all want: the other operand,
 * else -1. Sub/div only with the constant second. */
static int with_const(const struct graph *g, int n, enum graph_op op, double want, double tol)
{
    const struct graph_node *nd = &g->nodes[n];
    if (nd->op != op || nd->n_inputs != 2 || nd->attrs.activation != GRAPH_ACT_NONE)
        return -1;
    if (const_near(g, nd->inputs[1], want, tol))
        return nd->inputs[0];
    if (op != GRAPH_OP_DIV && const_near(g, nd->inputs[0], want, tol))
        return nd->inputs[1];
    return -1;
}

/* The node producing v when it is op and v has no other reader. */
static int single_use_producer(const struct graph *g, int v, enum graph_op op)
{
    int p = graph_producer(g, v);
    if (p < 0 || g->nodes[p].op != op || graph_sole_reader(g, v) < 0)
        return -1;
    return p;
}

/* v = 1 + erf(x / sqrt 2) (or x * (1/sqrt 2)), each step read once:
 * returns x, and the nodes in chain[0..3), else -1. */
static int erf_term(const struct graph *g, int v, int chain[3])
{
    int add = single_use_producer(g, v, GRAPH_OP_ADD);
    if (add < 0)
        return -1;
    int e = with_const(g, add, GRAPH_OP_ADD, 1.0, 0.0);
    int erf = e >= 0 ? single_use_producer(g, e, GRAPH_OP_ERF) : -1;
    if (erf < 0)
        return -1;
    int d = g->nodes[erf].inputs[0];
    int scale = graph_producer(g, d);
    if (scale < 0 || graph_sole_reader(g, d) < 0)
        return -1;
    int x = with_const(g, scale, GRAPH_OP_MUL, M_SQRT1_2, 1e-6);
    if (x < 0)
        x = with_const(g, scale, GRAPH_OP_DIV, M_SQRT2, 1e-6);
    chain[0] = add, chain[1] = erf, chain[2] = scale;
    return x;
}

/* y = (x * (1 + erf(x / sqrt 2))) * 0.5, or (x * 0.5) * (1 + erf(...)),
 * the products in either order, as PyTorch exports F.gelu: node y becomes
 * gelu of x, the others are marked dead. */
static bool fuse_gelu_at(struct graph *g, int n, bool *dead)
{
    struct graph_node *nd = &g->nodes[n];
    if (nd->op != GRAPH_OP_MUL || nd->n_inputs != 2 || nd->attrs.activation != GRAPH_ACT_NONE)
        return false;
    int chain[3], inner, x = -1;
    int half_of = with_const(g, n, GRAPH_OP_MUL, 0.5, 0.0);
    if (half_of >= 0) { /* (x * term) * 0.5 */
        inner = single_use_producer(g, half_of, GRAPH_OP_MUL);
        if (inner < 0 || g->nodes[inner].attrs.activation != GRAPH_ACT_NONE)
            return false;
        for (int k = 0; k < 2 && x < 0; k++) {
            int t = g->nodes[inner].inputs[k], other = g->nodes[inner].inputs[1 - k];
            int tx = erf_term(g, t, chain);
            if (tx >= 0 && tx == other)
                x = tx;
        }
    } else { /* (x * 0.5) * term */
        inner = -1;
        for (int k = 0; k < 2 && x < 0; k++) {
            int h = single_use_producer(g, nd->inputs[k], GRAPH_OP_MUL);
            int hx = h >= 0 ? with_const(g, h, GRAPH_OP_MUL, 0.5, 0.0) : -1;
            int tx = hx >= 0 ? erf_term(g, nd->inputs[1 - k], chain) : -1;
            if (tx >= 0 && tx == hx) {
                x = tx;
                inner = h;
            }
        }
    }
    if (x < 0)
        return false;
    nd->op = GRAPH_OP_GELU;
    nd->inputs[0] = x;
    nd->n_inputs = 1;
    graph_attrs_default_op(&nd->attrs, GRAPH_OP_GELU);
    dead[inner] = true;
    for (int k = 0; k < 3; k++)
        dead[chain[k]] = true;
    return true;
}

/* Whether v is a float32 constant that only node `reader` reads. */
static bool private_const(const struct graph *g, int v, int reader)
{
    const struct graph_value *val = &g->values[v];
    return val->kind == GRAPH_VALUE_CONST && val->dtype == QUANTA_F32 && val->data &&
           graph_sole_reader(g, v) == reader;
}

/* A copy of constant v scaled by c, or NULL when out of memory. */
static float *scaled_copy(const struct graph *g, int v, float c)
{
    const struct graph_value *val = &g->values[v];
    int64_t n = quanta_shape_numel(&val->shape);
    float *scaled = malloc((size_t)(n > 0 ? n : 1) * sizeof *scaled);
    for (int64_t i = 0; scaled && i < n; i++)
        scaled[i] = ((const float *)val->data)[i] * c;
    return scaled;
}

static void replace_const(struct graph *g, int v, float *data)
{
    free(g->values[v].owned);
    g->values[v].owned = data;
    g->values[v].data = data;
}

/* The dense whose output reaches v through reshapes, transposes and
 * operands of matmuls only, each value read once: scaling its weight and
 * bias scales v. -1 if there is none. */
static int linear_source(const struct graph *g, int v, int depth)
{
    int p = graph_producer(g, v);
    if (p < 0 || depth > 8 || graph_sole_reader(g, v) < 0)
        return -1;
    const struct graph_node *nd = &g->nodes[p];
    switch (nd->op) {
    case GRAPH_OP_DENSE:
        return nd->attrs.activation == GRAPH_ACT_NONE ? p : -1;
    case GRAPH_OP_RESHAPE:
    case GRAPH_OP_TRANSPOSE:
    case GRAPH_OP_FLATTEN:
        return linear_source(g, nd->inputs[0], depth + 1);
    case GRAPH_OP_MATMUL:
        for (int k = 0; k < 2; k++) {
            int d = linear_source(g, nd->inputs[k], depth + 1);
            if (d >= 0)
                return d;
        }
        return -1;
    default:
        return -1;
    }
}

/* x * c or x / c, c a uniform float constant, where x comes linearly from a dense
 * (attention's Q K^T / sqrt(d), or Q / sqrt(d) before the product): c goes
 * into that dense's weight and bias, and the product's node writes the
 * mul's output, so no element-wise pass over the scores is left.
 * 1 when folded, 0 when not, -1 when out of memory (graph unchanged). */
static int fold_scale_at(struct graph *g, int n, bool *dead)
{
    struct graph_node *nd = &g->nodes[n];
    bool div = nd->op == GRAPH_OP_DIV;
    if ((nd->op != GRAPH_OP_MUL && !div) || nd->n_inputs != 2 ||
        nd->attrs.activation != GRAPH_ACT_NONE)
        return 0;
    for (int k = 0; k < (div ? 1 : 2); k++) { /* x / c: the constant second only */
        int cst = nd->inputs[1 - k], x = nd->inputs[k];
        const struct graph_value *cv = &g->values[cst];
        if (cv->kind != GRAPH_VALUE_CONST || cv->dtype != QUANTA_F32 || !cv->data ||
            quanta_shape_numel(&cv->shape) < 1)
            continue;
        float c = ((const float *)cv->data)[0];
        if (!isfinite(c) || c == 0.0f || !const_near(g, cst, c, 0.0))
            continue;
        if (div)
            c = (float)(1.0 / (double)c);
        /* the constant must not widen x by broadcasting */
        const struct graph_value *xv = &g->values[x], *yv = &g->values[nd->outputs[0]];
        if (xv->dtype != QUANTA_F32 || !quanta_shape_equal(&xv->shape, &yv->shape))
            continue;
        int d = linear_source(g, x, 0);
        if (d < 0)
            continue;
        struct graph_node *dn = &g->nodes[d];
        bool has_bias = dn->n_inputs > 2 && dn->inputs[2] >= 0;
        int w = dn->inputs[1], b = has_bias ? dn->inputs[2] : -1;
        if (!private_const(g, w, d) || (has_bias && !private_const(g, b, d)))
            continue;
        float *ws = scaled_copy(g, w, c), *bs = has_bias ? scaled_copy(g, b, c) : NULL;
        if (!ws || (has_bias && !bs)) {
            free(ws);
            free(bs);
            return -1;
        }
        replace_const(g, w, ws);
        if (has_bias)
            replace_const(g, b, bs);
        int p = graph_producer(g, x);
        for (int o = 0; o < g->nodes[p].n_outputs; o++)
            if (g->nodes[p].outputs[o] == x)
                g->nodes[p].outputs[o] = nd->outputs[0];
        dead[n] = true;
        return 1;
    }
    return 0;
}

/* Drops the nodes marked dead and every value no longer used (a value is
 * used when it is a graph input or output, a kept node reads or writes it,
 * or it holds a used value's per-channel scales or zero points), keeping
 * the order of the rest. */
int graph_remove_nodes(struct graph *g, const bool *dead)
{
    int *map = malloc(((size_t)g->n_values + 1) * sizeof *map);
    bool *used = calloc((size_t)g->n_values + 1, sizeof *used);
    if (!map || !used) {
        free(map);
        free(used);
        return -1;
    }
    int kept = 0;
    for (int n = 0; n < g->n_nodes; n++) {
        struct graph_node *nd = &g->nodes[n];
        if (dead[n]) {
            free(nd->name);
            free(nd->inputs);
            free(nd->outputs);
            continue;
        }
        for (int k = 0; k < nd->n_inputs; k++)
            if (nd->inputs[k] >= 0)
                used[nd->inputs[k]] = true;
        for (int k = 0; k < nd->n_outputs; k++)
            used[nd->outputs[k]] = true;
        g->nodes[kept++] = *nd;
    }
    g->n_nodes = kept;
    for (int i = 0; i < g->n_inputs; i++)
        used[g->inputs[i].value] = true;
    for (int i = 0; i < g->n_outputs; i++)
        used[g->outputs[i]] = true;
    /* the tensors a kept value's per-channel scales and zero points are */
    for (int v = 0; v < g->n_values; v++) {
        const struct graph_quant *q = &g->values[v].quant;
        for (int w = 0; used[v] && q->axis >= 0 && w < g->n_values; w++)
            if (g->values[w].data &&
                (g->values[w].data == (const void *)q->scales ||
                 g->values[w].data == (const void *)q->zero_points))
                used[w] = true;
    }
    int n_values = 0;
    for (int v = 0; v < g->n_values; v++) {
        if (!used[v]) {
            free(g->values[v].name);
            free(g->values[v].owned);
            map[v] = -1;
            continue;
        }
        map[v] = n_values;
        g->values[n_values++] = g->values[v];
    }
    g->n_values = n_values;
    for (int n = 0; n < g->n_nodes; n++) {
        struct graph_node *nd = &g->nodes[n];
        for (int k = 0; k < nd->n_inputs; k++)
            if (nd->inputs[k] >= 0)
                nd->inputs[k] = map[nd->inputs[k]];
        for (int k = 0; k < nd->n_outputs; k++)
            nd->outputs[k] = map[nd->outputs[k]];
    }
    for (int i = 0; i < g->n_inputs; i++)
        g->inputs[i].value = map[g->inputs[i].value];
    for (int i = 0; i < g->n_outputs; i++)
        g->outputs[i] = map[g->outputs[i]];
    graph_fix_quant_pointers(g);
    free(map);
    free(used);
    return 0;
}

int graph_fuse_elementwise(struct graph *g)
{
    if (g->n_nodes == 0)
        return 0;
    bool *dead = calloc((size_t)g->n_nodes, sizeof *dead);
    if (!dead)
        return -1;
    int fused = 0;
    for (int n = 0; n < g->n_nodes; n++)
        if (!dead[n] && fuse_gelu_at(g, n, dead))
            fused++;
    int rc = 0;
    for (int n = 0; n < g->n_nodes && rc >= 0; n++)
        if (!dead[n] && (rc = fold_scale_at(g, n, dead)) > 0)
            fused++;
    if (rc >= 0)
        rc = fused ? graph_remove_nodes(g, dead) : 0;
    free(dead);
    return rc < 0 ? -1 : fused;
}

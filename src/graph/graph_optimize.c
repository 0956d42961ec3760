/* The graph optimizer (graph_optimize.h): a copy of the graph, then each
 * pass edits it in place, marking the nodes it absorbs dead; the dead are
 * dropped (with the values nothing uses any more) after each pass and the
 * result validated again, which recomputes producers, uses and shapes. */
#include "graph/graph_optimize.h"
#include "graph/graph_const.h"
#include "graph/graph_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *graph_pass_name(enum graph_pass pass)
{
    static const char *const names[GRAPH_PASS_COUNT] = {"const", "fold",     "scale", "residual",
                                                         "fuse",  "collapse", "dead"};
    return (unsigned)pass < GRAPH_PASS_COUNT ? names[pass] : "invalid";
}

void graph_optimize_log_free(struct graph_optimize_log *log)
{
    if (!log)
        return;
    free(log->text);
    memset(log, 0, sizeof *log);
}

/* ---- shared by the passes ---- */

struct pass {
    struct graph *g;
    const struct graph_optimize_options *opt;
    struct graph_optimize_log *log;
    bool *dead;
    bool nomem;
};

/* Appends "<pass>: <line>\n" to the log, counted as a rewrite when count. */
static void vnote(struct pass *ps, enum graph_pass pass, bool count, const char *fmt, va_list ap)
{
    struct graph_optimize_log *log = ps->log;
    if (!log)
        return;
    log->count[pass] += count;
    char line[512];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0)
        return;
    size_t add = strlen(graph_pass_name(pass)) + 2 + strlen(line) + 1;
    char *grown = realloc(log->text, log->len + add + 1);
    if (!grown) {
        ps->nomem = true;
        return;
    }
    log->text = grown;
    log->len += (size_t)snprintf(log->text + log->len, add + 1, "%s: %s\n", graph_pass_name(pass),
                                 line);
}

static void note(struct pass *ps, enum graph_pass pass, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note(struct pass *ps, enum graph_pass pass, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(ps, pass, true, fmt, ap);
    va_end(ap);
}

/* A line that counts no rewrite (what a pass left, and why). */
static void note_left(struct pass *ps, enum graph_pass pass, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void note_left(struct pass *ps, enum graph_pass pass, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(ps, pass, false, fmt, ap);
    va_end(ap);
}

static bool excluded(const struct pass *ps, const char *name)
{
    for (int i = 0; i < ps->opt->n_exclude; i++)
        if (strcmp(ps->opt->exclude[i], name) == 0)
            return true;
    return false;
}

/* A float value without quantization parameters. */
static bool is_float(const struct graph *g, int v)
{
    return v >= 0 && quanta_dtype_is_float(g->values[v].dtype) &&
           g->values[v].quant.dtype == QUANTA_DTYPE_INVALID;
}

static bool is_float_const(const struct graph *g, int v)
{
    return is_float(g, v) && g->values[v].kind == GRAPH_VALUE_CONST && g->values[v].data;
}

/* The live node writing value x (an input of node reader, which alone
 * reads it), when it is not excluded; else -1. */
static int sole_producer(const struct pass *ps, int x, int reader)
{
    int p = is_float(ps->g, x) ? graph_producer(ps->g, x) : -1;
    if (p < 0 || ps->dead[p] || graph_sole_reader(ps->g, x) != reader ||
        excluded(ps, ps->g->nodes[p].name))
        return -1;
    return p;
}

/* A new F32 constant named base+suffix (made unique) holding data (taken
 * over); its index or -1. */
static int add_const(struct graph *g, const char *base, const char *suffix,
                     const struct quanta_shape *shape, float *data)
{
    size_t size = strlen(base) + strlen(suffix) + 24;
    char *name = malloc(size);
    int v = -1;
    if (name) {
        snprintf(name, size, "%s%s", base, suffix);
        for (unsigned k = 2; graph_find_value(g, name) >= 0; k++)
            snprintf(name, size, "%s%s%u", base, suffix, k);
        v = graph_add_value(g, name, GRAPH_VALUE_CONST, QUANTA_F32, shape);
    }
    free(name);
    if (v < 0) {
        free(data);
        return -1;
    }
    g->values[v].data = g->values[v].owned = data;
    return v;
}

/* Puts data (taken over) as input k of node n: in place of the constant
 * there when n alone reads it (keeping its name), else as a new one. */
static bool set_const_input(struct graph *g, int n, int k, const char *base, const char *suffix,
                            const struct quanta_shape *shape, float *data)
{
    struct graph_node *nd = &g->nodes[n];
    int v = k < nd->n_inputs ? nd->inputs[k] : -1;
    if (v >= 0 && graph_sole_reader(g, v) == n) {
        struct graph_value *c = &g->values[v];
        free(c->owned);
        c->data = c->owned = data;
        c->dtype = QUANTA_F32;
        c->shape = *shape;
        return true;
    }
    if (k >= nd->n_inputs) {
        int *grown = realloc(nd->inputs, (size_t)(k + 1) * sizeof *grown);
        if (!grown) {
            free(data);
            return false;
        }
        for (int i = nd->n_inputs; i <= k; i++)
            grown[i] = -1;
        nd->inputs = grown;
        nd->n_inputs = k + 1;
    }
    int c = add_const(g, base, suffix, shape, data);
    if (c < 0)
        return false;
    g->nodes[n].inputs[k] = c;
    return true;
}

static float *const_f32(const struct graph_value *v)
{
    int64_t n = quanta_shape_numel(&v->shape);
    float *f = n >= 0 ? malloc((size_t)(n > 0 ? n : 1) * sizeof *f) : NULL;
    if (f)
        quanta_convert_to_f32(v->dtype, v->data, f, (size_t)n);
    return f;
}

/* ---- const: nodes whose inputs are all constants ---- */

/* A node every present input of which is a float constant becomes its
 * output value, now a constant (same index, same name: a graph output
 * stays one), when graph_const_eval computes it exactly. Not in a
 * quantized graph: the runner runs those as stored, node for node. */
static void pass_const(struct pass *ps)
{
    struct graph *g = ps->g;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].quant.dtype != QUANTA_DTYPE_INVALID)
            return;
    for (int i = 0; i < g->n_nodes && !ps->nomem; i++) {
        const struct graph_node *nd = &g->nodes[i];
        bool consts = nd->n_outputs == 1 && is_float(g, nd->outputs[0]) && !excluded(ps, nd->name);
        for (int k = 0; consts && k < nd->n_inputs; k++)
            consts = nd->inputs[k] < 0 || is_float_const(g, nd->inputs[k]);
        if (!consts)
            continue;
        float *data;
        const char *why;
        enum graph_const_result res = graph_const_eval(g, i, &data, &why);
        struct graph_value *y = &g->values[nd->outputs[0]];
        if (res == GRAPH_CONST_NOMEM) {
            ps->nomem = true;
        } else if (res == GRAPH_CONST_SKIPPED) {
            note_left(ps, GRAPH_PASS_CONST, "%s '%s' not folded: %s", graph_op_name(nd->op),
                      nd->name, why);
        } else {
            y->kind = GRAPH_VALUE_CONST;
            y->dtype = QUANTA_F32;
            y->data = y->owned = data;
            y->producer = -1;
            ps->dead[i] = true;
            note(ps, GRAPH_PASS_CONST, "%s '%s' computed once: constant '%s'",
                 graph_op_name(nd->op), nd->name, y->name);
        }
    }
}

/* ---- fold: batch_norm into the conv2d/dense before it ---- */

static bool can_fold(const struct graph *g, const struct graph_node *p, const struct graph_node *bn)
{
    if ((p->op != GRAPH_OP_CONV2D && p->op != GRAPH_OP_DENSE) ||
        p->attrs.activation != GRAPH_ACT_NONE || p->n_inputs < 2 || !is_float_const(g, p->inputs[1]))
        return false;
    if (p->n_inputs > 2 && p->inputs[2] >= 0 && !is_float_const(g, p->inputs[2]))
        return false;
    int64_t channels = g->values[p->inputs[1]].shape.dims[0];
    if (bn->n_inputs < 5 || channels < 1)
        return false;
    for (int k = 1; k < 5; k++)
        if (!is_float_const(g, bn->inputs[k]) ||
            quanta_shape_numel(&g->values[bn->inputs[k]].shape) != channels)
            return false;
    return true;
}

static bool fold_into(struct pass *ps, int p, int bn)
{
    struct graph *g = ps->g;
    const struct graph_node *pn = &g->nodes[p], *bnn = &g->nodes[bn];
    const struct graph_value *wv = &g->values[pn->inputs[1]];
    int bias = pn->n_inputs > 2 ? pn->inputs[2] : -1;
    int64_t channels = wv->shape.dims[0], per = quanta_shape_numel(&wv->shape) / channels;
    struct quanta_shape wshape = wv->shape, bshape = {.rank = 1, .dims = {channels}};
    float *w = const_f32(wv), *b = malloc((size_t)channels * sizeof *b);
    float *bias_f = bias >= 0 ? const_f32(&g->values[bias]) : NULL;
    float *prm[4];
    for (int k = 0; k < 4; k++)
        prm[k] = const_f32(&g->values[bnn->inputs[1 + k]]);
    bool ok = w && b && (bias < 0 || bias_f) && prm[0] && prm[1] && prm[2] && prm[3];
    if (ok) {
        const float *gamma = prm[0], *beta = prm[1], *mean = prm[2], *var = prm[3];
        double eps = bnn->attrs.epsilon;
        for (int64_t o = 0; o < channels; o++) {
            double s = (double)gamma[o] / sqrt((double)var[o] + eps);
            for (int64_t i = 0; i < per; i++)
                w[o * per + i] = (float)((double)w[o * per + i] * s);
            double b0 = bias_f ? (double)bias_f[o] : 0.0;
            b[o] = (float)((b0 - (double)mean[o]) * s + (double)beta[o]);
        }
    }
    for (int k = 0; k < 4; k++)
        free(prm[k]);
    free(bias_f);
    if (!ok) {
        free(w);
        free(b);
        return false;
    }
    char *wname = strdup(wv->name), *pname = strdup(pn->name);
    char *bname = bias >= 0 ? strdup(g->values[bias].name) : NULL;
    ok = wname && pname && (bias < 0 || bname);
    if (!ok) {
        free(w);
        free(b);
    } else {
        ok = set_const_input(g, p, 1, wname, ".folded", &wshape, w);
        if (ok)
            ok = set_const_input(g, p, 2, bias >= 0 ? bname : pname, bias >= 0 ? ".folded" : ".bias",
                                 &bshape, b);
        else
            free(b);
    }
    if (ok) {
        g->nodes[p].outputs[0] = g->nodes[bn].outputs[0];
        ps->dead[bn] = true;
        note(ps, GRAPH_PASS_FOLD, "batch_norm '%s' into %s '%s'", g->nodes[bn].name,
             graph_op_name(g->nodes[p].op), pname);
    }
    free(wname);
    free(pname);
    free(bname);
    return ok;
}

static void pass_fold(struct pass *ps)
{
    struct graph *g = ps->g;
    for (int i = 0; i < g->n_nodes && !ps->nomem; i++) {
        const struct graph_node *bn = &g->nodes[i];
        if (bn->op != GRAPH_OP_BATCH_NORM || excluded(ps, bn->name) || bn->n_inputs < 1)
            continue;
        int p = sole_producer(ps, bn->inputs[0], i);
        if (p >= 0 && can_fold(g, &g->nodes[p], bn) && !fold_into(ps, p, i))
            ps->nomem = true;
    }
}

/* ---- scale: a batch_norm left becomes a 1x1 depthwise conv2d ---- */

static bool as_conv(struct pass *ps, int n)
{
    struct graph *g = ps->g;
    const struct graph_node *bn = &g->nodes[n];
    int x = bn->inputs[0];
    int64_t channels = g->values[x].shape.dims[3];
    float *prm[4], *w = malloc((size_t)channels * sizeof *w), *b = malloc((size_t)channels * sizeof *b);
    for (int k = 0; k < 4; k++)
        prm[k] = const_f32(&g->values[bn->inputs[1 + k]]);
    bool ok = w && b && prm[0] && prm[1] && prm[2] && prm[3];
    if (ok)
        for (int64_t c = 0; c < channels; c++) {
            double s = (double)prm[0][c] / sqrt((double)prm[3][c] + bn->attrs.epsilon);
            w[c] = (float)s;
            b[c] = (float)((double)prm[1][c] - (double)prm[2][c] * s);
        }
    for (int k = 0; k < 4; k++)
        free(prm[k]);
    char *name = ok ? strdup(bn->name) : NULL;
    if (!name) {
        free(w);
        free(b);
        return false;
    }
    struct quanta_shape wshape = {.rank = 4, .dims = {channels, 1, 1, 1}};
    struct quanta_shape bshape = {.rank = 1, .dims = {channels}};
    int wv = add_const(g, name, ".scale", &wshape, w);
    int bv = wv >= 0 ? add_const(g, name, ".shift", &bshape, b) : -1;
    if (wv < 0)
        free(b);
    if (bv >= 0) {
        struct graph_node *nd = &g->nodes[n];
        nd->op = GRAPH_OP_CONV2D;
        graph_attrs_default_op(&nd->attrs, GRAPH_OP_CONV2D);
        nd->attrs.groups = (int)channels;
        nd->inputs[1] = wv;
        nd->inputs[2] = bv;
        nd->n_inputs = 3;
        note(ps, GRAPH_PASS_SCALE, "batch_norm '%s' as a 1x1 depthwise conv2d", name);
    }
    free(name);
    return bv >= 0;
}

static void pass_scale(struct pass *ps)
{
    struct graph *g = ps->g;
    if (!ps->opt->batch_norm_as_conv)
        return;
    for (int i = 0; i < g->n_nodes && !ps->nomem; i++) {
        const struct graph_node *bn = &g->nodes[i];
        if (bn->op != GRAPH_OP_BATCH_NORM || bn->n_inputs != 5 || excluded(ps, bn->name) ||
            !is_float(g, bn->inputs[0]) || !is_float(g, bn->outputs[0]))
            continue;
        const struct graph_value *x = &g->values[bn->inputs[0]];
        if (x->shape.rank != 4 || x->shape.dims[3] < 1 || x->shape.dims[3] > INT32_MAX)
            continue;
        bool params = true;
        for (int k = 1; k < 5; k++)
            params = params && is_float_const(g, bn->inputs[k]) &&
                     quanta_shape_numel(&g->values[bn->inputs[k]].shape) == x->shape.dims[3];
        if (params && !as_conv(ps, i))
            ps->nomem = true;
    }
}

/* ---- residual: an add into the conv2d/dense writing one of its inputs ---- */

/* Whether add node i may become input 3 of node p writing its input k:
 * same shapes (no broadcast), p without an activation (the add comes
 * first), and the other input defined before p runs. */
static bool residual_fits(const struct pass *ps, int i, int k, int p)
{
    const struct graph *g = ps->g;
    const struct graph_node *add = &g->nodes[i], *pn = &g->nodes[p];
    int other = add->inputs[1 - k];
    if ((pn->op != GRAPH_OP_CONV2D && pn->op != GRAPH_OP_DENSE) || pn->n_outputs != 1 ||
        pn->n_inputs > 3 || pn->attrs.activation != GRAPH_ACT_NONE || !is_float(g, other) ||
        g->values[other].kind == GRAPH_VALUE_CONST)
        return false;
    const struct quanta_shape *y = &g->values[add->outputs[0]].shape;
    if (!quanta_shape_equal(&g->values[add->inputs[0]].shape, y) ||
        !quanta_shape_equal(&g->values[add->inputs[1]].shape, y))
        return false;
    int q = graph_producer(g, other);
    return q < p;
}

static void pass_residual(struct pass *ps)
{
    struct graph *g = ps->g;
    if (ps->opt->fuse != GRAPH_FUSE_FLOAT)
        return;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *add = &g->nodes[i];
        if (ps->dead[i] || add->op != GRAPH_OP_ADD || add->n_inputs != 2 ||
            excluded(ps, add->name) || !is_float(g, add->outputs[0]))
            continue;
        int k, p = -1;
        for (k = 0; k < 2; k++) {
            p = sole_producer(ps, add->inputs[k], i);
            if (p >= 0 && residual_fits(ps, i, k, p))
                break;
            p = -1;
        }
        if (p < 0)
            continue;
        struct graph_node *pn = &g->nodes[p];
        int *in = realloc(pn->inputs, 4 * sizeof *in);
        if (!in) {
            ps->nomem = true;
            return;
        }
        for (int j = pn->n_inputs; j < 3; j++)
            in[j] = -1;
        in[3] = add->inputs[1 - k];
        pn->inputs = in;
        pn->n_inputs = 4;
        pn->attrs.activation = add->attrs.activation;
        pn->attrs.alpha = add->attrs.alpha;
        pn->attrs.min = add->attrs.min;
        pn->attrs.max = add->attrs.max;
        pn->outputs[0] = add->outputs[0];
        ps->dead[i] = true;
        note(ps, GRAPH_PASS_RESIDUAL, "add '%s' into %s '%s'", add->name, graph_op_name(pn->op),
             pn->name);
    }
}

/* ---- fuse: activations into the node before them ---- */

static enum graph_activation activation_of(enum graph_op op)
{
    switch (op) {
    case GRAPH_OP_RELU: return GRAPH_ACT_RELU;
    case GRAPH_OP_RELU6: return GRAPH_ACT_RELU6;
    case GRAPH_OP_CLIP: return GRAPH_ACT_CLIP;
    case GRAPH_OP_LEAKY_RELU: return GRAPH_ACT_LEAKY_RELU;
    case GRAPH_OP_SIGMOID: return GRAPH_ACT_SIGMOID;
    case GRAPH_OP_TANH: return GRAPH_ACT_TANH;
    case GRAPH_OP_HARD_SWISH: return GRAPH_ACT_HARD_SWISH;
    case GRAPH_OP_SILU: return GRAPH_ACT_SILU;
    case GRAPH_OP_GELU: return GRAPH_ACT_GELU;
    default: return GRAPH_ACT_NONE;
    }
}

/* Whether activation act may be fused into a node of op at level. */
static bool fusable(enum graph_fuse_level level, enum graph_op op, enum graph_activation act)
{
    bool clamp = act == GRAPH_ACT_RELU || act == GRAPH_ACT_RELU6;
    bool gemm = op == GRAPH_OP_CONV2D || op == GRAPH_OP_DENSE;
    bool binary = op == GRAPH_OP_ADD || op == GRAPH_OP_MUL;
    if (level == GRAPH_FUSE_INT8)
        return clamp && (gemm || binary);
    if (level != GRAPH_FUSE_FLOAT || act == GRAPH_ACT_NONE)
        return false;
    if (gemm || op == GRAPH_OP_MATMUL)
        return true;
    return binary && (clamp || act == GRAPH_ACT_CLIP);
}

static void pass_fuse(struct pass *ps)
{
    struct graph *g = ps->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *a = &g->nodes[i];
        enum graph_activation act = activation_of(a->op);
        if (act == GRAPH_ACT_NONE || a->n_inputs != 1 || excluded(ps, a->name) ||
            !is_float(g, a->outputs[0]))
            continue;
        int p = sole_producer(ps, a->inputs[0], i);
        if (p < 0)
            continue;
        struct graph_node *pn = &g->nodes[p];
        if (pn->attrs.activation != GRAPH_ACT_NONE || pn->n_outputs != 1 ||
            !fusable(ps->opt->fuse, pn->op, act))
            continue;
        pn->attrs.activation = act;
        if (act == GRAPH_ACT_LEAKY_RELU)
            pn->attrs.alpha = a->attrs.alpha;
        if (act == GRAPH_ACT_CLIP) {
            pn->attrs.min = a->attrs.min;
            pn->attrs.max = a->attrs.max;
        }
        pn->outputs[0] = a->outputs[0];
        ps->dead[i] = true;
        note(ps, GRAPH_PASS_FUSE, "%s '%s' into %s '%s'", graph_op_name(a->op), a->name,
             graph_op_name(pn->op), pn->name);
    }
}

/* ---- collapse: reshape and transpose chains ---- */

static bool keeps_batch(const struct graph_node *n)
{
    return n->op == GRAPH_OP_FLATTEN || n->attrs.shape.dims[0] == -1;
}

static bool is_reshape(enum graph_op op)
{
    return op == GRAPH_OP_RESHAPE || op == GRAPH_OP_FLATTEN;
}

static bool is_graph_output(const struct graph *g, int v)
{
    for (int i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == v)
            return true;
    return false;
}

static void pass_collapse(struct pass *ps)
{
    struct graph *g = ps->g;
    for (int i = 0; i < g->n_nodes; i++) {
        struct graph_node *b = &g->nodes[i];
        if (ps->dead[i] || b->n_inputs < 1 || (!is_reshape(b->op) && b->op != GRAPH_OP_TRANSPOSE) ||
            excluded(ps, b->name) || !is_float(g, b->inputs[0]))
            continue;
        int a = graph_producer(g, b->inputs[0]);
        if (a < 0 || ps->dead[a] || excluded(ps, g->nodes[a].name))
            continue;
        const struct graph_node *an = &g->nodes[a];
        if (is_reshape(b->op) && is_reshape(an->op) && keeps_batch(an) == keeps_batch(b)) {
            b->inputs[0] = an->inputs[0];
            note(ps, GRAPH_PASS_COLLAPSE, "%s '%s' reads the input of %s '%s'",
                 graph_op_name(b->op), b->name, graph_op_name(an->op), an->name);
        } else if (b->op == GRAPH_OP_TRANSPOSE && an->op == GRAPH_OP_TRANSPOSE &&
                   an->attrs.n_perm == b->attrs.n_perm) {
            /* y[i...] axis d is t's axis pb[d], which is x's axis pa[pb[d]] */
            int perm[QUANTA_MAX_RANK];
            bool identity = true;
            for (int d = 0; d < b->attrs.n_perm; d++) {
                perm[d] = an->attrs.perm[b->attrs.perm[d]];
                identity = identity && perm[d] == d;
            }
            int x = an->inputs[0], y = b->outputs[0];
            if (identity && !is_graph_output(g, y)) {
                for (int n = i + 1; n < g->n_nodes; n++)
                    for (int k = 0; k < g->nodes[n].n_inputs; k++)
                        if (g->nodes[n].inputs[k] == y)
                            g->nodes[n].inputs[k] = x;
                ps->dead[i] = true;
            } else {
                memcpy(b->attrs.perm, perm, sizeof perm);
                b->inputs[0] = x;
            }
            note(ps, GRAPH_PASS_COLLAPSE, "transpose '%s' after transpose '%s'%s", b->name,
                 an->name, identity && ps->dead[i] ? ": identity, removed" : "");
        }
    }
}

/* ---- dead: nodes nothing reads ---- */

static void pass_dead(struct pass *ps)
{
    struct graph *g = ps->g;
    int *readers = calloc((size_t)g->n_values + 1, sizeof *readers);
    if (!readers) {
        ps->nomem = true;
        return;
    }
    for (int n = 0; n < g->n_nodes; n++)
        for (int k = 0; k < g->nodes[n].n_inputs; k++)
            if (!ps->dead[n] && g->nodes[n].inputs[k] >= 0)
                readers[g->nodes[n].inputs[k]]++;
    for (int i = 0; i < g->n_outputs; i++)
        readers[g->outputs[i]]++;
    for (int n = g->n_nodes - 1; n >= 0; n--) {
        const struct graph_node *nd = &g->nodes[n];
        bool read = false;
        for (int k = 0; k < nd->n_outputs; k++)
            read = read || readers[nd->outputs[k]] > 0;
        if (ps->dead[n] || read)
            continue;
        ps->dead[n] = true;
        for (int k = 0; k < nd->n_inputs; k++)
            if (nd->inputs[k] >= 0)
                readers[nd->inputs[k]]--;
        note(ps, GRAPH_PASS_DEAD, "%s '%s': nothing reads its output", graph_op_name(nd->op),
             nd->name);
    }
    free(readers);
}

/* Drops the nodes the pass marked dead. */
static bool sweep(struct pass *ps)
{
    bool any = false;
    for (int n = 0; n < ps->g->n_nodes; n++)
        any = any || ps->dead[n];
    if (any && graph_remove_nodes(ps->g, ps->dead) < 0)
        return false;
    memset(ps->dead, 0, (size_t)ps->g->n_nodes + 1);
    return true;
}

enum quanta_status graph_optimize(const struct graph *src, const struct graph_optimize_options *opt,
                                  struct graph *out, struct graph_optimize_log *log,
                                  const char *source, struct quanta_error *err)
{
    static const struct graph_optimize_options defaults = {0};
    enum quanta_status st;
    if (log)
        memset(log, 0, sizeof *log);
    if ((st = graph_copy(out, src, err)))
        return st;
    struct pass ps = {.g = out, .opt = opt ? opt : &defaults, .log = log};
    ps.dead = calloc((size_t)out->n_nodes + 1, sizeof *ps.dead);
    if (!ps.dead)
        goto nomem;
    void (*const passes[])(struct pass *) = {pass_const, pass_fold,     pass_scale, pass_residual,
                                             pass_fuse,  pass_collapse, pass_dead};
    for (size_t i = 0; i < sizeof passes / sizeof passes[0]; i++) {
        passes[i](&ps);
        if (ps.nomem || !sweep(&ps))
            goto nomem;
    }
    free(ps.dead);
    if ((st = graph_validate(out, source, err)))
        goto fail;
    return QUANTA_OK;
nomem:
    free(ps.dead);
    st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory optimizing the graph", source);
fail:
    graph_free(out);
    graph_optimize_log_free(log);
    return st;
}

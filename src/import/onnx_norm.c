/* Normalizations: BatchNormalization (folded into the conv2d or dense
 * before it when nothing else reads that), LayerNormalization, the
 * LayerNorm that exports before opset 17 decompose into ReduceMean, Sub,
 * Pow, ... and InstanceNormalization. */
#include "import/onnx_ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Inputs 1 to n: float constants (names[i] in messages) of c values, one
 * per channel. */
static enum quanta_status channel_params(struct cv *cv, const char *const *names, int n,
                                         int64_t c, const struct onnx_tensor **p)
{
    enum quanta_status st;
    for (int i = 0; i < n; i++) {
        if ((st = cv_need_const(cv, i + 1, names[i], &p[i])) ||
            (st = cv_need_f32(cv, p[i], names[i])))
            return st;
        if (p[i]->numel != c)
            return cv_fail(cv, "%s '%s' has %lld values but %lld channels are needed", names[i],
                           p[i]->name, (long long)p[i]->numel, (long long)c);
    }
    return QUANTA_OK;
}

enum quanta_status cv_op_batch_norm(struct cv *cv)
{
    static const char *const attrs[] = {"epsilon", "momentum", "training_mode", "spatial", NULL};
    static const char *const attrs6[] = {"epsilon", "momentum", "spatial", "is_test", NULL};
    struct cv_value *x;
    const struct onnx_tensor *p[4];
    static const char *const names[] = {"scale", "B", "mean", "var"};
    float eps;
    int64_t training, spatial, is_test;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, cv->m->opset < 7 ? attrs6 : attrs)) ||
        (st = cv_only_first_output(cv)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = cv_attr_float(cv, "epsilon", 1e-5f, &eps)) ||
        (st = cv_attr_int(cv, "training_mode", 0, &training)) ||
        (st = cv_attr_int(cv, "spatial", 1, &spatial)) ||
        (st = cv_attr_int(cv, "is_test", cv->m->opset < 7 ? 0 : 1, &is_test)))
        return st;
    if (training || !spatial)
        return cv_fail(cv, "training_mode=1 / spatial=0 is not supported");
    if (!is_test) /* opset 6: is_test 0 (the default) normalizes with the batch's statistics */
        return cv_fail(cv, "is_test=0 (training: the batch's own statistics) is not supported");
    if (x->shape.rank < 2)
        return cv_fail(cv, "input '%s' needs a channel axis", x->name);
    int64_t c = x->shape.dims[1];
    if ((st = channel_params(cv, names, 4, c, p)))
        return st;
    const float *gamma = p[0]->data, *beta = p[1]->data, *mean = p[2]->data, *var = p[3]->data;
    int last = x->perm[x->shape.rank - 1];

    /* Fold into the conv2d / dense before it. */
    int prod = cv_producer(cv, x->q);
    struct graph_node *node = prod >= 0 ? &cv->g->nodes[prod] : NULL;
    if (node && (node->op == GRAPH_OP_CONV2D || node->op == GRAPH_OP_DENSE) &&
        node->attrs.activation == GRAPH_ACT_NONE && node->n_inputs == 3 && !x->flat &&
        last == 1 && cv_sole_reader(cv, x->q)) {
        int qw = node->inputs[1];
        if (node->inputs[2] < 0) {
            float *zero = calloc((size_t)c + 1, sizeof *zero);
            if (!zero)
                return cv_nomem(cv);
            char name[300];
            snprintf(name, sizeof name, "%s.bias", node->name);
            int qb = cv_const_value(cv, name, zero, &(struct quanta_shape){.rank = 1, .dims = {c}});
            free(zero);
            if (qb < 0)
                return cv_nomem(cv);
            cv->g->nodes[prod].inputs[2] = qb;
        }
        node = &cv->g->nodes[prod];
        float *w = cv->g->values[qw].owned, *b = cv->g->values[node->inputs[2]].owned;
        int64_t per = quanta_shape_numel(&cv->g->values[qw].shape) / c;
        for (int64_t o = 0; o < c; o++) {
            float s = gamma[o] / sqrtf(var[o] + eps);
            for (int64_t k = 0; k < per; k++)
                w[o * per + k] *= s;
            b[o] = (b[o] - mean[o]) * s + beta[o];
        }
        return cv_def_new(cv, x);
    }
    if (!x->flat && last != 1)
        return cv_fail(cv, "input '%s' does not keep its channels on the last axis in quanta's "
                           "layout",
                       x->name);
    int ins[5], qx = x->q;
    if (!x->flat && (st = cv_materialize(cv, x, x->perm, &qx)))
        return st;
    ins[0] = qx;
    for (int i = 0; i < 4; i++) {
        float *v = malloc((size_t)c * sizeof *v + 1);
        if (!v)
            return cv_nomem(cv);
        memcpy(v, p[i]->data, (size_t)c * sizeof *v);
        if (x->flat && (st = cv_permute_columns(cv, x, v, 1, c))) {
            free(v);
            return st;
        }
        ins[i + 1] = cv_const_value(cv, cv->node->inputs[i + 1], v,
                                    &(struct quanta_shape){.rank = 1, .dims = {c}});
        free(v);
        if (ins[i + 1] < 0)
            return cv_nomem(cv);
    }
    struct cv_value out = *x;
    struct quanta_shape s = cv->g->values[qx].shape;
    int n;
    if ((st = cv_emit(cv, GRAPH_OP_BATCH_NORM, ins, 5, &s, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.epsilon = eps;
    return cv_def_new(cv, &out);
}

/* The layout of x for an operator over its ONNX axes [a, r): its own when
 * the physical axes [a, r) hold exactly those (in any order), else ONNX
 * order. *perm gets the layout, *q the quanta value. */
static enum quanta_status tail_layout(struct cv *cv, const struct cv_value *x, int a, int *perm,
                                      int *q)
{
    const int r = x->shape.rank;
    bool own = !x->flat;
    for (int i = a; i < r && own; i++)
        own = x->perm[i] >= a;
    if (own)
        memcpy(perm, x->perm, sizeof x->perm);
    else
        cv_perm_identity(r, perm);
    return cv_materialize(cv, x, perm, q);
}

static enum quanta_status emit_layer_norm(struct cv *cv, const struct cv_value *x, int a,
                                          float eps, const struct onnx_tensor *t0,
                                          const struct onnx_tensor *t1);

/* LayerNormalization (opset 17): over ONNX axes [axis, r), Scale and B
 * constants broadcast to those axes, Mean and InvStdDev outputs unused. */
enum quanta_status cv_op_layer_norm(struct cv *cv)
{
    static const char *const attrs[] = {"axis", "epsilon", "stash_type", NULL};
    struct cv_value *x;
    const struct onnx_tensor *p[2] = {NULL, NULL};
    int64_t axis;
    float eps;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_only_first_output(cv)) ||
        (st = cv_need_act(cv, 0, &x)) || (st = cv_attr_int(cv, "axis", -1, &axis)) ||
        (st = cv_attr_float(cv, "epsilon", 1e-5f, &eps)) ||
        (st = cv_need_const(cv, 1, "Scale", &p[0])) || (st = cv_need_f32(cv, p[0], "Scale")))
        return st;
    struct cv_value *b = NULL;
    if ((st = cv_input(cv, 2, &b)))
        return st;
    if (b && ((st = cv_need_const(cv, 2, "B", &p[1])) || (st = cv_need_f32(cv, p[1], "B"))))
        return st;
    const int r = x->shape.rank;
    int a = (int)(axis < 0 ? axis + r : axis);
    if (a < 0 || a >= r)
        return cv_fail(cv, "attribute 'axis' %lld is outside the rank %d of '%s'",
                       (long long)axis, r, x->name);
    if (a == 0)
        return cv_fail(cv, "normalizes over the batch axis, which is not supported");
    return emit_layer_norm(cv, x, a, eps, p[0], p[1]);
}

/* A layer_norm node of x over ONNX axes [a, r) with Scale t0 and B t1
 * (NULL: none) broadcast to those axes; defines the ONNX node's output 0. */
static enum quanta_status emit_layer_norm(struct cv *cv, const struct cv_value *x, int a,
                                          float eps, const struct onnx_tensor *t0,
                                          const struct onnx_tensor *t1)
{
    const struct onnx_tensor *p[2] = {t0, t1};
    enum quanta_status st;
    const int r = x->shape.rank;
    /* the normalized axes in ONNX order and their extent */
    struct quanta_shape ns = {.rank = r - a};
    int64_t cols = 1;
    for (int d = a; d < r; d++)
        cols *= ns.dims[d - a] = x->shape.dims[d];
    char b1[128], b2[128];
    for (int k = 0; k < 2; k++) {
        const struct onnx_tensor *t = p[k];
        if (!t)
            continue;
        bool ok = t->shape.rank <= ns.rank;
        for (int d = 0; d < t->shape.rank && ok; d++) {
            int64_t e = t->shape.dims[t->shape.rank - 1 - d], n = ns.dims[ns.rank - 1 - d];
            ok = e == 1 || e == n;
        }
        if (!ok)
            return cv_fail(cv, "%s '%s' has shape %s, which does not broadcast to %s",
                           k ? "B" : "Scale", t->name, quanta_shape_format(&t->shape, b1, sizeof b1),
                           quanta_shape_format(&ns, b2, sizeof b2));
    }
    int perm[QUANTA_MAX_RANK], qx;
    if ((st = tail_layout(cv, x, a, perm, &qx)))
        return st;
    /* Scale and B broadcast, in the physical order of the tail */
    struct quanta_shape phys = cv_phys_shape(&x->shape, perm);
    struct quanta_shape ps = {.rank = r - a};
    for (int d = a; d < r; d++)
        ps.dims[d - a] = phys.dims[d];
    int ins[3], n_ins = 1;
    ins[0] = qx;
    for (int k = 0; k < 2; k++) {
        const struct onnx_tensor *t = p[k];
        if (!t)
            continue;
        float *v = malloc((size_t)cols * sizeof *v + 1);
        if (!v)
            return cv_nomem(cv);
        const float *src = t->data;
        for (int64_t j = 0; j < cols; j++) {
            /* physical index j -> ONNX index of each normalized axis -> t's index */
            int64_t rest = j, idx[QUANTA_MAX_RANK];
            for (int i = r - 1; i >= a; i--) {
                idx[perm[i]] = rest % phys.dims[i];
                rest /= phys.dims[i];
            }
            int64_t ti = 0;
            for (int d = 0; d < t->shape.rank; d++) {
                int onnx_axis = r - t->shape.rank + d;
                int64_t e = t->shape.dims[d];
                ti = ti * e + (e == 1 ? 0 : idx[onnx_axis]);
            }
            v[j] = src[ti];
        }
        char base[300];
        if (t->name && t->name[0])
            snprintf(base, sizeof base, "%s", t->name);
        else
            snprintf(base, sizeof base, "%s.%s", cv->node_name, k ? "bias" : "scale");
        ins[n_ins] = cv_const_value(cv, base, v, &ps);
        free(v);
        if (ins[n_ins++] < 0)
            return cv_nomem(cv);
    }
    struct cv_value out = *x;
    memcpy(out.perm, perm, sizeof perm);
    out.flat = false;
    int n;
    struct quanta_shape shape = cv->g->values[qx].shape; /* values may move as cv_emit adds */
    if ((st = cv_emit(cv, GRAPH_OP_LAYER_NORM, ins, n_ins, &shape, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.axis = a;
    cv->g->nodes[n].attrs.epsilon = eps;
    return cv_def_new(cv, &out);
}

/* ---- LayerNorm as exported before opset 17 -------------------------------
 *
 *   m = ReduceMean(X, axes)      d = Sub(X, m)        p = Pow(d, 2)
 *   v = ReduceMean(p, axes)      e = Add(v, eps)      s = Sqrt(e)
 *   n = Div(d, s)                y = Mul(n, W)        z = Add(y, B)
 *
 * with axes the trailing axes of X (keepdims), eps, W and B constants, and
 * every intermediate read by nothing else: one layer_norm node. */

/* The constant named name: a converted one, an initializer, or the value
 * of a Constant node still to come. NULL if none. */
static const struct onnx_tensor *fuse_const(struct cv *cv, const char *name)
{
    const struct onnx_graph *og = &cv->m->graph;
    struct cv_value *v = NULL;
    if (cv_lookup(cv, name, &v) == QUANTA_OK && v && v->kind == CV_CONST)
        return v->c;
    for (int i = 0; i < og->n_nodes; i++) {
        const struct onnx_node *n = &og->nodes[i];
        if (strcmp(n->op_type, "Constant") == 0 && n->n_outputs == 1 &&
            strcmp(n->outputs[0], name) == 0) {
            const struct onnx_attr *a = onnx_node_attr(n, "value");
            return a && a->t && n->n_attrs == 1 ? a->t : NULL;
        }
    }
    return NULL;
}

/* The one node after node `from` that reads name (and how many read it);
 * -1 when it is a graph output or read by more or fewer than want nodes.
 * readers[] gets their indices. */
static int fuse_readers(struct cv *cv, const char *name, int want, int *readers)
{
    const struct onnx_graph *og = &cv->m->graph;
    for (int i = 0; i < og->n_outputs; i++)
        if (strcmp(og->outputs[i].name, name) == 0)
            return -1;
    int n = 0;
    for (int i = 0; i < og->n_nodes; i++)
        for (int k = 0; k < og->nodes[i].n_inputs; k++)
            if (strcmp(og->nodes[i].inputs[k], name) == 0) {
                if (i <= cv->node_index || n == want)
                    return -1;
                readers[n++] = i;
                break;
            }
    return n == want ? 0 : -1;
}

/* The sole reader of node i's output 0, if it has op type op and reads it
 * as input `slot` (-1: either of two); its index or -1. */
static int fuse_next(struct cv *cv, int i, const char *op, int slot, int *other)
{
    const struct onnx_graph *og = &cv->m->graph;
    const struct onnx_node *n = &og->nodes[i];
    int r;
    if (n->n_outputs != 1 || fuse_readers(cv, n->outputs[0], 1, &r))
        return -1;
    const struct onnx_node *m = &og->nodes[r];
    if (strcmp(m->op_type, op) != 0 || m->n_inputs != 2 || m->n_attrs != 0 ||
        m->n_outputs != 1)
        return -1;
    int k = strcmp(m->inputs[0], n->outputs[0]) == 0 ? 0 : 1;
    if ((slot >= 0 && k != slot) || strcmp(m->inputs[k], n->outputs[0]) != 0)
        return -1;
    if (other)
        *other = 1 - k;
    return r;
}

/* The reduced axes of a ReduceMean node (attribute, or input 1 from opset
 * 18) if they are exactly the trailing axes [a, r) of a rank-r input with
 * keepdims; a, or -1. */
static int fuse_axes(struct cv *cv, const struct onnx_node *n, int r)
{
    int64_t axes[QUANTA_MAX_RANK];
    int na = 0;
    for (int k = 0; k < n->n_attrs; k++) {
        const struct onnx_attr *at = &n->attrs[k];
        if (strcmp(at->name, "axes") == 0 && at->n_ints <= QUANTA_MAX_RANK) {
            na = at->n_ints;
            for (int i = 0; i < na; i++)
                axes[i] = at->ints[i];
        } else if (strcmp(at->name, "keepdims") != 0 || at->i != 1) {
            return -1;
        }
    }
    if (n->n_inputs > 1 && n->inputs[1][0]) {
        const struct onnx_tensor *t = fuse_const(cv, n->inputs[1]);
        if (!t || na || t->dtype != QUANTA_I64 || t->numel > QUANTA_MAX_RANK)
            return -1;
        na = (int)t->numel;
        for (int i = 0; i < na; i++)
            axes[i] = cv_tensor_i(t, i);
    }
    if (na < 1)
        return -1;
    bool red[QUANTA_MAX_RANK] = {false};
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 1 || a >= r || red[a])
            return -1;
        red[a] = true;
    }
    int a = r - na;
    for (int i = a; i < r; i++)
        if (!red[i])
            return -1;
    return a;
}

/* A float constant holding one value (any shape of one element). */
static bool fuse_scalar(struct cv *cv, const char *name, double *out)
{
    const struct onnx_tensor *t = fuse_const(cv, name);
    if (!t || t->numel != 1 || t->dtype != QUANTA_F32)
        return false;
    *out = cv_tensor_f(t, 0);
    return true;
}

/* Fuses the pattern starting at the current ReduceMean node; *done false
 * (and nothing changed) when it does not match exactly. */
static enum quanta_status fuse_layer_norm(struct cv *cv, bool *done)
{
    const struct onnx_graph *og = &cv->m->graph;
    const struct onnx_node *m1 = cv->node;
    struct cv_value *x = NULL;
    *done = false;
    if (!cv->skip || m1->n_inputs < 1 || m1->n_outputs != 1 ||
        cv_lookup(cv, m1->inputs[0], &x) != QUANTA_OK || !x || x->kind != CV_ACT ||
        x->flat || cv->g->values[x->q].dtype != QUANTA_F32)
        return QUANTA_OK;
    const int r = x->shape.rank;
    int a = fuse_axes(cv, m1, r);
    if (a < 1)
        return QUANTA_OK;
    /* d = Sub(X, m): the Sub reads m as its second input and X as its first */
    int sub = fuse_next(cv, cv->node_index, "Sub", 1, NULL);
    if (sub < 0 || strcmp(og->nodes[sub].inputs[0], m1->inputs[0]) != 0)
        return QUANTA_OK;
    /* d is read by Pow (input 0) and Div (input 0), nothing else */
    int dr[2];
    if (fuse_readers(cv, og->nodes[sub].outputs[0], 2, dr))
        return QUANTA_OK;
    int pw = strcmp(og->nodes[dr[0]].op_type, "Pow") == 0 ? dr[0] : dr[1];
    int dv = pw == dr[0] ? dr[1] : dr[0];
    const struct onnx_node *npw = &og->nodes[pw], *ndv = &og->nodes[dv];
    double two, eps;
    if (strcmp(npw->op_type, "Pow") != 0 || strcmp(ndv->op_type, "Div") != 0 ||
        npw->n_inputs != 2 || ndv->n_inputs != 2 || npw->n_attrs || ndv->n_attrs ||
        strcmp(npw->inputs[0], og->nodes[sub].outputs[0]) != 0 ||
        strcmp(ndv->inputs[0], og->nodes[sub].outputs[0]) != 0 ||
        !fuse_scalar(cv, npw->inputs[1], &two) || two != 2.0)
        return QUANTA_OK;
    int m2 = -1, e, other, sq, mul, add;
    {
        int rr;
        if (npw->n_outputs != 1 || fuse_readers(cv, npw->outputs[0], 1, &rr) ||
            strcmp(og->nodes[rr].op_type, "ReduceMean") != 0 ||
            strcmp(og->nodes[rr].inputs[0], npw->outputs[0]) != 0 ||
            fuse_axes(cv, &og->nodes[rr], r) != a || og->nodes[rr].n_outputs != 1)
            return QUANTA_OK;
        m2 = rr;
    }
    if ((e = fuse_next(cv, m2, "Add", -1, &other)) < 0 ||
        !fuse_scalar(cv, og->nodes[e].inputs[other], &eps) || !(eps >= 0))
        return QUANTA_OK;
    {
        int rr;
        if (fuse_readers(cv, og->nodes[e].outputs[0], 1, &rr) ||
            strcmp(og->nodes[rr].op_type, "Sqrt") != 0 || og->nodes[rr].n_outputs != 1)
            return QUANTA_OK;
        sq = rr;
    }
    if (fuse_next(cv, sq, "Div", 1, NULL) != dv)
        return QUANTA_OK;
    if ((mul = fuse_next(cv, dv, "Mul", -1, &other)) < 0)
        return QUANTA_OK;
    const struct onnx_tensor *w = fuse_const(cv, og->nodes[mul].inputs[other]);
    if ((add = fuse_next(cv, mul, "Add", -1, &other)) < 0)
        return QUANTA_OK;
    const struct onnx_tensor *b = fuse_const(cv, og->nodes[add].inputs[other]);
    if (!w || !b || w->dtype != QUANTA_F32 || b->dtype != QUANTA_F32)
        return QUANTA_OK;
    /* W and B must broadcast to the normalized axes without growing X */
    const struct onnx_tensor *wb[2] = {w, b};
    for (int k = 0; k < 2; k++) {
        const struct onnx_tensor *t = wb[k];
        if (t->shape.rank > r - a)
            return QUANTA_OK;
        for (int d = 0; d < t->shape.rank; d++) {
            int64_t te = t->shape.dims[t->shape.rank - 1 - d], xe = x->shape.dims[r - 1 - d];
            if (te != 1 && te != xe)
                return QUANTA_OK;
        }
    }
    /* the fused node defines the last Add's output */
    const struct onnx_node *self = cv->node;
    cv->node = &og->nodes[add];
    enum quanta_status st = emit_layer_norm(cv, x, a, (float)eps, w, b);
    cv->node = self;
    if (st)
        return st;
    const int parts[] = {sub, pw, m2, e, sq, dv, mul, add};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        cv->skip[parts[i]] = true;
    *done = true;
    return QUANTA_OK;
}

/* ReduceMean: a LayerNorm decomposed before opset 17 when it starts one. */
enum quanta_status cv_op_reduce_mean(struct cv *cv)
{
    bool done;
    enum quanta_status st = fuse_layer_norm(cv, &done);
    if (st || done)
        return st;
    return cv_op_reduce(cv);
}

/* InstanceNormalization: x [N, C, ...] normalized over the spatial axes
 * per sample and channel; quanta keeps the channels on the last axis. */
enum quanta_status cv_op_instance_norm(struct cv *cv)
{
    static const char *const attrs[] = {"epsilon", NULL};
    static const char *const names[] = {"scale", "B"};
    struct cv_value *x;
    const struct onnx_tensor *p[2];
    float eps;
    enum quanta_status st;
    char buf[128];
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = cv_attr_float(cv, "epsilon", 1e-5f, &eps)))
        return st;
    const int r = x->shape.rank;
    if (r < 3 || x->flat)
        return cv_fail(cv, "input '%s' has shape %s; [N, C, D1, ...] is needed", x->name,
                       quanta_shape_format(&x->shape, buf, sizeof buf));
    int64_t c = x->shape.dims[1];
    int ins[3];
    if ((st = channel_params(cv, names, 2, c, p)))
        return st;
    for (int i = 0; i < 2; i++) {
        ins[i + 1] = cv_const_value(cv, cv->node->inputs[i + 1], p[i]->data,
                                    &(struct quanta_shape){.rank = 1, .dims = {c}});
        if (ins[i + 1] < 0)
            return cv_nomem(cv);
    }
    /* the channels last: x's own layout when it has them there, else
     * [N, D1, ..., C] */
    int perm[QUANTA_MAX_RANK];
    if (x->perm[r - 1] == 1) {
        memcpy(perm, x->perm, sizeof perm);
    } else {
        perm[0] = 0;
        for (int i = 1; i < r - 1; i++)
            perm[i] = i + 1;
        perm[r - 1] = 1;
    }
    if ((st = cv_materialize(cv, x, perm, &ins[0])))
        return st;
    struct cv_value out = *x;
    memcpy(out.perm, perm, sizeof perm);
    int n;
    struct quanta_shape shape = cv->g->values[ins[0]].shape; /* values may move as cv_emit adds */
    if ((st = cv_emit(cv, GRAPH_OP_INSTANCE_NORM, ins, 3, &shape, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.epsilon = eps;
    return cv_def_new(cv, &out);
}

/* Softmax and LogSoftmax; the reductions ReduceSum, ReduceMax, ReduceMin,
 * ReduceL2, ArgMax, ArgMin and ReduceMean (its LayerNorm form is in
 * onnx_norm.c); Gather then a reduction over the bag axis as
 * embedding_bag. */
#include "import/onnx_ops.h"

#include <string.h>

enum quanta_status cv_op_softmax(struct cv *cv)
{
    static const char *const attrs[] = {"axis", NULL};
    struct cv_value *x;
    int64_t axis;
    enum quanta_status st;
    bool old = cv->m->opset < 13;
    struct cv_value xm;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = cv_attr_int(cv, "axis", old ? 1 : -1, &axis)))
        return st;
    xm = *x;
    if ((st = cv_merge_groups(cv, &xm)))
        return st;
    x = &xm;
    int r = cv_onnx_rank(x);
    if (axis < 0)
        axis += r;
    if (axis < 0 || axis >= r)
        return cv_fail(cv, "attribute 'axis' is out of range for rank %d", r);
    if (x->n_onnx) {
        if (old || x->group[axis] > 1)
            return cv_fail(cv, "softmax over an axis merged with the batch is not supported");
        axis = cv_first_axis(x, (int)axis);
        r = x->shape.rank;
    }
    if (old) {
        /* before opset 13: softmax over all axes from axis on, as one */
        int varying = -1, count = 0;
        for (int a = (int)axis; a < r; a++)
            if (x->shape.dims[a] != 1) {
                varying = a;
                count++;
            }
        if (count > 1)
            return cv_fail(cv, "softmax over axes %lld.. of a tensor with several of them > 1 "
                               "is not supported",
                           (long long)axis);
        if (varying >= 0)
            axis = varying;
    }
    if (x->shape.dims[axis] < 0)
        return cv_fail(cv, "softmax over the batch axis is not supported");
    int qx = x->q;
    if (!x->flat && (st = cv_materialize(cv, x, x->perm, &qx)))
        return st;
    struct cv_value out = *x;
    struct quanta_shape s = cv->g->values[qx].shape;
    int n;
    enum graph_op op = cv_op_is(cv, "LogSoftmax") ? GRAPH_OP_LOG_SOFTMAX : GRAPH_OP_SOFTMAX;
    if ((st = cv_emit(cv, op, &qx, 1, &s, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.axis = x->flat ? 1 : cv_phys_axis(x->perm, r, (int)axis);
    return cv_def_new(cv, &out);
}

/* Gather(table, ids [N, T]) then ReduceSum/Mean/Max over axis 1 (the
 * averaged-embedding classifier): the embedding node becomes one
 * embedding_bag when this reduction is its only reader. */
static enum quanta_status fuse_bag(struct cv *cv, const struct cv_value *x, enum graph_op op,
                                   const bool *red, bool *done)
{
    *done = false;
    if ((op != GRAPH_OP_MEAN && op != GRAPH_OP_REDUCE_SUM && op != GRAPH_OP_REDUCE_MAX) ||
        x->shape.rank != 3 || x->flat || !red[1] || red[2])
        return QUANTA_OK;
    int p = cv_producer(cv, x->q);
    if (p < 0 || cv->g->nodes[p].op != GRAPH_OP_EMBEDDING || !cv_sole_reader(cv, x->q))
        return QUANTA_OK;
    enum quanta_status st = cv_retag_node(cv, p, GRAPH_OP_EMBEDDING_BAG);
    if (st)
        return st;
    struct graph_node *nd = &cv->g->nodes[p];
    nd->attrs.mode = op == GRAPH_OP_MEAN ? GRAPH_MODE_MEAN
                     : op == GRAPH_OP_REDUCE_SUM ? GRAPH_MODE_SUM
                                                 : GRAPH_MODE_MAX;
    struct cv_value out = *x;
    out.shape.rank = 2;
    out.shape.dims[1] = x->shape.dims[2];
    cv_perm_identity(2, out.perm);
    cv->g->values[x->q].shape = out.shape;
    *done = true;
    return cv_def_new(cv, &out);
}

/* ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceL2 (axes as an input
 * from opset 13 for ReduceSum, 18 for the others); ArgMax, ArgMin (one
 * axis, select_last_index). */
enum quanta_status cv_op_reduce(struct cv *cv)
{
    static const char *const attrs[] = {"axes", "keepdims", "noop_with_empty_axes", NULL};
    static const char *const arg_attrs[] = {"axis", "keepdims", "select_last_index", NULL};
    static const struct {
        const char *name;
        enum graph_op op;
    } ops[] = {{"ReduceMean", GRAPH_OP_MEAN},     {"ReduceSum", GRAPH_OP_REDUCE_SUM},
               {"ReduceMax", GRAPH_OP_REDUCE_MAX}, {"ReduceMin", GRAPH_OP_REDUCE_MIN},
               {"ReduceL2", GRAPH_OP_REDUCE_L2}, {"ArgMax", GRAPH_OP_ARGMAX},
               {"ArgMin", GRAPH_OP_ARGMIN}};
    enum graph_op op = GRAPH_OP_MEAN;
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (cv_op_is(cv, ops[i].name))
            op = ops[i].op;
    struct cv_value *x;
    int64_t axes[QUANTA_MAX_RANK], keepdims, noop = 0, last = 0;
    int n = 1;
    enum quanta_status st;
    bool done = false;
    bool arg = op == GRAPH_OP_ARGMAX || op == GRAPH_OP_ARGMIN;
    if ((st = cv_check_attrs(cv, arg ? arg_attrs : attrs)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = cv_attr_int(cv, "keepdims", 1, &keepdims)))
        return st;
    if (arg ? (st = cv_attr_int(cv, "axis", 0, &axes[0])) ||
                  (st = cv_attr_int(cv, "select_last_index", 0, &last))
            : (st = cv_get_axes(cv, op == GRAPH_OP_REDUCE_SUM ? 13 : 18, axes, &n)) ||
                  (st = cv_attr_int(cv, "noop_with_empty_axes", 0, &noop)))
        return st;
    int r = x->shape.rank;
    if (n <= 0 && noop)
        return cv_def_new(cv, x);
    bool red[QUANTA_MAX_RANK] = {false};
    for (int i = 0; i < (n <= 0 ? r : n); i++) {
        int64_t a = n <= 0 ? i : axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r || red[a])
            return cv_fail(cv, "axis %lld is out of range or repeated", (long long)axes[i]);
        red[a] = true;
    }
    if (red[0] && x->shape.dims[0] < 1)
        return cv_fail(cv, "reduces over the batch axis, whose size is any; give the input's "
                           "shape (--input-shape) to fix it");
    if (x->flat && !red[1])
        return cv_fail(cv, "input '%s' is a flattened NCHW tensor", x->name);
    struct cv_value plain;
    if (arg && x->flat) { /* an index counts columns in ONNX order, not physical order */
        int ident[QUANTA_MAX_RANK];
        cv_perm_identity(r, ident);
        plain = *x;
        plain.flat = false;
        cv_perm_identity(r, plain.perm);
        if ((st = cv_materialize(cv, x, ident, &plain.q)))
            return st;
        x = &plain;
    }
    if (!keepdims && (st = fuse_bag(cv, x, op, red, &done)))
        return st;
    if (done)
        return QUANTA_OK;
    int qx = x->q;
    if (!x->flat && (st = cv_materialize(cv, x, x->perm, &qx)))
        return st;
    struct cv_value out = *x;
    out.flat = false;
    struct quanta_shape phys = cv->g->values[qx].shape, qs = {.rank = 0};
    int qaxes[QUANTA_MAX_RANK], nq = 0;
    for (int i = 0; i < r; i++) {
        int a = x->flat ? i : x->perm[i];
        if (red[a]) {
            qaxes[nq++] = i;
            if (keepdims)
                qs.dims[qs.rank++] = 1;
        } else {
            qs.dims[qs.rank++] = phys.dims[i];
        }
    }
    if (keepdims) {
        for (int a = 0; a < r; a++)
            if (red[a])
                out.shape.dims[a] = 1;
        if (x->flat)
            cv_perm_identity(2, out.perm);
    } else {
        if (x->flat)
            cv_perm_identity(2, out.perm);
        struct cv_value tmp = out;
        cv_drop_axes(&tmp, red, &out);
    }
    int node;
    if ((st = cv_emit(cv, op, &qx, 1, &qs, &out.q, &node)))
        return st;
    struct graph_attrs *a = &cv->g->nodes[node].attrs;
    a->n_axes = nq;
    memcpy(a->axes, qaxes, sizeof qaxes);
    a->keepdims = keepdims != 0;
    a->select_last = last != 0;
    return cv_def_new(cv, &out);
}

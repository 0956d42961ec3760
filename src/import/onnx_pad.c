/* Pad (constant, reflect, edge), folded into the Conv or MaxPool that
 * reads it when that pads by itself. */
#include "import/onnx_ops.h"

#include <math.h>
#include <string.h>

/* The one ONNX node reading the node's output 0 when it is a Conv or a
 * MaxPool that reads it as its input and pads by attribute (no auto_pad),
 * else NULL. */
static const struct onnx_node *sole_window_reader(struct cv *cv)
{
    const struct onnx_graph *og = &cv->m->graph;
    const char *name = cv->node->outputs[0];
    const struct onnx_node *reader = NULL;
    int reads = 0;
    for (int i = 0; i < og->n_outputs; i++)
        if (strcmp(og->outputs[i].name, name) == 0)
            return NULL;
    for (int i = 0; i < og->n_nodes; i++)
        for (int k = 0; k < og->nodes[i].n_inputs; k++)
            if (strcmp(og->nodes[i].inputs[k], name) == 0) {
                reads++;
                reader = k == 0 ? &og->nodes[i] : NULL;
            }
    if (reads != 1 || !reader || reader->domain[0] ||
        (strcmp(reader->op_type, "Conv") != 0 && strcmp(reader->op_type, "MaxPool") != 0))
        return NULL;
    const struct onnx_attr *a = onnx_node_attr(reader, "auto_pad");
    if (a && a->s && strcmp(a->s, "NOTSET") != 0)
        return NULL;
    return reader;
}

/* Whether the one ONNX node reading the node's output 0 pads it itself
 * when the padding (top, left, bottom, right) is zeros: a Conv reading it
 * as its input with pads by attribute (no auto_pad); or, when the value is
 * never negative (relu before), a MaxPool likewise without ceil_mode whose
 * pads then stay smaller than its kernel (zeros never beat its maximum,
 * and every window keeps an input cell). */
static bool pads_itself(struct cv *cv, const int64_t *pads)
{
    const struct onnx_node *n = sole_window_reader(cv);
    if (!n || strcmp(n->op_type, "Conv") == 0)
        return n != NULL;
    if (strcmp(n->op_type, "MaxPool") != 0 || !cv_input_nonnegative(cv))
        return false;
    const struct onnx_attr *k = onnx_node_attr(n, "kernel_shape");
    const struct onnx_attr *p = onnx_node_attr(n, "pads");
    const struct onnx_attr *c = onnx_node_attr(n, "ceil_mode");
    if (!k || k->n_ints != 2 || (p && p->n_ints != 4) || (c && c->i))
        return false;
    for (int i = 0; i < 4; i++)
        if ((p ? p->ints[i] : 0) + pads[i] >= k->ints[i % 2])
            return false;
    return true;
}

/* Pad: modes constant, reflect and edge of any rank; pads (and before
 * opset 11 value) as attributes, from 11 constant inputs pads,
 * constant_value and (18) axes. A negative pad removes elements. Zero
 * constant padding of H and W before a Conv (or a MaxPool of a value
 * never negative) becomes its padding. */
enum quanta_status cv_op_pad(struct cv *cv)
{
    static const char *const attrs_old[] = {"mode", "pads", "value", NULL};
    static const char *const attrs[] = {"mode", NULL};
    struct cv_value *x;
    const char *mode;
    enum quanta_status st;
    char buf[128];
    if ((st = cv_check_attrs(cv, cv->m->opset < 11 ? attrs_old : attrs)) ||
        (st = cv_need_act(cv, 0, &x)) || (st = cv_attr_string(cv, "mode", "constant", &mode)))
        return st;
    int gmode = strcmp(mode, "constant") == 0  ? GRAPH_MODE_CONSTANT
                : strcmp(mode, "reflect") == 0 ? GRAPH_MODE_REFLECT
                : strcmp(mode, "edge") == 0    ? GRAPH_MODE_EDGE
                                               : -1;
    if (gmode < 0)
        return cv_fail(cv, "attribute 'mode' '%s' is not supported (constant, reflect, edge)",
                       mode);
    const int r = x->shape.rank;
    int64_t pads[2 * QUANTA_MAX_RANK], axes[QUANTA_MAX_RANK];
    int np, na = -1;
    float value = 0.0f;
    if (cv->m->opset < 11) {
        const int64_t *p;
        if ((st = cv_attr_ints(cv, "pads", &p, &np)) || (st = cv_attr_float(cv, "value", 0.0f, &value)))
            return st;
        if (np < 0)
            return cv_fail(cv, "attribute 'pads' is required");
        for (int i = 0; i < np && i < 2 * QUANTA_MAX_RANK; i++)
            pads[i] = p[i];
    } else {
        const struct onnx_tensor *t;
        struct cv_value *cvv, *av;
        if ((st = cv_need_const(cv, 1, "pads", &t)))
            return st;
        np = t->numel > 2 * QUANTA_MAX_RANK ? 2 * QUANTA_MAX_RANK + 1 : (int)t->numel;
        for (int i = 0; i < np && i < 2 * QUANTA_MAX_RANK; i++)
            pads[i] = cv_tensor_i(t, i);
        if ((st = cv_input(cv, 2, &cvv)))
            return st;
        if (cvv) {
            const struct onnx_tensor *c;
            if ((st = cv_need_const(cv, 2, "constant_value", &c)))
                return st;
            if (c->numel != 1)
                return cv_fail(cv, "constant_value '%s' must hold one value", c->name);
            value = (float)cv_tensor_f(c, 0);
        }
        if ((st = cv_input(cv, 3, &av)))
            return st;
        if (av) {
            const struct onnx_tensor *c;
            if ((st = cv_need_const(cv, 3, "axes", &c)))
                return st;
            if (c->numel > r)
                return cv_fail(cv, "input 'axes' has %lld entries for rank %d",
                               (long long)c->numel, r);
            na = (int)c->numel;
            for (int i = 0; i < na; i++)
                axes[i] = cv_tensor_i(c, i);
        }
    }
    if (na < 0) {
        na = r;
        for (int i = 0; i < r; i++)
            axes[i] = i;
    }
    if (np != 2 * na)
        return cv_fail(cv, "pads has %d entries but input '%s' %s needs %d", np, x->name,
                       quanta_shape_format(&x->shape, buf, sizeof buf), 2 * na);
    if (!isfinite(value))
        return cv_fail(cv, "constant value %g is not a finite number", (double)value);
    int64_t begin[QUANTA_MAX_RANK] = {0}, end[QUANTA_MAX_RANK] = {0};
    bool seen[QUANTA_MAX_RANK] = {false}, zero = true;
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r || seen[a])
            return cv_fail(cv, "axis %lld is not valid for rank %d", (long long)axes[i], r);
        seen[a] = true;
        begin[a] = pads[i];
        end[a] = pads[i + na];
        zero = zero && !begin[a] && !end[a];
        int64_t in = x->shape.dims[a];
        if (in < 0 && (begin[a] || end[a]))
            return cv_fail(cv, "pads the batch axis, whose size is any");
        if (in >= 0 && (begin[a] < -in || end[a] < -in || begin[a] > INT32_MAX ||
                        end[a] > INT32_MAX || in + (begin[a] < 0 ? begin[a] : 0) +
                                                      (end[a] < 0 ? end[a] : 0) < 1))
            return cv_fail(cv, "pads %lld and %lld of axis %lld leave no element of '%s' %s",
                           (long long)begin[a], (long long)end[a], (long long)a, x->name,
                           quanta_shape_format(&x->shape, buf, sizeof buf));
    }
    if (zero)
        return cv_def_new(cv, x);
    struct cv_value plain;
    if ((st = cv_unflat(cv, &x, &plain)))
        return st;
    /* zero padding of H and W of a Conv's (MaxPool's) input: it pads */
    bool spatial = r == 4 && gmode == GRAPH_MODE_CONSTANT && value == 0.0f && !x->fold_pad;
    for (int d = 0; spatial && d < r; d++)
        spatial = (d >= 2 ? begin[d] >= 0 && end[d] >= 0 && begin[d] <= CV_MAX_WINDOW &&
                                end[d] <= CV_MAX_WINDOW
                          : !begin[d] && !end[d]);
    const int64_t hw_pads[4] = {begin[2], begin[3], end[2], end[3]};
    if (spatial && pads_itself(cv, hw_pads)) {
        if ((st = cv_def_new(cv, x)))
            return st;
        struct cv_value *v = &cv->vals[cv->n_vals - 1];
        v->fold_pad = true;
        for (int i = 0; i < 2; i++) {
            v->fold_pads[i] = (int)begin[2 + i];
            v->fold_pads[i + 2] = (int)end[2 + i];
        }
        return QUANTA_OK;
    }
    int qx;
    if ((st = cv_materialize(cv, x, x->perm, &qx)))
        return st;
    struct cv_value out = *x;
    for (int d = 0; d < r; d++)
        if (out.shape.dims[d] >= 0)
            out.shape.dims[d] += begin[d] + end[d];
    struct quanta_shape phys = cv_phys_shape(&out.shape, x->perm);
    int node;
    if ((st = cv_emit(cv, GRAPH_OP_PAD, &qx, 1, &phys, &out.q, &node)))
        return st;
    struct graph_attrs *ga = &cv->g->nodes[node].attrs;
    ga->mode = gmode;
    ga->value = value;
    ga->n_pads_begin = ga->n_pads_end = r;
    for (int i = 0; i < r; i++) {
        ga->pads_begin[i] = begin[x->perm[i]];
        ga->pads_end[i] = end[x->perm[i]];
    }
    return cv_def_new(cv, &out);
}

/* Operators that take parts of a tensor: Slice, Gather (of an activation,
 * or an embedding) and Split. */
#include "import/onnx_ops.h"

#include <stdio.h>
#include <stdlib.h>

/* Entries of a Slice parameter: input k (from opset 10; an INT64 or INT32
 * constant) or attribute name (before). *n = -1 when absent. */
static enum quanta_status slice_param(struct cv *cv, int k, const char *name, int64_t *v,
                                      int *n)
{
    enum quanta_status st;
    *n = -1;
    if (cv->m->opset < 10) {
        const int64_t *a;
        if ((st = cv_attr_ints(cv, name, &a, n)))
            return st;
        if (*n > QUANTA_MAX_RANK)
            return cv_fail(cv, "attribute '%s' has %d entries", name, *n);
        for (int i = 0; i < *n; i++)
            v[i] = a[i];
        return QUANTA_OK;
    }
    struct cv_value *in;
    if ((st = cv_input(cv, k, &in)) || !in)
        return st;
    if (in->kind != CV_CONST || (in->c->dtype != QUANTA_I64 && in->c->dtype != QUANTA_I32) ||
        in->c->numel > QUANTA_MAX_RANK)
        return cv_fail(cv, "input '%s' must be an integer constant of at most %d entries", name,
                       QUANTA_MAX_RANK);
    *n = (int)in->c->numel;
    for (int i = 0; i < *n; i++)
        v[i] = cv_tensor_i(in->c, i);
    return QUANTA_OK;
}

/* A slice node taking, per ONNX axis of x, start s0 and step st1 with the
 * count in out->shape; sets out->q. */
static enum quanta_status emit_slice(struct cv *cv, const struct cv_value *x, const int64_t *s0,
                                     const int64_t *st1, struct cv_value *out)
{
    int qx, node, r = x->shape.rank;
    enum quanta_status st;
    if ((st = cv_materialize(cv, x, x->perm, &qx)))
        return st;
    struct quanta_shape phys = cv_phys_shape(&out->shape, x->perm);
    if ((st = cv_emit(cv, GRAPH_OP_SLICE, &qx, 1, &phys, &out->q, &node)))
        return st;
    struct graph_attrs *ga = &cv->g->nodes[node].attrs;
    ga->shape = phys;
    ga->n_starts = ga->n_steps = r;
    for (int i = 0; i < r; i++) {
        ga->starts[i] = s0[x->perm[i]];
        ga->steps[i] = st1[x->perm[i]];
    }
    return QUANTA_OK;
}

/* Slice of an activation: per ONNX axis a start, a step and a count
 * (ONNX's clamping of starts and ends), laid out like the input. */
enum quanta_status cv_op_slice(struct cv *cv)
{
    static const char *const attrs_old[] = {"starts", "ends", "axes", NULL};
    struct cv_value *x;
    int64_t starts[QUANTA_MAX_RANK], ends[QUANTA_MAX_RANK], axes[QUANTA_MAX_RANK];
    int64_t steps[QUANTA_MAX_RANK];
    int ns, ne, na, nt;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, cv->m->opset < 10 ? attrs_old : NULL)) ||
        (st = cv_need_act(cv, 0, &x)) || (st = slice_param(cv, 1, "starts", starts, &ns)) ||
        (st = slice_param(cv, 2, "ends", ends, &ne)) ||
        (st = slice_param(cv, 3, "axes", axes, &na)) ||
        (st = slice_param(cv, 4, "steps", steps, &nt)))
        return st;
    struct cv_value xm = *x;
    if ((st = cv_merge_groups(cv, &xm)))
        return st;
    x = &xm;
    const int r = cv_onnx_rank(x);
    if (ns < 0 || ns != ne || (na >= 0 && na != ns) || (nt >= 0 && nt != ns))
        return cv_fail(cv, "starts, ends, axes and steps must have one length");
    struct cv_value plain;
    if ((st = cv_unflat(cv, &x, &plain)))
        return st;
    int64_t s0[QUANTA_MAX_RANK], st1[QUANTA_MAX_RANK];
    struct cv_value out = *x;
    bool seen[QUANTA_MAX_RANK] = {false};
    for (int d = 0; d < x->shape.rank; d++) {
        s0[d] = 0;
        st1[d] = 1;
    }
    for (int i = 0; i < ns; i++) {
        int64_t a = na >= 0 ? axes[i] : i, step = nt >= 0 ? steps[i] : 1;
        if (a < 0)
            a += r;
        if (a < 0 || a >= r || seen[a] || step == 0)
            return cv_fail(cv, "axis %lld or step %lld is not valid", (long long)a,
                           (long long)step);
        seen[a] = true;
        if (x->n_onnx) {
            if (x->group[a] > 1)
                return cv_fail(cv, "slices an axis merged with the batch, which is not "
                                   "supported");
            a = cv_first_axis(x, (int)a);
        }
        int64_t dim = x->shape.dims[a], b = starts[i], e = ends[i], count;
        if (dim < 0) {
            if (b == 0 && step == 1 && e >= INT32_MAX)
                continue; /* the whole batch */
            return cv_fail(cv, "slices the batch axis, which is not supported");
        }
        if (b < 0)
            b += dim;
        if (e < 0)
            e += dim;
        if (step > 0) {
            b = b < 0 ? 0 : b > dim ? dim : b;
            e = e < 0 ? 0 : e > dim ? dim : e;
            count = e > b ? (e - b + step - 1) / step : 0;
        } else {
            b = b < 0 ? -1 : b > dim - 1 ? dim - 1 : b;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            count = b > e ? (b - e - step - 1) / -step : 0;
        }
        if (count < 1)
            return cv_fail(cv, "the slice of axis %lld is empty", (long long)a);
        s0[a] = b;
        st1[a] = step;
        out.shape.dims[a] = count;
    }
    if ((st = emit_slice(cv, x, s0, st1, &out)))
        return st;
    return cv_def_new(cv, &out);
}

/* One slice of a gather's runs (below) into its own value, out.q. */
static enum quanta_status emit_run_slice(struct cv *cv, int qx, const struct cv_value *x,
                                         int axis, int64_t start, int64_t step, int k,
                                         struct cv_value *out)
{
    char name[300], suffix[32];
    snprintf(name, sizeof name, "%s.run%d", cv->node->outputs[0], k);
    snprintf(suffix, sizeof suffix, "run%d", k);
    struct quanta_shape phys = cv_phys_shape(&out->shape, x->perm);
    int q = cv_new_value(cv, name, &phys);
    int node = q < 0 ? -1 : cv_add_node(cv, GRAPH_OP_SLICE, suffix, &qx, 1, q);
    if (node < 0)
        return cv_nomem(cv);
    struct graph_attrs *ga = &cv->g->nodes[node].attrs;
    ga->shape = phys;
    ga->n_starts = ga->n_steps = x->shape.rank;
    for (int i = 0; i < x->shape.rank; i++) {
        ga->starts[i] = x->perm[i] == axis ? start : 0;
        ga->steps[i] = x->perm[i] == axis ? step : 1;
    }
    out->q = q;
    return QUANTA_OK;
}

/* Gather from an activation along a non-batch axis with constant indices:
 * a scalar index is a slice of one and the axis dropped (x[:, 0]); a 1-D
 * list of evenly spaced indices is a slice with that step; any other list
 * is cut into runs of evenly spaced indices, a slice each, concatenated
 * (DLRM's interaction takes the upper triangle of a flattened [F, F] matrix
 * of dot products with index_select: indices 1, 2, 3, 6, 7, 11 for F = 4). */
static enum quanta_status gather_activation(struct cv *cv, struct cv_value *x, int64_t axis)
{
    const struct onnx_tensor *t;
    enum quanta_status st;
    if ((st = cv_need_const(cv, 1, "indices", &t)))
        return st;
    const int r = x->shape.rank;
    if (axis < -r || axis >= r)
        return cv_fail(cv, "attribute 'axis' %lld is out of range for rank %d", (long long)axis,
                       r);
    if (axis < 0)
        axis += r;
    if (axis == 0)
        return cv_fail(cv, "gathers along the batch axis, which is not supported");
    struct cv_value plain;
    if ((st = cv_unflat(cv, &x, &plain)))
        return st;
    if (t->dtype != QUANTA_I64 || t->shape.rank > 1 || t->numel < 1)
        return cv_fail(cv, "indices '%s' must be an integer scalar or a non-empty list", t->name);
    const int64_t dim = x->shape.dims[axis];
    /* runs[k]: first index, step and count of the k-th run */
    int64_t (*runs)[3] = malloc((size_t)t->numel * sizeof *runs);
    if (!runs)
        return cv_nomem(cv);
    int n_runs = 0;
    for (int64_t k = 0; k < t->numel; k++) {
        int64_t i = cv_tensor_i(t, k);
        if (i < -dim || i >= dim) {
            free(runs);
            return cv_fail(cv, "index %lld is out of range for axis size %lld", (long long)i,
                           (long long)dim);
        }
        i = i < 0 ? i + dim : i;
        int64_t *run = n_runs ? runs[n_runs - 1] : NULL;
        if (run && run[2] == 1 && i != run[0]) {
            run[1] = i - run[0];
            run[2] = 2;
        } else if (run && run[2] > 1 && i == run[0] + run[2] * run[1]) {
            run[2]++;
        } else {
            runs[n_runs][0] = i;
            runs[n_runs][1] = 1;
            runs[n_runs][2] = 1;
            n_runs++;
        }
    }
    struct cv_value out = *x;
    out.shape.dims[axis] = t->numel;
    if (n_runs == 1) {
        int64_t s0[QUANTA_MAX_RANK], st1[QUANTA_MAX_RANK];
        for (int d = 0; d < r; d++) {
            s0[d] = 0;
            st1[d] = 1;
        }
        s0[axis] = runs[0][0];
        st1[axis] = runs[0][1];
        free(runs);
        if ((st = emit_slice(cv, x, s0, st1, &out)))
            return st;
        if (t->shape.rank == 0) {
            bool drop[QUANTA_MAX_RANK] = {false};
            drop[axis] = true;
            struct cv_value sliced = out;
            cv_drop_axes(&sliced, drop, &out);
        }
        return cv_def_new(cv, &out);
    }
    int qx, *ins = malloc((size_t)n_runs * sizeof *ins);
    if (!ins || (st = cv_materialize(cv, x, x->perm, &qx))) {
        free(runs);
        free(ins);
        return ins ? st : cv_nomem(cv);
    }
    for (int k = 0; k < n_runs && !st; k++) {
        struct cv_value part = *x;
        part.shape.dims[axis] = runs[k][2];
        st = emit_run_slice(cv, qx, x, (int)axis, runs[k][0], runs[k][1], k, &part);
        ins[k] = part.q;
    }
    int node;
    struct quanta_shape phys = cv_phys_shape(&out.shape, x->perm);
    if (!st && !(st = cv_emit(cv, GRAPH_OP_CONCAT, ins, n_runs, &phys, &out.q, &node)))
        cv->g->nodes[node].attrs.axis = cv_phys_axis(x->perm, r, (int)axis);
    free(runs);
    free(ins);
    return st ? st : cv_def_new(cv, &out);
}

enum quanta_status cv_op_gather(struct cv *cv)
{
    static const char *const attrs[] = {"axis", NULL};
    struct cv_value *data, *ids;
    int64_t axis;
    enum quanta_status st;
    char buf[128];
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need(cv, 0, &data)) ||
        (st = cv_attr_int(cv, "axis", 0, &axis)))
        return st;
    if (data->kind == CV_ACT)
        return gather_activation(cv, data, axis);
    if ((st = cv_need_act(cv, 1, &ids)))
        return st;
    const struct onnx_tensor *t = data->c;
    if ((st = cv_need_f32(cv, t, "table")))
        return st;
    if (axis != 0 || t->shape.rank != 2)
        return cv_fail(cv, "only axis 0 of a [V, D] table is supported (embedding)");
    enum quanta_dtype idt = cv->g->values[ids->q].dtype;
    if (ids->shape.rank != 2 || (idt != QUANTA_I64 && idt != QUANTA_I32) || ids->flat)
        return cv_fail(cv, "indices '%s' %s must be an integer input [N, T]", ids->name,
                       quanta_shape_format(&ids->shape, buf, sizeof buf));
    int qt = cv_const_value(cv, cv->node->inputs[0], t->data, &t->shape);
    if (qt < 0)
        return cv_nomem(cv);
    struct cv_value out = *ids;
    out.shape.rank = 3;
    out.shape.dims[2] = t->shape.dims[1];
    cv_perm_identity(3, out.perm);
    int ins[2] = {ids->q, qt};
    if ((st = cv_emit(cv, GRAPH_OP_EMBEDDING, ins, 2, &out.shape, &out.q, NULL)))
        return st;
    return cv_def_new(cv, &out);
}

/* Split along one axis (not the batch) into slices: the sizes from the
 * split attribute (before opset 13) or constant input, else equal parts
 * (num_outputs from opset 18: the last part may be smaller). */
enum quanta_status cv_op_split(struct cv *cv)
{
    static const char *const attrs_old[] = {"axis", "split", NULL};
    static const char *const attrs[] = {"axis", NULL};
    static const char *const attrs18[] = {"axis", "num_outputs", NULL};
    struct cv_value *x;
    int64_t axis, sizes[64];
    enum quanta_status st;
    const int64_t opset = cv->m->opset;
    const int n_out = cv->node->n_outputs;
    char buf[128];
    if ((st = cv_check_attrs(cv, opset < 13 ? attrs_old : opset < 18 ? attrs : attrs18)) ||
        (st = cv_need_act(cv, 0, &x)) || (st = cv_attr_int(cv, "axis", 0, &axis)))
        return st;
    const int r = x->shape.rank;
    if (axis < 0)
        axis += r;
    if (axis < 0 || axis >= r)
        return cv_fail(cv, "attribute 'axis' is not an axis of '%s' %s", x->name,
                       quanta_shape_format(&x->shape, buf, sizeof buf));
    const int64_t dim = x->shape.dims[axis];
    if (dim < 0)
        return cv_fail(cv, "splits the batch axis of '%s' %s, whose size is any", x->name,
                       quanta_shape_format(&x->shape, buf, sizeof buf));
    if (n_out < 1 || n_out > 64)
        return cv_fail(cv, "has %d outputs; 1 to 64 are supported", n_out);
    int n = -1;
    if (opset < 13) {
        const int64_t *v;
        if ((st = cv_attr_ints(cv, "split", &v, &n)))
            return st;
        for (int i = 0; i < n && i < 64; i++)
            sizes[i] = v[i];
    } else {
        struct cv_value *sv;
        if ((st = cv_input(cv, 1, &sv)))
            return st;
        if (sv) {
            const struct onnx_tensor *t;
            if ((st = cv_need_const(cv, 1, "split", &t)))
                return st;
            n = t->numel > 64 ? 65 : (int)t->numel;
            for (int i = 0; i < n && i < 64; i++)
                sizes[i] = cv_tensor_i(t, i);
        }
    }
    if (n < 0) {
        int64_t parts = n_out;
        if (opset >= 18 && (st = cv_attr_int(cv, "num_outputs", n_out, &parts)))
            return st;
        if (parts != n_out)
            return cv_fail(cv, "attribute 'num_outputs' %lld differs from the %d outputs",
                           (long long)parts, n_out);
        int64_t each = opset >= 18 ? (dim + n_out - 1) / n_out : dim / n_out;
        if (opset < 18 && dim % n_out != 0)
            return cv_fail(cv, "axis %lld of '%s' (%lld) does not split into %d equal parts",
                           (long long)axis, x->name, (long long)dim, n_out);
        n = n_out;
        for (int i = 0; i < n; i++)
            sizes[i] = i < n - 1 ? each : dim - each * (n - 1);
    }
    int64_t total = 0;
    if (n != n_out)
        return cv_fail(cv, "split has %d entries for %d outputs", n, n_out);
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 1)
            return cv_fail(cv, "output %d would have %lld elements along axis %lld; quanta "
                               "needs at least one",
                           i, (long long)sizes[i], (long long)axis);
        total += sizes[i];
    }
    if (total != dim)
        return cv_fail(cv, "split sizes add up to %lld but axis %lld of '%s' has %lld",
                       (long long)total, (long long)axis, x->name, (long long)dim);
    if (n == 1)
        return cv_def_new(cv, x);
    struct cv_value plain;
    if ((st = cv_unflat(cv, &x, &plain)))
        return st;
    int qx;
    if ((st = cv_materialize(cv, x, x->perm, &qx)))
        return st;
    int64_t start = 0;
    for (int k = 0; k < n; k++) {
        const char *name = cv->node->outputs[k];
        int64_t s0 = start;
        start += sizes[k];
        if (!name[0])
            continue;
        struct cv_value out = *x;
        out.shape.dims[axis] = sizes[k];
        struct quanta_shape phys = cv_phys_shape(&out.shape, x->perm);
        int q = cv_new_value(cv, name, &phys);
        int node = q < 0 ? -1 : cv_add_node(cv, GRAPH_OP_SLICE, NULL, &qx, 1, q);
        if (node < 0)
            return cv_nomem(cv);
        struct graph_attrs *ga = &cv->g->nodes[node].attrs;
        ga->shape = phys;
        ga->n_starts = ga->n_steps = r;
        for (int i = 0; i < r; i++) {
            ga->starts[i] = x->perm[i] == axis ? s0 : 0;
            ga->steps[i] = 1;
        }
        out.q = q;
        if ((st = cv_def_act(cv, k, &out)))
            return st;
    }
    return QUANTA_OK;
}

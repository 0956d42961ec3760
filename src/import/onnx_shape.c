/* Operators that change a tensor's shape or layout but not its values:
 * Flatten, Reshape, Transpose, Squeeze, Unsqueeze, Concat, Identity and
 * Dropout. */
#include "import/onnx_ops.h"

#include <stdlib.h>
#include <string.h>

/* x to [N, rest] (ONNX order of the rest). */
static enum quanta_status flatten_to_2d(struct cv *cv, const struct cv_value *x)
{
    enum quanta_status st;
    int64_t k = 1;
    for (int i = 1; i < x->shape.rank; i++)
        k *= x->shape.dims[i];
    struct cv_value out = *x;
    out.shape.rank = 2;
    out.shape.dims[1] = k;
    cv_perm_identity(2, out.perm);
    if (x->shape.rank == 2)
        return cv_def_new(cv, x);
    int ident[QUANTA_MAX_RANK], qx = x->q;
    cv_perm_identity(x->shape.rank, ident);
    out.flat = !cv_layout_equiv(&x->shape, x->perm, ident);
    if (out.flat) {
        out.flat_shape = x->shape;
        memcpy(out.flat_perm, x->perm, sizeof out.flat_perm);
    }
    /* The quanta value holds the elements in physical order already
     * (its shape may differ only in axes of size 1): flatten it as it is. */
    if (quanta_shape_equal(&cv->g->values[qx].shape, &out.shape)) {
        out.q = qx;
        return cv_def_new(cv, &out);
    }
    if ((st = cv_emit(cv, GRAPH_OP_FLATTEN, &qx, 1, &out.shape, &out.q, NULL)))
        return st;
    return cv_def_new(cv, &out);
}

/* x, whose every axis has a fixed size (no batch of any size: quanta
 * import --input-shape), to shape o of as many elements, in ONNX order. */
static enum quanta_status reshape_fixed(struct cv *cv, const struct cv_value *x,
                                        const struct quanta_shape *o)
{
    int ident[QUANTA_MAX_RANK], qx, n;
    enum quanta_status st;
    cv_perm_identity(x->shape.rank, ident);
    if ((st = cv_materialize(cv, x, ident, &qx)))
        return st;
    struct cv_value out = *x;
    out.flat = false; /* qx holds x in ONNX order */
    out.n_onnx = 0;
    out.shape = *o;
    cv_perm_identity(o->rank, out.perm);
    if ((st = cv_emit(cv, GRAPH_OP_RESHAPE, &qx, 1, o, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.shape = *o;
    return cv_def_new(cv, &out);
}

static bool fixed_size(const struct cv_value *x)
{
    return cv_plain(x) && x->shape.rank > 0 && x->shape.dims[0] > 0;
}

enum quanta_status cv_op_flatten(struct cv *cv)
{
    static const char *const attrs[] = {"axis", NULL};
    struct cv_value *x;
    int64_t axis;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = cv_attr_int(cv, "axis", 1, &axis)))
        return st;
    if (axis < 0)
        axis += x->shape.rank;
    if (x->shape.rank < 2)
        return cv_fail(cv, "input '%s' has rank %d; quanta flattens tensors of a batch axis and "
                           "at least one more",
                       x->name, x->shape.rank);
    if (axis != 1 && fixed_size(x) && axis >= 0 && axis <= x->shape.rank) {
        struct quanta_shape o = {.rank = 2, .dims = {1, 1}};
        for (int d = 0; d < x->shape.rank; d++)
            o.dims[d < axis ? 0 : 1] *= x->shape.dims[d];
        return reshape_fixed(cv, x, &o);
    }
    if (axis != 1)
        return cv_fail(cv, "attribute 'axis' %lld is not supported with a batch of any size; "
                           "only 1 (keep the batch) is, or give the input's shape "
                           "(--input-shape)",
                       (long long)axis);
    if (x->flat)
        return cv_def_new(cv, x);
    return flatten_to_2d(cv, x);
}

/* Reshape of a tensor whose batch was moved or merged, or to a target
 * that merges the batch with other axes (entries k times the batch size,
 * from Shape arithmetic). The memory stays: each target axis becomes a
 * group of the input's axes, split where a target boundary falls inside
 * one; only the batch cannot be split. */
static enum quanta_status reshape_moved(struct cv *cv, const struct cv_value *x,
                                        const struct onnx_tensor *t, int64_t allowzero)
{
    const int nt = (int)t->numel, ri = cv_onnx_rank(x), ne = x->shape.rank;
    int64_t td[QUANTA_MAX_RANK], tk[QUANTA_MAX_RANK];
    bool tb[QUANTA_MAX_RANK];
    int64_t total = 1, known = 1;
    int infer = -1, n_batch = 0;
    if (x->flat)
        return cv_fail(cv, "input '%s' is a flattened NCHW tensor", x->name);
    for (int a = 0; a < ne; a++)
        total *= x->shape.dims[a] < 0 ? 1 : x->shape.dims[a];
    for (int j = 0; j < nt; j++) {
        int64_t d = cv_tensor_i(t, j), k;
        tb[j] = false;
        tk[j] = 1;
        if (d == 0 && !allowzero) {
            if (j >= ri)
                return cv_fail(cv, "shape entry %d copies a missing axis", j);
            int f = cv_first_axis(x, j), g = x->n_onnx ? x->group[j] : 1;
            d = 1;
            for (int i = 0; i < g; i++) {
                if (x->shape.dims[f + i] < 0)
                    tb[j] = true;
                else
                    d *= x->shape.dims[f + i];
            }
            if (tb[j]) {
                tk[j] = d;
                d = 1;
            }
        } else if (cv_batch_k(d, &k)) {
            tb[j] = true;
            tk[j] = k;
            d = 1;
        } else if (d == -1 && infer < 0) {
            infer = j;
            continue;
        } else if (d < 1) {
            return cv_fail(cv, "shape entry %d (%lld) is not supported", j, (long long)d);
        }
        td[j] = d;
        known *= d * tk[j];
        n_batch += tb[j];
    }
    if (infer >= 0) {
        if (known == 0 || total % known != 0)
            return cv_fail(cv, "cannot infer entry %d", infer);
        td[infer] = total / known;
        known = total;
    }
    if (known != total || n_batch != (cv_batch_axis(x) >= 0))
        return cv_fail(cv, "reshaping '%s' to this shape changes the number of elements or "
                           "the batch, which is not supported",
                       x->name);
    /* walk the input's axes against the target's */
    int64_t ed[QUANTA_MAX_RANK];
    int pieces[QUANTA_MAX_RANK][QUANTA_MAX_RANK], n_pieces[QUANTA_MAX_RANK] = {0};
    struct cv_value out = *x;
    int i = 0, k = 0;
    for (int a = 0; a < ne; a++)
        ed[a] = x->shape.dims[a];
    int extra[QUANTA_MAX_RANK], n_extra = 0; /* new size-1 axes */
    for (int j = 0; j < nt; j++) {
        int64_t need = td[j] * tk[j];
        bool need_batch = tb[j];
        int count = 0;
        while (need > 1 || need_batch) {
            while (i < ne && ed[i] == 1)
                i++; /* size-1 axes vanish */
            if (i >= ne || k >= QUANTA_MAX_RANK)
                return cv_fail(cv, "cannot reshape '%s' to this shape", x->name);
            if (ed[i] < 0) {
                if (!need_batch)
                    return cv_fail(cv, "reshaping '%s' would split its batch axis", x->name);
                need_batch = false;
            } else if (need % ed[i] == 0) {
                need /= ed[i];
            } else if (ed[i] % need == 0) {
                ed[i] /= need; /* split: the first part goes to this target axis */
                pieces[i][n_pieces[i]++] = k;
                out.shape.dims[k++] = need;
                need = 1;
                count++;
                continue;
            } else {
                return cv_fail(cv, "cannot reshape '%s' to this shape", x->name);
            }
            pieces[i][n_pieces[i]++] = k;
            out.shape.dims[k++] = ed[i];
            ed[i] = 1;
            i++;
            count++;
        }
        if (count == 0) {
            if (k >= QUANTA_MAX_RANK)
                return cv_fail(cv, "cannot reshape '%s' to this shape", x->name);
            extra[n_extra++] = k;
            out.shape.dims[k++] = 1;
            count = 1;
        }
        out.group[j] = count;
    }
    out.shape.rank = k;
    int p = 0;
    for (int a = 0; a < ne; a++)
        for (int m = 0; m < n_pieces[x->perm[a]]; m++)
            out.perm[p++] = pieces[x->perm[a]][m];
    for (int m = 0; m < n_extra; m++)
        out.perm[p++] = extra[m];
    out.n_onnx = nt;
    bool grouped = false;
    for (int j = 0; j < nt; j++)
        grouped = grouped || out.group[j] > 1;
    if (!grouped)
        out.n_onnx = 0;
    struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
    enum quanta_status st;
    if (!quanta_shape_equal(&phys, &cv->g->values[x->q].shape)) {
        int n;
        if ((st = cv_emit(cv, GRAPH_OP_RESHAPE, &x->q, 1, &phys, &out.q, &n)))
            return st;
        cv->g->nodes[n].attrs.shape = phys;
    }
    if (out.n_onnx && cv_batch_axis(&out) <= 0) {
        /* only axes without the batch grouped: merge now so plain operators follow */
        bool batch_grouped = false;
        for (int j = 0, e = 0; j < out.n_onnx; e += out.group[j++])
            batch_grouped = batch_grouped || (out.group[j] > 1 && cv_batch_axis(&out) >= e &&
                                              cv_batch_axis(&out) < e + out.group[j]);
        if (!batch_grouped && (st = cv_merge_groups(cv, &out)))
            return st;
    }
    return cv_def_new(cv, &out);
}

/* Reshape's target entries from on into o: a 0 copies x's axis (unless
 * allowzero), one -1 is left for the caller to infer (*infer, else -1);
 * *known is the product of the others. */
static enum quanta_status target_dims(struct cv *cv, const struct cv_value *x,
                                      const struct onnx_tensor *t, int64_t allowzero, int from,
                                      struct quanta_shape *o, int64_t *known, int *infer)
{
    *infer = -1;
    *known = 1;
    for (int i = from; i < o->rank; i++) {
        int64_t d = cv_tensor_i(t, i);
        if (d == 0 && !allowzero)
            d = i < x->shape.rank ? x->shape.dims[i] : -2;
        if (d == -1 && *infer < 0) {
            *infer = i;
            continue;
        }
        if (d < 1)
            return cv_fail(cv, "shape entry %d (%lld) is not supported", i,
                           (long long)cv_tensor_i(t, i));
        o->dims[i] = d;
        *known *= d;
    }
    return QUANTA_OK;
}

enum quanta_status cv_op_reshape(struct cv *cv)
{
    static const char *const attrs[] = {"allowzero", NULL};
    struct cv_value *x;
    const struct onnx_tensor *t;
    int64_t allowzero;
    enum quanta_status st;
    char buf[128];
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = cv_need_const(cv, 1, "shape", &t)) ||
        (st = cv_attr_int(cv, "allowzero", 0, &allowzero)))
        return st;
    if (t->dtype != QUANTA_I64 || t->shape.rank != 1 || t->numel < 1 ||
        t->numel > QUANTA_MAX_RANK)
        return cv_fail(cv, "shape '%s' must be INT64 with 1 to %d entries", t->name,
                       QUANTA_MAX_RANK);
    bool moved = !cv_plain(x);
    for (int i = 0; i < t->numel && !moved; i++) {
        int64_t k;
        moved = cv_batch_k(cv_tensor_i(t, i), &k) && (i > 0 || k > 1);
    }
    if (moved)
        return reshape_moved(cv, x, t, allowzero);
    if (fixed_size(x)) {
        /* every size known: any target of as many elements */
        struct quanta_shape f = {.rank = (int)t->numel};
        int64_t total = quanta_shape_numel(&x->shape), known;
        int infer;
        if ((st = target_dims(cv, x, t, allowzero, 0, &f, &known, &infer)))
            return st;
        if (infer >= 0 && known > 0 && total % known == 0) {
            f.dims[infer] = total / known;
            known = total;
        }
        if (known != total)
            return cv_fail(cv, "reshaping '%s' %s: the target holds %lld elements", x->name,
                           quanta_shape_format(&x->shape, buf, sizeof buf), (long long)known);
        if (f.dims[0] != x->shape.dims[0])
            return reshape_fixed(cv, x, &f);
    }
    /* The target: entry 0 is the batch (the marker, a 0 copying it, -1,
     * or the batch size the model was exported with). */
    int64_t per_sample = 1;
    for (int i = 1; i < x->shape.rank; i++)
        per_sample *= x->shape.dims[i];
    struct quanta_shape o = {.rank = (int)t->numel};
    int infer;
    int64_t known;
    if ((st = target_dims(cv, x, t, allowzero, 1, &o, &known, &infer)))
        return st;
    if (infer >= 0) {
        if (per_sample % known != 0)
            return cv_fail(cv, "cannot infer entry %d: %lld elements per sample", infer,
                           (long long)per_sample);
        o.dims[infer] = per_sample / known;
        known = per_sample;
    }
    int64_t d0 = cv_tensor_i(t, 0);
    bool batch_ok = d0 == CV_BATCH || d0 == -1 || (d0 == 0 && !allowzero) ||
                    (d0 > 0 && (x->shape.dims[0] < 0 || d0 == x->shape.dims[0]));
    if (!batch_ok || known != per_sample)
        return cv_fail(cv, "reshaping '%s' %s to this shape changes the batch axis, which is "
                           "not supported",
                       x->name, quanta_shape_format(&x->shape, buf, sizeof buf));
    o.dims[0] = x->shape.dims[0];
    if (quanta_shape_equal(&o, &x->shape))
        return cv_def_new(cv, x);
    if (x->flat && quanta_shape_equal(&o, &x->flat_shape)) {
        /* un-flattening: back to the layout it came from */
        struct cv_value out = *x;
        out.flat = false;
        out.shape = x->flat_shape;
        memcpy(out.perm, x->flat_perm, sizeof out.perm);
        struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
        int n;
        if ((st = cv_emit(cv, GRAPH_OP_RESHAPE, &x->q, 1, &phys, &out.q, &n)))
            return st;
        cv->g->nodes[n].attrs.shape = phys;
        return cv_def_new(cv, &out);
    }
    if (o.rank == 2 && !x->flat)
        return flatten_to_2d(cv, x);
    int ident[QUANTA_MAX_RANK], qx;
    cv_perm_identity(x->shape.rank, ident);
    if ((st = cv_materialize(cv, x, ident, &qx)))
        return st;
    struct cv_value out = *x;
    out.flat = false; /* qx holds x in ONNX order */
    out.shape = o;
    cv_perm_identity(o.rank, out.perm);
    int n;
    if ((st = cv_emit(cv, GRAPH_OP_RESHAPE, &qx, 1, &o, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.shape = o;
    return cv_def_new(cv, &out);
}

enum quanta_status cv_op_transpose(struct cv *cv)
{
    static const char *const attrs[] = {"perm", NULL};
    struct cv_value *x;
    const int64_t *p;
    int n;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = cv_attr_ints(cv, "perm", &p, &n)))
        return st;
    int r = cv_onnx_rank(x), tp[QUANTA_MAX_RANK];
    bool seen[QUANTA_MAX_RANK] = {false};
    if (n >= 0 && n != r)
        return cv_fail(cv, "attribute 'perm' has %d entries for rank %d", n, r);
    for (int i = 0; i < r; i++) {
        if (n >= 0 && (p[i] < 0 || p[i] >= r || seen[p[i]]))
            return cv_fail(cv, "attribute 'perm' is not a permutation");
        tp[i] = n < 0 ? r - 1 - i : (int)p[i];
        seen[tp[i]] = true;
    }
    struct cv_value plain;
    if ((st = cv_unflat(cv, &x, &plain)))
        return st;
    /* the memory stays; each ONNX axis takes its group of axes along (the
     * batch may move: its axis stays stored first) */
    struct cv_value out = *x;
    int to[QUANTA_MAX_RANK], e = 0; /* old axis -> new axis */
    for (int j = 0; j < r; j++) {
        int g = x->n_onnx ? x->group[tp[j]] : 1, f = cv_first_axis(x, tp[j]);
        for (int i = 0; i < g; i++) {
            to[f + i] = e;
            out.shape.dims[e++] = x->shape.dims[f + i];
        }
        if (x->n_onnx)
            out.group[j] = g;
    }
    for (int i = 0; i < x->shape.rank; i++)
        out.perm[i] = to[x->perm[i]];
    return cv_def_new(cv, &out);
}

enum quanta_status cv_op_squeeze(struct cv *cv)
{
    static const char *const attrs[] = {"axes", NULL};
    struct cv_value *x;
    int64_t axes[QUANTA_MAX_RANK];
    int n;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = cv_get_axes(cv, 13, axes, &n)))
        return st;
    struct cv_value plain;
    if ((st = cv_unflat(cv, &x, &plain)))
        return st;
    int r = x->shape.rank;
    bool drop[QUANTA_MAX_RANK] = {false};
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r || x->shape.dims[a] != 1)
            return cv_fail(cv, "axis %lld is out of range or not of size 1", (long long)axes[i]);
        drop[a] = true;
    }
    for (int a = 1; n < 0 && a < r; a++)
        drop[a] = x->shape.dims[a] == 1;
    if (drop[0])
        return cv_fail(cv, "squeezes the batch axis, which is not supported");
    struct cv_value out = *x;
    cv_drop_axes(x, drop, &out);
    return cv_def_new(cv, &out);
}

enum quanta_status cv_op_unsqueeze(struct cv *cv)
{
    static const char *const attrs[] = {"axes", NULL};
    struct cv_value *x;
    int64_t axes[QUANTA_MAX_RANK];
    int n;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = cv_get_axes(cv, 13, axes, &n)))
        return st;
    struct cv_value plain;
    if ((st = cv_unflat(cv, &x, &plain)))
        return st;
    if (n < 1)
        return cv_fail(cv, "needs axes");
    int r = x->shape.rank + n;
    if (r > QUANTA_MAX_RANK)
        return cv_fail(cv, "output rank %d is beyond %d", r, QUANTA_MAX_RANK);
    bool is_new[QUANTA_MAX_RANK] = {false};
    for (int i = 0; i < n; i++) {
        int64_t a = axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r || is_new[a])
            return cv_fail(cv, "axis %lld is out of range or repeated", (long long)axes[i]);
        is_new[a] = true;
    }
    if (is_new[0])
        return cv_fail(cv, "inserts an axis before the batch axis, which is not supported");
    struct cv_value out = *x;
    int old_to_new[QUANTA_MAX_RANK];
    out.shape.rank = r;
    for (int a = 0, j = 0; a < r; a++) {
        if (is_new[a]) {
            out.shape.dims[a] = 1;
        } else {
            out.shape.dims[a] = x->shape.dims[j];
            old_to_new[j++] = a;
        }
    }
    int k = 0;
    for (int i = 0; i < x->shape.rank; i++)
        out.perm[k++] = old_to_new[x->perm[i]];
    for (int a = 0; a < r; a++)
        if (is_new[a])
            out.perm[k++] = a; /* size 1: anywhere will do */
    return cv_def_new(cv, &out);
}

/* Concat of activations, and of constants repeated over the batch (an
 * Expand of a class token to [N, 1, D]): those become quanta constants of
 * dim 0 1, which the concat operator repeats. */
enum quanta_status cv_op_concat(struct cv *cv)
{
    static const char *const attrs[] = {"axis", NULL};
    struct cv_value *x0 = NULL;
    int64_t axis_attr;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_attr_int(cv, "axis", INT64_MIN, &axis_attr)))
        return st;
    for (int k = 0; k < cv->node->n_inputs && !x0; k++) {
        struct cv_value *x;
        if ((st = cv_need(cv, k, &x)))
            return st;
        if (x->kind == CV_ACT)
            x0 = x;
    }
    if (!x0)
        return cv_need_act(cv, 0, &x0);
    int r = x0->shape.rank;
    int64_t axis = axis_attr < 0 ? axis_attr + r : axis_attr;
    if (axis_attr == INT64_MIN || axis < 0 || axis >= r)
        return cv_fail(cv, "attribute 'axis' is missing or out of range");
    /* along axis 0 only when it has a fixed size in every input (quanta
     * import --input-shape): the output's size is then their sum */
    for (int k = 0; axis == 0 && k < cv->node->n_inputs; k++) {
        struct cv_value *x;
        if ((st = cv_need(cv, k, &x)))
            return st;
        if (x->kind != CV_ACT || x->shape.dims[0] < 1)
            return cv_fail(cv, "concatenates along the batch axis, whose size is any; give "
                               "every input's shape (--input-shape) to fix it");
    }
    int n = cv->node->n_inputs;
    int *ins = malloc((size_t)n * sizeof *ins + 1);
    if (!ins)
        return cv_nomem(cv);
    struct cv_value out = *x0;
    out.flat = false; /* every input is materialized in ONNX column order below */
    out.shape.dims[axis] = 0;
    for (int k = 0; k < n; k++) {
        struct cv_value *x;
        if ((st = cv_need(cv, k, &x)))
            break;
        if (x->kind == CV_CONST) {
            struct quanta_shape cs;
            if (!x->batch_bcast) {
                st = cv_fail(cv, "input '%s' is a constant with no batch axis; only constants "
                                 "expanded to the batch size (Expand) can be concatenated",
                             x->name);
                break;
            }
            if ((st = cv_need_f32(cv, x->c, "constant")))
                break;
            if (x->c->shape.rank != r) {
                st = cv_fail(cv, "input '%s' has rank %d, not %d", x->name, x->c->shape.rank, r);
                break;
            }
            if ((ins[k] = cv_const_like_axis(cv, x0, x->c, (int)axis, &cs)) < 0) {
                st = cv->err->status;
                break;
            }
            out.shape.dims[axis] += cs.dims[axis];
            continue;
        }
        bool ok = x->shape.rank == r;
        for (int d = 0; ok && d < r; d++)
            ok = d == axis || x->shape.dims[d] == x0->shape.dims[d];
        if (!ok) {
            st = cv_fail(cv, "input '%s' does not match the shape of '%s' off axis %lld",
                         x->name, x0->name, (long long)axis);
            break;
        }
        out.shape.dims[axis] += x->shape.dims[axis];
        if ((st = cv_materialize(cv, x, x0->perm, &ins[k])))
            break;
    }
    if (!st) {
        struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
        int node;
        if (!(st = cv_emit(cv, GRAPH_OP_CONCAT, ins, n, &phys, &out.q, &node)))
            cv->g->nodes[node].attrs.axis = cv_phys_axis(x0->perm, r, (int)axis);
    }
    free(ins);
    return st ? st : cv_def_new(cv, &out);
}

enum quanta_status cv_op_identity(struct cv *cv)
{
    static const char *const attrs[] = {"seed", "ratio", "is_test", NULL};
    struct cv_value *x;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, cv_op_is(cv, "Dropout") ? attrs : NULL)) ||
        (st = cv_only_first_output(cv)) || (st = cv_need_act(cv, 0, &x)))
        return st;
    if (cv_op_is(cv, "Dropout")) {
        struct cv_value *mode;
        if ((st = cv_input(cv, 2, &mode)))
            return st;
        if (mode && (mode->kind != CV_CONST || (mode->c->numel == 1 && cv_tensor_f(mode->c, 0))))
            return cv_fail(cv, "training_mode must be a constant false");
    }
    return cv_def_new(cv, x);
}

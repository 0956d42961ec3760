/* Constant folding: nodes whose inputs are all constants (initializers,
 * Constant nodes, earlier folded results) are computed here, in ONNX
 * layout, and never reach the quanta graph. Shape is folded too, with the
 * batch size as the marker CV_BATCH, so the Shape -> Gather -> Unsqueeze
 * -> Concat -> Reshape chains that exporters write for flatten fold into a
 * Reshape target. */
#include "import/onnx_convert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool all_const(struct cv *cv)
{
    bool any = false;
    for (int k = 0; k < cv->node->n_inputs; k++) {
        struct cv_value *v;
        if (cv_input(cv, k, &v) != QUANTA_OK)
            return false;
        if (v && (v->kind != CV_CONST || v->batch_bcast))
            return false;
        any = any || v;
    }
    return any;
}

static const struct onnx_tensor *in_const(struct cv *cv, int k)
{
    struct cv_value *v;
    if (cv_input(cv, k, &v) != QUANTA_OK || !v)
        return NULL;
    return v->c;
}

static bool has_batch(const struct onnx_tensor *t)
{
    if (t->dtype != QUANTA_I64)
        return false;
    int64_t m;
    for (int64_t k = 0; k < t->numel; k++)
        if (cv_batch_k(((const int64_t *)t->data)[k], &m))
            return true;
    return false;
}

static struct onnx_tensor *copy_tensor(const struct onnx_tensor *t, const struct quanta_shape *shape)
{
    struct onnx_tensor *o = cv_tensor_new(t->dtype, shape ? shape : &t->shape);
    if (o && o->numel == t->numel && t->numel)
        memcpy(o->data, t->data, (size_t)t->numel * (t->dtype == QUANTA_F32 ? 4 : 8));
    return o;
}

static void set_elem(struct onnx_tensor *o, int64_t k, const struct onnx_tensor *src, int64_t j)
{
    if (o->dtype == QUANTA_F32)
        ((float *)o->data)[k] = (float)cv_tensor_f(src, j);
    else
        ((int64_t *)o->data)[k] = cv_tensor_i(src, j);
}

static bool norm_axis(int64_t axis, int rank, int *out)
{
    if (axis < -rank || axis >= rank)
        return false;
    *out = (int)(axis < 0 ? axis + rank : axis);
    return true;
}

/* Axes from attr "axes" (opsets before since_opset) or input 1. */
static enum quanta_status get_axes(struct cv *cv, int since_opset, int64_t *axes, int *n)
{
    const int64_t *a;
    int na;
    enum quanta_status st;
    *n = -1;
    if (cv->m->opset < since_opset) {
        if ((st = cv_attr_ints(cv, "axes", &a, &na)))
            return st;
    } else {
        struct cv_value *v;
        if ((st = cv_input(cv, 1, &v)))
            return st;
        if (!v)
            return QUANTA_OK;
        if (v->kind != CV_CONST || v->c->dtype != QUANTA_I64)
            return cv_fail(cv, "input 'axes' must be an INT64 constant");
        a = v->c->data;
        na = (int)v->c->numel;
        if (v->c->numel > QUANTA_MAX_RANK)
            return cv_fail(cv, "input 'axes' has %lld entries", (long long)v->c->numel);
    }
    if (na > QUANTA_MAX_RANK)
        return cv_fail(cv, "attribute 'axes' has %d entries", na);
    for (int i = 0; i < na; i++)
        axes[i] = a[i];
    *n = na;
    return QUANTA_OK;
}

/* ---- element-wise arithmetic with broadcasting ---- */

static enum quanta_status broadcast_shape(struct cv *cv, const struct quanta_shape *a,
                                          const struct quanta_shape *b, struct quanta_shape *out)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (int i = 0; i < r; i++) {
        int64_t da = i - (r - a->rank) >= 0 ? a->dims[i - (r - a->rank)] : 1;
        int64_t db = i - (r - b->rank) >= 0 ? b->dims[i - (r - b->rank)] : 1;
        if (da != db && da != 1 && db != 1)
            return cv_fail(cv, "shapes do not broadcast (dimension %d: %lld and %lld)", i,
                           (long long)da, (long long)db);
        out->dims[i] = da == 1 ? db : da;
    }
    return QUANTA_OK;
}

/* Index into t of the broadcast element at multi-index idx of out. */
static int64_t bcast_index(const struct onnx_tensor *t, const struct quanta_shape *out,
                           const int64_t *idx)
{
    int64_t k = 0;
    int off = out->rank - t->shape.rank;
    for (int i = 0; i < t->shape.rank; i++) {
        int64_t d = t->shape.dims[i];
        k = k * d + (d == 1 ? 0 : idx[i + off]);
    }
    return k;
}

static void unravel(int64_t k, const struct quanta_shape *s, int64_t *idx)
{
    for (int i = s->rank - 1; i >= 0; i--) {
        int64_t d = s->dims[i] > 0 ? s->dims[i] : 1;
        idx[i] = k % d;
        k /= d;
    }
}

/* Arithmetic on k times the batch size: multiplied by a positive integer
 * or divided by a divisor of k it stays such a product (attention's
 * N * heads and L * N); anything else is refused. */
static enum quanta_status fold_batch_arith(struct cv *cv, char op, const struct onnx_tensor *a,
                                           const struct onnx_tensor *b,
                                           const struct quanta_shape *s)
{
    if (a->dtype != QUANTA_I64 || b->dtype != QUANTA_I64)
        return cv_fail(cv, "computes with the batch size in floating point");
    struct onnx_tensor *o = cv_tensor_new(QUANTA_I64, s);
    if (!o)
        return cv_nomem(cv);
    int64_t idx[QUANTA_MAX_RANK];
    for (int64_t k = 0; k < o->numel; k++) {
        unravel(k, s, idx);
        int64_t x = cv_tensor_i(a, bcast_index(a, s, idx)), y = cv_tensor_i(b, bcast_index(b, s, idx));
        int64_t kx, ky, r;
        bool bx = cv_batch_k(x, &kx), by = cv_batch_k(y, &ky);
        if (bx && by) {
            r = INT64_MAX; /* refused below */
        } else if (op == '*' && (bx || by)) {
            int64_t f = bx ? y : x, kk = bx ? kx : ky;
            r = f > 0 && kk <= (CV_BATCH_MAX_K - 1) / f ? cv_batch_times(kk * f) : INT64_MAX;
        } else if (op == '/' && bx && y > 0 && kx % y == 0) {
            r = cv_batch_times(kx / y);
        } else if (!bx && !by) {
            r = op == '+' ? x + y : op == '-' ? x - y : op == '*' ? x * y : (y ? x / y : 0);
        } else {
            r = INT64_MAX;
        }
        if (r == INT64_MAX) {
            cv_tensor_free(o);
            return cv_fail(cv, "computes with the batch size, which is not known before the "
                               "model runs; give --input-shape with a batch size");
        }
        ((int64_t *)o->data)[k] = r;
    }
    return cv_def_const(cv, 0, o);
}

static enum quanta_status fold_binary(struct cv *cv, char op)
{
    const struct onnx_tensor *a = in_const(cv, 0), *b = in_const(cv, 1);
    struct quanta_shape s;
    enum quanta_status st;
    if (!a || !b)
        return cv_fail(cv, "needs two inputs");
    if ((st = cv_check_binary_attrs(cv)))
        return st;
    if ((st = broadcast_shape(cv, &a->shape, &b->shape, &s)))
        return st;
    if (has_batch(a) || has_batch(b))
        return fold_batch_arith(cv, op, a, b, &s);
    bool fl = a->dtype == QUANTA_F32 || b->dtype == QUANTA_F32;
    struct onnx_tensor *o = cv_tensor_new(fl ? QUANTA_F32 : QUANTA_I64, &s);
    if (!o)
        return cv_nomem(cv);
    int64_t idx[QUANTA_MAX_RANK];
    for (int64_t k = 0; k < o->numel; k++) {
        unravel(k, &s, idx);
        int64_t ia = bcast_index(a, &s, idx), ib = bcast_index(b, &s, idx);
        if (fl) {
            double x = cv_tensor_f(a, ia), y = cv_tensor_f(b, ib), r;
            switch (op) {
            case '+': r = x + y; break;
            case '-': r = x - y; break;
            case '*': r = x * y; break;
            case '^': r = pow(x, y); break;
            default: r = x / y; break;
            }
            ((float *)o->data)[k] = (float)r;
        } else {
            /* wrap-around arithmetic, as int64 tensors do */
            uint64_t x = (uint64_t)cv_tensor_i(a, ia), y = (uint64_t)cv_tensor_i(b, ib), r;
            switch (op) {
            case '+': r = x + y; break;
            case '-': r = x - y; break;
            case '*': r = x * y; break;
            case '^':
                if ((int64_t)y < 0 || (int64_t)y > 63) {
                    cv_tensor_free(o);
                    return cv_fail(cv, "integer power with exponent %lld", (long long)y);
                }
                r = 1;
                for (uint64_t e = y; e; e--)
                    r *= x;
                break;
            default:
                if (y == 0 || ((int64_t)x == INT64_MIN && (int64_t)y == -1)) {
                    cv_tensor_free(o);
                    return cv_fail(cv, "integer division by zero (or overflow)");
                }
                r = (uint64_t)((int64_t)x / (int64_t)y);
                break;
            }
            ((int64_t *)o->data)[k] = (int64_t)r;
        }
    }
    return cv_def_const(cv, 0, o);
}

/* ---- shape-level operators on constants ---- */

static enum quanta_status fold_shape(struct cv *cv)
{
    struct cv_value *v;
    enum quanta_status st;
    int64_t start, end;
    if ((st = cv_need(cv, 0, &v)) || (st = cv_attr_int(cv, "start", 0, &start)) ||
        (st = cv_attr_int(cv, "end", INT64_MAX, &end)))
        return st;
    const struct quanta_shape *s = v->kind == CV_CONST ? &v->c->shape : &v->shape;
    struct quanta_shape os0 = {.rank = v->kind == CV_ACT ? cv_onnx_rank(v) : s->rank};
    if (v->kind == CV_ACT && v->n_onnx > 0)
        s = &os0; /* rank only; the dims come below */
    bool bcast = v->kind == CV_CONST && v->batch_bcast;
    int r = s->rank;
    if (start < 0)
        start = start + r < 0 ? 0 : start + r;
    if (end < 0)
        end = end + r < 0 ? 0 : end + r;
    if (start > r)
        start = r;
    if (end > r)
        end = r;
    struct quanta_shape os = {.rank = 1, .dims = {end > start ? end - start : 0}};
    struct onnx_tensor *o = cv_tensor_new(QUANTA_I64, &os);
    if (!o)
        return cv_nomem(cv);
    for (int64_t i = start; i < end; i++)
        ((int64_t *)o->data)[i - start] = s->dims[i] < 0 || (bcast && i == 0) ? CV_BATCH
                                                                              : s->dims[i];
    if (v->kind == CV_ACT && v->n_onnx > 0) /* ONNX axes of several: their product */
        for (int64_t i = start; i < end; i++) {
            int64_t n = 1;
            bool batch = false;
            for (int j = 0, e = cv_first_axis(v, (int)i); j < v->group[i]; j++) {
                batch = batch || v->shape.dims[e + j] < 0;
                n *= v->shape.dims[e + j] < 0 ? 1 : v->shape.dims[e + j];
            }
            ((int64_t *)o->data)[i - start] = batch ? cv_batch_times(n) : n;
        }
    return cv_def_const(cv, 0, o);
}

static enum quanta_status fold_constant(struct cv *cv)
{
    const struct onnx_node *n = cv->node;
    if (n->n_attrs != 1)
        return cv_fail(cv, "needs exactly one attribute (value, value_float, value_floats, "
                           "value_int or value_ints)");
    const struct onnx_attr *a = &n->attrs[0];
    struct onnx_tensor *o = NULL;
    struct quanta_shape scalar = {.rank = 0}, list = {.rank = 1};
    if (strcmp(a->name, "value") == 0 && a->t) {
        o = copy_tensor(a->t, NULL);
    } else if (strcmp(a->name, "value_float") == 0) {
        if ((o = cv_tensor_new(QUANTA_F32, &scalar)))
            ((float *)o->data)[0] = a->f;
    } else if (strcmp(a->name, "value_int") == 0) {
        if ((o = cv_tensor_new(QUANTA_I64, &scalar)))
            ((int64_t *)o->data)[0] = a->i;
    } else if (strcmp(a->name, "value_floats") == 0) {
        list.dims[0] = a->n_floats;
        if ((o = cv_tensor_new(QUANTA_F32, &list)) && a->n_floats)
            memcpy(o->data, a->floats, (size_t)a->n_floats * sizeof(float));
    } else if (strcmp(a->name, "value_ints") == 0) {
        list.dims[0] = a->n_ints;
        if ((o = cv_tensor_new(QUANTA_I64, &list)) && a->n_ints)
            memcpy(o->data, a->ints, (size_t)a->n_ints * sizeof(int64_t));
    } else {
        return cv_fail(cv, "attribute '%s' is not supported", a->name);
    }
    return o ? cv_def_const(cv, 0, o) : cv_nomem(cv);
}

static enum quanta_status fold_gather(struct cv *cv)
{
    const struct onnx_tensor *data = in_const(cv, 0), *ind = in_const(cv, 1);
    int64_t axis_attr;
    int axis;
    enum quanta_status st;
    if (!data || !ind)
        return cv_fail(cv, "needs data and indices");
    if ((st = cv_attr_int(cv, "axis", 0, &axis_attr)))
        return st;
    if (!norm_axis(axis_attr, data->shape.rank, &axis))
        return cv_fail(cv, "attribute 'axis' %lld is out of range", (long long)axis_attr);
    if (ind->dtype != QUANTA_I64)
        return cv_fail(cv, "indices must be integers");
    struct quanta_shape s = {.rank = data->shape.rank - 1 + ind->shape.rank};
    if (s.rank > QUANTA_MAX_RANK)
        return cv_fail(cv, "output rank %d is beyond %d", s.rank, QUANTA_MAX_RANK);
    int r = 0;
    for (int i = 0; i < axis; i++)
        s.dims[r++] = data->shape.dims[i];
    for (int i = 0; i < ind->shape.rank; i++)
        s.dims[r++] = ind->shape.dims[i];
    for (int i = axis + 1; i < data->shape.rank; i++)
        s.dims[r++] = data->shape.dims[i];
    struct onnx_tensor *o = cv_tensor_new(data->dtype, &s);
    if (!o)
        return cv_nomem(cv);
    int64_t outer = 1, inner = 1, n = data->shape.dims[axis];
    for (int i = 0; i < axis; i++)
        outer *= data->shape.dims[i];
    for (int i = axis + 1; i < data->shape.rank; i++)
        inner *= data->shape.dims[i];
    int64_t k = 0;
    for (int64_t a = 0; a < outer; a++)
        for (int64_t j = 0; j < ind->numel; j++) {
            int64_t id = ((const int64_t *)ind->data)[j];
            if (id < 0)
                id += n;
            if (id < 0 || id >= n) {
                cv_tensor_free(o);
                return cv_fail(cv, "index %lld is out of range for axis size %lld",
                               (long long)((const int64_t *)ind->data)[j], (long long)n);
            }
            for (int64_t b = 0; b < inner; b++)
                set_elem(o, k++, data, (a * n + id) * inner + b);
        }
    return cv_def_const(cv, 0, o);
}

static enum quanta_status fold_unsqueeze(struct cv *cv)
{
    const struct onnx_tensor *x = in_const(cv, 0);
    int64_t axes[QUANTA_MAX_RANK];
    int n;
    enum quanta_status st = get_axes(cv, 13, axes, &n);
    if (st)
        return st;
    if (n < 1)
        return cv_fail(cv, "needs axes");
    int r = x->shape.rank + n;
    if (r > QUANTA_MAX_RANK)
        return cv_fail(cv, "output rank %d is beyond %d", r, QUANTA_MAX_RANK);
    bool is_new[QUANTA_MAX_RANK] = {false};
    for (int i = 0; i < n; i++) {
        int a;
        if (!norm_axis(axes[i], r, &a) || is_new[a])
            return cv_fail(cv, "axes has %lld, out of range or repeated", (long long)axes[i]);
        is_new[a] = true;
    }
    struct quanta_shape s = {.rank = r};
    for (int i = 0, j = 0; i < r; i++)
        s.dims[i] = is_new[i] ? 1 : x->shape.dims[j++];
    struct onnx_tensor *o = copy_tensor(x, &s);
    return o ? cv_def_const(cv, 0, o) : cv_nomem(cv);
}

static enum quanta_status fold_squeeze(struct cv *cv)
{
    const struct onnx_tensor *x = in_const(cv, 0);
    int64_t axes[QUANTA_MAX_RANK];
    int n;
    enum quanta_status st = get_axes(cv, 13, axes, &n);
    if (st)
        return st;
    bool drop[QUANTA_MAX_RANK] = {false};
    for (int i = 0; i < n; i++) {
        int a;
        if (!norm_axis(axes[i], x->shape.rank, &a) || x->shape.dims[a] != 1)
            return cv_fail(cv, "axes has %lld, out of range or not of size 1",
                           (long long)axes[i]);
        drop[a] = true;
    }
    struct quanta_shape s = {.rank = 0};
    for (int i = 0; i < x->shape.rank; i++)
        if (!(n < 0 ? x->shape.dims[i] == 1 : drop[i]))
            s.dims[s.rank++] = x->shape.dims[i];
    struct onnx_tensor *o = copy_tensor(x, &s);
    return o ? cv_def_const(cv, 0, o) : cv_nomem(cv);
}

static enum quanta_status fold_concat(struct cv *cv)
{
    int64_t axis_attr;
    enum quanta_status st;
    if ((st = cv_attr_int(cv, "axis", INT64_MIN, &axis_attr)))
        return st;
    const struct onnx_tensor *x0 = in_const(cv, 0);
    int axis;
    if (!x0 || !norm_axis(axis_attr, x0->shape.rank, &axis))
        return cv_fail(cv, "attribute 'axis' is missing or out of range");
    struct quanta_shape s = x0->shape;
    s.dims[axis] = 0;
    for (int k = 0; k < cv->node->n_inputs; k++) {
        const struct onnx_tensor *x = in_const(cv, k);
        if (!x)
            continue;
        bool ok = x->shape.rank == s.rank && x->dtype == x0->dtype;
        for (int d = 0; ok && d < s.rank; d++)
            ok = d == axis || x->shape.dims[d] == x0->shape.dims[d];
        if (!ok)
            return cv_fail(cv, "input %d does not match the shape or type of input 0", k);
        s.dims[axis] += x->shape.dims[axis];
    }
    struct onnx_tensor *o = cv_tensor_new(x0->dtype, &s);
    if (!o)
        return cv_nomem(cv);
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++)
        outer *= s.dims[i];
    for (int i = axis + 1; i < s.rank; i++)
        inner *= s.dims[i];
    int64_t k = 0;
    for (int64_t a = 0; a < outer; a++)
        for (int j = 0; j < cv->node->n_inputs; j++) {
            const struct onnx_tensor *x = in_const(cv, j);
            if (!x)
                continue;
            int64_t span = x->shape.dims[axis] * inner;
            for (int64_t b = 0; b < span; b++)
                set_elem(o, k++, x, a * span + b);
        }
    return cv_def_const(cv, 0, o);
}

static enum quanta_status fold_reshape(struct cv *cv)
{
    const struct onnx_tensor *x = in_const(cv, 0), *shape = in_const(cv, 1);
    int64_t allowzero;
    enum quanta_status st;
    if (!x || !shape || shape->dtype != QUANTA_I64 || shape->shape.rank != 1 ||
        shape->numel > QUANTA_MAX_RANK)
        return cv_fail(cv, "needs data and an INT64 shape of at most %d entries",
                       QUANTA_MAX_RANK);
    if ((st = cv_attr_int(cv, "allowzero", 0, &allowzero)))
        return st;
    struct quanta_shape s = {.rank = (int)shape->numel};
    int infer = -1;
    int64_t known = 1;
    for (int i = 0; i < s.rank; i++) {
        int64_t d = ((const int64_t *)shape->data)[i];
        if (d == 0 && !allowzero)
            d = i < x->shape.rank ? x->shape.dims[i] : -2;
        if (d == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (d < 0)
            return cv_fail(cv, "shape entry %d is invalid here", i);
        s.dims[i] = d;
        known *= d;
    }
    if (infer >= 0)
        s.dims[infer] = known ? x->numel / known : 0;
    if (quanta_shape_numel(&s) != x->numel)
        return cv_fail(cv, "cannot reshape %lld elements to the shape given",
                       (long long)x->numel);
    struct onnx_tensor *o = copy_tensor(x, &s);
    return o ? cv_def_const(cv, 0, o) : cv_nomem(cv);
}

static enum quanta_status fold_flatten(struct cv *cv)
{
    const struct onnx_tensor *x = in_const(cv, 0);
    int64_t axis_attr;
    int axis;
    enum quanta_status st = cv_attr_int(cv, "axis", 1, &axis_attr);
    if (st)
        return st;
    if (axis_attr == x->shape.rank)
        axis = x->shape.rank;
    else if (!norm_axis(axis_attr, x->shape.rank, &axis))
        return cv_fail(cv, "attribute 'axis' %lld is out of range", (long long)axis_attr);
    struct quanta_shape s = {.rank = 2, .dims = {1, 1}};
    for (int i = 0; i < x->shape.rank; i++)
        s.dims[i < axis ? 0 : 1] *= x->shape.dims[i];
    struct onnx_tensor *o = copy_tensor(x, &s);
    return o ? cv_def_const(cv, 0, o) : cv_nomem(cv);
}

static enum quanta_status fold_transpose(struct cv *cv)
{
    const struct onnx_tensor *x = in_const(cv, 0);
    const int64_t *p;
    int n, r = x->shape.rank, perm[QUANTA_MAX_RANK];
    enum quanta_status st = cv_attr_ints(cv, "perm", &p, &n);
    if (st)
        return st;
    bool seen[QUANTA_MAX_RANK] = {false};
    if (n >= 0 && n != r)
        return cv_fail(cv, "attribute 'perm' has %d entries for rank %d", n, r);
    for (int i = 0; i < r; i++) {
        perm[i] = n < 0 ? r - 1 - i : (int)p[i];
        if (n >= 0 && (p[i] < 0 || p[i] >= r || seen[p[i]]))
            return cv_fail(cv, "attribute 'perm' is not a permutation");
        seen[perm[i]] = true;
    }
    struct quanta_shape s = {.rank = r};
    for (int i = 0; i < r; i++)
        s.dims[i] = x->shape.dims[perm[i]];
    struct onnx_tensor *o = cv_tensor_new(x->dtype, &s);
    if (!o)
        return cv_nomem(cv);
    int64_t idx[QUANTA_MAX_RANK], src[QUANTA_MAX_RANK];
    for (int64_t k = 0; k < o->numel; k++) {
        unravel(k, &s, idx);
        for (int i = 0; i < r; i++)
            src[perm[i]] = idx[i];
        int64_t j = 0;
        for (int i = 0; i < r; i++)
            j = j * x->shape.dims[i] + src[i];
        set_elem(o, k, x, j);
    }
    return cv_def_const(cv, 0, o);
}

static enum quanta_status fold_cast(struct cv *cv)
{
    const struct onnx_tensor *x = in_const(cv, 0);
    int64_t to;
    enum quanta_status st = cv_attr_int(cv, "to", 0, &to);
    if (st)
        return st;
    enum quanta_dtype d;
    switch (to) {
    case ONNX_FLOAT: case ONNX_DOUBLE: case ONNX_FLOAT16: case ONNX_BFLOAT16: d = QUANTA_F32; break;
    case ONNX_INT8: case ONNX_UINT8: case ONNX_INT16: case ONNX_UINT16: case ONNX_INT32:
    case ONNX_INT64: case ONNX_UINT32: case ONNX_UINT64: case ONNX_BOOL: d = QUANTA_I64; break;
    default: return cv_fail(cv, "cast to %s is not supported", onnx_data_type_name((int)to));
    }
    if (d == QUANTA_F32 && has_batch(x))
        return cv_fail(cv, "casts the batch size, which is not known before the model runs");
    struct onnx_tensor *o = cv_tensor_new(d, &x->shape);
    if (!o)
        return cv_nomem(cv);
    for (int64_t k = 0; k < x->numel; k++) {
        if (to == ONNX_BOOL)
            ((int64_t *)o->data)[k] = cv_tensor_f(x, k) != 0;
        else
            set_elem(o, k, x, k);
    }
    return cv_def_const(cv, 0, o);
}

static enum quanta_status fold_neg(struct cv *cv)
{
    const struct onnx_tensor *x = in_const(cv, 0);
    if (has_batch(x))
        return cv_fail(cv, "negates the batch size, which is not known before the model runs");
    struct onnx_tensor *o = copy_tensor(x, NULL);
    if (!o)
        return cv_nomem(cv);
    for (int64_t k = 0; k < o->numel; k++) {
        if (o->dtype == QUANTA_F32)
            ((float *)o->data)[k] = -((float *)o->data)[k];
        else
            ((int64_t *)o->data)[k] = (int64_t)(0 - (uint64_t)((int64_t *)o->data)[k]);
    }
    return cv_def_const(cv, 0, o);
}

/* Slice: starts/ends/axes/steps as attributes (opset < 10) or inputs. */
static enum quanta_status fold_slice(struct cv *cv)
{
    const struct onnx_tensor *x = in_const(cv, 0);
    int r = x->shape.rank;
    int64_t starts[QUANTA_MAX_RANK], ends[QUANTA_MAX_RANK], axes[QUANTA_MAX_RANK],
        steps[QUANTA_MAX_RANK];
    int n;
    enum quanta_status st;
    if (cv->m->opset < 10) {
        const int64_t *s, *e, *a;
        int ns, ne, na;
        if ((st = cv_attr_ints(cv, "starts", &s, &ns)) || (st = cv_attr_ints(cv, "ends", &e, &ne)) ||
            (st = cv_attr_ints(cv, "axes", &a, &na)))
            return st;
        if (ns < 0 || ns != ne || ns > r || (na >= 0 && na != ns))
            return cv_fail(cv, "attributes starts/ends/axes do not match");
        n = ns;
        for (int i = 0; i < n; i++) {
            starts[i] = s[i];
            ends[i] = e[i];
            axes[i] = na >= 0 ? a[i] : i;
            steps[i] = 1;
        }
    } else {
        const struct onnx_tensor *s = in_const(cv, 1), *e = in_const(cv, 2), *a = in_const(cv, 3),
                                 *p = in_const(cv, 4);
        if (!s || !e || s->numel != e->numel || s->numel > r || (a && a->numel != s->numel) ||
            (p && p->numel != s->numel) || s->dtype != QUANTA_I64 || e->dtype != QUANTA_I64)
            return cv_fail(cv, "inputs starts/ends/axes/steps do not match");
        n = (int)s->numel;
        for (int i = 0; i < n; i++) {
            starts[i] = cv_tensor_i(s, i);
            ends[i] = cv_tensor_i(e, i);
            axes[i] = a ? cv_tensor_i(a, i) : i;
            steps[i] = p ? cv_tensor_i(p, i) : 1;
        }
    }
    int64_t lo[QUANTA_MAX_RANK], step[QUANTA_MAX_RANK];
    struct quanta_shape s = x->shape;
    for (int i = 0; i < r; i++) {
        lo[i] = 0;
        step[i] = 1;
    }
    for (int i = 0; i < n; i++) {
        int a;
        if (!norm_axis(axes[i], r, &a) || steps[i] == 0)
            return cv_fail(cv, "axis %lld or step %lld is invalid", (long long)axes[i],
                           (long long)steps[i]);
        int64_t dim = x->shape.dims[a], b = starts[i], e = ends[i];
        if (b < 0)
            b = b < -dim ? 0 : b + dim;
        if (e < 0)
            e = e < -dim ? -1 : e + dim;
        if (steps[i] > 0) {
            b = b > dim ? dim : b;
            e = e > dim ? dim : e;
            s.dims[a] = e > b ? (e - b + steps[i] - 1) / steps[i] : 0;
        } else {
            b = b > dim - 1 ? dim - 1 : b;
            e = e > dim - 1 ? dim - 1 : e;
            s.dims[a] = b > e ? (b - e - steps[i] - 1) / -steps[i] : 0;
        }
        lo[a] = b;
        step[a] = steps[i];
    }
    struct onnx_tensor *o = cv_tensor_new(x->dtype, &s);
    if (!o)
        return cv_nomem(cv);
    int64_t idx[QUANTA_MAX_RANK];
    for (int64_t k = 0; k < o->numel; k++) {
        unravel(k, &s, idx);
        int64_t j = 0;
        for (int i = 0; i < r; i++)
            j = j * x->shape.dims[i] + lo[i] + idx[i] * step[i];
        set_elem(o, k, x, j);
    }
    return cv_def_const(cv, 0, o);
}

static enum quanta_status fold_constant_of_shape(struct cv *cv)
{
    const struct onnx_tensor *shape = in_const(cv, 0);
    if (!shape || shape->dtype != QUANTA_I64 || shape->numel > QUANTA_MAX_RANK)
        return cv_fail(cv, "needs an INT64 shape");
    struct quanta_shape s = {.rank = (int)shape->numel};
    for (int i = 0; i < s.rank; i++) {
        s.dims[i] = cv_tensor_i(shape, i);
        if (s.dims[i] < 0)
            return cv_fail(cv, "shape depends on the batch size or is negative");
    }
    const struct onnx_attr *a = onnx_node_attr(cv->node, "value");
    const struct onnx_tensor *value = a ? a->t : NULL;
    if (value && value->numel != 1)
        return cv_fail(cv, "attribute 'value' must hold one element");
    int64_t n = quanta_shape_numel(&s);
    if (n < 0 || n > (int64_t)1 << 28)
        return cv_fail(cv, "shape is too large");
    struct onnx_tensor *o = cv_tensor_new(value ? value->dtype : QUANTA_F32, &s);
    if (!o)
        return cv_nomem(cv);
    for (int64_t k = 0; value && k < n; k++)
        set_elem(o, k, value, 0);
    return cv_def_const(cv, 0, o);
}

/* Equal: booleans are held as INT64 0 and 1. The batch size is known to be
 * no negative number, so comparing it with -1 (as the expand(n, -1, -1)
 * chains that exporters write do) folds; with a size it cannot. */
static enum quanta_status fold_equal(struct cv *cv)
{
    const struct onnx_tensor *a = in_const(cv, 0), *b = in_const(cv, 1);
    struct quanta_shape s;
    enum quanta_status st;
    if (!a || !b)
        return cv_fail(cv, "needs two inputs");
    if ((st = broadcast_shape(cv, &a->shape, &b->shape, &s)))
        return st;
    struct onnx_tensor *o = cv_tensor_new(QUANTA_I64, &s);
    if (!o)
        return cv_nomem(cv);
    int64_t idx[QUANTA_MAX_RANK];
    for (int64_t k = 0; k < o->numel; k++) {
        unravel(k, &s, idx);
        int64_t ia = bcast_index(a, &s, idx), ib = bcast_index(b, &s, idx);
        int64_t *r = (int64_t *)o->data + k;
        if (a->dtype == QUANTA_F32 || b->dtype == QUANTA_F32) {
            *r = cv_tensor_f(a, ia) == cv_tensor_f(b, ib);
            continue;
        }
        int64_t x = cv_tensor_i(a, ia), y = cv_tensor_i(b, ib), kx, ky;
        bool bx = cv_batch_k(x, &kx), by = cv_batch_k(y, &ky);
        if (bx != by) {
            int64_t other = bx ? y : x;
            if (other >= 0) {
                cv_tensor_free(o);
                return cv_fail(cv, "compares the batch size with %lld, which is not known "
                                   "before the model runs; give --input-shape with a batch size",
                               (long long)other);
            }
            *r = 0;
        } else {
            *r = x == y;
        }
    }
    return cv_def_const(cv, 0, o);
}

static enum quanta_status fold_where(struct cv *cv)
{
    const struct onnx_tensor *c = in_const(cv, 0), *x = in_const(cv, 1), *y = in_const(cv, 2);
    struct quanta_shape s0, s;
    enum quanta_status st;
    if (!c || !x || !y)
        return cv_fail(cv, "needs condition, X and Y");
    if (x->dtype != y->dtype)
        return cv_fail(cv, "X and Y differ in type");
    if ((st = broadcast_shape(cv, &c->shape, &x->shape, &s0)) ||
        (st = broadcast_shape(cv, &s0, &y->shape, &s)))
        return st;
    struct onnx_tensor *o = cv_tensor_new(x->dtype, &s);
    if (!o)
        return cv_nomem(cv);
    int64_t idx[QUANTA_MAX_RANK];
    for (int64_t k = 0; k < o->numel; k++) {
        unravel(k, &s, idx);
        if (cv_tensor_f(c, bcast_index(c, &s, idx)) != 0)
            set_elem(o, k, x, bcast_index(x, &s, idx));
        else
            set_elem(o, k, y, bcast_index(y, &s, idx));
    }
    return cv_def_const(cv, 0, o);
}

/* Expand of a constant (NumPy broadcasting both ways). A target whose
 * first entry is the batch size (from Shape) gives the broadcast with
 * dim 0 of size 1, marked batch_bcast; the batch anywhere else is
 * refused. */
static enum quanta_status fold_expand(struct cv *cv)
{
    const struct onnx_tensor *x = in_const(cv, 0), *t = in_const(cv, 1);
    if (!x || !t || t->dtype != QUANTA_I64 || t->shape.rank != 1 ||
        t->numel > QUANTA_MAX_RANK)
        return cv_fail(cv, "needs data and an INT64 shape of at most %d entries",
                       QUANTA_MAX_RANK);
    if (has_batch(x))
        return cv_fail(cv, "expands the batch size, which is not known before the model runs");
    struct quanta_shape want = {.rank = (int)t->numel}, s;
    bool batch = false;
    for (int i = 0; i < want.rank; i++) {
        int64_t d = cv_tensor_i(t, i);
        if (d == CV_BATCH) {
            if (i != 0 || want.rank < x->shape.rank)
                return cv_fail(cv, "expands to the batch size along an axis other than the "
                                   "first, which is not supported");
            batch = true;
            d = 1;
        }
        if (d < 0)
            return cv_fail(cv, "shape entry %d (%lld) is negative", i, (long long)d);
        want.dims[i] = d;
    }
    enum quanta_status st = broadcast_shape(cv, &x->shape, &want, &s);
    if (st)
        return st;
    if (batch && s.dims[0] != 1)
        return cv_fail(cv, "expands an axis of size %lld to the batch size",
                       (long long)s.dims[0]);
    int64_t n = quanta_shape_numel(&s);
    if (n < 0 || n > (int64_t)1 << 28)
        return cv_fail(cv, "shape is too large");
    struct onnx_tensor *o = cv_tensor_new(x->dtype, &s);
    if (!o)
        return cv_nomem(cv);
    int64_t idx[QUANTA_MAX_RANK];
    for (int64_t k = 0; k < o->numel; k++) {
        unravel(k, &s, idx);
        set_elem(o, k, x, bcast_index(x, &s, idx));
    }
    return batch ? cv_def_batch_bcast(cv, 0, o) : cv_def_const(cv, 0, o);
}

enum quanta_status cv_fold_node(struct cv *cv, bool *done)
{
    const char *op = cv->node->op_type;
    *done = false;
    if (strcmp(op, "Constant") == 0) {
        *done = true;
        return fold_constant(cv);
    }
    if (strcmp(op, "Shape") == 0) {
        *done = true;
        return fold_shape(cv);
    }
    if (!all_const(cv))
        return QUANTA_OK;
    static const struct {
        const char *name;
        enum quanta_status (*fn)(struct cv *cv);
    } table[] = {
        {"Gather", fold_gather}, {"Unsqueeze", fold_unsqueeze}, {"Squeeze", fold_squeeze},
        {"Concat", fold_concat}, {"Reshape", fold_reshape}, {"Flatten", fold_flatten},
        {"Transpose", fold_transpose}, {"Cast", fold_cast}, {"Neg", fold_neg},
        {"Slice", fold_slice}, {"ConstantOfShape", fold_constant_of_shape},
        {"Equal", fold_equal}, {"Where", fold_where}, {"Expand", fold_expand},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(op, table[i].name) == 0) {
            *done = true;
            return table[i].fn(cv);
        }
    if (strcmp(op, "Identity") == 0 || strcmp(op, "Dropout") == 0) {
        *done = true;
        struct onnx_tensor *o = copy_tensor(in_const(cv, 0), NULL);
        return o ? cv_def_const(cv, 0, o) : cv_nomem(cv);
    }
    const char *ops = "+Add-Sub*Mul/Div^Pow";
    for (int i = 0; i < 5; i++)
        if (strncmp(op, ops + 4 * i + 1, 3) == 0 && op[3] == '\0') {
            *done = true;
            return fold_binary(cv, ops[4 * i]);
        }
    return QUANTA_OK;
}

/* Element-wise operators: the unary functions (Relu, Clip, Sigmoid, ...),
 * the binary ones with NumPy broadcasting (Add, Mul, PRelu, ...), Cast and
 * CastLike. Relu and relu6 are fused into the conv2d, dense, add or mul
 * before them when nothing else reads that value, and so is the Add of a
 * per-channel constant into a bias (MatMul + Add); x * Sigmoid(x) becomes
 * silu. */
#include "import/onnx_ops.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fuses activation act into the node producing x when that is allowed;
 * *fused true when done (the output then aliases x). */
static enum quanta_status try_fuse(struct cv *cv, const struct cv_value *x,
                                   enum graph_activation act, bool *fused)
{
    *fused = false;
    int p = cv_producer(cv, x->q);
    if (p < 0)
        return QUANTA_OK;
    struct graph_node *n = &cv->g->nodes[p];
    if (n->op != GRAPH_OP_CONV2D && n->op != GRAPH_OP_CONV3D && n->op != GRAPH_OP_DENSE &&
        n->op != GRAPH_OP_ADD && n->op != GRAPH_OP_MUL)
        return QUANTA_OK;
    if (!cv_sole_reader(cv, x->q))
        return QUANTA_OK;
    /* relu after relu or relu6 changes nothing; relu6 after relu is relu6 */
    if (n->attrs.activation == GRAPH_ACT_RELU6 ||
        (n->attrs.activation == GRAPH_ACT_RELU && act == GRAPH_ACT_RELU))
        act = n->attrs.activation;
    n->attrs.activation = act;
    *fused = true;
    return cv_def_new(cv, x);
}

/* A one-input element-wise node; *node (may be NULL) its index, for the
 * caller to set attrs beyond alpha. */
static enum quanta_status unary_node(struct cv *cv, enum graph_op op, float alpha, int *node)
{
    struct cv_value *x;
    enum quanta_status st = cv_need_act(cv, 0, &x);
    if (node)
        *node = -1;
    if (st)
        return st;
    if (op == GRAPH_OP_RELU || op == GRAPH_OP_RELU6) {
        bool fused;
        if ((st = try_fuse(cv, x, op == GRAPH_OP_RELU ? GRAPH_ACT_RELU : GRAPH_ACT_RELU6,
                           &fused)) || fused)
            return st;
    }
    struct cv_value proto = *x;
    struct quanta_shape s = cv->g->values[x->q].shape;
    int in = x->q, q, n;
    if ((st = cv_emit(cv, op, &in, 1, &s, &q, &n)))
        return st;
    cv->g->nodes[n].attrs.alpha = alpha;
    if (node)
        *node = n;
    proto.q = q;
    return cv_def_new(cv, &proto);
}

static enum quanta_status unary(struct cv *cv, enum graph_op op, float alpha)
{
    return unary_node(cv, op, alpha, NULL);
}

/* Element-wise functions without attributes, and those with alpha/beta/
 * gamma (the defaults of ONNX). */
enum quanta_status cv_op_math(struct cv *cv)
{
    static const struct {
        const char *name;
        enum graph_op op;
    } plain[] = {
        {"Neg", GRAPH_OP_NEG},   {"Abs", GRAPH_OP_ABS},   {"Exp", GRAPH_OP_EXP},
        {"Log", GRAPH_OP_LOG},   {"Sqrt", GRAPH_OP_SQRT}, {"Erf", GRAPH_OP_ERF},
        {"HardSwish", GRAPH_OP_HARD_SWISH},
    };
    static const char *const hs_attrs[] = {"alpha", "beta", NULL};
    static const char *const elu_attrs[] = {"alpha", NULL};
    static const char *const selu_attrs[] = {"alpha", "gamma", NULL};
    enum quanta_status st;
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
        if (cv_op_is(cv, plain[i].name))
            return (st = cv_check_attrs(cv, NULL)) ? st : unary(cv, plain[i].op, 0);
    float a, b;
    int n;
    if (cv_op_is(cv, "HardSigmoid")) {
        if ((st = cv_check_attrs(cv, hs_attrs)) || (st = cv_attr_float(cv, "alpha", 0.2f, &a)) ||
            (st = cv_attr_float(cv, "beta", 0.5f, &b)) ||
            (st = unary_node(cv, GRAPH_OP_HARD_SIGMOID, a, &n)))
            return st;
        cv->g->nodes[n].attrs.beta = b;
        return QUANTA_OK;
    }
    if (cv_op_is(cv, "Elu"))
        return (st = cv_check_attrs(cv, elu_attrs)) || (st = cv_attr_float(cv, "alpha", 1.0f, &a))
                   ? st
                   : unary(cv, GRAPH_OP_ELU, a);
    /* Selu */
    if ((st = cv_check_attrs(cv, selu_attrs)) ||
        (st = cv_attr_float(cv, "alpha", 1.67326319217681884765625f, &a)) ||
        (st = cv_attr_float(cv, "gamma", 1.05070102214813232421875f, &b)) ||
        (st = unary_node(cv, GRAPH_OP_SELU, a, &n)))
        return st;
    cv->g->nodes[n].attrs.gamma = b;
    return QUANTA_OK;
}

enum quanta_status cv_op_simple(struct cv *cv)
{
    enum quanta_status st = cv_check_attrs(cv, NULL);
    if (st)
        return st;
    if (cv_op_is(cv, "Relu"))
        return unary(cv, GRAPH_OP_RELU, 0);
    if (cv_op_is(cv, "Sigmoid"))
        return unary(cv, GRAPH_OP_SIGMOID, 0);
    return unary(cv, GRAPH_OP_TANH, 0);
}

enum quanta_status cv_op_leaky_relu(struct cv *cv)
{
    static const char *const attrs[] = {"alpha", NULL};
    float alpha;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_attr_float(cv, "alpha", 0.01f, &alpha)))
        return st;
    return unary(cv, GRAPH_OP_LEAKY_RELU, alpha);
}

/* Clip: [0, 6] is relu6, [0, +inf) relu; other bounds are refused. */
enum quanta_status cv_op_clip(struct cv *cv)
{
    static const char *const attrs_old[] = {"min", "max", NULL};
    float lo = -FLT_MAX, hi = FLT_MAX;
    enum quanta_status st;
    if (cv->m->opset < 11) {
        if ((st = cv_check_attrs(cv, attrs_old)) || (st = cv_attr_float(cv, "min", lo, &lo)) ||
            (st = cv_attr_float(cv, "max", hi, &hi)))
            return st;
    } else {
        if ((st = cv_check_attrs(cv, NULL)))
            return st;
        for (int k = 1; k <= 2; k++) {
            struct cv_value *v;
            const struct onnx_tensor *t;
            if ((st = cv_input(cv, k, &v)))
                return st;
            if (!v)
                continue;
            if ((st = cv_need_const(cv, k, k == 1 ? "min" : "max", &t)))
                return st;
            if (t->numel != 1)
                return cv_fail(cv, "bound '%s' must hold one value", t->name);
            *(k == 1 ? &lo : &hi) = (float)cv_tensor_f(t, 0);
        }
    }
    /* torch exports relu6 before opset 11 as Relu then Clip(max=6): a lower
     * bound at or below 0 changes nothing on a value that is never negative */
    if (lo < 0 && cv_input_nonnegative(cv))
        lo = 0;
    if (lo == 0 && hi == 6)
        return unary(cv, GRAPH_OP_RELU6, 0);
    if (lo == 0 && hi >= FLT_MAX)
        return unary(cv, GRAPH_OP_RELU, 0);
    if (!(lo <= hi))
        return cv_fail(cv, "bounds [%g, %g] are empty", (double)lo, (double)hi);
    int n;
    if ((st = unary_node(cv, GRAPH_OP_CLIP, 0, &n)))
        return st;
    cv->g->nodes[n].attrs.min = isfinite(lo) ? lo : -FLT_MAX;
    cv->g->nodes[n].attrs.max = isfinite(hi) ? hi : FLT_MAX;
    return QUANTA_OK;
}

/* The per-channel vector of constant c broadcast against activation x:
 * quanta's add/mul take b of a's shape or [C] along the last physical
 * axis. vec gets that axis' length. */
static enum quanta_status channel_vector(struct cv *cv, const struct cv_value *x,
                                         const struct onnx_tensor *c, float **vec, int64_t *len)
{
    char b1[128], b2[128];
    int r = x->shape.rank;
    if (r < 1 || c->shape.rank > r)
        return cv_fail(cv, "constant '%s' %s does not broadcast to '%s' %s", c->name,
                       quanta_shape_format(&c->shape, b1, sizeof b1), x->name,
                       quanta_shape_format(&x->shape, b2, sizeof b2));
    int last = x->flat ? 1 : x->perm[r - 1];
    int off = r - c->shape.rank;
    for (int i = 0; i < c->shape.rank; i++) {
        int64_t d = c->shape.dims[i], xd = x->shape.dims[i + off];
        if (d != 1 && d != xd)
            return cv_fail(cv, "constant '%s' %s does not broadcast to '%s' %s", c->name,
                           quanta_shape_format(&c->shape, b1, sizeof b1), x->name,
                           quanta_shape_format(&x->shape, b2, sizeof b2));
        if (d != 1 && i + off != last)
            return cv_fail(cv, "constant '%s' %s varies along axis %d of '%s' %s; quanta "
                               "broadcasts only along the channels (axis %d)",
                           c->name, quanta_shape_format(&c->shape, b1, sizeof b1), i + off,
                           x->name, quanta_shape_format(&x->shape, b2, sizeof b2), last);
    }
    int64_t n = x->shape.dims[last];
    if (n < 1 || last == 0)
        return cv_fail(cv, "cannot broadcast constant '%s' along the batch axis", c->name);
    float *v = malloc((size_t)n * sizeof *v + 1);
    if (!v)
        return cv_nomem(cv);
    bool varies = last - off >= 0 && c->shape.dims[last - off] == n && n > 1;
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)cv_tensor_f(c, varies ? i : 0);
    enum quanta_status st = QUANTA_OK;
    if (x->flat && varies)
        st = cv_permute_columns(cv, x, v, 1, n);
    if (st) {
        free(v);
        return st;
    }
    *vec = v;
    *len = n;
    return QUANTA_OK;
}

/* Adds vec to the bias of the conv2d/dense producing x, when nothing else
 * reads x and the producer has no activation. */
static enum quanta_status try_fold_bias(struct cv *cv, const struct cv_value *x, const float *vec,
                                        int64_t n, bool *folded)
{
    *folded = false;
    int p = cv_producer(cv, x->q);
    if (p < 0 || x->flat)
        return QUANTA_OK;
    struct graph_node *node = &cv->g->nodes[p];
    if ((node->op != GRAPH_OP_CONV2D && node->op != GRAPH_OP_DENSE) ||
        node->attrs.activation != GRAPH_ACT_NONE || node->n_inputs != 3 ||
        !cv_sole_reader(cv, x->q))
        return QUANTA_OK;
    int64_t o = cv->g->values[node->inputs[1]].shape.dims[0];
    if (o != n)
        return QUANTA_OK;
    if (node->inputs[2] < 0) {
        float *zero = calloc((size_t)n + 1, sizeof *zero);
        if (!zero)
            return cv_nomem(cv);
        char name[300];
        snprintf(name, sizeof name, "%s.bias", cv->g->nodes[p].name);
        int qb = cv_const_value(cv, name, zero, &(struct quanta_shape){.rank = 1, .dims = {n}});
        free(zero);
        if (qb < 0)
            return cv_nomem(cv);
        cv->g->nodes[p].inputs[2] = qb;
    }
    float *bias = cv->g->values[cv->g->nodes[p].inputs[2]].owned;
    for (int64_t i = 0; i < n; i++)
        bias[i] += vec[i];
    *folded = true;
    return cv_def_new(cv, x);
}

/* The quanta op of an ONNX binary operator. */
static enum graph_op binary_op(struct cv *cv)
{
    static const struct {
        const char *name;
        enum graph_op op;
    } ops[] = {
        {"Add", GRAPH_OP_ADD}, {"Sub", GRAPH_OP_SUB}, {"Mul", GRAPH_OP_MUL},
        {"Div", GRAPH_OP_DIV}, {"Pow", GRAPH_OP_POW}, {"Max", GRAPH_OP_MAX},
        {"Min", GRAPH_OP_MIN}, {"PRelu", GRAPH_OP_PRELU},
    };
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (cv_op_is(cv, ops[i].name))
            return ops[i].op;
    return GRAPH_OP_COUNT;
}

/* Whether constant c broadcasts against x as one value per channel (x's
 * last physical axis): the form of channel_vector, which the int8 add/mul
 * and the bias folding take. */
static bool fits_channel(const struct cv_value *x, const struct onnx_tensor *c)
{
    int r = x->shape.rank;
    if (r < 1 || c->shape.rank > r)
        return false;
    int last = x->flat ? 1 : x->perm[r - 1], off = r - c->shape.rank;
    for (int i = 0; i < c->shape.rank; i++) {
        int64_t d = c->shape.dims[i];
        if (d != 1 && (d != x->shape.dims[i + off] || i + off != last))
            return false;
    }
    return last != 0 && x->shape.dims[last] >= 1;
}

/* NumPy broadcast of two shapes of one rank (the batch -1 meets 1). */
static struct quanta_shape broadcast_shape(const struct quanta_shape *a,
                                           const struct quanta_shape *b)
{
    struct quanta_shape s = *a;
    for (int d = 0; d < s.rank; d++)
        if (s.dims[d] == 1)
            s.dims[d] = b->dims[d];
    return s;
}

static int const_like(struct cv *cv, const struct cv_value *x, const struct onnx_tensor *c,
                      struct quanta_shape *onnx_shape)
{
    return cv_const_like_axis(cv, x, c, -1, onnx_shape);
}

/* Add, Sub, Mul, Div, Pow, Max, Min, PRelu: NumPy broadcasting between two
 * activations of one rank or an activation and a constant. A per-channel
 * constant of Add/Sub/Mul/Div keeps the forms the int8 kernels run (and
 * Add's folding into a bias); anything else is laid out like the
 * activation and broadcast by the quanta op. */
/* Mul(x, Sigmoid(x)), either order, with the sigmoid read by this Mul
 * alone: the sigmoid node becomes one silu node. */
static enum quanta_status try_fuse_silu(struct cv *cv, const struct cv_value *a,
                                        const struct cv_value *b, bool *fused)
{
    *fused = false;
    for (int k = 0; k < 2; k++) {
        const struct cv_value *s = k ? a : b, *x = k ? b : a;
        int p = cv_producer(cv, s->q);
        if (p < 0 || cv->g->nodes[p].op != GRAPH_OP_SIGMOID || cv->g->nodes[p].inputs[0] != x->q ||
            !cv_sole_reader(cv, s->q))
            continue;
        enum quanta_status st = cv_retag_node(cv, p, GRAPH_OP_SILU);
        if (st)
            return st;
        *fused = true;
        return cv_def_new(cv, s);
    }
    return QUANTA_OK;
}

enum quanta_status cv_op_binary(struct cv *cv)
{
    struct cv_value *a, *b;
    enum quanta_status st;
    char b1[128], b2[128];
    enum graph_op op = binary_op(cv);
    if (cv->node->n_inputs != 2)
        return cv_fail(cv, "takes %d inputs; quanta takes two", cv->node->n_inputs);
    if ((st = cv_check_binary_attrs(cv)) || (st = cv_need(cv, 0, &a)) || (st = cv_need(cv, 1, &b)))
        return st;
    struct cv_value am, bm;
    struct onnx_tensor cview;
    if (!cv_plain(a) || !cv_plain(b)) {
        /* batch moved or merged: act-act of one layout, or a constant mapped
         * onto the finer axes */
        if (a->kind == CV_ACT) {
            am = *a;
            if ((st = cv_merge_groups(cv, &am)))
                return st;
            a = &am;
        }
        if (b->kind == CV_ACT) {
            bm = *b;
            if ((st = cv_merge_groups(cv, &bm)))
                return st;
            b = &bm;
        }
        if (a->kind == CV_ACT && b->kind == CV_ACT &&
            (!quanta_shape_equal(&a->shape, &b->shape) || a->n_onnx != b->n_onnx ||
             memcmp(a->group, b->group, sizeof a->group) != 0 ||
             cv_batch_axis(a) != cv_batch_axis(b)))
            return cv_fail(cv, "inputs '%s' and '%s' have the batch moved or merged differently",
                           a->name, b->name);
        struct cv_value *x = a->kind == CV_ACT ? a : b, *k = a->kind == CV_ACT ? b : a;
        if (k->kind == CV_CONST && x->n_onnx) {
            const struct onnx_tensor *c = k->c;
            int off = x->n_onnx - c->shape.rank;
            if (off < 0)
                return cv_fail(cv, "constant '%s' has a higher rank than '%s'", c->name, x->name);
            cview = *c;
            cview.shape.rank = 0;
            for (int i = 0; i < x->n_onnx; i++)
                for (int j = 0; j < x->group[i]; j++) {
                    int64_t d = i < off ? 1 : c->shape.dims[i - off];
                    if (x->group[i] > 1 && d != 1)
                        return cv_fail(cv, "constant '%s' varies along an axis merged with the "
                                           "batch",
                                       c->name);
                    cview.shape.dims[cview.shape.rank++] = x->group[i] > 1 ? 1 : d;
                }
            struct cv_value *kv = k == a ? &am : &bm;
            *kv = *k;
            kv->c = &cview;
            if (k == a)
                a = kv;
            else
                b = kv;
        }
    }
    if (a->kind == CV_ACT && b->kind == CV_ACT) {
        struct cv_value out = *a;
        int ins[2];
        bool fused;
        if (op == GRAPH_OP_MUL && ((st = try_fuse_silu(cv, a, b, &fused)) || fused))
            return st;
        if (quanta_shape_equal(&a->shape, &b->shape) && (a->flat || b->flat)) {
            bool same = a->flat && b->flat && quanta_shape_equal(&a->flat_shape, &b->flat_shape) &&
                        memcmp(a->flat_perm, b->flat_perm, sizeof a->flat_perm) == 0;
            if (!same)
                return cv_fail(cv, "inputs '%s' and '%s' hold their elements in different "
                                   "orders (one is a flattened NCHW tensor)",
                               a->name, b->name);
            ins[0] = a->q;
            ins[1] = b->q;
        } else {
            if (a->shape.rank != b->shape.rank || a->flat || b->flat)
                return cv_fail(cv, "inputs '%s' %s and '%s' %s: quanta broadcasts activations "
                                   "of one rank",
                               a->name, quanta_shape_format(&a->shape, b1, sizeof b1), b->name,
                               quanta_shape_format(&b->shape, b2, sizeof b2));
            /* both in the layout of the operand that has the result's shape */
            struct quanta_shape bs = broadcast_shape(&a->shape, &b->shape);
            const struct cv_value *lead = quanta_shape_equal(&bs, &a->shape) ? a : b;
            out = *lead;
            out.shape = bs;
            if ((st = cv_materialize(cv, a, lead->perm, &ins[0])) ||
                (st = cv_materialize(cv, b, lead->perm, &ins[1])))
                return st;
        }
        struct quanta_shape s = broadcast_shape(&cv->g->values[ins[0]].shape,
                                                &cv->g->values[ins[1]].shape);
        if ((st = cv_emit(cv, op, ins, 2, &s, &out.q, NULL)))
            return st;
        return cv_def_new(cv, &out);
    }
    bool const_first = a->kind == CV_CONST;
    struct cv_value *x = const_first ? b : a;
    const struct onnx_tensor *c = const_first ? a->c : b->c;
    if ((st = cv_need_f32(cv, c, "constant")))
        return st;
    bool channel_form = (op == GRAPH_OP_ADD || op == GRAPH_OP_MUL ||
                         ((op == GRAPH_OP_SUB || op == GRAPH_OP_DIV) && !const_first)) &&
                        fits_channel(x, c);
    if (!channel_form) {
        struct quanta_shape cshape;
        int qc = const_like(cv, x, c, &cshape);
        if (qc < 0)
            return cv->err->status;
        int qx = x->q;
        if ((st = cv_materialize(cv, x, x->perm, &qx)))
            return st;
        int ins[2] = {const_first ? qc : qx, const_first ? qx : qc};
        struct cv_value out = *x;
        out.shape = broadcast_shape(&x->shape, &cshape);
        struct quanta_shape s = broadcast_shape(&cv->g->values[qx].shape,
                                                &cv->g->values[qc].shape);
        if ((st = cv_emit(cv, op, ins, 2, &s, &out.q, NULL)))
            return st;
        return cv_def_new(cv, &out);
    }
    float *vec = NULL;
    int64_t n = 0;
    if ((st = channel_vector(cv, x, c, &vec, &n)))
        return st;
    for (int64_t i = 0; i < n; i++) {
        if (op == GRAPH_OP_SUB)
            vec[i] = -vec[i];
        else if (op == GRAPH_OP_DIV)
            vec[i] = 1.0f / vec[i];
    }
    bool add = op == GRAPH_OP_ADD || op == GRAPH_OP_SUB;
    bool folded = false;
    if (add && (st = try_fold_bias(cv, x, vec, n, &folded))) {
        free(vec);
        return st;
    }
    if (folded) {
        free(vec);
        return QUANTA_OK;
    }
    int qx = x->q;
    if (!x->flat && (st = cv_materialize(cv, x, x->perm, &qx))) {
        free(vec);
        return st;
    }
    int qc = cv_const_value(cv, const_first ? cv->node->inputs[0] : cv->node->inputs[1], vec,
                            &(struct quanta_shape){.rank = 1, .dims = {n}});
    free(vec);
    if (qc < 0)
        return cv_nomem(cv);
    struct cv_value out = *x;
    struct quanta_shape s = cv->g->values[qx].shape;
    int ins[2] = {qx, qc};
    if ((st = cv_emit(cv, add ? GRAPH_OP_ADD : GRAPH_OP_MUL, ins, 2, &s, &out.q, NULL)))
        return st;
    return cv_def_new(cv, &out);
}

/* Cast and CastLike. Activations are held as float whatever their ONNX
 * type: a cast whose result holds the same values folds away (to FLOAT or
 * DOUBLE, which keeps float32 precision; to an integer type that holds
 * every value of the source type); the others become a cast node that
 * rounds to the target's values (FLOAT16 to nearest, ties to even;
 * integers toward zero, a value out of range being a run-time error). */
enum quanta_status cv_op_cast(struct cv *cv)
{
    static const char *const attrs[] = {"to", "saturate", NULL};
    static const char *const attrs_like[] = {"saturate", NULL};
    bool like = strcmp(cv->node->op_type, "CastLike") == 0;
    struct cv_value *x, *t;
    int64_t to = 0;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, like ? attrs_like : attrs)) || (st = cv_need_act(cv, 0, &x)))
        return st;
    if (like) {
        if ((st = cv_need(cv, 1, &t)))
            return st;
        to = t->kind == CV_CONST ? t->c->data_type : t->elem ? t->elem : ONNX_FLOAT;
    } else if ((st = cv_attr_int(cv, "to", 0, &to))) {
        return st;
    }
    enum quanta_dtype xdt = cv->g->values[x->q].dtype;
    if (xdt == QUANTA_I64 || xdt == QUANTA_I32) {
        /* ids stay ids through a cast to an integer type that holds them */
        if (to == ONNX_INT64 || (to == ONNX_INT32 && xdt == QUANTA_I32))
            return cv_def_new(cv, x);
        /* else read as numbers (float32, as ONNX rounds INT64 to FLOAT) */
    } else if (xdt != QUANTA_F32) {
        return cv_fail(cv, "cast of '%s' (%s) is not supported", x->name,
                       quanta_dtype_name(xdt));
    }
    bool ids = xdt != QUANTA_F32;
    int from = ids ? ONNX_INT64 : x->elem ? x->elem : ONNX_FLOAT;
    bool small = from == ONNX_UINT8 || from == ONNX_INT8 || from == ONNX_BOOL;
    bool integer = small || from == ONNX_INT16;
    enum quanta_dtype qto;
    bool same; /* every value of from is a value of to */
    switch (to) {
    case ONNX_FLOAT:
    case ONNX_DOUBLE: qto = QUANTA_F32; same = !ids; break;
    case ONNX_FLOAT16: qto = QUANTA_F16; same = small; break;
    case ONNX_UINT8: qto = QUANTA_U8; same = from == ONNX_UINT8 || from == ONNX_BOOL; break;
    case ONNX_INT8: qto = QUANTA_I8; same = from == ONNX_INT8 || from == ONNX_BOOL; break;
    case ONNX_INT16: qto = QUANTA_I16; same = integer && !ids; break;
    case ONNX_INT32: qto = QUANTA_I32; same = integer && !ids; break;
    case ONNX_INT64: qto = QUANTA_I64; same = integer && !ids; break;
    case ONNX_BOOL: qto = QUANTA_BOOL; same = from == ONNX_BOOL; break;
    default:
        return cv_fail(cv, "cast of activations to %s is not supported",
                       onnx_data_type_name((int)to));
    }
    struct cv_value out = *x;
    out.elem = to == ONNX_FLOAT ? 0 : (int)to;
    if (same)
        return cv_def_new(cv, &out);
    int n, qx = x->q;
    struct quanta_shape shape = cv->g->values[qx].shape; /* values may move as cv_emit adds */
    if ((st = cv_emit(cv, GRAPH_OP_CAST, &qx, 1, &shape, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.to = qto;
    return cv_def_new(cv, &out);
}

/* Shape rules of model-format.md section 3, one function per op family.
 * Layout is NHWC; dims[0] == -1 is the batch of any size. Each rule checks
 * the shapes of the node's inputs and gives the shape of its output. */
#include "graph/graph_internal.h"

#include <stdio.h>
#include <string.h>

#define SHAPE_BUF 128

static const char *shape_str(const struct quanta_shape *s, char *buf)
{
    return quanta_shape_format(s, buf, SHAPE_BUF);
}

static struct quanta_shape shape_of(int rank, const int64_t *dims)
{
    struct quanta_shape s;
    memset(&s, 0, sizeof s);
    s.rank = rank;
    for (int i = 0; i < rank; i++)
        s.dims[i] = dims[i];
    return s;
}

static enum quanta_status need_rank(const struct graph_check *c, int i, const char *role,
                                    int rank, const char *layout)
{
    const struct graph_value *v = c->in[i];
    char buf[SHAPE_BUF];
    if (v->shape.rank == rank)
        return QUANTA_OK;
    return graph_node_fail(c, "%s '%s' has shape %s but %s is needed", role, v->name,
                           shape_str(&v->shape, buf), layout);
}

/* An optional bias (or batch_norm parameter) must be [n]. */
static enum quanta_status need_vector(const struct graph_check *c, int i, const char *role,
                                      int64_t n)
{
    const struct graph_value *v = c->in[i];
    char buf[SHAPE_BUF];
    if (!v || (v->shape.rank == 1 && v->shape.dims[0] == n))
        return QUANTA_OK;
    return graph_node_fail(c, "%s '%s' has shape %s but [%lld] is needed", role, v->name,
                           shape_str(&v->shape, buf), (long long)n);
}

/* Input i, when present, is a residual added to the output (graph_optimize.h):
 * a float activation of the output's shape. */
static enum quanta_status need_residual(const struct graph_check *c, int i,
                                        const struct quanta_shape *out)
{
    const struct graph_value *v = i < c->n_in ? c->in[i] : NULL;
    char buf[SHAPE_BUF], want[SHAPE_BUF];
    if (!v)
        return QUANTA_OK;
    if (v->quant.dtype != QUANTA_DTYPE_INVALID)
        return graph_node_fail(c, "residual '%s' is quantized but only float is added", v->name);
    if (!quanta_shape_equal(&v->shape, out))
        return graph_node_fail(c, "residual '%s' has shape %s but the output's %s is needed",
                               v->name, shape_str(&v->shape, buf), shape_str(out, want));
    return QUANTA_OK;
}

/* Output size of a window sliding over one spatial axis:
 * floor((in + pad_a + pad_b - dilation*(kernel-1) - 1) / stride) + 1. */
static enum quanta_status window_out(const struct graph_check *c, const char *axis, int64_t in,
                                     int pad_a, int pad_b, int64_t kernel, int dilation,
                                     int stride, int64_t *out)
{
    int64_t span = in + pad_a + pad_b;
    int64_t reach;
    if (__builtin_mul_overflow(kernel - 1, (int64_t)dilation, &reach) || reach >= span) {
        return graph_node_fail(c, "output %s would be < 1: input %s %lld with pads %d+%d is "
                                  "smaller than kernel %lld at dilation %d",
                               axis, axis, (long long)in, pad_a, pad_b, (long long)kernel,
                               dilation);
    }
    *out = (span - reach - 1) / stride + 1;
    return QUANTA_OK;
}

enum quanta_status graph_shape_conv2d(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_attrs *a = &c->node->attrs;
    const struct graph_value *x = c->in[0], *w = c->in[1];
    char buf[SHAPE_BUF];
    enum quanta_status st;

    if ((st = need_rank(c, 0, "input", 4, "[N, H, W, C] (NHWC)")) ||
        (st = need_rank(c, 1, "weight", 4, "[O, KH, KW, C/groups]")))
        return st;
    int64_t ch = x->shape.dims[3], groups = a->groups;
    int64_t oc = w->shape.dims[0], kh = w->shape.dims[1], kw = w->shape.dims[2];
    if (ch % groups != 0)
        return graph_node_fail(c, "input '%s' has %lld channels, not a multiple of groups %d",
                               x->name, (long long)ch, a->groups);
    if (w->shape.dims[3] != ch / groups)
        return graph_node_fail(c, "weight '%s' has shape %s but [O, KH, KW, %lld] is needed "
                                  "(C/groups = %lld/%d)",
                               w->name, shape_str(&w->shape, buf), (long long)(ch / groups),
                               (long long)ch, a->groups);
    if (oc < 1 || kh < 1 || kw < 1)
        return graph_node_fail(c, "weight '%s' has shape %s with an empty dimension", w->name,
                               shape_str(&w->shape, buf));
    if (oc % groups != 0)
        return graph_node_fail(c, "weight '%s' has %lld output channels, not a multiple of "
                                  "groups %d",
                               w->name, (long long)oc, a->groups);
    if ((st = need_vector(c, 2, "bias", oc)))
        return st;
    int64_t dims[4] = {x->shape.dims[0], 0, 0, oc};
    if ((st = window_out(c, "height", x->shape.dims[1], a->pads[0], a->pads[2], kh,
                         a->dilations[0], a->strides[0], &dims[1])) ||
        (st = window_out(c, "width", x->shape.dims[2], a->pads[1], a->pads[3], kw,
                         a->dilations[1], a->strides[1], &dims[2])))
        return st;
    *out = shape_of(4, dims);
    return need_residual(c, 3, out);
}

enum quanta_status graph_shape_dense(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_value *x = c->in[0], *w = c->in[1];
    char buf[SHAPE_BUF];
    enum quanta_status st;

    /* x [..., K] (rank >= 2): the same weights for every leading index */
    if (x->shape.rank < 2)
        return graph_node_fail(c, "input '%s' has shape %s but [N, ..., K] is needed", x->name,
                               shape_str(&x->shape, buf));
    if ((st = need_rank(c, 1, "weight", 2, "[O, K]")))
        return st;
    int64_t k = x->shape.dims[x->shape.rank - 1];
    if (w->shape.dims[1] != k || w->shape.dims[0] < 1)
        return graph_node_fail(c, "weight '%s' has shape %s but [O, %lld] is needed", w->name,
                               shape_str(&w->shape, buf), (long long)k);
    if ((st = need_vector(c, 2, "bias", w->shape.dims[0])))
        return st;
    *out = x->shape;
    out->dims[out->rank - 1] = w->shape.dims[0];
    return need_residual(c, 3, out);
}

enum quanta_status graph_shape_same(const struct graph_check *c, struct quanta_shape *out)
{
    *out = c->in[0]->shape;
    return QUANTA_OK;
}

enum quanta_status graph_shape_pool(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_attrs *a = &c->node->attrs;
    const struct graph_value *x = c->in[0];
    enum quanta_status st;

    if ((st = need_rank(c, 0, "input", 4, "[N, H, W, C] (NHWC)")))
        return st;
    /* A window made only of padding would average zero cells. */
    if (a->pads[0] >= a->kernel[0] || a->pads[2] >= a->kernel[0] ||
        a->pads[1] >= a->kernel[1] || a->pads[3] >= a->kernel[1])
        return graph_node_fail(c, "attr 'pads' [%d, %d, %d, %d] must be smaller than the "
                                  "kernel [%d, %d]",
                               a->pads[0], a->pads[1], a->pads[2], a->pads[3], a->kernel[0],
                               a->kernel[1]);
    int64_t dims[4] = {x->shape.dims[0], 0, 0, x->shape.dims[3]};
    if ((st = window_out(c, "height", x->shape.dims[1], a->pads[0], a->pads[2], a->kernel[0], 1,
                         a->strides[0], &dims[1])) ||
        (st = window_out(c, "width", x->shape.dims[2], a->pads[1], a->pads[3], a->kernel[1], 1,
                         a->strides[1], &dims[2])))
        return st;
    *out = shape_of(4, dims);
    return QUANTA_OK;
}

/* ---- 3-D windows (NDHWC) ---- */

static enum quanta_status window_out_3d(const struct graph_check *c, const int64_t *in,
                                        const int64_t *kernel, const int *dilations,
                                        int64_t *out)
{
    static const char *const axis[3] = {"depth", "height", "width"};
    const struct graph_attrs *a = &c->node->attrs;
    enum quanta_status st = QUANTA_OK;
    for (int i = 0; !st && i < 3; i++)
        st = window_out(c, axis[i], in[i], a->pads[i], a->pads[i + 3], kernel[i], dilations[i],
                        a->strides[i], &out[i]);
    return st;
}

enum quanta_status graph_shape_conv3d(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_attrs *a = &c->node->attrs;
    const struct graph_value *x = c->in[0], *w = c->in[1];
    char buf[SHAPE_BUF];
    enum quanta_status st;

    if ((st = need_rank(c, 0, "input", 5, "[N, D, H, W, C] (NDHWC)")) ||
        (st = need_rank(c, 1, "weight", 5, "[O, KD, KH, KW, C/groups]")))
        return st;
    int64_t ch = x->shape.dims[4], groups = a->groups, oc = w->shape.dims[0];
    if (ch % groups != 0)
        return graph_node_fail(c, "input '%s' has %lld channels, not a multiple of groups %d",
                               x->name, (long long)ch, a->groups);
    if (w->shape.dims[4] != ch / groups)
        return graph_node_fail(c, "weight '%s' has shape %s but [O, KD, KH, KW, %lld] is "
                                  "needed (C/groups = %lld/%d)",
                               w->name, shape_str(&w->shape, buf), (long long)(ch / groups),
                               (long long)ch, a->groups);
    for (int i = 0; i < 4; i++)
        if (w->shape.dims[i] < 1)
            return graph_node_fail(c, "weight '%s' has shape %s with an empty dimension",
                                   w->name, shape_str(&w->shape, buf));
    if (oc % groups != 0)
        return graph_node_fail(c, "weight '%s' has %lld output channels, not a multiple of "
                                  "groups %d",
                               w->name, (long long)oc, a->groups);
    if ((st = need_vector(c, 2, "bias", oc)))
        return st;
    int64_t dims[5] = {x->shape.dims[0], 0, 0, 0, oc};
    if ((st = window_out_3d(c, x->shape.dims + 1, w->shape.dims + 1, a->dilations, dims + 1)))
        return st;
    *out = shape_of(5, dims);
    return QUANTA_OK;
}

enum quanta_status graph_shape_pool3d(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_attrs *a = &c->node->attrs;
    const struct graph_value *x = c->in[0];
    enum quanta_status st;

    if ((st = need_rank(c, 0, "input", 5, "[N, D, H, W, C] (NDHWC)")))
        return st;
    /* A window made only of padding would have no cell to take. */
    for (int i = 0; i < 6; i++)
        if (a->pads[i] >= a->kernel[i % 3])
            return graph_node_fail(c, "attr 'pads' [%d, %d, %d, %d, %d, %d] must be smaller "
                                      "than the kernel [%d, %d, %d]",
                                   a->pads[0], a->pads[1], a->pads[2], a->pads[3], a->pads[4],
                                   a->pads[5], a->kernel[0], a->kernel[1], a->kernel[2]);
    const int64_t kernel[3] = {a->kernel[0], a->kernel[1], a->kernel[2]};
    const int unit[3] = {1, 1, 1};
    const int *dil = c->node->op == GRAPH_OP_MAX_POOL3D ? a->dilations : unit;
    int64_t dims[5] = {x->shape.dims[0], 0, 0, 0, x->shape.dims[4]};
    if ((st = window_out_3d(c, x->shape.dims + 1, kernel, dil, dims + 1)))
        return st;
    *out = shape_of(5, dims);
    return QUANTA_OK;
}

enum quanta_status graph_shape_global_pool(const struct graph_check *c, struct quanta_shape *out)
{
    enum quanta_status st = need_rank(c, 0, "input", 4, "[N, H, W, C] (NHWC)");
    if (st)
        return st;
    int64_t dims[2] = {c->in[0]->shape.dims[0], c->in[0]->shape.dims[3]};
    *out = shape_of(2, dims);
    return QUANTA_OK;
}

/* Product of dims[from..]; -1 on overflow. */
static int64_t numel_from(const struct quanta_shape *s, int from)
{
    struct quanta_shape rest = shape_of(s->rank - from, s->dims + from);
    return quanta_shape_numel(&rest);
}

enum quanta_status graph_shape_flatten(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_value *x = c->in[0];
    char buf[SHAPE_BUF];
    if (x->shape.rank < 1)
        return graph_node_fail(c, "input '%s' has shape %s but [N, ...] is needed", x->name,
                               shape_str(&x->shape, buf));
    int64_t dims[2] = {x->shape.dims[0], numel_from(&x->shape, 1)};
    *out = shape_of(2, dims);
    return QUANTA_OK;
}

enum quanta_status graph_shape_reshape(const struct graph_check *c, struct quanta_shape *out)
{
    const struct quanta_shape *to = &c->node->attrs.shape;
    const struct graph_value *x = c->in[0];
    char buf[SHAPE_BUF], buf2[SHAPE_BUF];
    bool keep_batch = to->dims[0] == -1;

    if (x->shape.rank > 0 && x->shape.dims[0] == -1 && !keep_batch)
        return graph_node_fail(c, "input '%s' has shape %s with any batch size, so attr "
                                  "'shape' must start with -1",
                               x->name, shape_str(&x->shape, buf));
    if (keep_batch && x->shape.rank < 1)
        return graph_node_fail(c, "input '%s' is a scalar, it has no batch for -1 to keep",
                               x->name);
    int from = keep_batch ? 1 : 0;
    if (numel_from(&x->shape, from) != numel_from(to, from))
        return graph_node_fail(c, "cannot reshape input '%s' %s to %s: element counts differ",
                               x->name, shape_str(&x->shape, buf), shape_str(to, buf2));
    *out = *to;
    if (keep_batch)
        out->dims[0] = x->shape.dims[0];
    return QUANTA_OK;
}

/* NumPy broadcasting of the first ra axes of a and rb axes of b (aligned
 * at their last): along each axis the extents are equal or one of them is
 * 1; the batch extent -1 meets -1 or 1 only. Fills out->dims[0..rank) and
 * returns -1, or the first axis that does not broadcast. */
static int broadcast_axes(const struct quanta_shape *a, int ra, const struct quanta_shape *b,
                          int rb, struct quanta_shape *out)
{
    int rank = ra > rb ? ra : rb;
    for (int d = 0; d < rank; d++) {
        int ka = d - (rank - ra), kb = d - (rank - rb);
        int64_t da = ka >= 0 ? a->dims[ka] : 1, db = kb >= 0 ? b->dims[kb] : 1;
        if (da != db && da != 1 && db != 1)
            return d;
        out->dims[d] = da == 1 ? db : da;
    }
    out->rank = rank;
    return -1;
}

enum quanta_status graph_shape_binary(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_value *a = c->in[0], *b = c->in[1];
    char buf[SHAPE_BUF], buf2[SHAPE_BUF];
    const struct quanta_shape *sa = &a->shape, *sb = &b->shape;
    int bad = broadcast_axes(sa, sa->rank, sb, sb->rank, out);
    if (bad >= 0) {
        int rank = sa->rank > sb->rank ? sa->rank : sb->rank;
        int ka = bad - (rank - sa->rank), kb = bad - (rank - sb->rank);
        return graph_node_fail(c, "inputs '%s' %s and '%s' %s do not broadcast (axis %d of the "
                                  "result: %lld against %lld)",
                               a->name, shape_str(sa, buf), b->name, shape_str(sb, buf2), bad,
                               (long long)(ka >= 0 ? sa->dims[ka] : 1),
                               (long long)(kb >= 0 ? sb->dims[kb] : 1));
    }
    return QUANTA_OK;
}

/* Normalizes a possibly negative axis against rank; false if out of range. */
static bool norm_axis(int axis, int rank, int *out)
{
    if (axis < -rank || axis >= rank)
        return false;
    *out = axis < 0 ? axis + rank : axis;
    return true;
}

/* A constant input whose dim 0 is 1 where the others have the batch is
 * repeated over the batch (NumPy broadcasting of that axis). */
enum quanta_status graph_shape_concat(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_value *x0 = c->in[0];
    for (int i = 0; i < c->n_in; i++)
        if (c->in[i]->kind != GRAPH_VALUE_CONST) {
            x0 = c->in[i];
            break;
        }
    int rank = x0->shape.rank, axis;
    char buf[SHAPE_BUF], buf2[SHAPE_BUF];

    if (!norm_axis(c->node->attrs.axis, rank, &axis))
        return graph_node_fail(c, "attr 'axis' %d is out of range for rank %d",
                               c->node->attrs.axis, rank);
    *out = x0->shape;
    out->dims[axis] = 0;
    for (int i = 0; i < c->n_in; i++) {
        const struct graph_value *x = c->in[i];
        bool match = x->shape.rank == rank;
        for (int d = 0; match && d < rank; d++)
            match = d == axis || x->shape.dims[d] == x0->shape.dims[d] ||
                    (d == 0 && x0->shape.dims[0] < 0 && x->shape.dims[0] == 1 &&
                     x->kind == GRAPH_VALUE_CONST);
        if (!match)
            return graph_node_fail(c, "input '%s' has shape %s but only axis %d may differ "
                                      "from '%s' %s",
                                   x->name, shape_str(&x->shape, buf), axis, x0->name,
                                   shape_str(&x0->shape, buf2));
        if (x->shape.dims[axis] < 0)
            return graph_node_fail(c, "cannot concatenate along the batch axis of '%s' whose "
                                      "size is any",
                                   x->name);
        if (__builtin_add_overflow(out->dims[axis], x->shape.dims[axis], &out->dims[axis]))
            return graph_node_fail(c, "concatenated size overflows");
    }
    return QUANTA_OK;
}

enum quanta_status graph_shape_softmax(const struct graph_check *c, struct quanta_shape *out)
{
    int axis;
    if (!norm_axis(c->node->attrs.axis, c->in[0]->shape.rank, &axis))
        return graph_node_fail(c, "attr 'axis' %d is out of range for rank %d",
                               c->node->attrs.axis, c->in[0]->shape.rank);
    *out = c->in[0]->shape;
    return QUANTA_OK;
}

enum quanta_status graph_shape_batch_norm(const struct graph_check *c, struct quanta_shape *out)
{
    static const char *const names[] = {"gamma", "beta", "mean", "var"};
    const struct graph_value *x = c->in[0];
    char buf[SHAPE_BUF];
    enum quanta_status st;

    if (x->shape.rank < 1)
        return graph_node_fail(c, "input '%s' has shape %s but [..., C] is needed", x->name,
                               shape_str(&x->shape, buf));
    for (int i = 1; i <= 4; i++)
        if ((st = need_vector(c, i, names[i - 1], x->shape.dims[x->shape.rank - 1])))
            return st;
    *out = x->shape;
    return QUANTA_OK;
}

/* cast: every element to the values of dtype to (still held as float);
 * ids (I32, I64) may also be cast to F32. */
enum quanta_status graph_shape_cast(const struct graph_check *c, struct quanta_shape *out)
{
    enum quanta_dtype to = c->node->attrs.to;
    bool ids = c->in[0]->dtype == QUANTA_I32 || c->in[0]->dtype == QUANTA_I64;
    if (to != QUANTA_F16 && to != QUANTA_BF16 && to != QUANTA_I8 && to != QUANTA_U8 &&
        to != QUANTA_I16 && to != QUANTA_I32 && to != QUANTA_I64 && to != QUANTA_BOOL &&
        !(to == QUANTA_F32 && ids))
        return graph_node_fail(c, "attr 'to' is %s but F16, BF16, I8, U8, I16, I32, I64 or BOOL "
                                  "(or F32 for ids) is needed",
                               quanta_dtype_name(to));
    *out = c->in[0]->shape;
    return QUANTA_OK;
}

/* layer_norm: over the axes from 'axis' to the last (not the batch);
 * scale and bias have exactly the shape of those axes. */
enum quanta_status graph_shape_layer_norm(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_value *x = c->in[0];
    const int r = x->shape.rank;
    int axis = c->node->attrs.axis < 0 ? c->node->attrs.axis + r : c->node->attrs.axis;
    char buf[SHAPE_BUF], want_s[SHAPE_BUF];
    if (axis < 1 || axis >= r)
        return graph_node_fail(c, "attr 'axis' %d must name an axis of '%s' after the batch "
                                  "(1 to %d, or negative)",
                               c->node->attrs.axis, x->name, r - 1);
    struct quanta_shape want = {.rank = r - axis};
    for (int d = axis; d < r; d++)
        want.dims[d - axis] = x->shape.dims[d];
    for (int k = 1; k < c->n_in; k++) {
        const struct graph_value *p = c->in[k];
        if (p && !quanta_shape_equal(&p->shape, &want))
            return graph_node_fail(c, "%s '%s' has shape %s but %s is needed",
                                   k == 1 ? "scale" : "bias", p->name, shape_str(&p->shape, buf),
                                   shape_str(&want, want_s));
    }
    *out = x->shape;
    return QUANTA_OK;
}

/* instance_norm: x [N, ..., C] normalized over the axes between the batch
 * and the channels, per sample and channel; scale and bias [C]. */
enum quanta_status graph_shape_instance_norm(const struct graph_check *c,
                                             struct quanta_shape *out)
{
    const struct graph_value *x = c->in[0];
    char buf[SHAPE_BUF];
    enum quanta_status st;
    if (x->shape.rank < 3)
        return graph_node_fail(c, "input '%s' has shape %s but [N, ..., C] (rank 3 or more) is "
                                  "needed",
                               x->name, shape_str(&x->shape, buf));
    if ((st = need_vector(c, 1, "scale", x->shape.dims[x->shape.rank - 1])) ||
        (st = need_vector(c, 2, "bias", x->shape.dims[x->shape.rank - 1])))
        return st;
    *out = x->shape;
    return QUANTA_OK;
}

enum quanta_status graph_shape_embedding(const struct graph_check *c, struct quanta_shape *out)
{
    enum quanta_status st;
    if ((st = need_rank(c, 0, "ids", 2, "[N, T]")) ||
        (st = need_rank(c, 1, "table", 2, "[V, D]")))
        return st;
    int64_t dims[3] = {c->in[0]->shape.dims[0], c->in[0]->shape.dims[1],
                       c->in[1]->shape.dims[1]};
    *out = shape_of(3, dims);
    return QUANTA_OK;
}

void graph_bag_inputs(const struct graph *g, const struct graph_node *n, int *offsets,
                      int *weights)
{
    *offsets = *weights = -1;
    for (int k = 2; k < n->n_inputs; k++) {
        int v = n->inputs[k];
        if (v < 0)
            continue;
        enum quanta_dtype t = g->values[v].dtype;
        bool ids = g->values[v].quant.dtype == QUANTA_DTYPE_INVALID &&
                   (t == QUANTA_I32 || t == QUANTA_I64);
        /* position 2 holds offsets, or the weights when offsets are left out */
        if (k == 2 && ids)
            *offsets = v;
        else
            *weights = v;
    }
}

/* ids [N, T] (bags of T), or ids [L] with offsets [N] (bag i: ids
 * offsets[i] .. offsets[i+1] - 1, the last to L); table [V, D]; optional
 * per-sample weights shaped as ids (mode sum only). Out [N, D]. */
enum quanta_status graph_shape_embedding_bag(const struct graph_check *c,
                                             struct quanta_shape *out)
{
    const struct graph_value *ids = c->in[0];
    char buf[SHAPE_BUF], buf2[SHAPE_BUF];
    enum quanta_status st;
    int off, w;
    graph_bag_inputs(c->g, c->node, &off, &w);
    if ((st = need_rank(c, 1, "table", 2, "[V, D]")))
        return st;
    if (c->n_in > 3 && c->node->inputs[2] >= 0 && off < 0)
        return graph_node_fail(c, "input 2 '%s' must be integer offsets",
                               c->g->values[c->node->inputs[2]].name);
    int64_t n;
    if (off >= 0) {
        const struct graph_value *o = &c->g->values[off];
        if (ids->shape.rank != 1 || o->shape.rank != 1)
            return graph_node_fail(c, "with offsets, ids '%s' %s and offsets '%s' %s must be "
                                      "1-D ([L] and [N])",
                                   ids->name, shape_str(&ids->shape, buf), o->name,
                                   shape_str(&o->shape, buf2));
        if (ids->shape.dims[0] < 0 && o->shape.dims[0] < 0)
            return graph_node_fail(c, "ids '%s' and offsets '%s' both have the batch axis; the "
                                      "ids' length must be fixed (the bags are the batch)",
                                   ids->name, o->name);
        n = o->shape.dims[0];
    } else {
        if ((st = need_rank(c, 0, "ids", 2, "[N, T] (or [L] with offsets)")))
            return st;
        n = ids->shape.dims[0];
    }
    if (w >= 0) {
        const struct graph_value *wv = &c->g->values[w];
        if (c->node->attrs.mode != GRAPH_MODE_SUM)
            return graph_node_fail(c, "per-sample weights '%s' need mode \"sum\"", wv->name);
        bool same = wv->shape.rank == ids->shape.rank;
        for (int i = 0; same && i < ids->shape.rank; i++)
            same = wv->shape.dims[i] == ids->shape.dims[i];
        if (!same)
            return graph_node_fail(c, "per-sample weights '%s' have shape %s but the ids' %s is "
                                      "needed",
                                   wv->name, shape_str(&wv->shape, buf),
                                   shape_str(&ids->shape, buf2));
    }
    int64_t dims[2] = {n, c->in[1]->shape.dims[1]};
    *out = shape_of(2, dims);
    return QUANTA_OK;
}

enum quanta_status graph_shape_mean(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_attrs *a = &c->node->attrs;
    const struct graph_value *x = c->in[0];
    int rank = x->shape.rank;
    bool reduce[QUANTA_MAX_RANK] = {false};

    for (int i = 0; i < a->n_axes; i++) {
        int axis;
        if (!norm_axis(a->axes[i], rank, &axis))
            return graph_node_fail(c, "attr 'axes' has %d, out of range for rank %d",
                                   a->axes[i], rank);
        if (reduce[axis])
            return graph_node_fail(c, "attr 'axes' names axis %d twice", axis);
        if (x->shape.dims[axis] < 0)
            return graph_node_fail(c, "attr 'axes' reduces the batch axis of '%s' whose size "
                                      "is any",
                                   x->name);
        reduce[axis] = true;
    }
    memset(out, 0, sizeof *out);
    for (int d = 0; d < rank; d++) {
        if (!reduce[d])
            out->dims[out->rank++] = x->shape.dims[d];
        else if (a->keepdims)
            out->dims[out->rank++] = 1;
    }
    return QUANTA_OK;
}

/* argmax, argmin: one axis, as mean's shape. */
enum quanta_status graph_shape_argmax(const struct graph_check *c, struct quanta_shape *out)
{
    if (c->node->attrs.n_axes != 1)
        return graph_node_fail(c, "attr 'axes' must name exactly one axis");
    return graph_shape_mean(c, out);
}

enum quanta_status graph_shape_transpose(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_attrs *a = &c->node->attrs;
    const struct graph_value *x = c->in[0];
    int rank = x->shape.rank;
    bool seen[QUANTA_MAX_RANK] = {false};
    if (a->n_perm != rank)
        return graph_node_fail(c, "attr 'perm' has %d entries but '%s' has rank %d", a->n_perm,
                               x->name, rank);
    for (int i = 0; i < rank; i++) {
        int p = a->perm[i];
        if (p < 0 || p >= rank || seen[p])
            return graph_node_fail(c, "attr 'perm' is not a permutation of 0..%d", rank - 1);
        seen[p] = true;
    }
    if (rank > 0 && x->shape.dims[0] < 0 && a->perm[0] != 0)
        return graph_node_fail(c, "attr 'perm' moves the batch axis of '%s', whose size is any; "
                                  "fix the batch size (quanta import --input-shape)",
                               x->name);
    out->rank = rank;
    for (int i = 0; i < rank; i++)
        out->dims[i] = x->shape.dims[a->perm[i]];
    return QUANTA_OK;
}

/* slice: output extent shape[d] along axis d, element j read at
 * starts[d] + j * steps[d] (steps default 1, any sign but 0); every index
 * read must lie inside x. A batch extent -1 must be taken whole. */
enum quanta_status graph_shape_slice(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_attrs *a = &c->node->attrs;
    const struct graph_value *x = c->in[0];
    const int r = x->shape.rank;
    if (a->shape.rank != r || a->n_starts != r || (a->n_steps && a->n_steps != r))
        return graph_node_fail(c, "attrs 'shape', 'starts' (and 'steps') need %d entries, the "
                                  "rank of '%s'",
                               r, x->name);
    for (int d = 0; d < r; d++) {
        int64_t n = a->shape.dims[d], s0 = a->starts[d], st = a->n_steps ? a->steps[d] : 1;
        int64_t in = x->shape.dims[d];
        if (in < 0 || n < 0) {
            if (!(in < 0 && n < 0 && s0 == 0 && st == 1))
                return graph_node_fail(c, "axis %d of '%s' has any size; slice takes it whole",
                                       d, x->name);
            continue;
        }
        int64_t last = s0 + (n - 1) * st;
        if (st == 0 || n < 1 || s0 < 0 || s0 >= in || last < 0 || last >= in)
            return graph_node_fail(c, "axis %d: %lld elements from %lld by %lld leave '%s' "
                                      "(extent %lld)",
                                   d, (long long)n, (long long)s0, (long long)st, x->name,
                                   (long long)in);
    }
    *out = a->shape;
    return QUANTA_OK;
}

/* pad: along axis d, pads_begin[d] elements before x and pads_end[d] after
 * (a negative count removes that many of x's first or last elements
 * first); at least one element of x must stay. A batch of any size is
 * not padded. */
enum quanta_status graph_shape_pad(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_attrs *a = &c->node->attrs;
    const struct graph_value *x = c->in[0];
    const int r = x->shape.rank;
    if (a->n_pads_begin != r || a->n_pads_end != r)
        return graph_node_fail(c, "attrs 'pads_begin' and 'pads_end' need %d entries, the rank "
                                  "of '%s'",
                               r, x->name);
    *out = x->shape;
    for (int d = 0; d < r; d++) {
        int64_t in = x->shape.dims[d], b = a->pads_begin[d], e = a->pads_end[d];
        if (in < 0) {
            if (b || e)
                return graph_node_fail(c, "axis %d of '%s' has any size; pad leaves it alone",
                                       d, x->name);
            continue;
        }
        if (b < -in || e < -in || b > INT32_MAX || e > INT32_MAX ||
            in + (b < 0 ? b : 0) + (e < 0 ? e : 0) < 1)
            return graph_node_fail(c, "axis %d: pads %lld and %lld leave no element of '%s' "
                                      "(extent %lld)",
                                   d, (long long)b, (long long)e, x->name, (long long)in);
        out->dims[d] = in + b + e;
    }
    return QUANTA_OK;
}

/* resize: output shape as given (the batch, of any size, kept); scales
 * one per axis or none, 0 meaning output / input extent. */
enum quanta_status graph_shape_resize(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_attrs *a = &c->node->attrs;
    const struct graph_value *x = c->in[0];
    const int r = x->shape.rank;
    if (a->shape.rank != r || (a->n_scales && a->n_scales != r))
        return graph_node_fail(c, "attrs 'shape' (and 'scales') need %d entries, the rank of "
                                  "'%s'",
                               r, x->name);
    for (int d = 0; d < r; d++) {
        int64_t in = x->shape.dims[d], o = a->shape.dims[d];
        float s = a->n_scales ? a->scales[d] : 0.0f;
        if ((in < 0 || o < 0) && !(in < 0 && o < 0 && (s == 0.0f || s == 1.0f)))
            return graph_node_fail(c, "axis %d of '%s' has any size; resize keeps it", d,
                                   x->name);
    }
    *out = a->shape;
    return QUANTA_OK;
}

int graph_resize_axes(const struct graph *g, const struct graph_node *n, bool *resized)
{
    const struct graph_attrs *a = &n->attrs;
    const struct quanta_shape *xs = &g->values[n->inputs[0]].shape;
    int k = 0;
    for (int d = 0; d < xs->rank; d++) {
        float s = a->n_scales ? a->scales[d] : 0.0f;
        resized[d] = xs->dims[d] >= 0 &&
                     (a->shape.dims[d] != xs->dims[d] || (s != 0.0f && s != 1.0f));
        k += resized[d];
    }
    return k;
}

/* matmul: a [..., M, K] x b [..., K, N] -> [..., M, N], the leading axes
 * broadcast as NumPy does (both operands of rank >= 2). */
enum quanta_status graph_shape_matmul(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_value *a = c->in[0], *b = c->in[1];
    char buf[SHAPE_BUF], buf2[SHAPE_BUF];
    const struct quanta_shape *sa = &a->shape, *sb = &b->shape;
    if (sa->rank < 2 || sb->rank < 2 || sa->dims[sa->rank - 1] != sb->dims[sb->rank - 2] ||
        sa->dims[sa->rank - 1] < 1)
        return graph_node_fail(c, "inputs '%s' %s and '%s' %s are not [..., M, K] and "
                                  "[..., K, N]",
                               a->name, shape_str(sa, buf), b->name, shape_str(sb, buf2));
    if (broadcast_axes(sa, sa->rank - 2, sb, sb->rank - 2, out) >= 0)
        return graph_node_fail(c, "inputs '%s' %s and '%s' %s: leading axes do not broadcast",
                               a->name, shape_str(sa, buf), b->name, shape_str(sb, buf2));
    int rank = out->rank + 2;
    out->rank = rank;
    out->dims[rank - 2] = sa->dims[sa->rank - 2];
    out->dims[rank - 1] = sb->dims[sb->rank - 1];
    return QUANTA_OK;
}

enum quanta_status graph_shape_quantize(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_value *x = c->in[0], *y = c->out;
    if (x->quant.dtype != QUANTA_DTYPE_INVALID)
        return graph_node_fail(c, "input '%s' is already quantized", x->name);
    if (y->quant.dtype != QUANTA_I8 && y->quant.dtype != QUANTA_U8)
        return graph_node_fail(c, "output '%s' needs a quant entry of dtype I8 or U8", y->name);
    if (y->quant.axis != -1)
        return graph_node_fail(c, "output '%s' must be quantized per tensor (axis -1)", y->name);
    *out = x->shape;
    return QUANTA_OK;
}

enum quanta_status graph_shape_dequantize(const struct graph_check *c, struct quanta_shape *out)
{
    const struct graph_value *x = c->in[0], *y = c->out;
    if (x->quant.dtype != QUANTA_I8 && x->quant.dtype != QUANTA_U8)
        return graph_node_fail(c, "input '%s' is not quantized to I8 or U8", x->name);
    if (y->quant.dtype != QUANTA_DTYPE_INVALID)
        return graph_node_fail(c, "output '%s' must be float (no quant entry)", y->name);
    *out = x->shape;
    return QUANTA_OK;
}

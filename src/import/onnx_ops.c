/* The ONNX operators quanta imports, one converter each: from ONNX
 * attributes and NCHW shapes to quanta nodes, NHWC weights and attrs.
 * Activations (relu, relu6) are fused into the conv2d, dense, add or mul
 * before them when nothing else reads that value; BatchNormalization is
 * folded into the conv2d/dense before it the same way, and so is the Add
 * of a per-channel constant (the bias of MatMul + Add). */
#include "import/onnx_convert.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WINDOW (1 << 20)

/* ---- small helpers ------------------------------------------------------- */

static bool op_is(const struct cv *cv, const char *name)
{
    return strcmp(cv->node->op_type, name) == 0;
}

/* Outputs after the first must be unused (Dropout mask, MaxPool indices,
 * BatchNormalization training statistics). */
static enum quanta_status only_first_output(struct cv *cv)
{
    const struct onnx_node *n = cv->node;
    const struct onnx_graph *og = &cv->m->graph;
    for (int k = 1; k < n->n_outputs; k++) {
        const char *name = n->outputs[k];
        if (!name[0])
            continue;
        bool used = false;
        for (int i = 0; i < og->n_nodes && !used; i++)
            for (int j = 0; j < og->nodes[i].n_inputs && !used; j++)
                used = strcmp(og->nodes[i].inputs[j], name) == 0;
        for (int i = 0; i < og->n_outputs && !used; i++)
            used = strcmp(og->outputs[i].name, name) == 0;
        if (used)
            return cv_fail(cv, "output %d ('%s') is used, but quanta computes only the first "
                               "output",
                           k, name);
    }
    return QUANTA_OK;
}

static enum quanta_status need_f32(struct cv *cv, const struct onnx_tensor *t, const char *what)
{
    if (t->dtype != QUANTA_F32)
        return cv_fail(cv, "%s '%s' has data type %s but a float type is needed", what,
                       t->name, onnx_data_type_name(t->data_type));
    return QUANTA_OK;
}

/* Column map of a flattened activation: physical column j holds ONNX
 * column map[j]. */
static void flat_colmap(const struct cv_value *x, int64_t *map, int64_t k)
{
    const struct quanta_shape *s = &x->flat_shape;
    const int *p = x->flat_perm;
    int r = s->rank;
    for (int64_t j = 0; j < k; j++) {
        int64_t rest = j, idx[QUANTA_MAX_RANK];
        for (int m = r - 1; m >= 1; m--) {
            int64_t d = s->dims[p[m]];
            idx[p[m]] = rest % d;
            rest /= d;
        }
        int64_t col = 0;
        for (int a = 1; a < r; a++)
            col = col * s->dims[a] + idx[a];
        map[j] = col;
    }
}

/* Reorders a per-column vector (length k) of a flat activation. */
static enum quanta_status permute_columns(struct cv *cv, const struct cv_value *x, float *vec,
                                          int64_t rows, int64_t k)
{
    int64_t *map = malloc((size_t)k * sizeof *map + 1);
    float *tmp = malloc((size_t)k * sizeof *tmp + 1);
    if (!map || !tmp) {
        free(map);
        free(tmp);
        return cv_nomem(cv);
    }
    flat_colmap(x, map, k);
    for (int64_t r = 0; r < rows; r++) {
        float *row = vec + r * k;
        for (int64_t j = 0; j < k; j++)
            tmp[j] = row[map[j]];
        memcpy(row, tmp, (size_t)k * sizeof *tmp);
    }
    free(map);
    free(tmp);
    return QUANTA_OK;
}

static enum quanta_status def_new(struct cv *cv, const struct cv_value *proto)
{
    return cv_def_act(cv, 0, proto);
}

/* A quanta node of op reading inputs, with an output of quanta shape
 * shape named after the ONNX output; *node_out its index. */
static enum quanta_status emit(struct cv *cv, enum graph_op op, const int *inputs, int n_inputs,
                               const struct quanta_shape *shape, int *q_out, int *node_out)
{
    if (cv->node->n_outputs < 1 || !cv->node->outputs[0][0])
        return cv_fail(cv, "has no output");
    int q = cv_new_value(cv, cv->node->outputs[0], shape);
    if (q < 0)
        return cv_nomem(cv);
    int n = cv_add_node(cv, op, NULL, inputs, n_inputs, q);
    if (n < 0)
        return cv_nomem(cv);
    *q_out = q;
    if (node_out)
        *node_out = n;
    return QUANTA_OK;
}

static enum quanta_status check_range(struct cv *cv, const char *attr, int64_t v, int64_t lo,
                                      int64_t hi)
{
    if (v < lo || v > hi)
        return cv_fail(cv, "attribute '%s' has %lld; %lld to %lld is supported", attr,
                       (long long)v, (long long)lo, (long long)hi);
    return QUANTA_OK;
}

/* An INTS attribute of exactly n entries in [lo, hi], or def. */
static enum quanta_status ints_attr(struct cv *cv, const char *name, int n, int def, int lo,
                                    int hi, int *out)
{
    const int64_t *v;
    int count;
    enum quanta_status st = cv_attr_ints(cv, name, &v, &count);
    if (st)
        return st;
    for (int i = 0; i < n; i++)
        out[i] = def;
    if (count < 0)
        return QUANTA_OK;
    if (count != n)
        return cv_fail(cv, "attribute '%s' has %d entries but %d are needed (2-D only)", name,
                       count, n);
    for (int i = 0; i < n; i++) {
        if ((st = check_range(cv, name, v[i], lo, hi)))
            return st;
        out[i] = (int)v[i];
    }
    return QUANTA_OK;
}

/* ---- windows (Conv, MaxPool, AveragePool) -------------------------------- */

struct window {
    int kernel[2], strides[2], dilations[2], pads[4];
    int64_t out[2];
};

/* A window attribute of a 1-D (spatial == 1) or 2-D operator into out[2]
 * (or, for "pads", out[4]: [top, left, bottom, right]). 1-D runs as 2-D of
 * height 1: its axis is the second, the first is trivial (size 1, no pad). */
static enum quanta_status window_ints(struct cv *cv, const char *name, int spatial, int def,
                                      int lo, int hi, int *out)
{
    bool pads = strcmp(name, "pads") == 0;
    if (spatial == 2)
        return ints_attr(cv, name, pads ? 4 : 2, def, lo, hi, out);
    int one[2];
    enum quanta_status st = ints_attr(cv, name, pads ? 2 : 1, def, lo, hi, one);
    if (st)
        return st;
    if (pads) {
        out[0] = out[2] = 0;
        out[1] = one[0];
        out[3] = one[1];
    } else {
        out[0] = def || one[0] ? 1 : 0; /* kernel_shape's "absent" 0 stays absent */
        out[1] = one[0];
    }
    return QUANTA_OK;
}

/* Pads from auto_pad / pads and the output size, for input in[2]. */
static enum quanta_status window_setup(struct cv *cv, const int64_t *in, int spatial,
                                       struct window *w)
{
    const char *auto_pad;
    enum quanta_status st;
    if ((st = cv_attr_string(cv, "auto_pad", "NOTSET", &auto_pad)) ||
        (st = window_ints(cv, "strides", spatial, 1, 1, MAX_WINDOW, w->strides)) ||
        (st = window_ints(cv, "pads", spatial, 0, 0, MAX_WINDOW, w->pads)))
        return st;
    bool upper = strcmp(auto_pad, "SAME_UPPER") == 0, lower = strcmp(auto_pad, "SAME_LOWER") == 0;
    if (upper || lower || strcmp(auto_pad, "VALID") == 0) {
        for (int i = 0; i < 2; i++) {
            int64_t span = (int64_t)(w->kernel[i] - 1) * w->dilations[i] + 1;
            int64_t total = 0;
            if (upper || lower) {
                int64_t out = (in[i] + w->strides[i] - 1) / w->strides[i];
                total = (out - 1) * w->strides[i] + span - in[i];
                if (total < 0)
                    total = 0;
            }
            int64_t small = total / 2, big = total - small;
            w->pads[i] = (int)(upper ? small : big);
            w->pads[i + 2] = (int)(upper ? big : small);
        }
    } else if (strcmp(auto_pad, "NOTSET") != 0) {
        return cv_fail(cv, "attribute 'auto_pad' '%s' is not supported", auto_pad);
    }
    for (int i = 0; i < 2; i++) {
        int64_t span = (int64_t)(w->kernel[i] - 1) * w->dilations[i] + 1;
        int64_t room = in[i] + w->pads[i] + w->pads[i + 2] - span;
        if (room < 0)
            return cv_fail(cv, "the window (%lld) is larger than the padded input (%lld)",
                           (long long)span, (long long)(in[i] + w->pads[i] + w->pads[i + 2]));
        w->out[i] = room / w->strides[i] + 1;
    }
    return QUANTA_OK;
}

/* ---- 1-D windows as 2-D ---------------------------------------------------
 * A 1-D Conv or pool of [N, C, L] runs as the 2-D operator of height 1:
 * x is laid out [N, L, C] and reshaped to [N, 1, L, C]; the result
 * [N, 1, L', C'] is reshaped to [N, L', C'], the ONNX value [N, C', L']
 * with its channels last. Both reshapes move no byte. */

/* x [N, C, L] as a physical [N, 1, L, C] value *q4. */
static enum quanta_status window_input_2d(struct cv *cv, struct cv_value *x, int *q4)
{
    static const int channels_last[3] = {0, 2, 1};
    int q3;
    enum quanta_status st = cv_materialize(cv, x, channels_last, &q3);
    if (st)
        return st;
    const struct quanta_shape *p3 = &cv->g->values[q3].shape;
    struct quanta_shape p4 = {.rank = 4, .dims = {p3->dims[0], 1, p3->dims[1], p3->dims[2]}};
    char name[300];
    snprintf(name, sizeof name, "%s.as2d", cv->g->values[q3].name);
    *q4 = cv_new_value(cv, name, &p4);
    int n = *q4 < 0 ? -1 : cv_add_node(cv, GRAPH_OP_RESHAPE, "as2d", &q3, 1, *q4);
    if (n < 0)
        return cv_nomem(cv);
    cv->g->nodes[n].attrs.shape = p4;
    return QUANTA_OK;
}

/* The node's 2-D operator op on q4, giving [N, 1, L', C'] (out_l, out_c),
 * then the node's output [N, C', L'] from it; *node: the operator's node,
 * for its attributes. */
static enum quanta_status window_emit_1d(struct cv *cv, const struct cv_value *x,
                                         enum graph_op op, const int *ins, int n_ins,
                                         int64_t out_l, int64_t out_c, int *node)
{
    if (cv->node->n_outputs < 1 || !cv->node->outputs[0][0])
        return cv_fail(cv, "has no output");
    struct quanta_shape p4 = {.rank = 4, .dims = {x->shape.dims[0], 1, out_l, out_c}};
    char name[300];
    snprintf(name, sizeof name, "%s.2d", cv->node->outputs[0]);
    int q4 = cv_new_value(cv, name, &p4);
    *node = q4 < 0 ? -1 : cv_add_node(cv, op, NULL, ins, n_ins, q4);
    if (*node < 0)
        return cv_nomem(cv);
    struct cv_value out = *x;
    out.shape.dims[1] = out_c;
    out.shape.dims[2] = out_l;
    out.perm[0] = 0, out.perm[1] = 2, out.perm[2] = 1;
    out.flat = false;
    struct quanta_shape p3 = cv_phys_shape(&out.shape, out.perm);
    out.q = cv_new_value(cv, cv->node->outputs[0], &p3);
    int n = out.q < 0 ? -1 : cv_add_node(cv, GRAPH_OP_RESHAPE, "as1d", &q4, 1, out.q);
    if (n < 0)
        return cv_nomem(cv);
    cv->g->nodes[n].attrs.shape = p3;
    return def_new(cv, &out);
}

/* ---- Conv ---------------------------------------------------------------- */

/* What Conv and ConvTranspose read alike: x [N, C, L] or [N, C, H, W], a
 * constant float weight of the same rank, an optional constant bias, the
 * group, and the kernel's extents (1-D: height 1). */
struct conv_operands {
    struct cv_value *x;
    const struct onnx_tensor *w, *b;
    int64_t group, kh, kw;
    int rank;
};

static enum quanta_status conv_operands(struct cv *cv, const char *const *attrs, const char *what,
                                        const char *w_shape_1d, const char *w_shape_2d,
                                        struct conv_operands *c)
{
    struct cv_value *bv;
    enum quanta_status st;
    char buf[128];
    memset(c, 0, sizeof *c);
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need_act(cv, 0, &c->x)) ||
        (st = cv_need_const(cv, 1, "weight", &c->w)) || (st = cv_input(cv, 2, &bv)) ||
        (st = cv_attr_int(cv, "group", 1, &c->group)))
        return st;
    if (bv && (st = cv_need_const(cv, 2, "bias", &c->b)))
        return st;
    const struct cv_value *x = c->x;
    const struct onnx_tensor *w = c->w;
    c->rank = x->shape.rank;
    if (c->rank != 3 && c->rank != 4)
        return cv_fail(cv, "input '%s' has shape %s; only 1-D and 2-D %s ([N, C, L] or "
                           "[N, C, H, W]) is supported",
                       x->name, quanta_shape_format(&x->shape, buf, sizeof buf), what);
    if ((st = need_f32(cv, w, "weight")) || (c->b && (st = need_f32(cv, c->b, "bias"))))
        return st;
    if (w->shape.rank != c->rank)
        return cv_fail(cv, "weight '%s' has shape %s but %s is needed", w->name,
                       quanta_shape_format(&w->shape, buf, sizeof buf),
                       c->rank == 3 ? w_shape_1d : w_shape_2d);
    c->kh = c->rank == 4 ? w->shape.dims[2] : 1;
    c->kw = w->shape.dims[c->rank - 1];
    if (c->kh < 1 || c->kw < 1 || c->kh > MAX_WINDOW || c->kw > MAX_WINDOW)
        return cv_fail(cv, "weight '%s' %s has a kernel outside 1 to %d", w->name,
                       quanta_shape_format(&w->shape, buf, sizeof buf), MAX_WINDOW);
    int ks[2];
    if ((st = window_ints(cv, "kernel_shape", c->rank - 2, 0, 1, MAX_WINDOW, ks)))
        return st;
    if (ks[0] && (ks[0] != c->kh || ks[1] != c->kw))
        return cv_fail(cv, "attribute 'kernel_shape' differs from the weight's shape %s",
                       quanta_shape_format(&w->shape, buf, sizeof buf));
    return QUANTA_OK;
}

/* The conv2d of qx with weight wq ([O, KH, KW, C/g], ONNX's weight name)
 * and c's bias, giving out_hw (1-D: out_hw[1]), with its attributes; the
 * node's output defined. */
static enum quanta_status emit_conv(struct cv *cv, const struct conv_operands *c, int qx,
                                    float *wq, int64_t o, int64_t cg, const int64_t *out_hw,
                                    const int *strides, const int *dil, const int *pads)
{
    enum quanta_status st;
    struct quanta_shape ws = {.rank = 4, .dims = {o, c->kh, c->kw, cg}};
    int qw = cv_const_value(cv, cv->node->inputs[1], wq, &ws), qb = -1, n;
    if (qw < 0)
        return cv_nomem(cv);
    if (c->b) {
        struct quanta_shape bs = {.rank = 1, .dims = {o}};
        if ((qb = cv_const_value(cv, cv->node->inputs[2], c->b->data, &bs)) < 0)
            return cv_nomem(cv);
    }
    int ins[3] = {qx, qw, qb};
    if (c->rank == 3) {
        if ((st = window_emit_1d(cv, c->x, GRAPH_OP_CONV2D, ins, 3, out_hw[1], o, &n)))
            return st;
    } else {
        struct cv_value out = *c->x;
        out.shape.dims[1] = o;
        out.shape.dims[2] = out_hw[0];
        out.shape.dims[3] = out_hw[1];
        cv_perm_nhwc(out.perm);
        out.flat = false;
        struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
        if ((st = emit(cv, GRAPH_OP_CONV2D, ins, 3, &phys, &out.q, &n)) ||
            (st = def_new(cv, &out)))
            return st;
    }
    struct graph_attrs *a = &cv->g->nodes[n].attrs;
    memcpy(a->strides, strides, sizeof a->strides);
    memcpy(a->dilations, dil, sizeof a->dilations);
    memcpy(a->pads, pads, sizeof a->pads);
    a->groups = (int)c->group;
    return QUANTA_OK;
}

/* x as conv2d reads it: NHWC, or a 1-D x as [N, 1, L, C]. */
static enum quanta_status conv_input(struct cv *cv, struct cv_value *x, int *qx)
{
    int perm[4];
    cv_perm_nhwc(perm);
    return x->shape.rank == 4 ? cv_materialize(cv, x, perm, qx) : window_input_2d(cv, x, qx);
}

static enum quanta_status op_conv(struct cv *cv)
{
    static const char *const attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                        "pads", "strides", NULL};
    struct conv_operands c;
    enum quanta_status st = conv_operands(cv, attrs, "convolution", "[O, C/group, K]",
                                          "[O, C/group, KH, KW]", &c);
    if (st)
        return st;
    const struct cv_value *x = c.x;
    const struct onnx_tensor *w = c.w, *b = c.b;
    const int r = c.rank, spatial = r - 2;
    const int64_t group = c.group, kh = c.kh, kw = c.kw;
    char buf[128];
    int64_t ch = x->shape.dims[1], o = w->shape.dims[0], cg = w->shape.dims[1];
    if (group < 1 || group > ch || ch % group != 0 || cg * group != ch || o % group != 0 || o < 1)
        return cv_fail(cv, "weight '%s' %s does not fit input channels %lld with group %lld",
                       w->name, quanta_shape_format(&w->shape, buf, sizeof buf), (long long)ch,
                       (long long)group);
    if (b && (b->shape.rank != 1 || b->shape.dims[0] != o))
        return cv_fail(cv, "bias '%s' has shape %s but [%lld] is needed", b->name,
                       quanta_shape_format(&b->shape, buf, sizeof buf), (long long)o);
    struct window win = {.kernel = {(int)kh, (int)kw}};
    /* a zero Pad folded here (2-D only): the window sees the padded extents */
    int64_t in_hw[2] = {r == 4 ? x->shape.dims[2] : 1, x->shape.dims[r - 1]};
    if (x->fold_pad)
        for (int i = 0; i < 2; i++)
            in_hw[i] += x->fold_pads[i] + x->fold_pads[i + 2];
    if ((st = window_ints(cv, "dilations", spatial, 1, 1, MAX_WINDOW, win.dilations)) ||
        (st = window_setup(cv, in_hw, spatial, &win)))
        return st;
    for (int i = 0; x->fold_pad && i < 4; i++)
        win.pads[i] += x->fold_pads[i];

    int qx;
    if ((st = conv_input(cv, c.x, &qx)))
        return st;
    /* [O, C/g, KH, KW] ([O, C/g, K]) -> [O, KH, KW, C/g] */
    const float *src = w->data;
    float *dst = malloc((size_t)w->numel * sizeof *dst + 1);
    if (!dst)
        return cv_nomem(cv);
    for (int64_t a = 0; a < o; a++)
        for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t i = 0; i < kh; i++)
                for (int64_t j = 0; j < kw; j++)
                    dst[((a * kh + i) * kw + j) * cg + ci] = src[((a * cg + ci) * kh + i) * kw + j];
    st = emit_conv(cv, &c, qx, dst, o, cg, win.out, win.strides, win.dilations, win.pads);
    free(dst);
    return st;
}

/* ---- ConvTranspose ---------------------------------------------------------
 * The transposed convolution as the convolution it equals: the input with
 * stride - 1 zeros after each row and column (a reshape to [N, H, 1, W, 1,
 * C], a zero pad to [N, H, sh, W, sw, C], a reshape to [N, H*sh, W*sw, C]),
 * then conv2d with the kernel flipped and its in/out channels swapped,
 * padded by dilation * (kernel - 1) - pad on each side (output_padding at
 * the end; a negative amount crops, by a slice). It does stride^2 times the
 * multiply-adds of a dedicated kernel, on zeros, but each step is an
 * operator with an int8 path, so the whole quantizes. 1-D runs as 2-D of
 * height 1, as Conv does. */

/* *q (physical [N, H, W, C]) with sh - 1 and sw - 1 zeros after each row
 * and column: [N, H*sh, W*sw, C]. */
static enum quanta_status insert_zeros(struct cv *cv, int *q, int sh, int sw)
{
    const struct quanta_shape s = cv->g->values[*q].shape;
    const int64_t n = s.dims[0], h = s.dims[1], w = s.dims[2], c = s.dims[3];
    struct quanta_shape s6 = {.rank = 6, .dims = {n, h, 1, w, 1, c}};
    struct quanta_shape p6 = {.rank = 6, .dims = {n, h, sh, w, sw, c}};
    struct quanta_shape s4 = {.rank = 4, .dims = {n, h * sh, w * sw, c}};
    const struct {
        enum graph_op op;
        const char *suffix;
        const struct quanta_shape *shape;
    } steps[3] = {{GRAPH_OP_RESHAPE, "spread", &s6},
                  {GRAPH_OP_PAD, "zeros", &p6},
                  {GRAPH_OP_RESHAPE, "upsampled", &s4}};
    for (int k = 0; k < 3; k++) {
        char name[300];
        snprintf(name, sizeof name, "%s.%s", cv->g->values[*q].name, steps[k].suffix);
        int out = cv_new_value(cv, name, steps[k].shape);
        int node = out < 0 ? -1 : cv_add_node(cv, steps[k].op, steps[k].suffix, q, 1, out);
        if (node < 0)
            return cv_nomem(cv);
        struct graph_attrs *a = &cv->g->nodes[node].attrs;
        if (steps[k].op == GRAPH_OP_RESHAPE) {
            a->shape = *steps[k].shape;
        } else {
            a->mode = GRAPH_MODE_CONSTANT;
            a->value = 0.0f;
            a->n_pads_begin = a->n_pads_end = 6;
            for (int i = 0; i < 6; i++)
                a->pads_begin[i] = a->pads_end[i] = 0;
            a->pads_end[2] = sh - 1;
            a->pads_end[4] = sw - 1;
        }
        *q = out;
    }
    return QUANTA_OK;
}

/* *q (physical [N, H, W, C]) without crop[0] rows at the top, crop[1]
 * columns at the left, crop[2] rows at the bottom, crop[3] columns at the
 * right. */
static enum quanta_status crop_hw(struct cv *cv, int *q, const int64_t *crop)
{
    struct quanta_shape s = cv->g->values[*q].shape;
    s.dims[1] -= crop[0] + crop[2];
    s.dims[2] -= crop[1] + crop[3];
    if (s.dims[1] < 1 || s.dims[2] < 1)
        return cv_fail(cv, "its pads leave no output");
    char name[300];
    snprintf(name, sizeof name, "%s.crop", cv->g->values[*q].name);
    int out = cv_new_value(cv, name, &s);
    int node = out < 0 ? -1 : cv_add_node(cv, GRAPH_OP_SLICE, "crop", q, 1, out);
    if (node < 0)
        return cv_nomem(cv);
    struct graph_attrs *a = &cv->g->nodes[node].attrs;
    a->shape = s;
    a->n_starts = a->n_steps = 4;
    const int64_t starts[4] = {0, crop[0], crop[1], 0};
    for (int i = 0; i < 4; i++) {
        a->starts[i] = starts[i];
        a->steps[i] = 1;
    }
    *q = out;
    return QUANTA_OK;
}

static enum quanta_status op_conv_transpose(struct cv *cv)
{
    static const char *const attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                        "output_padding", "output_shape", "pads", "strides",
                                        NULL};
    struct conv_operands c;
    enum quanta_status st = conv_operands(cv, attrs, "transposed convolution", "[C, O/group, K]",
                                          "[C, O/group, KH, KW]", &c);
    if (st)
        return st;
    const struct cv_value *x = c.x;
    const struct onnx_tensor *w = c.w, *b = c.b;
    const int r = c.rank, spatial = r - 2;
    const int64_t group = c.group, kh = c.kh, kw = c.kw;
    char buf[128];
    /* weight [C, O/g, KH, KW]: the input's channels first */
    int64_t ch = x->shape.dims[1], og = w->shape.dims[1];
    if (group < 1 || ch % group != 0 || w->shape.dims[0] != ch || og < 1)
        return cv_fail(cv, "weight '%s' %s does not fit input channels %lld with group %lld",
                       w->name, quanta_shape_format(&w->shape, buf, sizeof buf), (long long)ch,
                       (long long)group);
    const int64_t o = og * group, cg = ch / group;
    if (b && (b->shape.rank != 1 || b->shape.dims[0] != o))
        return cv_fail(cv, "bias '%s' has shape %s but [%lld] is needed", b->name,
                       quanta_shape_format(&b->shape, buf, sizeof buf), (long long)o);
    int strides[2], dil[2], pads[4], outpad[2] = {0, 0}, outshape[2] = {0, 0};
    const char *auto_pad;
    if ((st = window_ints(cv, "strides", spatial, 1, 1, MAX_WINDOW, strides)) ||
        (st = window_ints(cv, "dilations", spatial, 1, 1, MAX_WINDOW, dil)) ||
        (st = window_ints(cv, "pads", spatial, 0, 0, MAX_WINDOW, pads)) ||
        (st = window_ints(cv, "output_padding", spatial, 0, 0, MAX_WINDOW, outpad)) ||
        (st = window_ints(cv, "output_shape", spatial, 0, 1, 1 << 24, outshape)) ||
        (st = cv_attr_string(cv, "auto_pad", "NOTSET", &auto_pad)))
        return st;
    if (r == 3)
        outpad[0] = 0, outshape[0] = outshape[1] ? 1 : 0;
    const int64_t in_hw[2] = {r == 4 ? x->shape.dims[2] : 1, x->shape.dims[r - 1]};
    const int64_t k_hw[2] = {kh, kw};
    bool same = strcmp(auto_pad, "SAME_UPPER") == 0 || strcmp(auto_pad, "SAME_LOWER") == 0;
    if (!same && strcmp(auto_pad, "VALID") != 0 && strcmp(auto_pad, "NOTSET") != 0)
        return cv_fail(cv, "attribute 'auto_pad' '%s' is not supported", auto_pad);
    if (strcmp(auto_pad, "VALID") == 0)
        memset(pads, 0, sizeof pads);
    for (int i = 0; i < 2; i++) {
        if (outpad[i] >= strides[i] && outpad[i] >= dil[i])
            return cv_fail(cv, "output_padding %d is not smaller than the stride or the "
                               "dilation",
                           outpad[i]);
        /* output_shape (or SAME: input times stride) fixes the total padding */
        int64_t full = strides[i] * (in_hw[i] - 1) + outpad[i] + dil[i] * (k_hw[i] - 1) + 1;
        int64_t want = outshape[i] ? outshape[i] : same ? in_hw[i] * strides[i] : -1;
        if (want > 0) {
            /* as ONNX's reference: a negative total extends the output
             * (floor halves; SAME_UPPER puts the larger half at the end) */
            int64_t total = full - want;
            if (total < -MAX_WINDOW || total > MAX_WINDOW)
                return cv_fail(cv, "an output of %lld is too far from the %lld the window gives",
                               (long long)want, (long long)full);
            int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
            bool upper = strcmp(auto_pad, "SAME_UPPER") == 0;
            pads[i] = (int)(upper ? half : total - half);
            pads[i + 2] = (int)(total - pads[i]);
        }
    }
    int64_t out_hw[2], crop[4];
    int conv_pads[4];
    for (int i = 0; i < 2; i++) {
        int64_t extent = dil[i] * (k_hw[i] - 1);
        out_hw[i] = strides[i] * (in_hw[i] - 1) + outpad[i] + extent + 1 - pads[i] - pads[i + 2];
        if (out_hw[i] < 1)
            return cv_fail(cv, "its pads leave no output");
        /* on the upsampled input (strides[i] - 1 zeros after the last
         * element too, hence the correction at the end) */
        int64_t begin = extent - pads[i];
        int64_t end = extent - pads[i + 2] + outpad[i] - (strides[i] - 1);
        if (begin > MAX_WINDOW || end > MAX_WINDOW)
            return cv_fail(cv, "padding larger than %d is not supported", MAX_WINDOW);
        conv_pads[i] = begin > 0 ? (int)begin : 0;
        conv_pads[i + 2] = end > 0 ? (int)end : 0;
        crop[i] = begin < 0 ? -begin : 0;
        crop[i + 2] = end < 0 ? -end : 0;
    }

    int qx;
    if ((st = conv_input(cv, c.x, &qx)))
        return st;
    if ((strides[0] > 1 || strides[1] > 1) && (st = insert_zeros(cv, &qx, strides[0], strides[1])))
        return st;
    if ((crop[0] || crop[1] || crop[2] || crop[3]) && (st = crop_hw(cv, &qx, crop)))
        return st;
    /* [C, O/g, KH, KW] -> [O, KH, KW, C/g], flipped in space */
    const float *src = w->data;
    float *dst = malloc((size_t)w->numel * sizeof *dst + 1);
    if (!dst)
        return cv_nomem(cv);
    for (int64_t g = 0; g < group; g++)
        for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t oi = 0; oi < og; oi++)
                for (int64_t i = 0; i < kh; i++)
                    for (int64_t j = 0; j < kw; j++)
                        dst[(((g * og + oi) * kh + (kh - 1 - i)) * kw + (kw - 1 - j)) * cg + ci] =
                            src[(((g * cg + ci) * og + oi) * kh + i) * kw + j];
    const int unit[2] = {1, 1};
    st = emit_conv(cv, &c, qx, dst, o, cg, out_hw, unit, dil, conv_pads);
    free(dst);
    return st;
}

/* ---- Gemm, MatMul -------------------------------------------------------- */

/* dense of x (rank 2) with weight wt [O, K] (ONNX column order) and
 * optional bias [O]; wt may be reordered in place. */
static enum quanta_status emit_dense(struct cv *cv, const struct cv_value *x, float *wt,
                                     int64_t o, const float *bias, const char *wname,
                                     const char *bname)
{
    enum quanta_status st;
    const int r = x->shape.rank;
    int64_t k = x->shape.dims[r - 1];
    if (x->flat && (st = permute_columns(cv, x, wt, o, k)))
        return st;
    struct quanta_shape ws = {.rank = 2, .dims = {o, k}};
    int qw = cv_const_value(cv, wname, wt, &ws), qb = -1;
    if (qw < 0)
        return cv_nomem(cv);
    if (bias) {
        struct quanta_shape bs = {.rank = 1, .dims = {o}};
        if ((qb = cv_const_value(cv, bname, bias, &bs)) < 0)
            return cv_nomem(cv);
    }
    /* the last axis, physically last too (dense_input), becomes o */
    struct quanta_shape phys = cv->g->values[x->q].shape;
    phys.dims[phys.rank - 1] = o;
    int ins[3] = {x->q, qw, qb}, q;
    if ((st = emit(cv, GRAPH_OP_DENSE, ins, 3, &phys, &q, NULL)))
        return st;
    struct cv_value out = *x;
    out.flat = false;
    out.shape.dims[r - 1] = o;
    if (x->flat)
        cv_perm_identity(2, out.perm);
    out.q = q;
    return def_new(cv, &out);
}

/* The input of a dense: [..., K] with K physically last (the layout x has
 * when it already keeps its last axis last, else ONNX order). */
static enum quanta_status dense_input(struct cv *cv, struct cv_value *x)
{
    char buf[128];
    const int r = x->shape.rank;
    if (r < 2)
        return cv_fail(cv, "input '%s' has shape %s; dense needs rank 2 or more", x->name,
                       quanta_shape_format(&x->shape, buf, sizeof buf));
    if (x->flat)
        return QUANTA_OK;
    enum quanta_status st = cv_merge_groups(cv, x);
    if (st)
        return st;
    int perm[QUANTA_MAX_RANK], q, re = x->shape.rank;
    if (x->n_onnx && x->group[x->n_onnx - 1] > 1)
        return cv_fail(cv, "input '%s' has the batch merged into its last axis", x->name);
    if (x->perm[re - 1] == re - 1)
        memcpy(perm, x->perm, sizeof perm);
    else
        cv_perm_canonical(x, perm);
    st = cv_materialize(cv, x, perm, &q);
    x->q = q; /* a local copy */
    memcpy(x->perm, perm, sizeof perm);
    return st;
}

static enum quanta_status op_gemm(struct cv *cv)
{
    static const char *const attrs[] = {"alpha", "beta", "transA", "transB", NULL};
    /* before opset 7: broadcast says whether C may be broadcast; either way
     * C is added as numpy broadcasting does */
    static const char *const attrs6[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
    struct cv_value *xp, *cvv, x;
    const struct onnx_tensor *b, *c = NULL;
    int64_t ta, tb;
    float alpha, beta;
    enum quanta_status st;
    char buf[128];
    if ((st = cv_check_attrs(cv, cv->m->opset < 7 ? attrs6 : attrs)) ||
        (st = cv_need_act(cv, 0, &xp)) || (st = cv_need_const(cv, 1, "weight B", &b)) || (st = cv_input(cv, 2, &cvv)) ||
        (st = cv_attr_int(cv, "transA", 0, &ta)) || (st = cv_attr_int(cv, "transB", 0, &tb)) ||
        (st = cv_attr_float(cv, "alpha", 1.0f, &alpha)) ||
        (st = cv_attr_float(cv, "beta", 1.0f, &beta)))
        return st;
    if (cvv && (st = cv_need_const(cv, 2, "bias C", &c)))
        return st;
    if (ta != 0)
        return cv_fail(cv, "transA=%lld on an activation is not supported", (long long)ta);
    x = *xp;
    if ((st = dense_input(cv, &x)) || (st = need_f32(cv, b, "weight")) ||
        (c && (st = need_f32(cv, c, "bias"))))
        return st;
    int64_t k = x.shape.dims[x.shape.rank - 1];
    if (cv_onnx_rank(&x) != 2)
        return cv_fail(cv, "input '%s' must have rank 2", x.name);
    if (b->shape.rank != 2 || b->shape.dims[tb ? 1 : 0] != k)
        return cv_fail(cv, "weight B '%s' has shape %s but %s is needed with transB=%lld",
                       b->name, quanta_shape_format(&b->shape, buf, sizeof buf),
                       tb ? "[O, K]" : "[K, O]", (long long)tb);
    int64_t o = b->shape.dims[tb ? 0 : 1];
    float *wt = malloc((size_t)(o * k) * sizeof *wt + 1);
    float *bias = c ? malloc((size_t)o * sizeof *bias + 1) : NULL;
    if (!wt || (c && !bias)) {
        free(wt);
        free(bias);
        return cv_nomem(cv);
    }
    const float *bd = b->data;
    for (int64_t i = 0; i < o; i++)
        for (int64_t j = 0; j < k; j++)
            wt[i * k + j] = alpha * (tb ? bd[i * k + j] : bd[j * o + i]);
    if (c) {
        /* C broadcasts to [N, O]: only [O], [1, O] and one element make a bias */
        bool one = c->numel == 1;
        bool row = c->numel == o && (c->shape.rank == 1 || (c->shape.rank == 2 && c->shape.dims[0] == 1));
        if (!one && !row) {
            free(wt);
            free(bias);
            return cv_fail(cv, "bias C '%s' has shape %s; only [O], [1, O] or one element is "
                               "supported",
                           c->name, quanta_shape_format(&c->shape, buf, sizeof buf));
        }
        for (int64_t i = 0; i < o; i++)
            bias[i] = beta * ((const float *)c->data)[one ? 0 : i];
    }
    char wname[300], bname[300];
    snprintf(wname, sizeof wname, "%s", cv->node->inputs[1]);
    snprintf(bname, sizeof bname, "%s", c ? cv->node->inputs[2] : "");
    st = emit_dense(cv, &x, wt, o, bias, wname, bname);
    free(wt);
    free(bias);
    return st;
}

/* matmul_activations where the batch was moved or merged (torch's
 * multi-head attention: [N * H, L, D / H] x [N * H, D / H, L]): both of
 * one rank and grouping, stored batch first, the leading axes equal. */
static enum quanta_status matmul_moved(struct cv *cv, struct cv_value a, struct cv_value b)
{
    enum quanta_status st;
    if ((st = cv_merge_groups(cv, &a)) || (st = cv_merge_groups(cv, &b)))
        return st;
    const int r = a.shape.rank;
    bool ok = r == b.shape.rank && r >= 3 && a.n_onnx == b.n_onnx &&
              cv_batch_axis(&a) == cv_batch_axis(&b) && cv_batch_axis(&a) < r - 2 &&
              (a.n_onnx == 0 || memcmp(a.group, b.group, sizeof a.group) == 0) &&
              a.shape.dims[r - 1] == b.shape.dims[r - 2];
    for (int d = 0; ok && d < r - 2; d++)
        ok = a.shape.dims[d] == b.shape.dims[d];
    if (ok && a.n_onnx)
        ok = a.group[a.n_onnx - 1] == 1 && a.group[a.n_onnx - 2] == 1;
    if (!ok)
        return cv_fail(cv, "inputs '%s' and '%s' have the batch moved or merged differently",
                       a.name, b.name);
    int perm[QUANTA_MAX_RANK], ins[2];
    cv_perm_canonical(&a, perm);
    if ((st = cv_materialize(cv, &a, perm, &ins[0])) ||
        (st = cv_materialize(cv, &b, perm, &ins[1])))
        return st;
    struct cv_value out = a;
    out.shape.dims[r - 1] = b.shape.dims[r - 1];
    memcpy(out.perm, perm, sizeof out.perm);
    struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
    if ((st = emit(cv, GRAPH_OP_MATMUL, ins, 2, &phys, &out.q, NULL)))
        return st;
    return def_new(cv, &out);
}

/* MatMul with an activation as B (attention's Q x K^T, scores x V): both
 * in ONNX order, matmul with broadcast leading axes. */
static enum quanta_status matmul_activations(struct cv *cv, struct cv_value *a, struct cv_value *b)
{
    char b1[128], b2[128];
    enum quanta_status st;
    if (a->shape.rank < 2 || b->shape.rank < 2 || a->flat || b->flat)
        return cv_fail(cv, "inputs '%s' %s and '%s' %s: matmul of activations needs rank 2 or "
                           "more",
                       a->name, quanta_shape_format(&a->shape, b1, sizeof b1), b->name,
                       quanta_shape_format(&b->shape, b2, sizeof b2));
    if (!cv_plain(a) || !cv_plain(b))
        return matmul_moved(cv, *a, *b);
    int ins[2], pa[QUANTA_MAX_RANK], pb[QUANTA_MAX_RANK];
    cv_perm_identity(a->shape.rank, pa);
    cv_perm_identity(b->shape.rank, pb);
    if ((st = cv_materialize(cv, a, pa, &ins[0])) || (st = cv_materialize(cv, b, pb, &ins[1])))
        return st;
    const struct quanta_shape *sa = &a->shape, *sb = &b->shape;
    struct cv_value out = a->shape.rank >= b->shape.rank ? *a : *b;
    int rank = out.shape.rank;
    for (int d = 0; d < rank - 2; d++) {
        int ka = d - (rank - sa->rank), kb = d - (rank - sb->rank);
        int64_t da = ka >= 0 ? sa->dims[ka] : 1, db = kb >= 0 ? sb->dims[kb] : 1;
        out.shape.dims[d] = da == 1 ? db : da;
    }
    out.shape.dims[rank - 2] = sa->dims[sa->rank - 2];
    out.shape.dims[rank - 1] = sb->dims[sb->rank - 1];
    cv_perm_identity(rank, out.perm);
    out.flat = false;
    if ((st = emit(cv, GRAPH_OP_MATMUL, ins, 2, &out.shape, &out.q, NULL)))
        return st;
    return def_new(cv, &out);
}

static enum quanta_status op_matmul(struct cv *cv)
{
    struct cv_value *xp, x;
    const struct onnx_tensor *b;
    enum quanta_status st;
    char buf[128];
    struct cv_value *in1;
    if ((st = cv_check_attrs(cv, NULL)) || (st = cv_need(cv, 1, &in1)))
        return st;
    if (in1->kind == CV_ACT) {
        if ((st = cv_need_act(cv, 0, &xp)))
            return st;
        return matmul_activations(cv, xp, in1);
    }
    if ((st = cv_need_act(cv, 0, &xp)) ||
        (st = cv_need_const(cv, 1, "weight B", &b)))
        return st;
    x = *xp;
    if ((st = dense_input(cv, &x)) || (st = need_f32(cv, b, "weight")))
        return st;
    int64_t k = x.shape.dims[x.shape.rank - 1];
    if (b->shape.rank != 2 || b->shape.dims[0] != k)
        return cv_fail(cv, "weight B '%s' has shape %s but [%lld, O] is needed", b->name,
                       quanta_shape_format(&b->shape, buf, sizeof buf), (long long)k);
    int64_t o = b->shape.dims[1];
    float *wt = malloc((size_t)(o * k) * sizeof *wt + 1);
    if (!wt)
        return cv_nomem(cv);
    for (int64_t i = 0; i < o; i++)
        for (int64_t j = 0; j < k; j++)
            wt[i * k + j] = ((const float *)b->data)[j * o + i];
    st = emit_dense(cv, &x, wt, o, NULL, cv->node->inputs[1], "");
    free(wt);
    return st;
}

/* ---- element-wise -------------------------------------------------------- */

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
    if (n->op != GRAPH_OP_CONV2D && n->op != GRAPH_OP_DENSE && n->op != GRAPH_OP_ADD &&
        n->op != GRAPH_OP_MUL)
        return QUANTA_OK;
    if (!cv_sole_reader(cv, x->q))
        return QUANTA_OK;
    /* relu after relu or relu6 changes nothing; relu6 after relu is relu6 */
    if (n->attrs.activation == GRAPH_ACT_RELU6 ||
        (n->attrs.activation == GRAPH_ACT_RELU && act == GRAPH_ACT_RELU))
        act = n->attrs.activation;
    n->attrs.activation = act;
    *fused = true;
    return def_new(cv, x);
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
    if ((st = emit(cv, op, &in, 1, &s, &q, &n)))
        return st;
    cv->g->nodes[n].attrs.alpha = alpha;
    if (node)
        *node = n;
    proto.q = q;
    return def_new(cv, &proto);
}

static enum quanta_status unary(struct cv *cv, enum graph_op op, float alpha)
{
    return unary_node(cv, op, alpha, NULL);
}

/* Element-wise functions without attributes, and those with alpha/beta/
 * gamma (the defaults of ONNX). */
static enum quanta_status op_math(struct cv *cv)
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
        if (op_is(cv, plain[i].name))
            return (st = cv_check_attrs(cv, NULL)) ? st : unary(cv, plain[i].op, 0);
    float a, b;
    int n;
    if (op_is(cv, "HardSigmoid")) {
        if ((st = cv_check_attrs(cv, hs_attrs)) || (st = cv_attr_float(cv, "alpha", 0.2f, &a)) ||
            (st = cv_attr_float(cv, "beta", 0.5f, &b)) ||
            (st = unary_node(cv, GRAPH_OP_HARD_SIGMOID, a, &n)))
            return st;
        cv->g->nodes[n].attrs.beta = b;
        return QUANTA_OK;
    }
    if (op_is(cv, "Elu"))
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

static enum quanta_status op_simple(struct cv *cv)
{
    enum quanta_status st = cv_check_attrs(cv, NULL);
    if (st)
        return st;
    if (op_is(cv, "Relu"))
        return unary(cv, GRAPH_OP_RELU, 0);
    if (op_is(cv, "Sigmoid"))
        return unary(cv, GRAPH_OP_SIGMOID, 0);
    return unary(cv, GRAPH_OP_TANH, 0);
}

static enum quanta_status op_leaky_relu(struct cv *cv)
{
    static const char *const attrs[] = {"alpha", NULL};
    float alpha;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_attr_float(cv, "alpha", 0.01f, &alpha)))
        return st;
    return unary(cv, GRAPH_OP_LEAKY_RELU, alpha);
}

/* Whether the node's first input is produced by relu or relu6, standalone
 * or fused. */
static bool input_nonnegative(struct cv *cv)
{
    struct cv_value *x;
    if (cv_input(cv, 0, &x) != QUANTA_OK || !x)
        return false;
    int p = cv_producer(cv, x->q);
    if (p < 0)
        return false;
    const struct graph_node *n = &cv->g->nodes[p];
    return n->op == GRAPH_OP_RELU || n->op == GRAPH_OP_RELU6 ||
           n->attrs.activation == GRAPH_ACT_RELU || n->attrs.activation == GRAPH_ACT_RELU6;
}

/* Clip: [0, 6] is relu6, [0, +inf) relu; other bounds are refused. */
static enum quanta_status op_clip(struct cv *cv)
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
    if (lo < 0 && input_nonnegative(cv))
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
        st = permute_columns(cv, x, v, 1, n);
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
    return def_new(cv, x);
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
        if (op_is(cv, ops[i].name))
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

/* Constant c as a quanta constant laid out like activation x: c's shape
 * aligned at the last axis against x's rank (leading 1s), its axes in x's
 * physical order. -1 with the node failed when c does not broadcast to x
 * (axis free: any size there, for concat; -1 for none). */
static int const_like_axis(struct cv *cv, const struct cv_value *x, const struct onnx_tensor *c,
                           int free_axis, struct quanta_shape *onnx_shape)
{
    char b1[128], b2[128];
    const int r = x->shape.rank, off = r - c->shape.rank;
    struct quanta_shape pd = {.rank = r};
    bool ok = off >= 0 && !x->flat;
    for (int d = 0; ok && d < r; d++) {
        pd.dims[d] = d < off ? 1 : c->shape.dims[d - off];
        ok = d == free_axis || pd.dims[d] == 1 || pd.dims[d] == x->shape.dims[d];
    }
    if (!ok) {
        cv_fail(cv, "constant '%s' %s does not broadcast to '%s' %s%s", c->name,
                quanta_shape_format(&c->shape, b1, sizeof b1), x->name,
                quanta_shape_format(&x->shape, b2, sizeof b2),
                x->flat ? " (a flattened NCHW tensor)" : "");
        return -1;
    }
    struct quanta_shape ps = cv_phys_shape(&pd, x->perm);
    int64_t stride[QUANTA_MAX_RANK], idx[QUANTA_MAX_RANK] = {0}, n = 1;
    for (int d = r - 1; d >= 0; d--) {
        stride[d] = n;
        n *= pd.dims[d];
    }
    float *data = malloc((size_t)n * sizeof *data + 1);
    if (!data) {
        cv_nomem(cv);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) { /* physical order, read at the ONNX offsets */
        int64_t k = 0;
        for (int j = 0; j < r; j++)
            k += idx[j] * stride[x->perm[j]];
        data[i] = (float)cv_tensor_f(c, k);
        for (int j = r - 1; j >= 0 && ++idx[j] == ps.dims[j]; j--)
            idx[j] = 0;
    }
    int q = cv_const_value(cv, c->name, data, &ps);
    free(data);
    if (q < 0)
        cv_nomem(cv);
    *onnx_shape = pd;
    return q;
}

static int const_like(struct cv *cv, const struct cv_value *x, const struct onnx_tensor *c,
                      struct quanta_shape *onnx_shape)
{
    return const_like_axis(cv, x, c, -1, onnx_shape);
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
        return def_new(cv, s);
    }
    return QUANTA_OK;
}

static enum quanta_status op_binary(struct cv *cv)
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
        if ((st = emit(cv, op, ins, 2, &s, &out.q, NULL)))
            return st;
        return def_new(cv, &out);
    }
    bool const_first = a->kind == CV_CONST;
    struct cv_value *x = const_first ? b : a;
    const struct onnx_tensor *c = const_first ? a->c : b->c;
    if ((st = need_f32(cv, c, "constant")))
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
        if ((st = emit(cv, op, ins, 2, &s, &out.q, NULL)))
            return st;
        return def_new(cv, &out);
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
    if ((st = emit(cv, add ? GRAPH_OP_ADD : GRAPH_OP_MUL, ins, 2, &s, &out.q, NULL)))
        return st;
    return def_new(cv, &out);
}

/* ---- pooling ------------------------------------------------------------- */

static enum quanta_status op_pool(struct cv *cv)
{
    static const char *const max_attrs[] = {"auto_pad", "ceil_mode", "dilations", "kernel_shape",
                                            "pads", "strides", "storage_order", NULL};
    static const char *const avg_attrs[] = {"auto_pad", "ceil_mode", "count_include_pad",
                                            "kernel_shape", "pads", "strides", NULL};
    bool max = op_is(cv, "MaxPool");
    struct cv_value *x;
    enum quanta_status st;
    int64_t ceil_mode, include_pad = 0;
    char buf[128];
    if ((st = cv_check_attrs(cv, max ? max_attrs : avg_attrs)) || (st = only_first_output(cv)) ||
        (st = cv_need_act(cv, 0, &x)) || (st = cv_attr_int(cv, "ceil_mode", 0, &ceil_mode)) ||
        (!max && (st = cv_attr_int(cv, "count_include_pad", 0, &include_pad))))
        return st;
    const int r = x->shape.rank, spatial = r - 2;
    if (r != 3 && r != 4)
        return cv_fail(cv, "input '%s' has shape %s; only 1-D and 2-D pooling ([N, C, L] or "
                           "[N, C, H, W]) is supported",
                       x->name, quanta_shape_format(&x->shape, buf, sizeof buf));
    struct window win;
    if ((st = window_ints(cv, "kernel_shape", spatial, 0, 1, MAX_WINDOW, win.kernel)))
        return st;
    if (win.kernel[0] == 0)
        return cv_fail(cv, "attribute 'kernel_shape' is required");
    /* a zero Pad folded here (a MaxPool without ceil_mode, 2-D only): the
     * window sees the padded extents */
    int64_t in_hw[2] = {r == 4 ? x->shape.dims[2] : 1, x->shape.dims[r - 1]};
    if (x->fold_pad)
        for (int i = 0; i < 2; i++)
            in_hw[i] += x->fold_pads[i] + x->fold_pads[i + 2];
    if ((st = window_ints(cv, "dilations", spatial, 1, 1, 1, win.dilations)) ||
        (st = window_setup(cv, in_hw, spatial, &win)))
        return st;
    for (int i = 0; x->fold_pad && i < 4; i++)
        win.pads[i] += x->fold_pads[i];
    const bool padded = win.pads[0] || win.pads[1] || win.pads[2] || win.pads[3];
    if (!max && include_pad && padded && ceil_mode)
        return cv_fail(cv, "count_include_pad=1 with padding and ceil_mode=1 is not supported");
    if (ceil_mode) {
        /* ceil mode: one more window where the last one still starts
         * inside the input (or its leading padding); emulated with more
         * padding at the end, which neither max nor quanta's average
         * (padding not counted) sees. */
        for (int i = 0; i < 2; i++) {
            int64_t in = i == 0 && r == 3 ? 1 : x->shape.dims[r - 2 + i];
            int64_t s = win.strides[i], k = win.kernel[i];
            int64_t room = in + win.pads[i] + win.pads[i + 2] - k;
            int64_t out = (room + s - 1) / s + 1;
            if ((out - 1) * s >= in + win.pads[i])
                out--;
            if (out > win.out[i]) {
                win.pads[i + 2] += (int)((out - 1) * s + k - (in + win.pads[i] + win.pads[i + 2]));
                win.out[i] = out;
            }
        }
    }
    for (int i = 0; i < 4; i++)
        if (win.pads[i] >= win.kernel[i % 2])
            return cv_fail(cv, "padding %d is not smaller than the kernel %d", win.pads[i],
                           win.kernel[i % 2]);
    int perm[4], qx;
    cv_perm_nhwc(perm);
    if ((st = r == 4 ? cv_materialize(cv, x, perm, &qx) : window_input_2d(cv, x, &qx)))
        return st;
    if (!max && include_pad && padded) {
        /* the padding counts: zeros padded first (a node of their own),
         * then a window that never leaves its input */
        const struct quanta_shape *in = &cv->g->values[qx].shape;
        struct quanta_shape ps = *in;
        ps.dims[1] += win.pads[0] + win.pads[2];
        ps.dims[2] += win.pads[1] + win.pads[3];
        char name[300];
        snprintf(name, sizeof name, "%s.pad", cv->g->values[qx].name);
        int qp = cv_new_value(cv, name, &ps);
        int n = qp < 0 ? -1 : cv_add_node(cv, GRAPH_OP_PAD, "pad", &qx, 1, qp);
        if (n < 0)
            return cv_nomem(cv);
        struct graph_attrs *ga = &cv->g->nodes[n].attrs;
        ga->mode = GRAPH_MODE_CONSTANT;
        ga->value = 0.0f;
        ga->n_pads_begin = ga->n_pads_end = 4;
        const int64_t begin[4] = {0, win.pads[0], win.pads[1], 0};
        const int64_t end_[4] = {0, win.pads[2], win.pads[3], 0};
        for (int i = 0; i < 4; i++) {
            ga->pads_begin[i] = begin[i];
            ga->pads_end[i] = end_[i];
        }
        memset(win.pads, 0, sizeof win.pads);
        qx = qp;
    }
    enum graph_op op = max ? GRAPH_OP_MAX_POOL2D : GRAPH_OP_AVG_POOL2D;
    int n;
    if (r == 3) {
        if ((st = window_emit_1d(cv, x, op, &qx, 1, win.out[1], x->shape.dims[1], &n)))
            return st;
    } else {
        struct cv_value out = *x;
        out.shape.dims[2] = win.out[0];
        out.shape.dims[3] = win.out[1];
        cv_perm_nhwc(out.perm);
        struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
        if ((st = emit(cv, op, &qx, 1, &phys, &out.q, &n)) || (st = def_new(cv, &out)))
            return st;
    }
    struct graph_attrs *a = &cv->g->nodes[n].attrs;
    memcpy(a->kernel, win.kernel, sizeof a->kernel);
    memcpy(a->strides, win.strides, sizeof a->strides);
    memcpy(a->pads, win.pads, sizeof a->pads);
    return QUANTA_OK;
}

static enum quanta_status op_global_avg_pool(struct cv *cv)
{
    struct cv_value *x;
    enum quanta_status st;
    char buf[128];
    if ((st = cv_check_attrs(cv, NULL)) || (st = cv_need_act(cv, 0, &x)))
        return st;
    if (x->shape.rank != 4)
        return cv_fail(cv, "input '%s' has shape %s; [N, C, H, W] is needed", x->name,
                       quanta_shape_format(&x->shape, buf, sizeof buf));
    int perm[4], qx;
    cv_perm_nhwc(perm);
    if ((st = cv_materialize(cv, x, perm, &qx)))
        return st;
    struct cv_value out = *x;
    out.shape.dims[2] = out.shape.dims[3] = 1;
    cv_perm_nhwc(out.perm);
    struct quanta_shape phys = {.rank = 2, .dims = {x->shape.dims[0], x->shape.dims[1]}};
    if ((st = emit(cv, GRAPH_OP_GLOBAL_AVG_POOL, &qx, 1, &phys, &out.q, NULL)))
        return st;
    return def_new(cv, &out);
}

/* ---- shape operators on activations -------------------------------------- */

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
        return def_new(cv, x);
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
        return def_new(cv, &out);
    }
    if ((st = emit(cv, GRAPH_OP_FLATTEN, &qx, 1, &out.shape, &out.q, NULL)))
        return st;
    return def_new(cv, &out);
}

/* x itself, or, when x is a flattened NCHW tensor (columns in NHWC
 * order), *plain: the same tensor materialized in ONNX column order, for
 * the operators that address its columns. */
static enum quanta_status unflat(struct cv *cv, struct cv_value **x, struct cv_value *plain)
{
    if (!(*x)->flat)
        return QUANTA_OK;
    const int r = (*x)->shape.rank;
    int ident[QUANTA_MAX_RANK];
    cv_perm_identity(r, ident);
    *plain = **x;
    plain->flat = false;
    cv_perm_identity(r, plain->perm);
    enum quanta_status st = cv_materialize(cv, *x, ident, &plain->q);
    *x = plain;
    return st;
}

static enum quanta_status op_flatten(struct cv *cv)
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
    if (axis != 1)
        return cv_fail(cv, "attribute 'axis' %lld is not supported; only 1 (keep the batch) is",
                       (long long)axis);
    if (x->flat)
        return def_new(cv, x);
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
        if ((st = emit(cv, GRAPH_OP_RESHAPE, &x->q, 1, &phys, &out.q, &n)))
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
    return def_new(cv, &out);
}

static enum quanta_status op_reshape(struct cv *cv)
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
    /* The target: entry 0 is the batch (the marker, a 0 copying it, -1,
     * or the batch size the model was exported with). */
    int64_t per_sample = 1;
    for (int i = 1; i < x->shape.rank; i++)
        per_sample *= x->shape.dims[i];
    struct quanta_shape o = {.rank = (int)t->numel};
    int infer = -1;
    int64_t known = 1;
    for (int i = 1; i < o.rank; i++) {
        int64_t d = cv_tensor_i(t, i);
        if (d == 0 && !allowzero)
            d = i < x->shape.rank ? x->shape.dims[i] : -2;
        if (d == -1 && infer < 0) {
            infer = i;
            continue;
        }
        if (d < 1)
            return cv_fail(cv, "shape entry %d (%lld) is not supported", i,
                           (long long)cv_tensor_i(t, i));
        o.dims[i] = d;
        known *= d;
    }
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
        return def_new(cv, x);
    if (x->flat && quanta_shape_equal(&o, &x->flat_shape)) {
        /* un-flattening: back to the layout it came from */
        struct cv_value out = *x;
        out.flat = false;
        out.shape = x->flat_shape;
        memcpy(out.perm, x->flat_perm, sizeof out.perm);
        struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
        int n;
        if ((st = emit(cv, GRAPH_OP_RESHAPE, &x->q, 1, &phys, &out.q, &n)))
            return st;
        cv->g->nodes[n].attrs.shape = phys;
        return def_new(cv, &out);
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
    if ((st = emit(cv, GRAPH_OP_RESHAPE, &qx, 1, &o, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.shape = o;
    return def_new(cv, &out);
}

static enum quanta_status op_transpose(struct cv *cv)
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
    if ((st = unflat(cv, &x, &plain)))
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
    return def_new(cv, &out);
}

static enum quanta_status get_axes(struct cv *cv, int since_opset, int64_t *axes, int *n)
{
    enum quanta_status st;
    *n = -1;
    if (cv->m->opset < since_opset) {
        const int64_t *a;
        if ((st = cv_attr_ints(cv, "axes", &a, n)))
            return st;
        if (*n > QUANTA_MAX_RANK)
            return cv_fail(cv, "attribute 'axes' has %d entries", *n);
        for (int i = 0; i < *n; i++)
            axes[i] = a[i];
        return QUANTA_OK;
    }
    struct cv_value *v;
    if ((st = cv_input(cv, 1, &v)) || !v)
        return st;
    if (v->kind != CV_CONST || v->c->dtype != QUANTA_I64 || v->c->numel > QUANTA_MAX_RANK)
        return cv_fail(cv, "input 'axes' must be an INT64 constant of at most %d entries",
                       QUANTA_MAX_RANK);
    *n = (int)v->c->numel;
    for (int i = 0; i < *n; i++)
        axes[i] = cv_tensor_i(v->c, i);
    return QUANTA_OK;
}

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
    if ((st = emit(cv, GRAPH_OP_SLICE, &qx, 1, &phys, &out->q, &node)))
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
static enum quanta_status op_slice(struct cv *cv)
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
    if ((st = unflat(cv, &x, &plain)))
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
    return def_new(cv, &out);
}

/* Layout after dropping the axes marked in drop (their size is 1, or they
 * were reduced). */
static void drop_axes(const struct cv_value *x, const bool *drop, struct cv_value *out)
{
    int r = x->shape.rank, renum[QUANTA_MAX_RANK], k = 0;
    for (int a = 0; a < r; a++)
        renum[a] = drop[a] ? -1 : k++;
    out->shape.rank = 0;
    for (int a = 0; a < r; a++)
        if (!drop[a])
            out->shape.dims[out->shape.rank++] = x->shape.dims[a];
    int j = 0;
    for (int i = 0; i < r; i++)
        if (!drop[x->perm[i]])
            out->perm[j++] = renum[x->perm[i]];
}

static enum quanta_status op_squeeze(struct cv *cv)
{
    static const char *const attrs[] = {"axes", NULL};
    struct cv_value *x;
    int64_t axes[QUANTA_MAX_RANK];
    int n;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = get_axes(cv, 13, axes, &n)))
        return st;
    struct cv_value plain;
    if ((st = unflat(cv, &x, &plain)))
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
    drop_axes(x, drop, &out);
    return def_new(cv, &out);
}

static enum quanta_status op_unsqueeze(struct cv *cv)
{
    static const char *const attrs[] = {"axes", NULL};
    struct cv_value *x;
    int64_t axes[QUANTA_MAX_RANK];
    int n;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = cv_need_act(cv, 0, &x)) ||
        (st = get_axes(cv, 13, axes, &n)))
        return st;
    struct cv_value plain;
    if ((st = unflat(cv, &x, &plain)))
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
    return def_new(cv, &out);
}

/* Concat of activations, and of constants repeated over the batch (an
 * Expand of a class token to [N, 1, D]): those become quanta constants of
 * dim 0 1, which the concat operator repeats. */
static enum quanta_status op_concat(struct cv *cv)
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
    if (axis == 0)
        return cv_fail(cv, "concatenates along the batch axis, which is not supported");
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
            if ((st = need_f32(cv, x->c, "constant")))
                break;
            if (x->c->shape.rank != r) {
                st = cv_fail(cv, "input '%s' has rank %d, not %d", x->name, x->c->shape.rank, r);
                break;
            }
            if ((ins[k] = const_like_axis(cv, x0, x->c, (int)axis, &cs)) < 0) {
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
        if (!(st = emit(cv, GRAPH_OP_CONCAT, ins, n, &phys, &out.q, &node)))
            cv->g->nodes[node].attrs.axis = cv_phys_axis(x0->perm, r, (int)axis);
    }
    free(ins);
    return st ? st : def_new(cv, &out);
}

static enum quanta_status op_softmax(struct cv *cv)
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
    enum graph_op op = op_is(cv, "LogSoftmax") ? GRAPH_OP_LOG_SOFTMAX : GRAPH_OP_SOFTMAX;
    if ((st = emit(cv, op, &qx, 1, &s, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.axis = x->flat ? 1 : cv_phys_axis(x->perm, r, (int)axis);
    return def_new(cv, &out);
}

static enum quanta_status op_batch_norm(struct cv *cv)
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
        (st = only_first_output(cv)) || (st = cv_need_act(cv, 0, &x)) ||
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
    for (int i = 0; i < 4; i++) {
        if ((st = cv_need_const(cv, i + 1, names[i], &p[i])) || (st = need_f32(cv, p[i], names[i])))
            return st;
        if (p[i]->numel != c)
            return cv_fail(cv, "%s '%s' has %lld values but %lld channels are needed", names[i],
                           p[i]->name, (long long)p[i]->numel, (long long)c);
    }
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
        return def_new(cv, x);
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
        if (x->flat && (st = permute_columns(cv, x, v, 1, c))) {
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
    if ((st = emit(cv, GRAPH_OP_BATCH_NORM, ins, 5, &s, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.epsilon = eps;
    return def_new(cv, &out);
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
    if ((st = unflat(cv, &x, &plain)))
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
            drop_axes(&sliced, drop, &out);
        }
        return def_new(cv, &out);
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
    if (!st && !(st = emit(cv, GRAPH_OP_CONCAT, ins, n_runs, &phys, &out.q, &node)))
        cv->g->nodes[node].attrs.axis = cv_phys_axis(x->perm, r, (int)axis);
    free(runs);
    free(ins);
    return st ? st : def_new(cv, &out);
}

static enum quanta_status op_gather(struct cv *cv)
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
    if ((st = need_f32(cv, t, "table")))
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
    if ((st = emit(cv, GRAPH_OP_EMBEDDING, ins, 2, &out.shape, &out.q, NULL)))
        return st;
    return def_new(cv, &out);
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
    return def_new(cv, &out);
}

/* ReduceMean, ReduceSum, ReduceMax, ReduceMin, ReduceL2 (axes as an input
 * from opset 13 for ReduceSum, 18 for the others); ArgMax, ArgMin (one
 * axis, select_last_index). */
static enum quanta_status op_reduce_mean(struct cv *cv)
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
        if (op_is(cv, ops[i].name))
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
            : (st = get_axes(cv, op == GRAPH_OP_REDUCE_SUM ? 13 : 18, axes, &n)) ||
                  (st = cv_attr_int(cv, "noop_with_empty_axes", 0, &noop)))
        return st;
    int r = x->shape.rank;
    if (n <= 0 && noop)
        return def_new(cv, x);
    bool red[QUANTA_MAX_RANK] = {false};
    for (int i = 0; i < (n <= 0 ? r : n); i++) {
        int64_t a = n <= 0 ? i : axes[i] < 0 ? axes[i] + r : axes[i];
        if (a < 0 || a >= r || red[a])
            return cv_fail(cv, "axis %lld is out of range or repeated", (long long)axes[i]);
        red[a] = true;
    }
    if (red[0])
        return cv_fail(cv, "reduces over the batch axis, which is not supported");
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
        drop_axes(&tmp, red, &out);
    }
    int node;
    if ((st = emit(cv, op, &qx, 1, &qs, &out.q, &node)))
        return st;
    struct graph_attrs *a = &cv->g->nodes[node].attrs;
    a->n_axes = nq;
    memcpy(a->axes, qaxes, sizeof qaxes);
    a->keepdims = keepdims != 0;
    a->select_last = last != 0;
    return def_new(cv, &out);
}

static enum quanta_status op_identity(struct cv *cv)
{
    static const char *const attrs[] = {"seed", "ratio", "is_test", NULL};
    struct cv_value *x;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, op_is(cv, "Dropout") ? attrs : NULL)) ||
        (st = only_first_output(cv)) || (st = cv_need_act(cv, 0, &x)))
        return st;
    if (op_is(cv, "Dropout")) {
        struct cv_value *mode;
        if ((st = cv_input(cv, 2, &mode)))
            return st;
        if (mode && (mode->kind != CV_CONST || (mode->c->numel == 1 && cv_tensor_f(mode->c, 0))))
            return cv_fail(cv, "training_mode must be a constant false");
    }
    return def_new(cv, x);
}

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
    if (strcmp(n->op_type, "MaxPool") != 0 || !input_nonnegative(cv))
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
static enum quanta_status op_pad(struct cv *cv)
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
        return def_new(cv, x);
    struct cv_value plain;
    if ((st = unflat(cv, &x, &plain)))
        return st;
    /* zero padding of H and W of a Conv's (MaxPool's) input: it pads */
    bool spatial = r == 4 && gmode == GRAPH_MODE_CONSTANT && value == 0.0f && !x->fold_pad;
    for (int d = 0; spatial && d < r; d++)
        spatial = (d >= 2 ? begin[d] >= 0 && end[d] >= 0 && begin[d] <= MAX_WINDOW &&
                                end[d] <= MAX_WINDOW
                          : !begin[d] && !end[d]);
    const int64_t hw_pads[4] = {begin[2], begin[3], end[2], end[3]};
    if (spatial && pads_itself(cv, hw_pads)) {
        if ((st = def_new(cv, x)))
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
    if ((st = emit(cv, GRAPH_OP_PAD, &qx, 1, &phys, &out.q, &node)))
        return st;
    struct graph_attrs *ga = &cv->g->nodes[node].attrs;
    ga->mode = gmode;
    ga->value = value;
    ga->n_pads_begin = ga->n_pads_end = r;
    for (int i = 0; i < r; i++) {
        ga->pads_begin[i] = begin[x->perm[i]];
        ga->pads_end[i] = end[x->perm[i]];
    }
    return def_new(cv, &out);
}

/* Split along one axis (not the batch) into slices: the sizes from the
 * split attribute (before opset 13) or constant input, else equal parts
 * (num_outputs from opset 18: the last part may be smaller). */
static enum quanta_status op_split(struct cv *cv)
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
        return def_new(cv, x);
    struct cv_value plain;
    if ((st = unflat(cv, &x, &plain)))
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

/* The batch size the file declares for its inputs (one value, > 0), else
 * 0: a size entry of the batch axis equal to it keeps the batch. */
static int64_t exported_batch(struct cv *cv)
{
    const struct onnx_graph *og = &cv->m->graph;
    int64_t b = 0;
    for (int i = 0; i < og->n_inputs; i++) {
        const struct onnx_value_info *in = &og->inputs[i];
        if (!in->has_shape || in->rank < 1 || in->dims[0] < 1)
            continue;
        bool init = false;
        for (int k = 0; k < og->n_initializers && !init; k++)
            init = strcmp(og->initializers[k].name, in->name) == 0;
        if (init)
            continue;
        if (b && b != in->dims[0])
            return 0;
        b = in->dims[0];
    }
    return b;
}

/* Resize (opsets 10 to 18) and Upsample (7, 9): nearest and linear of any
 * axes but the batch, scales or sizes constant. Upsample and Resize-10
 * map output index o to o / scale (asymmetric) and take the floor. */
static enum quanta_status op_resize(struct cv *cv)
{
    static const char *const attrs_up7[] = {"mode", "scales", NULL};
    static const char *const attrs_up9[] = {"mode", NULL};
    static const char *const attrs11[] = {"mode", "coordinate_transformation_mode",
                                          "cubic_coeff_a", "exclude_outside",
                                          "extrapolation_value", "nearest_mode", NULL};
    static const char *const attrs18[] = {"mode", "coordinate_transformation_mode",
                                          "cubic_coeff_a", "exclude_outside",
                                          "extrapolation_value", "nearest_mode", "antialias",
                                          "axes", "keep_aspect_ratio_policy", NULL};
    const int64_t opset = cv->m->opset;
    const bool upsample = op_is(cv, "Upsample");
    const bool simple = upsample || opset < 11; /* Upsample and Resize-10 */
    struct cv_value *x;
    enum quanta_status st;
    const char *mode, *coord = "asymmetric", *round = "floor", *policy = "stretch";
    int64_t antialias = 0;
    char buf[128];
    if ((st = cv_check_attrs(cv, upsample ? (opset < 9 ? attrs_up7 : attrs_up9)
                                 : simple     ? attrs_up9
                                 : opset < 18 ? attrs11
                                              : attrs18)) ||
        (st = cv_need_act(cv, 0, &x)) || (st = cv_attr_string(cv, "mode", "nearest", &mode)))
        return st;
    if (!simple &&
        ((st = cv_attr_string(cv, "coordinate_transformation_mode", "half_pixel", &coord)) ||
         (st = cv_attr_string(cv, "nearest_mode", "round_prefer_floor", &round)) ||
         (st = cv_attr_string(cv, "keep_aspect_ratio_policy", "stretch", &policy)) ||
         (st = cv_attr_int(cv, "antialias", 0, &antialias))))
        return st;
    int gmode = strcmp(mode, "nearest") == 0 ? GRAPH_MODE_NEAREST
                : strcmp(mode, "linear") == 0 || (upsample && strcmp(mode, "bilinear") == 0)
                    ? GRAPH_MODE_LINEAR
                    : -1;
    if (gmode < 0)
        return cv_fail(cv, "attribute 'mode' '%s' is not supported (nearest, linear)", mode);
    int gcoord = -1, ground = -1;
    for (int i = 0; i < GRAPH_COORD_COUNT; i++)
        if (strcmp(coord, graph_coord_name(i)) == 0)
            gcoord = i;
    for (int i = 0; i < GRAPH_ROUND_COUNT; i++)
        if (strcmp(round, graph_round_name(i)) == 0)
            ground = i;
    if (gcoord < 0)
        return cv_fail(cv, "attribute 'coordinate_transformation_mode' '%s' is not supported",
                       coord);
    if (ground < 0)
        return cv_fail(cv, "attribute 'nearest_mode' '%s' is not supported", round);
    if (strcmp(policy, "stretch") != 0)
        return cv_fail(cv, "attribute 'keep_aspect_ratio_policy' '%s' is not supported "
                           "(stretch only)",
                       policy);
    if (antialias)
        return cv_fail(cv, "attribute 'antialias' %lld is not supported", (long long)antialias);

    const int r = x->shape.rank;
    int64_t axes[QUANTA_MAX_RANK];
    int na = r;
    for (int i = 0; i < r; i++)
        axes[i] = i;
    if (!simple && opset >= 18) {
        const int64_t *v;
        int n;
        if ((st = cv_attr_ints(cv, "axes", &v, &n)))
            return st;
        if (n > r)
            return cv_fail(cv, "attribute 'axes' has %d entries for rank %d", n, r);
        if (n >= 0) {
            na = n;
            for (int i = 0; i < n; i++)
                axes[i] = v[i] < 0 ? v[i] + r : v[i];
        }
    }
    /* scales or sizes, na entries */
    double scales[QUANTA_MAX_RANK];
    int64_t sizes[QUANTA_MAX_RANK];
    bool by_sizes = false;
    const struct onnx_tensor *t = NULL;
    if (upsample && opset < 9) {
        const struct onnx_attr *a = onnx_node_attr(cv->node, "scales");
        if (!a || a->n_floats != na)
            return cv_fail(cv, "attribute 'scales' must have %d entries", na);
        for (int i = 0; i < na; i++)
            scales[i] = (double)a->floats[i];
    } else {
        int ks = simple ? 1 : 2;
        struct cv_value *sv = NULL, *zv = NULL;
        if ((st = cv_input(cv, ks, &sv)) || (!simple && (st = cv_input(cv, 3, &zv))))
            return st;
        if (sv && (st = cv_need_const(cv, ks, "scales", &t)))
            return st;
        if ((!sv || t->numel == 0) && zv) {
            if ((st = cv_need_const(cv, 3, "sizes", &t)))
                return st;
            by_sizes = true;
        } else if (!sv) {
            return cv_fail(cv, "needs scales or sizes");
        }
        if (t->numel != na)
            return cv_fail(cv, "%s has %lld entries for %d axes", by_sizes ? "sizes" : "scales",
                           (long long)t->numel, na);
        for (int i = 0; i < na; i++) {
            if (by_sizes)
                sizes[i] = cv_tensor_i(t, i);
            else
                scales[i] = (double)(float)cv_tensor_f(t, i);
        }
    }
    struct cv_value out = *x;
    float gscale[QUANTA_MAX_RANK];
    bool seen[QUANTA_MAX_RANK] = {false}, same = true, down = false;
    for (int d = 0; d < r; d++)
        gscale[d] = 1.0f;
    for (int i = 0; i < na; i++) {
        int64_t a = axes[i], in = a >= 0 && a < r ? x->shape.dims[a] : 0;
        if (a < 0 || a >= r || seen[a])
            return cv_fail(cv, "axis %lld is not valid for rank %d", (long long)axes[i], r);
        seen[a] = true;
        int64_t o;
        if (by_sizes) {
            o = sizes[i];
            if (in < 0 && (o == CV_BATCH || o == exported_batch(cv)))
                continue;
            gscale[a] = 0.0f; /* output / input */
        } else {
            double s = scales[i];
            if (!(s > 0.0) || !isfinite(s))
                return cv_fail(cv, "scale %g of axis %lld is not a positive number", s,
                               (long long)a);
            if (in < 0 && s == 1.0)
                continue;
            o = in < 0 ? -1 : (int64_t)floor(s * (double)in);
            gscale[a] = (float)s;
            down = down || s < 1.0;
        }
        if (in < 0)
            return cv_fail(cv, "resizes the batch axis of '%s' %s, whose size is any", x->name,
                           quanta_shape_format(&x->shape, buf, sizeof buf));
        if (o < 1 || o > INT32_MAX)
            return cv_fail(cv, "axis %lld would have %lld elements", (long long)a, (long long)o);
        out.shape.dims[a] = o;
        same = same && o == in && (gscale[a] == 0.0f || gscale[a] == 1.0f);
    }
    if (simple && gmode == GRAPH_MODE_NEAREST && down)
        return cv_fail(cv, "nearest with a scale below 1 is not supported for %s",
                       upsample ? "Upsample" : "Resize before opset 11");
    if (same && !(gcoord == GRAPH_COORD_TF_HALF_PIXEL_FOR_NN && gmode == GRAPH_MODE_NEAREST))
        return def_new(cv, x);
    if (x->flat)
        return cv_fail(cv, "input '%s' is a flattened NCHW tensor", x->name);
    int qx;
    if ((st = cv_materialize(cv, x, x->perm, &qx)))
        return st;
    struct quanta_shape phys = cv_phys_shape(&out.shape, x->perm);
    int node;
    if ((st = emit(cv, GRAPH_OP_RESIZE, &qx, 1, &phys, &out.q, &node)))
        return st;
    struct graph_attrs *ga = &cv->g->nodes[node].attrs;
    ga->shape = phys;
    ga->mode = gmode;
    ga->coord = gcoord;
    ga->nearest = ground;
    ga->n_scales = by_sizes ? 0 : r;
    for (int i = 0; i < r && !by_sizes; i++)
        ga->scales[i] = gscale[x->perm[i]];
    return def_new(cv, &out);
}

/* Cast and CastLike. Activations are held as float whatever their ONNX
 * type: a cast whose result holds the same values folds away (to FLOAT or
 * DOUBLE, which keeps float32 precision; to an integer type that holds
 * every value of the source type); the others become a cast node that
 * rounds to the target's values (FLOAT16 to nearest, ties to even;
 * integers toward zero, a value out of range being a run-time error). */
static enum quanta_status op_cast(struct cv *cv)
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
            return def_new(cv, x);
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
        return def_new(cv, &out);
    int n, qx = x->q;
    struct quanta_shape shape = cv->g->values[qx].shape; /* values may move as emit adds */
    if ((st = emit(cv, GRAPH_OP_CAST, &qx, 1, &shape, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.to = qto;
    return def_new(cv, &out);
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
static enum quanta_status op_layer_norm(struct cv *cv)
{
    static const char *const attrs[] = {"axis", "epsilon", "stash_type", NULL};
    struct cv_value *x;
    const struct onnx_tensor *p[2] = {NULL, NULL};
    int64_t axis;
    float eps;
    enum quanta_status st;
    if ((st = cv_check_attrs(cv, attrs)) || (st = only_first_output(cv)) ||
        (st = cv_need_act(cv, 0, &x)) || (st = cv_attr_int(cv, "axis", -1, &axis)) ||
        (st = cv_attr_float(cv, "epsilon", 1e-5f, &eps)) ||
        (st = cv_need_const(cv, 1, "Scale", &p[0])) || (st = need_f32(cv, p[0], "Scale")))
        return st;
    struct cv_value *b = NULL;
    if ((st = cv_input(cv, 2, &b)))
        return st;
    if (b && ((st = cv_need_const(cv, 2, "B", &p[1])) || (st = need_f32(cv, p[1], "B"))))
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
    struct quanta_shape shape = cv->g->values[qx].shape; /* values may move as emit adds */
    if ((st = emit(cv, GRAPH_OP_LAYER_NORM, ins, n_ins, &shape, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.axis = a;
    cv->g->nodes[n].attrs.epsilon = eps;
    return def_new(cv, &out);
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

static enum quanta_status op_reduce_mean(struct cv *cv);

/* ReduceMean: a LayerNorm decomposed before opset 17 when it starts one. */
static enum quanta_status op_reduce_mean_or_ln(struct cv *cv)
{
    bool done;
    enum quanta_status st = fuse_layer_norm(cv, &done);
    if (st || done)
        return st;
    return op_reduce_mean(cv);
}

/* InstanceNormalization: x [N, C, ...] normalized over the spatial axes
 * per sample and channel; quanta keeps the channels on the last axis. */
static enum quanta_status op_instance_norm(struct cv *cv)
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
    for (int i = 0; i < 2; i++) {
        if ((st = cv_need_const(cv, i + 1, names[i], &p[i])) ||
            (st = need_f32(cv, p[i], names[i])))
            return st;
        if (p[i]->numel != c)
            return cv_fail(cv, "%s '%s' has %lld values but %lld channels are needed", names[i],
                           p[i]->name, (long long)p[i]->numel, (long long)c);
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
    struct quanta_shape shape = cv->g->values[ins[0]].shape; /* values may move as emit adds */
    if ((st = emit(cv, GRAPH_OP_INSTANCE_NORM, ins, 3, &shape, &out.q, &n)))
        return st;
    cv->g->nodes[n].attrs.epsilon = eps;
    return def_new(cv, &out);
}

/* ---- dispatch ------------------------------------------------------------ */

enum quanta_status cv_convert_node(struct cv *cv)
{
    static const struct {
        const char *name;
        enum quanta_status (*fn)(struct cv *cv);
    } table[] = {
        {"Conv", op_conv},
        {"ConvTranspose", op_conv_transpose},
        {"Gemm", op_gemm},
        {"MatMul", op_matmul},
        {"Relu", op_simple},
        {"Sigmoid", op_simple},
        {"Tanh", op_simple},
        {"LeakyRelu", op_leaky_relu},
        {"Neg", op_math},
        {"Abs", op_math},
        {"Exp", op_math},
        {"Log", op_math},
        {"Sqrt", op_math},
        {"Erf", op_math},
        {"HardSigmoid", op_math},
        {"HardSwish", op_math},
        {"Elu", op_math},
        {"Selu", op_math},
        {"Clip", op_clip},
        {"Add", op_binary},
        {"Sub", op_binary},
        {"Mul", op_binary},
        {"Div", op_binary},
        {"Pow", op_binary},
        {"Max", op_binary},
        {"Min", op_binary},
        {"PRelu", op_binary},
        {"MaxPool", op_pool},
        {"AveragePool", op_pool},
        {"GlobalAveragePool", op_global_avg_pool},
        {"Flatten", op_flatten},
        {"Reshape", op_reshape},
        {"Transpose", op_transpose},
        {"Slice", op_slice},
        {"Squeeze", op_squeeze},
        {"Unsqueeze", op_unsqueeze},
        {"Concat", op_concat},
        {"Softmax", op_softmax},
        {"LogSoftmax", op_softmax},
        {"BatchNormalization", op_batch_norm},
        {"Gather", op_gather},
        {"ReduceMean", op_reduce_mean_or_ln},
        {"ReduceSum", op_reduce_mean},
        {"ReduceMax", op_reduce_mean},
        {"ReduceMin", op_reduce_mean},
        {"ReduceL2", op_reduce_mean},
        {"ArgMax", op_reduce_mean},
        {"ArgMin", op_reduce_mean},
        {"Identity", op_identity},
        {"Dropout", op_identity},
        {"Pad", op_pad},
        {"Split", op_split},
        {"Resize", op_resize},
        {"Upsample", op_resize},
        {"Cast", op_cast},
        {"CastLike", op_cast},
        {"LayerNormalization", op_layer_norm},
        {"InstanceNormalization", op_instance_norm},
        {"Loop", cv_convert_bag},
    };
    /* operators that follow a batch axis moved by Transpose or merged with
     * other axes by Reshape (attention as torch's nn.MultiheadAttention
     * exports it) */
    static const char *const moved_ok[] = {"Transpose", "Reshape", "MatMul", "Gemm", "Softmax",
                                           "Slice", "Add", "Sub", "Mul", "Div", "Identity",
                                           "Dropout",
                                           "Loop", /* a bag reads other values: cv_convert_bag */
                                           NULL};
    bool ok = false;
    for (int i = 0; moved_ok[i] && !ok; i++)
        ok = op_is(cv, moved_ok[i]);
    for (int k = 0; !ok && k < cv->node->n_inputs; k++) {
        struct cv_value *v;
        enum quanta_status st = cv_input(cv, k, &v);
        if (st)
            return st;
        if (v && !cv_plain(v))
            return cv_fail(cv, "input '%s' has its batch axis moved or merged with other axes "
                               "(by Transpose or Reshape), which this operator does not support",
                           v->name);
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (op_is(cv, table[i].name))
            return cv->probe ? QUANTA_OK : table[i].fn(cv);
    if (cv->probe)
        return QUANTA_ERR_INPUT;
    return cv_fail(cv, "operator '%s' is not supported (see man quanta-import for the list)",
                   cv->node->op_type);
}

/* Conv and ConvTranspose, 1-D and 2-D: NCHW weights to quanta's
 * [O, KH, KW, C/group] conv2d (a 3-D Conv: onnx_window3d.c); a ConvTranspose becomes the conv2d it
 * equals on its input spread with zeros. */
#include "import/onnx_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Conv ---------------------------------------------------------------- */

/* What Conv and ConvTranspose read alike: x [N, C, L] or [N, C, H, W], a
 * constant float weight of the same rank, an optional constant bias, the
 * group, and the kernel's extents (1-D: height 1). */
struct conv_operands {
    struct cv_value *x;
    const struct onnx_tensor *w, *b;
    int64_t group, kd, kh, kw; /* kd: 3-D only */
    int rank;
};

static enum quanta_status conv_operands(struct cv *cv, const char *const *attrs, const char *what,
                                        const char *w_shape_1d, const char *w_shape_2d,
                                        bool allow_3d, struct conv_operands *c)
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
    if (c->rank == 5 && !allow_3d)
        return cv_fail(cv, "input '%s' has shape %s; 3-D %s is not supported (only 1-D and "
                           "2-D)",
                       x->name, quanta_shape_format(&x->shape, buf, sizeof buf), what);
    if (c->rank != 3 && c->rank != 4 && c->rank != 5)
        return cv_fail(cv, "input '%s' has shape %s; only 1-D, 2-D and 3-D %s ([N, C, L], "
                           "[N, C, H, W] or [N, C, D, H, W]) is supported",
                       x->name, quanta_shape_format(&x->shape, buf, sizeof buf), what);
    if ((st = cv_need_f32(cv, w, "weight")) || (c->b && (st = cv_need_f32(cv, c->b, "bias"))))
        return st;
    if (w->shape.rank != c->rank)
        return cv_fail(cv, "weight '%s' has shape %s but %s is needed", w->name,
                       quanta_shape_format(&w->shape, buf, sizeof buf),
                       c->rank == 3   ? w_shape_1d
                       : c->rank == 4 ? w_shape_2d
                                      : "[O, C/group, KD, KH, KW]");
    c->kd = c->rank == 5 ? w->shape.dims[2] : 1;
    c->kh = c->rank >= 4 ? w->shape.dims[c->rank - 2] : 1;
    c->kw = w->shape.dims[c->rank - 1];
    if (c->kd < 1 || c->kh < 1 || c->kw < 1 || c->kd > CV_MAX_WINDOW ||
        c->kh > CV_MAX_WINDOW || c->kw > CV_MAX_WINDOW)
        return cv_fail(cv, "weight '%s' %s has a kernel outside 1 to %d", w->name,
                       quanta_shape_format(&w->shape, buf, sizeof buf), CV_MAX_WINDOW);
    int ks[3];
    if ((st = cv_window_ints(cv, "kernel_shape", c->rank - 2, 0, 1, 1, CV_MAX_WINDOW, ks)))
        return st;
    const int64_t want[3] = {c->kd, c->kh, c->kw};
    bool differs = false;
    for (int i = 0; ks[0] && i < (c->rank == 5 ? 3 : 2); i++)
        differs = differs || ks[i] != want[c->rank == 5 ? i : i + 1];
    if (differs)
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
        if ((st = cv_window_emit_1d(cv, c->x, GRAPH_OP_CONV2D, ins, 3, out_hw[1], o, &n)))
            return st;
    } else {
        struct cv_value out = *c->x;
        out.shape.dims[1] = o;
        out.shape.dims[2] = out_hw[0];
        out.shape.dims[3] = out_hw[1];
        cv_perm_nhwc(out.perm);
        out.flat = false;
        struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
        if ((st = cv_emit(cv, GRAPH_OP_CONV2D, ins, 3, &phys, &out.q, &n)) ||
            (st = cv_def_new(cv, &out)))
            return st;
    }
    struct graph_attrs *a = &cv->g->nodes[n].attrs;
    memcpy(a->strides, strides, 2 * sizeof *strides);
    memcpy(a->dilations, dil, 2 * sizeof *dil);
    memcpy(a->pads, pads, 4 * sizeof *pads);
    a->groups = (int)c->group;
    return QUANTA_OK;
}

/* x as conv2d reads it: NHWC, or a 1-D x as [N, 1, L, C]. */
static enum quanta_status conv_input(struct cv *cv, struct cv_value *x, int *qx)
{
    int perm[4];
    cv_perm_nhwc(perm);
    return x->shape.rank == 4 ? cv_materialize(cv, x, perm, qx) : cv_window_input_2d(cv, x, qx);
}

enum quanta_status cv_op_conv(struct cv *cv)
{
    static const char *const attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                        "pads", "strides", NULL};
    struct conv_operands c;
    enum quanta_status st = conv_operands(cv, attrs, "convolution", "[O, C/group, K]",
                                          "[O, C/group, KH, KW]", true, &c);
    if (st)
        return st;
    if (c.rank == 5)
        return cv_conv3d(cv, c.x, c.w, c.b, c.group);
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
    struct cv_window win = {.kernel = {(int)kh, (int)kw}};
    /* a zero Pad folded here (2-D only): the window sees the padded extents */
    int64_t in_hw[2] = {r == 4 ? x->shape.dims[2] : 1, x->shape.dims[r - 1]};
    if (x->fold_pad)
        for (int i = 0; i < 2; i++)
            in_hw[i] += x->fold_pads[i] + x->fold_pads[i + 2];
    if ((st = cv_window_ints(cv, "dilations", spatial, 1, 1, 1, CV_MAX_WINDOW, win.dilations)) ||
        (st = cv_window_setup(cv, in_hw, spatial, &win)))
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

enum quanta_status cv_op_conv_transpose(struct cv *cv)
{
    static const char *const attrs[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                        "output_padding", "output_shape", "pads", "strides",
                                        NULL};
    struct conv_operands c;
    enum quanta_status st = conv_operands(cv, attrs, "transposed convolution", "[C, O/group, K]",
                                          "[C, O/group, KH, KW]", false, &c);
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
    int strides[2], dil[2], pads[4], outpad[2], outshape[2];
    const char *auto_pad;
    if ((st = cv_window_ints(cv, "strides", spatial, 1, 1, 1, CV_MAX_WINDOW, strides)) ||
        (st = cv_window_ints(cv, "dilations", spatial, 1, 1, 1, CV_MAX_WINDOW, dil)) ||
        (st = cv_window_ints(cv, "pads", spatial, 0, 0, 0, CV_MAX_WINDOW, pads)) ||
        (st = cv_window_ints(cv, "output_padding", spatial, 0, 0, 0, CV_MAX_WINDOW, outpad)) ||
        (st = cv_window_ints(cv, "output_shape", spatial, 0, 1, 1, 1 << 24, outshape)) ||
        (st = cv_attr_string(cv, "auto_pad", "NOTSET", &auto_pad)))
        return st;
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
            if (total < -CV_MAX_WINDOW || total > CV_MAX_WINDOW)
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
        if (begin > CV_MAX_WINDOW || end > CV_MAX_WINDOW)
            return cv_fail(cv, "padding larger than %d is not supported", CV_MAX_WINDOW);
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

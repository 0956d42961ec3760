/* Conv, MaxPool and AveragePool with three spatial axes ([N, C, D, H, W])
 * as quanta's conv3d, max_pool3d and avg_pool3d on NDHWC: the input
 * transposed channels last, the weight to [O, KD, KH, KW, C/group]. */
#include "import/onnx_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void perm_ndhwc(int *perm)
{
    static const int ndhwc[5] = {0, 2, 3, 4, 1};
    memcpy(perm, ndhwc, sizeof ndhwc);
}

/* The node's output [N, c, out[0], out[1], out[2]] held NDHWC, made by op
 * on ins; *node its index. */
static enum quanta_status emit_3d(struct cv *cv, const struct cv_value *x, enum graph_op op,
                                  const int *ins, int n_ins, int64_t c, const int64_t *out,
                                  int *node)
{
    struct cv_value v = *x;
    v.shape.dims[1] = c;
    for (int i = 0; i < 3; i++)
        v.shape.dims[2 + i] = out[i];
    perm_ndhwc(v.perm);
    v.flat = false;
    struct quanta_shape phys = cv_phys_shape(&v.shape, v.perm);
    enum quanta_status st = cv_emit(cv, op, ins, n_ins, &phys, &v.q, node);
    return st ? st : cv_def_new(cv, &v);
}

static void set_window(struct graph_attrs *a, const struct cv_window *w, bool kernel)
{
    for (int i = 0; i < 3; i++) {
        if (kernel)
            a->kernel[i] = w->kernel[i];
        a->strides[i] = w->strides[i];
        a->dilations[i] = w->dilations[i];
    }
    memcpy(a->pads, w->pads, sizeof w->pads);
}

enum quanta_status cv_conv3d(struct cv *cv, struct cv_value *x, const struct onnx_tensor *w,
                             const struct onnx_tensor *b, int64_t group)
{
    char buf[128];
    enum quanta_status st;
    const int64_t ch = x->shape.dims[1], o = w->shape.dims[0], cg = w->shape.dims[1];
    if (group < 1 || group > ch || ch % group != 0 || cg * group != ch || o % group != 0 || o < 1)
        return cv_fail(cv, "weight '%s' %s does not fit input channels %lld with group %lld",
                       w->name, quanta_shape_format(&w->shape, buf, sizeof buf), (long long)ch,
                       (long long)group);
    if (b && (b->shape.rank != 1 || b->shape.dims[0] != o))
        return cv_fail(cv, "bias '%s' has shape %s but [%lld] is needed", b->name,
                       quanta_shape_format(&b->shape, buf, sizeof buf), (long long)o);
    const int64_t kd = w->shape.dims[2], kh = w->shape.dims[3], kw = w->shape.dims[4];
    struct cv_window win = {.kernel = {(int)kd, (int)kh, (int)kw}};
    if ((st = cv_window_ints(cv, "dilations", 3, 1, 1, 1, CV_MAX_WINDOW, win.dilations)) ||
        (st = cv_window_setup(cv, x->shape.dims + 2, 3, &win)))
        return st;
    int perm[5], qx;
    perm_ndhwc(perm);
    if ((st = cv_materialize(cv, x, perm, &qx)))
        return st;
    /* [O, C/g, KD, KH, KW] -> [O, KD, KH, KW, C/g] */
    const float *src = w->data;
    float *dst = malloc((size_t)w->numel * sizeof *dst + 1);
    if (!dst)
        return cv_nomem(cv);
    const int64_t taps = kd * kh * kw;
    for (int64_t a = 0; a < o; a++)
        for (int64_t ci = 0; ci < cg; ci++)
            for (int64_t t = 0; t < taps; t++)
                dst[(a * taps + t) * cg + ci] = src[(a * cg + ci) * taps + t];
    struct quanta_shape ws = {.rank = 5, .dims = {o, kd, kh, kw, cg}};
    int qw = cv_const_value(cv, cv->node->inputs[1], dst, &ws), qb = -1, n;
    free(dst);
    if (qw < 0)
        return cv_nomem(cv);
    if (b) {
        struct quanta_shape bs = {.rank = 1, .dims = {o}};
        if ((qb = cv_const_value(cv, cv->node->inputs[2], b->data, &bs)) < 0)
            return cv_nomem(cv);
    }
    const int ins[3] = {qx, qw, qb};
    if ((st = emit_3d(cv, x, GRAPH_OP_CONV3D, ins, 3, o, win.out, &n)))
        return st;
    struct graph_attrs *a = &cv->g->nodes[n].attrs;
    set_window(a, &win, false);
    a->groups = (int)group;
    return QUANTA_OK;
}

/* *q (physical NDHWC) padded with zeros: pads[i] before and pads[i + 3]
 * after spatial axis i. */
static enum quanta_status pad_zeros(struct cv *cv, int *q, const int *pads)
{
    struct quanta_shape s = cv->g->values[*q].shape;
    for (int i = 0; i < 3; i++)
        s.dims[1 + i] += pads[i] + pads[i + 3];
    char name[300];
    snprintf(name, sizeof name, "%s.pad", cv->g->values[*q].name);
    int out = cv_new_value(cv, name, &s);
    int n = out < 0 ? -1 : cv_add_node(cv, GRAPH_OP_PAD, "pad", q, 1, out);
    if (n < 0)
        return cv_nomem(cv);
    struct graph_attrs *a = &cv->g->nodes[n].attrs;
    a->mode = GRAPH_MODE_CONSTANT;
    a->value = 0.0f;
    a->n_pads_begin = a->n_pads_end = 5;
    for (int i = 0; i < 5; i++)
        a->pads_begin[i] = a->pads_end[i] = 0;
    for (int i = 0; i < 3; i++) {
        a->pads_begin[1 + i] = pads[i];
        a->pads_end[1 + i] = pads[i + 3];
    }
    *q = out;
    return QUANTA_OK;
}

enum quanta_status cv_pool3d(struct cv *cv, struct cv_value *x, bool max, bool ceil_mode,
                             bool include_pad)
{
    enum quanta_status st;
    struct cv_window win;
    if ((st = cv_window_ints(cv, "kernel_shape", 3, 0, 1, 1, CV_MAX_WINDOW, win.kernel)))
        return st;
    if (win.kernel[0] == 0)
        return cv_fail(cv, "attribute 'kernel_shape' is required");
    if ((st = cv_window_ints(cv, "dilations", 3, 1, 1, 1, max ? CV_MAX_WINDOW : 1,
                             win.dilations)) ||
        (st = cv_window_setup(cv, x->shape.dims + 2, 3, &win)))
        return st;
    /* ceil mode: one more window where the last one still starts inside
     * the input or its leading padding, as more padding at the end that
     * no window counts (max: never taken; avg: not in the divisor) */
    int extra[6] = {0};
    for (int i = 0; ceil_mode && i < 3; i++) {
        int64_t in = x->shape.dims[2 + i], s = win.strides[i];
        int64_t span = (int64_t)(win.kernel[i] - 1) * win.dilations[i] + 1;
        int64_t room = in + win.pads[i] + win.pads[i + 3] - span;
        int64_t out = (room + s - 1) / s + 1;
        if ((out - 1) * s >= in + win.pads[i])
            out--;
        if (out > win.out[i]) {
            extra[i + 3] = (int)((out - 1) * s + span - (in + win.pads[i] + win.pads[i + 3]));
            win.out[i] = out;
        }
    }
    int perm[5], qx;
    perm_ndhwc(perm);
    if ((st = cv_materialize(cv, x, perm, &qx)))
        return st;
    if (!max && include_pad) {
        /* the padding counts: zeros padded first (a node of their own),
         * then a window that leaves its input only by the ceil mode's end */
        if ((win.pads[0] || win.pads[1] || win.pads[2] || win.pads[3] || win.pads[4] ||
             win.pads[5]) &&
            (st = pad_zeros(cv, &qx, win.pads)))
            return st;
        memset(win.pads, 0, sizeof win.pads);
    }
    for (int i = 0; i < 6; i++) {
        win.pads[i] += extra[i];
        if (win.pads[i] >= win.kernel[i % 3])
            return cv_fail(cv, "padding %d is not smaller than the kernel %d", win.pads[i],
                           win.kernel[i % 3]);
    }
    int n;
    if ((st = emit_3d(cv, x, max ? GRAPH_OP_MAX_POOL3D : GRAPH_OP_AVG_POOL3D, &qx, 1,
                      x->shape.dims[1], win.out, &n)))
        return st;
    set_window(&cv->g->nodes[n].attrs, &win, true);
    return QUANTA_OK;
}

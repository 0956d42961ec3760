/* MaxPool, AveragePool (1-D and 2-D; 3-D in onnx_window3d.c) and
 * GlobalAveragePool. */
#include "import/onnx_ops.h"

#include <stdio.h>
#include <string.h>

enum quanta_status cv_op_pool(struct cv *cv)
{
    static const char *const max_attrs[] = {"auto_pad", "ceil_mode", "dilations", "kernel_shape",
                                            "pads", "strides", "storage_order", NULL};
    static const char *const avg_attrs[] = {"auto_pad", "ceil_mode", "count_include_pad",
                                            "kernel_shape", "pads", "strides", NULL};
    bool max = cv_op_is(cv, "MaxPool");
    struct cv_value *x;
    enum quanta_status st;
    int64_t ceil_mode, include_pad = 0;
    char buf[128];
    if ((st = cv_check_attrs(cv, max ? max_attrs : avg_attrs)) || (st = cv_only_first_output(cv)) ||
        (st = cv_need_act(cv, 0, &x)) || (st = cv_attr_int(cv, "ceil_mode", 0, &ceil_mode)) ||
        (!max && (st = cv_attr_int(cv, "count_include_pad", 0, &include_pad))))
        return st;
    const int r = x->shape.rank, spatial = r - 2;
    if (r == 5)
        return cv_pool3d(cv, x, max, ceil_mode != 0, include_pad != 0);
    if (r != 3 && r != 4)
        return cv_fail(cv, "input '%s' has shape %s; only 1-D, 2-D and 3-D pooling ([N, C, L], "
                           "[N, C, H, W] or [N, C, D, H, W]) is supported",
                       x->name, quanta_shape_format(&x->shape, buf, sizeof buf));
    struct cv_window win;
    if ((st = cv_window_ints(cv, "kernel_shape", spatial, 0, 1, 1, CV_MAX_WINDOW, win.kernel)))
        return st;
    if (win.kernel[0] == 0)
        return cv_fail(cv, "attribute 'kernel_shape' is required");
    /* a zero Pad folded here (a MaxPool without ceil_mode, 2-D only): the
     * window sees the padded extents */
    int64_t in_hw[2] = {r == 4 ? x->shape.dims[2] : 1, x->shape.dims[r - 1]};
    if (x->fold_pad)
        for (int i = 0; i < 2; i++)
            in_hw[i] += x->fold_pads[i] + x->fold_pads[i + 2];
    if ((st = cv_window_ints(cv, "dilations", spatial, 1, 1, 1, 1, win.dilations)) ||
        (st = cv_window_setup(cv, in_hw, spatial, &win)))
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
    if ((st = r == 4 ? cv_materialize(cv, x, perm, &qx) : cv_window_input_2d(cv, x, &qx)))
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
        if ((st = cv_window_emit_1d(cv, x, op, &qx, 1, win.out[1], x->shape.dims[1], &n)))
            return st;
    } else {
        struct cv_value out = *x;
        out.shape.dims[2] = win.out[0];
        out.shape.dims[3] = win.out[1];
        cv_perm_nhwc(out.perm);
        struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
        if ((st = cv_emit(cv, op, &qx, 1, &phys, &out.q, &n)) || (st = cv_def_new(cv, &out)))
            return st;
    }
    struct graph_attrs *a = &cv->g->nodes[n].attrs;
    memcpy(a->kernel, win.kernel, 2 * sizeof *win.kernel);
    memcpy(a->strides, win.strides, 2 * sizeof *win.strides);
    memcpy(a->pads, win.pads, 4 * sizeof *win.pads);
    return QUANTA_OK;
}

enum quanta_status cv_op_global_avg_pool(struct cv *cv)
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
    if ((st = cv_emit(cv, GRAPH_OP_GLOBAL_AVG_POOL, &qx, 1, &phys, &out.q, NULL)))
        return st;
    return cv_def_new(cv, &out);
}

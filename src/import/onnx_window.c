/* Windows, as Conv, ConvTranspose, MaxPool and AveragePool read them:
 * kernel, strides, dilations and pads from attributes (auto_pad too), the
 * output size, and the 1-D operators run as 2-D ones of height 1. */
#include "import/onnx_ops.h"

#include <stdio.h>
#include <string.h>

static enum quanta_status check_range(struct cv *cv, const char *attr, int64_t v, int64_t lo,
                                      int64_t hi)
{
    if (v < lo || v > hi)
        return cv_fail(cv, "attribute '%s' has %lld; %lld to %lld is supported", attr,
                       (long long)v, (long long)lo, (long long)hi);
    return QUANTA_OK;
}

/* An INTS attribute of exactly n entries in [lo, hi], or def (*given
 * false). */
static enum quanta_status ints_attr(struct cv *cv, const char *name, int n, int def, int lo,
                                    int hi, int *out, bool *given)
{
    const int64_t *v;
    int count;
    enum quanta_status st = cv_attr_ints(cv, name, &v, &count);
    if (st)
        return st;
    for (int i = 0; i < n; i++)
        out[i] = def;
    *given = count >= 0;
    if (count < 0)
        return QUANTA_OK;
    if (count != n)
        return cv_fail(cv, "attribute '%s' has %d entries but %d are needed", name, count, n);
    for (int i = 0; i < n; i++) {
        if ((st = check_range(cv, name, v[i], lo, hi)))
            return st;
        out[i] = (int)v[i];
    }
    return QUANTA_OK;
}

enum quanta_status cv_window_ints(struct cv *cv, const char *name, int spatial, int def,
                                  int trivial, int lo, int hi, int *out)
{
    bool pads = strcmp(name, "pads") == 0, given;
    if (spatial >= 2)
        return ints_attr(cv, name, pads ? 2 * spatial : spatial, def, lo, hi, out, &given);
    int one[2];
    enum quanta_status st = ints_attr(cv, name, pads ? 2 : 1, def, lo, hi, one, &given);
    if (st)
        return st;
    const int first = given ? trivial : def;
    if (pads) {
        out[0] = out[2] = first;
        out[1] = one[0];
        out[3] = one[1];
    } else {
        out[0] = first;
        out[1] = one[0];
    }
    return QUANTA_OK;
}

enum quanta_status cv_window_setup(struct cv *cv, const int64_t *in, int spatial,
                                   struct cv_window *w)
{
    const char *auto_pad;
    enum quanta_status st;
    if ((st = cv_attr_string(cv, "auto_pad", "NOTSET", &auto_pad)) ||
        (st = cv_window_ints(cv, "strides", spatial, 1, 1, 1, CV_MAX_WINDOW, w->strides)) ||
        (st = cv_window_ints(cv, "pads", spatial, 0, 0, 0, CV_MAX_WINDOW, w->pads)))
        return st;
    const int n = spatial == 3 ? 3 : 2; /* axes held: 1-D runs as 2-D */
    bool upper = strcmp(auto_pad, "SAME_UPPER") == 0, lower = strcmp(auto_pad, "SAME_LOWER") == 0;
    if (upper || lower || strcmp(auto_pad, "VALID") == 0) {
        for (int i = 0; i < n; i++) {
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
            w->pads[i + n] = (int)(upper ? big : small);
        }
    } else if (strcmp(auto_pad, "NOTSET") != 0) {
        return cv_fail(cv, "attribute 'auto_pad' '%s' is not supported", auto_pad);
    }
    for (int i = 0; i < n; i++) {
        int64_t span = (int64_t)(w->kernel[i] - 1) * w->dilations[i] + 1;
        int64_t room = in[i] + w->pads[i] + w->pads[i + n] - span;
        if (room < 0)
            return cv_fail(cv, "the window (%lld) is larger than the padded input (%lld)",
                           (long long)span, (long long)(in[i] + w->pads[i] + w->pads[i + n]));
        w->out[i] = room / w->strides[i] + 1;
    }
    return QUANTA_OK;
}

/* ---- 1-D windows as 2-D ---------------------------------------------------
 * A 1-D Conv or pool of [N, C, L] runs as the 2-D operator of height 1:
 * x is laid out [N, L, C] and reshaped to [N, 1, L, C]; the result
 * [N, 1, L', C'] is reshaped to [N, L', C'], the ONNX value [N, C', L']
 * with its channels last. Both reshapes move no byte. */

enum quanta_status cv_window_input_2d(struct cv *cv, struct cv_value *x, int *q4)
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

enum quanta_status cv_window_emit_1d(struct cv *cv, const struct cv_value *x,
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
    return cv_def_new(cv, &out);
}

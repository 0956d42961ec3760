/* Constant evaluation for the const pass (graph_const.h): each op as the
 * float runner's kernels compute it (the reference ones, which every
 * level uses for these ops), on inputs widened to float exactly as the
 * runner widens constants. */
#include "graph/graph_const.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Row-major strides of s, in elements. */
static void strides_of(const struct quanta_shape *s, int64_t *stride)
{
    int64_t step = 1;
    for (int d = s->rank - 1; d >= 0; d--) {
        stride[d] = step;
        step *= s->dims[d];
    }
}

/* Index of output element i along each axis of y. */
static void coords_of(const struct quanta_shape *y, int64_t i, int64_t *c)
{
    for (int d = y->rank - 1; d >= 0; d--) {
        c[d] = i % y->dims[d];
        i /= y->dims[d];
    }
}

/* ---- moving values ---- */

static void eval_transpose(const struct graph_node *nd, const float *x,
                           const struct quanta_shape *xs, const struct quanta_shape *ys,
                           int64_t count, float *y)
{
    int64_t sx[QUANTA_MAX_RANK], c[QUANTA_MAX_RANK];
    strides_of(xs, sx);
    for (int64_t i = 0; i < count; i++) {
        coords_of(ys, i, c);
        int64_t at = 0;
        for (int d = 0; d < ys->rank; d++) /* output axis d is x's axis perm[d] */
            at += c[d] * sx[nd->attrs.perm[d]];
        y[i] = x[at];
    }
}

static void eval_slice(const struct graph_node *nd, const float *x,
                       const struct quanta_shape *xs, const struct quanta_shape *ys,
                       int64_t count, float *y)
{
    const struct graph_attrs *a = &nd->attrs;
    int64_t sx[QUANTA_MAX_RANK], c[QUANTA_MAX_RANK];
    strides_of(xs, sx);
    for (int64_t i = 0; i < count; i++) {
        coords_of(ys, i, c);
        int64_t at = 0;
        for (int d = 0; d < ys->rank; d++)
            at += (a->starts[d] + c[d] * (a->n_steps ? a->steps[d] : 1)) * sx[d];
        y[i] = x[at];
    }
}

static void eval_concat(const struct graph *g, const struct graph_node *nd, float *const *in,
                        const struct quanta_shape *ys, float *y)
{
    int axis = nd->attrs.axis < 0 ? nd->attrs.axis + ys->rank : nd->attrs.axis;
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++)
        outer *= ys->dims[d];
    for (int d = axis + 1; d < ys->rank; d++)
        inner *= ys->dims[d];
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < nd->n_inputs; k++) {
            int64_t run = g->values[nd->inputs[k]].shape.dims[axis] * inner;
            memcpy(y, in[k] + o * run, (size_t)run * sizeof *y);
            y += run;
        }
}

/* cast of float values: the nearest value of the type, still a float; false
 * when one lies outside an integer type (the run reports it: left to it) */
static bool eval_cast(enum quanta_dtype to, const float *x, int64_t count, float *y)
{
    double lo, hi;
    switch (to) {
    case QUANTA_F16:
        for (int64_t i = 0; i < count; i++)
            y[i] = quanta_f16_to_f32(quanta_f32_to_f16(x[i]));
        return true;
    case QUANTA_BF16:
        for (int64_t i = 0; i < count; i++)
            y[i] = quanta_bf16_to_f32(quanta_f32_to_bf16(x[i]));
        return true;
    case QUANTA_BOOL:
        for (int64_t i = 0; i < count; i++)
            y[i] = x[i] != 0.0f ? 1.0f : 0.0f;
        return true;
    case QUANTA_U8: lo = 0.0; hi = 255.0; break;
    case QUANTA_I8: lo = -128.0; hi = 127.0; break;
    case QUANTA_I16: lo = -32768.0; hi = 32767.0; break;
    case QUANTA_I32: lo = -2147483648.0; hi = 2147483647.0; break;
    case QUANTA_I64: lo = -9223372036854775808.0; hi = 9223372036854775807.0; break;
    default: return false;
    }
    for (int64_t i = 0; i < count; i++) {
        double t = trunc((double)x[i]);
        /* I64's hi rounds up to 2^63 in double, which is outside */
        if (!(t >= lo && t <= hi) || (to == QUANTA_I64 && t >= 9223372036854775808.0))
            return false;
        y[i] = (float)t + 0.0f; /* trunc(-0.5) is -0: the integer 0 */
    }
    return true;
}

/* ---- arithmetic ---- */

static double binary_one(enum graph_op op, double a, double b)
{
    switch (op) {
    case GRAPH_OP_ADD: return a + b;
    case GRAPH_OP_SUB: return a - b;
    case GRAPH_OP_MUL: return a * b;
    case GRAPH_OP_DIV: return a / b;
    case GRAPH_OP_MIN: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    case GRAPH_OP_MAX: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    default: return a >= 0.0 ? a : a * b; /* prelu */
    }
}

/* Strides of operand s read along the axes of y (aligned at the last
 * axis, NumPy rules): 0 where it broadcasts. */
static void broadcast_strides(const struct quanta_shape *s, const struct quanta_shape *y,
                              int64_t *stride)
{
    int64_t step = 1;
    for (int d = y->rank - 1; d >= 0; d--) {
        int k = d - (y->rank - s->rank);
        int64_t dim = k >= 0 ? s->dims[k] : 1;
        stride[d] = dim == 1 ? 0 : step;
        step *= dim;
    }
}

static void eval_binary(const struct graph *g, const struct graph_node *nd, float *const *in,
                        const struct quanta_shape *ys, int64_t count, float *y)
{
    int64_t sa[QUANTA_MAX_RANK], sb[QUANTA_MAX_RANK], c[QUANTA_MAX_RANK];
    broadcast_strides(&g->values[nd->inputs[0]].shape, ys, sa);
    broadcast_strides(&g->values[nd->inputs[1]].shape, ys, sb);
    float lo = nd->attrs.activation == GRAPH_ACT_NONE ? -INFINITY : 0.0f;
    float hi = nd->attrs.activation == GRAPH_ACT_RELU6 ? 6.0f : INFINITY;
    for (int64_t i = 0; i < count; i++) {
        coords_of(ys, i, c);
        int64_t ia = 0, ib = 0;
        for (int d = 0; d < ys->rank; d++) {
            ia += c[d] * sa[d];
            ib += c[d] * sb[d];
        }
        float v = (float)binary_one(nd->op, in[0][ia], in[1][ib]);
        y[i] = v < lo ? lo : v > hi ? hi : v;
    }
}

static void eval_unary(const struct graph_node *nd, const float *x, int64_t count, float *y)
{
    double lo = nd->attrs.min, hi = nd->attrs.max;
    for (int64_t i = 0; i < count; i++) {
        double v = x[i];
        switch (nd->op) {
        case GRAPH_OP_NEG: y[i] = (float)-v; break;
        case GRAPH_OP_ABS: y[i] = (float)fabs(v); break;
        case GRAPH_OP_SQRT: y[i] = (float)sqrt(v); break;
        case GRAPH_OP_CLIP: y[i] = (float)(v < lo ? lo : v > hi ? hi : v); break;
        case GRAPH_OP_RELU: y[i] = x[i] < 0.0f ? 0.0f : x[i]; break;
        default: /* relu6 */
            y[i] = x[i] < 0.0f ? 0.0f : x[i];
            y[i] = y[i] > 6.0f ? 6.0f : y[i];
        }
    }
}

/* ---- the node ---- */

/* Why op is not evaluated here, NULL when it is. */
static const char *unsupported(const struct graph_node *nd)
{
    switch (nd->op) {
    case GRAPH_OP_RESHAPE:
    case GRAPH_OP_FLATTEN:
    case GRAPH_OP_TRANSPOSE:
    case GRAPH_OP_SLICE:
    case GRAPH_OP_CONCAT:
    case GRAPH_OP_CAST:
        return NULL;
    case GRAPH_OP_ADD:
    case GRAPH_OP_SUB:
    case GRAPH_OP_MUL:
    case GRAPH_OP_DIV:
    case GRAPH_OP_MIN:
    case GRAPH_OP_MAX:
    case GRAPH_OP_PRELU:
        return nd->attrs.activation <= GRAPH_ACT_RELU6 ? NULL : "a fused activation";
    case GRAPH_OP_NEG:
    case GRAPH_OP_ABS:
    case GRAPH_OP_SQRT:
    case GRAPH_OP_CLIP:
    case GRAPH_OP_RELU:
    case GRAPH_OP_RELU6:
        return nd->attrs.activation == GRAPH_ACT_NONE ? NULL : "a fused activation";
    default:
        return "no exact evaluation of the op outside its kernels";
    }
}

enum graph_const_result graph_const_eval(const struct graph *g, int n, float **out,
                                         const char **why)
{
    const struct graph_node *nd = &g->nodes[n];
    *out = NULL;
    if ((*why = unsupported(nd)))
        return GRAPH_CONST_SKIPPED;
    const struct quanta_shape *ys = &g->values[nd->outputs[0]].shape;
    int64_t count = quanta_shape_numel(ys);
    for (int d = 0; d < ys->rank; d++)
        if (ys->dims[d] < 0)
            count = -1;
    if (count < 0) {
        *why = "its output has a batch axis";
        return GRAPH_CONST_SKIPPED;
    }
    for (int k = 0; k < nd->n_inputs; k++)
        if (nd->inputs[k] < 0) {
            *why = "an input is omitted";
            return GRAPH_CONST_SKIPPED;
        }
    float **in = calloc((size_t)nd->n_inputs, sizeof *in);
    float *y = malloc((size_t)(count > 0 ? count : 1) * sizeof *y);
    bool ok = in && y;
    for (int k = 0; ok && k < nd->n_inputs; k++) {
        const struct graph_value *v = &g->values[nd->inputs[k]];
        int64_t m = quanta_shape_numel(&v->shape);
        in[k] = malloc((size_t)(m > 0 ? m : 1) * sizeof **in);
        ok = in[k] != NULL;
        if (ok)
            quanta_convert_to_f32(v->dtype, v->data, in[k], (size_t)m);
    }
    enum graph_const_result res = ok ? GRAPH_CONST_FOLDED : GRAPH_CONST_NOMEM;
    const struct quanta_shape *xs = &g->values[nd->inputs[0]].shape;
    if (ok) {
        switch (nd->op) {
        case GRAPH_OP_RESHAPE:
        case GRAPH_OP_FLATTEN: memcpy(y, in[0], (size_t)count * sizeof *y); break;
        case GRAPH_OP_TRANSPOSE: eval_transpose(nd, in[0], xs, ys, count, y); break;
        case GRAPH_OP_SLICE: eval_slice(nd, in[0], xs, ys, count, y); break;
        case GRAPH_OP_CONCAT: eval_concat(g, nd, in, ys, y); break;
        case GRAPH_OP_CAST:
            if (!eval_cast(nd->attrs.to, in[0], count, y)) {
                *why = "a value lies outside the type (the run reports it)";
                res = GRAPH_CONST_SKIPPED;
            }
            break;
        case GRAPH_OP_ADD:
        case GRAPH_OP_SUB:
        case GRAPH_OP_MUL:
        case GRAPH_OP_DIV:
        case GRAPH_OP_MIN:
        case GRAPH_OP_MAX:
        case GRAPH_OP_PRELU: eval_binary(g, nd, in, ys, count, y); break;
        default: eval_unary(nd, in[0], count, y); break;
        }
    }
    for (int k = 0; in && k < nd->n_inputs; k++)
        free(in[k]);
    free(in);
    if (res == GRAPH_CONST_FOLDED)
        *out = y;
    else
        free(y);
    return res;
}

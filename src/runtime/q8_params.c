/* Plan-time integer parameters of the int8 kernels (see q8_params.h). */
#include "runtime/q8_params.h"

#include <math.h>
#include <stddef.h>

#include "kernels/requant.h"

#define NODE(node) ((node) ? (node) : "?")

static int scale_ok(float s)
{
    return isfinite(s) && s > 0.0f;
}

enum quanta_status q8_tensor_params(const struct graph_quant *q, const char *node, const char *what,
                                    struct q8_tensor *out, struct quanta_error *err)
{
    if (!q || (q->dtype != QUANTA_I8 && q->dtype != QUANTA_U8))
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s': %s is %s but an int8 kernel needs I8 or U8", NODE(node),
                           what, q ? quanta_dtype_name(q->dtype) : "missing");
    if (q->n != 1 || !q->scales || !q->zero_points)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s': %s has %d scales but an activation needs one (per tensor)",
                           NODE(node), what, q->n);
    const float s = q->scales[0];
    const int32_t z = q->zero_points[0];
    if (!scale_ok(s))
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s': %s scale %g is not a positive finite number", NODE(node),
                           what, (double)s);
    const int32_t lo = q->dtype == QUANTA_I8 ? INT8_MIN : 0;
    const int32_t hi = q->dtype == QUANTA_I8 ? INT8_MAX : UINT8_MAX;
    if (z < lo || z > hi)
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s': %s zero point %d is outside [%d, %d] of %s", NODE(node),
                           what, (int)z, (int)lo, (int)hi, quanta_dtype_name(q->dtype));
    out->scale = s;
    out->zero_point = q->dtype == QUANTA_U8 ? z - 128 : z;
    return QUANTA_OK;
}

void q8_activation_bounds(enum graph_activation act, const struct q8_tensor *out, int32_t *qmin,
                          int32_t *qmax)
{
    *qmin = INT8_MIN;
    *qmax = INT8_MAX;
    if (act == GRAPH_ACT_RELU || act == GRAPH_ACT_RELU6)
        *qmin = out->zero_point;
    if (act == GRAPH_ACT_RELU6) {
        const double top = round(6.0 / (double)out->scale) + out->zero_point;
        if (top < INT8_MAX)
            *qmax = (int32_t)top;
    }
}

/* m -> (multiplier, shift), or a message naming what it rescales. */
static enum quanta_status multiplier(double m, int32_t *mult, int32_t *shift, const char *node,
                                     const char *what, struct quanta_error *err)
{
    if (!q8_multiplier_from_double(m, mult, shift))
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s': %s multiplier %g is outside the representable range "
                           "[2^-32, 2^30)",
                           NODE(node), what, m);
    return QUANTA_OK;
}

/* The weight and bias rules of conv2d/dense (q8_params.h), for input x. */
static enum quanta_status reduction_checks(const struct q8_tensor *x, const struct graph_quant *w,
                                           const struct graph_quant *bias, int out_channels,
                                           const char *node, struct quanta_error *err)
{
    if (!w || w->dtype != QUANTA_I8)
        return quanta_fail(err, QUANTA_ERR_INPUT, "node '%s': weight is %s but must be I8",
                           NODE(node), w ? quanta_dtype_name(w->dtype) : "missing");
    if (out_channels < 1 || !w->scales ||
        (w->n != 1 && (w->n != out_channels || w->axis != 0)))
        return quanta_fail(err, QUANTA_ERR_INPUT,
                           "node '%s': weight has %d scales on axis %d but needs 1 or %d on "
                           "axis 0",
                           NODE(node), w->n, w->axis, out_channels);
    const int n = w->n == 1 ? 1 : out_channels;
    if (bias && bias->dtype != QUANTA_DTYPE_INVALID) {
        if (bias->dtype != QUANTA_I32 || (bias->n != 1 && bias->n != out_channels) ||
            !bias->scales || !bias->zero_points)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "node '%s': bias must be I32 with 1 or %d scales (has %s, %d)",
                               NODE(node), out_channels, quanta_dtype_name(bias->dtype),
                               bias->n);
    }
    for (int o = 0; o < n; o++) {
        const float sw = w->scales[o];
        if (!scale_ok(sw))
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "node '%s': weight scale of channel %d is %g, not a positive "
                               "finite number",
                               NODE(node), o, (double)sw);
        if (w->zero_points && w->zero_points[o] != 0)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "node '%s': weight zero point of channel %d is %d but weights "
                               "are symmetric (0)",
                               NODE(node), o, (int)w->zero_points[o]);
        const double sacc = (double)x->scale * (double)sw;
        if (bias && bias->dtype == QUANTA_I32) {
            const int ob = bias->n == 1 ? 0 : o;
            if (bias->zero_points[ob] != 0 ||
                fabs((double)bias->scales[ob] - sacc) > 1e-5 * sacc)
                return quanta_fail(err, QUANTA_ERR_INPUT,
                                   "node '%s': bias of channel %d has scale %g and zero point "
                                   "%d but needs input scale * weight scale = %g and 0",
                                   NODE(node), o, (double)bias->scales[ob],
                                   (int)bias->zero_points[ob], sacc);
        }
    }
    return QUANTA_OK;
}

static enum quanta_status reduction_prepare(const struct graph_quant *in,
                                            const struct graph_quant *w,
                                            const struct graph_quant *bias,
                                            const struct graph_quant *out,
                                            enum graph_activation act, int out_channels,
                                            int32_t *mult, int32_t *shift, struct q8_requant *rq,
                                            const char *node, struct quanta_error *err)
{
    struct q8_tensor x, y;
    enum quanta_status st = q8_tensor_params(in, node, "input", &x, err);
    if (st == QUANTA_OK)
        st = q8_tensor_params(out, node, "output", &y, err);
    if (st == QUANTA_OK)
        st = reduction_checks(&x, w, bias, out_channels, node, err);
    if (st != QUANTA_OK)
        return st;
    const int n = w->n == 1 ? 1 : out_channels;
    for (int o = 0; o < n; o++) {
        const double sacc = (double)x.scale * (double)w->scales[o];
        st = multiplier(sacc / (double)y.scale, &mult[o], &shift[o], node, "requantization", err);
        if (st != QUANTA_OK)
            return st;
    }
    rq->in_zero_point = x.zero_point;
    rq->out_zero_point = y.zero_point;
    q8_activation_bounds(act, &y, &rq->qmin, &rq->qmax);
    rq->n = n;
    rq->multiplier = mult;
    rq->shift = shift;
    return QUANTA_OK;
}

enum quanta_status q8_reduction_f32_prepare(const struct graph_quant *in,
                                            const struct graph_quant *w,
                                            const struct graph_quant *bias,
                                            enum graph_activation act, int out_channels,
                                            float *scale, struct q8_acc_f32 *p, const char *node,
                                            struct quanta_error *err)
{
    struct q8_tensor x;
    enum quanta_status st = q8_tensor_params(in, node, "input", &x, err);
    if (st == QUANTA_OK)
        st = reduction_checks(&x, w, bias, out_channels, node, err);
    if (st != QUANTA_OK)
        return st;
    const int n = w->n == 1 ? 1 : out_channels;
    for (int o = 0; o < n; o++)
        scale[o] = (float)((double)x.scale * (double)w->scales[o]);
    p->in_zero_point = x.zero_point;
    p->n = n;
    p->scale = scale;
    p->lo = act == GRAPH_ACT_NONE ? -INFINITY : 0.0f;
    p->hi = act == GRAPH_ACT_RELU6 ? 6.0f : INFINITY;
    return QUANTA_OK;
}

enum quanta_status q8_conv2d_prepare(const struct graph_quant *in, const struct graph_quant *w,
                                     const struct graph_quant *bias, const struct graph_quant *out,
                                     enum graph_activation act, int out_channels,
                                     int32_t *mult, int32_t *shift, struct q8_requant *rq,
                                     const char *node, struct quanta_error *err)
{
    return reduction_prepare(in, w, bias, out, act, out_channels, mult, shift, rq, node, err);
}

enum quanta_status q8_dense_prepare(const struct graph_quant *in, const struct graph_quant *w,
                                    const struct graph_quant *bias, const struct graph_quant *out,
                                    enum graph_activation act, int out_features, int32_t *mult,
                                    int32_t *shift, struct q8_requant *rq, const char *node,
                                    struct quanta_error *err)
{
    return reduction_prepare(in, w, bias, out, act, out_features, mult, shift, rq, node, err);
}

enum quanta_status q8_unary_prepare(const struct graph_quant *in, const struct graph_quant *out,
                                    enum graph_activation act, struct q8_unary *p,
                                    const char *node, struct quanta_error *err)
{
    struct q8_tensor x, y;
    enum quanta_status st = q8_tensor_params(in, node, "input", &x, err);
    if (st == QUANTA_OK)
        st = q8_tensor_params(out, node, "output", &y, err);
    if (st == QUANTA_OK)
        st = multiplier((double)x.scale / (double)y.scale, &p->multiplier, &p->shift, node,
                        "rescale", err);
    if (st != QUANTA_OK)
        return st;
    p->in_zero_point = x.zero_point;
    p->out_zero_point = y.zero_point;
    q8_activation_bounds(act, &y, &p->qmin, &p->qmax);
    return QUANTA_OK;
}

enum quanta_status q8_leaky_relu_prepare(const struct graph_quant *in,
                                         const struct graph_quant *out, float alpha,
                                         struct q8_leaky_relu_params *p,
                                         const char *node, struct quanta_error *err)
{
    struct q8_tensor x, y;
    enum quanta_status st = q8_tensor_params(in, node, "input", &x, err);
    if (st == QUANTA_OK)
        st = q8_tensor_params(out, node, "output", &y, err);
    if (st == QUANTA_OK)
        st = multiplier((double)x.scale / (double)y.scale, &p->pos_multiplier, &p->pos_shift,
                        node, "positive slope", err);
    if (st == QUANTA_OK)
        st = multiplier((double)alpha * (double)x.scale / (double)y.scale, &p->neg_multiplier,
                        &p->neg_shift, node, "negative slope", err);
    if (st != QUANTA_OK)
        return st;
    p->in_zero_point = x.zero_point;
    p->out_zero_point = y.zero_point;
    p->qmin = INT8_MIN;
    p->qmax = INT8_MAX;
    return QUANTA_OK;
}

enum quanta_status q8_add_prepare(const struct graph_quant *a, const struct graph_quant *b,
                                  const struct graph_quant *out, enum graph_activation act,
                                  struct q8_add_params *p, const char *node,
                                  struct quanta_error *err)
{
    struct q8_tensor ta, tb, y;
    enum quanta_status st = q8_tensor_params(a, node, "input a", &ta, err);
    if (st == QUANTA_OK)
        st = q8_tensor_params(b, node, "input b", &tb, err);
    if (st == QUANTA_OK)
        st = q8_tensor_params(out, node, "output", &y, err);
    if (st != QUANTA_OK)
        return st;
    const double t = 2.0 * fmax((double)ta.scale, (double)tb.scale);
    p->left_shift = 20;
    st = multiplier((double)ta.scale / t, &p->a_multiplier, &p->a_shift, node, "input a", err);
    if (st == QUANTA_OK)
        st = multiplier((double)tb.scale / t, &p->b_multiplier, &p->b_shift, node, "input b", err);
    if (st == QUANTA_OK)
        st = multiplier(t / (1048576.0 * (double)y.scale), &p->out_multiplier, &p->out_shift,
                        node, "output", err);
    if (st != QUANTA_OK)
        return st;
    p->a_zero_point = ta.zero_point;
    p->b_zero_point = tb.zero_point;
    p->out_zero_point = y.zero_point;
    q8_activation_bounds(act, &y, &p->qmin, &p->qmax);
    return QUANTA_OK;
}

enum quanta_status q8_mul_prepare(const struct graph_quant *a, const struct graph_quant *b,
                                  const struct graph_quant *out, enum graph_activation act,
                                  struct q8_mul_params *p, const char *node,
                                  struct quanta_error *err)
{
    struct q8_tensor ta, tb, y;
    enum quanta_status st = q8_tensor_params(a, node, "input a", &ta, err);
    if (st == QUANTA_OK)
        st = q8_tensor_params(b, node, "input b", &tb, err);
    if (st == QUANTA_OK)
        st = q8_tensor_params(out, node, "output", &y, err);
    if (st == QUANTA_OK)
        st = multiplier((double)ta.scale * (double)tb.scale / (double)y.scale, &p->multiplier,
                        &p->shift, node, "product", err);
    if (st != QUANTA_OK)
        return st;
    p->a_zero_point = ta.zero_point;
    p->b_zero_point = tb.zero_point;
    p->out_zero_point = y.zero_point;
    q8_activation_bounds(act, &y, &p->qmin, &p->qmax);
    return QUANTA_OK;
}

enum quanta_status q8_lut_prepare_fn(double (*f)(double x, void *ctx), void *ctx,
                                     const struct graph_quant *in, const struct graph_quant *out,
                                     int32_t qmin, int32_t qmax, int8_t table[256],
                                     const char *node, struct quanta_error *err)
{
    struct q8_tensor x, y;
    enum quanta_status st = q8_tensor_params(in, node, "input", &x, err);
    if (st == QUANTA_OK)
        st = q8_tensor_params(out, node, "output", &y, err);
    if (st != QUANTA_OK)
        return st;
    for (int i = 0; i < 256; i++) {
        const double v = f((double)x.scale * (double)(i - 128 - x.zero_point), ctx);
        const double q = isnan(v) ? y.zero_point : round(v / (double)y.scale) + y.zero_point;
        table[i] = (int8_t)(q <= qmin ? qmin : q >= qmax ? qmax : (int32_t)q);
    }
    return QUANTA_OK;
}

static double sigmoid(double x, void *ctx)
{
    (void)ctx;
    return 1.0 / (1.0 + exp(-x));
}

static double tanh_fn(double x, void *ctx)
{
    (void)ctx;
    return tanh(x);
}

enum quanta_status q8_lut_prepare(enum graph_op op, const struct graph_quant *in,
                                  const struct graph_quant *out, int8_t table[256],
                                  const char *node, struct quanta_error *err)
{
    if (op == GRAPH_OP_SIGMOID)
        return q8_lut_prepare_fn(sigmoid, NULL, in, out, INT8_MIN, INT8_MAX, table, node, err);
    if (op == GRAPH_OP_TANH)
        return q8_lut_prepare_fn(tanh_fn, NULL, in, out, INT8_MIN, INT8_MAX, table, node, err);
    return quanta_fail(err, QUANTA_ERR_INTERNAL, "node '%s': op %d has no int8 table",
                       NODE(node), (int)op);
}

enum quanta_status q8_softmax_prepare(const struct graph_quant *in, float table[256],
                                      const char *node, struct quanta_error *err)
{
    struct q8_tensor x;
    enum quanta_status st = q8_tensor_params(in, node, "input", &x, err);
    if (st != QUANTA_OK)
        return st;
    for (int k = 0; k < 256; k++)
        table[k] = (float)exp(-(double)x.scale * k);
    return QUANTA_OK;
}

enum quanta_status q8_quantize_prepare(const struct graph_quant *q, struct q8_quantize_params *p,
                                       const char *node, struct quanta_error *err)
{
    struct q8_tensor t;
    enum quanta_status st = q8_tensor_params(q, node, "quantized value", &t, err);
    if (st != QUANTA_OK)
        return st;
    p->scale = t.scale;
    p->zero_point = t.zero_point;
    p->qmin = INT8_MIN;
    p->qmax = INT8_MAX;
    return QUANTA_OK;
}

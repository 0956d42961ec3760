/* The model rewrite for quantization (man quanta-quantize(1)).
 *
 * First batch_norm is folded into the conv2d/dense before it (and, for
 * static int8, a relu/relu6 after a conv2d/dense/add/mul becomes its fused
 * activation): quantize_fold. Then, per mode:
 *
 * static: every node with an int8 kernel runs on int8 values; the others
 *   (and the --exclude nodes) stay float. Values keep their float-model
 *   names: an int8 node's output is quantized in place under its own name,
 *   except a graph output, whose int8 value is "<name>.q" and which a final
 *   dequantize turns back into "<name>". A graph output of an int8
 *   conv2d/dense that no node reads is float, computed from the int32
 *   accumulator (no output parameters; opt->int8_outputs: the int8 form
 *   above); so is one whose only reader is an element-wise function that
 *   writes such an output, and the function runs float. Where a float value feeds an int8
 *   node a quantize node makes "<name>.q"; where an int8 value feeds a
 *   float node a dequantize node makes "<name>.dq".
 *   Weights: symmetric I8 per channel (axis 0) or per tensor; biases I32
 *   with scale s_in * s_w; activations per tensor from the calibration
 *   range. max_pool2d, flatten and reshape only move data: they run in the
 *   domain of their input and keep its parameters (so does concat when all
 *   its inputs share theirs). softmax runs int8 in / float out where its
 *   input is int8; embedding quantizes its table per row and requantizes
 *   rows into the output's parameters; embedding_bag likewise, one
 *   requantization per bag; batch_norm not on a 4-D input runs float. A layer
 *   norm written out (mean, sub, pow, mean, add eps, sqrt, div) keeps its
 *   statistics and the node that makes its input float (in_layer_norm).
 *   A constant converted for a single reader keeps its name; one read by
 *   several nodes gets a converted copy "<name>.q" (".f16", ".folded").
 * weight-only: conv2d/dense weights I8 (with their scales), embedding and
 *   embedding_bag tables I8 per row, rest float.
 * fp16: every float constant becomes F16. */
#include "quant/quantize_internal.h"
#include "runtime/q8_params.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rewrite {
    const struct graph *a;            /* the folded float graph */
    struct graph *out;
    const struct quantize_options *opt;
    const struct quantize_ranges *ranges;
    const char *source;
    struct quanta_error *err;
    int *readers;                     /* per value of a */
    int *fv;                          /* float version in out, -1 none */
    int *qv;                          /* int8 (or converted) version in out, -1 none */
    bool *prim_int8;                  /* produced by an int8 node */
    bool *is_output;
};

/* ---- notes: what was adjusted, and why ---- */

static enum quanta_status nomem(struct rewrite *r);

static enum quanta_status add_note(struct rewrite *r, enum quantize_note_kind kind,
                                   const char *node, const char *value, int channels, int total,
                                   double from, double to)
{
    struct quantize_notes *ns = r->opt->notes;
    if (!ns)
        return QUANTA_OK;
    struct quantize_note *grown = realloc(ns->list, ((size_t)ns->n + 1) * sizeof *grown);
    if (!grown)
        return nomem(r);
    ns->list = grown;
    struct quantize_note *n = &ns->list[ns->n];
    *n = (struct quantize_note){.kind = kind, .channels = channels, .total = total,
                                .from = from, .to = to};
    n->node = node ? strdup(node) : NULL;
    n->value = strdup(value);
    if ((node && !n->node) || !n->value) {
        free(n->node);
        free(n->value);
        return nomem(r);
    }
    ns->n++;
    return QUANTA_OK;
}

static bool excluded(const struct rewrite *r, const struct graph_node *n)
{
    return qz_is_excluded(n->name, r->opt->exclude, r->opt->n_exclude);
}

static bool is_float_const(const struct graph *g, int v)
{
    return v >= 0 && g->values[v].kind == GRAPH_VALUE_CONST &&
           quanta_dtype_is_float(g->values[v].dtype) && g->values[v].data;
}

static enum quanta_status nomem(struct rewrite *r)
{
    return quanta_fail(r->err, QUANTA_ERR_NOMEM, "%s: out of memory quantizing", r->source);
}

static bool node_name_taken(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0)
            return true;
    return false;
}

/* "<base><suffix>", else with 2, 3, ... appended: a node name free in a and out. */
static char *unique_node_name(const struct rewrite *r, const char *base, const char *suffix)
{
    size_t size = strlen(base) + strlen(suffix) + 24;
    char *name = malloc(size);
    if (!name)
        return NULL;
    snprintf(name, size, "%s%s", base, suffix);
    for (unsigned k = 2; node_name_taken(r->a, name) || node_name_taken(r->out, name); k++)
        snprintf(name, size, "%s%s%u", base, suffix, k);
    return name;
}

/* Name for a converted constant: its own when nothing else reads it. */
static char *const_name(const struct rewrite *r, int v, const char *suffix)
{
    const char *name = r->a->values[v].name;
    return r->readers[v] == 1 ? strdup(name) : qz_unique_name(r->a, r->out, name, suffix);
}

/* Appends a one-input, one-output conversion node (quantize/dequantize). */
static enum quanta_status add_conversion(struct rewrite *r, enum graph_op op, int in,
                                         int value_of_a, int out_value)
{
    char *name = unique_node_name(r, r->a->values[value_of_a].name,
                                  op == GRAPH_OP_QUANTIZE ? ".quantize" : ".dequantize");
    if (!name)
        return nomem(r);
    int k = graph_add_node(r->out, op, name, &in, 1, &out_value, 1);
    free(name);
    if (k < 0)
        return nomem(r);
    r->out->values[out_value].producer = k;
    return QUANTA_OK;
}

/* ---- float side ---- */

static enum quanta_status get_float(struct rewrite *r, int v, int *index)
{
    if (r->fv[v] >= 0) {
        *index = r->fv[v];
        return QUANTA_OK;
    }
    const struct graph_value *av = &r->a->values[v];
    if (r->qv[v] < 0 || av->kind == GRAPH_VALUE_CONST) {
        if ((r->fv[v] = qz_copy_value(r->out, r->a, v, NULL)) < 0)
            return nomem(r);
        *index = r->fv[v];
        return QUANTA_OK;
    }
    /* an int8 value read as float: dequantize; a graph output gets its name back */
    char *name = r->is_output[v] ? strdup(av->name) : qz_unique_name(r->a, r->out, av->name, ".dq");
    if (!name)
        return nomem(r);
    int f = graph_add_value(r->out, name, GRAPH_VALUE_NODE, QUANTA_F32, &av->shape);
    free(name);
    if (f < 0)
        return nomem(r);
    r->out->values[f].quant.dtype = QUANTA_DTYPE_INVALID;
    enum quanta_status st = add_conversion(r, GRAPH_OP_DEQUANTIZE, r->qv[v], v, f);
    if (st)
        return st;
    *index = r->fv[v] = f;
    return QUANTA_OK;
}

/* ---- int8 side ---- */

static int concat_range_source(const struct rewrite *r, int v);

/* Output parameters of value v from its calibrated range. min_scale
 * (0: none) is the narrowest scale the producing node resolves
 * (QUANTIZE_MAX_STEP_RATIO). A value that only an int8 concat reads takes
 * the concat's range instead (concat_range_source), the activation's
 * clamp not applied, so the concat copies it. */
static enum quanta_status lookup_params(struct rewrite *r, int v, const char *node,
                                        enum graph_activation act, double min_scale,
                                        struct graph_quant *q)
{
    const int source = concat_range_source(r, v);
    if (source != v) {
        v = source;
        act = GRAPH_ACT_NONE;
    }
    const char *name = r->a->values[v].name;
    float lo, hi, scale;
    int32_t zp;
    if (!r->ranges || !r->ranges->find || !r->ranges->find(r->ranges->ctx, name, &lo, &hi)) {
        if (node)
            return quanta_fail(r->err, QUANTA_ERR_INPUT,
                               "%s: node '%s': calibration has no range for value '%s'",
                               r->source, node, name);
        return quanta_fail(r->err, QUANTA_ERR_INPUT, "%s: calibration has no range for value '%s'",
                           r->source, name);
    }
    if (act == GRAPH_ACT_RELU || act == GRAPH_ACT_RELU6) {
        lo = lo > 0.0f ? lo : 0.0f;
        if (act == GRAPH_ACT_RELU6 && hi > 6.0f)
            hi = 6.0f;
        if (hi < lo)
            hi = lo;
    }
    enum quanta_status st = quantize_choose_params(lo, hi, r->opt->activation_type,
                                                   r->opt->activations, &scale, &zp, r->err);
    if (st)
        return quanta_error_prefix(r->err, "%s: value '%s'", r->source, name);
    double width = (double)(hi > 0.0f ? hi : 0.0f) - (double)(lo < 0.0f ? lo : 0.0f);
    if (width == 0.0)
        st = add_note(r, QUANTIZE_NOTE_ZERO_RANGE, node, name, 0, 0, 0.0, scale);
    else if (scale == (float)QUANTIZE_MIN_SCALE)
        st = add_note(r, QUANTIZE_NOTE_MIN_SCALE, node, name, 0, 0, width / 255.0, scale);
    if (st)
        return st;
    if ((double)scale < min_scale) {
        float wide = (float)min_scale;
        if ((double)wide < min_scale)
            wide = nextafterf(wide, INFINITY);
        if ((st = add_note(r, QUANTIZE_NOTE_NARROW_RANGE, node, name, 0, 0, scale, wide)))
            return st;
        scale = wide;
        zp = quantize_zero_point(lo, r->opt->activation_type, r->opt->activations, scale);
    }
    qz_quant_per_tensor(q, r->opt->activation_type, scale, zp);
    return QUANTA_OK;
}

/* Quantizes a float tensor per tensor as an activation (a constant operand
 * of add, mul or concat, an embedding table), parameters from its own range. */
static enum quanta_status quantize_const_activation(struct rewrite *r, int v, int *index)
{
    const struct graph_value *av = &r->a->values[v];
    int64_t n = quanta_shape_numel(&av->shape);
    float *f = qz_const_to_f32(av);
    uint8_t *q = malloc((size_t)(n > 0 ? n : 1));
    char *name = const_name(r, v, ".q");
    if (!f || !q || !name) {
        free(f);
        free(q);
        free(name);
        return nomem(r);
    }
    float lo = 0.0f, hi = 0.0f, scale;
    int32_t zp;
    for (int64_t i = 0; i < n; i++) {
        lo = f[i] < lo ? f[i] : lo;
        hi = f[i] > hi ? f[i] : hi;
    }
    enum quanta_status st = quantize_choose_params(lo, hi, r->opt->activation_type,
                                                   r->opt->activations, &scale, &zp, r->err);
    if (st) {
        free(f);
        free(q);
        free(name);
        return quanta_error_prefix(r->err, "%s: tensor '%s'", r->source, av->name);
    }
    bool u8 = r->opt->activation_type == QUANTA_U8;
    double qmin = u8 ? 0 : -128, qmax = u8 ? 255 : 127;
    for (int64_t i = 0; i < n; i++) {
        double x = round((double)f[i] / scale) + zp;
        x = x < qmin ? qmin : x > qmax ? qmax : x;
        q[i] = u8 ? (uint8_t)x : (uint8_t)(int8_t)x;
    }
    free(f);
    int c = qz_add_owned_const(r->out, name, r->opt->activation_type, &av->shape, q);
    free(name);
    if (c < 0)
        return nomem(r);
    qz_quant_per_tensor(&r->out->values[c].quant, r->opt->activation_type, scale, zp);
    *index = r->qv[v] = c;
    return QUANTA_OK;
}

static enum quanta_status get_int8(struct rewrite *r, int v, const char *node, int *index)
{
    if (r->qv[v] >= 0) {
        *index = r->qv[v];
        return QUANTA_OK;
    }
    const struct graph_value *av = &r->a->values[v];
    if (av->kind == GRAPH_VALUE_CONST)
        return quantize_const_activation(r, v, index);
    int f;
    enum quanta_status st = get_float(r, v, &f);
    if (st)
        return st;
    struct graph_quant q;
    if ((st = lookup_params(r, v, node, GRAPH_ACT_NONE, 0.0, &q)))
        return st;
    char *name = qz_unique_name(r->a, r->out, av->name, ".q");
    if (!name)
        return nomem(r);
    int qi = graph_add_value(r->out, name, GRAPH_VALUE_NODE, q.dtype, &av->shape);
    free(name);
    if (qi < 0)
        return nomem(r);
    r->out->values[qi].quant = q;
    if ((st = add_conversion(r, GRAPH_OP_QUANTIZE, f, v, qi)))
        return st;
    *index = r->qv[v] = qi;
    return QUANTA_OK;
}

/* Adds CONSTs "<name>.scale" (F32 [n]) and "<name>.zero_point" (I32 [n],
 * zeros) and makes q per-channel along axis 0 over them. */
static enum quanta_status add_channel_params(struct rewrite *r, const char *name,
                                             enum quanta_dtype dtype, float *scales, int64_t n,
                                             struct graph_quant *q)
{
    struct quanta_shape shape = {.rank = 1, .dims = {n}};
    int32_t *zps = calloc((size_t)(n > 0 ? n : 1), sizeof *zps);
    char *sname = qz_unique_name(r->a, r->out, name, ".scale");
    char *zname = qz_unique_name(r->a, r->out, name, ".zero_point");
    if (!zps || !sname || !zname) {
        free(scales);
        free(zps);
        free(sname);
        free(zname);
        return nomem(r);
    }
    int s = qz_add_owned_const(r->out, sname, QUANTA_F32, &shape, scales);
    int z = s < 0 ? -1 : qz_add_owned_const(r->out, zname, QUANTA_I32, &shape, zps);
    if (s < 0)
        free(zps);
    free(sname);
    free(zname);
    if (z < 0)
        return nomem(r);
    q->dtype = dtype;
    q->axis = 0;
    q->n = (int)n;
    q->scales = scales;
    q->zero_points = zps;
    q->scale = 0.0f;
    q->zero_point = 0;
    return QUANTA_OK;
}

/* Channels whose weight scale a minimum widened, and the largest widening. */
struct widening {
    int channels;
    double from, to;
};

/* I8 weights of conv2d/dense (channel = axis 0). s_w receives the scales
 * (n_channels or 1 floats, caller frees) when not NULL. min_scales (NULL:
 * none) are lower bounds of the scales, as quantize_weights_i8 takes them;
 * wide (when min_scales) receives what they changed. */
static enum quanta_status quantize_weight(struct rewrite *r, int v, bool per_channel, int *index,
                                          float **s_w, const float *min_scales,
                                          struct widening *wide)
{
    const struct graph_value *av = &r->a->values[v];
    int64_t channels = av->shape.rank > 0 ? av->shape.dims[0] : 1;
    int64_t numel = quanta_shape_numel(&av->shape);
    int64_t per = channels > 0 ? numel / channels : 0;
    int64_t ns = per_channel ? channels : 1;
    float *f = qz_const_to_f32(av);
    int8_t *q = malloc((size_t)(numel > 0 ? numel : 1));
    float *scales = malloc((size_t)(ns > 0 ? ns : 1) * sizeof *scales);
    char *name = const_name(r, v, ".q");
    enum quanta_status st = QUANTA_OK;
    if (!f || !q || !scales || !name) {
        free(q);
        free(scales);
        st = nomem(r);
        goto done;
    }
    quantize_weights_i8(f, channels, per, per_channel, NULL, q, scales);
    if (min_scales) {
        memset(wide, 0, sizeof *wide);
        for (int64_t c = 0; c < ns; c++)
            if (scales[c] < min_scales[c]) {
                double factor = (double)min_scales[c] / (double)scales[c];
                if (wide->channels++ == 0 || factor > wide->to / wide->from) {
                    wide->from = scales[c];
                    wide->to = min_scales[c];
                }
            }
        if (wide->channels > 0)
            quantize_weights_i8(f, channels, per, per_channel, min_scales, q, scales);
    }
    if (s_w) {
        *s_w = malloc((size_t)(ns > 0 ? ns : 1) * sizeof **s_w);
        if (!*s_w) {
            free(q);
            free(scales);
            st = nomem(r);
            goto done;
        }
        memcpy(*s_w, scales, (size_t)ns * sizeof **s_w);
    }
    int w = qz_add_owned_const(r->out, name, QUANTA_I8, &av->shape, q);
    if (w < 0) {
        free(scales);
        st = nomem(r);
        goto done;
    }
    struct graph_quant quant;
    if (per_channel) {
        if ((st = add_channel_params(r, name, QUANTA_I8, scales, ns, &quant)))
            goto done;
    } else {
        qz_quant_per_tensor(&quant, QUANTA_I8, scales[0], 0);
        free(scales);
    }
    r->out->values[w].quant = quant;
    *index = w;
done:
    if (st && s_w) {
        free(*s_w);
        *s_w = NULL;
    }
    free(f);
    free(name);
    return st;
}

/* Lower bounds of the weight scales that keep the I32 bias of a conv2d or
 * dense right (man quanta-quantize(1), ADJUSTMENTS): the accumulator
 * b_q + sum (x_q - z_x) * w_q, with |x_q - z_x| <= 255 and |w_q| <= 127 over
 * k terms, must fit int32, so |b_q| <= 2^31 - 1 - 255 * 127 * k; and the
 * bias scale s_in * s_w must be at least QUANTIZE_MIN_BIAS_SCALE. Widening
 * s_w keeps b exact to half a bias step; the weights lose resolution only
 * where the bias dwarfs what they contribute. */
static void bias_min_scales(const float *b, int64_t n_out, int64_t k, float s_in,
                            bool per_channel, float *min_scales)
{
    double headroom = (double)INT32_MAX - 255.0 * 127.0 * (double)k;
    if (headroom < 0x1p30)
        headroom = 0x1p30; /* k > 33,000: the accumulator's own bound is the concern */
    if (!per_channel)
        min_scales[0] = 0.0f;
    for (int64_t o = 0; o < n_out; o++) {
        double need = fabs((double)b[o]) / ((double)s_in * headroom);
        if (need < QUANTIZE_MIN_BIAS_SCALE / (double)s_in)
            need = QUANTIZE_MIN_BIAS_SCALE / (double)s_in;
        float m = (float)need;
        if ((double)m < need)
            m = nextafterf(m, INFINITY);
        float *slot = &min_scales[per_channel ? o : 0];
        if (m > *slot || per_channel)
            *slot = m;
    }
}

/* I32 bias f (n floats, the caller's) named name with scale s_in * s_w[o],
 * zero point 0. */
static enum quanta_status quantize_bias(struct rewrite *r, const char *name,
                                        const struct quanta_shape *shape, const float *f,
                                        float s_in, const float *s_w, int *index)
{
    bool per_channel = r->opt->weights == QUANTIZE_PER_CHANNEL;
    int64_t n = quanta_shape_numel(shape);
    int64_t ns = per_channel ? n : 1;
    int32_t *q = malloc((size_t)(n > 0 ? n : 1) * sizeof *q);
    float *scales = malloc((size_t)(ns > 0 ? ns : 1) * sizeof *scales);
    if (!q || !scales) {
        free(q);
        free(scales);
        return nomem(r);
    }
    for (int64_t o = 0; o < ns; o++)
        scales[o] = (float)((double)s_in * (double)s_w[o]);
    quantize_bias_i32(f, n, scales, per_channel, q);
    int b = qz_add_owned_const(r->out, name, QUANTA_I32, shape, q);
    if (b < 0) {
        free(scales);
        return nomem(r);
    }
    struct graph_quant quant;
    if (per_channel) {
        enum quanta_status st = add_channel_params(r, name, QUANTA_I32, scales, ns, &quant);
        if (st)
            return st;
    } else {
        qz_quant_per_tensor(&quant, QUANTA_I32, scales[0], 0);
        free(scales);
    }
    r->out->values[b].quant = quant;
    *index = b;
    return QUANTA_OK;
}

/* Per-channel means of conv2d/dense node n's input when bias correction
 * has them (and they match its channels), else NULL. */
static const double *input_means(const struct rewrite *r, const struct graph_node *n)
{
    const struct quantize_means *m = r->opt->means;
    const struct quanta_shape *x = &r->a->values[n->inputs[0]].shape;
    const double *mean;
    int64_t count;
    if (!m || !m->find || x->rank < 1 ||
        !m->find(m->ctx, r->a->values[n->inputs[0]].name, &count, &mean))
        return NULL;
    return count == x->dims[x->rank - 1] ? mean : NULL;
}

/* Bias correction (man quanta-quantize(1), BIAS CORRECTION): subtracts
 * shift[o] = sum_k (Wq - W)[o,k] * E[x_k] from b, E[x_k] the mean of input
 * channel k on the calibration data clamped into the int8 input's range
 * (what the int8 layer can see); for conv2d every tap of channel k uses
 * that mean (zero padding at the borders is ignored). Returns max |shift|. */
static double correct_bias(const struct rewrite *r, const struct graph_node *n, const int *ins,
                           const float *s_w, const double *mean, float *b)
{
    const struct graph_value *wv = &r->a->values[n->inputs[1]];
    const struct graph_quant *xq = &r->out->values[ins[0]].quant;
    const int8_t *q = r->out->values[ins[1]].data;
    const float *w = NULL;
    float *wf = NULL;
    if (wv->dtype == QUANTA_F32)
        w = wv->data;
    else if ((wf = qz_const_to_f32(wv)))
        w = wf;
    if (!w)
        return -1.0;
    bool per_channel = r->opt->weights == QUANTIZE_PER_CHANNEL;
    int64_t O = wv->shape.dims[0], per = quanta_shape_numel(&wv->shape) / (O > 0 ? O : 1);
    int64_t cpg = per, taps = 1, groups = 1;
    if (n->op == GRAPH_OP_CONV2D) {
        cpg = wv->shape.dims[3];
        taps = wv->shape.dims[1] * wv->shape.dims[2];
        groups = n->attrs.groups > 0 ? n->attrs.groups : 1;
    }
    int qmin = xq->dtype == QUANTA_U8 ? 0 : -128, qmax = xq->dtype == QUANTA_U8 ? 255 : 127;
    double lo = (double)xq->scale * (qmin - xq->zero_point);
    double hi = (double)xq->scale * (qmax - xq->zero_point);
    double max_shift = 0.0;
    for (int64_t o = 0; o < O; o++) {
        double sw = s_w[per_channel ? o : 0], shift = 0.0;
        int64_t c0 = (o / (O / groups)) * cpg;
        for (int64_t t = 0; t < taps; t++)
            for (int64_t j = 0; j < cpg; j++) {
                int64_t i = o * per + t * cpg + j;
                if (!isfinite(w[i])) /* --allow-nonfinite: no expectation to correct */
                    continue;
                double m = fmin(fmax(mean[c0 + j], lo), hi);
                shift += ((double)q[i] * sw - (double)w[i]) * m;
            }
        b[o] = (float)((double)b[o] - shift);
        max_shift = fmax(max_shift, fabs(shift));
    }
    free(wf);
    return max_shift;
}

static enum quanta_status add_corrected(struct rewrite *r, const char *node, double max_shift)
{
    struct quantize_applied *ap = r->opt->applied;
    if (!ap)
        return QUANTA_OK;
    struct quantize_corrected *grown =
        realloc(ap->corrected, ((size_t)ap->n_corrected + 1) * sizeof *grown);
    if (!grown)
        return nomem(r);
    ap->corrected = grown;
    if (!(grown[ap->n_corrected].node = strdup(node)))
        return nomem(r);
    grown[ap->n_corrected++].max_shift = max_shift;
    return QUANTA_OK;
}

/* A linear resize over at most Q8_RESIZE_MAX_AXES axes has an int8 kernel. */
static bool resize_int8(const struct graph *g, const struct graph_node *n)
{
    bool resized[QUANTA_MAX_RANK];
    return n->attrs.mode == GRAPH_MODE_NEAREST ||
           graph_resize_axes(g, n, resized) <= Q8_RESIZE_MAX_AXES;
}

/* Ops whose int8 output keeps the input's parameters. */
static bool is_move_op(enum graph_op op)
{
    return op == GRAPH_OP_MAX_POOL2D || op == GRAPH_OP_FLATTEN || op == GRAPH_OP_RESHAPE ||
           op == GRAPH_OP_TRANSPOSE || op == GRAPH_OP_SLICE || op == GRAPH_OP_PAD ||
           op == GRAPH_OP_RESIZE;
}

/* ---- layer normalization stays float ----
 * layer_norm runs float; so does a decomposed one: m = mean(x), d = x - m,
 * v = mean(d ^ 2), then d / sqrt(v + eps) (sub, pow, sqrt and div do
 * anyway; the two means and the eps add here). And so does the node that
 * makes x: one per-tensor int8 scale for all the tokens of x would round
 * to zero a row much smaller than the others (a ViT's class token before
 * the first block), which the norm then scales up. */

static int producer_op(const struct graph *a, int v)
{
    return v >= 0 && a->values[v].producer >= 0 ? (int)a->nodes[a->values[v].producer].op : -1;
}

/* m is a mean node whose output some sub node takes from m's input. */
static bool is_centering_mean(const struct graph *a, const struct graph_node *m)
{
    if (m->op != GRAPH_OP_MEAN)
        return false;
    for (int i = 0; i < a->n_nodes; i++) {
        const struct graph_node *s = &a->nodes[i];
        if (s->op == GRAPH_OP_SUB && s->inputs[0] == m->inputs[0] && s->inputs[1] == m->outputs[0])
            return true;
    }
    return false;
}

/* v = mean(pow(x - mean(x))): the variance of a layer norm. */
static bool is_variance_mean(const struct graph *a, const struct graph_node *m)
{
    if (m->op != GRAPH_OP_MEAN || producer_op(a, m->inputs[0]) != GRAPH_OP_POW)
        return false;
    const struct graph_node *p = &a->nodes[a->values[m->inputs[0]].producer];
    if (producer_op(a, p->inputs[0]) != GRAPH_OP_SUB)
        return false;
    const struct graph_node *s = &a->nodes[a->values[p->inputs[0]].producer];
    return producer_op(a, s->inputs[1]) == GRAPH_OP_MEAN &&
           is_centering_mean(a, &a->nodes[a->values[s->inputs[1]].producer]);
}

static bool in_layer_norm(const struct graph *a, const struct graph_node *n)
{
    if (is_centering_mean(a, n) || is_variance_mean(a, n))
        return true;
    if (n->op == GRAPH_OP_ADD && producer_op(a, n->inputs[0]) == GRAPH_OP_MEAN &&
        is_variance_mean(a, &a->nodes[a->values[n->inputs[0]].producer]))
        return true; /* v + eps */
    for (int i = 0; i < a->n_nodes; i++) /* makes the x of a layer norm */
        if (a->nodes[i].inputs[0] == n->outputs[0] &&
            (a->nodes[i].op == GRAPH_OP_LAYER_NORM || is_centering_mean(a, &a->nodes[i])))
            return true;
    return false;
}

/* Whether value v is a graph output that no node reads and that is not
 * asked for in int8 (--int8-outputs): it may be computed in float. */
static bool float_output(const struct rewrite *r, int v)
{
    return !r->opt->int8_outputs && r->is_output[v] && r->readers[v] == 1;
}

static bool runs_int8(const struct rewrite *r, const struct graph_node *n);

/* Whether node n is an element-wise function (sigmoid, tanh, ...) that
 * writes such a graph output from the output of an int8 conv2d/dense: that
 * layer then writes float and n runs float on it, since a 256-entry table
 * would round the output to 256 levels of its calibrated range (a click
 * probability below 1/510 would come out exactly 0). */
static bool final_function(const struct rewrite *r, const struct graph_node *n)
{
    if (!graph_op_is_function(n->op) || !float_output(r, n->outputs[0]))
        return false;
    int p = r->a->values[n->inputs[0]].producer;
    const struct graph_node *layer = p >= 0 ? &r->a->nodes[p] : NULL;
    return layer && (layer->op == GRAPH_OP_CONV2D || layer->op == GRAPH_OP_DENSE) &&
           r->readers[n->inputs[0]] == 1 && runs_int8(r, layer);
}

/* Whether value v is read by one final function only (a conv2d/dense then
 * writes it in float, as it writes a graph output). */
static bool feeds_final_function(const struct rewrite *r, int v)
{
    if (r->readers[v] != 1 || r->is_output[v])
        return false; /* final_function checks the rest */
    for (int i = 0; i < r->a->n_nodes; i++) {
        const struct graph_node *m = &r->a->nodes[i];
        for (int k = 0; k < m->n_inputs; k++)
            if (m->inputs[k] == v)
                return final_function(r, m);
    }
    return false;
}

/* Whether value v reaches a softmax through element-wise arithmetic and
 * reshapes only: the matmul that writes it computes attention scores,
 * whose rounding to 256 levels becomes a relative error of every
 * probability (exp), so it stays float unless opt->int8_scores. */
static bool reaches_softmax(const struct graph *a, int v, int depth)
{
    if (depth > 16)
        return false;
    for (int i = 0; i < a->n_nodes; i++) {
        const struct graph_node *m = &a->nodes[i];
        bool reads = false;
        for (int k = 0; k < m->n_inputs; k++)
            reads = reads || m->inputs[k] == v;
        if (!reads)
            continue;
        if (m->op == GRAPH_OP_SOFTMAX)
            return true;
        if ((m->op == GRAPH_OP_ADD || m->op == GRAPH_OP_SUB || m->op == GRAPH_OP_MUL ||
             m->op == GRAPH_OP_DIV || m->op == GRAPH_OP_RESHAPE ||
             m->op == GRAPH_OP_TRANSPOSE) &&
            reaches_softmax(a, m->outputs[0], depth + 1))
            return true;
    }
    return false;
}

/* Whether node runs int8 in static mode. */
static bool runs_int8(const struct rewrite *r, const struct graph_node *n)
{
    if (excluded(r, n))
        return false;
    const struct graph *a = r->a;
    if (graph_op_is_function(n->op)) /* a table of 256 entries */
        return quanta_dtype_is_float(a->values[n->inputs[0]].dtype) && !final_function(r, n);
    if (n->op != GRAPH_OP_CONV2D && n->op != GRAPH_OP_DENSE && in_layer_norm(a, n))
        return false;
    switch (n->op) {
    case GRAPH_OP_CONV2D:
    case GRAPH_OP_DENSE:
        if (!is_float_const(a, n->inputs[1]))
            return false;
        if (n->n_inputs > 2 && n->inputs[2] >= 0 && !is_float_const(a, n->inputs[2]))
            return false;
        return quanta_dtype_is_float(a->values[n->inputs[0]].dtype);
    case GRAPH_OP_MAX_POOL2D:
    case GRAPH_OP_FLATTEN:
    case GRAPH_OP_RESHAPE:
    case GRAPH_OP_TRANSPOSE:
    case GRAPH_OP_SLICE:
    case GRAPH_OP_PAD:
        return r->prim_int8[n->inputs[0]];
    case GRAPH_OP_RESIZE: /* nearest moves bytes; linear weighs them in integers */
        return resize_int8(a, n) && r->prim_int8[n->inputs[0]];
    case GRAPH_OP_SOFTMAX: /* int8 in, float out: only where its input is int8 anyway */
        return r->prim_int8[n->inputs[0]];
    case GRAPH_OP_EMBEDDING:
    case GRAPH_OP_EMBEDDING_BAG:
        return is_float_const(a, n->inputs[1]) && !quanta_dtype_is_float(a->values[n->inputs[0]].dtype);
    case GRAPH_OP_MATMUL: /* two activations (or a constant), per tensor; relu/relu6 clamp */
        if (n->attrs.activation > GRAPH_ACT_RELU6 ||
            (!r->opt->int8_scores && reaches_softmax(a, n->outputs[0], 0)))
            return false;
        for (int k = 0; k < n->n_inputs; k++)
            if (!quanta_dtype_is_float(a->values[n->inputs[k]].dtype))
                return false;
        return true;
    case GRAPH_OP_ADD:
    case GRAPH_OP_MUL: {
        /* the int8 kernels: b of a's shape, or [C] along a's last axis */
        const struct quanta_shape *sa = &a->values[n->inputs[0]].shape;
        const struct quanta_shape *sb = &a->values[n->inputs[1]].shape;
        bool channel = sb->rank == 1 && sa->rank >= 1 && sb->dims[0] == sa->dims[sa->rank - 1];
        if (!quanta_shape_equal(sa, &a->values[n->outputs[0]].shape) ||
            !(quanta_shape_equal(sa, sb) || channel))
            return false;
    }
        /* fall through */
    case GRAPH_OP_RELU:
    case GRAPH_OP_RELU6:
    case GRAPH_OP_LEAKY_RELU:
    case GRAPH_OP_MEAN:
    case GRAPH_OP_AVG_POOL2D:
    case GRAPH_OP_GLOBAL_AVG_POOL:
    case GRAPH_OP_CONCAT:
        for (int k = 0; k < n->n_inputs; k++)
            if (!quanta_dtype_is_float(a->values[n->inputs[k]].dtype))
                return false;
        return true;
    default:
        return false;
    }
}

/* The output of the int8 concat chain that every reader of v leads to,
 * or -1: each reader is an int8 concat (then its own target, else its
 * output) or a reshape, flatten, transpose or slice (they keep their
 * input's parameters) whose output leads there; v is no graph output. */
static int concat_target(const struct rewrite *r, int v, int depth)
{
    if (r->readers[v] < 1 || r->is_output[v] || depth > 64)
        return -1;
    int target = -1;
    for (int i = 0; i < r->a->n_nodes; i++) {
        const struct graph_node *m = &r->a->nodes[i];
        for (int k = 0; k < m->n_inputs; k++) {
            if (m->inputs[k] != v)
                continue;
            if (excluded(r, m))
                return -1;
            int t;
            if (m->op == GRAPH_OP_CONCAT && runs_int8(r, m)) {
                t = concat_target(r, m->outputs[0], depth + 1);
                if (t < 0)
                    t = m->outputs[0];
            } else if (m->op == GRAPH_OP_RESHAPE || m->op == GRAPH_OP_FLATTEN ||
                       m->op == GRAPH_OP_TRANSPOSE || m->op == GRAPH_OP_SLICE) {
                if ((t = concat_target(r, m->outputs[0], depth + 1)) < 0)
                    return -1;
            } else {
                return -1;
            }
            if (target >= 0 && t != target)
                return -1;
            target = t;
        }
    }
    return target;
}

/* The value whose range gives v its parameters: v, or the output of the
 * int8 concat that v's readers all lead to, directly or through reshapes,
 * flattens, transposes and slices (they keep their input's parameters);
 * followed on when that concat's output feeds another concat the same
 * way. The concat then copies v's bytes instead of requantizing them
 * (TFLite gives a concat's inputs its output's parameters likewise), and v
 * is rounded once, straight to the step the concat's reader sees, instead
 * of twice. (A DLRM's pairwise dot products: a matmul whose output is
 * sliced into the interaction's concat; the diagonal it drops no longer
 * widens the range.) */
static int concat_range_source(const struct rewrite *r, int v)
{
    int t = concat_target(r, v, 0);
    return t >= 0 ? t : v;
}

static enum quanta_status add_output_value(struct rewrite *r, int v, enum quanta_dtype dtype,
                                           const struct graph_quant *q, int *index)
{
    const struct graph_value *av = &r->a->values[v];
    char *name = q && r->is_output[v] ? qz_unique_name(r->a, r->out, av->name, ".q")
                                      : strdup(av->name);
    if (!name)
        return nomem(r);
    int o = graph_add_value(r->out, name, GRAPH_VALUE_NODE, dtype, &av->shape);
    free(name);
    if (o < 0)
        return nomem(r);
    if (q)
        r->out->values[o].quant = *q;
    else
        r->out->values[o].quant.dtype = QUANTA_DTYPE_INVALID;
    *index = o;
    return QUANTA_OK;
}

static bool same_params(const struct graph_quant *x, const struct graph_quant *y)
{
    return x->dtype == y->dtype && x->axis < 0 && y->axis < 0 && x->scale == y->scale &&
           x->zero_point == y->zero_point;
}

/* The largest input step one output step of n must resolve (without
 * weights): its requantization multipliers are this over the output scale
 * (q8_params.c: add rescales by 2 * max(s_a, s_b) / 2^20, mul by s_a * s_b). */
static double step_numerator(const struct rewrite *r, const struct graph_node *n, const int *ins)
{
    double s_max = 0.0, product = 1.0;
    for (int k = 0; k < n->n_inputs; k++) {
        double s = r->out->values[ins[k]].quant.scale;
        s_max = s > s_max ? s : s_max;
        product *= s;
    }
    switch (n->op) {
    case GRAPH_OP_ADD:
        return 2.0 * s_max / 1048576.0;
    case GRAPH_OP_MUL:
    case GRAPH_OP_MATMUL:
        return product;
    case GRAPH_OP_LEAKY_RELU:
        return s_max * fmax(1.0, fabs((double)n->attrs.alpha));
    default:
        return s_max;
    }
}

/* An embedding table [V, D] as I4, symmetric per row (--embedding-bits 4). */
static enum quanta_status quantize_table_i4(struct rewrite *r, int v, int *index)
{
    const struct graph_value *av = &r->a->values[v];
    int64_t rows = av->shape.dims[0], d = av->shape.dims[1];
    float *f = qz_const_to_f32(av);
    uint8_t *q = malloc((size_t)(rows * ((d + 1) / 2) > 0 ? rows * ((d + 1) / 2) : 1));
    float *scales = malloc((size_t)(rows > 0 ? rows : 1) * sizeof *scales);
    char *name = const_name(r, v, ".q");
    enum quanta_status st = QUANTA_OK;
    if (!f || !q || !scales || !name) {
        free(q);
        free(scales);
        st = nomem(r);
        goto done;
    }
    quantize_rows_i4(f, rows, d, q, scales);
    int w = qz_add_owned_const(r->out, name, QUANTA_I4, &av->shape, q);
    if (w < 0) {
        free(scales);
        st = nomem(r);
        goto done;
    }
    struct graph_quant quant;
    if ((st = add_channel_params(r, name, QUANTA_I4, scales, rows, &quant)))
        goto done;
    r->out->values[w].quant = quant;
    *index = w;
done:
    free(f);
    free(name);
    return st;
}

/* An embedding table as I8 (I4 with --embedding-bits 4), symmetric per
 * row; shared by its readers. */
static enum quanta_status table_int8(struct rewrite *r, int v, int *index)
{
    if (r->qv[v] >= 0) {
        *index = r->qv[v];
        return QUANTA_OK;
    }
    enum quanta_status st = r->opt->embedding_bits == 4
                                ? quantize_table_i4(r, v, index)
                                : quantize_weight(r, v, true, index, NULL, NULL, NULL);
    /* symmetric rows: no zero point tensor (quanta-format(5)), 4 bytes a row
     * saved; the unused I32 tensor is not written */
    if (!st)
        r->out->values[*index].quant.zero_points = NULL;
    if (!st)
        r->qv[v] = *index;
    return st;
}

/* An int8 pad writes its constant quantized as by quantize (round to
 * nearest, ties away, clamped) in its input's parameters: a note when
 * that changes the value. */
static enum quanta_status check_pad_value(struct rewrite *r, const struct graph_node *n,
                                          const struct graph_quant *q)
{
    struct q8_quantize_params qp;
    struct quanta_error err;
    int8_t b;
    enum quanta_status st = q8_quantize_prepare(q, &qp, n->name, &err);
    if (st)
        return quanta_fail(r->err, st, "%s", err.message);
    q8_quantize__ref(1, &qp, &n->attrs.value, &b);
    int32_t z = q->dtype == QUANTA_U8 ? q->zero_point - 128 : q->zero_point;
    double back = (double)q->scale * (double)((int32_t)b - z);
    if (back == (double)n->attrs.value)
        return QUANTA_OK;
    return add_note(r, QUANTIZE_NOTE_PAD_VALUE, n->name, r->a->values[n->inputs[0]].name, 0, 0,
                    n->attrs.value, back);
}

static enum quanta_status static_node_int8(struct rewrite *r, const struct graph_node *n,
                                           int *ins)
{
    enum quanta_status st;
    bool has_weights = n->op == GRAPH_OP_CONV2D || n->op == GRAPH_OP_DENSE;
    int y = n->outputs[0], o;
    if (n->op == GRAPH_OP_EMBEDDING_BAG) {
        /* ids, offsets and per-sample weights as they are (the kernel reads
         * float weights); the table as for embedding; one requantization
         * of each bag's reduction into the output's calibrated range */
        struct graph_quant q;
        for (int k = 0; k < n->n_inputs; k++) {
            if (k == 1)
                continue;
            ins[k] = -1;
            if (n->inputs[k] >= 0 && (st = get_float(r, n->inputs[k], &ins[k])))
                return st;
        }
        if ((st = table_int8(r, n->inputs[1], &ins[1])) ||
            (st = lookup_params(r, y, n->name, GRAPH_ACT_NONE, 0.0, &q)) ||
            (st = add_output_value(r, y, q.dtype, &q, &o)))
            return st;
        r->qv[y] = o;
        r->prim_int8[y] = true;
        return qz_add_node_like(r->out, n, NULL, ins, n->n_inputs, &o, 1) < 0 ? nomem(r)
                                                                             : QUANTA_OK;
    }
    if (n->op == GRAPH_OP_EMBEDDING) {
        /* ids as they are; the table symmetric per row (FBGEMM's row-wise
         * tables: rows differ in range and are read one at a time); each
         * gathered row requantized into the output's calibrated range */
        struct graph_quant q;
        if ((st = get_float(r, n->inputs[0], &ins[0])) ||
            (st = table_int8(r, n->inputs[1], &ins[1])) ||
            (st = lookup_params(r, y, n->name, GRAPH_ACT_NONE, 0.0, &q)) ||
            (st = add_output_value(r, y, q.dtype, &q, &o)))
            return st;
        r->qv[y] = o;
        r->prim_int8[y] = true;
        return qz_add_node_like(r->out, n, NULL, ins, 2, &o, 1) < 0 ? nomem(r) : QUANTA_OK;
    }
    if (n->op == GRAPH_OP_SOFTMAX) { /* int8 in, float out */
        if ((st = get_int8(r, n->inputs[0], n->name, &ins[0])) ||
            (st = add_output_value(r, y, QUANTA_F32, NULL, &o)))
            return st;
        r->fv[y] = o;
        return qz_add_node_like(r->out, n, NULL, ins, 1, &o, 1) < 0 ? nomem(r) : QUANTA_OK;
    }
    int n_x = has_weights ? 1 : n->n_inputs;
    for (int k = 0; k < n_x; k++)
        if ((st = get_int8(r, n->inputs[k], n->name, &ins[k])))
            return st;
    double min_out_scale = 0.0;
    int n_ins = n->n_inputs;
    if (has_weights) {
        float *s_w = NULL, *min_s = NULL, *bf = NULL;
        float s_in = r->out->values[ins[0]].quant.scale;
        int b = n->n_inputs > 2 ? n->inputs[2] : -1;
        const struct graph_value *wv = &r->a->values[n->inputs[1]];
        const double *mean = input_means(r, n);
        int64_t n_out = wv->shape.dims[0];
        int64_t k = n_out > 0 ? quanta_shape_numel(&wv->shape) / n_out : 0;
        if (b >= 0 || mean) {
            bf = b >= 0 ? qz_const_to_f32(&r->a->values[b])
                        : calloc((size_t)(n_out > 0 ? n_out : 1), sizeof *bf);
            min_s = malloc((size_t)(n_out > 0 ? n_out : 1) * sizeof *min_s);
            if (!bf || !min_s) {
                free(bf);
                free(min_s);
                return nomem(r);
            }
            /* a corrected bias moves by at most 128 input steps per term */
            bias_min_scales(bf, n_out, mean ? k * 2 : k, s_in,
                            r->opt->weights == QUANTIZE_PER_CHANNEL, min_s);
        }
        struct widening wide;
        st = quantize_weight(r, n->inputs[1], r->opt->weights == QUANTIZE_PER_CHANNEL, &ins[1], &s_w,
                             min_s, &wide);
        free(min_s);
        if (st) {
            free(bf);
            return st;
        }
        if (bf && wide.channels > 0) {
            int total = r->opt->weights == QUANTIZE_PER_CHANNEL ? (int)wv->shape.dims[0] : 1;
            if ((st = add_note(r, QUANTIZE_NOTE_BIAS_FIT, n->name, wv->name, wide.channels,
                               total, wide.from, wide.to))) {
                free(s_w);
                free(bf);
                return st;
            }
        }
        int64_t ns = r->opt->weights == QUANTIZE_PER_CHANNEL ? n_out : 1;
        double s_w_max = 0.0;
        for (int64_t c = 0; c < ns; c++)
            s_w_max = s_w[c] > s_w_max ? s_w[c] : s_w_max;
        min_out_scale = (double)s_in * s_w_max / QUANTIZE_MAX_STEP_RATIO;
        if (mean) {
            double shift = correct_bias(r, n, ins, s_w, mean, bf);
            if (shift < 0.0)
                st = nomem(r);
            else
                st = add_corrected(r, n->name, shift);
        }
        if (n->n_inputs > 2)
            ins[2] = -1;
        if (st == QUANTA_OK && bf) {
            struct quanta_shape bshape = {.rank = 1, .dims = {n_out}};
            char *name = b >= 0 ? const_name(r, b, ".q") : qz_unique_name(r->a, r->out, n->name, ".bias");
            st = name ? quantize_bias(r, name, b >= 0 ? &r->a->values[b].shape : &bshape, bf,
                                      s_in, s_w, &ins[2])
                      : nomem(r);
            free(name);
            n_ins = 3;
        }
        free(bf);
        free(s_w);
        if (st)
            return st;
    }
    if (has_weights && (float_output(r, y) || feeds_final_function(r, y))) {
        /* a graph output nothing else reads, or the input of the function
         * that makes one: float straight from the int32 accumulator, no
         * output range needed (quanta-format(5)) */
        if ((st = add_output_value(r, y, QUANTA_F32, NULL, &o)))
            return st;
        r->fv[y] = o;
        return qz_add_node_like(r->out, n, NULL, ins, n_ins, &o, 1) < 0 ? nomem(r) : QUANTA_OK;
    }
    /* output parameters */
    struct graph_quant q;
    if (is_move_op(n->op)) {
        q = r->out->values[ins[0]].quant;
    } else {
        bool shared = n->op == GRAPH_OP_CONCAT;
        for (int k = 1; shared && k < n->n_inputs; k++)
            shared = same_params(&r->out->values[ins[0]].quant, &r->out->values[ins[k]].quant);
        if (shared) {
            q = r->out->values[ins[0]].quant;
        } else {
            enum graph_activation act = n->attrs.activation;
            if (n->op == GRAPH_OP_RELU)
                act = GRAPH_ACT_RELU;
            else if (n->op == GRAPH_OP_RELU6)
                act = GRAPH_ACT_RELU6;
            else if (n->op != GRAPH_OP_CONV2D && n->op != GRAPH_OP_DENSE &&
                     n->op != GRAPH_OP_ADD && n->op != GRAPH_OP_MUL && n->op != GRAPH_OP_MATMUL)
                act = GRAPH_ACT_NONE;
            if (!has_weights)
                min_out_scale = step_numerator(r, n, ins) / QUANTIZE_MAX_STEP_RATIO;
            if ((st = lookup_params(r, y, n->name, act, min_out_scale, &q)))
                return st;
        }
    }
    if (n->op == GRAPH_OP_PAD && n->attrs.mode == GRAPH_MODE_CONSTANT &&
        (st = check_pad_value(r, n, &q)))
        return st;
    if ((st = add_output_value(r, y, q.dtype, &q, &o)))
        return st;
    r->qv[y] = o;
    r->prim_int8[y] = true;
    if (qz_add_node_like(r->out, n, NULL, ins, n_ins, &o, 1) < 0)
        return nomem(r);
    return QUANTA_OK;
}

/* A node kept in float (static mode), or any node in the other modes with
 * its constants converted by convert (NULL: copied). */
typedef enum quanta_status (*convert_fn)(struct rewrite *r, const struct graph_node *n, int k,
                                         int *index, bool *done);

static enum quanta_status float_node(struct rewrite *r, const struct graph_node *n, int *ins,
                                     int *outs, convert_fn convert)
{
    enum quanta_status st;
    for (int k = 0; k < n->n_inputs; k++) {
        ins[k] = -1;
        if (n->inputs[k] < 0)
            continue;
        bool done = false;
        if (convert && (st = convert(r, n, k, &ins[k], &done)))
            return st;
        if (!done && (st = get_float(r, n->inputs[k], &ins[k])))
            return st;
    }
    for (int o = 0; o < n->n_outputs; o++) {
        int y = n->outputs[o];
        if ((st = add_output_value(r, y, r->a->values[y].dtype, NULL, &outs[o])))
            return st;
        r->fv[y] = outs[o];
    }
    if (qz_add_node_like(r->out, n, NULL, ins, n->n_inputs, outs, n->n_outputs) < 0)
        return nomem(r);
    return QUANTA_OK;
}

static enum quanta_status convert_weight_only(struct rewrite *r, const struct graph_node *n,
                                              int k, int *index, bool *done)
{
    int v = n->inputs[k];
    if (k != 1 ||
        (n->op != GRAPH_OP_CONV2D && n->op != GRAPH_OP_DENSE && n->op != GRAPH_OP_EMBEDDING &&
         n->op != GRAPH_OP_EMBEDDING_BAG) ||
        excluded(r, n) || !is_float_const(r->a, v))
        return QUANTA_OK;
    *done = true;
    if (r->qv[v] >= 0) {
        *index = r->qv[v];
        return QUANTA_OK;
    }
    /* embedding tables per row, whatever --weights says: rows are read
     * one at a time and differ in range (FBGEMM's row-wise tables) */
    if (n->op == GRAPH_OP_EMBEDDING || n->op == GRAPH_OP_EMBEDDING_BAG)
        return table_int8(r, v, index);
    bool per_channel = r->opt->weights == QUANTIZE_PER_CHANNEL;
    enum quanta_status st = quantize_weight(r, v, per_channel, index, NULL, NULL, NULL);
    if (!st)
        r->qv[v] = *index;
    return st;
}

static enum quanta_status convert_fp16(struct rewrite *r, const struct graph_node *n, int k,
                                       int *index, bool *done)
{
    int v = n->inputs[k];
    if (excluded(r, n) || !is_float_const(r->a, v) || r->a->values[v].dtype == QUANTA_F16)
        return QUANTA_OK;
    *done = true;
    if (r->qv[v] >= 0) {
        *index = r->qv[v];
        return QUANTA_OK;
    }
    const struct graph_value *av = &r->a->values[v];
    int64_t n_el = quanta_shape_numel(&av->shape);
    float *f = qz_const_to_f32(av);
    uint16_t *h = malloc((size_t)(n_el > 0 ? n_el : 1) * sizeof *h);
    char *name = const_name(r, v, ".f16");
    if (!f || !h || !name) {
        free(f);
        free(h);
        free(name);
        return nomem(r);
    }
    for (int64_t i = 0; i < n_el; i++)
        h[i] = quanta_f32_to_f16(f[i]);
    free(f);
    int c = qz_add_owned_const(r->out, name, QUANTA_F16, &av->shape, h);
    free(name);
    if (c < 0)
        return nomem(r);
    *index = r->qv[v] = c;
    return QUANTA_OK;
}

static enum quanta_status check_source(const struct graph *src, const struct quantize_options *opt,
                                       const char *source, struct quanta_error *err)
{
    if (opt->mode != QUANTIZE_STATIC && opt->mode != QUANTIZE_WEIGHT_ONLY &&
        opt->mode != QUANTIZE_FP16)
        return quanta_fail(err, QUANTA_ERR_USAGE, "unknown quantization mode %d", (int)opt->mode);
    if (opt->activation_type != QUANTA_I8 && opt->activation_type != QUANTA_U8)
        return quanta_fail(err, QUANTA_ERR_USAGE, "activation type %s is not I8 or U8",
                           quanta_dtype_name(opt->activation_type));
    for (int v = 0; v < src->n_values; v++)
        if (src->values[v].quant.dtype != QUANTA_DTYPE_INVALID)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: value '%s' is already quantized; quantize a float model",
                               source, src->values[v].name);
    for (int i = 0; i < src->n_nodes; i++)
        if (src->nodes[i].op == GRAPH_OP_QUANTIZE || src->nodes[i].op == GRAPH_OP_DEQUANTIZE)
            return quanta_fail(err, QUANTA_ERR_INPUT,
                               "%s: node '%s' (%s): model is already quantized", source,
                               src->nodes[i].name, graph_op_name(src->nodes[i].op));
    for (int v = 0; v < src->n_values && !opt->allow_nonfinite; v++) {
        const struct graph_value *c = &src->values[v];
        int64_t bad;
        if (c->kind == GRAPH_VALUE_CONST && c->data && quanta_dtype_is_float(c->dtype) &&
            (bad = quantize_find_nonfinite(c->dtype, c->data, quanta_shape_numel(&c->shape))) >= 0)
            return qz_fail_nonfinite(err, source, c->name, c->dtype, &c->shape, c->data, bad);
    }
    for (int e = 0; e < opt->n_exclude; e++) {
        bool found = false;
        for (int i = 0; i < src->n_nodes && !found; i++)
            found = src->nodes[i].name && strcmp(src->nodes[i].name, opt->exclude[e]) == 0;
        if (!found)
            return quanta_fail(err, QUANTA_ERR_USAGE, "%s: no node named '%s' to exclude", source,
                               opt->exclude[e]);
    }
    return QUANTA_OK;
}

enum quanta_status quantize_model(const struct graph *src, const struct quantize_options *opt,
                                  const struct quantize_ranges *ranges, struct graph *out,
                                  const char *source, struct quanta_error *err)
{
    struct graph a;
    struct rewrite r = {.out = out, .opt = opt, .ranges = ranges, .source = source, .err = err};
    int *ins = NULL, *outs = NULL, *input_map = NULL;
    memset(out, 0, sizeof *out);
    memset(&a, 0, sizeof a);
    enum quanta_status st = check_source(src, opt, source, err);
    if (st)
        return st;
    if ((st = quantize_prepare(src, opt, &a, source, err)))
        return st;
    r.a = &a;
    size_t nv = (size_t)a.n_values + 1;
    r.readers = qz_count_readers(&a);
    r.fv = malloc(nv * sizeof *r.fv);
    r.qv = malloc(nv * sizeof *r.qv);
    r.prim_int8 = calloc(nv, sizeof *r.prim_int8);
    r.is_output = calloc(nv, sizeof *r.is_output);
    /* one slot per input of the widest node (a concat may read one value
     * many times, more than the graph has values), at least the 3 of a
     * conv2d/dense */
    size_t n_slots = nv > 3 ? nv : 3;
    for (int i = 0; i < a.n_nodes; i++)
        if ((size_t)a.nodes[i].n_inputs > n_slots)
            n_slots = (size_t)a.nodes[i].n_inputs;
    ins = malloc(n_slots * sizeof *ins);
    outs = malloc(nv * sizeof *outs);
    input_map = malloc(((size_t)a.n_inputs + 1) * sizeof *input_map);
    if (!r.readers || !r.fv || !r.qv || !r.prim_int8 || !r.is_output || !ins || !outs ||
        !input_map) {
        st = nomem(&r);
        goto done;
    }
    for (int v = 0; v < a.n_values; v++)
        r.fv[v] = r.qv[v] = -1;
    for (int o = 0; o < a.n_outputs; o++)
        r.is_output[a.outputs[o]] = true;
    for (int i = 0; i < a.n_inputs; i++) {
        int v = a.inputs[i].value;
        if ((r.fv[v] = qz_copy_value(out, &a, v, NULL)) < 0) {
            st = nomem(&r);
            goto done;
        }
        input_map[i] = r.fv[v];
    }
    for (int i = 0; i < a.n_nodes; i++) {
        const struct graph_node *n = &a.nodes[i];
        if (opt->mode == QUANTIZE_STATIC && runs_int8(&r, n))
            st = static_node_int8(&r, n, ins);
        else
            st = float_node(&r, n, ins, outs,
                            opt->mode == QUANTIZE_WEIGHT_ONLY ? convert_weight_only
                            : opt->mode == QUANTIZE_FP16      ? convert_fp16
                                                              : NULL);
        if (st)
            goto done;
    }
    for (int o = 0; o < a.n_outputs; o++)
        if ((st = get_float(&r, a.outputs[o], &outs[o])))
            goto done;
    if ((st = qz_copy_graph_header(out, &a, input_map, err)) ||
        (st = qz_set_outputs(out, outs, a.n_outputs, err)))
        goto done;
    qz_fix_quant_pointers(out);
    qz_steal_owned(out, &a);
    st = graph_validate(out, source, err);
done:
    if (st) {
        graph_free(out);
        memset(out, 0, sizeof *out);
    }
    graph_free(&a);
    free(r.readers);
    free(r.fv);
    free(r.qv);
    free(r.prim_int8);
    free(r.is_output);
    free(ins);
    free(outs);
    free(input_map);
    return st;
}

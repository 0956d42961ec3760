/* quanta export: the float computation of each operator as ONNX nodes.
 * Inputs arrive as float tensors in quanta's layout (NHWC; channels first
 * for the ops ox_op_channels_first names), so axes are quanta's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export/onnx_export_internal.h"

bool ox_op_channels_first(const struct graph *g, const struct graph_node *n)
{
    int r = g->values[n->inputs[0]].shape.rank;
    switch (n->op) {
    case GRAPH_OP_CONV2D:
    case GRAPH_OP_MAX_POOL2D:
    case GRAPH_OP_AVG_POOL2D:
    case GRAPH_OP_CONV3D:
    case GRAPH_OP_MAX_POOL3D:
    case GRAPH_OP_AVG_POOL3D:
        return true;
    case GRAPH_OP_BATCH_NORM:
    case GRAPH_OP_INSTANCE_NORM:
        return r > 2;
    default:
        return false;
    }
}

bool ox_op_own_input(const struct graph *g, const struct graph_node *n, int i)
{
    return i == 1 && (n->op == GRAPH_OP_CONV2D || n->op == GRAPH_OP_CONV3D ||
                      (n->op == GRAPH_OP_DENSE && g->values[n->inputs[0]].shape.rank > 2));
}

static int rank_of(const struct ox *x, const struct graph_node *n, int i)
{
    return x->g->values[n->inputs[i]].shape.rank;
}

static int norm_axis(int axis, int rank)
{
    return axis < 0 ? axis + rank : axis;
}

static void one(struct ox *x, const char *op, const char *const *in, int n_in, const char *out)
{
    ox_node_begin(x, op, in, n_in, &out, 1);
    ox_node_end(x);
}

static void ints2(struct ox *x, const char *name, const int *v, int n)
{
    int64_t w[6];
    for (int i = 0; i < n; i++)
        w[i] = v[i];
    ox_attr_ints(x, name, w, n);
}

static void emit_conv(struct ox *x, const struct graph_node *n, const char *const *in,
                      const char *out)
{
    const struct graph_attrs *a = &n->attrs;
    const struct graph_value *w = &x->g->values[n->inputs[1]];
    const int sp = graph_op_spatial(n->op);
    int to_oi[5], kernel[3];
    ox_perm_channels_first(sp + 2, to_oi); /* [O, K.., I] -> [O, I, K..] */
    for (int i = 0; i < sp; i++)
        kernel[i] = (int)w->shape.dims[1 + i];
    const char *ins[3] = {in[0], ox_const_float(x, n->inputs[1], to_oi), in[2]};
    ox_node_begin(x, "Conv", ins, n->n_inputs > 2 && in[2] ? 3 : 2, &out, 1);
    ints2(x, "kernel_shape", kernel, sp);
    ints2(x, "strides", a->strides, sp);
    ints2(x, "pads", a->pads, 2 * sp); /* starts then ends: ONNX's order too */
    ints2(x, "dilations", a->dilations, sp);
    ox_attr_int(x, "group", a->groups);
    ox_node_end(x);
}

/* dense: Gemm (x [N, K] times w transposed) or, for x of rank 3 and more,
 * MatMul by the transposed weight, then Add of the bias. */
static void emit_dense(struct ox *x, const struct graph_node *n, const char *const *in,
                       const char *out)
{
    static const int t2[2] = {1, 0};
    bool bias = n->n_inputs > 2 && in[2];
    if (rank_of(x, n, 0) == 2) {
        ox_node_begin(x, "Gemm", in, bias ? 3 : 2, &out, 1);
        ox_attr_int(x, "transB", 1);
        ox_node_end(x);
        return;
    }
    const char *wt = ox_const_float(x, n->inputs[1], t2);
    if (!bias) {
        ox_binary(x, "MatMul", in[0], wt, out);
        return;
    }
    ox_binary(x, "Add", ox_binary(x, "MatMul", in[0], wt, NULL), in[2], out);
}

static void emit_pool(struct ox *x, const struct graph_node *n, const char *const *in,
                      const char *out)
{
    const struct graph_attrs *a = &n->attrs;
    const int sp = graph_op_spatial(n->op);
    bool max = n->op == GRAPH_OP_MAX_POOL2D || n->op == GRAPH_OP_MAX_POOL3D;
    bool dilated = n->op == GRAPH_OP_MAX_POOL3D &&
                   (a->dilations[0] > 1 || a->dilations[1] > 1 || a->dilations[2] > 1);
    /* padding is never counted: AveragePool's default count_include_pad 0 */
    ox_node_begin(x, max ? "MaxPool" : "AveragePool", in, 1, &out, 1);
    ints2(x, "kernel_shape", a->kernel, sp);
    ints2(x, "strides", a->strides, sp);
    ints2(x, "pads", a->pads, 2 * sp);
    if (dilated)
        ints2(x, "dilations", a->dilations, sp);
    ox_node_end(x);
}

/* Reductions: axes an attribute before opset 18 (13 for ReduceSum), an
 * input from then on. */
static void emit_reduce(struct ox *x, const char *op, const char *in, const int64_t *axes,
                        int n_axes, bool keepdims, const char *out)
{
    bool as_input = x->opset >= 18 || strcmp(op, "ReduceSum") == 0;
    const char *ins[2] = {in, as_input ? ox_init_int64s(x, in ? in : "t", axes, n_axes) : NULL};
    ox_node_begin(x, op, ins, as_input ? 2 : 1, &out, 1);
    if (!as_input)
        ox_attr_ints(x, "axes", axes, n_axes);
    ox_attr_int(x, "keepdims", keepdims);
    ox_node_end(x);
}

static void emit_reduce_node(struct ox *x, const struct graph_node *n, const char *op,
                             const char *in, const char *out)
{
    int64_t axes[QUANTA_MAX_RANK];
    for (int i = 0; i < n->attrs.n_axes; i++)
        axes[i] = norm_axis(n->attrs.axes[i], rank_of(x, n, 0));
    emit_reduce(x, op, in, axes, n->attrs.n_axes, n->attrs.keepdims, out);
}

static const char *scalar(struct ox *x, float v)
{
    return ox_init_float(x, x->node->name, v);
}

/* gelu and gelu_tanh before opset 20 (which has Gelu): spelled out. */
static void emit_gelu(struct ox *x, const char *in, bool tanh_form, const char *out)
{
    if (x->opset >= 20) {
        ox_node_begin(x, "Gelu", &in, 1, &out, 1);
        if (tanh_form)
            ox_attr_string(x, "approximate", "tanh");
        ox_node_end(x);
        return;
    }
    const char *t;
    if (!tanh_form) {
        t = ox_unary(x, "Erf", ox_binary(x, "Div", in, scalar(x, (float)M_SQRT2), NULL), NULL);
    } else {
        const char *cube = ox_binary(x, "Mul", ox_binary(x, "Mul", in, in, NULL), in, NULL);
        const char *inner = ox_binary(x, "Add", in,
                                      ox_binary(x, "Mul", cube, scalar(x, 0.044715f), NULL), NULL);
        t = ox_unary(x, "Tanh",
                     ox_binary(x, "Mul", inner, scalar(x, (float)sqrt(2.0 / M_PI)), NULL), NULL);
    }
    const char *half_x = ox_binary(x, "Mul", in, scalar(x, 0.5f), NULL);
    ox_binary(x, "Mul", half_x, ox_binary(x, "Add", t, scalar(x, 1.0f), NULL), out);
}

static void emit_slice(struct ox *x, const struct graph_node *n, const char *in, const char *out)
{
    const struct graph_attrs *a = &n->attrs;
    const struct quanta_shape *xs = &x->g->values[n->inputs[0]].shape;
    int64_t starts[QUANTA_MAX_RANK], ends[QUANTA_MAX_RANK], axes[QUANTA_MAX_RANK],
        steps[QUANTA_MAX_RANK];
    int k = 0;
    for (int d = 0; d < xs->rank; d++) {
        if (xs->dims[d] < 0)
            continue; /* a batch of any size, taken whole */
        int64_t st = a->n_steps ? a->steps[d] : 1, last = a->starts[d] + (a->shape.dims[d] - 1) * st;
        starts[k] = a->starts[d];
        /* one past the last element read; before the first: INT64_MIN */
        ends[k] = st > 0 ? last + 1 : (last == 0 ? INT64_MIN : last - 1);
        axes[k] = d;
        steps[k] = st;
        k++;
    }
    const char *base = x->node->name;
    const char *ins[5] = {in, ox_init_int64s(x, base, starts, k), ox_init_int64s(x, base, ends, k),
                          ox_init_int64s(x, base, axes, k), ox_init_int64s(x, base, steps, k)};
    one(x, "Slice", ins, 5, out);
}

static void emit_pad(struct ox *x, const struct graph_node *n, const char *in, const char *out)
{
    const struct graph_attrs *a = &n->attrs;
    int r = rank_of(x, n, 0);
    int64_t pads[2 * QUANTA_MAX_RANK];
    for (int d = 0; d < r; d++) {
        pads[d] = a->pads_begin[d];
        pads[r + d] = a->pads_end[d];
    }
    const char *ins[3] = {in, ox_init_int64s(x, n->name, pads, 2 * r), scalar(x, a->value)};
    ox_node_begin(x, "Pad", ins, 3, &out, 1);
    ox_attr_string(x, "mode", graph_mode_name(a->mode));
    ox_node_end(x);
}

static void emit_cast(struct ox *x, const struct graph_node *n, const char *in, const char *out)
{
    static const struct {
        enum quanta_dtype q;
        enum onnx_type o;
    } types[] = {{QUANTA_F16, ONNX_FLOAT16}, {QUANTA_BF16, ONNX_BFLOAT16}, {QUANTA_I8, ONNX_INT8},
                 {QUANTA_U8, ONNX_UINT8},    {QUANTA_I16, ONNX_INT16},    {QUANTA_I32, ONNX_INT32},
                 {QUANTA_I64, ONNX_INT64},   {QUANTA_BOOL, ONNX_BOOL}};
    enum onnx_type to = 0;
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (types[i].q == n->attrs.to)
            to = types[i].o;
    const char *mid = in;
    if (to) {
        mid = ox_name(x, n->name, "cast");
        ox_node_begin(x, "Cast", &in, 1, &mid, 1);
        ox_attr_int(x, "to", to);
        ox_node_end(x);
    }
    ox_node_begin(x, "Cast", &mid, 1, &out, 1);
    ox_attr_int(x, "to", ONNX_FLOAT);
    ox_node_end(x);
}

/* concat: an input of batch 1 (a constant such as ViT's class token)
 * that quanta repeats along the batch goes through an Expand to the batch
 * of an input that has it (Shape, Slice of its first extent, Concat with
 * the input's other extents), as ONNX Concat does not broadcast. */
static void emit_concat(struct ox *x, const struct graph_node *n, const char *const *in,
                        const char *out)
{
    const struct graph_value *ov = &x->g->values[n->outputs[0]];
    int axis = norm_axis(n->attrs.axis, ov->shape.rank), batched = -1;
    for (int i = 0; i < n->n_inputs && batched < 0; i++)
        if (x->g->values[n->inputs[i]].shape.dims[0] == ov->shape.dims[0])
            batched = i;
    const char **ins = malloc((size_t)n->n_inputs * sizeof *ins);
    if (!ins) {
        ox_fail_nomem(x);
        return;
    }
    const char *batch = NULL;
    for (int i = 0; i < n->n_inputs && !x->failed; i++) {
        const struct quanta_shape *s = &x->g->values[n->inputs[i]].shape;
        ins[i] = in[i];
        if (s->dims[0] == ov->shape.dims[0])
            continue;
        if (axis == 0 || s->dims[0] != 1 || batched < 0) {
            ox_fail_node(x, "an input repeated along the batch that ONNX cannot expand");
            break;
        }
        const char *base = n->name;
        if (!batch) {
            static const int64_t start = 0, end = 1;
            const char *sl[4] = {ox_unary(x, "Shape", in[batched], NULL),
                                 ox_init_int64s(x, base, &start, 1),
                                 ox_init_int64s(x, base, &end, 1),
                                 ox_init_int64s(x, base, &start, 1)};
            batch = ox_name(x, base, "batch");
            one(x, "Slice", sl, 4, batch);
        }
        const char *dims[2] = {batch, ox_init_int64s(x, base, s->dims + 1, s->rank - 1)};
        const char *target = ox_name(x, base, "expand_shape");
        ox_node_begin(x, "Concat", dims, 2, &target, 1);
        ox_attr_int(x, "axis", 0);
        ox_node_end(x);
        ins[i] = ox_binary(x, "Expand", in[i], target, NULL);
    }
    ox_node_begin(x, "Concat", ins, n->n_inputs, &out, 1);
    ox_attr_int(x, "axis", axis);
    ox_node_end(x);
    free(ins);
}

void ox_emit_op(struct ox *x, const struct graph_node *n, const char *const *in, const char *out)
{
    const struct graph_attrs *a = &n->attrs;
    const struct graph_value *ov = &x->g->values[n->outputs[0]];
    static const char *const unary[GRAPH_OP_COUNT] = {
        [GRAPH_OP_RELU] = "Relu",   [GRAPH_OP_SIGMOID] = "Sigmoid", [GRAPH_OP_TANH] = "Tanh",
        [GRAPH_OP_NEG] = "Neg",     [GRAPH_OP_ABS] = "Abs",         [GRAPH_OP_EXP] = "Exp",
        [GRAPH_OP_LOG] = "Log",     [GRAPH_OP_SQRT] = "Sqrt",       [GRAPH_OP_ERF] = "Erf",
    };
    static const char *const binary[GRAPH_OP_COUNT] = {
        [GRAPH_OP_ADD] = "Add", [GRAPH_OP_MUL] = "Mul", [GRAPH_OP_SUB] = "Sub",
        [GRAPH_OP_DIV] = "Div", [GRAPH_OP_POW] = "Pow", [GRAPH_OP_MIN] = "Min",
        [GRAPH_OP_MAX] = "Max", [GRAPH_OP_MATMUL] = "MatMul",
    };
    if (unary[n->op]) {
        ox_unary(x, unary[n->op], in[0], out);
        return;
    }
    if (binary[n->op]) {
        ox_binary(x, binary[n->op], in[0], in[1], out);
        return;
    }
    switch (n->op) {
    case GRAPH_OP_CONV2D:
    case GRAPH_OP_CONV3D:
        emit_conv(x, n, in, out);
        return;
    case GRAPH_OP_DENSE:
        emit_dense(x, n, in, out);
        return;
    case GRAPH_OP_RELU6: {
        const char *ins[3] = {in[0], scalar(x, 0.0f), scalar(x, 6.0f)};
        one(x, "Clip", ins, 3, out);
        return;
    }
    case GRAPH_OP_CLIP: {
        const char *ins[3] = {in[0], scalar(x, a->min), scalar(x, a->max)};
        one(x, "Clip", ins, 3, out);
        return;
    }
    case GRAPH_OP_LEAKY_RELU:
    case GRAPH_OP_ELU:
        ox_node_begin(x, n->op == GRAPH_OP_ELU ? "Elu" : "LeakyRelu", in, 1, &out, 1);
        ox_attr_float(x, "alpha", a->alpha);
        ox_node_end(x);
        return;
    case GRAPH_OP_SELU:
        ox_node_begin(x, "Selu", in, 1, &out, 1);
        ox_attr_float(x, "alpha", a->alpha);
        ox_attr_float(x, "gamma", a->gamma);
        ox_node_end(x);
        return;
    case GRAPH_OP_HARD_SIGMOID:
        ox_node_begin(x, "HardSigmoid", in, 1, &out, 1);
        ox_attr_float(x, "alpha", a->alpha);
        ox_attr_float(x, "beta", a->beta);
        ox_node_end(x);
        return;
    case GRAPH_OP_HARD_SWISH:
        if (x->opset >= 14) {
            ox_unary(x, "HardSwish", in[0], out);
        } else {
            const char *hs = ox_name(x, n->name, "hard_sigmoid");
            ox_node_begin(x, "HardSigmoid", in, 1, &hs, 1);
            ox_attr_float(x, "alpha", 1.0f / 6.0f);
            ox_attr_float(x, "beta", 0.5f);
            ox_node_end(x);
            ox_binary(x, "Mul", in[0], hs, out);
        }
        return;
    case GRAPH_OP_SILU:
        ox_binary(x, "Mul", in[0], ox_unary(x, "Sigmoid", in[0], NULL), out);
        return;
    case GRAPH_OP_GELU:
    case GRAPH_OP_GELU_TANH:
        emit_gelu(x, in[0], n->op == GRAPH_OP_GELU_TANH, out);
        return;
    case GRAPH_OP_PRELU:
        if (!quanta_shape_equal(&x->g->values[n->inputs[0]].shape, &ov->shape)) {
            ox_fail_node(x, "the slope broadcasts over x, which ONNX PRelu does not do");
            return;
        }
        ox_binary(x, "PRelu", in[0], in[1], out);
        return;
    case GRAPH_OP_MAX_POOL2D:
    case GRAPH_OP_AVG_POOL2D:
    case GRAPH_OP_MAX_POOL3D:
    case GRAPH_OP_AVG_POOL3D:
        emit_pool(x, n, in, out);
        return;
    case GRAPH_OP_GLOBAL_AVG_POOL: {
        int r = rank_of(x, n, 0);
        int64_t axes[QUANTA_MAX_RANK];
        for (int d = 1; d < r - 1; d++)
            axes[d - 1] = d;
        emit_reduce(x, "ReduceMean", in[0], axes, r - 2, false, out);
        return;
    }
    case GRAPH_OP_FLATTEN:
        ox_node_begin(x, "Flatten", in, 1, &out, 1);
        ox_attr_int(x, "axis", 1);
        ox_node_end(x);
        return;
    case GRAPH_OP_RESHAPE:
        /* the inferred output shape: every extent known but a batch (-1) */
        ox_binary(x, "Reshape", in[0], ox_init_int64s(x, n->name, ov->shape.dims, ov->shape.rank),
                  out);
        return;
    case GRAPH_OP_TRANSPOSE: {
        ox_transpose(x, in[0], a->perm, a->n_perm, out);
        return;
    }
    case GRAPH_OP_CONCAT:
        emit_concat(x, n, in, out);
        return;
    case GRAPH_OP_SOFTMAX:
    case GRAPH_OP_LOG_SOFTMAX:
        ox_node_begin(x, n->op == GRAPH_OP_SOFTMAX ? "Softmax" : "LogSoftmax", in, 1, &out, 1);
        ox_attr_int(x, "axis", norm_axis(a->axis, ov->shape.rank));
        ox_node_end(x);
        return;
    case GRAPH_OP_BATCH_NORM:
        ox_node_begin(x, "BatchNormalization", in, 5, &out, 1);
        ox_attr_float(x, "epsilon", a->epsilon);
        ox_node_end(x);
        return;
    case GRAPH_OP_INSTANCE_NORM:
        ox_node_begin(x, "InstanceNormalization", in, 3, &out, 1);
        ox_attr_float(x, "epsilon", a->epsilon);
        ox_node_end(x);
        return;
    case GRAPH_OP_LAYER_NORM:
        if (x->opset < 17) {
            ox_fail_node(x, "LayerNormalization needs --opset 17 or later");
            return;
        }
        ox_node_begin(x, "LayerNormalization", in, n->n_inputs > 2 && in[2] ? 3 : 2, &out, 1);
        ox_attr_int(x, "axis", norm_axis(a->axis, ov->shape.rank));
        ox_attr_float(x, "epsilon", a->epsilon);
        ox_node_end(x);
        return;
    case GRAPH_OP_EMBEDDING: {
        const char *ins[2] = {in[1], in[0]};
        one(x, "Gather", ins, 2, out);
        return;
    }
    case GRAPH_OP_MEAN:
        emit_reduce_node(x, n, "ReduceMean", in[0], out);
        return;
    case GRAPH_OP_REDUCE_SUM:
        emit_reduce_node(x, n, "ReduceSum", in[0], out);
        return;
    case GRAPH_OP_REDUCE_MAX:
        emit_reduce_node(x, n, "ReduceMax", in[0], out);
        return;
    case GRAPH_OP_REDUCE_MIN:
        emit_reduce_node(x, n, "ReduceMin", in[0], out);
        return;
    case GRAPH_OP_REDUCE_L2:
        emit_reduce_node(x, n, "ReduceL2", in[0], out);
        return;
    case GRAPH_OP_ARGMAX:
    case GRAPH_OP_ARGMIN: {
        /* ONNX gives int64 positions, quanta float32 */
        const char *pos = ox_name(x, n->name, "index");
        ox_node_begin(x, n->op == GRAPH_OP_ARGMAX ? "ArgMax" : "ArgMin", in, 1, &pos, 1);
        ox_attr_int(x, "axis", norm_axis(a->axes[0], rank_of(x, n, 0)));
        ox_attr_int(x, "keepdims", a->keepdims);
        ox_attr_int(x, "select_last_index", a->select_last);
        ox_node_end(x);
        ox_node_begin(x, "Cast", &pos, 1, &out, 1);
        ox_attr_int(x, "to", ONNX_FLOAT);
        ox_node_end(x);
        return;
    }
    case GRAPH_OP_SLICE:
        emit_slice(x, n, in[0], out);
        return;
    case GRAPH_OP_PAD:
        emit_pad(x, n, in[0], out);
        return;
    case GRAPH_OP_CAST:
        emit_cast(x, n, in[0], out);
        return;
    default:
        ox_fail_node(x, "the exporter has no ONNX form for this operator");
        return;
    }
}

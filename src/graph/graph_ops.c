/* The operator table: per op, its inputs, the attrs it accepts and its
 * shape rule (model-format.md section 3). Everything else in src/graph
 * looks ops up here. */
#include "graph/graph_internal.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CONV_ATTRS (GA(STRIDES) | GA(PADS) | GA(DILATIONS) | GA(GROUPS) | GA(ACTIVATION))
#define POOL_ATTRS (GA(KERNEL) | GA(STRIDES) | GA(PADS))
#define CONV3D_ATTRS (GA(STRIDES) | GA(PADS) | GA(DILATIONS) | GA(GROUPS) | GA(ACTIVATION))
#define AVG_POOL3D_ATTRS (GA(KERNEL) | GA(STRIDES) | GA(PADS))
#define MAX_POOL3D_ATTRS (AVG_POOL3D_ATTRS | GA(DILATIONS))

/* Roles: x activation, w weight, b bias, p float parameter, i integer ids,
 * n an activation or ids (see graph_internal.h). */
const struct graph_op_info graph_op_table[GRAPH_OP_COUNT] = {
    /*                       name               in    roles    attrs                   required      shape rule */
    [GRAPH_OP_CONV2D]      = {"conv2d",          2, 4, "xwbx",  CONV_ATTRS,             0,            graph_shape_conv2d},
    [GRAPH_OP_DENSE]       = {"dense",           2, 4, "xwbx",  GA(ACTIVATION),         0,            graph_shape_dense},
    [GRAPH_OP_RELU]        = {"relu",            1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_RELU6]       = {"relu6",           1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_SIGMOID]     = {"sigmoid",         1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_TANH]        = {"tanh",            1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_LEAKY_RELU]  = {"leaky_relu",      1, 1, "x",     GA(ALPHA),              0,            graph_shape_same},
    [GRAPH_OP_MAX_POOL2D]  = {"max_pool2d",      1, 1, "x",     POOL_ATTRS,             GA(KERNEL),   graph_shape_pool},
    [GRAPH_OP_AVG_POOL2D]  = {"avg_pool2d",      1, 1, "x",     POOL_ATTRS,             GA(KERNEL),   graph_shape_pool},
    [GRAPH_OP_GLOBAL_AVG_POOL] = {"global_avg_pool", 1, 1, "x", 0,                      0,            graph_shape_global_pool},
    [GRAPH_OP_FLATTEN]     = {"flatten",         1, 1, "x",     0,                      0,            graph_shape_flatten},
    [GRAPH_OP_RESHAPE]     = {"reshape",         1, 1, "x",     GA(SHAPE),              GA(SHAPE),    graph_shape_reshape},
    [GRAPH_OP_ADD]         = {"add",             2, 2, "xx",    GA(ACTIVATION),         0,            graph_shape_binary},
    [GRAPH_OP_MUL]         = {"mul",             2, 2, "xx",    GA(ACTIVATION),         0,            graph_shape_binary},
    [GRAPH_OP_CONCAT]      = {"concat",          1, 0, "x",     GA(AXIS),               0,            graph_shape_concat},
    [GRAPH_OP_SOFTMAX]     = {"softmax",         1, 1, "x",     GA(AXIS),               0,            graph_shape_softmax},
    [GRAPH_OP_BATCH_NORM]  = {"batch_norm",      5, 5, "xpppp", GA(EPSILON),            0,            graph_shape_batch_norm},
    [GRAPH_OP_EMBEDDING]   = {"embedding",       2, 2, "iw",    0,                      0,            graph_shape_embedding},
    [GRAPH_OP_MEAN]        = {"mean",            1, 1, "x",     GA(AXES) | GA(KEEPDIMS), GA(AXES),    graph_shape_mean},
    [GRAPH_OP_QUANTIZE]    = {"quantize",        1, 1, "x",     0,                      0,            graph_shape_quantize},
    [GRAPH_OP_DEQUANTIZE]  = {"dequantize",      1, 1, "x",     0,                      0,            graph_shape_dequantize},
    [GRAPH_OP_SUB]         = {"sub",             2, 2, "xx",    0,                      0,            graph_shape_binary},
    [GRAPH_OP_DIV]         = {"div",             2, 2, "xx",    0,                      0,            graph_shape_binary},
    [GRAPH_OP_POW]         = {"pow",             2, 2, "xx",    0,                      0,            graph_shape_binary},
    [GRAPH_OP_MIN]         = {"min",             2, 2, "xx",    0,                      0,            graph_shape_binary},
    [GRAPH_OP_MAX]         = {"max",             2, 2, "xx",    0,                      0,            graph_shape_binary},
    [GRAPH_OP_PRELU]       = {"prelu",           2, 2, "xx",    0,                      0,            graph_shape_binary},
    [GRAPH_OP_NEG]         = {"neg",             1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_ABS]         = {"abs",             1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_EXP]         = {"exp",             1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_LOG]         = {"log",             1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_SQRT]        = {"sqrt",            1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_ERF]         = {"erf",             1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_HARD_SIGMOID] = {"hard_sigmoid",   1, 1, "x",     GA(ALPHA) | GA(BETA),   0,            graph_shape_same},
    [GRAPH_OP_HARD_SWISH]  = {"hard_swish",      1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_ELU]         = {"elu",             1, 1, "x",     GA(ALPHA),              0,            graph_shape_same},
    [GRAPH_OP_SELU]        = {"selu",            1, 1, "x",     GA(ALPHA) | GA(GAMMA),  0,            graph_shape_same},
    [GRAPH_OP_CLIP]        = {"clip",            1, 1, "x",     GA(MIN) | GA(MAX),      0,            graph_shape_same},
    [GRAPH_OP_SILU]        = {"silu",            1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_GELU]        = {"gelu",            1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_GELU_TANH]   = {"gelu_tanh",       1, 1, "x",     0,                      0,            graph_shape_same},
    [GRAPH_OP_TRANSPOSE]   = {"transpose",       1, 1, "x",     GA(PERM),               GA(PERM),     graph_shape_transpose},
    [GRAPH_OP_LOG_SOFTMAX] = {"log_softmax",     1, 1, "x",     GA(AXIS),               0,            graph_shape_softmax},
    [GRAPH_OP_REDUCE_SUM]  = {"reduce_sum",      1, 1, "x",     GA(AXES) | GA(KEEPDIMS), GA(AXES),    graph_shape_mean},
    [GRAPH_OP_REDUCE_MAX]  = {"reduce_max",      1, 1, "x",     GA(AXES) | GA(KEEPDIMS), GA(AXES),    graph_shape_mean},
    [GRAPH_OP_REDUCE_MIN]  = {"reduce_min",      1, 1, "x",     GA(AXES) | GA(KEEPDIMS), GA(AXES),    graph_shape_mean},
    [GRAPH_OP_REDUCE_L2]   = {"reduce_l2",       1, 1, "x",     GA(AXES) | GA(KEEPDIMS), GA(AXES),    graph_shape_mean},
    [GRAPH_OP_MATMUL]      = {"matmul",          2, 2, "xx",    0,                      0,            graph_shape_matmul},
    [GRAPH_OP_SLICE]       = {"slice",           1, 1, "x",     GA(SHAPE) | GA(STARTS) | GA(STEPS), GA(SHAPE) | GA(STARTS), graph_shape_slice},
    [GRAPH_OP_CAST]        = {"cast",            1, 1, "n",     GA(TO),                 GA(TO),       graph_shape_cast},
    [GRAPH_OP_LAYER_NORM]  = {"layer_norm",      2, 3, "xpp",   GA(AXIS) | GA(EPSILON), 0,            graph_shape_layer_norm},
    [GRAPH_OP_INSTANCE_NORM] = {"instance_norm", 3, 3, "xpp",   GA(EPSILON),            0,            graph_shape_instance_norm},
    [GRAPH_OP_PAD]         = {"pad",             1, 1, "x",     GA(PADS_BEGIN) | GA(PADS_END) | GA(MODE) | GA(VALUE), GA(PADS_BEGIN) | GA(PADS_END), graph_shape_pad},
    [GRAPH_OP_RESIZE]      = {"resize",          1, 1, "x",     GA(SHAPE) | GA(SCALES) | GA(MODE) | GA(COORD) | GA(NEAREST), GA(SHAPE), graph_shape_resize},
    [GRAPH_OP_ARGMAX]      = {"argmax",          1, 1, "x",     GA(AXES) | GA(KEEPDIMS) | GA(SELECT_LAST), GA(AXES), graph_shape_argmax},
    [GRAPH_OP_ARGMIN]      = {"argmin",          1, 1, "x",     GA(AXES) | GA(KEEPDIMS) | GA(SELECT_LAST), GA(AXES), graph_shape_argmax},
    [GRAPH_OP_EMBEDDING_BAG] = {"embedding_bag", 2, 4, "iwnx",  GA(MODE),               0,            graph_shape_embedding_bag},
    [GRAPH_OP_CONV3D]      = {"conv3d",          2, 3, "xwb",   CONV3D_ATTRS,           0,            graph_shape_conv3d},
    [GRAPH_OP_MAX_POOL3D]  = {"max_pool3d",      1, 1, "x",     MAX_POOL3D_ATTRS,       GA(KERNEL),   graph_shape_pool3d},
    [GRAPH_OP_AVG_POOL3D]  = {"avg_pool3d",      1, 1, "x",     AVG_POOL3D_ATTRS,       GA(KERNEL),   graph_shape_pool3d},
};

const struct graph_attr_info graph_attr_table[GRAPH_ATTR_COUNT] = {
#define GRAPH_ATTR_INFO(id, text, kind) [GRAPH_ATTR_##id] = {text, kind},
    GRAPH_ATTR_LIST(GRAPH_ATTR_INFO)
#undef GRAPH_ATTR_INFO
};

const char *graph_op_name(enum graph_op op)
{
    return (unsigned)op < GRAPH_OP_COUNT ? graph_op_table[op].name : "invalid";
}

enum graph_op graph_op_parse(const char *name)
{
    for (int op = 0; op < GRAPH_OP_COUNT; op++)
        if (strcmp(name, graph_op_table[op].name) == 0)
            return (enum graph_op)op;
    return GRAPH_OP_COUNT;
}

const char *graph_activation_name(enum graph_activation act)
{
    switch (act) {
    case GRAPH_ACT_NONE: return "none";
    case GRAPH_ACT_RELU: return "relu";
    case GRAPH_ACT_RELU6: return "relu6";
    case GRAPH_ACT_CLIP: return "clip";
    case GRAPH_ACT_LEAKY_RELU: return "leaky_relu";
    case GRAPH_ACT_SIGMOID: return "sigmoid";
    case GRAPH_ACT_TANH: return "tanh";
    case GRAPH_ACT_HARD_SWISH: return "hard_swish";
    case GRAPH_ACT_SILU: return "silu";
    case GRAPH_ACT_GELU: return "gelu";
    case GRAPH_ACT_COUNT: break;
    }
    return "invalid";
}

const char *graph_mode_name(enum graph_mode mode)
{
    static const char *const names[] = {
#define GRAPH_MODE_NAME(id, name) name,
        GRAPH_MODE_LIST(GRAPH_MODE_NAME)
#undef GRAPH_MODE_NAME
    };
    return (unsigned)mode < GRAPH_MODE_COUNT ? names[mode] : "invalid";
}

const char *graph_coord_name(enum graph_coord coord)
{
    static const char *const names[] = {
#define GRAPH_COORD_NAME(id, name) name,
        GRAPH_COORD_LIST(GRAPH_COORD_NAME)
#undef GRAPH_COORD_NAME
    };
    return (unsigned)coord < GRAPH_COORD_COUNT ? names[coord] : "invalid";
}

const char *graph_round_name(enum graph_round round)
{
    static const char *const names[] = {
#define GRAPH_ROUND_NAME(id, name) name,
        GRAPH_ROUND_LIST(GRAPH_ROUND_NAME)
#undef GRAPH_ROUND_NAME
    };
    return (unsigned)round < GRAPH_ROUND_COUNT ? names[round] : "invalid";
}

const char *graph_attr_enum_name(enum graph_attr_id id, int v)
{
    switch (id) {
    case GRAPH_ATTR_MODE: return v >= 0 && v < GRAPH_MODE_COUNT ? graph_mode_name(v) : NULL;
    case GRAPH_ATTR_COORD: return v >= 0 && v < GRAPH_COORD_COUNT ? graph_coord_name(v) : NULL;
    case GRAPH_ATTR_NEAREST: return v >= 0 && v < GRAPH_ROUND_COUNT ? graph_round_name(v) : NULL;
    default: return NULL;
    }
}

int *graph_attr_enum_slot(enum graph_attr_id id, struct graph_attrs *a)
{
    return id == GRAPH_ATTR_MODE ? &a->mode : id == GRAPH_ATTR_COORD ? &a->coord : &a->nearest;
}

void graph_attrs_default(struct graph_attrs *attrs)
{
    memset(attrs, 0, sizeof *attrs);
    attrs->strides[0] = attrs->strides[1] = attrs->strides[2] = 1;
    attrs->dilations[0] = attrs->dilations[1] = attrs->dilations[2] = 1;
    attrs->groups = 1;
    attrs->activation = GRAPH_ACT_NONE;
    attrs->alpha = 0.01f;
    attrs->axis = -1;
    attrs->epsilon = 1e-5f;
    attrs->keepdims = false;
    attrs->beta = 0.5f;
    attrs->gamma = 1.05070102214813232421875f;
    attrs->min = -FLT_MAX;
    attrs->max = FLT_MAX;
    /* kernel (pools), shape (reshape) and axes (mean) are required: left
     * empty, graph_validate rejects them until a tool sets them. */
}

void graph_attrs_default_op(struct graph_attrs *attrs, enum graph_op op)
{
    graph_attrs_default(attrs);
    if (op == GRAPH_OP_HARD_SIGMOID)
        attrs->alpha = 0.2f;
    else if (op == GRAPH_OP_ELU)
        attrs->alpha = 1.0f;
    else if (op == GRAPH_OP_SELU)
        attrs->alpha = 1.67326319217681884765625f;
    else if (op == GRAPH_OP_RESIZE)
        attrs->mode = GRAPH_MODE_NEAREST; /* ONNX's defaults: half_pixel, round_prefer_floor */
    else if (op == GRAPH_OP_EMBEDDING_BAG)
        attrs->mode = GRAPH_MODE_MEAN; /* PyTorch's default */
}

enum quanta_status graph_node_fail(const struct graph_check *c, const char *fmt, ...)
{
    char msg[QUANTA_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return quanta_fail(c->err, QUANTA_ERR_INPUT, "%s: node '%s' (%s): %s", c->source,
                       c->node->name ? c->node->name : "", graph_op_name(c->node->op), msg);
}

static enum quanta_status check_ints(const struct graph_check *c, const char *attr,
                                     const int *v, int n, int min)
{
    for (int i = 0; i < n; i++)
        if (v[i] < min)
            return graph_node_fail(c, "attr '%s' has %d but every entry must be >= %d", attr,
                                   v[i], min);
    return QUANTA_OK;
}

enum quanta_status graph_check_attrs(const struct graph_check *c)
{
    const struct graph_attrs *a = &c->node->attrs;
    unsigned allowed = graph_op_table[c->node->op].attrs;
    enum quanta_status st = QUANTA_OK;
    const int sp = graph_op_spatial(c->node->op);

    /* the kernel first: a pool's strides default to it */
    for (int i = 0; (allowed & GA(KERNEL)) && i < sp; i++)
        if (a->kernel[i] < 1)
            return graph_node_fail(c, "attr 'kernel' is required and its entries must be >= 1");
    if (allowed & GA(STRIDES))
        st = check_ints(c, "strides", a->strides, sp, 1);
    if (!st && (allowed & GA(PADS)))
        st = check_ints(c, "pads", a->pads, 2 * sp, 0);
    if (!st && (allowed & GA(DILATIONS)))
        st = check_ints(c, "dilations", a->dilations, sp, 1);
    if (!st && (allowed & GA(GROUPS)))
        st = check_ints(c, "groups", &a->groups, 1, 1);
    if (st)
        return st;
    if ((unsigned)a->activation >= GRAPH_ACT_COUNT)
        return graph_node_fail(c, "attr 'activation' must be \"none\", \"relu\" or \"relu6\"");
    /* the in-memory fusions of graph_optimize (graph.h) */
    enum graph_op op = c->node->op;
    bool gemm = op == GRAPH_OP_CONV2D || op == GRAPH_OP_DENSE || op == GRAPH_OP_MATMUL;
    if (a->activation > GRAPH_ACT_RELU6 &&
        !(gemm || (a->activation == GRAPH_ACT_CLIP && (allowed & GA(ACTIVATION)))))
        return graph_node_fail(c, "fused activation '%s' applies only to conv2d, dense and matmul",
                               graph_activation_name(a->activation));
    if (!(allowed & GA(ACTIVATION)) && !(gemm && a->activation > GRAPH_ACT_RELU6) &&
        a->activation != GRAPH_ACT_NONE)
        return graph_node_fail(c, "attr 'activation' applies only to conv2d, conv3d, dense, add "
                                  "and mul");
    if ((allowed & GA(ALPHA)) && !isfinite(a->alpha))
        return graph_node_fail(c, "attr 'alpha' must be a finite number");
    if ((allowed & GA(BETA)) && !isfinite(a->beta))
        return graph_node_fail(c, "attr 'beta' must be a finite number");
    if ((allowed & GA(GAMMA)) && !isfinite(a->gamma))
        return graph_node_fail(c, "attr 'gamma' must be a finite number");
    if ((allowed & GA(MIN)) && !(isfinite(a->min) && isfinite(a->max) && a->min <= a->max))
        return graph_node_fail(c, "attrs 'min' %g and 'max' %g must be finite with min <= max",
                               (double)a->min, (double)a->max);
    if ((allowed & GA(EPSILON)) && !(isfinite(a->epsilon) && a->epsilon >= 0))
        return graph_node_fail(c, "attr 'epsilon' must be a finite number >= 0");
    if (allowed & GA(SHAPE)) {
        if (a->shape.rank < 1 || a->shape.rank > QUANTA_MAX_RANK)
            return graph_node_fail(c, "attr 'shape' is required and must have 1 to %d entries",
                                   QUANTA_MAX_RANK);
        for (int i = 0; i < a->shape.rank; i++) {
            int64_t d = a->shape.dims[i];
            if (d < 1 && !(i == 0 && d == -1))
                return graph_node_fail(c, "attr 'shape' has %lld at index %d; entries must be "
                                          ">= 1 (only the first may be -1)",
                                       (long long)d, i);
        }
    }
    if ((allowed & GA(VALUE)) && !isfinite(a->value))
        return graph_node_fail(c, "attr 'value' must be a finite number");
    if (allowed & GA(MODE)) {
        bool pad = c->node->op == GRAPH_OP_PAD, bag = c->node->op == GRAPH_OP_EMBEDDING_BAG;
        bool ok = pad   ? a->mode <= GRAPH_MODE_EDGE && a->mode >= 0
                  : bag ? a->mode >= GRAPH_MODE_SUM && a->mode <= GRAPH_MODE_MAX
                        : a->mode == GRAPH_MODE_NEAREST || a->mode == GRAPH_MODE_LINEAR;
        if (!ok)
            return graph_node_fail(c, "attr 'mode' must be %s",
                                   pad   ? "\"constant\", \"reflect\" or \"edge\""
                                   : bag ? "\"sum\", \"mean\" or \"max\""
                                         : "\"nearest\" or \"linear\"");
    }
    if ((allowed & GA(COORD)) && (a->coord < 0 || a->coord >= GRAPH_COORD_COUNT))
        return graph_node_fail(c, "attr 'coord' has no valid value");
    if ((allowed & GA(NEAREST)) && (a->nearest < 0 || a->nearest >= GRAPH_ROUND_COUNT))
        return graph_node_fail(c, "attr 'nearest' has no valid value");
    for (int i = 0; (allowed & GA(SCALES)) && i < a->n_scales; i++)
        if (!(isfinite(a->scales[i]) && a->scales[i] >= 0))
            return graph_node_fail(c, "attr 'scales' has %g; scales must be finite and >= 0 "
                                      "(0: output / input extent)",
                                   (double)a->scales[i]);
    if ((allowed & GA(AXES)) && (a->n_axes < 1 || a->n_axes > QUANTA_MAX_RANK))
        return graph_node_fail(c, "attr 'axes' is required and must have 1 to %d entries",
                               QUANTA_MAX_RANK);
    return QUANTA_OK;
}

int graph_op_spatial(enum graph_op op)
{
    return op == GRAPH_OP_CONV3D || op == GRAPH_OP_MAX_POOL3D || op == GRAPH_OP_AVG_POOL3D ? 3 : 2;
}

bool graph_op_is_function(enum graph_op op)
{
    switch (op) {
    case GRAPH_OP_SIGMOID:
    case GRAPH_OP_TANH:
    case GRAPH_OP_NEG:
    case GRAPH_OP_ABS:
    case GRAPH_OP_EXP:
    case GRAPH_OP_LOG:
    case GRAPH_OP_SQRT:
    case GRAPH_OP_ERF:
    case GRAPH_OP_HARD_SIGMOID:
    case GRAPH_OP_HARD_SWISH:
    case GRAPH_OP_ELU:
    case GRAPH_OP_SELU:
    case GRAPH_OP_CLIP:
    case GRAPH_OP_SILU:
    case GRAPH_OP_GELU:
    case GRAPH_OP_GELU_TANH:
        return true;
    default:
        return false;
    }
}

/* The model graph (model-format.md sections 2 and 3): parsed from the
 * "quanta.graph" metadata string, validated, shapes inferred for every
 * value; and written back (graph_save) for tools that build or rewrite
 * models (quantize, dequantize, import).
 *
 * Values are graph inputs, constants (the file's tensors) and node outputs,
 * all referred to by index into graph.values. Shapes of values that depend
 * on the batch have dims[0] == -1. */
#ifndef QUANTA_GRAPH_H
#define QUANTA_GRAPH_H

#include <stdbool.h>
#include <stdint.h>
#include "quanta/data.h"
#include "quanta/dtype.h"
#include "quanta/safetensors.h"
#include "quanta/status.h"

/* X(enum suffix, name in files) */
#define GRAPH_OP_LIST(X)                                                       \
    X(CONV2D, "conv2d")                                                        \
    X(DENSE, "dense")                                                          \
    X(RELU, "relu")                                                            \
    X(RELU6, "relu6")                                                          \
    X(SIGMOID, "sigmoid")                                                      \
    X(TANH, "tanh")                                                            \
    X(LEAKY_RELU, "leaky_relu")                                                \
    X(MAX_POOL2D, "max_pool2d")                                                \
    X(AVG_POOL2D, "avg_pool2d")                                                \
    X(GLOBAL_AVG_POOL, "global_avg_pool")                                      \
    X(FLATTEN, "flatten")                                                      \
    X(RESHAPE, "reshape")                                                      \
    X(ADD, "add")                                                              \
    X(MUL, "mul")                                                              \
    X(CONCAT, "concat")                                                        \
    X(SOFTMAX, "softmax")                                                      \
    X(BATCH_NORM, "batch_norm")                                                \
    X(EMBEDDING, "embedding")                                                  \
    X(MEAN, "mean")                                                            \
    X(QUANTIZE, "quantize")                                                    \
    X(DEQUANTIZE, "dequantize")                                                \
    X(SUB, "sub")                                                              \
    X(DIV, "div")                                                              \
    X(POW, "pow")                                                              \
    X(MIN, "min")                                                              \
    X(MAX, "max")                                                              \
    X(PRELU, "prelu")                                                          \
    X(NEG, "neg")                                                              \
    X(ABS, "abs")                                                              \
    X(EXP, "exp")                                                              \
    X(LOG, "log")                                                              \
    X(SQRT, "sqrt")                                                            \
    X(ERF, "erf")                                                              \
    X(HARD_SIGMOID, "hard_sigmoid")                                            \
    X(HARD_SWISH, "hard_swish")                                                \
    X(ELU, "elu")                                                              \
    X(SELU, "selu")                                                            \
    X(CLIP, "clip")                                                            \
    X(SILU, "silu")                                                            \
    X(GELU, "gelu")                                                            \
    X(GELU_TANH, "gelu_tanh")                                                  \
    X(TRANSPOSE, "transpose")                                                  \
    X(LOG_SOFTMAX, "log_softmax")                                              \
    X(REDUCE_SUM, "reduce_sum")                                                \
    X(REDUCE_MAX, "reduce_max")                                                \
    X(REDUCE_MIN, "reduce_min")                                                \
    X(REDUCE_L2, "reduce_l2")                                                  \
    X(SLICE, "slice")                                                          \
    X(MATMUL, "matmul")                                                        \
    X(CAST, "cast")                                                            \
    X(LAYER_NORM, "layer_norm")                                                \
    X(INSTANCE_NORM, "instance_norm")                                          \
    X(PAD, "pad")                                                              \
    X(RESIZE, "resize")                                                        \
    X(ARGMAX, "argmax")                                                        \
    X(ARGMIN, "argmin")                                                        \
    X(EMBEDDING_BAG, "embedding_bag")                                          \
    X(CONV3D, "conv3d")                                                        \
    X(MAX_POOL3D, "max_pool3d")                                                \
    X(AVG_POOL3D, "avg_pool3d")

enum graph_op {
#define GRAPH_OP_ENUM(id, name) GRAPH_OP_##id,
    GRAPH_OP_LIST(GRAPH_OP_ENUM)
#undef GRAPH_OP_ENUM
    GRAPH_OP_COUNT
};

const char *graph_op_name(enum graph_op op);
/* Returns GRAPH_OP_COUNT for an unknown name. */
enum graph_op graph_op_parse(const char *name);

/* The number of spatial axes of a windowed op's strides, dilations and
 * kernel (pads: twice as many): 3 for conv3d, max_pool3d and avg_pool3d,
 * 2 for every other op. */
int graph_op_spatial(enum graph_op op);

/* Whether op is an element-wise function of its one input, y[i] = f(x[i])
 * (sigmoid, tanh, neg, abs, exp, log, sqrt, erf, hard_sigmoid, hard_swish,
 * elu, selu, clip, silu, gelu, gelu_tanh): int8 runs it as a table. */
bool graph_op_is_function(enum graph_op op);

/* none, relu and relu6 are those of model files; the others only fused in
 * memory by graph_optimize into conv2d, dense and matmul (clip also into
 * add and mul), with the activation's own attrs (alpha; min, max). */
enum graph_activation {
    GRAPH_ACT_NONE, GRAPH_ACT_RELU, GRAPH_ACT_RELU6,
    GRAPH_ACT_CLIP, GRAPH_ACT_LEAKY_RELU, GRAPH_ACT_SIGMOID, GRAPH_ACT_TANH,
    GRAPH_ACT_HARD_SWISH, GRAPH_ACT_SILU, GRAPH_ACT_GELU,
    GRAPH_ACT_COUNT
};
const char *graph_activation_name(enum graph_activation act);

/* String-valued attrs (X(enum suffix, name in files)). mode: pad takes
 * constant, reflect, edge; resize takes nearest, linear; embedding_bag
 * takes sum, mean, max. */
#define GRAPH_MODE_LIST(X)                                                     \
    X(CONSTANT, "constant")                                                    \
    X(REFLECT, "reflect")                                                      \
    X(EDGE, "edge")                                                            \
    X(NEAREST, "nearest")                                                      \
    X(LINEAR, "linear")                                                        \
    X(SUM, "sum")                                                              \
    X(MEAN, "mean")                                                            \
    X(MAX, "max")
/* resize: coordinate_transformation_mode of ONNX Resize */
#define GRAPH_COORD_LIST(X)                                                    \
    X(HALF_PIXEL, "half_pixel")                                                \
    X(ASYMMETRIC, "asymmetric")                                                \
    X(ALIGN_CORNERS, "align_corners")                                          \
    X(PYTORCH_HALF_PIXEL, "pytorch_half_pixel")                                \
    X(TF_HALF_PIXEL_FOR_NN, "tf_half_pixel_for_nn")
/* resize: nearest_mode of ONNX Resize */
#define GRAPH_ROUND_LIST(X)                                                    \
    X(ROUND_PREFER_FLOOR, "round_prefer_floor")                                \
    X(ROUND_PREFER_CEIL, "round_prefer_ceil")                                  \
    X(FLOOR, "floor")                                                          \
    X(CEIL, "ceil")

enum graph_mode {
#define GRAPH_MODE_ENUM(id, name) GRAPH_MODE_##id,
    GRAPH_MODE_LIST(GRAPH_MODE_ENUM)
#undef GRAPH_MODE_ENUM
    GRAPH_MODE_COUNT
};
enum graph_coord {
#define GRAPH_COORD_ENUM(id, name) GRAPH_COORD_##id,
    GRAPH_COORD_LIST(GRAPH_COORD_ENUM)
#undef GRAPH_COORD_ENUM
    GRAPH_COORD_COUNT
};
enum graph_round {
#define GRAPH_ROUND_ENUM(id, name) GRAPH_ROUND_##id,
    GRAPH_ROUND_LIST(GRAPH_ROUND_ENUM)
#undef GRAPH_ROUND_ENUM
    GRAPH_ROUND_COUNT
};
const char *graph_mode_name(enum graph_mode mode);
const char *graph_coord_name(enum graph_coord coord);
const char *graph_round_name(enum graph_round round);

/* Every attr of every op, with the defaults of model-format.md section 3
 * filled in for those a node leaves out. */
struct graph_attrs {
    /* window attrs, one entry per spatial axis (graph_op_spatial: 2 for
     * conv2d and the 2-D pools, 3 for conv3d and the 3-D pools); pads
     * holds every axis's start, then every axis's end */
    int strides[3];                 /* [h, w] or [d, h, w] */
    int pads[6];                    /* [top, left, bottom, right] or
                                       [front, top, left, back, bottom, right] */
    int dilations[3];
    int groups;
    int kernel[3];                  /* pools */
    enum graph_activation activation;
    float alpha;                    /* leaky_relu, hard_sigmoid, elu, selu */
    float beta;                     /* hard_sigmoid */
    float gamma;                    /* selu */
    float min, max;                 /* clip */
    int axis;                       /* concat, softmax, layer_norm; as written (may be negative) */
    float epsilon;                  /* batch_norm, layer_norm, instance_norm */
    struct quanta_shape shape;      /* reshape target, dims[0] may be -1 */
    int n_axes;                     /* mean */
    int axes[QUANTA_MAX_RANK];
    bool keepdims;
    bool select_last;               /* argmax, argmin: the last of equal extremes */
    int n_perm;                     /* transpose */
    int perm[QUANTA_MAX_RANK];
    int n_starts, n_steps;          /* slice: one entry per axis (steps default 1) */
    int64_t starts[QUANTA_MAX_RANK], steps[QUANTA_MAX_RANK];
    enum quanta_dtype to;           /* cast (required) */                      \
    /* pad: elements added before and after x along each axis (negative:
     * removed), mode constant (with value), reflect or edge */
    int n_pads_begin, n_pads_end;
    int64_t pads_begin[QUANTA_MAX_RANK], pads_end[QUANTA_MAX_RANK];
    int mode;                       /* enum graph_mode; pad: constant, resize: nearest,
                                       embedding_bag: mean */
    float value;                    /* pad constant */
    /* resize: output shape (shape), one scale per axis (0: output / input
     * extent), how output coordinates map to input ones, and the rounding
     * of nearest */
    int n_scales;
    float scales[QUANTA_MAX_RANK];
    int coord;                      /* enum graph_coord */
    int nearest;                    /* enum graph_round */
};

/* Quantization parameters of a value (quantized models only).
 * real = scale * (q - zero_point). Per-tensor: n == 1 and scales/zero_points
 * point at scale/zero_point. Per-channel (weights): n == shape.dims[axis].
 * Per-channel scales/zero_points must be the data of CONST values of the
 * graph (F32 [n], I32 [n]): graph_to_json and graph_save find their names
 * that way. graph_validate re-points per-tensor params (axis -1) at
 * scale/zero_point, so tools need only set those two fields. */
struct graph_quant {
    enum quanta_dtype dtype;        /* I8, U8 (activations, weights), I32 (bias); INVALID: float value */
    int axis;                       /* -1: per tensor */
    int n;
    const float *scales;
    const int32_t *zero_points;
    float scale;                    /* storage for the per-tensor case */
    int32_t zero_point;
};

enum graph_value_kind { GRAPH_VALUE_INPUT, GRAPH_VALUE_CONST, GRAPH_VALUE_NODE };

struct graph_value {
    char *name;
    enum graph_value_kind kind;
    enum quanta_dtype dtype;
    struct quanta_shape shape;
    const void *data;               /* CONST: the tensor's bytes (mapping or owned) */
    void *owned;                    /* CONST data owned by the graph (freed with it), else NULL */
    int producer;                   /* NODE: index of the node, else -1 */
    int last_use;                   /* index of the last node reading it, -1 if none */
    struct graph_quant quant;
};

struct graph_node {
    enum graph_op op;
    char *name;
    int n_inputs;
    int *inputs;                    /* value indices; -1 for an omitted optional input */
    int n_outputs;
    int *outputs;
    struct graph_attrs attrs;
};

struct graph_input {
    int value;
    /* The element type the model declares for this input's data
     * (model-format.md section 2): F32, F16, BF16, F64, U8, I8, I16 or BOOL
     * for a value of dtype F32 (the feed converts the data to float), I32
     * or I64 for ids. QUANTA_DTYPE_INVALID: the value's own dtype. */
    enum quanta_dtype data_dtype;
    bool has_normalize;
    struct quanta_normalize normalize; /* mean/std owned by the graph */
};

struct graph {
    char *name;
    struct graph_value *values;
    int n_values;
    struct graph_node *nodes;       /* topological order */
    int n_nodes;
    struct graph_input *inputs;
    int n_inputs;
    int *outputs;                   /* value indices */
    int n_outputs;
};

/* Parses, validates and infers shapes. Constant data points into file's
 * mapping, so file must outlive g. A file without "quanta.graph" metadata
 * fails with QUANTA_ERR_INPUT ("... has no graph"); check with
 * st_meta_find first when a bag of tensors is acceptable. Messages name the
 * file and the node: "model.st: node 'conv1' (conv2d): weight 'w' has
 * shape [3, 3] but [8, 3, 3, 1] is needed". */
enum quanta_status graph_load(struct graph *g, const struct st_file *file, struct quanta_error *err);
/* Same from a JSON string, with tensors looked up in file (file may be NULL
 * when the graph has no constants); source names the origin in messages. */
enum quanta_status graph_parse(struct graph *g, const char *json, const struct st_file *file,
                               const char *source, struct quanta_error *err);
void graph_free(struct graph *g);

/* Re-runs validation and shape inference after a tool edited g. */
enum quanta_status graph_validate(struct graph *g, const char *source, struct quanta_error *err);

int graph_find_value(const struct graph *g, const char *name); /* -1 if absent */

/* The declared element type of graph input i (graph_input.data_dtype, else
 * its value's dtype). */
enum quanta_dtype graph_input_dtype(const struct graph *g, int i);

/* The optional inputs of an embedding_bag node: offsets (integer) and
 * per-sample weights (float), value indices or -1. A node of 3 inputs has
 * one of them, told apart by dtype (files leave omitted inputs out). */
void graph_bag_inputs(const struct graph *g, const struct graph_node *n, int *offsets,
                      int *weights);

/* Shape of value v for a given batch size (dims[0] == -1 replaced). */
struct quanta_shape graph_value_shape(const struct graph *g, int v, int64_t batch);
/* One sample of value v when the graph runs batches of batch samples: v's
 * shape without its first axis, which is the batch (of any size, or fixed
 * at batch). False when v has no such axis: a scalar, or a fixed first size
 * other than batch (a reduction or a concat over it, in a model imported
 * with every size given). */
bool graph_value_sample_shape(const struct graph *g, int v, int64_t batch,
                              struct quanta_shape *sample);

/* Arithmetic operations of one run on batch samples (for quanta bench;
 * see man quanta-bench(1)), from the shapes alone, whatever the dtypes:
 * conv2d 2*N*OH*OW*O*KH*KW*C/groups, conv3d 2*N*OD*OH*OW*O*KD*KH*KW*C/groups
 * and dense 2*N*K*O (a multiply-add is
 * 2 ops; bias and fused activations are not counted); relu, relu6,
 * sigmoid, tanh, leaky_relu, add, mul, softmax, batch_norm and cast 1 per
 * output element; layer_norm and instance_norm 5 per output element;
 * max/avg pools (2-D and 3-D) 1 per output element and window cell; embedding_bag 1
 * per id and column (2 with weights); global_avg_pool and
 * mean 1 per input element; resize linear 2 * 2^k per output element (a
 * multiply-add per corner, k the axes whose extent changes); flatten,
 * reshape, concat, embedding, slice, pad, resize nearest, quantize and
 * dequantize 0 (data movement). graph_node_ops
 * counts node index node alone. */
double graph_ops_count(const struct graph *g, int64_t batch);
double graph_node_ops(const struct graph *g, int node, int64_t batch);

/* The graph as the JSON string stored in "quanta.graph" (caller frees).
 * Deterministic: same graph, same bytes. */
char *graph_to_json(const struct graph *g);

/* Writes g as a model file: every CONST value that some node uses becomes a
 * tensor (in graph order of first use), the graph goes to
 * __metadata__["quanta.graph"], and extra metadata follows (pass the
 * source's keys to keep unknown ones; "quanta.graph" among them is
 * replaced). Through a temporary file, renamed into place. */
enum quanta_status graph_save(const struct graph *g, const char *path,
                              const struct st_meta *extra_meta, size_t n_extra,
                              struct quanta_error *err);

/* The axes a resize node changes (resized[d]): those whose output extent
 * differs from the input's or whose given scale is not 1; the others read
 * index o for output index o. Returns how many. */
int graph_resize_axes(const struct graph *g, const struct graph_node *n, bool *resized);

/* ---- building and editing (for quantize, import) ---- */

/* Appends a value; name is copied. Returns its index or -1 on allocation failure. */
int graph_add_value(struct graph *g, const char *name, enum graph_value_kind kind,
                    enum quanta_dtype dtype, const struct quanta_shape *shape);
/* Appends a node (name copied, inputs/outputs copied) with default attrs
 * for op; returns its index or -1. */
int graph_add_node(struct graph *g, enum graph_op op, const char *name, const int *inputs,
                   int n_inputs, const int *outputs, int n_outputs);
/* The defaults of model-format.md section 3. */
void graph_attrs_default(struct graph_attrs *attrs);
/* The defaults of op: graph_attrs_default with the op's own alpha
 * (hard_sigmoid 0.2, elu 1, selu 1.6732632). */
void graph_attrs_default_op(struct graph_attrs *attrs, enum graph_op op);

/* Fuses the element-wise patterns exporters spell out into quanta's one
 * operator for them (x/2 * (1 + erf(x/sqrt 2)) into gelu) and drops the
 * nodes and values left unused. Before graph_validate. Returns the number
 * of fusions, -1 on allocation failure. */
int graph_fuse_elementwise(struct graph *g);

/* ---- a model file: the container and its graph ---- */

struct model {
    struct st_file file;
    struct graph graph;
    bool has_graph;                 /* false: a bag of tensors */
};

/* Opens path and, when it has "quanta.graph", loads the graph. */
enum quanta_status model_open(struct model *m, const char *path, struct quanta_error *err);
void model_close(struct model *m);

/* True when the model's 4-D image data comes NCHW: a model imported from
 * ONNX records "quanta.import.layout": "nchw" in its metadata. */
bool model_data_nchw(const struct model *m);

#endif

/* Internal to src/graph: the per-op table (inputs, attrs, shape rule), the
 * attr list, and helpers shared by the parser, validator and writer. */
#ifndef QUANTA_GRAPH_INTERNAL_H
#define QUANTA_GRAPH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "quanta/graph.h"

/* Attrs of model-format.md section 3: X(enum suffix, name in files, kind). */
#define GRAPH_ATTR_LIST(X)                                                     \
    X(STRIDES, "strides", ATTR_KIND_INT2)                                      \
    X(PADS, "pads", ATTR_KIND_INT4)                                            \
    X(DILATIONS, "dilations", ATTR_KIND_INT2)                                  \
    X(GROUPS, "groups", ATTR_KIND_INT)                                         \
    X(KERNEL, "kernel", ATTR_KIND_INT2)                                        \
    X(ACTIVATION, "activation", ATTR_KIND_ACTIVATION)                          \
    X(ALPHA, "alpha", ATTR_KIND_FLOAT)                                         \
    X(AXIS, "axis", ATTR_KIND_INT)                                             \
    X(EPSILON, "epsilon", ATTR_KIND_FLOAT)                                     \
    X(SHAPE, "shape", ATTR_KIND_INT_LIST)                                      \
    X(AXES, "axes", ATTR_KIND_INT_LIST)                                        \
    X(KEEPDIMS, "keepdims", ATTR_KIND_BOOL)                                    \
    X(BETA, "beta", ATTR_KIND_FLOAT)                                           \
    X(GAMMA, "gamma", ATTR_KIND_FLOAT)                                         \
    X(MIN, "min", ATTR_KIND_FLOAT)                                             \
    X(MAX, "max", ATTR_KIND_FLOAT)                                             \
    X(PERM, "perm", ATTR_KIND_INT_LIST)                                        \
    X(STARTS, "starts", ATTR_KIND_INT_LIST)                                    \
    X(STEPS, "steps", ATTR_KIND_INT_LIST)                                      \
    X(TO, "to", ATTR_KIND_DTYPE)                                               \
    X(PADS_BEGIN, "pads_begin", ATTR_KIND_INT_LIST)                            \
    X(PADS_END, "pads_end", ATTR_KIND_INT_LIST)                                \
    X(MODE, "mode", ATTR_KIND_ENUM)                                            \
    X(VALUE, "value", ATTR_KIND_FLOAT)                                         \
    X(SCALES, "scales", ATTR_KIND_FLOAT_LIST)                                  \
    X(COORD, "coord", ATTR_KIND_ENUM)                                          \
    X(NEAREST, "nearest", ATTR_KIND_ENUM)                                      \
    X(SELECT_LAST, "select_last", ATTR_KIND_BOOL)

enum graph_attr_kind {
    ATTR_KIND_INT,        /* JSON integer */
    ATTR_KIND_INT2,       /* list of exactly 2 integers */
    ATTR_KIND_INT4,       /* list of exactly 4 integers */
    ATTR_KIND_INT_LIST,   /* list of 1 .. QUANTA_MAX_RANK integers */
    ATTR_KIND_FLOAT,      /* JSON number */
    ATTR_KIND_BOOL,       /* true / false */
    ATTR_KIND_ACTIVATION, /* "none", "relu", "relu6" */
    ATTR_KIND_DTYPE,      /* a dtype name: "F16", "I8", ... */                 \
    ATTR_KIND_FLOAT_LIST, /* list of 1 .. QUANTA_MAX_RANK numbers */
    ATTR_KIND_ENUM,       /* one of the strings of graph_attr_enum_name */
};

enum graph_attr_id {
#define GRAPH_ATTR_ENUM(id, name, kind) GRAPH_ATTR_##id,
    GRAPH_ATTR_LIST(GRAPH_ATTR_ENUM)
#undef GRAPH_ATTR_ENUM
    GRAPH_ATTR_COUNT
};

#define GA(id) (1u << GRAPH_ATTR_##id)

struct graph_attr_info {
    const char *name;
    enum graph_attr_kind kind;
};
extern const struct graph_attr_info graph_attr_table[GRAPH_ATTR_COUNT];

/* Name of value v of an ATTR_KIND_ENUM attr (mode, coord, nearest), NULL
 * past the last; and the slot of a that holds it. */
const char *graph_attr_enum_name(enum graph_attr_id id, int v);
int *graph_attr_enum_slot(enum graph_attr_id id, struct graph_attrs *a);

/* What a shape rule sees: the node and its input values (in[i] NULL for an
 * omitted optional input). It returns the output shape in *out or fails
 * with a message naming source and node. */
struct graph_check {
    const struct graph *g;
    const struct graph_node *node;
    const struct graph_value **in; /* n_in entries */
    int n_in;
    const struct graph_value *out;
    const char *source;
    struct quanta_error *err;
};
typedef enum quanta_status (*graph_shape_fn)(const struct graph_check *c,
                                             struct quanta_shape *out);

/* Input roles, one letter per input position (the last letter repeats for
 * variadic ops):
 *   x  activation: float (F32, F16, BF16) or quantized (I8, U8 with quant)
 *   w  weight tensor of the file: float, or I8/U8 with quant
 *   b  bias tensor of the file: float, or I32 with quant
 *   p  float parameter tensor of the file (batch_norm)
 *   i  integer ids: I32 or I64
 *   n  an activation or integer ids (cast; embedding_bag's offsets or
 *      per-sample weights) */
struct graph_op_info {
    const char *name;
    int min_inputs, max_inputs; /* max_inputs 0: any number */
    const char *roles;
    unsigned attrs;             /* GA() bits of the attrs the op accepts */
    unsigned required;          /* GA() bits that must be given in a file */
    graph_shape_fn shape;
};
extern const struct graph_op_info graph_op_table[GRAPH_OP_COUNT];

/* Shape rules (graph_shapes.c). */
enum quanta_status graph_shape_conv2d(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_dense(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_same(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_pool(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_conv3d(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_pool3d(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_global_pool(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_flatten(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_reshape(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_binary(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_concat(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_softmax(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_batch_norm(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_embedding(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_embedding_bag(const struct graph_check *c,
                                             struct quanta_shape *out);
enum quanta_status graph_shape_mean(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_argmax(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_transpose(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_cast(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_layer_norm(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_instance_norm(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_slice(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_pad(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_resize(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_matmul(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_quantize(const struct graph_check *c, struct quanta_shape *out);
enum quanta_status graph_shape_dequantize(const struct graph_check *c, struct quanta_shape *out);

/* Fails with "<source>: node '<name>' (<op>): <message>". */
enum quanta_status graph_node_fail(const struct graph_check *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Checks attr values of node (ranges, activation only where allowed). */
enum quanta_status graph_check_attrs(const struct graph_check *c);

/* Index of the CONST value whose data is ptr, -1 if none (per-channel
 * quant parameters are the data of tensors of the graph). */
int graph_find_const_data(const struct graph *g, const void *ptr);

/* Points per-tensor quant params (axis -1) at their own scale/zero_point
 * fields again (after the values array moved). */
void graph_fix_quant_pointers(struct graph *g);

/* used[v] = true for every CONST value graph_save writes: read by a node,
 * named as a graph output, or holding per-channel params of such a value.
 * order (n_values entries) receives their indices in order of first use;
 * returns how many. */
int graph_saved_consts(const struct graph *g, bool *used, int *order);

/* Editing helpers (graph_passes.c). The node reading value v, when
 * exactly one node does and v is no graph output, else -1; the node
 * writing v, else -1 (both scan the node list, not the cached fields). */
int graph_sole_reader(const struct graph *g, int v);
int graph_producer(const struct graph *g, int v);
/* Drops the nodes marked dead and every value no longer used (neither a
 * graph input or output nor read or written by a kept node), keeping the
 * order of the rest; 0, or -1 on allocation failure. */
int graph_remove_nodes(struct graph *g, const bool *dead);

/* A deep copy of src (names, nodes, inputs' normalize, owned constants);
 * data of constants src does not own stays shared (graph_build.c). */
enum quanta_status graph_copy(struct graph *out, const struct graph *src,
                              struct quanta_error *err);

/* Zero-point range of a quantized dtype. */
bool graph_quant_dtype_range(enum quanta_dtype dtype, int64_t *lo, int64_t *hi);

#endif

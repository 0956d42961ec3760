/* Internal to src/import: the state of an ONNX -> quanta conversion, shared
 * by the driver (onnx_convert.c, with onnx_graph_io.c and onnx_layout.c),
 * the operator converters (onnx_ops.c and the files it lists, onnx_ops.h)
 * and constant folding (onnx_fold.c).
 *
 * Every ONNX value name maps to a cv_value: a constant (an initializer or
 * a folded result, ONNX layout, F32 or I64), or an activation held by a
 * quanta graph value whose memory is the ONNX tensor with its axes
 * permuted (perm), so that NCHW tensors are stored NHWC and a Transpose
 * costs nothing. */
#ifndef QUANTA_IMPORT_ONNX_CONVERT_H
#define QUANTA_IMPORT_ONNX_CONVERT_H

#include <stdbool.h>
#include "import/onnx_model.h"
#include "quanta/graph.h"
#include "quanta/onnx_import.h"

/* In I64 constants made by Shape: "the batch size", unknown until run.
 * k times the batch size (a Reshape target that merges the batch with
 * other axes, k < 2^40) is CV_BATCH + k - 1. */
#define CV_BATCH INT64_MIN
#define CV_BATCH_MAX_K ((int64_t)1 << 40)
static inline int64_t cv_batch_times(int64_t k)
{
    return CV_BATCH + (k - 1);
}
/* True (and *k) when v stands for k times the batch size. */
static inline bool cv_batch_k(int64_t v, int64_t *k)
{
    if (v < CV_BATCH || v >= CV_BATCH + CV_BATCH_MAX_K)
        return false;
    *k = v - CV_BATCH + 1;
    return true;
}

enum cv_kind { CV_CONST, CV_ACT };

struct cv_value {
    char *name;                     /* the ONNX name */
    enum cv_kind kind;
    /* CONST */
    const struct onnx_tensor *c;
    struct onnx_tensor *owned;      /* c when the conversion made it */
    /* c (dim 0 of size 1) stands for itself repeated over the batch: an
     * Expand of a constant to a shape from Shape, such as a class token
     * expanded to [N, 1, D]. Concat and the binary operators take it as a
     * constant operand (NumPy broadcasting gives the same result); Shape
     * gives the batch size for dim 0; nothing else folds it. */
    bool batch_bcast;
    /* ACT */
    int q;                          /* quanta value */
    struct quanta_shape shape;      /* ONNX shape; dims[0] -1: any batch */
    int perm[QUANTA_MAX_RANK];      /* physical axis i holds ONNX axis perm[i]; perm[0] is
                                       the batch's axis (0 unless a Transpose moved it) */
    /* Grouped (n_onnx > 0): an ONNX tensor of rank n_onnx whose axis a is
     * group[a] consecutive axes of shape (a Reshape that merged the batch
     * with other axes, as attention's [L, N * H, D / H] from [L, N, D]);
     * shape and perm then describe those finer axes. */
    int n_onnx;
    int group[QUANTA_MAX_RANK];
    /* A rank-2 activation made by flattening a tensor whose layout is not
     * ONNX order: its columns are in the physical order of flat_shape
     * permuted by flat_perm, not in ONNX (row-major) order. */
    bool flat;
    struct quanta_shape flat_shape;
    int flat_perm[QUANTA_MAX_RANK];
    /* ONNX element type of an activation (enum onnx_data_type; 0 for
     * FLOAT). quanta holds every one but int64 ids as float: integer types
     * restrict the operators that may read it to those exact on integers. */
    int elem;
    /* Zero padding [top, left, bottom, right] of a Pad whose one reader is
     * a Conv (or a MaxPool of a value never negative): q holds the
     * unpadded tensor (shape, perm alike) and the reader adds these to its
     * own pads. */
    bool fold_pad;
    int fold_pads[4];
    int uses;                       /* ONNX readers still to be converted */
    bool is_output;                 /* a graph output */
};

/* A Loop recognised as nn.EmbeddingBag (onnx_bag.c): ONNX names. */
struct cv_bag {
    const char *ids;                /* NULL: not a bag */
    const char *offsets;            /* NULL: fixed bags, ids [N, T] */
    const char *weights;            /* per-sample weights, or NULL */
    const char *table;
    int mode;                       /* enum graph_mode */
};

struct cv {
    const struct onnx_model *m;
    const struct onnx_import_options *opt;
    struct graph *g;
    const char *source;
    struct quanta_error *err;
    struct cv_value *vals;
    int n_vals, cap_vals;
    /* the node being converted */
    const struct onnx_node *node;
    int node_index;
    char node_name[256];            /* its quanta name (unique) */
    bool *skip;                     /* per ONNX node: converted as part of a fusion */
    struct cv_bag *bags;            /* per ONNX node, or NULL when no Loop is a bag */
    bool probe;                     /* see cv_convert_node */
};

/* The value named name (NULL, QUANTA_OK when no such value yet). */
enum quanta_status cv_lookup(struct cv *cv, const char *name, struct cv_value **out);
/* The same, NULL when there is none. */
struct cv_value *cv_find(struct cv *cv, const char *name);
/* A new (zeroed) value named name, its readers counted; defining a name
 * twice fails. */
enum quanta_status cv_table_add(struct cv *cv, const char *name, struct cv_value **out);

/* Fails with "<source>: node '<name>' (<op_type>): <message>". */
enum quanta_status cv_fail(struct cv *cv, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
enum quanta_status cv_nomem(struct cv *cv);

/* The node's input k: NULL (and QUANTA_OK) when omitted or empty. */
enum quanta_status cv_input(struct cv *cv, int k, struct cv_value **out);
/* Input k that must be present / constant / an activation. */
enum quanta_status cv_need(struct cv *cv, int k, struct cv_value **out);
enum quanta_status cv_need_const(struct cv *cv, int k, const char *what,
                                 const struct onnx_tensor **out);
enum quanta_status cv_need_act(struct cv *cv, int k, struct cv_value **out);

/* Defines the node's output k as a constant (takes t) or as an activation
 * (a copy of proto with name and uses set). */
enum quanta_status cv_def_const(struct cv *cv, int k, struct onnx_tensor *t);
enum quanta_status cv_def_act(struct cv *cv, int k, const struct cv_value *proto);
/* A constant marked batch_bcast (t's dim 0 is 1). */
enum quanta_status cv_def_batch_bcast(struct cv *cv, int k, struct onnx_tensor *t);

/* Attributes. The getters return def when absent; a wrong type fails. */
enum quanta_status cv_attr_int(struct cv *cv, const char *name, int64_t def, int64_t *out);
enum quanta_status cv_attr_float(struct cv *cv, const char *name, float def, float *out);
/* ints: *n = -1 when absent. */
enum quanta_status cv_attr_ints(struct cv *cv, const char *name, const int64_t **v, int *n);
enum quanta_status cv_attr_string(struct cv *cv, const char *name, const char *def,
                                  const char **out);
/* Refuses attributes not in the NULL-terminated list. */
enum quanta_status cv_check_attrs(struct cv *cv, const char *const *allowed);
/* Add, Sub, Mul, Div before opset 7 carry broadcast and axis: broadcast
 * alone means what numpy broadcasting does (the second shape a suffix of
 * the first); axis (aligning the second operand elsewhere) is refused.
 * From opset 7 they have no attribute. */
enum quanta_status cv_check_binary_attrs(struct cv *cv);

/* ---- layout ---- */

void cv_perm_identity(int rank, int *perm);
void cv_perm_nhwc(int *perm); /* {0, 2, 3, 1} */
struct quanta_shape cv_phys_shape(const struct quanta_shape *shape, const int *perm);
/* Same memory order: the axes of size != 1 come in the same order. */
bool cv_layout_equiv(const struct quanta_shape *shape, const int *a, const int *b);
/* Physical axis holding ONNX axis a. */
int cv_phys_axis(const int *perm, int rank, int a);
/* A quanta value holding v with layout perm and exactly the physical
 * shape: v itself, a reshape when only size-1 axes differ, else a
 * transpose node (which cannot move a batch axis of any size). */
enum quanta_status cv_materialize(struct cv *cv, const struct cv_value *v, const int *perm,
                                  int *q);

/* The batch's axis of v's shape (-1 if none); whether v is plain: not
 * grouped, batch (if any) on axis 0. */
int cv_batch_axis(const struct cv_value *v);
bool cv_plain(const struct cv_value *v);
/* v's ONNX rank, and the first axis of shape holding ONNX axis a. */
int cv_onnx_rank(const struct cv_value *v);
int cv_first_axis(const struct cv_value *v, int a);
/* The layout with the batch's axis first, the others in order. */
void cv_perm_canonical(const struct cv_value *v, int *perm);
/* Merges the axes of every group that does not hold the batch (a reshape,
 * after a transpose when they are not stored together in order); on a
 * local copy. */
enum quanta_status cv_merge_groups(struct cv *cv, struct cv_value *v);

/* ---- building the quanta graph ---- */

/* A new quanta node value named name (made unique), shape given. */
int cv_new_value(struct cv *cv, const char *name, const struct quanta_shape *shape);
/* A F32 constant (data copied) named after base (made unique). */
int cv_const_value(struct cv *cv, const char *base, const float *data,
                   const struct quanta_shape *shape);
/* Adds a node named after the ONNX node (suffix appended when not NULL). */
int cv_add_node(struct cv *cv, enum graph_op op, const char *suffix, const int *inputs,
                int n_inputs, int output);
/* Turns node into op (same inputs and output), named after the node being
 * converted and its output, for fusions that absorb it (x * sigmoid(x)). */
enum quanta_status cv_retag_node(struct cv *cv, int node, enum graph_op op);
/* The quanta node that produces value q, -1 for inputs and constants. */
int cv_producer(struct cv *cv, int q);
/* True when the only reader of quanta value q still to come is the node
 * being converted (no quanta node reads it, it is no graph output). */
bool cv_sole_reader(struct cv *cv, int q);
/* base, else base_2, base_3, ... (buf holds the result): a name no node
 * (node true) or no value of g has yet. */
void cv_unique_name(const struct graph *g, bool node, const char *base, char *buf,
                    size_t size);

/* ---- the graph's inputs and outputs (onnx_graph_io.c) ---- */

/* The graph inputs that are not initializers (shapes from the model or
 * --input-shape, --normalize applied), their shapes as text in
 * info->input_shapes. */
enum quanta_status cv_add_inputs(struct cv *cv, struct onnx_import_info *info);
/* The initializers not already defined as inputs, as constants. */
enum quanta_status cv_add_initializers(struct cv *cv);
/* The graph outputs, named as in ONNX, in ONNX order but 4-D ones NHWC
 * (info->output_nhwc). */
enum quanta_status cv_add_outputs(struct cv *cv, struct onnx_import_info *info);

/* ---- operators (onnx_ops.c) and folding (onnx_fold.c) ---- */

enum quanta_status cv_convert_node(struct cv *cv);
/* With cv->probe set, cv_convert_node only says whether it converts the
 * node's op type (QUANTA_OK) or not (QUANTA_ERR_INPUT, no message). */
/* Folds the node when every input is constant (or it only needs shapes):
 * *done true when it did. */
enum quanta_status cv_fold_node(struct cv *cv, bool *done);

/* Finds the Loops that are nn.EmbeddingBag (cv->bags) and marks the nodes
 * only they needed as skipped; cv_convert_bag converts such a Loop. */
enum quanta_status cv_find_bags(struct cv *cv);
enum quanta_status cv_convert_bag(struct cv *cv);

/* Tensors. */
struct onnx_tensor *cv_tensor_new(enum quanta_dtype dtype, const struct quanta_shape *shape);
void cv_tensor_free(struct onnx_tensor *t);
/* Element k as double / int64 (either dtype). */
double cv_tensor_f(const struct onnx_tensor *t, int64_t k);
int64_t cv_tensor_i(const struct onnx_tensor *t, int64_t k);

#endif

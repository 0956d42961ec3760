/* Internal to src/import: what the ONNX operator converters share. Each
 * converter turns the node being converted (cv->node) into quanta nodes
 * and defines its outputs; onnx_ops.c maps op types to them
 * (cv_convert_node), each family has its own file (onnx_conv.c,
 * onnx_elementwise.c, ...). */
#ifndef QUANTA_IMPORT_ONNX_OPS_H
#define QUANTA_IMPORT_ONNX_OPS_H

#include "import/onnx_convert.h"

/* The largest kernel, stride, dilation or pad accepted. */
#define CV_MAX_WINDOW (1 << 20)

/* ---- helpers (onnx_ops.c) ---- */

bool cv_op_is(const struct cv *cv, const char *name);
/* Outputs after the first must be unused (Dropout mask, MaxPool indices,
 * BatchNormalization training statistics). */
enum quanta_status cv_only_first_output(struct cv *cv);
/* Fails unless t is float; what names it in the message. */
enum quanta_status cv_need_f32(struct cv *cv, const struct onnx_tensor *t, const char *what);
/* Reorders vec (rows rows of k values, one per ONNX column of the flat
 * activation x) into x's physical column order. */
enum quanta_status cv_permute_columns(struct cv *cv, const struct cv_value *x, float *vec,
                                      int64_t rows, int64_t k);
/* Defines the node's output 0 as proto. */
enum quanta_status cv_def_new(struct cv *cv, const struct cv_value *proto);
/* A quanta node of op reading inputs, with an output of quanta shape
 * shape named after the ONNX output; *node_out its index. */
enum quanta_status cv_emit(struct cv *cv, enum graph_op op, const int *inputs, int n_inputs,
                           const struct quanta_shape *shape, int *q_out, int *node_out);
/* Whether the node's first input is produced by relu or relu6, standalone
 * or fused. */
bool cv_input_nonnegative(struct cv *cv);
/* Constant c as a quanta constant laid out like activation x: c's shape
 * aligned at the last axis against x's rank (leading 1s), its axes in x's
 * physical order. -1 with the node failed when c does not broadcast to x
 * (axis free: any size there, for concat; -1 for none). */
int cv_const_like_axis(struct cv *cv, const struct cv_value *x, const struct onnx_tensor *c,
                       int free_axis, struct quanta_shape *onnx_shape);
/* x itself, or, when x is a flattened NCHW tensor (columns in NHWC
 * order), *plain: the same tensor materialized in ONNX column order, for
 * the operators that address its columns. */
enum quanta_status cv_unflat(struct cv *cv, struct cv_value **x, struct cv_value *plain);
/* The axes of Squeeze, Unsqueeze and the reductions: attribute "axes"
 * before since_opset, else the constant input 1; *n -1 when absent. */
enum quanta_status cv_get_axes(struct cv *cv, int since_opset, int64_t *axes, int *n);
/* Layout after dropping the axes marked in drop (their size is 1, or they
 * were reduced). */
void cv_drop_axes(const struct cv_value *x, const bool *drop, struct cv_value *out);

/* ---- windows (onnx_window.c) ---- */

/* 1-D and 2-D operators use the first 2 entries of each array (pads: 4,
 * [top, left, bottom, right]); 3-D ones all 3 (pads: [front, top, left,
 * back, bottom, right]). */
struct cv_window {
    int kernel[3], strides[3], dilations[3], pads[6];
    int64_t out[3];
};

/* A window attribute of a 1-D (spatial == 1), 2-D or 3-D operator into
 * out[2] (3-D: out[3]; for "pads", twice as many, starts then ends:
 * [top, left, bottom, right]), def in every entry
 * when absent, each given entry in [lo, hi]. 1-D runs as 2-D of height 1:
 * its axis is the second; the first, trivial (size 1), gets def when the
 * attribute is absent and trivial when given (a stride or kernel of 1, no
 * pad or output padding, an output_shape of 1; kernel_shape's absent 0
 * stays absent). */
enum quanta_status cv_window_ints(struct cv *cv, const char *name, int spatial, int def,
                                  int trivial, int lo, int hi, int *out);
/* Strides, pads from auto_pad / pads and the output size of w (kernel
 * and dilations set), for input in[2] (3-D: in[3]). */
enum quanta_status cv_window_setup(struct cv *cv, const int64_t *in, int spatial,
                                   struct cv_window *w);
/* ---- 3-D windows (onnx_window3d.c) ----
 * x [N, C, D, H, W]; the rest as the 2-D operator reads it. */
enum quanta_status cv_conv3d(struct cv *cv, struct cv_value *x, const struct onnx_tensor *w,
                             const struct onnx_tensor *b, int64_t group);
enum quanta_status cv_pool3d(struct cv *cv, struct cv_value *x, bool max, bool ceil_mode,
                             bool include_pad);

/* x [N, C, L] as a physical [N, 1, L, C] value *q4. */
enum quanta_status cv_window_input_2d(struct cv *cv, struct cv_value *x, int *q4);
/* The node's 2-D operator op on q4, giving [N, 1, L', C'] (out_l, out_c),
 * then the node's output [N, C', L'] from it; *node: the operator's node,
 * for its attributes. */
enum quanta_status cv_window_emit_1d(struct cv *cv, const struct cv_value *x,
                                     enum graph_op op, const int *ins, int n_ins,
                                     int64_t out_l, int64_t out_c, int *node);

/* ---- converters, by family ---- */

/* onnx_conv.c */
enum quanta_status cv_op_conv(struct cv *cv);
enum quanta_status cv_op_conv_transpose(struct cv *cv);
/* onnx_pool.c */
enum quanta_status cv_op_pool(struct cv *cv);               /* MaxPool, AveragePool */
enum quanta_status cv_op_global_avg_pool(struct cv *cv);
/* onnx_matmul.c */
enum quanta_status cv_op_gemm(struct cv *cv);
enum quanta_status cv_op_matmul(struct cv *cv);
/* onnx_elementwise.c */
enum quanta_status cv_op_simple(struct cv *cv);             /* Relu, Sigmoid, Tanh */
enum quanta_status cv_op_leaky_relu(struct cv *cv);
enum quanta_status cv_op_math(struct cv *cv);               /* Neg, Exp, Erf, Elu, ... */
enum quanta_status cv_op_clip(struct cv *cv);
enum quanta_status cv_op_binary(struct cv *cv);             /* Add, Mul, Max, PRelu, ... */
enum quanta_status cv_op_cast(struct cv *cv);               /* Cast, CastLike */
/* onnx_shape.c */
enum quanta_status cv_op_flatten(struct cv *cv);
enum quanta_status cv_op_reshape(struct cv *cv);
enum quanta_status cv_op_transpose(struct cv *cv);
enum quanta_status cv_op_squeeze(struct cv *cv);
enum quanta_status cv_op_unsqueeze(struct cv *cv);
enum quanta_status cv_op_concat(struct cv *cv);
enum quanta_status cv_op_identity(struct cv *cv);           /* Identity, Dropout */
/* onnx_slice.c */
enum quanta_status cv_op_slice(struct cv *cv);
enum quanta_status cv_op_gather(struct cv *cv);
enum quanta_status cv_op_split(struct cv *cv);
/* onnx_pad.c, onnx_resize.c */
enum quanta_status cv_op_pad(struct cv *cv);
enum quanta_status cv_op_resize(struct cv *cv);             /* Resize, Upsample */
/* onnx_reduce.c */
enum quanta_status cv_op_softmax(struct cv *cv);            /* Softmax, LogSoftmax */
enum quanta_status cv_op_reduce(struct cv *cv);             /* ReduceSum, ..., ArgMin */
/* onnx_norm.c */
enum quanta_status cv_op_reduce_mean(struct cv *cv);        /* a LayerNorm, else cv_op_reduce */
enum quanta_status cv_op_batch_norm(struct cv *cv);
enum quanta_status cv_op_layer_norm(struct cv *cv);
enum quanta_status cv_op_instance_norm(struct cv *cv);

#endif

/* Float kernels: one signature per family, one table of function pointers
 * chosen once per process.
 *
 * Conventions for every f32 kernel:
 * - Raw pointers to caller-owned, non-overlapping buffers (no kernel runs in
 *   place unless its comment says so); kernels never allocate, never fail
 *   (except embedding, which reports a bad id) and never print.
 * - Activations are row-major. 4-D activations are NHWC:
 *   [batch, height, width, channels].
 * - Sizes are element counts (not bytes); all sizes are >= 1 unless stated.
 * - A fused activation is a clamp of the result to [out_min, out_max]:
 *   "none" is [-INFINITY, INFINITY], relu [0, INFINITY], relu6 [0, 6].
 *   NaN passes through a clamp unchanged.
 *
 * Function names: <family>__<level>, e.g. f32_conv2d__ref in
 * src/kernels/ref/f32_conv2d_ref.c. Later levels (f32_conv2d__avx2 in
 * src/kernels/x86/f32_conv2d_avx2.c) must give the same results as ref up
 * to float rounding of reordered sums, and are tested against it.
 *
 * The int8 families (q8_*) live in src/kernels/kernels_q8.h and share the
 * level choice made here (kernels_init / kernels_select / kernels_level). */
#ifndef QUANTA_KERNELS_H
#define QUANTA_KERNELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "quanta/status.h"

/* ---- conv2d ----
 * x [batch, in_h, in_w, in_c]; w [out_c, kernel_h, kernel_w, in_c / groups];
 * b [out_c] or NULL (zero bias); y [batch, out_h, out_w, out_c].
 * y[n,oy,ox,o] = clamp(b[o] + sum_{ky,kx,ci} x[n, iy, ix, g*cg + ci] * w[o,ky,kx,ci])
 * with cg = in_c / groups, g = o / (out_c / groups),
 * iy = oy*stride_h - pad_top + ky*dilation_h (likewise ix); cells outside
 * the input are zero. out_h/out_w are given (the bottom/right padding is
 * implied by them). in_c and out_c are multiples of groups; depthwise is
 * groups == in_c with out_c == in_c * m.
 * residual: NULL, or a tensor laid out as y whose element starts the sum
 * with the bias: y = clamp(b[o] + residual[n,oy,ox,o] + sum ...), the
 * residual add fused into the conv (graph_optimize.h); it never aliases y. */
struct f32_conv2d_params {
    size_t batch;
    size_t in_h, in_w, in_c;
    size_t out_h, out_w, out_c;
    size_t kernel_h, kernel_w;
    size_t stride_h, stride_w;     /* >= 1 */
    size_t dilation_h, dilation_w; /* >= 1 */
    size_t pad_top, pad_left;
    size_t groups;                 /* >= 1 */
    float out_min, out_max;
    const float *residual;         /* [batch, out_h, out_w, out_c] or NULL */
};
typedef void (*f32_conv2d_fn)(const struct f32_conv2d_params *p, const float *x,
                              const float *w, const float *b, float *y);

/* ---- dense ----
 * x [batch, in_k]; w [out_n, in_k]; b [out_n] or NULL; y [batch, out_n].
 * y[n,o] = clamp(b[o] + sum_k x[n,k] * w[o,k]); with residual (as in
 * conv2d, [batch, out_n]): clamp(b[o] + residual[n,o] + sum ...). */
struct f32_dense_params {
    size_t batch;
    size_t in_k;
    size_t out_n;
    float out_min, out_max;
    const float *residual;
};
typedef void (*f32_dense_fn)(const struct f32_dense_params *p, const float *x, const float *w,
                             const float *b, float *y);

/* ---- pool2d (max and average share this signature) ----
 * x [batch, in_h, in_w, channels]; y [batch, out_h, out_w, channels].
 * Window of output (oy, ox): rows oy*stride_h - pad_top + [0, kernel_h),
 * likewise columns. Only cells inside the input count: max takes their
 * maximum, avg divides their sum by their number (padding not counted).
 * A window with no cell inside the input gives 0 for both. */
struct f32_pool2d_params {
    size_t batch;
    size_t in_h, in_w, channels;
    size_t out_h, out_w;
    size_t kernel_h, kernel_w;
    size_t stride_h, stride_w;
    size_t pad_top, pad_left;
};
typedef void (*f32_pool2d_fn)(const struct f32_pool2d_params *p, const float *x, float *y);

/* ---- 3-D windows: conv3d and pool3d ----
 * Axes d, h, w in index 0, 1, 2 of each array; channels last (NDHWC).
 * conv3d: x [batch, in[0], in[1], in[2], in_c]; w [out_c, kernel[0],
 * kernel[1], kernel[2], in_c / groups]; b [out_c] or NULL; y [batch,
 * out[0], out[1], out[2], out_c]. Each output is a float sum started at
 * b[o] (0 without bias), adding x * w in the order kd, kh, kw, ci; input
 * coordinate i = o*stride - pad + k*dilation per axis, cells outside the
 * input skipped (zero padding), then clamped to [out_min, out_max] (a
 * fused relu or relu6). Groups as conv2d.
 * pool3d: x [batch, in[0..2], channels]; y [batch, out[0..2], channels];
 * the window of an output takes the taps o*stride - pad + k*dilation
 * inside the input: max their maximum (-inf when none), avg their float
 * sum (kd, kh, kw order) divided by their number, padding not counted (0
 * when none). */
struct f32_conv3d_params {
    size_t batch;
    size_t in[3], in_c;
    size_t out[3], out_c;
    size_t kernel[3];
    size_t stride[3];   /* >= 1 */
    size_t dilation[3]; /* >= 1 */
    size_t pad[3];      /* front, top, left; the end padding is implied by out */
    size_t groups;      /* >= 1 */
    float out_min, out_max;
};
typedef void (*f32_conv3d_fn)(const struct f32_conv3d_params *p, const float *x,
                              const float *w, const float *b, float *y);
struct f32_pool3d_params {
    size_t batch;
    size_t in[3], channels;
    size_t out[3];
    size_t kernel[3];
    size_t stride[3];
    size_t dilation[3]; /* avg: 1 */
    size_t pad[3];
};
typedef void (*f32_pool3d_fn)(const struct f32_pool3d_params *p, const float *x, float *y);

/* ---- global average pool ----
 * x [batch, pixels, channels] (pixels = H*W of an NHWC tensor); y [batch, channels]. */
typedef void (*f32_global_pool_fn)(size_t batch, size_t pixels, size_t channels,
                                   const float *x, float *y);

/* ---- unary element-wise (relu, relu6, sigmoid, tanh, leaky_relu) ----
 * y[i] = f(x[i]) for i < n; alpha is the negative slope of leaky_relu and
 * ignored by the others. May run in place (y == x). */
typedef void (*f32_unary_fn)(size_t n, const float *x, float *y, float alpha);

/* ---- binary element-wise (add, mul) ----
 * a [n]; b [n] (b_n == n) or b [b_n] broadcast over the last axis of a
 * (n a multiple of b_n: y[i] = a[i] op b[i % b_n]); y [n], clamped.
 * May run in place (y == a). */
struct f32_binary_params {
    size_t n;
    size_t b_n;
    float out_min, out_max;
};
typedef void (*f32_binary_fn)(const struct f32_binary_params *p, const float *a,
                              const float *b, float *y);

/* ---- element-wise math (neg ... gelu_tanh) ----
 * y[i] = f(x[i]) for i < n, computed in double and rounded once to float
 * (erf, exp, log and sqrt of libm); a, b are the function's parameters:
 * hard_sigmoid max(0, min(1, a*x + b)); elu x > 0 ? x : a*(exp(x) - 1);
 * selu b * (x > 0 ? x : a*(exp(x) - 1)); clip min(max(x, a), b);
 * hard_swish x * max(0, min(1, x/6 + 1/2)); silu x / (1 + exp(-x));
 * gelu x/2 * (1 + erf(x/sqrt 2)); gelu_tanh x/2 * (1 + tanh(sqrt(2/pi) *
 * (x + 0.044715 x^3))). May run in place. */
enum f32_math_op {
    F32_MATH_NEG, F32_MATH_ABS, F32_MATH_EXP, F32_MATH_LOG, F32_MATH_SQRT, F32_MATH_ERF,
    F32_MATH_HARD_SIGMOID, F32_MATH_HARD_SWISH, F32_MATH_ELU, F32_MATH_SELU, F32_MATH_CLIP,
    F32_MATH_SILU, F32_MATH_GELU, F32_MATH_GELU_TANH,
};
struct f32_math_params {
    enum f32_math_op op;
    float a, b;
};
typedef void (*f32_math_fn)(const struct f32_math_params *p, size_t n, const float *x, float *y);
/* One value of the function above, in double (int8 tables are built from it). */
double f32_math_one(const struct f32_math_params *p, double x);

/* ---- binary element-wise with NumPy broadcasting ----
 * y has shape dims[0..rank) (rank >= 1); element (i0, ..., ik) of y is
 * f(a[sum i_j * a_stride[j]], b[sum i_j * b_stride[j]]), a stride being 0
 * along an axis the operand broadcasts. prelu: a >= 0 ? a : a * b. min/max:
 * NaN in either operand gives NaN. pow: powf. Then clamped to
 * [out_min, out_max] (add and mul carry a fused activation). */
enum f32_binary_op {
    F32_BIN_ADD, F32_BIN_SUB, F32_BIN_MUL, F32_BIN_DIV, F32_BIN_POW, F32_BIN_MIN, F32_BIN_MAX,
    F32_BIN_PRELU,
};
#define F32_BROADCAST_MAX_RANK 8
struct f32_broadcast_params {
    enum f32_binary_op op;
    int rank;
    size_t dims[F32_BROADCAST_MAX_RANK];
    size_t a_stride[F32_BROADCAST_MAX_RANK], b_stride[F32_BROADCAST_MAX_RANK];
    float out_min, out_max;
};
typedef void (*f32_broadcast_fn)(const struct f32_broadcast_params *p, const float *a,
                                 const float *b, float *y);

/* ---- transpose (float and int8 alike: elements of elem_size bytes) ----
 * x has shape dims[0..rank); y[j0, ..., j(r-1)] = x[i] with i[perm[k]] =
 * j[k]: axis k of y is axis perm[k] of x. rank <= TRANSPOSE_MAX_RANK. */
#define TRANSPOSE_MAX_RANK 8
struct transpose_params {
    int rank;
    size_t dims[TRANSPOSE_MAX_RANK];
    int perm[TRANSPOSE_MAX_RANK];
    size_t elem_size;           /* 4 (float) or 1 (int8) */
};
typedef void (*transpose_fn)(const struct transpose_params *p, const void *x, void *y);

/* ---- slice (float and int8 alike) ----
 * y has shape out[0..rank); y[j] = x[starts + j * steps] along every axis
 * (x of shape in[0..rank); every index read lies inside it). */
struct slice_params {
    int rank;
    size_t in[TRANSPOSE_MAX_RANK], out[TRANSPOSE_MAX_RANK];
    int64_t starts[TRANSPOSE_MAX_RANK], steps[TRANSPOSE_MAX_RANK];
    size_t elem_size;
};
typedef void (*slice_fn)(const struct slice_params *p, const void *x, void *y);

/* ---- pad (float and int8 alike) ----
 * Along axis d, x keeps its elements lo = max(-begin, 0) .. in - max(-end,
 * 0) - 1 (n of them, n >= 1) and output index o reads kept element
 * t = o - max(begin, 0). Outside 0 <= t < n: PAD_CONSTANT writes *value
 * (elem_size bytes), PAD_EDGE reads t clamped to [0, n), PAD_REFLECT reads
 * t mirrored about both ends without repeating them (period 2(n - 1); the
 * one element when n == 1). out[d] = in[d] + begin[d] + end[d]. */
enum pad_mode { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE };
struct pad_params {
    int rank;
    size_t in[TRANSPOSE_MAX_RANK], out[TRANSPOSE_MAX_RANK];
    int64_t begin[TRANSPOSE_MAX_RANK], end[TRANSPOSE_MAX_RANK];
    enum pad_mode mode;
    size_t elem_size;
    const void *value;
};
typedef void (*pad_fn)(const struct pad_params *p, const void *x, void *y);

/* ---- resize ----
 * Output index o of axis d maps to the input coordinate c (in double):
 *   RESIZE_HALF_PIXEL          (o + 0.5) / scale - 0.5
 *   RESIZE_ASYMMETRIC          o / scale
 *   RESIZE_ALIGN_CORNERS       o * (in - 1) / (width - 1), 0 when width == 1
 *   RESIZE_PYTORCH_HALF_PIXEL  (o + 0.5) / scale - 0.5, -0.5 when width == 1
 *   RESIZE_TF_HALF_PIXEL_FOR_NN (o + 0.5) / scale
 * with scale[d] and width[d] (the real output extent in * scale, as ONNX's
 * reference computes it) given per axis. nearest reads index f = floor(c)
 * when c is whole, else f or f + 1 by the rounding (ROUND_PREFER_FLOOR:
 * f + 1 when c - f > 0.5; PREFER_CEIL: when >= 0.5; FLOOR: never; CEIL:
 * always), clamped to [0, in - 1]. linear weighs f and f + 1 (clamped) by
 * 1 - (c - f) and c - f along every axis, the product over the axes
 * summed in double over the corners, then rounded to float once. */
enum resize_coord {
    RESIZE_HALF_PIXEL,
    RESIZE_ASYMMETRIC,
    RESIZE_ALIGN_CORNERS,
    RESIZE_PYTORCH_HALF_PIXEL,
    RESIZE_TF_HALF_PIXEL_FOR_NN
};
enum resize_round { RESIZE_PREFER_FLOOR, RESIZE_PREFER_CEIL, RESIZE_FLOOR, RESIZE_CEIL };
struct resize_params {
    int rank;
    size_t in[TRANSPOSE_MAX_RANK], out[TRANSPOSE_MAX_RANK];
    double scale[TRANSPOSE_MAX_RANK], width[TRANSPOSE_MAX_RANK];
    enum resize_coord coord;
    enum resize_round round;    /* nearest */
    size_t elem_size;           /* nearest: float and int8 alike */
};
typedef void (*resize_nearest_fn)(const struct resize_params *p, const void *x, void *y);
typedef void (*f32_resize_linear_fn)(const struct resize_params *p, const float *x, float *y);
/* The input coordinate of output index o along axis d (shared by the
 * kernels and their tests). */
double resize_coord(const struct resize_params *p, int d, size_t o);

/* ---- matmul of two activations ----
 * y [batch..., M, N] = a [.., M, K] x b [.., K, N] for every index of the
 * leading axes (rank - 2 of them, dims[]), a and b read at a_stride /
 * b_stride elements per leading index (0 where they broadcast); sums in
 * double, rounded once. */
struct f32_matmul_params {
    int lead;                           /* leading axes, <= 6 */
    size_t dims[6];
    size_t a_stride[6], b_stride[6];
    size_t m, k, n;
};
typedef void (*f32_matmul_fn)(const struct f32_matmul_params *p, const float *a,
                              const float *b, float *y);
/* One step of the C-order walk over a matmul's leading axes, for any
 * params with lead, dims, a_stride and b_stride (float and int8 alike):
 * index[] the position, *ia and *ib the offsets of a and b in elements. */
#define MATMUL_NEXT_LEAD(p, index, ia, ib)                                               \
    do {                                                                                 \
        for (int d_ = (p)->lead - 1; d_ >= 0; d_--) {                                    \
            *(ia) += (p)->a_stride[d_];                                                  \
            *(ib) += (p)->b_stride[d_];                                                  \
            if (++(index)[d_] < (p)->dims[d_])                                           \
                break;                                                                   \
            *(ia) -= (index)[d_] * (p)->a_stride[d_];                                    \
            *(ib) -= (index)[d_] * (p)->b_stride[d_];                                    \
            (index)[d_] = 0;                                                             \
        }                                                                                \
    } while (0)

/* ---- softmax ----
 * x and y viewed as [outer, axis_len, inner]; softmax along the middle
 * axis: y = exp(x - max) / sum(exp(x - max)) (stable for any magnitude). */
struct f32_softmax_params {
    size_t outer, axis_len, inner;
    int log;                    /* log_softmax: y = x - max - log(sum(exp(x - max))) */
};
typedef void (*f32_softmax_fn)(const struct f32_softmax_params *p, const float *x, float *y);

/* ---- batch_norm (inference form) ----
 * x, y [rows, channels]; per channel c of the last axis:
 * y = (x - mean[c]) / sqrt(var[c] + epsilon) * gamma[c] + beta[c]. */
struct f32_batch_norm_params {
    size_t rows, channels;
    float epsilon;
};
typedef void (*f32_batch_norm_fn)(const struct f32_batch_norm_params *p, const float *x,
                                  const float *gamma, const float *beta, const float *mean,
                                  const float *var, float *y);

/* ---- layer_norm ----
 * x, y [rows, cols]; per row: mean and variance (the mean of squared
 * deviations) accumulated in double over the row in order, then
 * y[j] = (x[j] - mean) / sqrt(var + epsilon) * scale[j] + bias[j]
 * in double, rounded to float once. bias may be NULL (0). */
struct f32_layer_norm_params {
    size_t rows, cols;
    float epsilon;
};
typedef void (*f32_layer_norm_fn)(const struct f32_layer_norm_params *p, const float *x,
                                  const float *scale, const float *bias, float *y);

/* ---- instance_norm ----
 * x, y [n, spatial, channels]; per sample and channel c: mean and
 * variance over the spatial positions in order, in double, then
 * y = (x - mean) / sqrt(var + epsilon) * scale[c] + bias[c]. */
struct f32_instance_norm_params {
    size_t n, spatial, channels;
    float epsilon;
};
typedef void (*f32_instance_norm_fn)(const struct f32_instance_norm_params *p, const float *x,
                                     const float *scale, const float *bias, float *y);

/* ---- cast ----
 * y[i] = x[i] rounded to the values of dtype to, still as float: F16 and
 * BF16 round to nearest, ties to even (overflow to infinity); integer
 * types truncate toward zero; BOOL gives x != 0 (NaN is true); F32 copies.
 * Returns n,
 * or the index of the first element that is NaN or outside the integer
 * type's range after truncation (y is then partly written). */
struct f32_cast_params {
    int to;                     /* enum quanta_dtype */
};
typedef size_t (*f32_cast_fn)(const struct f32_cast_params *p, size_t n, const float *x,
                              float *y);

/* ---- mean over axes ----
 * x has shape dims[0..rank); reduce[a] != 0 marks the axes averaged away.
 * y holds the kept axes in order (keepdims only changes the shape, not the
 * data). Sums are accumulated in double. rank <= F32_REDUCE_MAX_RANK. */
#define F32_REDUCE_MAX_RANK 8
enum f32_reduce_op { F32_REDUCE_MEAN, F32_REDUCE_SUM, F32_REDUCE_MAX, F32_REDUCE_MIN,
                     F32_REDUCE_L2, F32_REDUCE_ARGMAX, F32_REDUCE_ARGMIN };
struct f32_reduce_params {
    enum f32_reduce_op op;      /* mean (0) ... l2 = sqrt(sum of squares); sums in double,
                                   max/min NaN if any element is; argmax/argmin the
                                   position in the window (one reduced axis) of the
                                   first extreme, a NaN counting as one (NumPy) */
    int select_last;            /* argmax/argmin: the last of equal extremes instead */
    int rank;
    size_t dims[F32_REDUCE_MAX_RANK];
    unsigned char reduce[F32_REDUCE_MAX_RANK];
};
typedef void (*f32_reduce_fn)(const struct f32_reduce_params *p, const float *x, float *y);

/* ---- concat ----
 * Input i viewed as [rows[i], chunk[i]] where chunk[i] = (its dim on the
 * axis) * (product of the dims after the axis); y [outer, sum_i chunk[i]]
 * takes, for each outer row o, row o % rows[i] of x[0], x[1], ... in turn
 * (rows NULL: every input has outer rows; fewer rows: a constant repeated
 * over the batch). */
struct f32_concat_params {
    size_t outer;
    size_t n_inputs;
    const size_t *chunk;   /* [n_inputs] */
    const size_t *rows;    /* [n_inputs] dividing outer, or NULL */
};
typedef void (*f32_concat_fn)(const struct f32_concat_params *p, const float *const *x,
                              float *y);

/* ---- embedding gather ----
 * ids [n_ids]; table [vocab, dim]; y [n_ids, dim] with y[i] = table[ids[i]].
 * Returns -1 when every id is in [0, vocab), else the index i of the first
 * id outside it (y is then partly written). */
struct f32_embedding_params {
    size_t n_ids;
    size_t vocab, dim;
};
typedef int64_t (*f32_embedding_fn)(const struct f32_embedding_params *p, const int64_t *ids,
                                    const float *table, float *y);

/* ---- embedding bag (f32_embedding_bag_ref.c) ----
 * Bag b holds ids[start(b) .. end(b) - 1]: b * bag .. (b + 1) * bag for
 * fixed bags (bag > 0), offsets[b] .. offsets[b + 1] (the last to n_ids)
 * when bag == 0; the caller checks 0 <= offsets[b] <= offsets[b + 1] <=
 * n_ids. y[b, :] = sum (times weights[t] when weights != NULL), the sum
 * over the count (mean) or the largest (max) of the rows, in id order;
 * an empty bag gives zeros. Returns -1, or the position of the first id
 * outside [0, vocab) (y is then partly written). */
enum f32_bag_mode { F32_BAG_SUM, F32_BAG_MEAN, F32_BAG_MAX };
struct f32_embedding_bag_params {
    size_t n_bags, n_ids, bag;
    size_t vocab, dim;
    enum f32_bag_mode mode;
};
typedef int64_t (*f32_embedding_bag_fn)(const struct f32_embedding_bag_params *p,
                                        const int64_t *ids, const int64_t *offsets,
                                        const float *weights, const float *table, float *y);

/* ---- packed weights (conv2d, dense) ----
 * pack_size(p): floats the packed weights AND bias take; depends only on
 *   out_c, kernel_h, kernel_w, in_c and groups (dense: in_k, out_n).
 * pack(p, w, b, packed): writes them (b NULL: zero bias); w and b are in
 *   the layouts of conv2d/dense above; packed is not read afterwards by
 *   anything but the packed kernel of the same table.
 * conv2d_scratch_size(p): floats of scratch conv2d_packed needs, for any
 *   batch and spatial size with the same channels and kernel as p (0: pass
 *   NULL). Dense needs none.
 * *_packed(p, x, packed, scratch, y): same result as conv2d/dense with the
 *   weights that were packed, up to float rounding of reordered sums; rows
 *   of y do not depend on the batch size (bit for bit). Packed and scratch
 *   buffers should be 64-byte aligned (faster, not required). */
typedef size_t (*f32_conv2d_size_fn)(const struct f32_conv2d_params *p);
typedef void (*f32_conv2d_pack_fn)(const struct f32_conv2d_params *p, const float *w,
                                   const float *b, float *packed);
typedef void (*f32_conv2d_packed_fn)(const struct f32_conv2d_params *p, const float *x,
                                     const float *packed, float *scratch, float *y);
typedef size_t (*f32_dense_size_fn)(const struct f32_dense_params *p);
typedef void (*f32_dense_pack_fn)(const struct f32_dense_params *p, const float *w,
                                  const float *b, float *packed);
typedef void (*f32_dense_packed_fn)(const struct f32_dense_params *p, const float *x,
                                    const float *packed, float *y);

/* ---- the table ---- */

struct f32_kernels {
    const char *level;              /* "ref", ... */
    f32_conv2d_fn conv2d;
    f32_dense_fn dense;
    f32_pool2d_fn max_pool2d;
    f32_pool2d_fn avg_pool2d;
    f32_global_pool_fn global_avg_pool;
    f32_conv3d_fn conv3d;
    f32_pool3d_fn max_pool3d;
    f32_pool3d_fn avg_pool3d;
    f32_unary_fn relu;
    f32_unary_fn relu6;
    f32_unary_fn sigmoid;
    f32_unary_fn tanh;
    f32_unary_fn leaky_relu;
    f32_binary_fn add;
    f32_binary_fn mul;
    f32_math_fn math;
    f32_broadcast_fn broadcast;
    transpose_fn transpose;
    slice_fn slice;
    pad_fn pad;
    resize_nearest_fn resize_nearest;
    f32_resize_linear_fn resize_linear;
    f32_matmul_fn matmul;
    f32_softmax_fn softmax;
    f32_batch_norm_fn batch_norm;
    f32_layer_norm_fn layer_norm;
    f32_instance_norm_fn instance_norm;
    f32_cast_fn cast;
    f32_reduce_fn mean;
    f32_concat_fn concat;
    f32_embedding_fn embedding;
    f32_embedding_bag_fn embedding_bag;

    /* Packed weights (added for the fast levels). conv2d and dense above
     * take weights as stored and run at reference speed at every level;
     * the fast path packs the weights ONCE (runner_create) into the layout
     * this level's micro-kernels read, then runs conv2d_packed/dense_packed
     * with caller-owned scratch. A table's pack and packed entries only
     * pair with each other. See "packed weights" below. */
    f32_conv2d_size_fn conv2d_pack_size;
    f32_conv2d_pack_fn conv2d_pack;
    f32_conv2d_size_fn conv2d_scratch_size;
    f32_conv2d_packed_fn conv2d_packed;
    f32_dense_size_fn dense_pack_size;
    f32_dense_pack_fn dense_pack;
    f32_dense_packed_fn dense_packed;
};

/* ---- levels and the choice (src/kernels/dispatch.c) ----
 * X(enum suffix, name), in increasing order of preference; each level
 * needs the CPU features of the one before it. The list is the build
 * target's: a level of another architecture does not exist in this
 * binary (it is neither offered nor tested, not even as a skip).
 * x86-64 (src/kernels/cpu_x86.h):
 * ref    portable C, runs everywhere
 * avx2   AVX2 + FMA + F16C (src/kernels/x86/ *_avx2.c)
 * avx512 AVX-512 F/BW/DQ/VL (src/kernels/x86/ *_avx512.c)
 * vnni   + AVX512-VNNI (int8 dot products; float uses the avx512 kernels)
 * amx    + AMX-TILE/INT8 (int8 tiles; float uses the avx512 kernels)
 * AArch64 (src/kernels/cpu_arm64.h):
 * ref    portable C
 * neon   Advanced SIMD (src/kernels/arm64/ *_neon.c): the int8 GEMM of
 *        conv2d/dense, the float packed conv2d/dense (SGEMM, depthwise),
 *        max/average pools, sigmoid, tanh and math (exp, erf, silu,
 *        gelu); the other float families use the reference
 * dotprod + the dot-product extension (ARMv8.2 SDOT, HWCAP asimddp): the
 *        int8 GEMM in SDOT (src/kernels/arm64/ *_dotprod.c); else as neon
 * i8mm   + the int8 matrix multiply (ARMv8.6 USMMLA, HWCAP2 i8mm): the
 *        int8 GEMM in 2x8 by 8x2 tiles (src/kernels/arm64/ *_i8mm.c);
 *        else as dotprod
 * Anything else: ref only. */
#if defined(__x86_64__)
#define KERNELS_LEVEL_LIST(X) X(REF, "ref") X(AVX2, "avx2") X(AVX512, "avx512") \
    X(VNNI, "vnni") X(AMX, "amx")
#elif defined(__aarch64__)
#define KERNELS_LEVEL_LIST(X) X(REF, "ref") X(NEON, "neon") X(DOTPROD, "dotprod") \
    X(I8MM, "i8mm")
#else
#define KERNELS_LEVEL_LIST(X) X(REF, "ref")
#endif

enum kernels_level {
#define KERNELS_LEVEL_ENUM(id, name) KERNELS_LEVEL_##id,
    KERNELS_LEVEL_LIST(KERNELS_LEVEL_ENUM)
#undef KERNELS_LEVEL_ENUM
    KERNELS_LEVEL_COUNT
};

/* The level's name; "unknown" for anything else. */
const char *kernels_level_name(enum kernels_level level);

/* What this CPU offers the kernels, for --version and skip reasons:
 * "avx2 avx512f ..." on x86-64, "asimd asimddp ..." on AArch64; "none"
 * when nothing beyond the baseline. */
void kernels_cpu_describe(char *buf, size_t size);

/* Makes the process-wide choice once (pthread_once): the level named by the
 * environment variable QUANTA_ISA when set and non-empty, else the best
 * level this CPU supports. Every call returns the outcome of that one
 * choice: QUANTA_ERR_USAGE with "QUANTA_ISA=avx9: unknown kernel level
 * (available: ref, avx2, ...)" or "... not supported by this cpu" when QUANTA_ISA names
 * a level that cannot run; there is NO silent fallback to another level.
 * Runners call this before using a table. */
enum quanta_status kernels_init(struct quanta_error *err);

/* Forces a level by name ("ref", "avx2", "avx512", ...) for a --kernels
 * option. Unknown names and levels this CPU lacks are QUANTA_ERR_USAGE
 * (same messages as above, without the "QUANTA_ISA=" prefix) and leave the
 * choice unchanged; a valid name replaces the choice, including a failed
 * QUANTA_ISA one. isa NULL is kernels_init. Call before creating runners:
 * it is not synchronised with kernels running in other threads. */
enum quanta_status kernels_select(const char *isa, struct quanta_error *err);

/* The chosen level (after a successful kernels_init/kernels_select). */
enum kernels_level kernels_current_level(void);

/* Operations per cycle and core of a level's widest arithmetic, for peak
 * figures: float 2 FMA units x lanes x 2; int8 per the level's widest
 * multiply-add instruction (man quanta-bench(1)); ref one scalar
 * multiply-add (2 ops). NAN for a level of another architecture. */
double kernels_peak_ops_per_cycle(enum kernels_level level, bool int8);

/* The float table of the chosen level; NULL while kernels_init fails. */
const struct f32_kernels *f32_kernels_get(void);

/* The float table of a given level, or NULL when this CPU or build lacks
 * it (tests compare every level with ref through this). */
const struct f32_kernels *f32_kernels_for_level(enum kernels_level level);

/* ---- the reference kernels (src/kernels/ref/) ---- */
void f32_conv2d__ref(const struct f32_conv2d_params *p, const float *x, const float *w,
                     const float *b, float *y);
void f32_dense__ref(const struct f32_dense_params *p, const float *x, const float *w,
                    const float *b, float *y);
void f32_max_pool2d__ref(const struct f32_pool2d_params *p, const float *x, float *y);
void f32_avg_pool2d__ref(const struct f32_pool2d_params *p, const float *x, float *y);
void f32_conv3d__ref(const struct f32_conv3d_params *p, const float *x, const float *w,
                     const float *b, float *y);
void f32_max_pool3d__ref(const struct f32_pool3d_params *p, const float *x, float *y);
void f32_avg_pool3d__ref(const struct f32_pool3d_params *p, const float *x, float *y);
void f32_global_avg_pool__ref(size_t batch, size_t pixels, size_t channels, const float *x,
                              float *y);
void f32_relu__ref(size_t n, const float *x, float *y, float alpha);
void f32_relu6__ref(size_t n, const float *x, float *y, float alpha);
void f32_sigmoid__ref(size_t n, const float *x, float *y, float alpha);
void f32_tanh__ref(size_t n, const float *x, float *y, float alpha);
void f32_leaky_relu__ref(size_t n, const float *x, float *y, float alpha);
void f32_add__ref(const struct f32_binary_params *p, const float *a, const float *b, float *y);
void f32_mul__ref(const struct f32_binary_params *p, const float *a, const float *b, float *y);
void f32_softmax__ref(const struct f32_softmax_params *p, const float *x, float *y);
void transpose__ref(const struct transpose_params *p, const void *x, void *y);
void slice__ref(const struct slice_params *p, const void *x, void *y);
void pad__ref(const struct pad_params *p, const void *x, void *y);
void resize_nearest__ref(const struct resize_params *p, const void *x, void *y);
void f32_resize_linear__ref(const struct resize_params *p, const float *x, float *y);
void f32_matmul__ref(const struct f32_matmul_params *p, const float *a, const float *b,
                     float *y);
void f32_math__ref(const struct f32_math_params *p, size_t n, const float *x, float *y);
void f32_broadcast__ref(const struct f32_broadcast_params *p, const float *a, const float *b,
                        float *y);
void f32_batch_norm__ref(const struct f32_batch_norm_params *p, const float *x,
                         const float *gamma, const float *beta, const float *mean,
                         const float *var, float *y);
void f32_layer_norm__ref(const struct f32_layer_norm_params *p, const float *x,
                         const float *scale, const float *bias, float *y);
void f32_instance_norm__ref(const struct f32_instance_norm_params *p, const float *x,
                            const float *scale, const float *bias, float *y);
size_t f32_cast__ref(const struct f32_cast_params *p, size_t n, const float *x, float *y);
void f32_mean__ref(const struct f32_reduce_params *p, const float *x, float *y);
void f32_concat__ref(const struct f32_concat_params *p, const float *const *x, float *y);
int64_t f32_embedding__ref(const struct f32_embedding_params *p, const int64_t *ids,
                           const float *table, float *y);
int64_t f32_embedding_bag__ref(const struct f32_embedding_bag_params *p, const int64_t *ids,
                               const int64_t *offsets, const float *weights, const float *table,
                               float *y);

/* packed-weight entries of the ref table (src/kernels/ref/f32_packed_ref.c):
 * packed = the weights as stored followed by the bias (zeros for NULL),
 * run by f32_conv2d__ref / f32_dense__ref; no scratch */
size_t f32_conv2d_pack_size__ref(const struct f32_conv2d_params *p);
void f32_conv2d_pack__ref(const struct f32_conv2d_params *p, const float *w, const float *b,
                          float *packed);
size_t f32_conv2d_scratch_size__ref(const struct f32_conv2d_params *p);
void f32_conv2d_packed__ref(const struct f32_conv2d_params *p, const float *x,
                            const float *packed, float *scratch, float *y);
size_t f32_dense_pack_size__ref(const struct f32_dense_params *p);
void f32_dense_pack__ref(const struct f32_dense_params *p, const float *w, const float *b,
                         float *packed);
void f32_dense_packed__ref(const struct f32_dense_params *p, const float *x, const float *packed,
                           float *y);

/* ---- the SIMD levels' packed conv2d/dense and pools ----
 * SGEMM micro-kernels over packed B panels (avx2 6x16, avx512 8x32:
 * src/kernels/x86/f32_gemm_<isa>.c; neon 8x8: src/kernels/arm64/
 * f32_gemm_neon.c, the dotprod level uses it too), driven by one shape
 * wrapper (src/kernels/f32_gemm_common.c); conv2d as a GEMM reading its
 * rows in place from a zero-bordered copy of the input (1x1 stride 1
 * straight from the input), depthwise direct with SIMD over channels,
 * dense as GEMM (batch 1: GEMV); max and average pools with SIMD over
 * channels (src/kernels/x86/f32_pool_<isa>.c, src/kernels/arm64/
 * f32_pool_neon.c). */
#define F32_SIMD_DECLARE_PACKED(isa)                                                          \
    size_t f32_conv2d_pack_size__##isa(const struct f32_conv2d_params *p);                   \
    void f32_conv2d_pack__##isa(const struct f32_conv2d_params *p, const float *w,           \
                                const float *b, float *packed);                              \
    size_t f32_conv2d_scratch_size__##isa(const struct f32_conv2d_params *p);                \
    void f32_conv2d_packed__##isa(const struct f32_conv2d_params *p, const float *x,         \
                                  const float *packed, float *scratch, float *y);            \
    size_t f32_dense_pack_size__##isa(const struct f32_dense_params *p);                     \
    void f32_dense_pack__##isa(const struct f32_dense_params *p, const float *w,             \
                               const float *b, float *packed);                               \
    void f32_dense_packed__##isa(const struct f32_dense_params *p, const float *x,           \
                                 const float *packed, float *y);
#define F32_SIMD_DECLARE_POOLS(isa)                                                           \
    void f32_max_pool2d__##isa(const struct f32_pool2d_params *p, const float *x, float *y); \
    void f32_avg_pool2d__##isa(const struct f32_pool2d_params *p, const float *x, float *y);
F32_SIMD_DECLARE_PACKED(avx2)
F32_SIMD_DECLARE_POOLS(avx2)
F32_SIMD_DECLARE_PACKED(avx512)
F32_SIMD_DECLARE_POOLS(avx512)
F32_SIMD_DECLARE_PACKED(neon)
F32_SIMD_DECLARE_POOLS(neon)
#undef F32_SIMD_DECLARE_PACKED
#undef F32_SIMD_DECLARE_POOLS
/* matmul of two activations, the same bits as the reference
 * (src/kernels/x86/f32_matmul_avx2.c, the avx512 levels use it too;
 * src/kernels/arm64/f32_matmul_neon.c for neon, dotprod and i8mm) */
void f32_matmul__avx2(const struct f32_matmul_params *p, const float *a, const float *b,
                      float *y);
void f32_matmul__neon(const struct f32_matmul_params *p, const float *a, const float *b,
                      float *y);

/* ---- vectorized transcendental kernels (src/kernels/x86/f32_math_avx2.c,
 * f32_softmax_avx2.c, f32_norm_avx2.c; the avx512 levels use them too;
 * all five also in NEON, src/kernels/arm64/f32_math_neon.c,
 * f32_softmax_neon.c, f32_norm_neon.c, the same algorithms with the same
 * bounds, for neon, dotprod and i8mm) ----
 * sigmoid, tanh and math's exp, erf, silu and gelu compute the functions
 * of the reference in float with a vector exp (range reduction and
 * polynomials); their error against the exact value (libm in double,
 * erfc for gelu's negative tail), measured over every 97th float bit
 * pattern, the specials and a dense sweep of [-20, 20]
 * (tests/kernels/test_f32_vmath.c), is at most the F32_VMATH_ULP_* units
 * in the last place of the float result (for a subnormal result: of
 * 2^-149) below; the worst cases measured are in the comments.
 * Overflow, underflow, infinities and NaN are the reference's: exp(x) is
 * inf above 88.73 and 0 below -103.97, sigmoid and tanh saturate to
 * exactly 0, +-1, NaN in gives NaN out, silu(-inf) and gelu(-inf) are
 * NaN (-inf * 0) as in the reference. The other math ops are the
 * reference's. softmax: the reference's steps with this exp (within
 * 1e-6 relative of the reference). layer_norm: the reference's double
 * arithmetic, the row sums in another order (within 2 ulp). */
#define F32_VMATH_ULP_EXP 2     /* measured 1.04 (every 97th pattern) */
#define F32_VMATH_ULP_SIGMOID 3 /* 2.40 */
#define F32_VMATH_ULP_TANH 2    /* 1.53 */
#define F32_VMATH_ULP_ERF 2     /* 1.23 */
#define F32_VMATH_ULP_SILU 4    /* 3.09 */
#define F32_VMATH_ULP_GELU 8    /* 6.43: 1 + erf(x / sqrt 2) cancels to 0.16 near x = -1.41 */
void f32_sigmoid__avx2(size_t n, const float *x, float *y, float alpha);
void f32_tanh__avx2(size_t n, const float *x, float *y, float alpha);
void f32_math__avx2(const struct f32_math_params *p, size_t n, const float *x, float *y);
void f32_softmax__avx2(const struct f32_softmax_params *p, const float *x, float *y);
void f32_layer_norm__avx2(const struct f32_layer_norm_params *p, const float *x,
                          const float *scale, const float *bias, float *y);
void f32_sigmoid__neon(size_t n, const float *x, float *y, float alpha);
void f32_tanh__neon(size_t n, const float *x, float *y, float alpha);
void f32_math__neon(const struct f32_math_params *p, size_t n, const float *x, float *y);
void f32_softmax__neon(const struct f32_softmax_params *p, const float *x, float *y);
void f32_layer_norm__neon(const struct f32_layer_norm_params *p, const float *x,
                          const float *scale, const float *bias, float *y);

#endif

/* Integer-only int8 kernels: one signature (typedef) per family, the
 * parameter structs they read, and the portable reference variants
 * (src/kernels/ref/q8_<family>_ref.c, functions q8_<family>__ref).
 *
 * The reference is the contract: a fast variant of a later issue
 * (src/kernels/x86/q8_<family>_avx2.c, q8_<family>__avx2) has the same
 * typedef and must give the same bytes for every input. The dispatch table
 * holds pointers of these types.
 *
 * ---- Conventions (all families) ----
 *
 * Values.  real = scale * (q - zero_point). Every kernel reads and writes
 *   int8_t. A U8 value is held in runtime buffers as int8 with an offset:
 *   q_i8 = q_u8 - 128 (byte: q_u8 ^ 0x80) and zero point z_u8 - 128. Real
 *   values are unchanged, and since every kernel uses q only as (q - z) or
 *   through an order-preserving max, a U8 result read back as
 *   q_i8 + 128 is bit-identical to computing in uint8 with
 *   clamp(..., 0, 255). Zero points and clamp bounds in these structs are
 *   therefore always in the int8 domain [-128, 127]; the prepare functions
 *   (src/runtime/q8_params.h) do the offset. Weights are always I8,
 *   symmetric (zero point 0); biases I32 with scale s_in * s_w[o] and zero
 *   point 0.
 *
 * Requantization.  multiplier/shift pairs and the rounding are those of
 *   src/kernels/requant.h: q8_requantize(acc, M, shift) =
 *   round_half_away(acc * M / 2^(31+shift)), exact, one rounding.
 *
 * Accumulation.  conv2d and dense accumulate acc = bias[o] + sum (x - zx) * w
 *   exactly and saturate it to int32. With K = reduction length
 *   (KH*KW*C/groups, or K for dense), |sum| <= K * 255 * 128, so for
 *   K <= 65535 an int32 sum cannot overflow and a fast kernel may use
 *   int32 adds plus one saturating add of the bias.
 *
 * Activation clamp.  [qmin, qmax] in the output's int8 domain: none gives
 *   [-128, 127]; relu [max(-128, zy), 127]; relu6 additionally
 *   qmax = min(127, zy + round_half_away(6 / sy)).
 *
 * Layouts are row-major; 4-D activations NHWC. No kernel allocates: the
 * caller owns every buffer (only the packed conv2d/dense need scratch,
 * sized by their *_scratch_size).
 *
 * ---- Error bounds (checked by tests/kernels/test_q8_*.c) ----
 * Let ideal = zy + (exact real result computed from the dequantized int8
 * inputs) / sy, clamped to [qmin, qmax] as a real number. Then |q - ideal|:
 *   conv2d, dense, mul, matmul, relu/relu6/requant, leaky_relu, max/avg pool,
 *   global avg pool, mean, concat, embedding:       <= 1/2 + 2^-29 * |ideal - zy|
 *     (one rounding, plus the relative error 2^-31 of M)
 *   add:                   <= 1/2 + 2^-18 * max(sa, sb) / sy + 2^-29 * |ideal - zy|
 *     (each input is first rounded to a grid of 2 max(sa, sb) / 2^20, with
 *     error <= 0.5625 of that grid including its multiplier's error)
 *   sigmoid, tanh, lut:    <= 1/2 (+ libm's error in f, ~1e-16 relative)
 *   quantize:              <= 1/2 (x/s rounded once in double)
 *   softmax (float out):   relative error <= (L + 3) * 2^-23, L = axis length
 *   dequantize:            one float rounding (relative 2^-24)
 */
#ifndef QUANTA_KERNELS_KERNELS_Q8_H
#define QUANTA_KERNELS_KERNELS_Q8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kernels/kernels.h"    /* enum kernels_level, the level choice */

/* ---- shared parameter blocks ---- */

/* Requantization of a reduction (conv2d, dense): per output channel o,
 *   y = clamp(zy + requantize(acc[o], multiplier[o], shift[o]), qmin, qmax)
 * with multiplier/shift[o] representing s_in * s_w[o] / s_out.
 * n == 1: per-tensor (index 0 for every o); else n == output channels. */
struct q8_requant {
    int32_t in_zero_point;      /* zx, [-128, 127]; also the padding value */
    int32_t out_zero_point;     /* zy, [-128, 127] */
    int32_t qmin, qmax;         /* -128 <= qmin <= qmax <= 127 */
    int n;                      /* 1 or output channels */
    const int32_t *multiplier;  /* [n], see requant.h */
    const int32_t *shift;       /* [n], [Q8_SHIFT_MIN, Q8_SHIFT_MAX] */
};

/* One input rescaled into the output's parameters (relu, relu6, requant,
 * max/avg pools, mean, concat inputs, embedding):
 *   y = clamp(zy + requantize(x - zx, multiplier, shift), qmin, qmax)
 * multiplier/shift represent sx / sy; equal parameters give (2^30, -1),
 * the exact identity. */
struct q8_unary {
    int32_t in_zero_point;
    int32_t out_zero_point;
    int32_t multiplier;
    int32_t shift;
    int32_t qmin, qmax;
};

/* ---- conv2d (q8_conv2d_ref.c): general, grouped, depthwise ---- */

/* x [batch, in_h, in_w, in_c], w [out_c, kernel_h, kernel_w, in_c/groups]
 * (I8, zero point 0), bias [out_c] int32 or NULL (zeros), y [batch, out_h,
 * out_w, out_c]. Output channel o belongs to group g = o / (out_c/groups)
 * and reads input channels [g*in_c/groups, (g+1)*in_c/groups); depthwise is
 * groups == in_c. Tap (kh, kw) of output (oy, ox) reads input row
 * oy*stride_h - pad_top + kh*dilation_h (same for columns); taps outside
 * the input read the input zero point, i.e. add nothing:
 *   acc = sat32(bias[o] + sum over taps inside, ci of (x - zx) * w)
 *   y = clamp(zy + requantize(acc, M[o], shift[o]), qmin, qmax)
 * out_h/out_w are the caller's (from shape inference); bottom/right pads
 * are implied by them. */
struct q8_conv2d_shape {
    int64_t batch;
    int in_h, in_w, in_c;
    int out_h, out_w, out_c;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_top, pad_left;
    int dilation_h, dilation_w;
    int groups;                 /* divides in_c and out_c */
};

typedef void (*q8_conv2d_fn)(const struct q8_conv2d_shape *shape, const struct q8_requant *rq,
                             const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y);
void q8_conv2d__ref(const struct q8_conv2d_shape *shape, const struct q8_requant *rq,
                    const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y);

/* ---- dense (q8_dense_ref.c) ---- */

/* x [batch, in_features], w [out_features, in_features], bias [out] or NULL,
 * y [batch, out_features]; acc and y as for conv2d. */
struct q8_dense_shape {
    int64_t batch;
    int in_features;
    int out_features;
};

typedef void (*q8_dense_fn)(const struct q8_dense_shape *shape, const struct q8_requant *rq,
                            const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y);
void q8_dense__ref(const struct q8_dense_shape *shape, const struct q8_requant *rq,
                   const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y);

/* ---- conv2d and dense with a float output (q8_conv2d_ref.c, q8_dense_ref.c) ----
 * For a graph output computed by an int8 conv2d/dense: no output scale, no
 * requantization; the int32 accumulator is scaled to float, as ONNX
 * Runtime's QGemm with float output does:
 *   acc = sat32(bias[o] + sum (x - zx) * w)       (exactly as above)
 *   v   = (float)acc * scale[o]                   (int32 -> float rounds to
 *                                                  nearest even, then one
 *                                                  float32 multiply)
 *   y   = v < lo ? lo : v > hi ? hi : v
 * scale[o] = (float)((double)sx * (double)sw[o]) (one rounding); [lo, hi]:
 * none [-inf, +inf], relu [0, +inf], relu6 [0, 6]. */
struct q8_acc_f32 {
    int32_t in_zero_point;      /* zx, [-128, 127]; also the padding value */
    int n;                      /* 1 or output channels */
    const float *scale;         /* [n] */
    float lo, hi;
};

typedef void (*q8_conv2d_f32_fn)(const struct q8_conv2d_shape *shape, const struct q8_acc_f32 *p,
                                 const int8_t *x, const int8_t *w, const int32_t *bias,
                                 float *y);
void q8_conv2d_f32__ref(const struct q8_conv2d_shape *shape, const struct q8_acc_f32 *p,
                        const int8_t *x, const int8_t *w, const int32_t *bias, float *y);
typedef void (*q8_dense_f32_fn)(const struct q8_dense_shape *shape, const struct q8_acc_f32 *p,
                                const int8_t *x, const int8_t *w, const int32_t *bias, float *y);
void q8_dense_f32__ref(const struct q8_dense_shape *shape, const struct q8_acc_f32 *p,
                       const int8_t *x, const int8_t *w, const int32_t *bias, float *y);
/* The same bytes with AVX2 (src/kernels/x86/q8_dense_f32_avx2.c), for every
 * level from avx2 up; conv2d_f32 is the reference at every level. */
void q8_dense_f32__avx2(const struct q8_dense_shape *shape, const struct q8_acc_f32 *p,
                        const int8_t *x, const int8_t *w, const int32_t *bias, float *y);

/* ---- pools (q8_pool_ref.c) ---- */

/* x [batch, in_h, in_w, c], y [batch, out_h, out_w, c]. The window of
 * output (oy, ox) covers rows oy*stride_h - pad_top + [0, kernel_h) and the
 * like for columns; only cells inside the input count (n = their number;
 * a window with n == 0 gives zy clamped).
 *   max: y = clamp(zy + requantize(max(x) - zx, M, shift), qmin, qmax)
 *   avg: S = sum (x - zx) over the n cells,
 *        y = clamp(zy + round_half_away(S * M / (n * 2^(31+shift))), qmin, qmax)
 *        (q8_requantize_div: one rounding of the exact rational value)
 * with M, shift representing sx / sy (the identity when they are equal). */
struct q8_pool2d_shape {
    int64_t batch;
    int in_h, in_w, c;
    int out_h, out_w;
    int kernel_h, kernel_w;
    int stride_h, stride_w;
    int pad_top, pad_left;
};

typedef void (*q8_pool2d_fn)(const struct q8_pool2d_shape *shape, const struct q8_unary *rq,
                             const int8_t *x, int8_t *y);
void q8_max_pool2d__ref(const struct q8_pool2d_shape *shape, const struct q8_unary *rq,
                        const int8_t *x, int8_t *y);
void q8_avg_pool2d__ref(const struct q8_pool2d_shape *shape, const struct q8_unary *rq,
                        const int8_t *x, int8_t *y);

/* x [batch, hw, c] (NHWC with h*w = hw), y [batch, c]:
 *   y = clamp(zy + round_half_away(S * M / (hw * 2^(31+shift))), qmin, qmax),
 *   S = sum over the hw cells of (x - zx). hw <= 2^24. */
typedef void (*q8_global_avg_pool_fn)(int64_t batch, int64_t hw, int c, const struct q8_unary *rq,
                                      const int8_t *x, int8_t *y);
void q8_global_avg_pool__ref(int64_t batch, int64_t hw, int c, const struct q8_unary *rq,
                             const int8_t *x, int8_t *y);

/* ---- element-wise add and mul (q8_elementwise_ref.c) ---- */

/* a has n elements; b has n (same shape) or b_n elements broadcast over
 * the last axis (element i reads b[i % b_n]; n % b_n == 0). */

/* add, TFLite style with a left shift of 20 bits:
 *   a' = requantize((a - za) * 2^20, Ma, sha)    Ma/sha ~ sa / (2 max(sa, sb))
 *   b' = requantize((b - zb) * 2^20, Mb, shb)    Mb/shb ~ sb / (2 max(sa, sb))
 *   y  = clamp(zy + requantize(a' + b', Mo, sho), qmin, qmax)
 *                                           Mo/sho ~ 2 max(sa, sb) / (2^20 sy)
 * |a - za| <= 255 so (a - za) * 2^20 < 2^28 and |a' + b'| < 2^28. */
struct q8_add_params {
    int32_t a_zero_point, b_zero_point, out_zero_point;
    int32_t left_shift;                   /* 20 */
    int32_t a_multiplier, a_shift;
    int32_t b_multiplier, b_shift;
    int32_t out_multiplier, out_shift;
    int32_t qmin, qmax;
};

typedef void (*q8_add_fn)(int64_t n, int64_t b_n, const struct q8_add_params *p, const int8_t *a,
                          const int8_t *b, int8_t *y);
void q8_add__ref(int64_t n, int64_t b_n, const struct q8_add_params *p, const int8_t *a,
                 const int8_t *b, int8_t *y);

/* mul: acc = (a - za) * (b - zb) (|acc| <= 65025),
 *   y = clamp(zy + requantize(acc, M, shift), qmin, qmax), M ~ sa sb / sy. */
struct q8_mul_params {
    int32_t a_zero_point, b_zero_point, out_zero_point;
    int32_t multiplier, shift;
    int32_t qmin, qmax;
};

typedef void (*q8_mul_fn)(int64_t n, int64_t b_n, const struct q8_mul_params *p, const int8_t *a,
                          const int8_t *b, int8_t *y);
void q8_mul__ref(int64_t n, int64_t b_n, const struct q8_mul_params *p, const int8_t *a,
                 const int8_t *b, int8_t *y);

/* ---- matmul of two activations (q8_matmul_ref.c) ----
 * y [lead..., M, N] = a [.., M, K] x b [.., K, N] for every index of the
 * leading axes (dims[], lead of them), a and b read at a_stride / b_stride
 * elements per leading index (0 where they broadcast). Per output element,
 * with the zero points and requantization of struct q8_mul_params
 * (M ~ sa sb / sy):
 *   acc = sat32(sum over k = 0..K-1 of (a[i, k] - za) * (b[k, j] - zb))
 *   y   = clamp(zy + requantize(acc, M, shift), qmin, qmax)
 * |each term| <= 255 * 255, so for K <= Q8_MATMUL_EXACT_K the int32 sum
 * cannot overflow (a fast kernel runs the reference beyond it). */
#define Q8_MATMUL_EXACT_K 33025 /* 33025 * 65025 < 2^31 */
struct q8_matmul_shape {
    int lead;                   /* leading axes, <= 6 */
    int64_t dims[6];            /* the output's leading dims */
    int64_t a_stride[6], b_stride[6];
    int m, k, n;
};

typedef void (*q8_matmul_fn)(const struct q8_matmul_shape *s, const struct q8_mul_params *p,
                             const int8_t *a, const int8_t *b, int8_t *y);
void q8_matmul__ref(const struct q8_matmul_shape *s, const struct q8_mul_params *p,
                    const int8_t *a, const int8_t *b, int8_t *y);
/* The same bytes with AVX2 (src/kernels/x86/q8_matmul_avx2.c), for every
 * x86 level from avx2 up: vpmaddwd on (b - zb) of two rows k interleaved
 * as int16 pairs, 4 rows by 16 columns at a time. */
void q8_matmul__avx2(const struct q8_matmul_shape *s, const struct q8_mul_params *p,
                     const int8_t *a, const int8_t *b, int8_t *y);

/* ---- activations (q8_activation_ref.c) ---- */

/* relu, relu6, and a plain change of parameters (reshape/flatten to a value
 * with other parameters): y = clamp(zy + requantize(x - zx, M, shift),
 * qmin, qmax) with the activation's clamp. x and y may be the same buffer. */
typedef void (*q8_unary_fn)(int64_t n, const struct q8_unary *rq, const int8_t *x, int8_t *y);
void q8_requant_clamp__ref(int64_t n, const struct q8_unary *rq, const int8_t *x, int8_t *y);

/* leaky_relu: d = x - zx;
 *   y = clamp(zy + requantize(d, d >= 0 ? Mp : Mn, d >= 0 ? shp : shn), qmin, qmax)
 * Mp ~ sx / sy, Mn ~ alpha sx / sy (negative when alpha < 0, zero when
 * alpha == 0). */
struct q8_leaky_relu_params {
    int32_t in_zero_point, out_zero_point;
    int32_t pos_multiplier, pos_shift;
    int32_t neg_multiplier, neg_shift;
    int32_t qmin, qmax;
};

typedef void (*q8_leaky_relu_fn)(int64_t n, const struct q8_leaky_relu_params *p,
                                 const int8_t *x, int8_t *y);
void q8_leaky_relu__ref(int64_t n, const struct q8_leaky_relu_params *p, const int8_t *x,
                        int8_t *y);

/* ---- 256-entry tables (q8_lut_ref.c): sigmoid, tanh, any unary f ----
 * y = table[x + 128]. The table is built at plan time
 * (q8_lut_prepare): table[i] = clamp(zy + round_half_away(f(sx * (i - 128 - zx)) / sy),
 * qmin, qmax), evaluated in double. x and y may be the same buffer. */
typedef void (*q8_lut_fn)(int64_t n, const int8_t table[256], const int8_t *x, int8_t *y);
void q8_lut__ref(int64_t n, const int8_t table[256], const int8_t *x, int8_t *y);

/* ---- concat (q8_concat_ref.c) ---- */

/* Inputs viewed as [rows_i, inner_i] (inner_i = product of dims from the
 * axis on), output [outer, sum inner_i]: row r of y is row r % rows_i of
 * x_0, then of x_1, ... (rows NULL: every input has outer rows; fewer: a
 * constant repeated over the batch). Input i is rescaled with rq[i]
 * (q8_unary, clamp [-128, 127]); equal parameters copy bytes, which is the
 * same result. */
typedef void (*q8_concat_fn)(int n_inputs, int64_t outer, const int64_t *inner,
                             const int64_t *rows, const struct q8_unary *rq,
                             const int8_t *const *x, int8_t *y);
void q8_concat__ref(int n_inputs, int64_t outer, const int64_t *inner, const int64_t *rows,
                    const struct q8_unary *rq, const int8_t *const *x, int8_t *y);
/* The same bytes with AVX2 (src/kernels/x86/q8_concat_avx2.c), for every
 * level from avx2 up: the requantized inputs 8 bytes at a time. */
void q8_concat__avx2(int n_inputs, int64_t outer, const int64_t *inner, const int64_t *rows,
                     const struct q8_unary *rq, const int8_t *const *x, int8_t *y);
/* Whether rq is the identity requantization (the parameters plan_q8 gives
 * an input whose scale and zero point are the output's): concat copies. */
static inline bool q8_unary_is_identity(const struct q8_unary *rq)
{
    return rq->in_zero_point == rq->out_zero_point && rq->multiplier == (INT32_C(1) << 30) &&
           rq->shift == -1 && rq->qmin == INT8_MIN && rq->qmax == INT8_MAX;
}

/* ---- mean (q8_reduce_ref.c) ---- */

/* x of shape dims[0..rank); the axes with bit a of axes_mask set are
 * reduced (n = product of their dims, n <= 2^24). Output elements in the
 * row-major order of the kept dims (keepdims only changes the shape):
 *   y = clamp(zy + round_half_away(S * M / (n * 2^(31+shift))), qmin, qmax)
 * S = sum (x - zx) over the reduced cells, M/shift ~ sx / sy. */
typedef void (*q8_mean_fn)(int rank, const int64_t *dims, unsigned axes_mask,
                           const struct q8_unary *rq, const int8_t *x, int8_t *y);
void q8_mean__ref(int rank, const int64_t *dims, unsigned axes_mask, const struct q8_unary *rq,
                  const int8_t *x, int8_t *y);

/* ---- linear resize (q8_resize_ref.c) ----
 * x and y share their parameters (a convex combination stays inside x's
 * range). Along a resized axis d, output index o reads indices i0[d][o]
 * and i1[d][o] with the integer weights 2048 - w1[d][o] and w1[d][o]
 * (w1 in [0, 2048], 11 fractional bits, made when the model is planned);
 * other axes (i0 NULL) read index o. With k resized axes (k <= 4):
 *   acc = sum over the 2^k corners of (product of the k weights) * (x - zx)
 *   y   = clamp(zx + round(acc / 2^(11 k)), -128, 127)
 * acc exact in int64 (|acc| <= 2^44 * 255), round to nearest, ties away
 * from zero. */
#define Q8_RESIZE_WEIGHT_BITS 11
#define Q8_RESIZE_MAX_AXES 4
struct q8_resize_params {
    int rank;
    int64_t in[8], out[8];
    const int32_t *i0[8], *i1[8], *w1[8]; /* [out[d]] each, NULL: not resized */
    int32_t zero_point;
};
typedef void (*q8_resize_linear_fn)(const struct q8_resize_params *p, const int8_t *x,
                                    int8_t *y);
void q8_resize_linear__ref(const struct q8_resize_params *p, const int8_t *x, int8_t *y);

/* ---- embedding (q8_embedding_ref.c) ---- */

/* ids [n_ids] (int64), table [vocab, dim] int8, y [n_ids, dim]:
 * y[i, :] = requant of table[ids[i], :] into the output's parameters with
 * rq[0], or with rq[ids[i]] when per_row (a row-wise table: [vocab]
 * entries); a byte copy where the parameters are equal. Returns -1, or
 * the position of the first id outside [0, vocab) (rows before it are
 * written, it and the rest are not). */
typedef int64_t (*q8_embedding_fn)(int64_t n_ids, const int64_t *ids, int64_t vocab, int dim,
                                   const struct q8_unary *rq, bool per_row, const int8_t *table,
                                   int8_t *y);
int64_t q8_embedding__ref(int64_t n_ids, const int64_t *ids, int64_t vocab, int dim,
                          const struct q8_unary *rq, bool per_row, const int8_t *table,
                          int8_t *y);

/* ---- embedding bag (q8_embedding_bag_ref.c) ----
 * Bags as in f32_embedding_bag (kernels.h). The table is int8 (bits 8:
 * rows of dim bytes) or packed 4-bit (bits 4: rows of (dim + 1) / 2 bytes,
 * element j in byte j / 2, low nibble for even j, a two's-complement value
 * in [-8, 7]). Row r reads v[t, j] = (double)scale[r'] * (q - zero_point[r'])
 * with r' = r when per_row, else 0; a weight w[t] is (double)weights[t] or,
 * for int8 weights (weights_q8), (double)w_scale * (wq - w_zero_point).
 * Per column, in double and in id order:
 *   sum   a = sum_t w[t] * v[t, j]   (w[t] = 1 without weights)
 *   mean  a = (sum_t v[t, j]) / count
 *   max   a = max_t v[t, j]
 *   empty bag: a = 0
 * then y = clamp(out_zero_point + round(a / (double)out_scale), -128, 127),
 * round() half away from zero: one rounding per output (quanta-format(5)).
 * Returns -1, or the position of the first id outside [0, vocab). */
struct q8_embedding_bag_params {
    int64_t n_bags, n_ids, bag;     /* bag 0: offsets */
    int64_t vocab;
    int dim;
    int bits;                       /* 8 or 4 */
    int mode;                       /* enum f32_bag_mode */
    bool per_row;
    const float *scale;             /* [vocab] per row, else [1] */
    const int32_t *zero_point;      /* same; NULL: all zero */
    const float *weights;           /* [n_ids] float per-sample weights, or NULL */
    const int8_t *weights_q8;       /* [n_ids] int8 per-sample weights, or NULL */
    float w_scale;
    int32_t w_zero_point;
    float out_scale;
    int32_t out_zero_point;
};
typedef int64_t (*q8_embedding_bag_fn)(const struct q8_embedding_bag_params *p,
                                       const int64_t *ids, const int64_t *offsets,
                                       const int8_t *table, int8_t *y);
int64_t q8_embedding_bag__ref(const struct q8_embedding_bag_params *p, const int64_t *ids,
                              const int64_t *offsets, const int8_t *table, int8_t *y);
/* The same bytes with AVX2 (src/kernels/x86/q8_embedding_bag_avx2.c), for
 * every level from avx2 up: the double arithmetic above on 4 columns a ymm,
 * no FMA, the divisions replaced by multiplies except near a tie. */
int64_t q8_embedding_bag__avx2(const struct q8_embedding_bag_params *p, const int64_t *ids,
                               const int64_t *offsets, const int8_t *table, int8_t *y);

/* ---- softmax (q8_softmax_ref.c): int8 in, float out ----
 * x viewed as [outer, len, inner], softmax along len. With
 * table[k] = (float)exp(-sx * k) for k in [0, 255] (built at plan time in
 * double, rounded once to float) and, per row, m = max x:
 *   e_j = table[m - x_j];  s = e_0 + e_1 + ... (float, in order j = 0, 1, ...)
 *   y_j = e_j / s (float division)
 * The output is float (real probabilities). If the graph's output is
 * quantized, the runtime passes y through q8_quantize__ref. */
typedef void (*q8_softmax_fn)(int64_t outer, int64_t len, int64_t inner, const float table[256],
                              const int8_t *x, float *y);
void q8_softmax__ref(int64_t outer, int64_t len, int64_t inner, const float table[256],
                     const int8_t *x, float *y);

/* ---- quantize / dequantize (q8_quantize_ref.c): the graph ops ---- */

/* quantize: y = clamp(round_half_away((double)x / (double)scale) + zp, qmin, qmax)
 * (requant.h q8_quantize_value; NaN -> zp). dequantize: y = scale * (float)(q - zp).
 * zp, qmin, qmax in the int8 domain (U8 values offset by -128). */
struct q8_quantize_params {
    float scale;
    int32_t zero_point;
    int32_t qmin, qmax;
};

typedef void (*q8_quantize_fn)(int64_t n, const struct q8_quantize_params *p, const float *x,
                               int8_t *y);
void q8_quantize__ref(int64_t n, const struct q8_quantize_params *p, const float *x, int8_t *y);
typedef void (*q8_dequantize_fn)(int64_t n, const struct q8_quantize_params *p, const int8_t *x,
                                 float *y);
void q8_dequantize__ref(int64_t n, const struct q8_quantize_params *p, const int8_t *x, float *y);

/* U8 bytes <-> the int8 domain (q - 128, i.e. byte ^ 0x80), for data that
 * enters or leaves the runtime as raw U8. In place allowed. */
void q8_u8_to_i8(int64_t n, const uint8_t *x, int8_t *y);
void q8_i8_to_u8(int64_t n, const int8_t *x, uint8_t *y);

/* ---- packed conv2d and dense (every level; fast at avx2 and above) ----
 *
 * The same arithmetic and the same bytes as q8_conv2d__ref / q8_dense__ref,
 * with the weights packed ONCE (at plan time) into the layout of the
 * level's micro-kernels and caller-owned scratch:
 *
 *   pack_size(s)       bytes of the packed weights, bias and per-channel
 *                      weight sums; depends only on out_c, kernel_h/w, in_c
 *                      and groups (dense: in_features, out_features).
 *   pack(s, w, bias, packed)
 *                      w and bias (NULL: zeros) in the layouts of conv2d /
 *                      dense above; writes pack_size(s) bytes.
 *   scratch_size(s)    bytes of scratch the packed kernel needs; the same
 *                      for every batch and spatial size (0: pass NULL).
 *   packed(s, rq, x, packed, scratch, y)
 *                      y exactly as the reference gives for the packed
 *                      weights; rq is read at run time (zero points,
 *                      multipliers), so one packing serves any rq.
 *
 * A table's pack and packed entries pair only with each other (the layout
 * differs per level). packed must be aligned to 4 bytes (it holds int32
 * sections; 64 is faster); scratch needs no alignment. packed is
 * read-only when running and may be shared by threads, scratch may not.
 * Inside, conv2d picks by shape: depthwise (groups == in_c == out_c) runs
 * a direct kernel with SIMD over channels; everything else runs a
 * u8 x s8 -> s32 GEMM per group on rows copied into the scratch (im2col
 * from a padded copy of the image), or, at the vnni level, read in place
 * from that padded copy (avx2: vpmaddwd on
 * exactly sign-extended 16-bit values; vnni: vpdpbusd with activations
 * shifted to u8 by +128 and (zx + 128) * sum_k w[o][k] subtracted from the
 * s32 sum; amx: tdpbusd tiles on the same layout). A reduction longer than
 * 65535 (where an int32 sum might overflow) runs the reference on the
 * stored weights. */
typedef size_t (*q8_conv2d_size_fn)(const struct q8_conv2d_shape *s);
typedef void (*q8_conv2d_pack_fn)(const struct q8_conv2d_shape *s, const int8_t *w,
                                  const int32_t *bias, void *packed);
typedef void (*q8_conv2d_packed_fn)(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                                    const int8_t *x, const void *packed, void *scratch,
                                    int8_t *y);
typedef size_t (*q8_dense_size_fn)(const struct q8_dense_shape *s);
typedef void (*q8_dense_pack_fn)(const struct q8_dense_shape *s, const int8_t *w,
                                 const int32_t *bias, void *packed);
typedef void (*q8_dense_packed_fn)(const struct q8_dense_shape *s, const struct q8_requant *rq,
                                   const int8_t *x, const void *packed, void *scratch, int8_t *y);

/* Declares one level's packed entries: q8_conv2d_pack_size__<isa>, ... */
#define Q8_PACKED_DECLARE(isa)                                                                 \
    size_t q8_conv2d_pack_size__##isa(const struct q8_conv2d_shape *s);                        \
    void q8_conv2d_pack__##isa(const struct q8_conv2d_shape *s, const int8_t *w,               \
                               const int32_t *bias, void *packed);                             \
    size_t q8_conv2d_scratch_size__##isa(const struct q8_conv2d_shape *s);                     \
    void q8_conv2d_packed__##isa(const struct q8_conv2d_shape *s, const struct q8_requant *rq,  \
                                 const int8_t *x, const void *packed, void *scratch,           \
                                 int8_t *y);                                                   \
    size_t q8_dense_pack_size__##isa(const struct q8_dense_shape *s);                          \
    void q8_dense_pack__##isa(const struct q8_dense_shape *s, const int8_t *w,                 \
                              const int32_t *bias, void *packed);                              \
    size_t q8_dense_scratch_size__##isa(const struct q8_dense_shape *s);                       \
    void q8_dense_packed__##isa(const struct q8_dense_shape *s, const struct q8_requant *rq,    \
                                const int8_t *x, const void *packed, void *scratch,            \
                                int8_t *y);
/* ref: packed = weights as stored + bias, run by the reference kernels.
 * All packing and the shared driver: src/kernels/q8_packed.c. avx2: int16
 * pairs, 6x16 tiles (src/kernels/x86/q8_gemm_avx2.c); avx512: the same
 * layout, 8x32 zmm tiles (q8_gemm_avx512.c). vnni: u8 quads,
 * 8x32 tiles (q8_gemm_vnni.c). amx: the vnni layout with K padded to 64,
 * 32x32 tiles of 16x16 s32 (q8_gemm_amx.c). neon: the avx2 layout, 4x16
 * tiles (src/kernels/arm64/q8_gemm_neon.c); dotprod: the vnni layout, 4x16
 * SDOT tiles (q8_gemm_dotprod.c); i8mm: u8 octets, 4x16 tiles of 2x2
 * USMMLA blocks (q8_gemm_i8mm.c). */
Q8_PACKED_DECLARE(ref)
Q8_PACKED_DECLARE(avx2)
Q8_PACKED_DECLARE(avx512)
Q8_PACKED_DECLARE(vnni)
Q8_PACKED_DECLARE(neon)
Q8_PACKED_DECLARE(dotprod)
Q8_PACKED_DECLARE(i8mm)
Q8_PACKED_DECLARE(amx)

/* Fast element-wise families (same typedefs as the reference ones):
 * src/kernels/x86/q8_pool_avx2.c, q8_pool_avx512.c. */
void q8_max_pool2d__avx2(const struct q8_pool2d_shape *shape, const struct q8_unary *rq,
                         const int8_t *x, int8_t *y);
void q8_avg_pool2d__avx2(const struct q8_pool2d_shape *shape, const struct q8_unary *rq,
                         const int8_t *x, int8_t *y);
void q8_global_avg_pool__avx2(int64_t batch, int64_t hw, int c, const struct q8_unary *rq,
                              const int8_t *x, int8_t *y);
void q8_add__avx2(int64_t n, int64_t b_n, const struct q8_add_params *p, const int8_t *a,
                  const int8_t *b, int8_t *y);
void q8_max_pool2d__avx512(const struct q8_pool2d_shape *shape, const struct q8_unary *rq,
                           const int8_t *x, int8_t *y);
void q8_avg_pool2d__avx512(const struct q8_pool2d_shape *shape, const struct q8_unary *rq,
                           const int8_t *x, int8_t *y);
void q8_global_avg_pool__avx512(int64_t batch, int64_t hw, int c, const struct q8_unary *rq,
                                const int8_t *x, int8_t *y);
void q8_add__avx512(int64_t n, int64_t b_n, const struct q8_add_params *p, const int8_t *a,
                    const int8_t *b, int8_t *y);
/* src/kernels/x86/q8_quantize_avx2.c, q8_quantize_avx512.c: the same bytes
 * as q8_quantize__ref / q8_dequantize__ref (ties, saturation, NaN). */
void q8_quantize__avx2(int64_t n, const struct q8_quantize_params *p, const float *x, int8_t *y);
void q8_dequantize__avx2(int64_t n, const struct q8_quantize_params *p, const int8_t *x, float *y);
void q8_quantize__avx512(int64_t n, const struct q8_quantize_params *p, const float *x,
                         int8_t *y);
void q8_dequantize__avx512(int64_t n, const struct q8_quantize_params *p, const int8_t *x,
                           float *y);
/* The same bytes in NEON (src/kernels/arm64/q8_pool_neon.c, q8_add_neon.c,
 * q8_quantize_neon.c, q8_concat_neon.c), for neon, dotprod and i8mm. */
void q8_max_pool2d__neon(const struct q8_pool2d_shape *shape, const struct q8_unary *rq,
                         const int8_t *x, int8_t *y);
void q8_avg_pool2d__neon(const struct q8_pool2d_shape *shape, const struct q8_unary *rq,
                         const int8_t *x, int8_t *y);
void q8_global_avg_pool__neon(int64_t batch, int64_t hw, int c, const struct q8_unary *rq,
                              const int8_t *x, int8_t *y);
void q8_add__neon(int64_t n, int64_t b_n, const struct q8_add_params *p, const int8_t *a,
                  const int8_t *b, int8_t *y);
void q8_quantize__neon(int64_t n, const struct q8_quantize_params *p, const float *x, int8_t *y);
void q8_dequantize__neon(int64_t n, const struct q8_quantize_params *p, const int8_t *x, float *y);
void q8_concat__neon(int n_inputs, int64_t outer, const int64_t *inner, const int64_t *rows,
                     const struct q8_unary *rq, const int8_t *const *x, int8_t *y);

/* ---- the seam for fast kernels (src/kernels/q8_dispatch.c) ----
 * One pointer per family. The level is the process-wide one of
 * src/kernels/kernels.h (kernels_init / kernels_select); a fast level adds
 * its table in q8_dispatch.c. */
struct q8_kernels {
    const char *level;          /* "ref", ... */
    q8_conv2d_fn conv2d;
    q8_dense_fn dense;
    q8_pool2d_fn max_pool2d;
    q8_pool2d_fn avg_pool2d;
    q8_global_avg_pool_fn global_avg_pool;
    q8_add_fn add;
    q8_mul_fn mul;
    q8_matmul_fn matmul;
    q8_unary_fn requant_clamp;
    q8_leaky_relu_fn leaky_relu;
    q8_lut_fn lut;
    q8_concat_fn concat;
    q8_mean_fn mean;
    q8_embedding_fn embedding;
    q8_embedding_bag_fn embedding_bag;
    q8_resize_linear_fn resize_linear;
    q8_softmax_fn softmax;
    q8_quantize_fn quantize;
    q8_dequantize_fn dequantize;
    q8_conv2d_f32_fn conv2d_f32;    /* float output from the accumulator */
    q8_dense_f32_fn dense_f32;

    /* Packed conv2d/dense (added for the fast levels; see "packed conv2d
     * and dense" above). conv2d and dense above take the weights as stored
     * and run the reference at every level. */
    q8_conv2d_size_fn conv2d_pack_size;
    q8_conv2d_pack_fn conv2d_pack;
    q8_conv2d_size_fn conv2d_scratch_size;
    q8_conv2d_packed_fn conv2d_packed;
    q8_dense_size_fn dense_pack_size;
    q8_dense_pack_fn dense_pack;
    q8_dense_size_fn dense_scratch_size;
    q8_dense_packed_fn dense_packed;
};

/* The int8 table of the chosen level; NULL while kernels_init fails. */
const struct q8_kernels *q8_kernels_get(void);
/* The int8 table of a level, or NULL when this CPU or build lacks it
 * (tests compare every level with ref through this). */
const struct q8_kernels *q8_kernels_for_level(enum kernels_level level);

#endif

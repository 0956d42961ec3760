/* Plan-time preparation of the int8 kernels' integer parameters from the
 * graph's float scales and zero points (struct graph_quant). This is the
 * only place where float touches the int8 path: the runtime calls one
 * q8_<op>_prepare per node when it plans, then runs the kernels of
 * src/kernels/kernels_q8.h with integers only.
 *
 * Common rules:
 * - Activation values (inputs/outputs) must be I8 or U8, per tensor, with a
 *   finite scale > 0 and a zero point in [-128, 127] (I8) or [0, 255] (U8).
 *   U8 zero points come back offset by -128 (the kernels' int8 domain).
 * - Weights must be I8 with every zero point 0, per tensor or per channel
 *   along axis 0 (the output channel).
 * - Every real multiplier is computed in double from the float scales, in
 *   the order written next to each function (a product of two floats is
 *   exact in double; each division rounds once), then converted by
 *   q8_multiplier_from_double (src/kernels/requant.h). A multiplier outside
 *   the representable range fails the prepare (QUANTA_ERR_INPUT).
 * - Messages name the node: "node 'conv1': weight scale of channel 3 is 0,
 *   not a positive finite number". node may be NULL ("?"). */
#ifndef QUANTA_RUNTIME_Q8_PARAMS_H
#define QUANTA_RUNTIME_Q8_PARAMS_H

#include <stdint.h>
#include "kernels/kernels_q8.h"
#include "quanta/graph.h"
#include "quanta/status.h"

/* A per-tensor activation's parameters in the kernels' int8 domain. */
struct q8_tensor {
    float scale;
    int32_t zero_point;         /* U8: zero_point - 128 */
};

/* Validates an activation's graph_quant (what: "input", "output", ...
 * for messages) and gives its int8-domain parameters. */
enum quanta_status q8_tensor_params(const struct graph_quant *q, const char *node, const char *what,
                                    struct q8_tensor *out, struct quanta_error *err);

/* Clamp bounds of a fused activation in the output's int8 domain:
 *   none:  [-128, 127]
 *   relu:  [zy, 127]
 *   relu6: [zy, min(127, zy + round_half_away(6.0 / (double)sy))] */
void q8_activation_bounds(enum graph_activation act, const struct q8_tensor *out, int32_t *qmin,
                          int32_t *qmax);

/* conv2d and dense. m[o] = ((double)s_in * (double)s_w[o]) / (double)s_out.
 * multiplier and shift are caller arrays of out_channels entries; rq points
 * at them (rq->n is 1 for per-tensor weights, else out_channels). bias may
 * be NULL or a float (unquantized) bias — then it is not checked; a
 * quantized bias must be I32, zero point 0, scale s_in * s_w[o] within a
 * relative 1e-5. */
enum quanta_status q8_conv2d_prepare(const struct graph_quant *in, const struct graph_quant *w,
                                     const struct graph_quant *bias, const struct graph_quant *out,
                                     enum graph_activation act, int out_channels,
                                     int32_t *multiplier, int32_t *shift, struct q8_requant *rq,
                                     const char *node, struct quanta_error *err);
/* conv2d and dense whose output is float (kernels_q8.h, struct
 * q8_acc_f32): the same input, weight and bias rules, no output
 * parameters; scale[o] = (float)((double)s_in * (double)s_w[o]) into the
 * caller's array of out_channels entries, [lo, hi] from act (none: the
 * infinities, relu: [0, inf], relu6: [0, 6]). */
enum quanta_status q8_reduction_f32_prepare(const struct graph_quant *in,
                                            const struct graph_quant *w,
                                            const struct graph_quant *bias,
                                            enum graph_activation act, int out_channels,
                                            float *scale, struct q8_acc_f32 *p, const char *node,
                                            struct quanta_error *err);
enum quanta_status q8_dense_prepare(const struct graph_quant *in, const struct graph_quant *w,
                                    const struct graph_quant *bias, const struct graph_quant *out,
                                    enum graph_activation act, int out_features,
                                    int32_t *multiplier, int32_t *shift, struct q8_requant *rq,
                                    const char *node, struct quanta_error *err);

/* One input rescaled into the output: relu (act RELU), relu6 (RELU6),
 * reshape/flatten, max/avg pools, global avg pool, mean, each concat
 * input, embedding (in = the table). m = (double)sx / (double)sy. */
enum quanta_status q8_unary_prepare(const struct graph_quant *in, const struct graph_quant *out,
                                    enum graph_activation act, struct q8_unary *p,
                                    const char *node, struct quanta_error *err);

/* leaky_relu: pos m = (double)sx / (double)sy,
 * neg m = ((double)alpha * (double)sx) / (double)sy. */
enum quanta_status q8_leaky_relu_prepare(const struct graph_quant *in,
                                         const struct graph_quant *out, float alpha,
                                         struct q8_leaky_relu_params *p,
                                         const char *node, struct quanta_error *err);

/* add: t = 2 * max((double)sa, (double)sb); ma = sa / t; mb = sb / t;
 * mo = t / (2^20 * (double)sy); left_shift 20. */
enum quanta_status q8_add_prepare(const struct graph_quant *a, const struct graph_quant *b,
                                  const struct graph_quant *out, enum graph_activation act,
                                  struct q8_add_params *p, const char *node,
                                  struct quanta_error *err);

/* mul: m = ((double)sa * (double)sb) / (double)sy. */
enum quanta_status q8_mul_prepare(const struct graph_quant *a, const struct graph_quant *b,
                                  const struct graph_quant *out, enum graph_activation act,
                                  struct q8_mul_params *p, const char *node,
                                  struct quanta_error *err);

/* The table of any unary f: for i in [0, 256), q = i - 128,
 *   table[i] = clamp(zy + round_half_away(f((double)sx * (q - zx)) / (double)sy), qmin, qmax)
 * in double (the division then C round(); a NaN f gives zy). */
enum quanta_status q8_lut_prepare_fn(double (*f)(double x, void *ctx), void *ctx,
                                     const struct graph_quant *in, const struct graph_quant *out,
                                     int32_t qmin, int32_t qmax, int8_t table[256],
                                     const char *node, struct quanta_error *err);
/* op GRAPH_OP_SIGMOID: f(x) = 1 / (1 + exp(-x)); GRAPH_OP_TANH: f = tanh
 * (C99 libm, double); clamp [-128, 127]. Other ops: QUANTA_ERR_INTERNAL. */
enum quanta_status q8_lut_prepare(enum graph_op op, const struct graph_quant *in,
                                  const struct graph_quant *out, int8_t table[256],
                                  const char *node, struct quanta_error *err);

/* softmax: table[k] = (float)exp(-(double)sx * k), k in [0, 256). */
enum quanta_status q8_softmax_prepare(const struct graph_quant *in, float table[256],
                                      const char *node, struct quanta_error *err);

/* quantize (q = the output's params) and dequantize (q = the input's):
 * scale, int8-domain zero point, clamp [-128, 127]. */
enum quanta_status q8_quantize_prepare(const struct graph_quant *q, struct q8_quantize_params *p,
                                       const char *node, struct quanta_error *err);

#endif

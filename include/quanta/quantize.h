/* Rewriting a float model for quantization (quanta quantize) and back
 * (quanta dequantize). See man quanta-quantize(1) for the rules.
 *
 * Every function builds a NEW graph in *out: values unchanged from the
 * source keep pointing at its constant data (so the source's file mapping
 * must outlive out), new constant data is owned by out (graph_value.owned).
 * out is ready for graph_save; free it with graph_free. Deterministic: the
 * same source, options and ranges give the same graph, byte for byte. */
#ifndef QUANTA_QUANTIZE_H
#define QUANTA_QUANTIZE_H

#include <stdbool.h>
#include <stdint.h>
#include "quanta/dtype.h"
#include "quanta/graph.h"
#include "quanta/status.h"

enum quantize_mode {
    QUANTIZE_STATIC,      /* int8 weights and activations, integer arithmetic */
    QUANTIZE_WEIGHT_ONLY, /* I8 weights (conv2d, dense), float activations and biases */
    QUANTIZE_FP16,        /* every float constant stored as F16 */
};

enum quantize_granularity {
    QUANTIZE_PER_CHANNEL, /* one scale per output channel (axis 0) */
    QUANTIZE_PER_TENSOR,
};

enum quantize_scheme {
    QUANTIZE_ASYMMETRIC,  /* zero point anywhere in the type's range */
    QUANTIZE_SYMMETRIC,   /* zero point 0 (I8) or 128 (U8) */
};

struct quantize_options {
    enum quantize_mode mode;                 /* default QUANTIZE_STATIC */
    enum quantize_granularity weights;       /* default QUANTIZE_PER_CHANNEL */
    enum quantize_scheme activations;        /* default QUANTIZE_ASYMMETRIC */
    enum quanta_dtype activation_type;       /* QUANTA_I8 (default) or QUANTA_U8 */
    const char *const *exclude;              /* node names kept in float */
    int n_exclude;
};

/* mode static, per-channel, asymmetric, I8, nothing excluded. */
void quantize_options_default(struct quantize_options *opt);

/* Calibration ranges, looked up by value name (a graph input or a node
 * output of the float model). find returns false when the table has no
 * range for that value; otherwise [*lo, *hi] with lo <= hi, finite. */
struct quantize_ranges {
    bool (*find)(void *ctx, const char *value, float *lo, float *hi);
    void *ctx;
};

/* The rewrite. src is a validated float graph (a graph with quant entries
 * is refused: QUANTA_ERR_INPUT). ranges is needed by QUANTIZE_STATIC only
 * (may be NULL otherwise); a value the int8 graph needs and the table lacks
 * is QUANTA_ERR_INPUT naming it. An --exclude name that is no node of src
 * is QUANTA_ERR_USAGE. source names src in messages. */
enum quanta_status quantize_model(const struct graph *src, const struct quantize_options *opt,
                                  const struct quantize_ranges *ranges, struct graph *out,
                                  const char *source, struct quanta_error *err);

/* quantized (or fp16) graph -> float graph the float runner runs: I8/U8
 * weights become F32 scale*(q - zero_point), I32 biases F32, F16/BF16
 * constants F32, quantize/dequantize nodes are removed (their consumers
 * read the value before them; a graph output keeps its name), activation
 * quant entries are dropped. */
enum quanta_status dequantize_model(const struct graph *q, struct graph *out, const char *source,
                                    struct quanta_error *err);

/* Folds every batch_norm whose input is the output of a conv2d or dense
 * (without fused activation) read by nothing else into that node (new F32
 * weights and bias; the node's output takes the batch_norm output's name).
 * With fuse_relu, a relu/relu6 reading the output of a conv2d, dense, add
 * or mul (no fused activation, read by nothing else) becomes that node's
 * activation, likewise. Nodes named in exclude are left alone. Called by
 * quantize_model; public for tests. */
enum quanta_status quantize_fold(const struct graph *src, bool fuse_relu,
                                 const char *const *exclude, int n_exclude, struct graph *out,
                                 const char *source, struct quanta_error *err);

/* ---- parameters (pure functions; public for tests) ---- */

/* Activation parameters for the range [lo, hi] (widened to include 0) in
 * dtype I8 ([-128, 127]) or U8 ([0, 255]): asymmetric scale = (hi - lo) /
 * 255, zero_point = round(qmin - lo / scale) clamped into the type's range
 * (0.0 is then exactly q = zero_point); symmetric scale = max(|lo|, |hi|) /
 * 127, zero_point 0 (I8) or 128 (U8). A range of width 0 gets scale 1.
 * Non-finite bounds are QUANTA_ERR_INPUT. */
enum quanta_status quantize_choose_params(float lo, float hi, enum quanta_dtype dtype,
                                          enum quantize_scheme scheme, float *scale,
                                          int32_t *zero_point, struct quanta_error *err);

/* Symmetric int8 weights, values in [-127, 127], zero point 0.
 * w holds n_channels rows of channel_size floats (channel = first axis);
 * per channel: scales[c] = max|w[c]| / 127 (1 for an all-zero row);
 * per tensor (n_channels treated as 1 for the scale): scales[0] only.
 * q[i] = clamp(round(w[i] / scale), -127, 127), rounding half away from 0. */
void quantize_weights_i8(const float *w, int64_t n_channels, int64_t channel_size,
                         bool per_channel, int8_t *q, float *scales);

/* q[i] = clamp(round(b[i] / scales[per_channel ? i : 0]), INT32_MIN, INT32_MAX) in double. */
void quantize_bias_i32(const float *b, int64_t n, const float *scales, bool per_channel,
                       int32_t *q);

#endif

/* The graph optimizer: one rewrite of a float graph that the float runner
 * runs and the quantizer quantizes, so both see the same computation.
 *
 * Passes, in order (each keeps the names of the values it keeps, and a
 * fused node writes the value the absorbed node wrote, under its name):
 *   const     a node whose inputs are all float constants becomes its
 *             output, a constant of the same name, when graph_const.h
 *             computes it with the kernels' exact arithmetic (else a
 *             "not folded" line, counted as no rewrite)
 *   fold      batch_norm into the conv2d/dense writing its input (read by
 *             it alone): w' = w * s, b' = (b - mean) * s + beta per output
 *             channel, s = gamma / sqrt(var + eps), in double, stored F32
 *   scale     (int8 only) a batch_norm left on a 4-D [N, H, W, C] input
 *             becomes a 1x1 depthwise conv2d (groups C, weight [C, 1, 1, 1]
 *             = s, bias = beta - mean * s), which int8 kernels run: no
 *             dequantize -> float -> quantize round trip around it
 *   residual  (float only) an add of two same-shape values, one written by
 *             a conv2d/dense (read by the add alone, no activation), the
 *             other defined before that node runs, becomes the node's input
 *             3: y = act(conv + bias + residual), one pass over y instead of
 *             two; the add's activation moves with it
 *   fuse      an activation into the conv2d/dense/matmul (clamps: also
 *             add/mul) writing its input, as the node's activation attr
 *   collapse  reshape/flatten of a reshape/flatten reads the first one's
 *             input (when both keep the batch axis or neither does);
 *             transpose of a transpose becomes one (none for identity)
 *   dead      nodes whose outputs nothing reads and no graph output is
 * Float results change by rounding only (the folded weights). */
#ifndef QUANTA_GRAPH_OPTIMIZE_H
#define QUANTA_GRAPH_OPTIMIZE_H

#include "quanta/graph.h"

/* Which activations the fuse pass may fuse. */
enum graph_fuse_level {
    GRAPH_FUSE_FLOAT, /* every one the float kernels apply (graph_activation), and
                         residual adds */
    GRAPH_FUSE_INT8,  /* relu and relu6, which int8 kernels clamp */
    GRAPH_FUSE_NONE,
};

struct graph_optimize_options {
    enum graph_fuse_level fuse;
    bool batch_norm_as_conv;    /* the scale pass (for int8) */
    const char *const *exclude; /* nodes left as they are (neither fused nor absorbed) */
    int n_exclude;
};

/* What the passes did: a count per pass and one line per rewrite. */
enum graph_pass { GRAPH_PASS_CONST, GRAPH_PASS_FOLD, GRAPH_PASS_SCALE, GRAPH_PASS_RESIDUAL, GRAPH_PASS_FUSE,
                  GRAPH_PASS_COLLAPSE, GRAPH_PASS_DEAD, GRAPH_PASS_COUNT };
struct graph_optimize_log {
    int count[GRAPH_PASS_COUNT];
    char *text; /* "fold: batch_norm 'bn1' into conv2d 'conv1'\n"..., NULL if none */
    size_t len;
};
const char *graph_pass_name(enum graph_pass pass);
void graph_optimize_log_free(struct graph_optimize_log *log);

/* Writes the optimized copy of src to out (validated; constants not
 * rewritten still point at src's data, so its file must outlive out).
 * log may be NULL. Values with quantization parameters are left alone. */
enum quanta_status graph_optimize(const struct graph *src, const struct graph_optimize_options *opt,
                                  struct graph *out, struct graph_optimize_log *log,
                                  const char *source, struct quanta_error *err);

#endif

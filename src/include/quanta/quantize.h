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
#include <stddef.h>
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

struct quantize_notes;
struct quantize_applied;

/* Per-channel means of float activations (last axis), looked up by value
 * name: for bias correction. find returns false when there are none for
 * that value; otherwise *n channel means at *mean (owned by ctx). */
struct quantize_means {
    bool (*find)(void *ctx, const char *value, int64_t *n, const double **mean);
    void *ctx;
};

struct quantize_options {
    enum quantize_mode mode;                 /* default QUANTIZE_STATIC */
    enum quantize_granularity weights;       /* default QUANTIZE_PER_CHANNEL */
    enum quantize_scheme activations;        /* default QUANTIZE_ASYMMETRIC */
    enum quanta_dtype activation_type;       /* QUANTA_I8 (default) or QUANTA_U8 */
    const char *const *exclude;              /* node names kept in float */
    int n_exclude;
    bool allow_nonfinite;                    /* NaN/Inf constants accepted (default false) */
    bool int8_outputs;                       /* static: a graph output of an int8
                                                conv2d/dense is requantized to int8
                                                and dequantized (the old form), not
                                                float from the accumulator (default
                                                false) */
    bool int8_scores;                        /* static: a matmul of two activations whose
                                                output reaches a softmax (attention
                                                scores) runs int8 too (default false:
                                                float, see quanta-quantize(1)) */
    int embedding_bits;                      /* embedding tables: 8 (I8 per row, default)
                                                or 4 (I4 per row, packed) */
    struct quantize_notes *notes;            /* when not NULL, receives what the rewrite
                                                adjusted (default NULL) */
    bool equalize;                           /* static: cross-layer equalization of
                                                conv2d/dense pairs before quantizing
                                                (quantize_equalize; default false: the
                                                ranges must come from calibrating
                                                quantize_prepare's graph) */
    const struct quantize_means *means;      /* static: bias correction from the means
                                                of each int8 conv2d/dense input
                                                (NULL: none, the default) */
    struct quantize_applied *applied;        /* when not NULL, receives the pairs
                                                equalized and nodes corrected */
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

/* ---- what the rewrite adjusted to keep results right ----
 * Static mode never clamps silently: where calibrated parameters would give
 * a wrong int8 result, the rewrite changes them by one of these documented
 * rules (man quanta-quantize(1), ADJUSTMENTS) and records a note. */

/* The smallest activation scale: a range narrower than 255 * 2^-100 is
 * widened to it, so that scale products (bias scales) stay normal floats. */
#define QUANTIZE_MIN_SCALE 0x1p-100
/* An I32 bias scale (input scale * weight scale) is at least this (a
 * normal float32 with room to spare). */
#define QUANTIZE_MIN_BIAS_SCALE 0x1p-120
/* One step of a node's input (or accumulator) spans at most this many
 * output steps: requantization multipliers stay below 2^30 with room. */
#define QUANTIZE_MAX_STEP_RATIO 0x1p29

enum quantize_note_kind {
    QUANTIZE_NOTE_BIAS_FIT,     /* weight scales widened so the I32 bias fits
                                   (and the bias scale stays a normal float) */
    QUANTIZE_NOTE_ZERO_RANGE,   /* calibrated range [0, 0]: scale 1 */
    QUANTIZE_NOTE_NARROW_RANGE, /* output scale widened to QUANTIZE_MAX_STEP_RATIO */
    QUANTIZE_NOTE_MIN_SCALE,    /* activation scale raised to QUANTIZE_MIN_SCALE */
    QUANTIZE_NOTE_PAD_VALUE,    /* an int8 pad's constant is no step of its input:
                                   from the constant, to the value it becomes */
};

struct quantize_note {
    enum quantize_note_kind kind;
    char *node;                 /* the node whose parameters changed (NULL: a graph input) */
    char *value;                /* the value (weight for BIAS_FIT) */
    int channels, total;        /* BIAS_FIT: channels widened of total (per tensor: 1 of 1) */
    double from, to;            /* scale before and after; BIAS_FIT: of the channel
                                   widened most */
};

struct quantize_notes {
    struct quantize_note *list;
    int n;
};

void quantize_notes_free(struct quantize_notes *notes);
/* The note as one line without a newline, e.g. "node 'fc': weight scale of
 * 3 of 10 channels widened (up to 41.2x) so the int32 bias fits". */
void quantize_note_format(const struct quantize_note *note, char *buf, size_t size);
/* The notes as a JSON array (the metadata key quanta.quantize.adjustments):
 * {"rule", "node" (or null), "value", ["channels", "of",] "from", "to"}
 * per note. malloc'd; NULL: no memory. */
char *quantize_notes_json(const struct quantize_notes *notes);
/* Reads what quantize_notes_json wrote; false (notes empty) if json is not
 * such an array or memory ran out. */
bool quantize_notes_parse(const char *json, struct quantize_notes *notes);
/* Short name of the rule: "bias_fit", "zero_range", "narrow_range", "min_scale",
 * "pad_value". */
const char *quantize_note_kind_name(enum quantize_note_kind kind);

/* The rewrite. src is a validated float graph (a graph with quant entries
 * is refused: QUANTA_ERR_INPUT). ranges is needed by QUANTIZE_STATIC only
 * (may be NULL otherwise); a value the int8 graph needs and the table lacks
 * is QUANTA_ERR_INPUT naming it. An --exclude name that is no node of src
 * is QUANTA_ERR_USAGE. A float constant holding NaN or Inf is
 * QUANTA_ERR_INPUT naming it unless opt->allow_nonfinite. source names src
 * in messages. */
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
 * activation, likewise, and a batch_norm left on a 4-D input becomes a 1x1
 * depthwise conv2d (int8 runs it). Nodes named in exclude are left alone. It is the
 * graph optimizer's rewrite (src/graph/graph_optimize.h, which also
 * computes nodes of constants once, collapses reshape chains and drops
 * dead nodes), the one the float runner
 * runs. Called by quantize_model; public for tests. */
enum quanta_status quantize_fold(const struct graph *src, bool fuse_relu,
                                 const char *const *exclude, int n_exclude, struct graph *out,
                                 const char *source, struct quanta_error *err);

/* ---- cross-layer equalization and bias correction ----
 * (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization
 * and Bias Correction"; man quanta-quantize(1), EQUALIZATION) */

/* At most this many passes over the pairs; fewer when no scale of a pass
 * moves by more than QUANTIZE_EQUALIZE_TOL (relative). */
#define QUANTIZE_EQUALIZE_PASSES 32
#define QUANTIZE_EQUALIZE_TOL 1e-4

struct quantize_pair {
    char *first, *second;       /* node names: first's output channels feed second */
    int channels;               /* channels rescaled (range 0 on either side: left) */
    double min_scale, max_scale;/* of the product of the passes' s_i */
};

struct quantize_corrected {
    char *node;
    double max_shift;           /* largest |shift_o| subtracted from the bias */
};

struct quantize_applied {
    int passes;                 /* equalization passes run (0: none) */
    int n_pairs;
    struct quantize_pair *pairs;
    int n_corrected;
    struct quantize_corrected *corrected;
};

void quantize_applied_free(struct quantize_applied *a);
/* {"equalize": {"passes": P, "pairs": [{"first", "second", "channels",
 * "min_scale", "max_scale"}...]}, "bias_correction": [{"node",
 * "max_shift"}...]}: the metadata key quanta.quantize.applied. malloc'd;
 * NULL: no memory. */
char *quantize_applied_json(const struct quantize_applied *a);

/* Cross-layer equalization of a float graph in place: for every conv2d or
 * dense A whose output (read by nothing else, no graph output) feeds
 * conv2d or dense B directly or through nodes that commute with a positive
 * per-channel scale (A's fused activation none or relu; relu, max_pool2d,
 * avg_pool2d, global_avg_pool nodes, each read only by the next), each
 * output channel i of A
 * is scaled by 1/s_i and B's input channel i by s_i,
 *   s_i = sqrt(r1_i * r2_i) / r2_i,
 * r1_i = max |W_A[i,...]|, r2_i = max |W_B[.., i]| (left alone when either
 * is 0), which keeps the float function (relu(x/s) = relu(x)/s, s > 0).
 * relu6 is left out: its bound 6 would become 6/s_i per channel. Weights
 * and biases must be float constants read only by that node. Passes repeat
 * until the scales settle (QUANTIZE_EQUALIZE_PASSES, _TOL). Excluded nodes
 * take no part. applied (may be NULL) receives the pairs. */
enum quanta_status quantize_equalize(struct graph *g, const char *const *exclude, int n_exclude,
                                     struct quantize_applied *applied, const char *source,
                                     struct quanta_error *err);

/* The float graph quantize_model quantizes (static mode): src folded
 * (quantize_fold with relu fusion) and, with opt->equalize, equalized.
 * Calibrate this graph when opt->equalize is set: layer outputs change
 * per channel. Deterministic, as quantize_model. */
enum quanta_status quantize_prepare(const struct graph *src, const struct quantize_options *opt,
                                    struct graph *out, const char *source,
                                    struct quanta_error *err);

/* ---- parameters (pure functions; public for tests) ---- */

/* Activation parameters for the range [lo, hi] (widened to include 0) in
 * dtype I8 ([-128, 127]) or U8 ([0, 255]): asymmetric scale = (hi - lo) /
 * 255, zero_point = round(qmin - lo / scale) clamped into the type's range
 * (0.0 is then exactly q = zero_point); symmetric scale = max(|lo|, |hi|) /
 * 127, zero_point 0 (I8) or 128 (U8). A range of width 0 gets scale 1;
 * a scale below QUANTIZE_MIN_SCALE is raised to it. Non-finite bounds are
 * QUANTA_ERR_INPUT. */
enum quanta_status quantize_choose_params(float lo, float hi, enum quanta_dtype dtype,
                                          enum quantize_scheme scheme, float *scale,
                                          int32_t *zero_point, struct quanta_error *err);

/* The zero point quantize_choose_params gives a range starting at lo when
 * the scale is `scale` (for a scale widened after the choice). */
int32_t quantize_zero_point(float lo, enum quanta_dtype dtype, enum quantize_scheme scheme,
                            float scale);

/* Symmetric int8 weights, values in [-127, 127], zero point 0.
 * w holds n_channels rows of channel_size floats (channel = first axis);
 * per channel: scales[c] = max|w[c]| / 127 (1 for an all-zero row), or
 * min_scales[c] when that is larger (min_scales may be NULL; per tensor
 * only min_scales[0] is read);
 * per tensor (n_channels treated as 1 for the scale): scales[0] only.
 * q[i] = clamp(round(w[i] / scale), -127, 127), rounding half away from 0.
 * Non-finite w (only where allowed): the scale comes from the finite
 * values, NaN gives 0, +-Inf gives +-127. */
void quantize_weights_i8(const float *w, int64_t n_channels, int64_t channel_size,
                         bool per_channel, const float *min_scales, int8_t *q, float *scales);
/* An embedding table [rows, d] as I4, symmetric per row: scales[r] =
 * max |w[r, :]| / 7 (1 for an all-zero row), q = clamp(round(w / scale),
 * -7, 7) rounding half away from 0, packed two per byte (element i of a
 * row in byte i / 2, low nibble for even i), each row on (d + 1) / 2
 * bytes. */
void quantize_rows_i4(const float *w, int64_t rows, int64_t d, uint8_t *q, float *scales);

/* q[i] = clamp(round(b[i] / scales[per_channel ? i : 0]), INT32_MIN, INT32_MAX) in double. */
void quantize_bias_i32(const float *b, int64_t n, const float *scales, bool per_channel,
                       int32_t *q);

/* ---- checkpoints without a graph (quanta quantize on a bag of tensors) ----
 * src/quant/quantize_tensors.c. A safetensors file without "quanta.graph"
 * (say a Hugging Face checkpoint), or a sharded set described by an index
 * JSON ("weight_map": {tensor: shard file}), rewritten tensor by tensor:
 * weight-only: every 2-D F32/F16/BF16 tensor becomes I8, symmetric, per
 *   row (per output channel, or one scale per tensor), with its scales in
 *   "<name>.scale" F32 [rows] ([1] per tensor) right after it;
 * fp16: every F32/BF16/F64 tensor becomes F16 (F64 through F32);
 * every other tensor is copied byte for byte. Tensors are streamed one at a
 * time (peak memory about one row of floats plus a 4 MiB output buffer;
 * input pages are released as they are done), so a checkpoint larger than
 * memory works. Metadata: the input's keys (except the quanta.* provenance
 * keys quanta writes itself) in order, then "quanta.version",
 * "quanta.quantize.options" (options_json) and "quanta.source_sha256" (of
 * the input file, read once before the rewrite). */
struct quantize_tensors_options {
    enum quantize_mode mode;             /* QUANTIZE_WEIGHT_ONLY (default) or QUANTIZE_FP16 */
    enum quantize_granularity weights;   /* default QUANTIZE_PER_CHANNEL (per row) */
    const char *const *include;          /* fnmatch(3) globs of tensor names to convert; */
    int n_include;                       /*   none given: every tensor that qualifies */
    const char *const *exclude;          /* globs of tensor names copied unchanged */
    int n_exclude;
    bool allow_nonfinite;                /* convert NaN/Inf too (else QUANTA_ERR_INPUT) */
    const char *options_json;            /* "quanta.quantize.options"; NULL: not written */
};

void quantize_tensors_options_default(struct quantize_tensors_options *opt);

/* True when path names a shard index (its name ends in ".json"). */
bool quantize_tensors_is_index(const char *path);

/* One safetensors file without a graph -> output (written through a
 * temporary file and renamed). An --include/--exclude glob that matches no
 * tensor, or output naming the input, is QUANTA_ERR_USAGE; a non-finite
 * value in a tensor to convert (without allow_nonfinite) is
 * QUANTA_ERR_INPUT naming the tensor and the element. */
enum quanta_status quantize_tensors_file(const char *input, const char *output,
                                         const struct quantize_tensors_options *opt,
                                         struct quanta_error *err);

/* A sharded checkpoint. index is the input index JSON; output_index names
 * the new index, which must end in ".safetensors.index.json": with P the
 * output_index without that suffix, input shard i of K (shards in the order
 * of their names) becomes "P-0000i-of-0000K.safetensors" beside it. Each
 * shard is converted like quantize_tensors_file (its source_sha256 is that
 * of its input shard); the new index (written last, through a temporary
 * file) keeps the input's "metadata" keys with "total_size" recomputed and
 * the provenance keys added (source_sha256 of the input index), and maps
 * every tensor, the new scales included, to its new shard. No output may
 * name an input (QUANTA_ERR_USAGE). */
enum quanta_status quantize_tensors_sharded(const char *index, const char *output_index,
                                            const struct quantize_tensors_options *opt,
                                            struct quanta_error *err);

/* Index of the first NaN or infinity among n elements of dtype (-1: none;
 * always -1 for integer dtypes). */
int64_t quantize_find_nonfinite(enum quanta_dtype dtype, const void *data, int64_t n);

#endif

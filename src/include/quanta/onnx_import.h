/* Importing ONNX models (quanta import): an ONNX file (opsets 6 to 18) is
 * decoded by quanta's own protobuf reader and converted to a quanta graph.
 *
 * ONNX activations are NCHW; quanta's are NHWC. The importer converts
 * weights ([O, C/g, KH, KW] -> [O, KH, KW, C/g]) and attrs, remaps the axes
 * of Transpose, Concat, Softmax, ReduceMean, ..., and permutes the columns
 * of a dense layer that reads a flattened NCHW tensor, so the imported
 * model computes what the ONNX model computes. A 4-D graph input [N, C, H,
 * W] becomes [N, H, W, C]; a 4-D graph output comes out NHWC. */
#ifndef QUANTA_ONNX_IMPORT_H
#define QUANTA_ONNX_IMPORT_H

#include <stdbool.h>
#include "quanta/data.h"
#include "quanta/graph.h"
#include "quanta/safetensors.h"
#include "quanta/status.h"

/* Lowest and highest opset of the default domain accepted. */
#define ONNX_IMPORT_MIN_OPSET 6
#define ONNX_IMPORT_MAX_OPSET 18

/* A shape given for a graph input (--input-shape NAME=1x1x28x28), in the
 * ONNX order (NCHW); a shape that contradicts the ONNX dims but matches
 * them in NHWC order is taken as NHWC. dims[0] is the batch: 0 or -1 keeps
 * it dynamic. */
struct onnx_input_shape {
    const char *name;
    struct quanta_shape shape;
};

struct onnx_import_options {
    const char *name;                   /* graph name; NULL: the ONNX graph's, else the file's */
    const struct onnx_input_shape *input_shapes;
    int n_input_shapes;
    bool has_normalize;                 /* "normalize" of every float graph input */
    struct quanta_normalize normalize;  /* mean/std copied */
};

/* What the import found, for the file's __metadata__ (strings owned). */
struct onnx_import_info {
    long long opset;
    char *input_shapes;     /* original (NCHW) shapes: "[-1, 1, 28, 28]", several "a=[..]; b=[..]" */
    char *producer;         /* "pytorch 1.13.1" or "" */
    int n_outputs;
    bool *output_nhwc;      /* per graph output: true when a 4-D ONNX output
                               [N, C, H, W] is held as [N, H, W, C]; false when
                               it keeps the ONNX order */
};
void onnx_import_info_free(struct onnx_import_info *info);

/* Reads path and builds *g (validated, shapes inferred). On failure *g is
 * empty, err names the file, the ONNX node and what is missing, and the
 * status is QUANTA_ERR_INPUT (QUANTA_ERR_NOMEM, QUANTA_ERR_USAGE for an
 * --input-shape naming no input). */
enum quanta_status onnx_import_graph(struct graph *g, struct onnx_import_info *info,
                                     const char *path, const struct onnx_import_options *options,
                                     struct quanta_error *err);

/* onnx_import_graph, then graph_save to output with __metadata__
 * "quanta.import.source" = "onnx", "quanta.import.layout" = "nchw",
 * "quanta.import.input_shape", "quanta.import.opset",
 * "quanta.import.producer", "quanta.import.source_sha256",
 * "quanta.version". Nothing is written on failure. */
enum quanta_status onnx_import_file(const char *path, const char *output,
                                    const struct onnx_import_options *options,
                                    struct quanta_error *err);

#endif

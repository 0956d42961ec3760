/* Exporting a quanta model to ONNX (quanta export).
 *
 * A float model becomes plain ONNX. A quantized model becomes ONNX in the
 * QDQ form ONNX Runtime fuses into its integer kernels: every int8 value
 * is an int8 (or uint8) tensor, read through a DequantizeLinear by each
 * node that uses it; a node with an int8 output computes in float and ends
 * in a QuantizeLinear; int8 weights are int8 initializers with
 * DequantizeLinear (per-channel axis where quanta has one), I32 biases
 * int32 initializers with DequantizeLinear (scale sx * sw, zero point 0).
 * Weight-only and fp16 models keep their stored weights, read through
 * DequantizeLinear or Cast.
 *
 * quanta's activations are NHWC and so are the exported graph's: NCHW
 * operators (Conv, MaxPool, AveragePool, BatchNormalization,
 * InstanceNormalization) get Transpose nodes around them, which ONNX
 * Runtime's optimizer cancels. A model imported from ONNX (its data comes
 * NCHW, model_data_nchw) takes its 4-D inputs NCHW, as the original did.
 * An input's "normalize" is not part of the graph: the exported model takes
 * the float values quanta feeds (raw * scale - mean) / std. */
#ifndef QUANTA_EXPORT_ONNX_EXPORT_H
#define QUANTA_EXPORT_ONNX_EXPORT_H

#include "quanta/graph.h"
#include "quanta/status.h"

#define ONNX_EXPORT_MIN_OPSET 13 /* per-channel DequantizeLinear */
#define ONNX_EXPORT_MAX_OPSET 21
#define ONNX_EXPORT_DEFAULT_OPSET 17

struct onnx_export_options {
    int opset; /* ONNX_EXPORT_MIN_OPSET .. ONNX_EXPORT_MAX_OPSET */
    /* int8 activations written as uint8 q + 128 with zero point + 128, and
     * conv2d/dense weights as uint8 too (the same real values): the form
     * ONNX Runtime's x86 kernels compute without saturating their 16-bit
     * pair sums on CPUs without AVX-512 VNNI */
    bool uint8;
};

/* Encodes the model as an ONNX ModelProto into *bytes (caller frees).
 * A node ONNX cannot express is QUANTA_ERR_INPUT: "<source>: node 'n'
 * (op): cannot export to ONNX: <why>". Same model, same bytes. */
enum quanta_status onnx_export_bytes(const struct model *m, const char *source,
                                     const struct onnx_export_options *options, void **bytes,
                                     size_t *size, struct quanta_error *err);

/* Opens path, exports it and writes output through a temporary file
 * renamed into place; nothing is written on failure. */
enum quanta_status onnx_export_file(const char *path, const char *output,
                                    const struct onnx_export_options *options,
                                    struct quanta_error *err);

#endif

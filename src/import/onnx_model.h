/* The subset of an ONNX model (onnx.proto, proto2) that quanta import
 * reads, decoded with protobuf_wire.h into plain structs. Field numbers:
 *
 *   ModelProto      ir_version 1, producer_name 2, producer_version 3,
 *                   graph 7, opset_import 8 (OperatorSetIdProto: domain 1,
 *                   version 2)
 *   GraphProto      node 1, name 2, initializer 5, input 11, output 12,
 *                   value_info 13
 *   NodeProto       input 1, output 2, name 3, op_type 4, attribute 5,
 *                   domain 7
 *   AttributeProto  name 1, f 2, i 3, s 4, t 5, g 6, floats 7, ints 8,
 *                   strings 9, tensors 10, graphs 11, type 20 (g decoded
 *                   as a graph, up to 8 deep: Loop bodies)
 *   ValueInfoProto  name 1, type 2 (TypeProto: tensor_type 1; Tensor:
 *                   elem_type 1, shape 2; TensorShapeProto: dim 1;
 *                   Dimension: dim_value 1, dim_param 2)
 *   TensorProto     dims 1, data_type 2, float_data 4, int32_data 5,
 *                   int64_data 7, name 8, raw_data 9, double_data 10,
 *                   uint64_data 11, external_data 13 (key 1, value 2),
 *                   data_location 14 (0 default, 1 external)
 *
 * Other fields are skipped. Every tensor is decoded to float (F32; from
 * FLOAT, DOUBLE, FLOAT16, BFLOAT16) or int64 (I64; from the integer types
 * and BOOL) in a buffer of its own. */
#ifndef QUANTA_IMPORT_ONNX_MODEL_H
#define QUANTA_IMPORT_ONNX_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "quanta/dtype.h"
#include "quanta/status.h"

/* TensorProto.DataType values. */
enum onnx_data_type {
    ONNX_UNDEFINED = 0,
    ONNX_FLOAT = 1,
    ONNX_UINT8 = 2,
    ONNX_INT8 = 3,
    ONNX_UINT16 = 4,
    ONNX_INT16 = 5,
    ONNX_INT32 = 6,
    ONNX_INT64 = 7,
    ONNX_STRING = 8,
    ONNX_BOOL = 9,
    ONNX_FLOAT16 = 10,
    ONNX_DOUBLE = 11,
    ONNX_UINT32 = 12,
    ONNX_UINT64 = 13,
    ONNX_COMPLEX64 = 14,
    ONNX_COMPLEX128 = 15,
    ONNX_BFLOAT16 = 16,
};

/* "FLOAT", "INT64", ...; "type <n>" style names are not kept: unknown
 * values give "unknown". */
const char *onnx_data_type_name(int data_type);

/* AttributeProto.AttributeType values. */
enum onnx_attr_type {
    ONNX_ATTR_UNDEFINED = 0,
    ONNX_ATTR_FLOAT = 1,
    ONNX_ATTR_INT = 2,
    ONNX_ATTR_STRING = 3,
    ONNX_ATTR_TENSOR = 4,
    ONNX_ATTR_GRAPH = 5,
    ONNX_ATTR_FLOATS = 6,
    ONNX_ATTR_INTS = 7,
    ONNX_ATTR_STRINGS = 8,
    ONNX_ATTR_TENSORS = 9,
    ONNX_ATTR_GRAPHS = 10,
};

struct onnx_tensor {
    char *name;
    int data_type;              /* as stored (enum onnx_data_type) */
    struct quanta_shape shape;  /* rank 0: a scalar */
    enum quanta_dtype dtype;    /* QUANTA_F32 or QUANTA_I64 */
    int64_t numel;
    void *data;                 /* numel floats or int64s, owned; NULL if numel 0 */
};

struct onnx_graph;

struct onnx_attr {
    char *name;
    int type;                   /* enum onnx_attr_type */
    float f;
    int64_t i;
    char *s;                    /* NUL-terminated copy of the bytes */
    size_t s_size;
    struct onnx_tensor *t;      /* owned, or NULL */
    float *floats;
    int n_floats;
    int64_t *ints;
    int n_ints;
    struct onnx_graph *g;       /* a subgraph (Loop's body), owned, or NULL */
};

struct onnx_node {
    char *name;                 /* may be "" */
    char *op_type;
    char *domain;               /* "" for the default domain */
    char **inputs;              /* "" for an omitted optional input */
    int n_inputs;
    char **outputs;
    int n_outputs;
    struct onnx_attr *attrs;
    int n_attrs;
};

struct onnx_value_info {
    char *name;
    int elem_type;              /* 0 when not given */
    bool has_shape;
    int rank;
    int64_t dims[QUANTA_MAX_RANK]; /* -1: unknown (dim_param or absent) */
    char *dim0_param;           /* name of a symbolic first dim, or NULL */
};

struct onnx_graph {
    char *name;
    struct onnx_node *nodes;
    int n_nodes;
    struct onnx_tensor *initializers;
    int n_initializers;
    struct onnx_value_info *inputs;
    int n_inputs;
    struct onnx_value_info *outputs;
    int n_outputs;
    struct onnx_value_info *value_info;
    int n_value_info;
};

struct onnx_model {
    int64_t ir_version;
    int64_t opset;              /* version of the default domain ("" or "ai.onnx"); 0 if absent */
    char *producer_name;
    char *producer_version;
    bool has_graph;
    struct onnx_graph graph;
};

/* Largest model file read (protobuf messages are limited to 2 GiB). */
#define ONNX_MAX_FILE_SIZE (2ull << 30)

/* Reads and decodes path. Tensors with external data are read from files
 * in path's folder (a location that is absolute, has "..", or resolves
 * outside that folder is refused). Malformed input is QUANTA_ERR_INPUT with
 * a one-line message naming path and the place of the problem. */
enum quanta_status onnx_model_load(struct onnx_model *m, const char *path,
                                   struct quanta_error *err);
/* Same from bytes in memory; source names them in messages; dir is the
 * folder for external data (NULL: external data is refused). */
enum quanta_status onnx_model_decode(struct onnx_model *m, const void *bytes, size_t size,
                                     const char *source, const char *dir,
                                     struct quanta_error *err);
void onnx_model_free(struct onnx_model *m);

/* A lone TensorProto (the input_K.pb / output_K.pb files of ONNX's test
 * data), decoded as the model's tensors are; external data is refused.
 * onnx_tensor_free releases what a decode filled in (not t itself). */
enum quanta_status onnx_tensor_decode(struct onnx_tensor *t, const void *bytes, size_t size,
                                      const char *source, struct quanta_error *err);
enum quanta_status onnx_tensor_load(struct onnx_tensor *t, const char *path,
                                    struct quanta_error *err);
void onnx_tensor_free(struct onnx_tensor *t);

/* Well-formed UTF-8 without control characters (names, which end up in
 * messages and in the graph JSON). */
bool onnx_text_valid(const char *s, size_t n);

const struct onnx_attr *onnx_node_attr(const struct onnx_node *node, const char *name);

#endif

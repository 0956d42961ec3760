/* Internal to src/export: the state of one export and the helpers the
 * per-operator emitters (onnx_export_ops.c) call. Names are ONNX tensor
 * names; every helper that makes a tensor returns its name (owned by the
 * export), or NULL once the export has failed. */
#ifndef QUANTA_EXPORT_ONNX_EXPORT_INTERNAL_H
#define QUANTA_EXPORT_ONNX_EXPORT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "export/onnx_export.h"
#include "io/protobuf_write.h"

/* TensorProto.DataType */
enum onnx_type {
    ONNX_FLOAT = 1,
    ONNX_UINT8 = 2,
    ONNX_INT8 = 3,
    ONNX_INT16 = 5,
    ONNX_INT32 = 6,
    ONNX_INT64 = 7,
    ONNX_BOOL = 9,
    ONNX_FLOAT16 = 10,
    ONNX_DOUBLE = 11,
    ONNX_BFLOAT16 = 16,
};

struct ox {
    const struct graph *g;
    const char *source;
    int opset;
    struct quanta_error *err;
    bool failed;
    enum quanta_status status; /* of the failure */
    struct pbw nodes;        /* GraphProto.node fields */
    struct pbw inits;        /* GraphProto.initializer fields */
    char **value_name;       /* per value: the tensor holding it in quanta's layout and type */
    char **float_const;      /* per CONST value: its float tensor in quanta's layout, once made */
    char **q_scale, **q_zero;/* per quantized activation: its scalar Q/DQ parameters */
    char **names;            /* every name made, freed at the end */
    int n_names, cap_names;
    int counter;             /* suffix that makes generated names unique */
    const struct graph_node *node; /* the node being exported (for names, messages) */
    bool act_u8;             /* int8 activations go out as uint8 (--uint8) */
    bool weights_u8;         /* I8 weights of this node go out as U8 (see export_node) */
};

/* Fails the export with "<source>: <message>" (the first failure stays). */
void ox_fail(struct ox *x, enum quanta_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void ox_fail_nomem(struct ox *x);

/* Fails the export: "<source>: node 'n' (op): cannot export to ONNX: ...". */
void ox_fail_node(struct ox *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A fresh tensor name "<base>/<what><k>" used by no value of the graph. */
const char *ox_name(struct ox *x, const char *base, const char *what);

/* A node of the default domain; attributes follow, then ox_node_end. An
 * input NULL is an omitted optional input (""). */
void ox_node_begin(struct ox *x, const char *op_type, const char *const *in, int n_in,
                   const char *const *out, int n_out);
void ox_node_end(struct ox *x);
void ox_attr_int(struct ox *x, const char *name, int64_t v);
void ox_attr_float(struct ox *x, const char *name, float v);
void ox_attr_string(struct ox *x, const char *name, const char *v);
void ox_attr_ints(struct ox *x, const char *name, const int64_t *v, int n);
/* One-input, one-output node without attributes, into out (NULL: a fresh
 * name from base). Returns the output name. */
const char *ox_unary(struct ox *x, const char *op_type, const char *in, const char *out);
const char *ox_binary(struct ox *x, const char *op_type, const char *a, const char *b,
                      const char *out);

/* out, or a fresh name "<base>/<what>k" when out is NULL. */
const char *ox_fresh_or(struct ox *x, const char *out, const char *base, const char *what);

/* Initializers. */
const char *ox_init(struct ox *x, const char *base, enum onnx_type type, const int64_t *dims,
                    int rank, const void *data, size_t bytes);
const char *ox_init_float(struct ox *x, const char *base, float v); /* scalar */
const char *ox_init_int64s(struct ox *x, const char *base, const int64_t *v, int n); /* [n] */

enum onnx_type ox_onnx_type(enum quanta_dtype t); /* 0: none */

/* QuantizeLinear or DequantizeLinear (op) of in with the parameters of
 * quantized value v (per channel along axis, -1: per tensor), into out
 * (NULL: a fresh name). */
const char *ox_qdq(struct ox *x, const char *op, const char *in, int v, int axis,
                   const char *out);

/* The float tensor of CONST value v with its axes permuted (perm NULL:
 * as stored; axis k of the result is axis perm[k] of v): quantized weights
 * as int8/uint8/int32 initializers read through DequantizeLinear (per
 * channel along their axis moved by perm), F16/BF16 through Cast, others
 * converted to F32. */
const char *ox_const_float(struct ox *x, int v, const int *perm);

/* The float value of node input v, in quanta's layout or, with perm, its
 * axes permuted (a Transpose): activations read through a
 * DequantizeLinear when quantized; constants as ox_const_float; integer
 * ids as they are. */
const char *ox_input(struct ox *x, int v, const int *perm);

/* Transpose of in by perm (rank axes) into out (NULL: a fresh name). */
const char *ox_transpose(struct ox *x, const char *in, const int *perm, int rank,
                         const char *out);

/* The permutation that moves the last axis to 1 (channels first) for rank
 * dims, and its inverse. */
void ox_perm_channels_first(int rank, int *perm);
void ox_perm_channels_last(int rank, int *perm);

/* Emits node n's float computation: in[i] the float value of input i (in
 * the layout ox_op_layout asked for; NULL for an omitted input), out the
 * tensor to write. */
void ox_emit_op(struct ox *x, const struct graph_node *n, const char *const *in, const char *out);

/* Whether ox_emit_op makes input i of node n itself (a weight it lays out
 * in ONNX's order), so that no in[i] is made for it. */
bool ox_op_own_input(const struct graph *g, const struct graph_node *n, int i);

/* Whether node n's first input and its output are taken channels first
 * (ONNX's NCHW operators). */
bool ox_op_channels_first(const struct graph *g, const struct graph_node *n);

#endif

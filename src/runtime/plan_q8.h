/* Internal to src/runtime: the int8 half of the runner's plan. plan_q8.c
 * builds it once in runner_create (integer multipliers, shifts and tables
 * from the graph's float scales: the only float arithmetic of the int8
 * path, via src/runtime/q8_params.h); exec_q8.c runs it node by node with
 * the q8 kernel table, integers only.
 *
 * Which nodes are int8: a quantize or dequantize node, or any node whose
 * output or non-constant input is quantized (graph_value.quant set). A
 * node reading float activations and a quantized constant (weight-only
 * models) is a float node: its weights are dequantized once at load.
 *
 * Where int8 numbers live. A quantized activation has an arena slot of one
 * byte per element (runner_slot() cast to int8_t *); U8 values are held in
 * the kernels' int8 domain, q - 128 (kernels_q8.h "Values"). A quantized
 * constant read by int8 nodes is used as stored in the file (I8 weights,
 * I32 biases, when aligned), or copied once: U8 moved to the int8 domain,
 * misaligned I32, and float biases of int8 conv2d/dense rounded to I32 at
 * scale s_in * s_w[o]. */
#ifndef QUANTA_RUNTIME_PLAN_Q8_H
#define QUANTA_RUNTIME_PLAN_Q8_H

#include <stdbool.h>
#include <stdint.h>
#include "kernels/kernels_q8.h"
#include "runtime/runner_internal.h"

/* The integer parameters of one int8 node. */
struct q8_node_plan {
    bool int8;                           /* runs on exec_q8 */
    bool copy;                           /* flatten/reshape with equal params: memcpy */
    int32_t *bias_owned;                 /* conv2d/dense with a float bias: rounded to I32 */
    int8_t pad_value;                    /* pad: the constant, quantized as by quantize */
    union {
        struct {                         /* conv2d, dense */
            struct q8_requant rq;        /* points at multiplier/shift */
            int32_t *multiplier, *shift; /* [out channels], owned */
            const int32_t *bias;         /* NULL: no bias */
            void *packed;                /* weights and bias packed for the table's
                                            conv2d_packed/dense_packed, owned; NULL:
                                            the kernel on the weights as stored */
            bool float_out;              /* output float, from the accumulator
                                            (conv2d_f32/dense_f32 with f32) */
            struct q8_acc_f32 f32;       /* points at scale */
            float *scale;                /* [out channels], owned */
        } reduce;
        struct q8_unary unary;           /* relu, relu6, pools, global avg pool, mean,
                                            flatten, reshape */
        struct {
            struct q8_unary one;         /* a per-tensor table */
            struct q8_unary *rows;       /* a row-wise table: [vocab], owned; else NULL */
        } embedding;
        struct q8_embedding_bag_params bag; /* ids, offsets and weights' data set per run */
        struct q8_leaky_relu_params leaky;
        struct q8_add_params add;
        struct q8_mul_params mul;        /* mul, matmul */
        int8_t lut[256];                 /* sigmoid, tanh */
        struct {
            float table[256];
            bool quantize_out;           /* output quantized: probabilities go through
                                            scratch, then quantize with out */
            struct q8_quantize_params out;
            float *scratch;              /* owned, output elements at max_batch */
        } softmax;
        struct {                         /* linear resize: per resized axis d, [out[d]] */
            int32_t *i0[8], *i1[8], *w1[8]; /* NULL: not resized; i0[d] owns all three */
            int32_t zero_point;          /* of input and output, int8 domain */
        } resize;
        struct q8_quantize_params qparams; /* quantize (output's), dequantize (input's) */
        struct {
            struct q8_unary *rq;         /* [n_inputs], owned */
            int64_t *inner;              /* [n_inputs], owned; filled per run */
            int64_t *rows;               /* [n_inputs], owned; filled per run */
            const int8_t **x;            /* [n_inputs], owned; filled per run */
        } concat;
    };
};

struct q8_plan {
    const struct q8_kernels *k;
    struct q8_node_plan *nodes;          /* [n_nodes] */
    const void **data;                   /* [n_values]: int8-domain (I8/U8) or int32 data of
                                            constants int8 nodes read, else NULL */
    void **owned;                        /* [n_values]: copies behind data, else NULL */
    struct q8_quantize_params *dq;       /* [n_values]: dequantization of quantized
                                            activations (hook, graph outputs) */
    float *hook_view;                    /* float view of one quantized activation */
    void *scratch;                       /* for packed conv2d/dense: the largest need, one
                                            per thread, scratch_stride bytes apart */
    size_t scratch_stride;
};

/* Kernel shapes of an int8 conv2d/dense from the value shapes (any batch). */
void plan_q8_conv2d_shape(const struct graph_node *nd, const struct quanta_shape *xs,
                          const struct quanta_shape *ws, const struct quanta_shape *ys,
                          struct q8_conv2d_shape *s);
void plan_q8_dense_shape(const struct quanta_shape *xs, const struct quanta_shape *ws,
                         struct q8_dense_shape *s);

/* int8 data of value v: its arena slot, or the constant's data. */
static inline const int8_t *q8_in(const struct runner *r, int v)
{
    if (r->q8->data[v])
        return r->q8->data[v];
    return (const int8_t *)(r->arena + r->values[v].offset);
}

static inline int8_t *q8_out(struct runner *r, int v)
{
    return (int8_t *)runner_slot(r, v);
}

#endif

/* Internal to the model rewrites of src/quant (quantize.c, quantize_fold.c,
 * dequantize.c): copying values and nodes from one graph to another. */
#ifndef QUANTA_QUANTIZE_INTERNAL_H
#define QUANTA_QUANTIZE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include "quanta/graph.h"
#include "quanta/quantize.h"

/* A name that neither a nor b (b may be NULL) holds as a value: base +
 * suffix, else base + suffix + "2", "3", ... (malloc'd; NULL: no memory). */
char *qz_unique_name(const struct graph *a, const struct graph *b, const char *base,
                     const char *suffix);

/* Appends a value to out like src->values[v] (kind, dtype, shape, data,
 * but no quant) under name (NULL: the same name). Data stays owned by src.
 * Returns the index in out or -1 (no memory). */
int qz_copy_value(struct graph *out, const struct graph *src, int v, const char *name);

/* Appends a CONST value owning data (freed on failure too). Returns its
 * index or -1. */
int qz_add_owned_const(struct graph *out, const char *name, enum quanta_dtype dtype,
                       const struct quanta_shape *shape, void *data);

/* Appends a copy of node (op, name, attrs) reading ins and writing outs;
 * sets the producer of the outputs. Returns its index or -1. */
int qz_add_node_like(struct graph *out, const struct graph_node *node, const char *name,
                     const int *ins, int n_ins, const int *outs, int n_outs);

/* Per-tensor quant: {dtype, axis -1, n 1, scale, zero_point}. */
void qz_quant_per_tensor(struct graph_quant *q, enum quanta_dtype dtype, float scale,
                         int32_t zero_point);

/* Points per-tensor quant params at their own fields (after values moved). */
void qz_fix_quant_pointers(struct graph *g);

/* out->name, out->inputs (with normalize copied) from src; input_map[i] is
 * the index in out of src graph input i's value (already added). */
enum quanta_status qz_copy_graph_header(struct graph *out, const struct graph *src,
                                        const int *input_map, struct quanta_error *err);
/* out->outputs from value indices in out. */
enum quanta_status qz_set_outputs(struct graph *out, const int *values, int n,
                                  struct quanta_error *err);

/* A float copy of a float CONST value (malloc'd; NULL: no memory). */
float *qz_const_to_f32(const struct graph_value *v);

/* Number of node inputs reading each value, graph outputs counted too
 * (calloc'd array of g->n_values; NULL: no memory). */
int *qz_count_readers(const struct graph *g);

bool qz_is_excluded(const char *name, const char *const *exclude, int n_exclude);

/* Moves ownership of constant data from `from` to `to` where a CONST of
 * `to` points at data `from` owns. */
void qz_steal_owned(struct graph *to, struct graph *from);

/* QUANTA_ERR_INPUT "<source>: tensor '<name>' holds nan at element i
 * (row r, column c) ..." for the non-finite element i of a tensor
 * (quantize_tensors.c). */
enum quanta_status qz_fail_nonfinite(struct quanta_error *err, const char *source,
                                     const char *name, enum quanta_dtype dtype,
                                     const struct quanta_shape *shape, const void *data,
                                     int64_t i);

#endif

/* Internal to src/runtime: the runner's state, shared by the planner and
 * walk (runner.c) and the per-op executors (exec_f32.c; an exec_q8.c for
 * int8 nodes goes beside it). */
#ifndef QUANTA_RUNNER_INTERNAL_H
#define QUANTA_RUNNER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "kernels/kernels.h"
#include "quanta/runtime.h"

/* Where a value's numbers are while the runner runs. */
struct runner_value {
    bool in_arena;              /* activation with a planned arena slot */
    size_t offset;              /* in_arena: slot start, in floats (64-byte aligned) */
    size_t capacity;            /* in_arena: slot size in floats, for max_batch */
    const float *view;          /* float data: arena slot, constant, or ids as float */
    float *owned;               /* float storage owned by the runner (converted
                                   constants, float view of integer inputs), else NULL */
    const int64_t *ids;         /* integer values (embedding ids): the caller's input
                                   during a run, or owned_ids for a constant */
    int64_t *owned_ids;
    struct quanta_shape shape;  /* for the batch of the current/last run */
};

struct runner {
    const struct graph *g;
    const struct f32_kernels *f32;
    int64_t max_batch;
    int64_t batch;              /* of the last successful run; 0 before any */
    int threads;                /* accepted, not used yet: one thread */
    float *arena;               /* every activation, at planned offsets */
    size_t arena_floats;
    struct runner_value *values; /* [g->n_values] */
    /* scratch for variadic nodes (concat), sized at create */
    size_t *chunk;
    const float **ptrs;
    runner_value_hook hook;
    void *hook_ctx;
};

/* Writable arena slot of an activation. */
static inline float *runner_slot(struct runner *r, int v)
{
    return r->arena + r->values[v].offset;
}

/* Runs one float node: all its values are float. Inputs are ready in
 * r->values[].view, shapes in r->values[].shape; writes the output slots. */
enum quanta_status exec_f32_node(struct runner *r, int node_index, struct quanta_error *err);

/* Whether the float executor handles op (quantize/dequantize: not). */
bool exec_f32_supports(enum graph_op op);

#endif

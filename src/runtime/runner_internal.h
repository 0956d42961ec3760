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
#include "runtime/threadpool.h"

/* Where a value's numbers are while the runner runs. */
struct runner_value {
    bool in_arena;              /* activation with a planned arena slot */
    size_t offset;              /* in_arena: slot start, in floats (64-byte aligned) */
    size_t capacity;            /* in_arena: slot size in floats, for max_batch (a quantized
                                   value's bytes rounded up to floats) */
    const float *view;          /* float data: arena slot, constant, or ids as float;
                                   a quantized activation: NULL, or its dequantized
                                   copy when it is a graph output (plan_q8.h) */
    float *owned;               /* float storage owned by the runner (converted
                                   constants, float view of integer inputs), else NULL */
    const int64_t *ids;         /* integer values (embedding ids): the caller's input
                                   during a run, or owned_ids for a constant */
    int64_t *owned_ids;
    struct quanta_shape shape;  /* for the batch of the current/last run */
};

struct runner {
    const struct graph *g;      /* the caller's graph, or optimized */
    struct graph *optimized;    /* runner_options.optimize: owned, else NULL */
    const struct f32_kernels *f32;
    int64_t max_batch;
    int64_t batch;              /* of the last successful run; 0 before any */
    int threads;                /* runner_options.threads (0: every online core) */
    float *arena;               /* every activation, at planned offsets */
    size_t arena_floats;
    struct runner_value *values; /* [g->n_values] */
    /* scratch for variadic nodes (concat), sized at create */
    size_t *chunk;
    size_t *rows;
    const float **ptrs;
    runner_value_hook hook;
    void *hook_ctx;
    double *node_seconds;       /* runner_set_profile, or NULL */
    struct q8_plan *q8;         /* int8 nodes' plan (plan_q8.h); NULL when there are none */
    /* float conv2d/dense weights packed once for r->f32 (exec_f32_pack);
     * packed[n] NULL: node n runs with its weights as stored */
    float **packed;             /* [g->n_nodes] */
    float *scratch;             /* conv2d scratch, the largest any node needs, one per
                                   thread, scratch_stride floats apart */
    /* threads: a pool made once in runner_create (threadpool.h) */
    struct threadpool *pool;
    int n_threads;              /* threadpool_size(pool), >= 1 */
    size_t scratch_stride;      /* floats between the threads' conv2d scratch */
};

/* Work (multiply-adds, or elements) worth one thread's part; a node with
 * less runs on the calling thread alone. */
#define RUNNER_PART_WORK ((int64_t)1 << 16)

/* Parts per thread of a large node: the threads take parts as they
 * finish (threadpool.h), so a thread slowed down by the machine (another
 * program, a busy sibling core of a VM) takes fewer parts instead of
 * holding the others up. */
#define RUNNER_PARTS_PER_THREAD 4

/* How many parts to cut a node of `work` units into: at most
 * RUNNER_PARTS_PER_THREAD x n_threads (1 on one thread), at least 1. The
 * result never changes the numbers, only who computes them (every output
 * element is computed by one part, the same way). */
static inline int runner_parts(const struct runner *r, int64_t work)
{
    const int64_t most = r->n_threads > 1 ? (int64_t)r->n_threads * RUNNER_PARTS_PER_THREAD : 1;
    int64_t parts = work / RUNNER_PART_WORK;
    if (parts > most)
        parts = most;
    return parts < 1 ? 1 : (int)parts;
}

/* Range [*begin, *end) of part `part` of `parts` over n items, cut at
 * multiples of `align` (n a multiple of it). */
static inline void runner_range(int64_t n, int64_t align, int part, int parts, int64_t *begin,
                                int64_t *end)
{
    int64_t units = n / align;
    *begin = units * part / parts * align;
    *end = units * (part + 1) / parts * align;
}

/* Writable arena slot of an activation. */
static inline float *runner_slot(struct runner *r, int v)
{
    return r->arena + r->values[v].offset;
}

/* Runs one float node: all its values are float. Inputs are ready in
 * r->values[].view, shapes in r->values[].shape; writes the output slots. */
enum quanta_status exec_f32_node(struct runner *r, int node_index, struct quanta_error *err);

/* conv3d, max_pool3d or avg_pool3d node nd into y (exec_f32_3d.c). */
void exec_f32_window3d(struct runner *r, const struct graph_node *nd, float *y);

/* At create, after the constants are prepared: packs the weights of every
 * float conv2d/dense node with constant weights (and bias) with r->f32's
 * pack entries and allocates the scratch they need. exec_f32_unpack frees
 * both (safe on a partly packed runner). */
enum quanta_status exec_f32_pack(struct runner *r, struct quanta_error *err);
void exec_f32_unpack(struct runner *r);

/* Kernel params of transpose node nd for input shape xs (exec_f32.c; the
 * int8 executor moves bytes with the same params). */
void exec_transpose_params(const struct graph_node *nd, const struct quanta_shape *xs,
                           size_t elem_size, struct transpose_params *p);

void exec_slice_params(const struct graph_node *nd, const struct quanta_shape *xs,
                       size_t elem_size, struct slice_params *p);
/* value: one element of elem_size bytes (constant mode). */
void exec_pad_params(const struct graph_node *nd, const struct quanta_shape *xs,
                     size_t elem_size, const void *value, struct pad_params *p);
void exec_resize_params(const struct graph_node *nd, const struct quanta_shape *xs,
                        size_t elem_size, struct resize_params *p);

/* The element-wise math function of node nd (neg ... gelu_tanh) with its
 * attrs; false for other ops. p may be NULL to ask only. */
bool exec_math_params(const struct graph_node *nd, struct f32_math_params *p);

/* Offsets of embedding_bag node nd (runner.c): 0 <= off[b] <= off[b + 1]
 * <= n_ids, else QUANTA_ERR_INPUT naming the node. */
enum quanta_status runner_check_offsets(const struct graph_node *nd, const int64_t *off,
                                        size_t n_bags, size_t n_ids, struct quanta_error *err);

/* Whether the float executor handles op (quantize/dequantize: not). */
bool exec_f32_supports(enum graph_op op);

/* ---- the int8 path (plan_q8.c, exec_q8.c; see plan_q8.h) ---- */

struct q8_plan;

/* Whether node n runs int8: quantize/dequantize, or a quantized output or
 * non-constant input. */
bool runner_q8_node(const struct graph *g, int n);
/* Whether constant v is quantized and read by int8 nodes only (then it
 * needs no float copy). */
bool runner_q8_const_only(const struct graph *g, int v);
/* Plans every int8 node (after the arena and the float constants); sets
 * r->q8 (left for runner_q8_free on failure too). */
enum quanta_status runner_q8_plan(struct runner *r, struct quanta_error *err);
void runner_q8_free(struct runner *r);
/* Runs one int8 node. */
enum quanta_status exec_q8_node(struct runner *r, int node_index, struct quanta_error *err);
/* Float view of quantized activation v (dequantized into the hook scratch,
 * valid until the next call). */
const float *runner_q8_view(struct runner *r, int v);

#endif

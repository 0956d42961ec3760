/* Running a graph. One runner serves float models and quantized models
 * alike: each node runs the float or the int8 kernel family according to
 * the types of its values. Buffers are planned once in runner_create for
 * max_batch samples; runner_run then allocates nothing, so a data set
 * streams through batch by batch in constant memory. */
#ifndef QUANTA_RUNTIME_H
#define QUANTA_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>
#include "quanta/graph.h"
#include "quanta/status.h"

struct runner;

struct runner_options {
    int64_t max_batch;   /* largest batch runner_run will be given (>= 1) */
    int threads;         /* 0: all cores */
    bool optimize;       /* run the graph_optimize rewrite of a float graph (batch_norm
                            folded, activations fused): node and value indices, the
                            hook's and profile's, are then those of that graph */
};

/* Called after every node with the float view of the value it produced
 * (int8 values dequantized) and of every graph input, in graph order; shape
 * has the actual batch. For calibration and per-layer comparison. */
typedef void (*runner_value_hook)(void *ctx, const struct graph *g, int value,
                                  const float *data, const struct quanta_shape *shape);

enum quanta_status runner_create(struct runner **r, const struct graph *g,
                                 const struct runner_options *options, struct quanta_error *err);
void runner_free(struct runner *r);

void runner_set_hook(struct runner *r, runner_value_hook hook, void *ctx);

/* Per-node timing: while node_seconds is set (an array of the graph's
 * n_nodes, NULL to stop), each runner_run adds every node's wall time in
 * seconds (CLOCK_MONOTONIC around the node, threads included) to its
 * entry. For quanta profile. */
void runner_set_profile(struct runner *r, double *node_seconds);

/* The graph the runner runs: the caller's, or its optimized copy (owned by
 * the runner, valid until runner_free), whose node indices the profile's
 * entries follow. */
const struct graph *runner_graph(const struct runner *r);

/* inputs[i] feeds graph input i, batch samples, already normalized:
 * float for F32 inputs, int64_t for integer inputs (embedding ids).
 * An embedding id outside [0, V) is QUANTA_ERR_INPUT naming the node. */
enum quanta_status runner_run(struct runner *r, int64_t batch, const void *const *inputs,
                              struct quanta_error *err);

/* Graph output i of the last run, as float, with its shape. */
const float *runner_output(const struct runner *r, int index, struct quanta_shape *shape);

/* The element-wise function node nd computes (sigmoid, tanh, and neg ...
 * gelu_tanh: the float kernels' own definitions, in double): true and *y
 * = f(x); false for other ops. */
bool runner_node_function(const struct graph_node *nd, double x, double *y);

/* Bytes of activation memory the runner planned (for inspect). */
size_t runner_arena_size(const struct runner *r);

/* The kernel level runners use, chosen once for the process (QUANTA_ISA or
 * the best this CPU has): QUANTA_OK and its name in *level, or the reason
 * none can run. */
enum quanta_status runtime_kernels(const char **level, struct quanta_error *err);

/* Operations per cycle and core of that level's widest float or int8
 * arithmetic (bench's peak figures). */
double runtime_peak_ops_per_cycle(bool int8);

/* What this CPU offers the kernels ("avx2 avx512f ...", for --version). */
void runtime_cpu_describe(char *buf, size_t size);

#endif

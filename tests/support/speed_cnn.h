/* A small float CNN held in memory, and its int8 copy (quantize_model with
 * min/max ranges recorded by the float runner's hook), for the suites that
 * compare runners bit for bit: runner_q8_levels (every kernel level against
 * ref) and threads (1, 2, 3 threads). Its nodes cover every split the
 * runner makes: a 3x3 conv with padding large enough to be cut by output
 * rows at batch 1, max and average pools (with padding), a depthwise conv,
 * a 1x1 conv, a strided conv, a residual add, flatten, two dense layers
 * and softmax. */
#ifndef QUANTA_TEST_SPEED_CNN_H
#define QUANTA_TEST_SPEED_CNN_H

#include <stdint.h>
#include "quanta/graph.h"
#include "quanta/runtime.h"

#define SC_H 20
#define SC_W 20
#define SC_C 4
#define SC_IN (SC_H * SC_W * SC_C)
#define SC_OUT 10
#define SC_MAX_BATCH 64

struct speed_cnn;

/* The float model (weights from a fixed pseudo-random sequence) and its
 * int8 copy, calibrated on SC_MAX_BATCH inputs of sc_input. */
struct speed_cnn *sc_create(void);
void sc_free(struct speed_cnn *m);
const struct graph *sc_float(const struct speed_cnn *m);
const struct graph *sc_int8(const struct speed_cnn *m);

/* Deterministic inputs in [-1, 1): n floats. */
void sc_input(float *x, int64_t n);

/* Runs g at `batch` samples of x on a runner with `threads` threads made
 * for max_batch, and copies output `index` (batch * its size floats) to
 * out; returns that size per sample. Fails the test on any error. */
int64_t sc_run(const struct graph *g, int threads, int64_t max_batch, int64_t batch,
               const float *x, int index, float *out);

#endif

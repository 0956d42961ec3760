/* Evaluation of one node whose inputs are all float constants, for the
 * optimizer's const pass (graph_optimize.h). Only the ops whose float
 * kernels compute the same bits at every kernel level, with the arithmetic
 * quanta-format(5) states, are evaluated here (in plain C, the graph layer
 * knows no kernel), each the way those kernels compute it, so a folded
 * graph gives bit-identical outputs:
 *   reshape, flatten, transpose, slice, concat   move the values
 *   cast (float input)                           rounds as the runner does
 *   add, sub, mul, div, min, max, prelu          NumPy broadcast, in double
 *                                                rounded once, then the
 *                                                node's relu/relu6 clamp
 *   neg, abs, sqrt, clip, relu, relu6            per element, in double
 *                                                rounded once (relu, relu6
 *                                                in float: both exact)
 * Others (exp, log, erf, ...: vector kernels that round differently;
 * matmul, conv2d, reductions: sums whose order the kernels choose) are
 * left to run. */
#ifndef QUANTA_GRAPH_CONST_H
#define QUANTA_GRAPH_CONST_H

#include "quanta/graph.h"

enum graph_const_result {
    GRAPH_CONST_FOLDED,  /* *out holds the output (malloc'd, the output value's shape) */
    GRAPH_CONST_SKIPPED, /* not evaluated here; *why says why */
    GRAPH_CONST_NOMEM,
};

/* Evaluates node n of the validated graph g, every present input of which
 * is a float constant with data (no quantization parameters), into a new
 * F32 array for its one output value. */
enum graph_const_result graph_const_eval(const struct graph *g, int n, float **out,
                                         const char **why);

#endif

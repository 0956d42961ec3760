/* Arithmetic cost of a graph: the operations one run performs, counted
 * the way GEMM benchmarks count them, for `quanta bench` (GOP/s and the
 * share of the machine's peak). The rules are those of graph.h and
 * man/quanta-bench.1; they depend on shapes only, never on data types,
 * so a float model and its int8 copy count alike (up to the nodes the
 * quantizer folds or adds). */
#include "quanta/graph.h"

static double numel_of(const struct graph *g, int v, int64_t batch)
{
    if (v < 0)
        return 0.0;
    struct quanta_shape s = graph_value_shape(g, v, batch);
    double n = 1.0;
    for (int i = 0; i < s.rank; i++)
        n *= (double)s.dims[i];
    return n;
}

double graph_node_ops(const struct graph *g, int node, int64_t batch)
{
    const struct graph_node *n = &g->nodes[node];
    double out = numel_of(g, n->outputs[0], batch);
    switch (n->op) {
    case GRAPH_OP_CONV2D: {
        /* out [N, OH, OW, O] x weight [O, KH, KW, C / groups]: one multiply-add
         * per output element and weight cell of its channel's filter */
        const struct quanta_shape *w = &g->values[n->inputs[1]].shape;
        return 2.0 * out * (double)w->dims[1] * (double)w->dims[2] * (double)w->dims[3];
    }
    case GRAPH_OP_CONV3D: {
        /* out [N, OD, OH, OW, O] x weight [O, KD, KH, KW, C / groups] */
        const struct quanta_shape *w = &g->values[n->inputs[1]].shape;
        return 2.0 * out * (double)w->dims[1] * (double)w->dims[2] * (double)w->dims[3] *
               (double)w->dims[4];
    }
    case GRAPH_OP_MATMUL: {
        /* out [..., M, N], K multiply-adds each */
        const struct quanta_shape *a = &g->values[n->inputs[0]].shape;
        return 2.0 * out * (double)a->dims[a->rank - 1];
    }
    case GRAPH_OP_DENSE: {
        /* out [N, O] x weight [O, K] */
        const struct quanta_shape *w = &g->values[n->inputs[1]].shape;
        return 2.0 * out * (double)w->dims[1];
    }
    case GRAPH_OP_RELU:
    case GRAPH_OP_RELU6:
    case GRAPH_OP_SIGMOID:
    case GRAPH_OP_TANH:
    case GRAPH_OP_LEAKY_RELU:
    case GRAPH_OP_ADD:
    case GRAPH_OP_MUL:
    case GRAPH_OP_SOFTMAX:
    case GRAPH_OP_BATCH_NORM:
    case GRAPH_OP_SUB:
    case GRAPH_OP_DIV:
    case GRAPH_OP_POW:
    case GRAPH_OP_MIN:
    case GRAPH_OP_MAX:
    case GRAPH_OP_PRELU:
    case GRAPH_OP_NEG:
    case GRAPH_OP_ABS:
    case GRAPH_OP_EXP:
    case GRAPH_OP_LOG:
    case GRAPH_OP_SQRT:
    case GRAPH_OP_ERF:
    case GRAPH_OP_HARD_SIGMOID:
    case GRAPH_OP_HARD_SWISH:
    case GRAPH_OP_ELU:
    case GRAPH_OP_SELU:
    case GRAPH_OP_CLIP:
    case GRAPH_OP_SILU:
    case GRAPH_OP_GELU:
    case GRAPH_OP_GELU_TANH:
    case GRAPH_OP_LOG_SOFTMAX:
    case GRAPH_OP_CAST:
        return out;
    case GRAPH_OP_LAYER_NORM: /* mean, variance, normalize, scale, shift */
    case GRAPH_OP_INSTANCE_NORM:
        return 5.0 * out;
    case GRAPH_OP_MAX_POOL2D:
    case GRAPH_OP_AVG_POOL2D:
        return out * (double)n->attrs.kernel[0] * (double)n->attrs.kernel[1];
    case GRAPH_OP_MAX_POOL3D:
    case GRAPH_OP_AVG_POOL3D:
        return out * (double)n->attrs.kernel[0] * (double)n->attrs.kernel[1] *
               (double)n->attrs.kernel[2];
    case GRAPH_OP_GLOBAL_AVG_POOL:
    case GRAPH_OP_MEAN:
    case GRAPH_OP_REDUCE_SUM:
    case GRAPH_OP_REDUCE_MAX:
    case GRAPH_OP_REDUCE_MIN:
    case GRAPH_OP_REDUCE_L2:
    case GRAPH_OP_ARGMAX:
    case GRAPH_OP_ARGMIN:
        return numel_of(g, n->inputs[0], batch);
    case GRAPH_OP_RESIZE: {
        /* linear: a multiply-add per corner, 2^k corners for the k axes
         * whose extent changes; nearest moves data */
        if (n->attrs.mode != GRAPH_MODE_LINEAR)
            return 0.0;
        const struct quanta_shape *x = &g->values[n->inputs[0]].shape;
        double corners = 1.0;
        for (int d = 0; d < x->rank; d++)
            if (x->dims[d] != n->attrs.shape.dims[d])
                corners *= 2.0;
        return 2.0 * out * corners;
    }
    case GRAPH_OP_EMBEDDING_BAG: {
        int off, w;
        graph_bag_inputs(g, n, &off, &w);
        return (w >= 0 ? 2.0 : 1.0) * numel_of(g, n->inputs[0], batch) *
               (double)g->values[n->inputs[1]].shape.dims[1];
    }
    case GRAPH_OP_FLATTEN:
    case GRAPH_OP_RESHAPE:
    case GRAPH_OP_TRANSPOSE:
    case GRAPH_OP_SLICE:
    case GRAPH_OP_PAD:
    case GRAPH_OP_CONCAT:
    case GRAPH_OP_EMBEDDING:
    case GRAPH_OP_QUANTIZE:
    case GRAPH_OP_DEQUANTIZE:
    case GRAPH_OP_COUNT:
        break;
    }
    return 0.0;
}

double graph_ops_count(const struct graph *g, int64_t batch)
{
    double total = 0.0;
    for (int i = 0; i < g->n_nodes; i++)
        total += graph_node_ops(g, i, batch);
    return total;
}

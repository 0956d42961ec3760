/* Synthetic input for the speed measurement (quanta bench, quanta
 * profile): the same pseudo-random samples on every machine. */
#include "report/bench.h"

#include <stdlib.h>
#include <string.h>

static bool is_integer_input(enum quanta_dtype dtype)
{
    return dtype == QUANTA_I32 || dtype == QUANTA_I64;
}

/* Smallest vocabulary of the embeddings reading value v; 1 if none. */
static int64_t vocab_of(const struct graph *g, int v)
{
    int64_t vocab = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        if ((n->op != GRAPH_OP_EMBEDDING && n->op != GRAPH_OP_EMBEDDING_BAG) ||
            n->inputs[0] != v)
            continue;
        int64_t rows = g->values[n->inputs[1]].shape.dims[0];
        if (vocab < 0 || rows < vocab)
            vocab = rows;
    }
    return vocab < 1 ? 1 : vocab;
}

/* The number of ids when v is the offsets of an embedding_bag, else -1:
 * its bags then split the ids evenly. */
static int64_t bag_ids_of(const struct graph *g, int v)
{
    for (int i = 0; i < g->n_nodes; i++) {
        int off, w;
        if (g->nodes[i].op != GRAPH_OP_EMBEDDING_BAG)
            continue;
        graph_bag_inputs(g, &g->nodes[i], &off, &w);
        if (off == v)
            return quanta_shape_numel(&g->values[g->nodes[i].inputs[0]].shape);
    }
    return -1;
}

/* xorshift64*: the same stream on every machine. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void bench_input_free(struct bench_input *in)
{
    for (int i = 0; i < in->n; i++)
        free(in->buffers[i]);
    free(in->buffers);
    memset(in, 0, sizeof *in);
}

enum quanta_status bench_input_make(struct bench_input *in, const struct graph *g, const char *path,
                                  int64_t max_batch, struct quanta_error *err)
{
    memset(in, 0, sizeof *in);
    in->buffers = calloc((size_t)g->n_inputs + 1, sizeof *in->buffers);
    if (!in->buffers)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
    in->n = g->n_inputs;
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i].value;
        struct quanta_shape s = graph_value_shape(g, v, max_batch);
        int64_t numel = quanta_shape_numel(&s);
        bool integer = is_integer_input(g->values[v].dtype);
        size_t elem = integer ? sizeof(int64_t) : sizeof(float);
        if (numel < 1 || (uint64_t)numel > SIZE_MAX / elem) {
            bench_input_free(in);
            return quanta_fail(err, QUANTA_ERR_INPUT, "%s: input '%s' is too large for batch %lld",
                               path, g->values[v].name, (long long)max_batch);
        }
        in->buffers[i] = malloc((size_t)numel * elem);
        if (!in->buffers[i]) {
            bench_input_free(in);
            return quanta_fail(err, QUANTA_ERR_NOMEM,
                               "out of memory for input '%s' at batch %lld", g->values[v].name,
                               (long long)max_batch);
        }
        uint64_t state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)(i + 1);
        if (integer) {
            int64_t vocab = vocab_of(g, v), *ids = in->buffers[i], n_ids = bag_ids_of(g, v);
            for (int64_t k = 0; k < numel; k++)
                ids[k] = n_ids >= 0 ? k * n_ids / numel
                                    : (int64_t)(next_random(&state) % (uint64_t)vocab);
        } else {
            float *x = in->buffers[i];
            for (int64_t k = 0; k < numel; k++)
                x[k] = (float)((double)(next_random(&state) >> 11) * 0x1.0p-52 - 1.0);
        }
    }
    return QUANTA_OK;
}

/* A model held in memory for the runner suites: tensors pointing at the
 * test's own arrays in an st_file, a graph parsed from JSON over them, and
 * a runner made from it; each step fails the test on error. */
#ifndef QUANTA_TEST_MODEL_H
#define QUANTA_TEST_MODEL_H

#include <check.h>
#include "quanta/graph.h"
#include "quanta/runtime.h"
#include "support/test_support.h"

#define TM_MAX_TENSORS 16

struct tmodel {
    struct st_file file;
    struct st_tensor tensors[TM_MAX_TENSORS];
    struct graph g;
};

/* A shape from its dims: SHAPE(1, 28, 28, 1). */
#define SHAPE(...)                                                                            \
    ((struct quanta_shape){.rank = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
                           .dims = {__VA_ARGS__}})

/* Adds tensor name (data not copied: it must outlive the model). */
static inline void tm_tensor(struct tmodel *m, const char *name, enum quanta_dtype dtype,
                             struct quanta_shape shape, const void *data)
{
    ck_assert_uint_lt(m->file.n_tensors, TM_MAX_TENSORS);
    struct st_tensor *t = &m->tensors[m->file.n_tensors++];
    t->name = name;
    t->dtype = dtype;
    t->shape = shape;
    t->begin = 0;
    t->end = (uint64_t)quanta_shape_numel(&shape) * quanta_dtype_size(dtype);
    t->data = data;
    m->file.tensors = m->tensors;
}

/* Parses the graph JSON over the tensors added so far into m->g. */
static inline void tm_load(struct tmodel *m, const char *json)
{
    struct quanta_error err = {0};
    enum quanta_status st = graph_parse(&m->g, json, &m->file, "test", &err);
    ck_assert_msg(st == QUANTA_OK, "graph_parse: %s", err.message);
}

/* A one-thread runner for g (runner_free it). */
static inline struct runner *tm_new_runner(const struct graph *g, int64_t max_batch)
{
    struct quanta_error err = {0};
    struct runner *r = NULL;
    struct runner_options opt = {.max_batch = max_batch, .threads = 1};
    enum quanta_status st = runner_create(&r, g, &opt, &err);
    ck_assert_msg(st == QUANTA_OK, "runner_create: %s", err.message);
    return r;
}

#endif

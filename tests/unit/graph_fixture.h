/* Helpers for the graph suites: an in-memory struct st_file (tensors with
 * zero-filled data, no mapping) and JSON written with single quotes. */
#ifndef QUANTA_TEST_GRAPH_FIXTURE_H
#define QUANTA_TEST_GRAPH_FIXTURE_H

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "quanta/graph.h"

#define FX_MAX 32
#define FX_HDR "'format': 'quanta.graph', 'version': 1"

struct fixture {
    struct st_file file;
    struct st_tensor tensors[FX_MAX];
    struct st_meta meta[4];
    void *bufs[FX_MAX];
};

static inline void fx_init(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    f->file.path = (char *)"m.st";
    f->file.tensors = f->tensors;
    f->file.meta = f->meta;
}

/* Adds a tensor of the given dims (rank entries), zero-filled; returns its
 * data for the test to fill. */
static inline void *fx_tensor(struct fixture *f, const char *name, enum quanta_dtype dtype,
                              int rank, ...)
{
    ck_assert_uint_lt(f->file.n_tensors, FX_MAX);
    struct st_tensor *t = &f->tensors[f->file.n_tensors];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = dtype;
    t->shape.rank = rank;
    va_list ap;
    va_start(ap, rank);
    for (int i = 0; i < rank; i++)
        t->shape.dims[i] = va_arg(ap, int);
    va_end(ap);
    size_t bytes = (size_t)quanta_shape_numel(&t->shape) * quanta_dtype_size(dtype);
    void *data = calloc(1, bytes + 8);
    ck_assert_ptr_nonnull(data);
    f->bufs[f->file.n_tensors] = data;
    t->data = data;
    t->begin = 0;
    t->end = bytes;
    f->file.n_tensors++;
    return data;
}

static inline void fx_free(struct fixture *f)
{
    for (size_t i = 0; i < FX_MAX; i++)
        free(f->bufs[i]);
    memset(f, 0, sizeof *f);
}

/* The JSON with ' turned into " (malloc'd). */
static inline char *fx_json(const char *single)
{
    char *s = strdup(single);
    ck_assert_ptr_nonnull(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

static inline enum quanta_status fx_parse(struct graph *g, struct fixture *f, const char *single,
                                          struct quanta_error *err)
{
    char *json = fx_json(single);
    enum quanta_status st = graph_parse(g, json, f ? &f->file : NULL, "m.st", err);
    free(json);
    return st;
}

/* One node "n" reading input x (shape given as JSON) and writing y. */
static inline enum quanta_status fx_node(struct graph *g, struct fixture *f, const char *x_shape,
                                         const char *node, struct quanta_error *err)
{
    char buf[4096];
    snprintf(buf, sizeof buf,
             "{" FX_HDR ", 'inputs': [{'name': 'x', 'shape': %s}], 'outputs': ['y'], "
             "'nodes': [%s]}",
             x_shape, node);
    return fx_parse(g, f, buf, err);
}

/* "[-1, 13, 13, 8]" for value name (static buffer). */
static inline const char *fx_shape(const struct graph *g, const char *name)
{
    static char buf[128];
    int v = graph_find_value(g, name);
    ck_assert_msg(v >= 0, "no value '%s'", name);
    return quanta_shape_format(&g->values[v].shape, buf, sizeof buf);
}

/* Asserts st failed with QUANTA_ERR_INPUT and a message containing want. */
#define FX_ASSERT_FAILS(st, err, want)                                                    \
    do {                                                                                   \
        ck_assert_int_eq((st), QUANTA_ERR_INPUT);                                          \
        ck_assert_msg(strstr((err).message, (want)) != NULL, "message '%s' lacks '%s'",   \
                      (err).message, (want));                                              \
    } while (0)

#endif

/* The concat parameter rule of the static rewrite (src/quant/quantize.c,
 * concat_range_source; man quanta-quantize(1), "Parameters of pass-through
 * nodes"): a value that only an int8 concat reads, directly or through a
 * reshape-like node, takes the concat's calibrated range (no relu clamp),
 * so the concat copies it; a value with another reader keeps its own; a
 * concat read only by another concat passes the outer one's range on; an
 * excluded concat passes nothing. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/graph.h"
#include "quanta/quantize.h"
#include "support/test_support.h"

/* x [N, 4] -> dense a + relu -> flatten (alone) -+
 *             dense b -----------------------------+-> concat cat [N, 7] -+
 *             dense c (also read by dense d) ------+                      +-> concat cat2 [N, 9] -> dense e
 *             dense f ------------------------------------------------------+
 * outputs e.out and d.out */
#define TC_GRAPH                                                                                \
    "{'format': 'quanta.graph', 'version': 1, 'name': 'tc',"                                    \
    " 'inputs': [{'name': 'x', 'shape': [-1, 4], 'dtype': 'F32'}],"                             \
    " 'outputs': ['e.out', 'd.out'], 'nodes': ["                                                \
    "{'op': 'dense', 'name': 'a', 'inputs': ['x', 'a.w'], 'outputs': ['a.out']},"               \
    "{'op': 'relu', 'name': 'ra', 'inputs': ['a.out'], 'outputs': ['ra.out']},"                 \
    "{'op': 'flatten', 'name': 'fl', 'inputs': ['ra.out'], 'outputs': ['fl.out']},"             \
    "{'op': 'dense', 'name': 'b', 'inputs': ['x', 'b.w'], 'outputs': ['b.out']},"               \
    "{'op': 'dense', 'name': 'c', 'inputs': ['x', 'c.w'], 'outputs': ['c.out']},"               \
    "{'op': 'dense', 'name': 'd', 'inputs': ['c.out', 'd.w'], 'outputs': ['d.out']},"           \
    "{'op': 'concat', 'name': 'cat', 'inputs': ['fl.out', 'b.out', 'c.out'],"                   \
    " 'outputs': ['cat.out'], 'attrs': {'axis': 1}},"                                           \
    "{'op': 'dense', 'name': 'f', 'inputs': ['x', 'f.w'], 'outputs': ['f.out']},"               \
    "{'op': 'concat', 'name': 'cat2', 'inputs': ['cat.out', 'f.out'],"                          \
    " 'outputs': ['cat2.out'], 'attrs': {'axis': 1}},"                                          \
    "{'op': 'dense', 'name': 'e', 'inputs': ['cat2.out', 'e.w'], 'outputs': ['e.out']}]}"

#define TC_N 6

struct tc_model {
    struct st_file file;
    struct st_tensor t[TC_N];
    float *bufs[TC_N];
    struct graph g;
};

static void tc_tensor(struct tc_model *m, int i, const char *name, int64_t rows, int64_t cols)
{
    struct st_tensor *t = &m->t[i];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = QUANTA_F32;
    t->shape.rank = 2;
    t->shape.dims[0] = rows;
    t->shape.dims[1] = cols;
    float *d = malloc(sizeof(float) * (size_t)(rows * cols));
    ck_assert_ptr_nonnull(d);
    for (int64_t k = 0; k < rows * cols; k++)
        d[k] = (float)((k * 7 + i * 3) % 11 - 5) / 8.0f;
    t->data = d;
    t->end = (uint64_t)(rows * cols) * sizeof(float);
    m->bufs[i] = d;
}

static void tc_make(struct tc_model *m)
{
    memset(m, 0, sizeof *m);
    tc_tensor(m, 0, "a.w", 3, 4);
    tc_tensor(m, 1, "b.w", 2, 4);
    tc_tensor(m, 2, "c.w", 2, 4);
    tc_tensor(m, 3, "d.w", 1, 2);
    tc_tensor(m, 4, "f.w", 2, 4);
    tc_tensor(m, 5, "e.w", 1, 9);
    m->file.tensors = m->t;
    m->file.n_tensors = TC_N;
    char *json = strdup(TC_GRAPH);
    ck_assert_ptr_nonnull(json);
    for (char *p = json; *p; p++)
        if (*p == '\'')
            *p = '"';
    struct quanta_error err = {0};
    enum quanta_status st = graph_parse(&m->g, json, &m->file, "test", &err);
    free(json);
    ck_assert_msg(st == QUANTA_OK, "graph_parse: %s", err.message);
}

static void tc_free(struct tc_model *m)
{
    graph_free(&m->g);
    for (int i = 0; i < TC_N; i++)
        free(m->bufs[i]);
}

/* calibrated ranges, each different, so equal parameters mean the rule */
static const struct {
    const char *name;
    float lo, hi;
} tc_ranges[] = {
    {"x", -1.0f, 1.0f},      {"a.out", -1.0f, 1.5f}, {"ra.out", 0.0f, 1.5f},
    {"fl.out", 0.0f, 1.5f},  {"b.out", -0.5f, 0.5f}, {"c.out", -3.0f, 2.0f},
    {"d.out", -1.0f, 1.0f},  {"cat.out", -3.0f, 2.0f}, {"f.out", -0.25f, 0.75f},
    {"cat2.out", -3.5f, 2.5f}, {"e.out", -4.0f, 4.0f},
};

static bool tc_find(void *ctx, const char *value, float *lo, float *hi)
{
    (void)ctx;
    for (size_t i = 0; i < sizeof tc_ranges / sizeof tc_ranges[0]; i++)
        if (strcmp(tc_ranges[i].name, value) == 0) {
            *lo = tc_ranges[i].lo;
            *hi = tc_ranges[i].hi;
            return true;
        }
    return false;
}

static const struct graph_quant *quant_of(const struct graph *g, const char *name)
{
    int v = graph_find_value(g, name);
    ck_assert_msg(v >= 0, "no value '%s'", name);
    ck_assert_msg(g->values[v].dtype == QUANTA_I8, "value '%s' is not I8", name);
    return &g->values[v].quant;
}

static bool same(const struct graph_quant *x, const struct graph_quant *y)
{
    return x->scale == y->scale && x->zero_point == y->zero_point;
}

static void tc_quantize(const struct graph *src, const char *exclude, struct graph *out)
{
    struct quantize_options opt;
    quantize_options_default(&opt);
    const char *ex[1] = {exclude};
    opt.exclude = ex;
    opt.n_exclude = exclude ? 1 : 0;
    opt.int8_outputs = true; /* every dense writes int8 */
    const struct quantize_ranges ranges = {tc_find, NULL};
    struct quanta_error err = {0};
    enum quanta_status st = quantize_model(src, &opt, &ranges, out, "test", &err);
    ck_assert_msg(st == QUANTA_OK, "quantize_model: %s", err.message);
}

START_TEST(concat_inputs_take_its_parameters)
{
    struct tc_model m;
    tc_make(&m);
    struct graph q;
    tc_quantize(&m.g, NULL, &q);
    const struct graph_quant *outer = quant_of(&q, "cat2.out");
    /* cat2's own range: [-3.5, 2.5] over 255 steps */
    ck_assert_float_eq_tol(outer->scale, 6.0f / 255.0f, 1e-7f);
    /* alone read by cat (through the flatten) or by cat2: cat2's range,
     * and the relu's clamp to [0, 1.5] not applied */
    ck_assert(same(quant_of(&q, "ra.out"), outer));
    ck_assert(same(quant_of(&q, "fl.out"), outer));
    ck_assert(same(quant_of(&q, "b.out"), outer));
    ck_assert(same(quant_of(&q, "f.out"), outer));
    ck_assert(same(quant_of(&q, "cat.out"), outer));
    /* c.out is also read by d: its own range [-3, 2] */
    const struct graph_quant *c = quant_of(&q, "c.out");
    ck_assert(!same(c, outer));
    ck_assert_float_eq_tol(c->scale, 5.0f / 255.0f, 1e-7f);
    graph_free(&q);
    tc_free(&m);
}
END_TEST

START_TEST(excluded_concat_passes_nothing)
{
    struct tc_model m;
    tc_make(&m);
    struct graph q;
    tc_quantize(&m.g, "cat2", &q); /* cat2 float: cat and f keep their ranges */
    const struct graph_quant *cat = quant_of(&q, "cat.out");
    ck_assert_float_eq_tol(cat->scale, 5.0f / 255.0f, 1e-7f); /* cat's [-3, 2] */
    ck_assert(same(quant_of(&q, "ra.out"), cat));
    ck_assert(same(quant_of(&q, "b.out"), cat));
    ck_assert_float_eq_tol(quant_of(&q, "f.out")->scale, 1.0f / 255.0f, 1e-7f);
    graph_free(&q);

    tc_quantize(&m.g, "cat", &q); /* cat float: its inputs keep their own ranges */
    const struct graph_quant *ra = quant_of(&q, "ra.out");
    ck_assert_float_eq_tol(ra->scale, 1.5f / 255.0f, 1e-7f);
    ck_assert_int_eq(ra->zero_point, -128);
    ck_assert_float_eq_tol(quant_of(&q, "b.out")->scale, 1.0f / 255.0f, 1e-7f);
    graph_free(&q);
    tc_free(&m);
}
END_TEST

Suite *suite_quantize_concat(void); /* called by tests/main.c */
Suite *suite_quantize_concat(void)
{
    Suite *s = suite_create("quantize_concat");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, concat_inputs_take_its_parameters);
    tcase_add_test(tc, excluded_concat_passes_nothing);
    suite_add_tcase(s, tc);
    return s;
}

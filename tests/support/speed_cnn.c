/* The speed CNN of speed_cnn.h. */
#include "support/speed_cnn.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/quantize.h"
#include "support/test_support.h"

#define SC_JSON                                                                               \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"speed\","                         \
    "\"inputs\":[{\"name\":\"image\",\"shape\":[-1,20,20,4],\"dtype\":\"F32\"}],"             \
    "\"outputs\":[\"logits\",\"probs\"],\"nodes\":["                                          \
    "{\"op\":\"conv2d\",\"name\":\"c1\",\"inputs\":[\"image\",\"c1.w\",\"c1.b\"],"             \
    " \"outputs\":[\"c1.out\"],\"attrs\":{\"pads\":[1,1,1,1],\"activation\":\"relu\"}},"      \
    "{\"op\":\"add\",\"name\":\"twice\",\"inputs\":[\"c1.out\",\"c1.out\"],"                \
    " \"outputs\":[\"c1.sum\"]},"                                                            \
    "{\"op\":\"max_pool2d\",\"name\":\"p1\",\"inputs\":[\"c1.sum\"],"                         \
    " \"outputs\":[\"p1.out\"],\"attrs\":{\"kernel\":[2,2],\"strides\":[2,2]}},"              \
    "{\"op\":\"conv2d\",\"name\":\"dw\",\"inputs\":[\"p1.out\",\"dw.w\",\"dw.b\"],"            \
    " \"outputs\":[\"dw.out\"],\"attrs\":{\"groups\":16,\"pads\":[1,1,1,1],"                  \
    "  \"activation\":\"relu6\"}},"                                                           \
    "{\"op\":\"conv2d\",\"name\":\"pw\",\"inputs\":[\"dw.out\",\"pw.w\",\"pw.b\"],"            \
    " \"outputs\":[\"pw.out\"],\"attrs\":{\"activation\":\"relu\"}},"                         \
    "{\"op\":\"conv2d\",\"name\":\"c3\",\"inputs\":[\"pw.out\",\"c3.w\",\"c3.b\"],"            \
    " \"outputs\":[\"c3.out\"],\"attrs\":{\"strides\":[2,2],\"pads\":[1,1,1,1]}},"            \
    "{\"op\":\"avg_pool2d\",\"name\":\"ap\",\"inputs\":[\"c3.out\"],"                         \
    " \"outputs\":[\"ap.out\"],\"attrs\":{\"kernel\":[3,3],\"strides\":[1,1],\"pads\":[1,1,1,1]}},"             \
    "{\"op\":\"add\",\"name\":\"res\",\"inputs\":[\"c3.out\",\"ap.out\"],"                    \
    " \"outputs\":[\"res.out\"],\"attrs\":{\"activation\":\"relu\"}},"                        \
    "{\"op\":\"flatten\",\"name\":\"f\",\"inputs\":[\"res.out\"],\"outputs\":[\"f.out\"]},"    \
    "{\"op\":\"dense\",\"name\":\"fc1\",\"inputs\":[\"f.out\",\"fc1.w\",\"fc1.b\"],"           \
    " \"outputs\":[\"fc1.out\"],\"attrs\":{\"activation\":\"relu\"}},"                        \
    "{\"op\":\"dense\",\"name\":\"fc2\",\"inputs\":[\"fc1.out\",\"fc2.w\",\"fc2.b\"],"         \
    " \"outputs\":[\"logits\"]},"                                                             \
    "{\"op\":\"softmax\",\"name\":\"sm\",\"inputs\":[\"logits\"],\"outputs\":[\"probs\"]}]}"

/* shapes: c1 20x20x4 -> 20x20x16 (twice: + itself, element-wise, split by
 * elements at batch 64); p1 -> 10x10x16; dw -> 10x10x16;
 * pw -> 10x10x32; c3 -> 5x5x32; ap, res -> 5x5x32 = 800; fc1 -> 48; fc2 -> 10 */
#define N_TENSORS 12
#define MAX_RANGES 32

struct speed_cnn {
    struct st_file file;
    struct st_tensor tensors[N_TENSORS];
    struct graph g, q;
    float c1w[16 * 3 * 3 * 4], c1b[16], dww[16 * 3 * 3], dwb[16], pww[32 * 16], pwb[32];
    float c3w[32 * 3 * 3 * 32], c3b[32], fc1w[48 * 800], fc1b[48], fc2w[10 * 48], fc2b[10];
    /* calibration ranges */
    int n_ranges;
    const char *name[MAX_RANGES];
    float lo[MAX_RANGES], hi[MAX_RANGES];
};

static void fill(uint64_t *state, float *x, int64_t n, float scale)
{
    ts_fill(state, x, (size_t)n, -scale, scale);
}

void sc_input(float *x, int64_t n)
{
    uint64_t state = 0x9e3779b97f4a7c15ull;
    fill(&state, x, n, 1.0f);
}

#define SC_SHAPE(...)                                                                          \
    ((struct quanta_shape){.rank = (int)(sizeof((int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), \
                           .dims = {__VA_ARGS__}})

static void add_tensor(struct speed_cnn *m, const char *name, struct quanta_shape shape,
                       const float *data)
{
    ck_assert_uint_lt(m->file.n_tensors, N_TENSORS);
    struct st_tensor *t = &m->tensors[m->file.n_tensors++];
    t->name = name;
    t->dtype = QUANTA_F32;
    t->shape = shape;
    t->begin = 0;
    t->end = (uint64_t)quanta_shape_numel(&shape) * sizeof(float);
    t->data = data;
    m->file.tensors = m->tensors;
}

static void range_hook(void *ctx, const struct graph *g, int value, const float *data,
                       const struct quanta_shape *shape)
{
    struct speed_cnn *m = ctx;
    int i = 0;
    while (i < m->n_ranges && strcmp(m->name[i], g->values[value].name) != 0)
        i++;
    if (i == m->n_ranges) {
        ck_assert_int_lt(m->n_ranges, MAX_RANGES);
        m->name[i] = g->values[value].name;
        m->lo[i] = INFINITY;
        m->hi[i] = -INFINITY;
        m->n_ranges++;
    }
    for (int64_t k = 0; k < quanta_shape_numel(shape); k++) {
        m->lo[i] = fminf(m->lo[i], data[k]);
        m->hi[i] = fmaxf(m->hi[i], data[k]);
    }
}

static bool range_find(void *ctx, const char *value, float *lo, float *hi)
{
    const struct speed_cnn *m = ctx;
    for (int i = 0; i < m->n_ranges; i++)
        if (strcmp(m->name[i], value) == 0) {
            *lo = m->lo[i];
            *hi = m->hi[i];
            return true;
        }
    return false;
}

struct speed_cnn *sc_create(void)
{
    struct speed_cnn *m = calloc(1, sizeof *m);
    ck_assert_ptr_nonnull(m);
    uint64_t state = 0x243f6a8885a308d3ull;
    fill(&state, m->c1w, 16 * 9 * 4, 0.5f);
    fill(&state, m->c1b, 16, 0.2f);
    fill(&state, m->dww, 16 * 9, 0.6f);
    fill(&state, m->dwb, 16, 0.2f);
    fill(&state, m->pww, 32 * 16, 0.4f);
    fill(&state, m->pwb, 32, 0.2f);
    fill(&state, m->c3w, 32 * 9 * 32, 0.15f);
    fill(&state, m->c3b, 32, 0.1f);
    fill(&state, m->fc1w, 48 * 800, 0.08f);
    fill(&state, m->fc1b, 48, 0.1f);
    fill(&state, m->fc2w, 10 * 48, 0.3f);
    fill(&state, m->fc2b, 10, 0.1f);
    add_tensor(m, "c1.w", SC_SHAPE(16, 3, 3, 4), m->c1w);
    add_tensor(m, "c1.b", SC_SHAPE(16), m->c1b);
    add_tensor(m, "dw.w", SC_SHAPE(16, 3, 3, 1), m->dww);
    add_tensor(m, "dw.b", SC_SHAPE(16), m->dwb);
    add_tensor(m, "pw.w", SC_SHAPE(32, 1, 1, 16), m->pww);
    add_tensor(m, "pw.b", SC_SHAPE(32), m->pwb);
    add_tensor(m, "c3.w", SC_SHAPE(32, 3, 3, 32), m->c3w);
    add_tensor(m, "c3.b", SC_SHAPE(32), m->c3b);
    add_tensor(m, "fc1.w", SC_SHAPE(48, 800), m->fc1w);
    add_tensor(m, "fc1.b", SC_SHAPE(48), m->fc1b);
    add_tensor(m, "fc2.w", SC_SHAPE(10, 48), m->fc2w);
    add_tensor(m, "fc2.b", SC_SHAPE(10), m->fc2b);
    struct quanta_error err = {0};
    enum quanta_status st = graph_parse(&m->g, SC_JSON, &m->file, "speed", &err);
    ck_assert_msg(st == QUANTA_OK, "graph_parse: %s", err.message);

    /* calibrate with the float runner's hook, then quantize */
    float *x = malloc(SC_MAX_BATCH * SC_IN * sizeof *x);
    ck_assert_ptr_nonnull(x);
    sc_input(x, SC_MAX_BATCH * SC_IN);
    struct runner *r = NULL;
    struct runner_options opt = {.max_batch = SC_MAX_BATCH, .threads = 1};
    st = runner_create(&r, &m->g, &opt, &err);
    ck_assert_msg(st == QUANTA_OK, "runner_create: %s", err.message);
    runner_set_hook(r, range_hook, m);
    const void *in[1] = {x};
    st = runner_run(r, SC_MAX_BATCH, in, &err);
    ck_assert_msg(st == QUANTA_OK, "runner_run: %s", err.message);
    runner_free(r);
    free(x);
    struct quantize_options qo;
    quantize_options_default(&qo);
    struct quantize_ranges qr = {range_find, m};
    st = quantize_model(&m->g, &qo, &qr, &m->q, "speed", &err);
    ck_assert_msg(st == QUANTA_OK, "quantize_model: %s", err.message);
    return m;
}

void sc_free(struct speed_cnn *m)
{
    if (!m)
        return;
    graph_free(&m->q);
    graph_free(&m->g);
    free(m);
}

const struct graph *sc_float(const struct speed_cnn *m)
{
    return &m->g;
}

const struct graph *sc_int8(const struct speed_cnn *m)
{
    return &m->q;
}

int64_t sc_run(const struct graph *g, int threads, int64_t max_batch, int64_t batch,
               const float *x, int index, float *out)
{
    struct quanta_error err = {0};
    struct runner *r = NULL;
    struct runner_options opt = {.max_batch = max_batch, .threads = threads};
    enum quanta_status st = runner_create(&r, g, &opt, &err);
    ck_assert_msg(st == QUANTA_OK, "runner_create: %s", err.message);
    const void *in[1] = {x};
    st = runner_run(r, batch, in, &err);
    ck_assert_msg(st == QUANTA_OK, "runner_run (%d threads, batch %lld): %s", threads,
                  (long long)batch, err.message);
    struct quanta_shape s;
    const float *y = runner_output(r, index, &s);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(s.dims[0], batch);
    int64_t per = quanta_shape_numel(&s) / batch;
    memcpy(out, y, (size_t)(batch * per) * sizeof *out);
    runner_free(r);
    return per;
}

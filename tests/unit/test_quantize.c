/* The quantization rewrite (src/quant/quantize*.c, dequantize.c): parameter
 * choice checked against hand values and bounds, batch_norm folding
 * checked by running both graphs, the static / weight-only / fp16 graphs
 * checked node by node, --exclude boundaries, determinism of the written
 * bytes, and dequantize as the inverse within half a step. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "quanta/graph.h"
#include "quanta/quantize.h"
#include "quanta/runtime.h"
#include "support/test_support.h"

/* ---- a model held in memory: F32 tensors filled by a deterministic LCG ---- */

#define TQ_MAX 16

struct tq_model {
    struct st_file file;
    struct st_tensor tensors[TQ_MAX];
    float *bufs[TQ_MAX];
    struct graph g;
};

static uint32_t tq_seed;

static float tq_rand(float lo, float hi)
{
    tq_seed = tq_seed * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(tq_seed >> 8) / 16777216.0f;
}

static float *tq_tensor(struct tq_model *m, const char *name, int rank, const int64_t *dims,
                        float lo, float hi)
{
    ck_assert_uint_lt(m->file.n_tensors, TQ_MAX);
    struct st_tensor *t = &m->tensors[m->file.n_tensors];
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = QUANTA_F32;
    t->shape.rank = rank;
    for (int i = 0; i < rank; i++)
        t->shape.dims[i] = dims[i];
    int64_t n = quanta_shape_numel(&t->shape);
    float *data = malloc((size_t)n * sizeof *data);
    ck_assert_ptr_nonnull(data);
    for (int64_t i = 0; i < n; i++)
        data[i] = tq_rand(lo, hi);
    t->data = data;
    t->end = (uint64_t)n * 4;
    m->bufs[m->file.n_tensors++] = data;
    m->file.tensors = m->tensors;
    return data;
}

static void tq_free(struct tq_model *m)
{
    graph_free(&m->g);
    for (int i = 0; i < TQ_MAX; i++)
        free(m->bufs[i]);
    memset(m, 0, sizeof *m);
}

/* JSON written with ' for ". */
static void tq_parse(struct tq_model *m, const char *single)
{
    char *json = strdup(single);
    ck_assert_ptr_nonnull(json);
    for (char *p = json; *p; p++)
        if (*p == '\'')
            *p = '"';
    struct quanta_error err = {0};
    enum quanta_status st = graph_parse(&m->g, json, &m->file, "test", &err);
    free(json);
    ck_assert_msg(st == QUANTA_OK, "graph_parse: %s", err.message);
}

/* conv (3x3, 2->3) -> batch_norm -> relu -> max_pool -> flatten -> dense
 * "logits" -> softmax "probs"; outputs probs and logits. */
#define TQ_CNN                                                                             \
    "{'format': 'quanta.graph', 'version': 1, 'name': 'tq',"                               \
    " 'inputs': [{'name': 'x', 'shape': [-1, 4, 4, 2], 'dtype': 'F32'}],"                  \
    " 'outputs': ['probs', 'logits'], 'nodes': ["                                          \
    "{'op': 'conv2d', 'name': 'conv1', 'inputs': ['x', 'c1.w', 'c1.b'], 'outputs': ['c1.out']},"  \
    "{'op': 'batch_norm', 'name': 'bn1', 'inputs': ['c1.out', 'bn.g', 'bn.b', 'bn.m', 'bn.v'],"   \
    " 'outputs': ['bn1.out'], 'attrs': {'epsilon': 0.001}},"                               \
    "{'op': 'relu', 'name': 'relu1', 'inputs': ['bn1.out'], 'outputs': ['relu1.out']},"    \
    "{'op': 'max_pool2d', 'name': 'pool1', 'inputs': ['relu1.out'], 'outputs': ['pool1.out'],"    \
    " 'attrs': {'kernel': [2, 2]}},"                                                       \
    "{'op': 'flatten', 'name': 'flat', 'inputs': ['pool1.out'], 'outputs': ['flat.out']}," \
    "{'op': 'dense', 'name': 'fc', 'inputs': ['flat.out', 'fc.w', 'fc.b'], 'outputs': ['logits']}," \
    "{'op': 'softmax', 'name': 'sm', 'inputs': ['logits'], 'outputs': ['probs']}]}"

static void tq_cnn(struct tq_model *m)
{
    memset(m, 0, sizeof *m);
    tq_seed = 12345;
    tq_tensor(m, "c1.w", 4, (int64_t[]){3, 3, 3, 2}, -0.5f, 0.5f);
    tq_tensor(m, "c1.b", 1, (int64_t[]){3}, -0.2f, 0.2f);
    tq_tensor(m, "bn.g", 1, (int64_t[]){3}, 0.5f, 1.5f);
    tq_tensor(m, "bn.b", 1, (int64_t[]){3}, -0.3f, 0.3f);
    tq_tensor(m, "bn.m", 1, (int64_t[]){3}, -0.1f, 0.1f);
    tq_tensor(m, "bn.v", 1, (int64_t[]){3}, 0.2f, 2.0f);
    tq_tensor(m, "fc.w", 2, (int64_t[]){4, 3}, -1.0f, 1.0f);
    tq_tensor(m, "fc.b", 1, (int64_t[]){4}, -0.5f, 0.5f);
    tq_parse(m, TQ_CNN);
}

/* Calibration ranges of the tests: a fixed table by value name. */
struct tq_range {
    const char *name;
    float lo, hi;
};
static const struct tq_range tq_ranges_cnn[] = {
    {"x", -1.0f, 1.0f},      {"c1.out", -2.0f, 2.0f},  {"bn1.out", -2.5f, 2.5f},
    {"relu1.out", 0.0f, 2.5f}, {"pool1.out", 0.0f, 2.5f}, {"flat.out", 0.0f, 2.5f},
    {"logits", -3.0f, 4.0f}, {"probs", 0.0f, 1.0f},   {"cat", -2.0f, 2.0f},
};

static bool tq_find(void *ctx, const char *value, float *lo, float *hi)
{
    const char *skip = ctx;
    for (size_t i = 0; i < sizeof tq_ranges_cnn / sizeof tq_ranges_cnn[0]; i++)
        if (strcmp(tq_ranges_cnn[i].name, value) == 0 && !(skip && strcmp(skip, value) == 0)) {
            *lo = tq_ranges_cnn[i].lo;
            *hi = tq_ranges_cnn[i].hi;
            return true;
        }
    return false;
}

static const struct quantize_ranges tq_ranges = {tq_find, NULL};

static void tq_quantize(const struct graph *src, const struct quantize_options *opt,
                        struct graph *out)
{
    struct quanta_error err = {0};
    enum quanta_status st = quantize_model(src, opt, &tq_ranges, out, "test", &err);
    ck_assert_msg(st == QUANTA_OK, "quantize_model: %s", err.message);
}

static int find_node(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return i;
    return -1;
}

static int count_op(const struct graph *g, enum graph_op op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += g->nodes[i].op == op;
    return n;
}

static const struct graph_value *value(const struct graph *g, const char *name)
{
    int v = graph_find_value(g, name);
    ck_assert_msg(v >= 0, "no value '%s'", name);
    return &g->values[v];
}

/* Runs g on batch samples of x (shape [batch, 4, 4, 2]) and copies output
 * index out_index into y. */
static void tq_run(const struct graph *g, const float *x, int64_t batch, int out_index, float *y,
                   int64_t n_y)
{
    struct quanta_error err = {0};
    struct runner *r = NULL;
    struct runner_options ro = {.max_batch = batch, .threads = 1};
    ck_assert_msg(runner_create(&r, g, &ro, &err) == QUANTA_OK, "runner_create: %s", err.message);
    const void *inputs[1] = {x};
    ck_assert_msg(runner_run(r, batch, inputs, &err) == QUANTA_OK, "runner_run: %s", err.message);
    struct quanta_shape shape;
    const float *out = runner_output(r, out_index, &shape);
    ck_assert_int_eq(quanta_shape_numel(&shape), n_y);
    memcpy(y, out, (size_t)n_y * sizeof *y);
    runner_free(r);
}

/* ---- parameters ---- */

START_TEST(test_params_by_hand)
{
    struct quanta_error err = {0};
    float s;
    int32_t zp;
    /* [-1, 3]: scale 4/255; zero at -128 + 1/(4/255) = -64.25 -> -64 */
    ck_assert_int_eq(quantize_choose_params(-1.0f, 3.0f, QUANTA_I8, QUANTIZE_ASYMMETRIC, &s, &zp, &err), QUANTA_OK);
    ck_assert_float_eq(s, (float)(4.0 / 255.0));
    ck_assert_int_eq(zp, -64);
    /* uint8: same scale, zero point 128 higher */
    ck_assert_int_eq(quantize_choose_params(-1.0f, 3.0f, QUANTA_U8, QUANTIZE_ASYMMETRIC, &s, &zp, &err), QUANTA_OK);
    ck_assert_float_eq(s, (float)(4.0 / 255.0));
    ck_assert_int_eq(zp, 64);
    /* symmetric: max(|lo|, |hi|) / 127, zero point 0 / 128 */
    ck_assert_int_eq(quantize_choose_params(-1.0f, 3.0f, QUANTA_I8, QUANTIZE_SYMMETRIC, &s, &zp, &err), QUANTA_OK);
    ck_assert_float_eq(s, (float)(3.0 / 127.0));
    ck_assert_int_eq(zp, 0);
    ck_assert_int_eq(quantize_choose_params(-1.0f, 3.0f, QUANTA_U8, QUANTIZE_SYMMETRIC, &s, &zp, &err), QUANTA_OK);
    ck_assert_int_eq(zp, 128);
    /* a positive range is widened to 0: [0, 2.55] -> zero point qmin */
    ck_assert_int_eq(quantize_choose_params(0.5f, 2.55f, QUANTA_I8, QUANTIZE_ASYMMETRIC, &s, &zp, &err), QUANTA_OK);
    ck_assert_float_eq_tol(s, 0.01f, 1e-8f);
    ck_assert_int_eq(zp, -128);
    /* a negative range: zero point qmax */
    ck_assert_int_eq(quantize_choose_params(-5.0f, -1.0f, QUANTA_U8, QUANTIZE_ASYMMETRIC, &s, &zp, &err), QUANTA_OK);
    ck_assert_int_eq(zp, 255);
    /* width 0 */
    ck_assert_int_eq(quantize_choose_params(0.0f, 0.0f, QUANTA_I8, QUANTIZE_ASYMMETRIC, &s, &zp, &err), QUANTA_OK);
    ck_assert_float_eq(s, 1.0f);
    /* refused: not finite, lo > hi */
    ck_assert_int_eq(quantize_choose_params(-INFINITY, 1.0f, QUANTA_I8, QUANTIZE_ASYMMETRIC, &s, &zp, &err), QUANTA_ERR_INPUT);
    ck_assert_int_eq(quantize_choose_params(2.0f, 1.0f, QUANTA_I8, QUANTIZE_ASYMMETRIC, &s, &zp, &err), QUANTA_ERR_INPUT);
}
END_TEST

START_TEST(test_params_zero_exact_random)
{
    struct quanta_error err = {0};
    tq_seed = 777;
    for (int i = 0; i < 2000; i++) {
        float a = tq_rand(-100.0f, 100.0f) * (i % 3 == 0 ? 1e-3f : 1.0f);
        float b = a + tq_rand(0.0f, 50.0f);
        enum quanta_dtype t = i % 2 ? QUANTA_U8 : QUANTA_I8;
        int32_t qmin = t == QUANTA_I8 ? -128 : 0, qmax = t == QUANTA_I8 ? 127 : 255;
        float s;
        int32_t zp;
        ck_assert_int_eq(quantize_choose_params(a, b, t, QUANTIZE_ASYMMETRIC, &s, &zp, &err), QUANTA_OK);
        ck_assert(s > 0.0f);
        /* zero is the integer zp, inside the type: exactly representable */
        ck_assert_int_ge(zp, qmin);
        ck_assert_int_le(zp, qmax);
        ck_assert(s * (float)(zp - zp) == 0.0f);
        /* the representable range covers [min(a,0), max(b,0)] up to the nudge
         * (half a step) */
        double lo = a < 0 ? a : 0, hi = b > 0 ? b : 0;
        ck_assert(s * (double)(qmin - zp) <= lo + 0.5 * s * (1 + 1e-5));
        ck_assert(s * (double)(qmax - zp) >= hi - 0.5 * s * (1 + 1e-5));
        /* int8 and uint8 agree: same scale, zero points 128 apart */
        float s2;
        int32_t zp2;
        enum quanta_dtype other = t == QUANTA_I8 ? QUANTA_U8 : QUANTA_I8;
        ck_assert_int_eq(quantize_choose_params(a, b, other, QUANTIZE_ASYMMETRIC, &s2, &zp2, &err), QUANTA_OK);
        ck_assert_float_eq(s, s2);
        ck_assert_int_eq(t == QUANTA_U8 ? zp - zp2 : zp2 - zp, 128);
    }
}
END_TEST

static void check_weights(bool per_channel)
{
    enum { C = 5, K = 37 };
    float w[C * K], scales[C];
    int8_t q[C * K];
    tq_seed = per_channel ? 1 : 2;
    for (int c = 0; c < C; c++)
        for (int k = 0; k < K; k++)
            w[c * K + k] = tq_rand(-1.0f, 1.0f) * (float)(c + 1) * (c == 3 ? 0.0f : 1.0f);
    quantize_weights_i8(w, C, K, per_channel, NULL, q, scales);
    for (int c = 0; c < C; c++) {
        double m = 0.0;
        for (int k = 0; k < (per_channel ? K : C * K); k++)
            m = fmax(m, fabs(w[(per_channel ? c * K : 0) + k]));
        float s = scales[per_channel ? c : 0];
        if (m > 0)
            ck_assert_float_eq_tol(s, (float)(m / 127.0), 1e-7f * (float)m);
        else
            ck_assert_float_eq(s, 1.0f); /* channel 3: all zeros */
        int qmax = 0;
        for (int k = 0; k < K; k++) {
            int i = c * K + k;
            ck_assert_int_ge(q[i], -127);
            ck_assert_int_le(q[i], 127);
            qmax = abs(q[i]) > qmax ? abs(q[i]) : qmax;
            /* within half a step */
            ck_assert_msg(fabs(w[i] - (double)s * q[i]) <= 0.5 * s * (1 + 1e-6),
                          "w %g q %d s %g", (double)w[i], q[i], (double)s);
        }
        if (per_channel && m > 0)
            ck_assert_int_eq(qmax, 127); /* the largest weight uses the full range */
    }
}

START_TEST(test_weights_per_channel)
{
    check_weights(true);
}
END_TEST

START_TEST(test_weights_per_tensor)
{
    check_weights(false);
}
END_TEST

START_TEST(test_bias_i32)
{
    const float b[4] = {0.5f, -0.25f, 1e6f, -3.0f};
    const float s[4] = {0.1f, 0.1f, 1e-6f, 0.04f};
    int32_t q[4];
    quantize_bias_i32(b, 4, s, true, q);
    ck_assert_int_eq(q[0], 5);
    ck_assert_int_eq(q[1], -2); /* -2.5 (in double: -2.4999999...) */
    ck_assert_int_eq(q[2], INT32_MAX); /* saturates */
    ck_assert_int_eq(q[3], -75);
    quantize_bias_i32(b, 2, s, false, q);
    ck_assert_int_eq(q[0], 5);
}
END_TEST

/* ---- folding ---- */

START_TEST(test_fold_batch_norm_same_outputs)
{
    struct tq_model m;
    tq_cnn(&m);
    struct graph folded;
    struct quanta_error err = {0};
    ck_assert_msg(quantize_fold(&m.g, true, NULL, 0, &folded, "test", &err) == QUANTA_OK, "%s", err.message);
    /* batch_norm and relu are gone: conv1 writes relu1.out with a fused relu */
    ck_assert_int_eq(count_op(&folded, GRAPH_OP_BATCH_NORM), 0);
    ck_assert_int_eq(count_op(&folded, GRAPH_OP_RELU), 0);
    int c = find_node(&folded, "conv1");
    ck_assert_int_ge(c, 0);
    ck_assert_int_eq(folded.nodes[c].attrs.activation, GRAPH_ACT_RELU);
    ck_assert_str_eq(folded.values[folded.nodes[c].outputs[0]].name, "relu1.out");
    ck_assert_int_lt(graph_find_value(&folded, "c1.out"), 0);

    enum { B = 3 };
    float x[B * 32], y0[B * 4], y1[B * 4];
    tq_seed = 99;
    for (int i = 0; i < B * 32; i++)
        x[i] = tq_rand(-1.0f, 1.0f);
    tq_run(&m.g, x, B, 1, y0, B * 4);
    tq_run(&folded, x, B, 1, y1, B * 4);
    for (int i = 0; i < B * 4; i++)
        ck_assert_float_eq_tol(y0[i], y1[i], 1e-5f);
    graph_free(&folded);

    /* excluded batch_norm stays */
    const char *ex[] = {"bn1"};
    ck_assert_int_eq(quantize_fold(&m.g, false, ex, 1, &folded, "test", &err), QUANTA_OK);
    ck_assert_int_eq(count_op(&folded, GRAPH_OP_BATCH_NORM), 1);
    ck_assert_int_eq(count_op(&folded, GRAPH_OP_RELU), 1);
    graph_free(&folded);
    tq_free(&m);
}
END_TEST

/* ---- static ---- */

START_TEST(test_static_graph)
{
    struct tq_model m;
    tq_cnn(&m);
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct graph q;
    tq_quantize(&m.g, &opt, &q);

    /* a quantize node right after the float input */
    const struct graph_value *xq = value(&q, "x.q");
    ck_assert_int_eq(xq->dtype, QUANTA_I8);
    ck_assert_int_eq(q.nodes[xq->producer].op, GRAPH_OP_QUANTIZE);
    ck_assert_int_eq(value(&q, "x")->dtype, QUANTA_F32);
    /* conv: per-channel I8 weights of the folded conv, I32 bias s_in * s_w */
    const struct graph_node *conv = &q.nodes[find_node(&q, "conv1")];
    const struct graph_value *w = &q.values[conv->inputs[1]];
    const struct graph_value *b = &q.values[conv->inputs[2]];
    ck_assert_int_eq(w->dtype, QUANTA_I8);
    ck_assert_int_eq(w->quant.axis, 0);
    ck_assert_int_eq(w->quant.n, 3);
    ck_assert_int_eq(b->dtype, QUANTA_I32);
    for (int o = 0; o < 3; o++) {
        ck_assert_int_eq(w->quant.zero_points[o], 0);
        ck_assert_int_eq(b->quant.zero_points[o], 0);
        ck_assert_float_eq(b->quant.scales[o], (float)((double)xq->quant.scale * w->quant.scales[o]));
    }
    /* conv output: fused relu, range [0, 2.5] -> zero point -128 */
    const struct graph_value *r1 = value(&q, "relu1.out");
    ck_assert_int_eq(r1->dtype, QUANTA_I8);
    ck_assert_int_eq(r1->quant.zero_point, -128);
    ck_assert_float_eq_tol(r1->quant.scale, 2.5f / 255.0f, 1e-9f);
    /* max_pool and flatten keep their input's parameters */
    ck_assert_float_eq(value(&q, "pool1.out")->quant.scale, r1->quant.scale);
    ck_assert_int_eq(value(&q, "flat.out")->quant.zero_point, r1->quant.zero_point);
    /* logits: int8 "logits.q", softmax reads it (float out), a dequantize
     * gives the float output "logits" under its own name */
    const struct graph_value *lq = value(&q, "logits.q");
    ck_assert_int_eq(lq->dtype, QUANTA_I8);
    ck_assert_int_eq(q.nodes[lq->producer].op, GRAPH_OP_DENSE);
    const struct graph_value *logits = &q.values[q.outputs[1]];
    ck_assert_str_eq(logits->name, "logits");
    ck_assert_int_eq(logits->dtype, QUANTA_F32);
    ck_assert_int_eq(q.nodes[logits->producer].op, GRAPH_OP_DEQUANTIZE);
    ck_assert_str_eq(q.values[q.outputs[0]].name, "probs");
    ck_assert_int_eq(q.values[q.outputs[0]].dtype, QUANTA_F32);
    ck_assert_int_eq(count_op(&q, GRAPH_OP_QUANTIZE), 1);
    ck_assert_int_eq(count_op(&q, GRAPH_OP_DEQUANTIZE), 1);
    graph_free(&q);

    /* per-tensor weights, symmetric uint8 activations */
    opt.weights = QUANTIZE_PER_TENSOR;
    opt.activations = QUANTIZE_SYMMETRIC;
    opt.activation_type = QUANTA_U8;
    tq_quantize(&m.g, &opt, &q);
    conv = &q.nodes[find_node(&q, "conv1")];
    ck_assert_int_eq(q.values[conv->inputs[1]].quant.axis, -1);
    ck_assert_int_eq(q.values[conv->inputs[2]].quant.axis, -1);
    ck_assert_int_eq(value(&q, "x.q")->dtype, QUANTA_U8);
    ck_assert_int_eq(value(&q, "x.q")->quant.zero_point, 128);
    ck_assert_float_eq_tol(value(&q, "x.q")->quant.scale, 1.0f / 127.0f, 1e-9f);
    graph_free(&q);
    tq_free(&m);
}
END_TEST

/* A concat that reads one value more times than the graph has values (the
 * rewrite's input slots were sized by the values: a heap overflow): it
 * quantizes, and its int8 output is the float one within a step. */
START_TEST(test_concat_of_one_value_many_times)
{
    struct tq_model m;
    memset(&m, 0, sizeof m);
    tq_seed = 777;
    tq_tensor(&m, "c1.w", 4, (int64_t[]){3, 3, 3, 2}, -0.5f, 0.5f);
    tq_tensor(&m, "c1.b", 1, (int64_t[]){3}, -0.2f, 0.2f);
    tq_parse(&m, "{'format': 'quanta.graph', 'version': 1, 'name': 'cat',"
                 " 'inputs': [{'name': 'x', 'shape': [-1, 4, 4, 2], 'dtype': 'F32'}],"
                 " 'outputs': ['cat'], 'nodes': ["
                 "{'op': 'conv2d', 'name': 'conv1', 'inputs': ['x', 'c1.w', 'c1.b'],"
                 " 'outputs': ['c1.out'], 'attrs': {'pads': [1, 1, 1, 1]}},"
                 "{'op': 'concat', 'name': 'cat', 'inputs': ['c1.out', 'c1.out', 'c1.out',"
                 " 'c1.out', 'c1.out', 'c1.out', 'c1.out', 'c1.out', 'c1.out', 'c1.out'],"
                 " 'outputs': ['cat'], 'attrs': {'axis': 3}}]}");
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct graph q;
    tq_quantize(&m.g, &opt, &q);
    ck_assert_int_eq(q.nodes[find_node(&q, "cat")].n_inputs, 10);
    float x[2 * 32], want[2 * 16 * 30], got[2 * 16 * 30];
    for (int i = 0; i < 64; i++)
        x[i] = tq_rand(-1.0f, 1.0f);
    tq_run(&m.g, x, 2, 0, want, 2 * 16 * 30);
    tq_run(&q, x, 2, 0, got, 2 * 16 * 30);
    for (int i = 0; i < 2 * 16 * 30; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= 4.0f / 255.0f + 1e-6f, "[%d] %g vs %g", i,
                      (double)got[i], (double)want[i]);
    graph_free(&q);
    tq_free(&m);
}
END_TEST

START_TEST(test_static_errors)
{
    struct tq_model m;
    tq_cnn(&m);
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct graph q;
    struct quanta_error err = {0};
    /* a missing range names the value */
    struct quantize_ranges missing = {tq_find, (void *)"logits"};
    ck_assert_int_eq(quantize_model(&m.g, &opt, &missing, &q, "m.st", &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "'logits'"));
    /* no ranges at all in static mode */
    ck_assert_int_eq(quantize_model(&m.g, &opt, NULL, &q, "m.st", &err), QUANTA_ERR_INPUT);
    /* an unknown --exclude name */
    const char *ex[] = {"nope"};
    opt.exclude = ex;
    opt.n_exclude = 1;
    ck_assert_int_eq(quantize_model(&m.g, &opt, &tq_ranges, &q, "m.st", &err), QUANTA_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "'nope'"));
    /* a quantized model is not quantized again */
    quantize_options_default(&opt);
    struct graph q2;
    tq_quantize(&m.g, &opt, &q);
    ck_assert_int_eq(quantize_model(&q, &opt, &tq_ranges, &q2, "q.st", &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "already quantized"));
    graph_free(&q);
    tq_free(&m);
}
END_TEST

START_TEST(test_exclude_boundaries)
{
    struct tq_model m;
    tq_cnn(&m);
    struct quantize_options opt;
    quantize_options_default(&opt);
    const char *ex[] = {"fc"};
    opt.exclude = ex;
    opt.n_exclude = 1;
    struct graph q;
    tq_quantize(&m.g, &opt, &q);
    /* fc reads the dequantized flat.out, keeps F32 weights, writes float logits */
    const struct graph_node *fc = &q.nodes[find_node(&q, "fc")];
    const struct graph_value *in = &q.values[fc->inputs[0]];
    ck_assert_str_eq(in->name, "flat.out.dq");
    ck_assert_int_eq(in->dtype, QUANTA_F32);
    ck_assert_int_eq(q.nodes[in->producer].op, GRAPH_OP_DEQUANTIZE);
    ck_assert_str_eq(q.values[q.nodes[in->producer].inputs[0]].name, "flat.out");
    ck_assert_int_eq(q.values[fc->inputs[1]].dtype, QUANTA_F32);
    ck_assert_int_eq(q.values[fc->inputs[2]].dtype, QUANTA_F32);
    ck_assert_str_eq(q.values[fc->outputs[0]].name, "logits");
    ck_assert_int_eq(q.values[fc->outputs[0]].quant.dtype, QUANTA_DTYPE_INVALID);
    /* softmax after a float node stays float */
    const struct graph_node *sm = &q.nodes[find_node(&q, "sm")];
    ck_assert_int_eq(q.values[sm->inputs[0]].dtype, QUANTA_F32);
    graph_free(&q);

    /* excluding the first conv: it reads the float input directly, and a
     * quantize node turns its output into int8 for the next int8 node */
    ex[0] = "conv1";
    tq_quantize(&m.g, &opt, &q);
    const struct graph_node *conv = &q.nodes[find_node(&q, "conv1")];
    ck_assert_str_eq(q.values[conv->inputs[0]].name, "x");
    ck_assert_int_eq(q.values[conv->inputs[1]].dtype, QUANTA_F32);
    ck_assert_int_eq(q.values[conv->outputs[0]].dtype, QUANTA_F32);
    /* an excluded conv is left as it is: no batch_norm folded into it; the
     * batch_norm becomes an int8 1x1 depthwise conv (its scale and shift)
     * with the relu fused, reading the conv's output quantized: no float
     * batch_norm between a dequantize and a quantize */
    ck_assert_int_eq(count_op(&q, GRAPH_OP_BATCH_NORM), 0);
    ck_assert_int_eq(q.values[conv->outputs[0]].quant.dtype, QUANTA_DTYPE_INVALID);
    ck_assert_int_lt(find_node(&q, "relu1"), 0);
    const struct graph_node *bn = &q.nodes[find_node(&q, "bn1")];
    ck_assert_int_eq(bn->op, GRAPH_OP_CONV2D);
    ck_assert_int_eq(bn->attrs.groups, 3);
    ck_assert_int_eq(bn->attrs.activation, GRAPH_ACT_RELU);
    ck_assert_int_eq(q.values[bn->inputs[1]].dtype, QUANTA_I8);
    ck_assert_str_eq(q.values[bn->outputs[0]].name, "relu1.out");
    ck_assert_int_eq(q.values[bn->outputs[0]].dtype, QUANTA_I8);
    const struct graph_value *bin = &q.values[bn->inputs[0]];
    ck_assert_str_eq(bin->name, "c1.out.q");
    ck_assert_int_eq(q.nodes[bin->producer].op, GRAPH_OP_QUANTIZE);
    graph_free(&q);
    tq_free(&m);
}
END_TEST

START_TEST(test_weight_only_and_fp16)
{
    struct tq_model m;
    tq_cnn(&m);
    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.mode = QUANTIZE_WEIGHT_ONLY;
    struct graph q;
    struct quanta_error err = {0};
    ck_assert_int_eq(quantize_model(&m.g, &opt, NULL, &q, "test", &err), QUANTA_OK);
    const struct graph_node *fc = &q.nodes[find_node(&q, "fc")];
    ck_assert_int_eq(q.values[fc->inputs[1]].dtype, QUANTA_I8);
    ck_assert_int_eq(q.values[fc->inputs[1]].quant.n, 4);
    ck_assert_int_eq(q.values[fc->inputs[2]].dtype, QUANTA_F32);
    ck_assert_int_eq(q.values[fc->outputs[0]].dtype, QUANTA_F32);
    ck_assert_int_eq(count_op(&q, GRAPH_OP_QUANTIZE) + count_op(&q, GRAPH_OP_DEQUANTIZE), 0);
    /* the float runner runs it, close to the float model */
    enum { B = 2 };
    float x[B * 32], y0[B * 4], y1[B * 4];
    tq_seed = 5;
    for (int i = 0; i < B * 32; i++)
        x[i] = tq_rand(-1.0f, 1.0f);
    tq_run(&m.g, x, B, 1, y0, B * 4);
    tq_run(&q, x, B, 1, y1, B * 4);
    for (int i = 0; i < B * 4; i++)
        ck_assert_float_eq_tol(y0[i], y1[i], 0.05f);
    graph_free(&q);

    opt.mode = QUANTIZE_FP16;
    ck_assert_int_eq(quantize_model(&m.g, &opt, NULL, &q, "test", &err), QUANTA_OK);
    const struct graph_value *w = value(&q, "fc.w");
    ck_assert_int_eq(w->dtype, QUANTA_F16);
    const float *w0 = m.bufs[6];
    const uint16_t *h = w->data;
    for (int i = 0; i < 12; i++)
        ck_assert_uint_eq(h[i], quanta_f32_to_f16(w0[i]));
    ck_assert_int_eq(value(&q, "c1.w")->dtype, QUANTA_F16); /* the folded conv weight */
    ck_assert_int_eq(value(&q, "fc.b")->dtype, QUANTA_F16);
    ck_assert_int_eq(count_op(&q, GRAPH_OP_BATCH_NORM), 0);
    ck_assert_int_eq(count_op(&q, GRAPH_OP_RELU), 1); /* relu fused only for int8 */
    graph_free(&q);
    tq_free(&m);
}
END_TEST

/* ---- files: determinism and dequantize ---- */

START_TEST(test_twice_same_bytes)
{
    struct tq_model m;
    tq_cnn(&m);
    struct quantize_options opt;
    quantize_options_default(&opt);
    const char *ex[] = {"fc"};
    for (int round = 0; round < 2; round++) {
        opt.n_exclude = round; /* without and with an exclusion */
        opt.exclude = ex;
        struct graph q1, q2;
        struct quanta_error err = {0};
        tq_quantize(&m.g, &opt, &q1);
        tq_quantize(&m.g, &opt, &q2);
        struct st_meta meta[1] = {{"origin", "test"}};
        char a[512], b[512];
        snprintf(a, sizeof a, "%s", ts_tmp_path("q1.safetensors"));
        snprintf(b, sizeof b, "%s", ts_tmp_path("q2.safetensors"));
        ck_assert_msg(graph_save(&q1, a, meta, 1, &err) == QUANTA_OK, "%s", err.message);
        ck_assert_msg(graph_save(&q2, b, meta, 1, &err) == QUANTA_OK, "%s", err.message);
        size_t na, nb;
        char *fa = ts_read_file(a, &na), *fb = ts_read_file(b, &nb);
        ck_assert_ptr_nonnull(fa);
        ck_assert_ptr_nonnull(fb);
        ck_assert_uint_eq(na, nb);
        ck_assert(memcmp(fa, fb, na) == 0);
        free(fa);
        free(fb);
        graph_free(&q1);
        graph_free(&q2);
    }
    tq_free(&m);
}
END_TEST

START_TEST(test_dequantize_inverse)
{
    struct tq_model m;
    tq_cnn(&m);
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct graph q, f, folded;
    struct quanta_error err = {0};
    tq_quantize(&m.g, &opt, &q);
    /* through a file, so that the loaded quant entries are what is checked */
    const char *path = ts_tmp_path("q.safetensors");
    char qpath[512];
    snprintf(qpath, sizeof qpath, "%s", path);
    ck_assert_msg(graph_save(&q, qpath, NULL, 0, &err) == QUANTA_OK, "%s", err.message);
    struct model qm;
    ck_assert_msg(model_open(&qm, qpath, &err) == QUANTA_OK, "%s", err.message);
    ck_assert(qm.has_graph);
    ck_assert_msg(dequantize_model(&qm.graph, &f, qpath, &err) == QUANTA_OK, "%s", err.message);

    ck_assert_int_eq(count_op(&f, GRAPH_OP_QUANTIZE) + count_op(&f, GRAPH_OP_DEQUANTIZE), 0);
    for (int v = 0; v < f.n_values; v++)
        ck_assert_int_eq(f.values[v].quant.dtype, QUANTA_DTYPE_INVALID);
    ck_assert_str_eq(f.values[f.outputs[0]].name, "probs");
    ck_assert_str_eq(f.values[f.outputs[1]].name, "logits");
    ck_assert_int_lt(graph_find_value(&f, "logits.q"), 0);

    /* weights within half a step of the folded float weights */
    ck_assert_int_eq(quantize_fold(&m.g, true, NULL, 0, &folded, "test", &err), QUANTA_OK);
    const char *names[] = {"c1.w", "fc.w"};
    for (int k = 0; k < 2; k++) {
        const struct graph_value *orig = value(&folded, names[k]);
        const struct graph_value *deq = value(&f, names[k]);
        const struct graph_value *qw = value(&qm.graph, names[k]);
        ck_assert_int_eq(deq->dtype, QUANTA_F32);
        int64_t n = quanta_shape_numel(&orig->shape), per = n / orig->shape.dims[0];
        const float *a = orig->data, *d = deq->data;
        for (int64_t i = 0; i < n; i++) {
            double s = qw->quant.scales[i / per];
            ck_assert_msg(fabs((double)a[i] - d[i]) <= 0.5 * s * (1 + 1e-6), "%s[%lld]",
                          names[k], (long long)i);
        }
    }
    /* biases within half a bias step */
    const struct graph_value *ob = value(&folded, "fc.b"), *db = value(&f, "fc.b");
    const struct graph_value *qb = value(&qm.graph, "fc.b");
    for (int i = 0; i < 4; i++)
        ck_assert(fabs((double)((const float *)ob->data)[i] - ((const float *)db->data)[i]) <=
                  0.5 * qb->quant.scales[i] * (1 + 1e-6));

    /* the float runner runs it; outputs near the float model */
    enum { B = 2 };
    float x[B * 32], y0[B * 4], y1[B * 4];
    tq_seed = 8;
    for (int i = 0; i < B * 32; i++)
        x[i] = tq_rand(-1.0f, 1.0f);
    tq_run(&m.g, x, B, 1, y0, B * 4);
    tq_run(&f, x, B, 1, y1, B * 4);
    for (int i = 0; i < B * 4; i++)
        ck_assert_float_eq_tol(y0[i], y1[i], 0.05f);

    graph_free(&folded);
    graph_free(&f);
    graph_free(&q);
    model_close(&qm);
    tq_free(&m);
}
END_TEST

Suite *suite_quantize(void);
Suite *suite_quantize(void)
{
    Suite *s = suite_create("quantize");
    TCase *tc = tcase_create("params");
    tcase_add_test(tc, test_params_by_hand);
    tcase_add_test(tc, test_concat_of_one_value_many_times);
    tcase_add_test(tc, test_params_zero_exact_random);
    tcase_add_test(tc, test_weights_per_channel);
    tcase_add_test(tc, test_weights_per_tensor);
    tcase_add_test(tc, test_bias_i32);
    suite_add_tcase(s, tc);
    tc = tcase_create("rewrite");
    tcase_add_test(tc, test_fold_batch_norm_same_outputs);
    tcase_add_test(tc, test_static_graph);
    tcase_add_test(tc, test_static_errors);
    tcase_add_test(tc, test_exclude_boundaries);
    tcase_add_test(tc, test_weight_only_and_fp16);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_test(tc, test_twice_same_bytes);
    tcase_add_test(tc, test_dequantize_inverse);
    suite_add_tcase(s, tc);
    return s;
}

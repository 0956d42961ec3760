/* The runner's int8 path: small float graphs quantized with quantize_model
 * (ranges recorded by the float runner's hook on calibration samples), run
 * by the runner and compared bit for bit with the q8 reference kernels
 * called by hand (parameters from q8_params), and with the float model
 * within the documented error; U8 and I8 activations, per-tensor and
 * per-channel weights, --exclude islands, the hook's float view, batch
 * independence, quantized graph outputs, weight-only, and errors. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "kernels/kernels_q8.h"
#include "runtime/q8_params.h"
#include "quanta/graph.h"
#include "quanta/quantize.h"
#include "quanta/runtime.h"
#include "support/test_model.h"
#include "support/test_ranges.h"

/* ---- a float model held in memory: support/test_model.h ---- */

static uint64_t rng = 0x2545f4914f6cdd1dull;
static void fill(float *x, size_t n)
{
    ts_fill(&rng, x, n, -1.0f, 1.0f);
}

/* ---- the small CNN ---- */

#define CNN_JSON                                                                          \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"cnn\","                       \
    "\"inputs\":[{\"name\":\"image\",\"shape\":[-1,6,6,2],\"dtype\":\"F32\"}],"           \
    "\"outputs\":[\"probs\",\"logits\"],\"nodes\":["                                      \
    "{\"op\":\"conv2d\",\"name\":\"c1\",\"inputs\":[\"image\",\"c1.w\",\"c1.b\"],"         \
    " \"outputs\":[\"c1.out\"],\"attrs\":{\"pads\":[1,1,1,1],\"activation\":\"relu\"}},"  \
    "{\"op\":\"max_pool2d\",\"name\":\"p1\",\"inputs\":[\"c1.out\"],"                     \
    " \"outputs\":[\"p1.out\"],\"attrs\":{\"kernel\":[2,2]}},"                            \
    "{\"op\":\"conv2d\",\"name\":\"dw\",\"inputs\":[\"p1.out\",\"dw.w\"],"                 \
    " \"outputs\":[\"dw.out\"],\"attrs\":{\"groups\":4,\"activation\":\"relu6\"}},"       \
    "{\"op\":\"global_avg_pool\",\"name\":\"gap\",\"inputs\":[\"dw.out\"],"               \
    " \"outputs\":[\"gap.out\"]},"                                                        \
    "{\"op\":\"dense\",\"name\":\"fc\",\"inputs\":[\"gap.out\",\"fc.w\",\"fc.b\"],"        \
    " \"outputs\":[\"logits\"]},"                                                         \
    "{\"op\":\"softmax\",\"name\":\"sm\",\"inputs\":[\"logits\"],\"outputs\":[\"probs\"]}]}"

#define BATCH 5
#define IMG (6 * 6 * 2)

struct cnn {
    struct tmodel m;
    float c1w[4 * 3 * 3 * 2], c1b[4], dww[4 * 2 * 2], fcw[3 * 4], fcb[3];
};

static void cnn_init(struct cnn *c)
{
    memset(c, 0, sizeof *c);
    fill(c->c1w, 72);
    fill(c->c1b, 4);
    fill(c->dww, 16);
    fill(c->fcw, 12);
    fill(c->fcb, 3);
    for (int i = 0; i < 16; i++)
        c->dww[i] *= 3; /* so that relu6 clips some values */
    for (int i = 0; i < 12; i++)
        c->fcw[i] *= 2;
    tm_tensor(&c->m, "c1.w", QUANTA_F32, SHAPE(4, 3, 3, 2), c->c1w);
    tm_tensor(&c->m, "c1.b", QUANTA_F32, SHAPE(4), c->c1b);
    tm_tensor(&c->m, "dw.w", QUANTA_F32, SHAPE(4, 2, 2, 1), c->dww);
    tm_tensor(&c->m, "fc.w", QUANTA_F32, SHAPE(3, 4), c->fcw);
    tm_tensor(&c->m, "fc.b", QUANTA_F32, SHAPE(3), c->fcb);
    tm_load(&c->m, CNN_JSON);
}

static void quantize(const struct graph *src, const struct quantize_options *opt,
                     struct tr_ranges *t, struct graph *out)
{
    struct quanta_error err = {0};
    struct quantize_ranges qr = {tr_find, t};
    enum quanta_status st = quantize_model(src, opt, &qr, out, "test", &err);
    ck_assert_msg(st == QUANTA_OK, "quantize_model: %s", err.message);
}

static int vindex(const struct graph *g, const char *name)
{
    int v = graph_find_value(g, name);
    ck_assert_msg(v >= 0, "no value '%s'", name);
    return v;
}

static const struct graph_quant *qof(const struct graph *g, const char *name)
{
    return &g->values[vindex(g, name)].quant;
}

static const void *dof(const struct graph *g, const char *name)
{
    return g->values[vindex(g, name)].data;
}

static int count_op(const struct graph *g, enum graph_op op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += g->nodes[i].op == op;
    return n;
}

/* ---- the quantized CNN by hand: q8 reference kernels called one by one ---- */

struct qtrace {
    int8_t img[BATCH * IMG], c1[BATCH * 6 * 6 * 4], p1[BATCH * 3 * 3 * 4],
        dw[BATCH * 2 * 2 * 4], gap[BATCH * 4], logits_q[BATCH * 3];
    float logits[BATCH * 3], probs[BATCH * 3];
};

static void ok(enum quanta_status st, const struct quanta_error *err)
{
    ck_assert_msg(st == QUANTA_OK, "prepare: %s", err->message);
}

static void cnn_by_hand(const struct graph *q, const float *x, struct qtrace *t)
{
    struct quanta_error err = {0};
    struct q8_quantize_params pq;
    ok(q8_quantize_prepare(qof(q, "image.q"), &pq, "image.quantize", &err), &err);
    q8_quantize__ref(BATCH * IMG, &pq, x, t->img);

    int32_t m[4], sh[4];
    struct q8_requant rq;
    ok(q8_conv2d_prepare(qof(q, "image.q"), qof(q, "c1.w"), qof(q, "c1.b"), qof(q, "c1.out"),
                         GRAPH_ACT_RELU, 4, m, sh, &rq, "c1", &err),
       &err);
    struct q8_conv2d_shape c1 = {.batch = BATCH, .in_h = 6, .in_w = 6, .in_c = 2, .out_h = 6,
                                 .out_w = 6, .out_c = 4, .kernel_h = 3, .kernel_w = 3,
                                 .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_left = 1,
                                 .dilation_h = 1, .dilation_w = 1, .groups = 1};
    q8_conv2d__ref(&c1, &rq, t->img, dof(q, "c1.w"), dof(q, "c1.b"), t->c1);

    struct q8_unary u;
    ok(q8_unary_prepare(qof(q, "c1.out"), qof(q, "p1.out"), GRAPH_ACT_NONE, &u, "p1", &err), &err);
    struct q8_pool2d_shape p1 = {.batch = BATCH, .in_h = 6, .in_w = 6, .c = 4, .out_h = 3,
                                 .out_w = 3, .kernel_h = 2, .kernel_w = 2, .stride_h = 2,
                                 .stride_w = 2};
    q8_max_pool2d__ref(&p1, &u, t->c1, t->p1);

    ok(q8_conv2d_prepare(qof(q, "p1.out"), qof(q, "dw.w"), NULL, qof(q, "dw.out"),
                         GRAPH_ACT_RELU6, 4, m, sh, &rq, "dw", &err),
       &err);
    struct q8_conv2d_shape dw = {.batch = BATCH, .in_h = 3, .in_w = 3, .in_c = 4, .out_h = 2,
                                 .out_w = 2, .out_c = 4, .kernel_h = 2, .kernel_w = 2,
                                 .stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                 .dilation_w = 1, .groups = 4};
    q8_conv2d__ref(&dw, &rq, t->p1, dof(q, "dw.w"), NULL, t->dw);

    ok(q8_unary_prepare(qof(q, "dw.out"), qof(q, "gap.out"), GRAPH_ACT_NONE, &u, "gap", &err),
       &err);
    q8_global_avg_pool__ref(BATCH, 4, 4, &u, t->dw, t->gap);

    ok(q8_dense_prepare(qof(q, "gap.out"), qof(q, "fc.w"), qof(q, "fc.b"), qof(q, "logits.q"),
                        GRAPH_ACT_NONE, 3, m, sh, &rq, "fc", &err),
       &err);
    struct q8_dense_shape fc = {.batch = BATCH, .in_features = 4, .out_features = 3};
    q8_dense__ref(&fc, &rq, t->gap, dof(q, "fc.w"), dof(q, "fc.b"), t->logits_q);

    float table[256];
    ok(q8_softmax_prepare(qof(q, "logits.q"), table, "sm", &err), &err);
    q8_softmax__ref(BATCH, 3, 1, table, t->logits_q, t->probs);
    ok(q8_quantize_prepare(qof(q, "logits.q"), &pq, "logits.dequantize", &err), &err);
    q8_dequantize__ref(BATCH * 3, &pq, t->logits_q, t->logits);
}

/* The hook's record of every value: name and float view. */
struct seen {
    int n;
    const char *name[32];
    float data[32][BATCH * 6 * 6 * 4];
    int64_t count[32];
};

static void seen_hook(void *ctx, const struct graph *g, int value, const float *data,
                      const struct quanta_shape *shape)
{
    struct seen *s = ctx;
    ck_assert_int_lt(s->n, 32);
    ck_assert_ptr_nonnull(data);
    int64_t n = quanta_shape_numel(shape);
    ck_assert(n > 0 && n <= BATCH * 6 * 6 * 4);
    s->name[s->n] = g->values[value].name;
    s->count[s->n] = n;
    memcpy(s->data[s->n], data, (size_t)n * sizeof(float));
    s->n++;
}

static const float *seen_get(const struct seen *s, const char *name, int64_t count)
{
    for (int i = 0; i < s->n; i++)
        if (strcmp(s->name[i], name) == 0) {
            ck_assert_int_eq(s->count[i], count);
            return s->data[i];
        }
    ck_abort_msg("hook never saw '%s'", name);
    return NULL;
}

/* The hook's view of an int8 value is exactly scale * (q - zero_point). */
static void check_view(const struct graph *q, const struct seen *s, const char *name,
                       const int8_t *bytes, int64_t n)
{
    struct quanta_error err = {0};
    struct q8_quantize_params p;
    ok(q8_quantize_prepare(qof(q, name), &p, name, &err), &err);
    const float *view = seen_get(s, name, n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(view[i] == p.scale * (float)(bytes[i] - p.zero_point),
                      "%s[%lld]: hook %g, by hand %g", name, (long long)i, (double)view[i],
                      (double)(p.scale * (float)(bytes[i] - p.zero_point)));
}

/* Runs the CNN quantized with opt: the runner against the kernels by hand
 * (bit for bit, every value through the hook), against the float model,
 * and batch 1 against batch 5. */
static void check_cnn(const struct quantize_options *opt, float logits_out[BATCH * 3])
{
    struct cnn *c = malloc(sizeof *c);
    struct qtrace *t = malloc(sizeof *t);
    struct seen *s = malloc(sizeof *s);
    struct tr_ranges *rg = malloc(sizeof *rg);
    ck_assert(c && t && s && rg);
    cnn_init(c);
    float calib[16 * IMG], x[BATCH * IMG];
    fill(calib, 16 * IMG);
    fill(x, BATCH * IMG);
    /* calibrated on x itself among others: no value is clipped, so the
     * differences from the float model are roundings only */
    memcpy(calib + 3 * IMG, x, sizeof x);
    tr_calibrate(&c->m.g, calib, 16, rg);
    struct graph q;
    quantize(&c->m.g, opt, rg, &q);
    ck_assert_int_eq(count_op(&q, GRAPH_OP_QUANTIZE), 1);
    ck_assert_int_eq(count_op(&q, GRAPH_OP_DEQUANTIZE), 1);
    ck_assert_int_eq(q.values[vindex(&q, "c1.out")].dtype, opt->activation_type);

    /* runner vs kernels by hand */
    cnn_by_hand(&q, x, t);
    struct runner *r = tm_new_runner(&q, BATCH);
    memset(s, 0, sizeof *s);
    runner_set_hook(r, seen_hook, s);
    tr_run(r, BATCH, x);
    struct quanta_shape shape;
    const float *probs = runner_output(r, 0, &shape);
    ck_assert_int_eq(shape.dims[0], BATCH);
    ck_assert_int_eq(shape.dims[1], 3);
    ck_assert_mem_eq(probs, t->probs, sizeof t->probs);
    const float *logits = runner_output(r, 1, &shape);
    ck_assert_mem_eq(logits, t->logits, sizeof t->logits);
    memcpy(logits_out, logits, sizeof t->logits);
    check_view(&q, s, "image.q", t->img, BATCH * IMG);
    check_view(&q, s, "c1.out", t->c1, BATCH * 6 * 6 * 4);
    check_view(&q, s, "p1.out", t->p1, BATCH * 3 * 3 * 4);
    check_view(&q, s, "dw.out", t->dw, BATCH * 2 * 2 * 4);
    check_view(&q, s, "gap.out", t->gap, BATCH * 4);
    check_view(&q, s, "logits.q", t->logits_q, BATCH * 3);
    ck_assert_mem_eq(seen_get(s, "logits", BATCH * 3), t->logits, sizeof t->logits);
    ck_assert_mem_eq(seen_get(s, "probs", BATCH * 3), t->probs, sizeof t->probs);
    ck_assert_mem_eq(seen_get(s, "image", BATCH * IMG), x, sizeof x);

    /* softmax: float probabilities summing to 1 within (L + 3) 2^-23 per element */
    for (int b = 0; b < BATCH; b++) {
        float sum = probs[3 * b] + probs[3 * b + 1] + probs[3 * b + 2];
        ck_assert_float_eq_tol(sum, 1.0f, 3 * 6 * 0x1p-23f);
    }

    /* documented error: quantize is within half a step of the input */
    struct quanta_error err = {0};
    struct q8_quantize_params pq;
    ok(q8_quantize_prepare(qof(&q, "image.q"), &pq, "image", &err), &err);
    const float *xq = seen_get(s, "image.q", BATCH * IMG);
    for (int i = 0; i < BATCH * IMG; i++)
        ck_assert_float_le(fabsf(xq[i] - x[i]), pq.scale * 0.5f * (1 + 1e-6f));

    /* c1 against the float conv2d of its dequantized inputs: within
     * 1/2 + 2^-29 |ideal - zy| steps (kernels_q8.h error bounds), with a
     * margin for the float evaluation and the I32 bias rounding */
    {
        const struct graph_quant *qw = qof(&q, "c1.w"), *qb = qof(&q, "c1.b");
        const int8_t *w8 = dof(&q, "c1.w");
        const int32_t *b32 = dof(&q, "c1.b");
        float wf[72], bf[4], ideal[BATCH * 6 * 6 * 4];
        for (int i = 0; i < 72; i++)
            wf[i] = qw->scales[qw->n == 1 ? 0 : i / 18] * (float)w8[i];
        for (int o = 0; o < 4; o++)
            bf[o] = qb->scales[qb->n == 1 ? 0 : o] * (float)b32[o];
        struct f32_conv2d_params cp = {.batch = BATCH, .in_h = 6, .in_w = 6, .in_c = 2,
                                       .out_h = 6, .out_w = 6, .out_c = 4, .kernel_h = 3,
                                       .kernel_w = 3, .stride_h = 1, .stride_w = 1,
                                       .dilation_h = 1, .dilation_w = 1, .pad_top = 1,
                                       .pad_left = 1, .groups = 1, .out_min = 0,
                                       .out_max = INFINITY};
        f32_conv2d__ref(&cp, xq, wf, bf, ideal);
        struct q8_tensor y;
        ok(q8_tensor_params(qof(&q, "c1.out"), "c1", "output", &y, &err), &err);
        for (int i = 0; i < BATCH * 6 * 6 * 4; i++) {
            double id = y.zero_point + (double)ideal[i] / y.scale;
            id = id > 127 ? 127 : id < y.zero_point ? y.zero_point : id;
            ck_assert_msg(fabs(t->c1[i] - id) <= 0.5 + 1e-3, "c1[%d]: %d vs ideal %f", i,
                          t->c1[i], id);
        }
    }

    /* end to end against the float model: logits within a few output steps */
    struct runner *rf = tm_new_runner(&c->m.g, BATCH);
    tr_run(rf, BATCH, x);
    const float *lf = runner_output(rf, 1, &shape);
    const struct graph_quant *ql = qof(&q, "logits.q");
    for (int i = 0; i < BATCH * 3; i++)
        ck_assert_msg(fabsf(logits[i] - lf[i]) <= 4 * ql->scale, "logit %d: int8 %g float %g", i,
                      (double)logits[i], (double)lf[i]);
    runner_free(rf);

    /* batch 1, sample by sample, without the hook: the same bits */
    runner_set_hook(r, NULL, NULL);
    for (int b = 0; b < BATCH; b++) {
        tr_run(r, 1, x + b * IMG);
        const float *y = runner_output(r, 0, &shape);
        ck_assert_int_eq(shape.dims[0], 1);
        ck_assert_mem_eq(y, t->probs + 3 * b, 3 * sizeof(float));
        y = runner_output(r, 1, &shape);
        ck_assert_mem_eq(y, t->logits + 3 * b, 3 * sizeof(float));
    }
    runner_free(r);
    graph_free(&q);
    graph_free(&c->m.g);
    free(c);
    free(t);
    free(s);
    free(rg);
}

START_TEST(test_q8_cnn_i8_per_channel)
{
    struct quantize_options opt;
    quantize_options_default(&opt);
    float logits[BATCH * 3];
    check_cnn(&opt, logits);
}
END_TEST

START_TEST(test_q8_cnn_i8_per_tensor)
{
    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.weights = QUANTIZE_PER_TENSOR;
    float logits[BATCH * 3];
    check_cnn(&opt, logits);
}
END_TEST

/* U8 activations are held as q - 128 with zero point z - 128: the same
 * real numbers, so the U8 model's outputs equal the I8 model's bit for bit
 * (asymmetric: same scale, zero point + 128; symmetric: 0 vs 128). */
START_TEST(test_q8_cnn_u8_equals_i8)
{
    float li8[BATCH * 3], lu8[BATCH * 3];
    for (int sym = 0; sym < 2; sym++) {
        struct quantize_options opt;
        quantize_options_default(&opt);
        opt.activations = sym ? QUANTIZE_SYMMETRIC : QUANTIZE_ASYMMETRIC;
        rng = 0x2545f4914f6cdd1dull;
        check_cnn(&opt, li8);
        opt.activation_type = QUANTA_U8;
        rng = 0x2545f4914f6cdd1dull;
        check_cnn(&opt, lu8);
        ck_assert_mem_eq(li8, lu8, sizeof li8);
    }
}
END_TEST

/* Every kernel level this CPU has gives the bytes of the ref level (the
 * packed conv2d/dense of fast levels included). Levels the CPU lacks are
 * reported as skipped by the suite (ts_add_level_skip). */
START_TEST(test_q8_levels_same_bytes)
{
    struct cnn *c = malloc(sizeof *c);
    struct tr_ranges *rg = malloc(sizeof *rg);
    ck_assert(c && rg);
    cnn_init(c);
    float calib[16 * IMG], x[BATCH * IMG], want[2][BATCH * 3];
    fill(calib, 16 * IMG);
    fill(x, BATCH * IMG);
    tr_calibrate(&c->m.g, calib, 16, rg);
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct graph q;
    quantize(&c->m.g, &opt, rg, &q);
    struct quanta_error err = {0};
    enum kernels_level before = kernels_current_level();
    int compared = 0;
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        const char *name = kernels_level_name((enum kernels_level)l);
        bool hardware;
        if (ts_level_missing(l, true, &hardware))
            continue; /* the suite registers the skip */
        ck_assert_int_eq(kernels_select(name, &err), QUANTA_OK);
        struct runner *r = tm_new_runner(&q, BATCH);
        tr_run(r, BATCH, x);
        struct quanta_shape shape;
        for (int o = 0; o < 2; o++) {
            const float *y = runner_output(r, o, &shape);
            if (l == KERNELS_LEVEL_REF)
                memcpy(want[o], y, sizeof want[o]);
            else
                ck_assert_msg(memcmp(y, want[o], sizeof want[o]) == 0,
                              "level %s: output %d differs from ref", name, o);
        }
        runner_free(r);
        compared++;
    }
    ck_assert_int_ge(compared, 1);
    ck_assert_int_eq(kernels_select(kernels_level_name(before), &err), QUANTA_OK);
    graph_free(&q);
    graph_free(&c->m.g);
    free(c);
    free(rg);
}
END_TEST

/* ---- memory: int8 activations take one byte per element ---- */

START_TEST(test_q8_arena_smaller)
{
    struct cnn *c = malloc(sizeof *c);
    struct tr_ranges *rg = malloc(sizeof *rg);
    ck_assert(c && rg);
    cnn_init(c);
    float calib[4 * IMG];
    fill(calib, 4 * IMG);
    tr_calibrate(&c->m.g, calib, 4, rg);
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct graph q;
    quantize(&c->m.g, &opt, rg, &q);
    struct runner *rf = tm_new_runner(&c->m.g, 64), *rq = tm_new_runner(&q, 64);
    /* float: c1.out alone is 64*144 floats; int8: the image in float (a
     * graph input) and at most two int8 values of 64*144 bytes beside it */
    size_t f = runner_arena_size(rf), i8 = runner_arena_size(rq);
    ck_assert_uint_ge(f, 64 * 144 * sizeof(float));
    ck_assert_uint_le(i8, 64 * IMG * sizeof(float) + 2 * 64 * 144 + 4096);
    ck_assert_uint_lt(i8, f / 2);
    runner_free(rf);
    runner_free(rq);
    graph_free(&q);
    graph_free(&c->m.g);
    free(c);
    free(rg);
}
END_TEST

/* ---- exclude: a float island with dequantize/quantize at its borders ---- */

START_TEST(test_q8_exclude_island)
{
    struct cnn *c = malloc(sizeof *c);
    struct tr_ranges *rg = malloc(sizeof *rg);
    struct seen *s1 = malloc(sizeof *s1), *s2 = malloc(sizeof *s2);
    ck_assert(c && rg && s1 && s2);
    cnn_init(c);
    float calib[16 * IMG], x[BATCH * IMG];
    fill(calib, 16 * IMG);
    fill(x, BATCH * IMG);
    tr_calibrate(&c->m.g, calib, 16, rg);
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct graph q, qx;
    quantize(&c->m.g, &opt, rg, &q);
    const char *ex[] = {"dw"};
    opt.exclude = ex;
    opt.n_exclude = 1;
    quantize(&c->m.g, &opt, rg, &qx);
    ck_assert_int_eq(count_op(&qx, GRAPH_OP_DEQUANTIZE), 2); /* p1.out.dq, logits */
    ck_assert_int_eq(count_op(&qx, GRAPH_OP_QUANTIZE), 2);   /* image.q, dw.out.q */
    ck_assert_int_eq(qx.values[vindex(&qx, "dw.out")].quant.dtype, QUANTA_DTYPE_INVALID);
    ck_assert_int_eq(qx.values[vindex(&qx, "p1.out.dq")].quant.dtype, QUANTA_DTYPE_INVALID);

    struct runner *r1 = tm_new_runner(&q, BATCH), *r2 = tm_new_runner(&qx, BATCH);
    memset(s1, 0, sizeof *s1);
    memset(s2, 0, sizeof *s2);
    runner_set_hook(r1, seen_hook, s1);
    runner_set_hook(r2, seen_hook, s2);
    tr_run(r1, BATCH, x);
    tr_run(r2, BATCH, x);
    /* before the island: the same int8 values */
    ck_assert_mem_eq(seen_get(s1, "p1.out", BATCH * 36), seen_get(s2, "p1.out", BATCH * 36),
                     BATCH * 36 * sizeof(float));
    /* the island reads exactly the dequantized p1.out */
    ck_assert_mem_eq(seen_get(s2, "p1.out.dq", BATCH * 36), seen_get(s2, "p1.out", BATCH * 36),
                     BATCH * 36 * sizeof(float));
    /* the float dw against the float model's dw on the same input, by hand */
    float dwf[BATCH * 16];
    struct f32_conv2d_params dw = {.batch = BATCH, .in_h = 3, .in_w = 3, .in_c = 4, .out_h = 2,
                                   .out_w = 2, .out_c = 4, .kernel_h = 2, .kernel_w = 2,
                                   .stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                   .dilation_w = 1, .groups = 4, .out_min = 0, .out_max = 6};
    f32_conv2d__ref(&dw, seen_get(s2, "p1.out.dq", BATCH * 36), c->dww, NULL, dwf);
    const float *dwr = seen_get(s2, "dw.out", BATCH * 16);
    for (int i = 0; i < BATCH * 16; i++) /* float kernels may sum in another order */
        ck_assert_float_eq_tol(dwr[i], dwf[i], 1e-5f * (1 + fabsf(dwf[i])));
    /* dw.out.q is dw.out quantized within half a step */
    const struct graph_quant *qd = qof(&qx, "dw.out.q");
    const float *dq = seen_get(s2, "dw.out.q", BATCH * 16);
    for (int i = 0; i < BATCH * 16; i++)
        ck_assert_float_le(fabsf(dq[i] - dwf[i]), qd->scale * 0.5f * (1 + 1e-6f));
    /* outputs close to the all-int8 model's */
    struct quanta_shape shape;
    const float *l1 = runner_output(r1, 1, &shape), *l2 = runner_output(r2, 1, &shape);
    const struct graph_quant *ql = qof(&q, "logits.q");
    for (int i = 0; i < BATCH * 3; i++)
        ck_assert_float_le(fabsf(l1[i] - l2[i]), 4 * ql->scale);
    runner_free(r1);
    runner_free(r2);
    graph_free(&q);
    graph_free(&qx);
    graph_free(&c->m.g);
    free(c);
    free(rg);
    free(s1);
    free(s2);
}
END_TEST

/* ---- weight-only: the float runner with weights dequantized at load
 * gives the bits of the dequantized model ---- */

START_TEST(test_q8_weight_only_is_float_path)
{
    struct cnn *c = malloc(sizeof *c);
    ck_assert(c);
    cnn_init(c);
    float x[BATCH * IMG];
    fill(x, BATCH * IMG);
    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.mode = QUANTIZE_WEIGHT_ONLY;
    struct graph w, d;
    struct quanta_error err = {0};
    ck_assert_int_eq(quantize_model(&c->m.g, &opt, NULL, &w, "test", &err), QUANTA_OK);
    ck_assert_int_eq(w.values[vindex(&w, "c1.w")].dtype, QUANTA_I8);
    ck_assert_int_eq(dequantize_model(&w, &d, "test", &err), QUANTA_OK);
    struct runner *rw = tm_new_runner(&w, BATCH), *rd = tm_new_runner(&d, BATCH);
    tr_run(rw, BATCH, x);
    tr_run(rd, BATCH, x);
    struct quanta_shape shape;
    ck_assert_mem_eq(runner_output(rw, 0, &shape), runner_output(rd, 0, &shape),
                     BATCH * 3 * sizeof(float));
    ck_assert_mem_eq(runner_output(rw, 1, &shape), runner_output(rd, 1, &shape),
                     BATCH * 3 * sizeof(float));
    runner_free(rw);
    runner_free(rd);
    graph_free(&d);
    graph_free(&w);
    graph_free(&c->m.g);
    free(c);
}
END_TEST

/* ---- element-wise ops, constant operands (U8 constants), tables ---- */

#define OPS_JSON                                                                           \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"ops\","                        \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,4,4,3],\"dtype\":\"F32\"}],"                \
    "\"outputs\":[\"y\"],\"nodes\":["                                                      \
    "{\"op\":\"add\",\"name\":\"add1\",\"inputs\":[\"x\",\"k\"],\"outputs\":[\"a\"]},"    \
    "{\"op\":\"relu\",\"name\":\"r1\",\"inputs\":[\"a\"],\"outputs\":[\"ar\"]},"           \
    "{\"op\":\"sigmoid\",\"name\":\"sg\",\"inputs\":[\"x\"],\"outputs\":[\"s\"]},"         \
    "{\"op\":\"tanh\",\"name\":\"th\",\"inputs\":[\"x\"],\"outputs\":[\"t\"]},"            \
    "{\"op\":\"mul\",\"name\":\"mul1\",\"inputs\":[\"s\",\"t\"],\"outputs\":[\"m\"]},"     \
    "{\"op\":\"leaky_relu\",\"name\":\"lk\",\"inputs\":[\"m\"],\"outputs\":[\"l\"],"       \
    " \"attrs\":{\"alpha\":0.2}},"                                                        \
    "{\"op\":\"concat\",\"name\":\"cat\",\"inputs\":[\"ar\",\"l\"],\"outputs\":[\"c\"]},"  \
    "{\"op\":\"avg_pool2d\",\"name\":\"ap\",\"inputs\":[\"c\"],\"outputs\":[\"p\"],"       \
    " \"attrs\":{\"kernel\":[2,2],\"pads\":[1,1,0,0],\"strides\":[2,2]}},"                \
    "{\"op\":\"mean\",\"name\":\"mn\",\"inputs\":[\"p\"],\"outputs\":[\"mo\"],"            \
    " \"attrs\":{\"axes\":[1],\"keepdims\":true}},"                                       \
    "{\"op\":\"reshape\",\"name\":\"rs\",\"inputs\":[\"mo\"],\"outputs\":[\"rsh\"],"       \
    " \"attrs\":{\"shape\":[-1,12]}},"                                                    \
    "{\"op\":\"dense\",\"name\":\"fc\",\"inputs\":[\"rsh\",\"w\"],\"outputs\":[\"z\"]},"    \
    "{\"op\":\"softmax\",\"name\":\"sm\",\"inputs\":[\"z\"],\"outputs\":[\"y\"]}]}"

START_TEST(test_q8_ops_graph)
{
    struct tmodel *m = calloc(1, sizeof *m);
    struct tr_ranges *rg = malloc(sizeof *rg);
    ck_assert(m && rg);
    float k[3] = {0.5f, -0.25f, 0.1f}, w[5 * 12];
    fill(w, 5 * 12);
    tm_tensor(m, "k", QUANTA_F32, SHAPE(3), k);
    tm_tensor(m, "w", QUANTA_F32, SHAPE(5, 12), w);
    tm_load(m, OPS_JSON);
    enum { N = 6, XN = 4 * 4 * 3 };
    float calib[32 * XN], x[N * XN];
    fill(calib, 32 * XN);
    fill(x, N * XN);
    for (int i = 0; i < 32 * XN; i++)
        calib[i] *= 2;
    for (int i = 0; i < N * XN; i++)
        x[i] *= 2;
    tr_calibrate(&m->g, calib, 32, rg);
    struct runner *rf = tm_new_runner(&m->g, N);
    tr_run(rf, N, x);
    struct quanta_shape shape;
    const float *yf = runner_output(rf, 0, &shape);
    float out[2][N * 5];
    for (int u8 = 0; u8 < 2; u8++) {
        struct quantize_options opt;
        quantize_options_default(&opt);
        opt.activation_type = u8 ? QUANTA_U8 : QUANTA_I8;
        struct graph q;
        quantize(&m->g, &opt, rg, &q);
        /* every node but the input's quantize and the softmax is int8 */
        ck_assert_int_eq(count_op(&q, GRAPH_OP_QUANTIZE), 1);
        ck_assert_int_eq(count_op(&q, GRAPH_OP_DEQUANTIZE), 0);
        ck_assert_int_eq(q.values[vindex(&q, "k")].dtype, opt.activation_type);
        struct runner *r = tm_new_runner(&q, N);
        tr_run(r, N, x);
        const float *y = runner_output(r, 0, &shape);
        ck_assert_int_eq(shape.dims[0], N);
        ck_assert_int_eq(shape.dims[1], 5);
        memcpy(out[u8], y, sizeof out[u8]);
        for (int i = 0; i < N * 5; i++)
            ck_assert_msg(fabsf(y[i] - yf[i]) <= 0.05f, "y[%d]: int8 %g float %g", i,
                          (double)y[i], (double)yf[i]);
        /* batch independence */
        for (int b = 0; b < N; b++) {
            tr_run(r, 1, x + b * XN);
            ck_assert_mem_eq(runner_output(r, 0, &shape), out[u8] + 5 * b, 5 * sizeof(float));
        }
        runner_free(r);
        graph_free(&q);
    }
    ck_assert_mem_eq(out[0], out[1], sizeof out[0]);
    runner_free(rf);
    graph_free(&m->g);
    free(m);
    free(rg);
}
END_TEST

/* ---- element-wise math in int8: one table of 256 entries per node ---- */

#define MATH_NODE(op, out, attrs)                                                          \
    "{\"op\":\"" op "\",\"name\":\"" out "\",\"inputs\":[\"x\"],\"outputs\":[\"" out "\"]" \
    attrs "},"

#define MATH_JSON                                                                          \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"math\","                       \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,16],\"dtype\":\"F32\"}],"                   \
    "\"outputs\":[\"silu\",\"gelu\",\"hard_swish\",\"clip\",\"exp\",\"elu\",\"erf\","      \
    "\"abs\"],\"nodes\":["                                                                \
    MATH_NODE("silu", "silu", "") MATH_NODE("gelu", "gelu", "")                            \
    MATH_NODE("hard_swish", "hard_swish", "")                                              \
    MATH_NODE("clip", "clip", ",\"attrs\":{\"min\":-0.5,\"max\":1.5}")                     \
    MATH_NODE("exp", "exp", "") MATH_NODE("elu", "elu", ",\"attrs\":{\"alpha\":0.7}")      \
    MATH_NODE("erf", "erf", "")                                                            \
    "{\"op\":\"abs\",\"name\":\"abs\",\"inputs\":[\"x\"],\"outputs\":[\"abs\"]}]}"

static double math_ref(const char *op, double x)
{
    if (!strcmp(op, "silu"))
        return x / (1.0 + exp(-x));
    if (!strcmp(op, "gelu"))
        return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    if (!strcmp(op, "hard_swish"))
        return x * fmin(1.0, fmax(0.0, x / 6.0 + 0.5));
    if (!strcmp(op, "clip"))
        return fmin(1.5, fmax(-0.5, x));
    if (!strcmp(op, "exp"))
        return exp(x);
    if (!strcmp(op, "elu"))
        return x > 0 ? x : 0.7 * expm1(x);
    if (!strcmp(op, "erf"))
        return erf(x);
    return fabs(x);
}

/* Every math node runs on int8 values (no dequantize/quantize around it),
 * and its output is what quanta-format(5) defines: the input's int8 value
 * dequantized, f in double, quantized with the output's parameters. */
START_TEST(test_q8_math_tables)
{
    static const char *const ops[] = {"silu", "gelu", "hard_swish", "clip",
                                      "exp",  "elu",  "erf",        "abs"};
    struct tmodel *m = calloc(1, sizeof *m);
    struct tr_ranges *rg = malloc(sizeof *rg);
    ck_assert(m && rg);
    tm_load(m, MATH_JSON);
    enum { N = 8, XN = 16 };
    float calib[32 * XN], x[N * XN];
    fill(calib, 32 * XN);
    fill(x, N * XN);
    for (int i = 0; i < 32 * XN; i++)
        calib[i] *= 3;
    for (int i = 0; i < N * XN; i++)
        x[i] *= 3.5f; /* some beyond the calibrated range: saturate */
    tr_calibrate(&m->g, calib, 32, rg);
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct graph q;
    quantize(&m->g, &opt, rg, &q);
    ck_assert_int_eq(count_op(&q, GRAPH_OP_QUANTIZE), 1);
    struct runner *r = tm_new_runner(&q, N);
    tr_run(r, N, x);
    const struct graph_quant *qx = &q.values[q.nodes[0].outputs[0]].quant;
    ck_assert_int_eq(qx->dtype, QUANTA_I8);
    for (int o = 0; o < 8; o++) {
        int node = -1;
        for (int i = 0; i < q.n_nodes; i++)
            if (!strcmp(q.nodes[i].name, ops[o]))
                node = i;
        ck_assert_msg(node >= 0, "no node %s", ops[o]);
        const struct graph_quant *qy = &q.values[q.nodes[node].outputs[0]].quant;
        ck_assert_msg(qy->dtype == QUANTA_I8, "%s: output not int8", ops[o]);
        struct quanta_shape shape;
        const float *y = runner_output(r, o, &shape);
        for (int i = 0; i < N * XN; i++) {
            double xq = fmin(127, fmax(-128, nearbyint(x[i] / qx->scale) + qx->zero_point));
            double v = math_ref(ops[o], (double)qx->scale * (xq - qx->zero_point));
            double yq = fmin(127, fmax(-128, round(v / (double)qy->scale) + qy->zero_point));
            float want = qy->scale * (float)(yq - qy->zero_point);
            ck_assert_msg(y[i] == want, "%s(%g): %g, want %g", ops[o], (double)x[i],
                          (double)y[i], (double)want);
        }
    }
    runner_free(r);
    graph_free(&q);
    graph_free(&m->g);
    free(m);
    free(rg);
}
END_TEST

/* ---- hand-written quantized graphs: outputs, errors ---- */

static enum quanta_status parse_q(struct graph *g, const char *json, struct st_file *file,
                                  struct quanta_error *err)
{
    return graph_parse(g, json, file, "q.st", err);
}

/* The CNN whose only output is the logits of the int8 dense fc: by default
 * fc writes them as float from its int32 accumulator (no logits.q, no
 * dequantize), y = (float)acc * (float)((double)sx * (double)sw[o]),
 * checked against that formula on the int8 bytes of gap.out; with
 * int8_outputs the old form, whose output is the by-hand int8 chain. */
static void cnn_logits_init(struct cnn *c)
{
    static const char *const from = ",{\"op\":\"softmax\",\"name\":\"sm\",\"inputs\":"
                                     "[\"logits\"],\"outputs\":[\"probs\"]}";
    char json[sizeof CNN_JSON];
    snprintf(json, sizeof json, "%s", CNN_JSON);
    char *sm = strstr(json, from);
    ck_assert_ptr_nonnull(sm);
    memmove(sm, sm + strlen(from), strlen(sm + strlen(from)) + 1);
    char *outs = strstr(json, "\"outputs\":[\"probs\",\"logits\"]");
    ck_assert_ptr_nonnull(outs);
    static const char *const one = "\"outputs\":[\"logits\"]";
    memcpy(outs, one, strlen(one));
    memmove(outs + strlen(one), outs + strlen("\"outputs\":[\"probs\",\"logits\"]"),
            strlen(outs + strlen("\"outputs\":[\"probs\",\"logits\"]")) + 1);
    memset(c, 0, sizeof *c);
    struct cnn tmp;
    cnn_init(&tmp); /* the same tensors, drawn in the same order */
    memcpy(c->c1w, tmp.c1w, sizeof c->c1w);
    memcpy(c->c1b, tmp.c1b, sizeof c->c1b);
    memcpy(c->dww, tmp.dww, sizeof c->dww);
    memcpy(c->fcw, tmp.fcw, sizeof c->fcw);
    memcpy(c->fcb, tmp.fcb, sizeof c->fcb);
    graph_free(&tmp.m.g);
    tm_tensor(&c->m, "c1.w", QUANTA_F32, SHAPE(4, 3, 3, 2), c->c1w);
    tm_tensor(&c->m, "c1.b", QUANTA_F32, SHAPE(4), c->c1b);
    tm_tensor(&c->m, "dw.w", QUANTA_F32, SHAPE(4, 2, 2, 1), c->dww);
    tm_tensor(&c->m, "fc.w", QUANTA_F32, SHAPE(3, 4), c->fcw);
    tm_tensor(&c->m, "fc.b", QUANTA_F32, SHAPE(3), c->fcb);
    tm_load(&c->m, json);
}

START_TEST(test_q8_float_output_from_accumulator)
{
    struct cnn *c = malloc(sizeof *c);
    struct qtrace *t = malloc(sizeof *t);
    struct tr_ranges *rg = malloc(sizeof *rg);
    ck_assert(c && t && rg);
    cnn_logits_init(c);
    float calib[16 * IMG], x[BATCH * IMG];
    fill(calib, 16 * IMG);
    fill(x, BATCH * IMG);
    tr_calibrate(&c->m.g, calib, 16, rg);
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct graph qf, qi;
    quantize(&c->m.g, &opt, rg, &qf);
    opt.int8_outputs = true;
    quantize(&c->m.g, &opt, rg, &qi);

    /* the graphs */
    ck_assert_int_eq(count_op(&qf, GRAPH_OP_DEQUANTIZE), 0);
    ck_assert_int_eq(graph_find_value(&qf, "logits.q"), -1);
    int lv = vindex(&qf, "logits");
    ck_assert_int_eq(qf.values[lv].dtype, QUANTA_F32);
    ck_assert_int_eq(qf.values[lv].quant.dtype, QUANTA_DTYPE_INVALID);
    ck_assert_str_eq(qf.nodes[qf.values[lv].producer].name, "fc");
    ck_assert_int_eq(count_op(&qi, GRAPH_OP_DEQUANTIZE), 1);
    ck_assert_int_eq(qi.values[vindex(&qi, "logits.q")].quant.dtype, QUANTA_I8);

    /* the old form: the int8 chain by hand, dequantized */
    cnn_by_hand(&qi, x, t);
    struct runner *r = tm_new_runner(&qi, BATCH);
    tr_run(r, BATCH, x);
    struct quanta_shape shape;
    ck_assert_mem_eq(runner_output(r, 0, &shape), t->logits, sizeof t->logits);
    runner_free(r);

    /* the float output: gap.out has the same parameters in both graphs */
    const struct graph_quant *qg = qof(&qf, "gap.out"), *qw = qof(&qf, "fc.w");
    ck_assert(qg->scale == qof(&qi, "gap.out")->scale &&
              qg->zero_point == qof(&qi, "gap.out")->zero_point);
    const int8_t *w8 = dof(&qf, "fc.w");
    const int32_t *b32 = dof(&qf, "fc.b");
    float want[BATCH * 3];
    for (int b = 0; b < BATCH; b++)
        for (int o = 0; o < 3; o++) {
            int64_t acc = b32[o];
            for (int k = 0; k < 4; k++)
                acc += (int64_t)(t->gap[b * 4 + k] - qg->zero_point) * w8[o * 4 + k];
            float sw = qw->scales[qw->n == 1 ? 0 : o];
            want[b * 3 + o] = (float)(int32_t)acc * (float)((double)qg->scale * (double)sw);
        }
    r = tm_new_runner(&qf, BATCH);
    tr_run(r, BATCH, x);
    const float *y = runner_output(r, 0, &shape);
    ck_assert_int_eq(shape.dims[0], BATCH);
    ck_assert_int_eq(shape.dims[1], 3);
    for (int i = 0; i < BATCH * 3; i++)
        ck_assert_msg(y[i] == want[i], "logit %d: %.9g, want %.9g", i, (double)y[i],
                      (double)want[i]);
    /* batch 1: the same bits */
    for (int b = 0; b < BATCH; b++) {
        tr_run(r, 1, x + b * IMG);
        ck_assert_mem_eq(runner_output(r, 0, &shape), want + 3 * b, 3 * sizeof(float));
    }
    runner_free(r);

    /* closer to the float model than the int8 logits (no output rounding) */
    struct runner *rf = tm_new_runner(&c->m.g, BATCH);
    tr_run(rf, BATCH, x);
    const float *lf = runner_output(rf, 0, &shape);
    double e_float = 0, e_int8 = 0;
    for (int i = 0; i < BATCH * 3; i++) {
        e_float += (want[i] - lf[i]) * (double)(want[i] - lf[i]);
        e_int8 += (t->logits[i] - lf[i]) * (double)(t->logits[i] - lf[i]);
    }
    ck_assert_msg(e_float < e_int8, "squared error float out %g, int8 out %g", e_float, e_int8);
    runner_free(rf);
    graph_free(&qf);
    graph_free(&qi);
    graph_free(&c->m.g);
    free(c);
    free(t);
    free(rg);
}
END_TEST

/* A quantized value as a graph output: runner_output dequantizes it, the
 * output of a function's table (sigmoid) too. */
START_TEST(test_q8_quantized_output)
{
    static const char *types[2] = {"I8", "U8"};
    for (int u8 = 0; u8 < 2; u8++) {
        char json[1400];
        snprintf(json, sizeof json,
                 "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"q\","
                 "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,4],\"dtype\":\"F32\"}],"
                 "\"outputs\":[\"x.q\",\"r.q\",\"s.q\"],\"nodes\":["
                 "{\"op\":\"quantize\",\"name\":\"qz\",\"inputs\":[\"x\"],\"outputs\":[\"x.q\"]},"
                 "{\"op\":\"relu\",\"name\":\"r\",\"inputs\":[\"x.q\"],\"outputs\":[\"r.q\"]},"
                 "{\"op\":\"sigmoid\",\"name\":\"s\",\"inputs\":[\"x.q\"],\"outputs\":[\"s.q\"]}],"
                 "\"quant\":{\"x.q\":{\"dtype\":\"%s\",\"scale\":0.5,\"zero_point\":%d},"
                 "\"r.q\":{\"dtype\":\"%s\",\"scale\":0.25,\"zero_point\":%d},"
                 "\"s.q\":{\"dtype\":\"%s\",\"scale\":0.00390625,\"zero_point\":%d}}}",
                 types[u8], u8 ? 138 : 10, types[u8], u8 ? 0 : -128, types[u8], u8 ? 0 : -128);
        struct graph g;
        struct quanta_error err = {0};
        ck_assert_msg(parse_q(&g, json, NULL, &err) == QUANTA_OK, "%s", err.message);
        struct runner *r = tm_new_runner(&g, 2);
        /* x.q = clamp(round(x / 0.5) + 10, ...), I8 domain; real = 0.5 (q - 10) */
        const float x[8] = {1.0f, -1.26f, 100.0f, -100.0f, 0.25f, -0.25f, 3.0f, 0.74f};
        const float want_x[8] = {1.0f, -1.5f, 58.5f, -69.0f, 0.5f, -0.5f, 3.0f, 0.5f};
        /* relu into scale 0.25, zero point -128 (U8: 0): [0, 63.75] */
        const float want_r[8] = {1.0f, 0.0f, 58.5f, 0.0f, 0.5f, 0.0f, 3.0f, 0.5f};
        tr_run(r, 2, x);
        struct quanta_shape s;
        const float *y = runner_output(r, 0, &s);
        ck_assert_int_eq(s.dims[0], 2);
        for (int i = 0; i < 8; i++)
            ck_assert_msg(y[i] == want_x[i], "%s x.q[%d] = %g, want %g", types[u8], i,
                          (double)y[i], (double)want_x[i]);
        y = runner_output(r, 1, &s);
        for (int i = 0; i < 8; i++)
            ck_assert_msg(y[i] == want_r[i], "%s r.q[%d] = %g, want %g", types[u8], i,
                          (double)y[i], (double)want_r[i]);
        /* sigmoid into steps of 1/256 from 0: round(256 sigmoid(x)) / 256,
         * at most 255/256 (no ties among these inputs) */
        y = runner_output(r, 2, &s);
        for (int i = 0; i < 8; i++) {
            double q = round(256.0 / (1.0 + exp(-(double)want_x[i])));
            float want = (float)((q > 255.0 ? 255.0 : q) / 256.0);
            ck_assert_msg(y[i] == want, "%s s.q[%d] = %g, want %g", types[u8], i, (double)y[i],
                          (double)want);
        }
        runner_free(r);
        graph_free(&g);
    }
}
END_TEST

START_TEST(test_q8_errors)
{
    struct graph g;
    struct quanta_error err = {0};
    struct runner *r = (struct runner *)1;
    struct runner_options ro = {.max_batch = 1};
    /* batch_norm has no int8 kernel */
    static const float one[2] = {1, 1}, zero[2] = {0, 0};
    struct st_tensor t[4] = {
        {.name = "g", .dtype = QUANTA_F32, .shape = SHAPE(2), .end = 8, .data = one},
        {.name = "b", .dtype = QUANTA_F32, .shape = SHAPE(2), .end = 8, .data = zero},
        {.name = "m", .dtype = QUANTA_F32, .shape = SHAPE(2), .end = 8, .data = zero},
        {.name = "v", .dtype = QUANTA_F32, .shape = SHAPE(2), .end = 8, .data = one},
    };
    struct st_file file = {.tensors = t, .n_tensors = 4};
    const char *bn =
        "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"q\","
        "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2],\"dtype\":\"F32\"}],"
        "\"outputs\":[\"y\"],\"nodes\":["
        "{\"op\":\"quantize\",\"name\":\"qz\",\"inputs\":[\"x\"],\"outputs\":[\"x.q\"]},"
        "{\"op\":\"batch_norm\",\"name\":\"bn\",\"inputs\":[\"x.q\",\"g\",\"b\",\"m\",\"v\"],"
        " \"outputs\":[\"y\"]}],"
        "\"quant\":{\"x.q\":{\"dtype\":\"I8\",\"scale\":0.5,\"zero_point\":0}}}";
    ck_assert_msg(parse_q(&g, bn, &file, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(runner_create(&r, &g, &ro, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_null(r);
    ck_assert_str_eq(err.message, "node 'bn' (batch_norm): no int8 kernel for this op; its "
                                  "quantized values must be dequantized first");
    graph_free(&g);

    /* an int8 add reading a float value */
    const char *mixed =
        "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"q\","
        "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2],\"dtype\":\"F32\"}],"
        "\"outputs\":[\"y\"],\"nodes\":["
        "{\"op\":\"quantize\",\"name\":\"qz\",\"inputs\":[\"x\"],\"outputs\":[\"x.q\"]},"
        "{\"op\":\"add\",\"name\":\"add1\",\"inputs\":[\"x.q\",\"x\"],\"outputs\":[\"y\"]}],"
        "\"quant\":{\"x.q\":{\"dtype\":\"I8\",\"scale\":0.5,\"zero_point\":0},"
        "\"y\":{\"dtype\":\"I8\",\"scale\":0.5,\"zero_point\":0}}}";
    ck_assert_msg(parse_q(&g, mixed, NULL, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(runner_create(&r, &g, &ro, &err), QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message, "node 'add1' (add): input 'x' is float but the node runs int8 "
                                  "(a quantize node must convert it)");
    graph_free(&g);

    /* a dequantize whose output is quantized */
    const char *dq =
        "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"q\","
        "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2],\"dtype\":\"F32\"}],"
        "\"outputs\":[\"y\"],\"nodes\":["
        "{\"op\":\"quantize\",\"name\":\"qz\",\"inputs\":[\"x\"],\"outputs\":[\"x.q\"]},"
        "{\"op\":\"dequantize\",\"name\":\"dz\",\"inputs\":[\"x.q\"],\"outputs\":[\"y\"]}],"
        "\"quant\":{\"x.q\":{\"dtype\":\"I8\",\"scale\":0.5,\"zero_point\":0},"
        "\"y\":{\"dtype\":\"I8\",\"scale\":0.5,\"zero_point\":0}}}";
    if (parse_q(&g, dq, NULL, &err) == QUANTA_OK) { /* the graph may already refuse it */
        ck_assert_int_eq(runner_create(&r, &g, &ro, &err), QUANTA_ERR_INPUT);
        ck_assert_str_eq(err.message, "node 'dz' (dequantize): output 'y' must be float");
        graph_free(&g);
    }
}
END_TEST

Suite *suite_runner_q8(void);
Suite *suite_runner_q8(void)
{
    Suite *s = suite_create("runner_q8");
    TCase *tc = tcase_create("int8");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_q8_cnn_i8_per_channel);
    tcase_add_test(tc, test_q8_cnn_i8_per_tensor);
    tcase_add_test(tc, test_q8_cnn_u8_equals_i8);
    tcase_add_test(tc, test_q8_levels_same_bytes);
    for (int l = 0; l < KERNELS_LEVEL_COUNT; l++) {
        bool hardware;
        if (ts_level_missing(l, true, &hardware))
            ts_add_level_skip(tc, "runner_q8", l, true);
    }
    tcase_add_test(tc, test_q8_arena_smaller);
    tcase_add_test(tc, test_q8_exclude_island);
    tcase_add_test(tc, test_q8_weight_only_is_float_path);
    tcase_add_test(tc, test_q8_ops_graph);
    tcase_add_test(tc, test_q8_math_tables);
    tcase_add_test(tc, test_q8_quantized_output);
    tcase_add_test(tc, test_q8_float_output_from_accumulator);
    tcase_add_test(tc, test_q8_errors);
    suite_add_tcase(s, tc);
    return s;
}

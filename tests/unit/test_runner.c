/* The float runner: graphs parsed from JSON with tensors in an in-memory
 * st_file, checked against hand values and against the reference kernels
 * called one by one; batch independence, the hook, arena reuse, F16 and
 * I8 weight-only constants, and the embedding id check. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "quanta/graph.h"
#include "quanta/runtime.h"
#include "support/test_model.h"

/* ---- a model held in memory: support/test_model.h ---- */

static void tm_run(struct runner *r, int64_t batch, const void *const *inputs)
{
    struct quanta_error err = {0};
    enum quanta_status st = runner_run(r, batch, inputs, &err);
    ck_assert_msg(st == QUANTA_OK, "runner_run: %s", err.message);
}


static uint64_t rng = 0x9e3779b97f4a7c15ull;
static void fill(float *x, size_t n)
{
    ts_fill(&rng, x, n, -1.0f, 1.0f);
}

/* ---- dense by hand ---- */

START_TEST(test_runner_dense_hand)
{
    static const float w[4] = {1, 2, 3, 4}, b[2] = {0.5f, -8};
    struct tmodel m = {0};
    tm_tensor(&m, "w", QUANTA_F32, SHAPE(2, 2), w);
    tm_tensor(&m, "b", QUANTA_F32, SHAPE(2), b);
    tm_load(&m, "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"d\","
                "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2],\"dtype\":\"F32\"}],"
                "\"outputs\":[\"y\"],\"nodes\":[{\"op\":\"dense\",\"name\":\"fc\","
                "\"inputs\":[\"x\",\"w\",\"b\"],\"outputs\":[\"y\"],"
                "\"attrs\":{\"activation\":\"relu\"}}]}");
    struct runner *r = tm_new_runner(&m.g, 4);
    struct quanta_shape s;
    ck_assert_ptr_null(runner_output(r, 0, &s)); /* nothing run yet */
    /* [1,1] -> [1+2+0.5, 3+4-8 -> relu 0]; [2,0] -> [2.5, 6-8 -> 0]; [0,3] -> [6.5, 4] */
    const float x[6] = {1, 1, 2, 0, 0, 3};
    const void *in[1] = {x};
    tm_run(r, 3, in);
    const float *y = runner_output(r, 0, &s);
    ck_assert_ptr_nonnull(y);
    ck_assert_int_eq(s.rank, 2);
    ck_assert_int_eq(s.dims[0], 3);
    ck_assert_int_eq(s.dims[1], 2);
    const float want[6] = {3.5f, 0, 2.5f, 0, 6.5f, 4};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(y[i], want[i]);
    ck_assert_ptr_null(runner_output(r, 1, &s));

    struct quanta_error err = {0};
    ck_assert_int_eq(runner_run(r, 5, in, &err), QUANTA_ERR_USAGE);
    ck_assert_str_eq(err.message, "runner: batch 5 outside [1, 4]");
    ck_assert_int_eq(runner_run(r, 0, in, &err), QUANTA_ERR_USAGE);
    runner_free(r);
    graph_free(&m.g);
}
END_TEST

/* ---- a small CNN: against the kernels called by hand, any batch ---- */

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
    tm_tensor(&c->m, "c1.w", QUANTA_F32, SHAPE(4, 3, 3, 2), c->c1w);
    tm_tensor(&c->m, "c1.b", QUANTA_F32, SHAPE(4), c->c1b);
    tm_tensor(&c->m, "dw.w", QUANTA_F32, SHAPE(4, 2, 2, 1), c->dww);
    tm_tensor(&c->m, "fc.w", QUANTA_F32, SHAPE(3, 4), c->fcw);
    tm_tensor(&c->m, "fc.b", QUANTA_F32, SHAPE(3), c->fcb);
    tm_load(&c->m, CNN_JSON);
}

/* The network computed with the reference kernels directly. */
struct cnn_trace {
    float c1[7 * 6 * 6 * 4], p1[7 * 3 * 3 * 4], dw[7 * 2 * 2 * 4], gap[7 * 4], logits[7 * 3],
        probs[7 * 3];
};

static void cnn_direct(const struct cnn *c, size_t batch, const float *x, struct cnn_trace *t)
{
    struct f32_conv2d_params c1 = {.batch = batch, .in_h = 6, .in_w = 6, .in_c = 2, .out_h = 6,
                                   .out_w = 6, .out_c = 4, .kernel_h = 3, .kernel_w = 3,
                                   .stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                   .dilation_w = 1, .pad_top = 1, .pad_left = 1, .groups = 1,
                                   .out_min = 0, .out_max = INFINITY};
    f32_conv2d__ref(&c1, x, c->c1w, c->c1b, t->c1);
    struct f32_pool2d_params p1 = {.batch = batch, .in_h = 6, .in_w = 6, .channels = 4,
                                   .out_h = 3, .out_w = 3, .kernel_h = 2, .kernel_w = 2,
                                   .stride_h = 2, .stride_w = 2};
    f32_max_pool2d__ref(&p1, t->c1, t->p1);
    struct f32_conv2d_params dw = {.batch = batch, .in_h = 3, .in_w = 3, .in_c = 4, .out_h = 2,
                                   .out_w = 2, .out_c = 4, .kernel_h = 2, .kernel_w = 2,
                                   .stride_h = 1, .stride_w = 1, .dilation_h = 1,
                                   .dilation_w = 1, .groups = 4, .out_min = 0, .out_max = 6};
    f32_conv2d__ref(&dw, t->p1, c->dww, NULL, t->dw);
    f32_global_avg_pool__ref(batch, 4, 4, t->dw, t->gap);
    struct f32_dense_params fc = {.batch = batch, .in_k = 4, .out_n = 3, .out_min = -INFINITY,
                                  .out_max = INFINITY};
    f32_dense__ref(&fc, t->gap, c->fcw, c->fcb, t->logits);
    struct f32_softmax_params sm = {.outer = batch, .axis_len = 3, .inner = 1};
    f32_softmax__ref(&sm, t->logits, t->probs);
}

START_TEST(test_runner_cnn_matches_kernels_and_batches)
{
    struct cnn *c = malloc(sizeof *c);
    struct cnn_trace *t = malloc(sizeof *t);
    ck_assert(c && t);
    cnn_init(c);
    float x[7 * 6 * 6 * 2];
    fill(x, sizeof x / sizeof x[0]);
    cnn_direct(c, 7, x, t);

    struct runner *r = tm_new_runner(&c->m.g, 7);
    float probs7[21], logits7[21];
    const void *in[1] = {x};
    tm_run(r, 7, in);
    struct quanta_shape s;
    const float *y = runner_output(r, 0, &s);
    ck_assert_int_eq(s.rank, 2);
    ck_assert_int_eq(s.dims[0], 7);
    ck_assert_int_eq(s.dims[1], 3);
    memcpy(probs7, y, sizeof probs7);
    y = runner_output(r, 1, &s);
    ck_assert_int_eq(s.dims[0], 7);
    memcpy(logits7, y, sizeof logits7);
    for (int i = 0; i < 21; i++) {
        /* the runner's level may reorder sums: 1e-5 relative (kernels.h) */
        ck_assert_float_eq_tol(probs7[i], t->probs[i], 1e-5f * fmaxf(1.0f, fabsf(t->probs[i])));
        ck_assert_float_eq_tol(logits7[i], t->logits[i],
                               1e-5f * fmaxf(1.0f, fabsf(t->logits[i])));
    }
    /* batch 1 sample by sample, then batch 3 from sample 2: same bits */
    for (int n = 0; n < 7; n++) {
        const void *one[1] = {x + n * 72};
        tm_run(r, 1, one);
        y = runner_output(r, 0, &s);
        ck_assert_int_eq(s.dims[0], 1);
        ck_assert_mem_eq(y, probs7 + 3 * n, 3 * sizeof(float));
    }
    const void *three[1] = {x + 2 * 72};
    tm_run(r, 3, three);
    y = runner_output(r, 0, &s);
    ck_assert_int_eq(s.dims[0], 3);
    ck_assert_mem_eq(y, probs7 + 6, 9 * sizeof(float));
    y = runner_output(r, 1, &s);
    ck_assert_mem_eq(y, logits7 + 6, 9 * sizeof(float));
    runner_free(r);
    graph_free(&c->m.g);
    free(c);
    free(t);
}
END_TEST

/* ---- the hook ---- */

struct hook_log {
    int n;
    int values[16];
    int64_t batch[16];
    float copy[16][7 * 6 * 6 * 4]; /* each value as the hook saw it */
    size_t count[16];
};

static void record(void *ctx, const struct graph *g, int value, const float *data,
                   const struct quanta_shape *shape)
{
    (void)g;
    struct hook_log *log = ctx;
    ck_assert_int_lt(log->n, 16);
    int64_t n = quanta_shape_numel(shape);
    ck_assert(n > 0 && (size_t)n <= sizeof log->copy[0] / sizeof(float));
    log->values[log->n] = value;
    log->batch[log->n] = shape->dims[0];
    log->count[log->n] = (size_t)n;
    memcpy(log->copy[log->n], data, (size_t)n * sizeof(float));
    log->n++;
}

START_TEST(test_runner_hook)
{
    struct cnn *c = malloc(sizeof *c);
    struct cnn_trace *t = malloc(sizeof *t);
    struct hook_log *log = calloc(1, sizeof *log);
    ck_assert(c && t && log);
    cnn_init(c);
    float x[3 * 6 * 6 * 2];
    fill(x, sizeof x / sizeof x[0]);
    cnn_direct(c, 3, x, t);
    struct runner *r = tm_new_runner(&c->m.g, 4);
    runner_set_hook(r, record, log);
    const void *in[1] = {x};
    tm_run(r, 3, in);

    const char *order[] = {"image", "c1.out", "p1.out", "dw.out", "gap.out", "logits", "probs"};
    const float *want[] = {x, t->c1, t->p1, t->dw, t->gap, t->logits, t->probs};
    const size_t per_sample[] = {72, 144, 36, 16, 4, 3, 3};
    ck_assert_int_eq(log->n, 7);
    for (int i = 0; i < 7; i++) {
        ck_assert_int_eq(log->values[i], graph_find_value(&c->m.g, order[i]));
        ck_assert_int_eq(log->batch[i], 3);
        ck_assert_uint_eq(log->count[i], 3 * per_sample[i]);
        for (size_t k = 0; k < log->count[i]; k++)
            ck_assert_msg(fabsf(log->copy[i][k] - want[i][k]) <=
                              1e-5f * fmaxf(1.0f, fabsf(want[i][k])),
                          "%s[%zu]: hook saw %g, expected %g", order[i], k,
                          (double)log->copy[i][k], (double)want[i][k]);
    }
    /* no hook: no more calls */
    runner_set_hook(r, NULL, NULL);
    tm_run(r, 1, in);
    ck_assert_int_eq(log->n, 7);
    runner_free(r);
    graph_free(&c->m.g);
    free(c);
    free(t);
    free(log);
}
END_TEST

/* ---- arena reuse on a chain ---- */

START_TEST(test_runner_arena_reuse)
{
    /* x -> relu -> tanh -> leaky_relu -> sigmoid -> relu6 -> tanh, [-1, 100] each:
     * at most two values are alive at once */
    struct tmodel m = {0};
    tm_load(&m, "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"chain\","
                "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,100],\"dtype\":\"F32\"}],"
                "\"outputs\":[\"v6\"],\"nodes\":["
                "{\"op\":\"relu\",\"name\":\"n1\",\"inputs\":[\"x\"],\"outputs\":[\"v1\"]},"
                "{\"op\":\"tanh\",\"name\":\"n2\",\"inputs\":[\"v1\"],\"outputs\":[\"v2\"]},"
                "{\"op\":\"leaky_relu\",\"name\":\"n3\",\"inputs\":[\"v2\"],\"outputs\":[\"v3\"],"
                " \"attrs\":{\"alpha\":0.5}},"
                "{\"op\":\"sigmoid\",\"name\":\"n4\",\"inputs\":[\"v3\"],\"outputs\":[\"v4\"]},"
                "{\"op\":\"relu6\",\"name\":\"n5\",\"inputs\":[\"v4\"],\"outputs\":[\"v5\"]},"
                "{\"op\":\"tanh\",\"name\":\"n6\",\"inputs\":[\"v5\"],\"outputs\":[\"v6\"]}]}");
    struct runner *r = tm_new_runner(&m.g, 4);
    size_t slot = 4 * 100 * sizeof(float);
    size_t sum = 7 * slot;
    ck_assert_uint_lt(runner_arena_size(r), sum);
    ck_assert_uint_eq(runner_arena_size(r), 2 * slot);
    float x[400];
    fill(x, 400);
    for (int i = 0; i < 400; i++)
        x[i] *= 4;
    const void *in[1] = {x};
    tm_run(r, 4, in);
    struct quanta_shape s;
    const float *y = runner_output(r, 0, &s);
    ck_assert_int_eq(s.dims[0], 4);
    for (int i = 0; i < 400; i++) {
        double v = x[i] > 0 ? x[i] : 0;
        v = tanh(v);
        v = 1.0 / (1.0 + exp(-v)); /* leaky_relu is the identity on v >= 0 */
        v = tanh(v > 6 ? 6 : v);
        ck_assert_msg(fabs(y[i] - v) <= 1e-6, "element %d: %g, expected %g", i, (double)y[i], v);
    }
    runner_free(r);
    graph_free(&m.g);
}
END_TEST

/* ---- misc ops wired through the runner ---- */

START_TEST(test_runner_misc_ops)
{
    /* x [N,4]; a = add(x, bias[4]); c = concat(x, a) [N,8]; m = mean(c, axes 1, keepdims)
     * [N,1]; bn = batch_norm(x); r = reshape(bn, [-1,2,2]); s = softmax(r, axis 1);
     * q = mul(x, x, relu6) */
    static const float bias[4] = {1, -1, 2, 0.5f};
    static const float gamma[4] = {1, 2, 0.5f, 1}, beta[4] = {0, 1, -1, 0},
                       mean[4] = {0.5f, 0, 1, -1}, var[4] = {1, 4, 0.25f, 9};
    struct tmodel m = {0};
    tm_tensor(&m, "bias", QUANTA_F32, SHAPE(4), bias);
    tm_tensor(&m, "gamma", QUANTA_F32, SHAPE(4), gamma);
    tm_tensor(&m, "beta", QUANTA_F32, SHAPE(4), beta);
    tm_tensor(&m, "mean", QUANTA_F32, SHAPE(4), mean);
    tm_tensor(&m, "var", QUANTA_F32, SHAPE(4), var);
    tm_load(&m, "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"misc\","
                "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,4],\"dtype\":\"F32\"}],"
                "\"outputs\":[\"m\",\"s\",\"q\"],\"nodes\":["
                "{\"op\":\"add\",\"name\":\"add\",\"inputs\":[\"x\",\"bias\"],\"outputs\":[\"a\"]},"
                "{\"op\":\"concat\",\"name\":\"cat\",\"inputs\":[\"x\",\"a\"],\"outputs\":[\"c\"]},"
                "{\"op\":\"mean\",\"name\":\"mean\",\"inputs\":[\"c\"],\"outputs\":[\"m\"],"
                " \"attrs\":{\"axes\":[1],\"keepdims\":true}},"
                "{\"op\":\"batch_norm\",\"name\":\"bn\",\"inputs\":[\"x\",\"gamma\",\"beta\","
                " \"mean\",\"var\"],\"outputs\":[\"bn\"],\"attrs\":{\"epsilon\":0}},"
                "{\"op\":\"reshape\",\"name\":\"rs\",\"inputs\":[\"bn\"],\"outputs\":[\"r\"],"
                " \"attrs\":{\"shape\":[-1,2,2]}},"
                "{\"op\":\"softmax\",\"name\":\"sm\",\"inputs\":[\"r\"],\"outputs\":[\"s\"],"
                " \"attrs\":{\"axis\":1}},"
                "{\"op\":\"mul\",\"name\":\"sq\",\"inputs\":[\"x\",\"x\"],\"outputs\":[\"q\"],"
                " \"attrs\":{\"activation\":\"relu6\"}}]}");
    struct runner *r = tm_new_runner(&m.g, 2);
    const float x[8] = {1, 2, 3, 4, -1, 0.5f, 0, 2};
    const void *in[1] = {x};
    tm_run(r, 2, in);
    struct quanta_shape s;
    const float *y = runner_output(r, 0, &s);
    /* mean of x and x + bias: (2 * sum(x) + sum(bias)) / 8 */
    ck_assert_int_eq(s.rank, 2);
    ck_assert_int_eq(s.dims[1], 1);
    ck_assert_float_eq_tol(y[0], (2 * 10 + 2.5f) / 8, 1e-6f);
    ck_assert_float_eq_tol(y[1], (2 * 1.5f + 2.5f) / 8, 1e-6f);
    /* batch norm of row 0: (1-0.5)/1*1+0 = 0.5, (2-0)/2*2+1 = 3, (3-1)/0.5*0.5-1 = 1,
     * (4+1)/3 = 5/3; as [2,2], softmax over axis 1 pairs (0.5, 1) and (3, 5/3) */
    y = runner_output(r, 1, &s);
    ck_assert_int_eq(s.rank, 3);
    ck_assert_int_eq(s.dims[0], 2);
    double e0 = 1.0 / (1.0 + exp(1 - 0.5)), e1 = 1.0 / (1.0 + exp(5.0 / 3 - 3));
    ck_assert_float_eq_tol(y[0], e0, 1e-6);
    ck_assert_float_eq_tol(y[2], 1 - e0, 1e-6);
    ck_assert_float_eq_tol(y[1], e1, 1e-6);
    ck_assert_float_eq_tol(y[3], 1 - e1, 1e-6);
    y = runner_output(r, 2, &s);
    const float sq[8] = {1, 4, 6, 6, 1, 0.25f, 0, 4};
    for (int i = 0; i < 8; i++)
        ck_assert_float_eq(y[i], sq[i]);
    runner_free(r);
    graph_free(&m.g);
}
END_TEST

/* ---- F16 weights ---- */

START_TEST(test_runner_f16_weights)
{
    /* values exact in binary16 */
    const float wf[6] = {0.5f, -1.25f, 2, 3, 0.125f, -4};
    uint16_t w16[6], b16[2];
    for (int i = 0; i < 6; i++)
        w16[i] = quanta_f32_to_f16(wf[i]);
    b16[0] = quanta_f32_to_bf16(1.5f);
    b16[1] = quanta_f32_to_bf16(-2);
    struct tmodel m = {0};
    tm_tensor(&m, "w", QUANTA_F16, SHAPE(2, 3), w16);
    tm_tensor(&m, "b", QUANTA_BF16, SHAPE(2), b16);
    tm_load(&m, "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"h\","
                "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,3],\"dtype\":\"F32\"}],"
                "\"outputs\":[\"y\"],\"nodes\":[{\"op\":\"dense\",\"name\":\"fc\","
                "\"inputs\":[\"x\",\"w\",\"b\"],\"outputs\":[\"y\"]}]}");
    struct runner *r = tm_new_runner(&m.g, 1);
    const float x[3] = {2, 1, -1};
    const void *in[1] = {x};
    tm_run(r, 1, in);
    const float *y = runner_output(r, 0, NULL);
    /* 0.5*2 - 1.25 - 2 + 1.5 = -0.75; 3*2 + 0.125 + 4 - 2 = 8.125 */
    ck_assert_float_eq(y[0], -0.75f);
    ck_assert_float_eq(y[1], 8.125f);
    runner_free(r);
    graph_free(&m.g);
}
END_TEST

/* ---- I8 weights with per-channel quant: dequantized once at create ---- */

START_TEST(test_runner_i8_weight_only)
{
    /* w [2,2] I8 = [[2,-4],[10,0]], scales [0.5, 0.1], zero points [0, -10]
     * -> [[1, -2], [2, 1]] */
    static const int8_t w[4] = {2, -4, 10, 0};
    static const float scales[2] = {0.5f, 0.1f};
    static const int32_t zps[2] = {0, -10};
    struct tmodel m = {0};
    tm_tensor(&m, "w", QUANTA_I8, SHAPE(2, 2), w);
    tm_tensor(&m, "w.scale", QUANTA_F32, SHAPE(2), scales);
    tm_tensor(&m, "w.zero_point", QUANTA_I32, SHAPE(2), zps);
    tm_load(&m, "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"q\","
                "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2],\"dtype\":\"F32\"}],"
                "\"outputs\":[\"y\"],\"nodes\":[{\"op\":\"dense\",\"name\":\"fc\","
                "\"inputs\":[\"x\",\"w\"],\"outputs\":[\"y\"]}],"
                "\"quant\":{\"w\":{\"dtype\":\"I8\",\"axis\":0,\"scale\":\"w.scale\","
                "\"zero_point\":\"w.zero_point\"}}}");
    struct runner *r = tm_new_runner(&m.g, 1);
    const float x[2] = {3, 5};
    const void *in[1] = {x};
    tm_run(r, 1, in);
    const float *y = runner_output(r, 0, NULL);
    ck_assert_float_eq_tol(y[0], 3 - 10, 1e-5f);
    ck_assert_float_eq_tol(y[1], 6 + 5, 1e-5f);
    runner_free(r);
    graph_free(&m.g);
}
END_TEST

/* ---- embedding ids ---- */

START_TEST(test_runner_embedding)
{
    float table[20];
    for (int i = 0; i < 20; i++)
        table[i] = (float)(10 * (i / 2) + i % 2); /* row v = [10v, 10v + 1] */
    struct tmodel m = {0};
    tm_tensor(&m, "table", QUANTA_F32, SHAPE(10, 2), table);
    tm_load(&m, "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"e\","
                "\"inputs\":[{\"name\":\"ids\",\"shape\":[-1,3],\"dtype\":\"I64\"}],"
                "\"outputs\":[\"m\"],\"nodes\":["
                "{\"op\":\"embedding\",\"name\":\"emb\",\"inputs\":[\"ids\",\"table\"],"
                " \"outputs\":[\"e\"]},"
                "{\"op\":\"mean\",\"name\":\"pool\",\"inputs\":[\"e\"],\"outputs\":[\"m\"],"
                " \"attrs\":{\"axes\":[1]}}]}");
    struct runner *r = tm_new_runner(&m.g, 2);
    struct hook_log *log = calloc(1, sizeof *log);
    ck_assert_ptr_nonnull(log);
    runner_set_hook(r, record, log);
    const int64_t ids[6] = {1, 9, 2, 0, 0, 3};
    const void *in[1] = {ids};
    tm_run(r, 2, in);
    struct quanta_shape s;
    const float *y = runner_output(r, 0, &s);
    ck_assert_int_eq(s.rank, 2);
    ck_assert_int_eq(s.dims[0], 2);
    ck_assert_int_eq(s.dims[1], 2);
    ck_assert_float_eq_tol(y[0], 40, 1e-5f);
    ck_assert_float_eq_tol(y[1], 41, 1e-5f);
    ck_assert_float_eq_tol(y[2], 10, 1e-5f);
    ck_assert_float_eq_tol(y[3], 11, 1e-5f);
    /* the hook saw the ids as float first */
    ck_assert_int_eq(log->n, 3);
    ck_assert_uint_eq(log->count[0], 6);
    ck_assert_float_eq(log->copy[0][1], 9);

    const int64_t bad[6] = {1, 2, 3, 4, 12, 0};
    const void *bad_in[1] = {bad};
    struct quanta_error err = {0};
    ck_assert_int_eq(runner_run(r, 2, bad_in, &err), QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message, "node 'emb' (embedding): id 12 outside [0, 10)");
    ck_assert_ptr_null(runner_output(r, 0, &s)); /* a failed run leaves no output */
    const int64_t neg[3] = {-1, 0, 0};
    const void *neg_in[1] = {neg};
    ck_assert_int_eq(runner_run(r, 1, neg_in, &err), QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message, "node 'emb' (embedding): id -1 outside [0, 10)");
    free(log);
    runner_free(r);
    graph_free(&m.g);
}
END_TEST

/* cast to U8 truncates; a value out of U8's range fails the run, naming
 * the node, the value and the type (no saturation) */
START_TEST(test_runner_cast_range_error)
{
    struct tmodel m = {0};
    tm_load(&m, "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"c\","
                "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,3]}],"
                "\"outputs\":[\"y\"],\"nodes\":["
                "{\"op\":\"cast\",\"name\":\"to_u8\",\"inputs\":[\"x\"],"
                " \"outputs\":[\"y\"], \"attrs\":{\"to\":\"U8\"}}]}");
    struct runner *r = tm_new_runner(&m.g, 1);
    const float ok[3] = {0.5f, 254.9f, 7.0f};
    const void *in[1] = {ok};
    tm_run(r, 1, in);
    struct quanta_shape s;
    const float *y = runner_output(r, 0, &s);
    ck_assert(y[0] == 0.0f && y[1] == 254.0f && y[2] == 7.0f);
    const float bad[3] = {1.0f, 256.0f, 0.0f};
    const void *bad_in[1] = {bad};
    struct quanta_error err = {0};
    ck_assert_int_eq(runner_run(r, 1, bad_in, &err), QUANTA_ERR_INPUT);
    ck_assert_str_eq(err.message, "node 'to_u8' (cast): value 256 at 1 is outside the range of U8");
    runner_free(r);
    graph_free(&m.g);
}
END_TEST

Suite *suite_runner(void);
Suite *suite_runner(void)
{
    Suite *s = suite_create("runner");
    TCase *tc = tcase_create("runner");
    tcase_add_test(tc, test_runner_dense_hand);
    tcase_add_test(tc, test_runner_cnn_matches_kernels_and_batches);
    tcase_add_test(tc, test_runner_hook);
    tcase_add_test(tc, test_runner_arena_reuse);
    tcase_add_test(tc, test_runner_misc_ops);
    tcase_add_test(tc, test_runner_f16_weights);
    tcase_add_test(tc, test_runner_i8_weight_only);
    tcase_add_test(tc, test_runner_embedding);
    tcase_add_test(tc, test_runner_cast_range_error);
    suite_add_tcase(s, tc);
    return s;
}

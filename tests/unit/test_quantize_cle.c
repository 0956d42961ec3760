/* Cross-layer equalization and bias correction (man quanta-quantize(1),
 * EQUALIZATION, BIAS CORRECTION), each on a case where it must help: a
 * depthwise-separable block whose depthwise channels differ 100x in range,
 * quantized with per-tensor weights (Nagel et al. 2019's case), and a
 * dense pair whose coarse per-tensor weights shift the output mean. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/quantize.h"
#include "report/report.h"
#include "support/test_model.h"
#include "support/test_ranges.h"

/* conv 3x3 (relu) -> depthwise 3x3 (relu) -> pointwise 1x1 (relu) ->
 * global average pool -> dense */
#define DWSEP_JSON                                                                            \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"dwsep\","                         \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,6,6,3],\"dtype\":\"F32\"}],"                  \
    "\"outputs\":[\"logits\"],\"nodes\":["                                                  \
    "{\"op\":\"conv2d\",\"name\":\"c0\",\"inputs\":[\"x\",\"c0.w\",\"c0.b\"],"               \
    " \"outputs\":[\"c0.out\"],\"attrs\":{\"pads\":[1,1,1,1],\"activation\":\"relu\"}},"     \
    "{\"op\":\"conv2d\",\"name\":\"dw\",\"inputs\":[\"c0.out\",\"dw.w\",\"dw.b\"],"          \
    " \"outputs\":[\"dw.out\"],\"attrs\":{\"pads\":[1,1,1,1],\"groups\":8}},"                \
    "{\"op\":\"relu\",\"name\":\"dw.relu\",\"inputs\":[\"dw.out\"],\"outputs\":[\"dw.act\"]}," \
    "{\"op\":\"conv2d\",\"name\":\"pw\",\"inputs\":[\"dw.act\",\"pw.w\",\"pw.b\"],"          \
    " \"outputs\":[\"pw.out\"],\"attrs\":{\"activation\":\"relu\"}},"                       \
    "{\"op\":\"global_avg_pool\",\"name\":\"gap\",\"inputs\":[\"pw.out\"],"                 \
    " \"outputs\":[\"gap.out\"]},"                                                          \
    "{\"op\":\"dense\",\"name\":\"fc\",\"inputs\":[\"gap.out\",\"fc.w\",\"fc.b\"],"          \
    " \"outputs\":[\"logits\"]}]}"

#define N 16
#define C 8
#define IN (6 * 6 * 3)
#define CLASSES 5

struct dwsep {
    struct tmodel m;
    float c0w[C * 9 * 3], c0b[C], dww[C * 9], dwb[C], pww[C * C], pwb[C];
    float fcw[CLASSES * C], fcb[CLASSES];
    float x[N * IN];
};

/* Depthwise channel c spans 100^(c / (C-1)) times channel 0's range (1x to
 * 100x); the pointwise weights reading it shrink as much, so every channel
 * matters alike to the output, as after training with batch norm. */
static void dwsep_init(struct dwsep *t)
{
    uint64_t rng = 0x2545f4914f6cdd1dull;
    memset(t, 0, sizeof *t);
    ts_fill(&rng, t->c0w, sizeof t->c0w / sizeof *t->c0w, -0.5f, 0.5f);
    ts_fill(&rng, t->c0b, C, 0.0f, 0.1f);
    ts_fill(&rng, t->dww, C * 9, -0.5f, 0.5f);
    ts_fill(&rng, t->dwb, C, 0.0f, 0.05f);
    ts_fill(&rng, t->pww, C * C, -0.5f, 0.5f);
    ts_fill(&rng, t->pwb, C, 0.0f, 0.1f);
    ts_fill(&rng, t->fcw, CLASSES * C, -0.5f, 0.5f);
    ts_fill(&rng, t->fcb, CLASSES, -0.1f, 0.1f);
    ts_fill(&rng, t->x, N * IN, 0.0f, 1.0f);
    for (int c = 0; c < C; c++) {
        float f = powf(100.0f, (float)c / (C - 1));
        for (int k = 0; k < 9; k++)
            t->dww[c * 9 + k] *= f;
        t->dwb[c] *= f;
        for (int o = 0; o < C; o++)
            t->pww[o * C + c] /= f;
    }
    tm_tensor(&t->m, "c0.w", QUANTA_F32, SHAPE(C, 3, 3, 3), t->c0w);
    tm_tensor(&t->m, "c0.b", QUANTA_F32, SHAPE(C), t->c0b);
    tm_tensor(&t->m, "dw.w", QUANTA_F32, SHAPE(C, 3, 3, 1), t->dww);
    tm_tensor(&t->m, "dw.b", QUANTA_F32, SHAPE(C), t->dwb);
    tm_tensor(&t->m, "pw.w", QUANTA_F32, SHAPE(C, 1, 1, C), t->pww);
    tm_tensor(&t->m, "pw.b", QUANTA_F32, SHAPE(C), t->pwb);
    tm_tensor(&t->m, "fc.w", QUANTA_F32, SHAPE(CLASSES, C), t->fcw);
    tm_tensor(&t->m, "fc.b", QUANTA_F32, SHAPE(CLASSES), t->fcb);
    tm_load(&t->m, DWSEP_JSON);
}

/* Output 0 of g on the N samples x, copied into y (n floats at most). */
static int64_t run_output(const struct graph *g, const float *x, float *y, int64_t n)
{
    struct runner *r = tm_new_runner(g, N);
    tr_run(r, N, x);
    struct quanta_shape s;
    const float *out = runner_output(r, 0, &s);
    int64_t k = quanta_shape_numel(&s);
    ck_assert_int_le(k, n);
    memcpy(y, out, (size_t)k * sizeof *y);
    runner_free(r);
    return k;
}

static double sqnr_db(const float *ref, const float *y, int64_t n)
{
    struct report_sqnr acc = {0};
    report_sqnr_add(&acc, ref, y, (size_t)n);
    return report_sqnr_db(&acc);
}

/* Quantizes g with per-tensor weights: equalized (prepared, calibrated on
 * the prepared graph) or not. */
static void quantize_dwsep(const struct graph *g, const float *x, bool equalize, struct graph *q,
                           struct quantize_applied *applied)
{
    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.weights = QUANTIZE_PER_TENSOR;
    opt.equalize = equalize;
    struct quanta_error err = {0};
    struct graph prep;
    ck_assert_msg(quantize_prepare(g, &opt, &prep, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    struct tr_ranges rg;
    tr_calibrate(&prep, x, N, &rg);
    opt.applied = applied;
    struct quantize_ranges qr = {tr_find, &rg};
    ck_assert_msg(quantize_model(g, &opt, &qr, q, "test", &err) == QUANTA_OK, "%s", err.message);
    graph_free(&prep);
}

START_TEST(test_equalize_keeps_float_function)
{
    struct dwsep t;
    dwsep_init(&t);
    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.equalize = true;
    struct quantize_applied applied = {0};
    opt.applied = &applied;
    struct quanta_error err = {0};
    struct graph prep;
    ck_assert_msg(quantize_prepare(&t.m.g, &opt, &prep, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    /* c0 -> dw, dw -> pw (the relu node fused into dw by the fold), pw ->
     * fc through the global average pool */
    ck_assert_int_eq(applied.n_pairs, 3);
    ck_assert_str_eq(applied.pairs[0].first, "c0");
    ck_assert_str_eq(applied.pairs[0].second, "dw");
    ck_assert_str_eq(applied.pairs[1].first, "dw");
    ck_assert_str_eq(applied.pairs[1].second, "pw");
    ck_assert_str_eq(applied.pairs[2].first, "pw");
    ck_assert_str_eq(applied.pairs[2].second, "fc");
    ck_assert_int_ge(applied.passes, 2);
    ck_assert_int_le(applied.passes, QUANTIZE_EQUALIZE_PASSES);
    ck_assert_int_eq(applied.pairs[1].channels, C);
    ck_assert_double_gt(applied.pairs[1].max_scale / applied.pairs[1].min_scale, 10.0);

    /* the depthwise ranges now match their pointwise partners' */
    int w = graph_find_value(&prep, "dw.w");
    ck_assert_int_ge(w, 0);
    const float *dw = prep.values[w].data;
    double lo = INFINITY, hi = 0.0;
    for (int c = 0; c < C; c++) {
        double r = 0.0;
        for (int k = 0; k < 9; k++)
            r = fmax(r, fabs(dw[c * 9 + k]));
        lo = fmin(lo, r);
        hi = fmax(hi, r);
    }
    ck_assert_msg(hi / lo < 20.0, "depthwise channel ranges still differ %.1fx", hi / lo);

    float y0[N * CLASSES], y1[N * CLASSES];
    int64_t n = run_output(&t.m.g, t.x, y0, N * CLASSES);
    ck_assert_int_eq(run_output(&prep, t.x, y1, N * CLASSES), n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(fabsf(y0[i] - y1[i]) <= 1e-5f * (1.0f + fabsf(y0[i])),
                      "output %lld: %.9g before, %.9g after equalization", (long long)i, y0[i],
                      y1[i]);
    graph_free(&prep);
    quantize_applied_free(&applied);
    graph_free(&t.m.g);
}
END_TEST

START_TEST(test_equalize_raises_sqnr_per_tensor)
{
    struct dwsep t;
    dwsep_init(&t);
    float yf[N * CLASSES], yq[N * CLASSES], ye[N * CLASSES];
    int64_t n = run_output(&t.m.g, t.x, yf, N * CLASSES);
    struct graph q, qe;
    struct quantize_applied applied = {0};
    quantize_dwsep(&t.m.g, t.x, false, &q, NULL);
    quantize_dwsep(&t.m.g, t.x, true, &qe, &applied);
    ck_assert_int_eq(applied.n_pairs, 3);
    run_output(&q, t.x, yq, N * CLASSES);
    run_output(&qe, t.x, ye, N * CLASSES);
    double plain = sqnr_db(yf, yq, n), eq = sqnr_db(yf, ye, n);
    ck_assert_msg(eq >= plain + 10.0, "SQNR %.2f dB equalized vs %.2f dB plain", eq, plain);
    ck_assert_msg(eq >= 25.0, "SQNR %.2f dB equalized", eq);
    graph_free(&q);
    graph_free(&qe);
    quantize_applied_free(&applied);
    graph_free(&t.m.g);
}
END_TEST

/* Same options, same bytes: the equalized graph twice is identical. */
START_TEST(test_equalize_deterministic)
{
    struct dwsep t;
    dwsep_init(&t);
    struct graph q1, q2;
    quantize_dwsep(&t.m.g, t.x, true, &q1, NULL);
    quantize_dwsep(&t.m.g, t.x, true, &q2, NULL);
    ck_assert_int_eq(q1.n_values, q2.n_values);
    for (int v = 0; v < q1.n_values; v++) {
        const struct graph_value *a = &q1.values[v], *b = &q2.values[v];
        ck_assert_str_eq(a->name, b->name);
        if (a->kind != GRAPH_VALUE_CONST)
            continue;
        size_t bytes = (size_t)quanta_shape_numel(&a->shape) * quanta_dtype_size(a->dtype);
        ck_assert_msg(memcmp(a->data, b->data, bytes) == 0, "'%s' differs", a->name);
    }
    graph_free(&q1);
    graph_free(&q2);
    graph_free(&t.m.g);
}
END_TEST

/* relu6 on A keeps the pair out: its bound 6 would become 6 / s_i. */
START_TEST(test_equalize_skips_relu6)
{
    struct dwsep t;
    dwsep_init(&t);
    struct graph *g = &t.m.g;
    int c0 = -1;
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, "c0") == 0)
            c0 = i;
    ck_assert_int_ge(c0, 0);
    g->nodes[c0].attrs.activation = GRAPH_ACT_RELU6;
    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.equalize = true;
    struct quantize_applied applied = {0};
    opt.applied = &applied;
    struct quanta_error err = {0};
    struct graph prep;
    ck_assert_msg(quantize_prepare(g, &opt, &prep, "test", &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(applied.n_pairs, 2);
    ck_assert_str_eq(applied.pairs[0].first, "dw");
    ck_assert_str_eq(applied.pairs[1].first, "pw");
    graph_free(&prep);
    quantize_applied_free(&applied);
    graph_free(&t.m.g);
}
END_TEST

/* ---- bias correction ---- */

#define BC_JSON                                                                               \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"mlp\","                           \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,16],\"dtype\":\"F32\"}],"                     \
    "\"outputs\":[\"y\"],\"nodes\":["                                                       \
    "{\"op\":\"dense\",\"name\":\"fc1\",\"inputs\":[\"x\",\"fc1.w\",\"fc1.b\"],"             \
    " \"outputs\":[\"h\"],\"attrs\":{\"activation\":\"relu\"}},"                            \
    "{\"op\":\"dense\",\"name\":\"fc2\",\"inputs\":[\"h\",\"fc2.w\"],\"outputs\":[\"y\"]}]}"

#define BN 64

struct bc_model {
    struct tmodel m;
    float w1[16 * 16], b1[16], w2[8 * 16];
    float x[BN * 16];
};

struct bc_means {
    double x[16], h[16];
    int64_t nx, nh;
};

static void means_hook(void *ctx, const struct graph *g, int value, const float *data,
                       const struct quanta_shape *shape)
{
    struct bc_means *m = ctx;
    const char *name = g->values[value].name;
    double *sum = strcmp(name, "x") == 0 ? m->x : strcmp(name, "h") == 0 ? m->h : NULL;
    if (!sum)
        return;
    int64_t rows = quanta_shape_numel(shape) / 16;
    for (int64_t r = 0; r < rows; r++)
        for (int k = 0; k < 16; k++)
            sum[k] += data[r * 16 + k];
    *(sum == m->x ? &m->nx : &m->nh) += rows;
}

static bool means_find(void *ctx, const char *value, int64_t *n, const double **mean)
{
    struct bc_means *m = ctx;
    *n = 16;
    *mean = strcmp(value, "x") == 0 ? m->x : strcmp(value, "h") == 0 ? m->h : NULL;
    return *mean != NULL;
}

/* Mean over output channels of |mean over samples of (yq - yf)|. */
static double mean_error(const float *yf, const float *yq, int64_t rows, int cols)
{
    double total = 0.0;
    for (int o = 0; o < cols; o++) {
        double d = 0.0;
        for (int64_t r = 0; r < rows; r++)
            d += (double)yq[r * cols + o] - (double)yf[r * cols + o];
        total += fabs(d / (double)rows);
    }
    return total / cols;
}

/* Per-tensor weights with one outlier per layer: every other weight rounds
 * on a coarse grid, and positive inputs turn that rounding into an output
 * shift bias correction removes. */
START_TEST(test_bias_correction_reduces_mean_error)
{
    struct bc_model t;
    uint64_t rng = 0x853c49e6748fea9bull;
    memset(&t, 0, sizeof t);
    ts_fill(&rng, t.w1, 16 * 16, -0.3f, 0.3f);
    ts_fill(&rng, t.b1, 16, 0.0f, 0.2f);
    ts_fill(&rng, t.w2, 8 * 16, -0.3f, 0.3f);
    ts_fill(&rng, t.x, BN * 16, 0.5f, 1.5f);
    t.w1[5] = 6.0f;
    t.w2[7] = -6.0f;
    tm_tensor(&t.m, "fc1.w", QUANTA_F32, SHAPE(16, 16), t.w1);
    tm_tensor(&t.m, "fc1.b", QUANTA_F32, SHAPE(16), t.b1);
    tm_tensor(&t.m, "fc2.w", QUANTA_F32, SHAPE(8, 16), t.w2);
    tm_load(&t.m, BC_JSON);

    struct tr_ranges rg;
    tr_calibrate(&t.m.g, t.x, BN, &rg);
    struct bc_means means = {0};
    struct runner *r = tm_new_runner(&t.m.g, BN);
    runner_set_hook(r, means_hook, &means);
    tr_run(r, BN, t.x);
    runner_free(r);
    for (int k = 0; k < 16; k++) {
        means.x[k] /= (double)means.nx;
        means.h[k] /= (double)means.nh;
    }

    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.weights = QUANTIZE_PER_TENSOR;
    struct quantize_ranges qr = {tr_find, &rg};
    struct quantize_means qm = {means_find, &means};
    struct quantize_applied applied = {0};
    struct quanta_error err = {0};
    struct graph q, qc;
    ck_assert_msg(quantize_model(&t.m.g, &opt, &qr, &q, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    opt.means = &qm;
    opt.applied = &applied;
    ck_assert_msg(quantize_model(&t.m.g, &opt, &qr, &qc, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    ck_assert_int_eq(applied.n_corrected, 2);
    ck_assert_str_eq(applied.corrected[1].node, "fc2");
    /* fc2 had no bias: correction gives it one */
    int fc2 = -1;
    for (int i = 0; i < qc.n_nodes; i++)
        if (strcmp(qc.nodes[i].name, "fc2") == 0)
            fc2 = i;
    ck_assert_int_ge(fc2, 0);
    ck_assert_int_eq(qc.nodes[fc2].n_inputs, 3);
    ck_assert_int_eq(qc.values[qc.nodes[fc2].inputs[2]].dtype, QUANTA_I32);

    float yf[BN * 8], yq[BN * 8], yc[BN * 8];
    struct runner *rf = tm_new_runner(&t.m.g, BN), *rq = tm_new_runner(&q, BN),
                  *rc = tm_new_runner(&qc, BN);
    tr_run(rf, BN, t.x);
    tr_run(rq, BN, t.x);
    tr_run(rc, BN, t.x);
    struct quanta_shape s;
    memcpy(yf, runner_output(rf, 0, &s), sizeof yf);
    memcpy(yq, runner_output(rq, 0, &s), sizeof yq);
    memcpy(yc, runner_output(rc, 0, &s), sizeof yc);
    double plain = mean_error(yf, yq, BN, 8), corrected = mean_error(yf, yc, BN, 8);
    ck_assert_msg(corrected < 0.5 * plain, "mean output error %.5g corrected vs %.5g plain",
                  corrected, plain);
    runner_free(rf);
    runner_free(rq);
    runner_free(rc);
    graph_free(&q);
    graph_free(&qc);
    quantize_applied_free(&applied);
    graph_free(&t.m.g);
}
END_TEST

START_TEST(test_applied_json)
{
    struct quantize_pair pair = {(char *)"a", (char *)"b", 3, 0.5, 2.0};
    struct quantize_corrected corr = {(char *)"b", 0.25};
    struct quantize_applied a = {.passes = 4, .n_pairs = 1, .pairs = &pair, .n_corrected = 1,
                                 .corrected = &corr};
    char *json = quantize_applied_json(&a);
    ck_assert_ptr_nonnull(json);
    ck_assert_str_eq(json, "{\"equalize\":{\"passes\":4,\"pairs\":[{\"first\":\"a\",\"second\":"
                           "\"b\",\"channels\":3,\"min_scale\":0.5,\"max_scale\":2}]},"
                           "\"bias_correction\":[{\"node\":\"b\",\"max_shift\":0.25}]}");
    free(json);
}
END_TEST

Suite *suite_quantize_cle(void);
Suite *suite_quantize_cle(void)
{
    Suite *s = suite_create("quantize_cle");
    TCase *tc = tcase_create("cle");
    tcase_add_test(tc, test_equalize_keeps_float_function);
    tcase_add_test(tc, test_equalize_raises_sqnr_per_tensor);
    tcase_add_test(tc, test_equalize_deterministic);
    tcase_add_test(tc, test_equalize_skips_relu6);
    tcase_add_test(tc, test_bias_correction_reduces_mean_error);
    tcase_add_test(tc, test_applied_json);
    suite_add_tcase(s, tc);
    return s;
}

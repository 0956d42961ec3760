/* The int8 matmul of two activations through the quantizer and the runner:
 * a DLRM-style x . x^T and a matmul by a constant (quantized per tensor) are
 * quantized from recorded ranges, run int8 (I8 and U8 activations, one and
 * two threads, batch by batch) and compared bit for bit with the
 * arithmetic of quanta-format(5) "matmul" written out here (integers and
 * one exact rounding), and with the float model within the error the
 * input and output steps allow; attention scores (a matmul whose output
 * reaches a softmax) stay float unless int8_scores. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/requant.h"
#include "quanta/graph.h"
#include "quanta/quantize.h"
#include "quanta/runtime.h"
#include "support/test_model.h"
#include "support/test_ranges.h"

#define MM_JSON                                                                            \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"mm\","                         \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,16,32],\"dtype\":\"F32\"}],"               \
    "\"outputs\":[\"y\",\"z\"],\"nodes\":["                                               \
    "{\"op\":\"transpose\",\"name\":\"t\",\"inputs\":[\"x\"],\"outputs\":[\"xt\"],"        \
    " \"attrs\":{\"perm\":[0,2,1]}},"                                                     \
    "{\"op\":\"matmul\",\"name\":\"mm\",\"inputs\":[\"x\",\"xt\"],\"outputs\":[\"y\"]},"   \
    "{\"op\":\"matmul\",\"name\":\"mc\",\"inputs\":[\"x\",\"c\"],\"outputs\":[\"z\"]}]}"

#define SCORES_JSON                                                                        \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"scores\","                     \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,16,32],\"dtype\":\"F32\"}],"               \
    "\"outputs\":[\"p\"],\"nodes\":["                                                     \
    "{\"op\":\"transpose\",\"name\":\"t\",\"inputs\":[\"x\"],\"outputs\":[\"xt\"],"        \
    " \"attrs\":{\"perm\":[0,2,1]}},"                                                     \
    "{\"op\":\"matmul\",\"name\":\"mm\",\"inputs\":[\"x\",\"xt\"],\"outputs\":[\"s\"]},"   \
    "{\"op\":\"mul\",\"name\":\"scale\",\"inputs\":[\"s\",\"half\"],\"outputs\":[\"ss\"]}," \
    "{\"op\":\"softmax\",\"name\":\"sm\",\"inputs\":[\"ss\"],\"outputs\":[\"p\"]}]}"

enum { N = 20, M = 16, K = 32, XN = M * K, NC = 3 }; /* N * M * M * K: two parts on two threads */

static uint64_t rng = 0x6d6d5f7138ull;

static const struct graph_node *node_named(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0)
            return &g->nodes[i];
    ck_abort_msg("no node '%s'", name);
    return NULL;
}

struct params {
    float s;
    int32_t z, lo, hi; /* in the value's own type: [-128, 127] or [0, 255] */
};

static struct params params_of(const struct graph_value *v)
{
    ck_assert(v->quant.dtype == QUANTA_I8 || v->quant.dtype == QUANTA_U8);
    ck_assert_int_eq(v->quant.n, 1);
    bool u8 = v->quant.dtype == QUANTA_U8;
    return (struct params){v->quant.scales[0], v->quant.zero_points[0], u8 ? 0 : -128,
                           u8 ? 255 : 127};
}

/* round(x / s) + z, clamped: quantize's rule (quanta-format(5)) */
static int32_t q_of(float x, struct params p)
{
    double v = round((double)x / (double)p.s) + p.z;
    return (int32_t)(v < p.lo ? p.lo : v > p.hi ? p.hi : v);
}

/* y = clamp(zy + round(acc * M / 2^(31 + shift)), qmin, qmax), the rounding
 * half away from zero done exactly in long double (a 62-bit product). */
static int32_t requant(int64_t acc, double m, struct params y, int32_t qmin)
{
    int32_t mult, shift;
    ck_assert(q8_multiplier_from_double(m, &mult, &shift));
    long double v = ldexpl((long double)acc * mult, -(31 + shift));
    long double r = v < 0 ? -floorl(-v + 0.5L) : floorl(v + 0.5L);
    long double q = r + y.z;
    return (int32_t)(q < qmin ? qmin : q > y.hi ? y.hi : q);
}

/* One matmul node of q on float a [M, K] and b [K, n] (row-major), by
 * hand: the int8 output dequantized as the runner's float view is. */
static void by_hand(const struct graph *q, const char *name, const float *a, const float *b,
                    const int8_t *b_const, int n, bool relu, float *y)
{
    const struct graph_node *nd = node_named(q, name);
    ck_assert_int_eq(nd->op, GRAPH_OP_MATMUL);
    const struct graph_value *vb = &q->values[nd->inputs[1]];
    struct params pa = params_of(&q->values[nd->inputs[0]]), pb = params_of(vb);
    struct params py = params_of(&q->values[nd->outputs[0]]);
    double m = ((double)pa.s * (double)pb.s) / (double)py.s;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < n; j++) {
            int64_t acc = 0;
            for (int k = 0; k < K; k++) {
                int32_t qb = b_const ? (vb->quant.dtype == QUANTA_U8
                                            ? (int32_t)((const uint8_t *)b_const)[k * n + j]
                                            : (int32_t)b_const[k * n + j])
                                     : q_of(b[k * n + j], pb);
                acc += (int64_t)(q_of(a[i * K + k], pa) - pa.z) * (qb - pb.z);
            }
            int32_t r = requant(acc, m, py, relu ? py.z : py.lo);
            y[i * n + j] = py.s * (float)(r - py.z);
        }
}

START_TEST(test_matmul_int8_by_hand)
{
    struct tmodel *model = calloc(1, sizeof *model);
    struct tr_ranges *rg = malloc(sizeof *rg);
    ck_assert(model && rg);
    float c[K * NC], calib[64 * XN], x[N * XN];
    ts_fill(&rng, c, K * NC, -1.0f, 1.0f);
    ts_fill(&rng, calib, 64 * XN, -2.0f, 2.0f);
    ts_fill(&rng, x, N * XN, -2.0f, 2.0f);
    tm_tensor(model, "c", QUANTA_F32, SHAPE(K, NC), c);
    tm_load(model, MM_JSON);
    tr_calibrate(&model->g, calib, 64, rg);
    struct runner *rf = tm_new_runner(&model->g, N);
    tr_run(rf, N, x);
    struct quanta_shape shape;
    float yf[N * M * M], zf[N * M * NC], got[2][N * M * M + N * M * NC];
    memcpy(yf, runner_output(rf, 0, &shape), sizeof yf);
    memcpy(zf, runner_output(rf, 1, &shape), sizeof zf);
    for (int u8 = 0; u8 < 2; u8++) {
        struct quantize_options opt;
        quantize_options_default(&opt);
        opt.activation_type = u8 ? QUANTA_U8 : QUANTA_I8;
        struct graph q;
        struct quanta_error err = {0};
        struct quantize_ranges qr = {tr_find, rg};
        ck_assert_msg(quantize_model(&model->g, &opt, &qr, &q, "test", &err) == QUANTA_OK,
                      "%s", err.message);
        /* both matmuls int8: their outputs quantized, nothing dequantized inside */
        ck_assert_int_eq(q.values[node_named(&q, "mm")->outputs[0]].quant.dtype,
                         opt.activation_type);
        ck_assert_int_eq(q.values[node_named(&q, "mc")->outputs[0]].quant.dtype,
                         opt.activation_type);
        const int8_t *cq = q.values[node_named(&q, "mc")->inputs[1]].data;
        ck_assert_ptr_nonnull(cq);
        for (int threads = 1; threads <= 2; threads++) {
            struct runner *r = NULL;
            struct runner_options ro = {.max_batch = N, .threads = threads};
            ck_assert_msg(runner_create(&r, &q, &ro, &err) == QUANTA_OK, "%s", err.message);
            tr_run(r, N, x);
            const float *y = runner_output(r, 0, &shape);
            ck_assert_int_eq(shape.rank, 3);
            ck_assert_int_eq(shape.dims[0], N);
            const float *z = runner_output(r, 1, &shape);
            for (int b = 0; b < N; b++) {
                const float *xb = x + b * XN;
                float xt[K * M], wy[M * M], wz[M * NC];
                for (int i = 0; i < M; i++)
                    for (int k = 0; k < K; k++)
                        xt[k * M + i] = xb[i * K + k];
                by_hand(&q, "mm", xb, xt, NULL, M, false, wy);
                by_hand(&q, "mc", xb, NULL, cq, NC, false, wz);
                for (int e = 0; e < M * M; e++)
                    ck_assert_msg(y[b * M * M + e] == wy[e], "y[%d][%d] %s: %.9g, by hand %.9g",
                                  b, e, u8 ? "U8" : "I8", (double)y[b * M * M + e],
                                  (double)wy[e]);
                for (int e = 0; e < M * NC; e++)
                    ck_assert_msg(z[b * M * NC + e] == wz[e], "z[%d][%d] %s: %.9g, by hand %.9g",
                                  b, e, u8 ? "U8" : "I8", (double)z[b * M * NC + e],
                                  (double)wz[e]);
            }
            /* close to float: each term moves by at most half a step of each
             * input, the output by half its step */
            const struct graph_node *mm = node_named(&q, "mm");
            double sa = q.values[mm->inputs[0]].quant.scales[0];
            double sb = q.values[mm->inputs[1]].quant.scales[0];
            double sy = q.values[mm->outputs[0]].quant.scales[0];
            double bound = sy / 2 + K * (2.0 * sb / 2 + 2.0 * sa / 2 + sa * sb / 4) + 1e-6;
            for (int e = 0; e < N * M * M; e++)
                ck_assert_msg(fabs((double)y[e] - (double)yf[e]) <= bound,
                              "y[%d]: int8 %g float %g (bound %g)", e, (double)y[e],
                              (double)yf[e], bound);
            if (threads == 1) {
                memcpy(got[u8], y, sizeof yf);
                memcpy(got[u8] + N * M * M, z, sizeof zf);
            } else {
                ck_assert_mem_eq(got[u8], y, sizeof yf);
                ck_assert_mem_eq(got[u8] + N * M * M, z, sizeof zf);
            }
            /* batch independence */
            for (int b = 0; b < N; b += 3) {
                tr_run(r, 1, x + b * XN);
                ck_assert_mem_eq(runner_output(r, 0, &shape), got[u8] + b * M * M,
                                 M * M * sizeof(float));
            }
            runner_free(r);
        }
        graph_free(&q);
    }
    runner_free(rf);
    graph_free(&model->g);
    free(model);
    free(rg);
}
END_TEST

START_TEST(test_attention_scores_float_by_default)
{
    struct tmodel *model = calloc(1, sizeof *model);
    struct tr_ranges *rg = malloc(sizeof *rg);
    ck_assert(model && rg);
    float half = 0.5f, calib[64 * XN], x[N * XN];
    ts_fill(&rng, calib, 64 * XN, -2.0f, 2.0f);
    ts_fill(&rng, x, N * XN, -2.0f, 2.0f);
    tm_tensor(model, "half", QUANTA_F32, SHAPE(1), &half);
    tm_load(model, SCORES_JSON);
    tr_calibrate(&model->g, calib, 64, rg);
    struct runner *rf = tm_new_runner(&model->g, N);
    tr_run(rf, N, x);
    struct quanta_shape shape;
    const float *pf = runner_output(rf, 0, &shape);
    for (int scores = 0; scores < 2; scores++) {
        struct quantize_options opt;
        quantize_options_default(&opt);
        opt.int8_scores = scores;
        struct graph q;
        struct quanta_error err = {0};
        struct quantize_ranges qr = {tr_find, rg};
        ck_assert_msg(quantize_model(&model->g, &opt, &qr, &q, "test", &err) == QUANTA_OK,
                      "%s", err.message);
        const struct graph_value *s = &q.values[node_named(&q, "mm")->outputs[0]];
        if (scores)
            ck_assert_int_eq(s->quant.dtype, QUANTA_I8);
        else
            ck_assert_msg(s->quant.dtype == QUANTA_DTYPE_INVALID && s->dtype == QUANTA_F32,
                          "the scores are %s", quanta_dtype_name(s->quant.dtype));
        struct runner *r = tm_new_runner(&q, N);
        tr_run(r, N, x);
        const float *p = runner_output(r, 0, &shape);
        for (int e = 0; e < N * M * M; e++)
            ck_assert_msg(fabsf(p[e] - pf[e]) <= 0.05f, "p[%d]: %g, float %g", e, (double)p[e],
                          (double)pf[e]);
        runner_free(r);
        graph_free(&q);
    }
    runner_free(rf);
    graph_free(&model->g);
    free(model);
    free(rg);
}
END_TEST

Suite *suite_runner_q8_matmul(void); /* called by tests/main.c */
Suite *suite_runner_q8_matmul(void)
{
    Suite *s = suite_create("runner_q8_matmul");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_matmul_int8_by_hand);
    tcase_add_test(tc, test_attention_scores_float_by_default);
    suite_add_tcase(s, tc);
    return s;
}

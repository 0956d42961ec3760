/* graph_fuse_elementwise: GELU spelled out as PyTorch exports it becomes
 * one gelu node (both orders of the products), computing the same values;
 * near misses are left alone; what the fusion leaves unused is gone.
 * Attention's scale (Q K^T times a uniform constant) goes into the Q
 * dense's weight and bias (K's when Q's has an activation), unless the
 * constant varies or the weight is shared. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "quanta/runtime.h"
#include "support/test_model.h"

#define NODE2(op, name, a, b, out)                                                         \
    "{\"op\":\"" op "\",\"name\":\"" name "\",\"inputs\":[\"" a "\",\"" b "\"],"          \
    "\"outputs\":[\"" out "\"]}"
#define HEAD                                                                               \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"g\","                          \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,4],\"dtype\":\"F32\"}],"                    \
    "\"outputs\":[\"y\"],\"nodes\":["
#define ERF_TERM(k)                                                                        \
    NODE2("mul", "scale", "x", k, "d") ","                                                 \
    "{\"op\":\"erf\",\"name\":\"erf\",\"inputs\":[\"d\"],\"outputs\":[\"e\"]},"            \
    NODE2("add", "plus1", "e", "one", "a") ","

/* (x * (1 + erf(x / sqrt 2))) * 0.5 */
static const char *const gelu_outer_half =
    HEAD ERF_TERM("rsqrt2") NODE2("mul", "xa", "x", "a", "m") ","
    NODE2("mul", "half", "m", "half", "y") "]}";
/* (0.5 * x) * (1 + erf(...)) */
static const char *const gelu_inner_half =
    HEAD NODE2("mul", "h", "half", "x", "hx") "," ERF_TERM("rsqrt2")
    NODE2("mul", "y", "a", "hx", "y") "]}";
/* near misses: 0.25 instead of 0.5; erf of x/2 */
static const char *const not_gelu_quarter =
    HEAD ERF_TERM("rsqrt2") NODE2("mul", "xa", "x", "a", "m") ","
    NODE2("mul", "half", "m", "quarter", "y") "]}";
static const char *const not_gelu_scale =
    HEAD ERF_TERM("quarter") NODE2("mul", "xa", "x", "a", "m") ","
    NODE2("mul", "half", "m", "half", "y") "]}";

static const float rsqrt2[4] = {0.70710677f, 0.70710677f, 0.70710677f, 0.70710677f};
static const float one[4] = {1, 1, 1, 1}, half[1] = {0.5f}, quarter[1] = {0.25f};

static void load(struct tmodel *m, const char *json)
{
    memset(m, 0, sizeof *m);
    tm_tensor(m, "rsqrt2", QUANTA_F32, SHAPE(4), rsqrt2);
    tm_tensor(m, "one", QUANTA_F32, SHAPE(4), one);
    tm_tensor(m, "half", QUANTA_F32, SHAPE(1), half);
    tm_tensor(m, "quarter", QUANTA_F32, SHAPE(1), quarter);
    tm_load(m, json);
}

static void run(const struct graph *g, const float *x, float *y)
{
    struct runner *r = tm_new_runner(g, 3);
    struct quanta_error err = {0};
    const void *in[1] = {x};
    ck_assert_msg(runner_run(r, 3, in, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape s;
    memcpy(y, runner_output(r, 0, &s), 12 * sizeof *y);
    runner_free(r);
}

static void check_fused(const char *json)
{
    static struct tmodel plain, fused;
    load(&plain, json);
    load(&fused, json);
    ck_assert_int_eq(graph_fuse_elementwise(&fused.g), 1);
    struct quanta_error err = {0};
    ck_assert_msg(graph_validate(&fused.g, "test", &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(fused.g.n_nodes, 1);
    ck_assert_int_eq(fused.g.nodes[0].op, GRAPH_OP_GELU);
    ck_assert_str_eq(fused.g.values[fused.g.nodes[0].inputs[0]].name, "x");
    ck_assert_int_lt(graph_find_value(&fused.g, "d"), 0);
    ck_assert_int_lt(graph_find_value(&fused.g, "rsqrt2"), 0);
    float x[12], want[12], got[12];
    for (int i = 0; i < 12; i++)
        x[i] = -4.0f + 0.7f * (float)i;
    run(&plain.g, x, want);
    run(&fused.g, x, got);
    for (int i = 0; i < 12; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-6f * (1.0f + fabsf(want[i])),
                      "gelu(%g): fused %g, spelled out %g", (double)x[i], (double)got[i],
                      (double)want[i]);
    graph_free(&plain.g);
    graph_free(&fused.g);
}

START_TEST(test_fuse_gelu_outer_half)
{
    check_fused(gelu_outer_half);
}
END_TEST

START_TEST(test_fuse_gelu_inner_half)
{
    check_fused(gelu_inner_half);
}
END_TEST

START_TEST(test_fuse_leaves_near_misses)
{
    const char *const cases[] = {not_gelu_quarter, not_gelu_scale};
    for (int i = 0; i < 2; i++) {
        static struct tmodel m;
        load(&m, cases[i]);
        ck_assert_int_eq(graph_fuse_elementwise(&m.g), 0);
        ck_assert_int_eq(m.g.n_nodes, 5);
        graph_free(&m.g);
    }
}
END_TEST

/* x [N, 4] -> dense q, dense k -> reshapes [N, 4, 1] and [N, 1, 4] ->
 * matmul s [N, 4, 4] -> OP (mul or div) by constant C -> y. QW is q's weight, QACT its
 * attrs; K_W k's weight. */
#define ATTN(C, QW, QACT, K_W) ATTN_OP("mul", C, QW, QACT, K_W)
#define ATTN_OP(OP, C, QW, QACT, K_W)                                                         \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"g\","                           \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,4],\"dtype\":\"F32\"}],"                     \
    "\"outputs\":[\"y\"],\"nodes\":["                                                       \
    "{\"op\":\"dense\",\"name\":\"q\",\"inputs\":[\"x\",\"" QW "\",\"qb\"],"                \
    "\"outputs\":[\"qo\"]" QACT "},"                                                        \
    "{\"op\":\"dense\",\"name\":\"k\",\"inputs\":[\"x\",\"" K_W "\",\"kb\"],"               \
    "\"outputs\":[\"ko\"]},"                                                                \
    "{\"op\":\"reshape\",\"name\":\"qr\",\"inputs\":[\"qo\"],\"outputs\":[\"q3\"],"         \
    "\"attrs\":{\"shape\":[-1,4,1]}},"                                                      \
    "{\"op\":\"reshape\",\"name\":\"kr\",\"inputs\":[\"ko\"],\"outputs\":[\"k3\"],"         \
    "\"attrs\":{\"shape\":[-1,1,4]}},"                                                      \
    NODE2("matmul", "qk", "q3", "k3", "s") "," NODE2(OP, "scale", "s", C, "y") "]}"

static const float qw[16] = {0.5f, -1, 0.25f, 2, 1, 0.3f, -0.7f, 0.1f,
                             -0.2f, 0.8f, 1.5f, -1, 0.6f, 0.4f, -0.9f, 1.2f};
static const float kw[16] = {1, 0.2f, -0.4f, 0.7f, -1.1f, 0.5f, 0.9f, 0.3f,
                             0.25f, -0.6f, 1, 0.45f, 0.8f, -0.3f, 0.2f, -1};
static const float qb[4] = {0.1f, -0.2f, 0.3f, 0.05f}, kb[4] = {-0.1f, 0.2f, 0, 0.4f};
static const float rsqrt_d[4] = {0.17677669f, 0.17677669f, 0.17677669f, 0.17677669f};
static const float uneven[4] = {0.17677669f, 0.2f, 0.17677669f, 0.17677669f};

static void load_attn(struct tmodel *m, const char *json)
{
    memset(m, 0, sizeof *m);
    tm_tensor(m, "qw", QUANTA_F32, SHAPE(4, 4), qw);
    tm_tensor(m, "kw", QUANTA_F32, SHAPE(4, 4), kw);
    tm_tensor(m, "qb", QUANTA_F32, SHAPE(4), qb);
    tm_tensor(m, "kb", QUANTA_F32, SHAPE(4), kb);
    tm_tensor(m, "c", QUANTA_F32, SHAPE(4), rsqrt_d);
    tm_tensor(m, "uneven", QUANTA_F32, SHAPE(4), uneven);
    tm_load(m, json);
}

static void run_attn(const struct graph *g, const float *x, float *y)
{
    struct runner *r = tm_new_runner(g, 3);
    struct quanta_error err = {0};
    const void *in[1] = {x};
    ck_assert_msg(runner_run(r, 3, in, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape s;
    memcpy(y, runner_output(r, 0, &s), 48 * sizeof *y);
    runner_free(r);
}

static void check_scale_folded(const char *json, float c)
{
    static struct tmodel plain, folded;
    load_attn(&plain, json);
    load_attn(&folded, json);
    ck_assert_int_eq(graph_fuse_elementwise(&folded.g), 1);
    struct quanta_error err = {0};
    ck_assert_msg(graph_validate(&folded.g, "test", &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(folded.g.n_nodes, 5);
    for (int n = 0; n < folded.g.n_nodes; n++)
        ck_assert_int_ne(folded.g.nodes[n].op, GRAPH_OP_MUL);
    ck_assert_int_lt(graph_find_value(&folded.g, "s"), 0);
    int w = graph_find_value(&folded.g, "qw");
    ck_assert_int_ge(w, 0);
    ck_assert_float_eq(((const float *)folded.g.values[w].data)[1], -1.0f * c);
    int kv = graph_find_value(&folded.g, "kw");
    ck_assert_float_eq(((const float *)folded.g.values[kv].data)[1], kw[1]);
    float x[12], want[48], got[48];
    for (int i = 0; i < 12; i++)
        x[i] = -2.0f + 0.37f * (float)i;
    run_attn(&plain.g, x, want);
    run_attn(&folded.g, x, got);
    for (int i = 0; i < 48; i++)
        ck_assert_msg(fabsf(got[i] - want[i]) <= 1e-5f * (1.0f + fabsf(want[i])),
                      "score %d: folded %g, as written %g", i, (double)got[i], (double)want[i]);
    graph_free(&plain.g);
    graph_free(&folded.g);
}

START_TEST(test_fold_attention_scale)
{
    check_scale_folded(ATTN("c", "qw", "", "kw"), rsqrt_d[0]);
}
END_TEST

/* x / c: the weight takes 1 / c */
START_TEST(test_fold_attention_scale_div)
{
    check_scale_folded(ATTN_OP("div", "c", "qw", "", "kw"), (float)(1.0 / (double)rsqrt_d[0]));
}
END_TEST

START_TEST(test_fold_scale_leaves_near_misses)
{
    const char *const cases[] = {
        ATTN("uneven", "qw", "", "kw"), /* not one scale */
        ATTN("c", "qw", "", "qw"),      /* q and k share qw */
    };
    for (int i = 0; i < 2; i++) {
        static struct tmodel m;
        load_attn(&m, cases[i]);
        ck_assert_msg(graph_fuse_elementwise(&m.g) == 0, "case %d folded", i);
        ck_assert_int_eq(m.g.n_nodes, 6);
        int w = graph_find_value(&m.g, "qw");
        ck_assert_float_eq(((const float *)m.g.values[w].data)[1], qw[1]);
        graph_free(&m.g);
    }
}
END_TEST

/* relu(q): the scale does not go through the relu, it goes into k */
START_TEST(test_fold_scale_into_other_operand)
{
    static struct tmodel m;
    load_attn(&m, ATTN("c", "qw", ",\"attrs\":{\"activation\":\"relu\"}", "kw"));
    ck_assert_int_eq(graph_fuse_elementwise(&m.g), 1);
    int w = graph_find_value(&m.g, "qw"), kv = graph_find_value(&m.g, "kw");
    ck_assert_float_eq(((const float *)m.g.values[w].data)[1], qw[1]);
    ck_assert_float_eq(((const float *)m.g.values[kv].data)[1], kw[1] * rsqrt_d[0]);
    graph_free(&m.g);
}
END_TEST

Suite *suite_graph_passes(void);
Suite *suite_graph_passes(void)
{
    Suite *s = suite_create("graph_passes");
    TCase *tc = tcase_create("fuse");
    tcase_add_test(tc, test_fuse_gelu_outer_half);
    tcase_add_test(tc, test_fuse_gelu_inner_half);
    tcase_add_test(tc, test_fuse_leaves_near_misses);
    tcase_add_test(tc, test_fold_attention_scale);
    tcase_add_test(tc, test_fold_attention_scale_div);
    tcase_add_test(tc, test_fold_scale_leaves_near_misses);
    tcase_add_test(tc, test_fold_scale_into_other_operand);
    suite_add_tcase(s, tc);
    return s;
}

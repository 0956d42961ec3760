/* graph_fuse_elementwise: GELU spelled out as PyTorch exports it becomes
 * one gelu node (both orders of the products), computing the same values;
 * near misses are left alone; what the fusion leaves unused is gone. */
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

Suite *suite_graph_passes(void);
Suite *suite_graph_passes(void)
{
    Suite *s = suite_create("graph_passes");
    TCase *tc = tcase_create("fuse");
    tcase_add_test(tc, test_fuse_gelu_outer_half);
    tcase_add_test(tc, test_fuse_gelu_inner_half);
    tcase_add_test(tc, test_fuse_leaves_near_misses);
    suite_add_tcase(s, tc);
    return s;
}

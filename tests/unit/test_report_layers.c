/* The per-layer comparison (eval --per-layer, quanta report, the
 * quantizer's check) pairs the values the two runners compute. A float
 * runner runs an optimized copy of its graph, whose values the optimizer
 * renumbers (a fused activation drops the producer's output), so a pairing
 * made on the stored graph's indices compared unrelated tensors: an
 * efficientnet_b0 showed -20 dB for a layer that was at 33.8 dB. Here one
 * graph runs optimized against itself unoptimized: every layer both
 * compute must come out identical. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/runtime.h"
#include "report/report.h"
#include "support/test_model.h"

enum { B = 3, C = 3, O = 4 };

/* x -> dense -> relu (fused into the dense when optimized) -> sigmoid */
static const char *const dense_relu_sigmoid =
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"g\","
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,3],\"dtype\":\"F32\"}],\"outputs\":[\"y\"],"
    "\"nodes\":["
    "{\"op\":\"dense\",\"name\":\"fc\",\"inputs\":[\"x\",\"w\",\"b\"],\"outputs\":[\"d\"]},"
    "{\"op\":\"relu\",\"name\":\"act\",\"inputs\":[\"d\"],\"outputs\":[\"r\"]},"
    "{\"op\":\"sigmoid\",\"name\":\"sig\",\"inputs\":[\"r\"],\"outputs\":[\"y\"]}]}";

static struct runner *new_runner(const struct graph *g, bool optimize)
{
    struct quanta_error err = {0};
    struct runner *r = NULL;
    struct runner_options opt = {.max_batch = B, .threads = 1, .optimize = optimize};
    ck_assert_msg(runner_create(&r, g, &opt, &err) == QUANTA_OK, "%s", err.message);
    return r;
}

START_TEST(test_layers_pair_the_runners_values)
{
    static float w[O * C], b[O], x[B * C];
    for (int i = 0; i < O * C; i++)
        w[i] = (float)((i * 7) % 5 - 2) * 0.25f;
    for (int i = 0; i < O; i++)
        b[i] = (float)(i - 1) * 0.1f;
    for (int i = 0; i < B * C; i++)
        x[i] = (float)((i * 3) % 7 - 3) * 0.5f;
    struct tmodel m;
    memset(&m, 0, sizeof m);
    tm_tensor(&m, "w", QUANTA_F32, SHAPE(O, C), w);
    tm_tensor(&m, "b", QUANTA_F32, SHAPE(O), b);
    tm_load(&m, dense_relu_sigmoid);

    struct runner *r1 = new_runner(&m.g, true), *r2 = new_runner(&m.g, false);
    /* the premise: optimizing fused the relu and renumbered the values */
    const struct graph *g1 = runner_graph(r1);
    ck_assert_int_eq(g1->n_nodes, 2);
    ck_assert_int_lt(graph_find_value(g1, "d"), 0);
    ck_assert_int_ne(graph_find_value(g1, "r"), graph_find_value(&m.g, "r"));

    struct quanta_error err = {0};
    struct report_layers ls;
    ck_assert_msg(report_layers_init(&ls, r1, r2, B, &err) == QUANTA_OK, "%s", err.message);
    const void *in[1] = {x};
    ck_assert(runner_run(r1, B, in, &err) == QUANTA_OK);
    ck_assert(runner_run(r2, B, in, &err) == QUANTA_OK);

    /* r and y: what both compute (d only the unoptimized one), each the
     * same bits in both (a fused relu is the relu's own arithmetic) */
    ck_assert_int_eq(ls.n, 2);
    static const char *const names[] = {"r", "y"};
    for (int i = 0; i < ls.n; i++) {
        const struct report_layer *l = &ls.list[i];
        ck_assert_str_eq(ls.g1->values[l->value1].name, names[i]);
        ck_assert_str_eq(ls.g2->values[l->value2].name, names[i]);
        ck_assert_msg(!l->mismatch, "layer %s: mismatch", names[i]);
        ck_assert_msg(l->sqnr.signal > 0.0 && l->sqnr.noise == 0.0,
                      "layer %s: signal %g noise %g", names[i], l->sqnr.signal, l->sqnr.noise);
    }
    report_layers_free(&ls);
    runner_free(r1);
    runner_free(r2);
    graph_free(&m.g);
}
END_TEST

Suite *suite_report_layers(void);
Suite *suite_report_layers(void)
{
    Suite *s = suite_create("report_layers");
    TCase *tc = tcase_create("layers");
    tcase_add_test(tc, test_layers_pair_the_runners_values);
    suite_add_tcase(s, tc);
    return s;
}

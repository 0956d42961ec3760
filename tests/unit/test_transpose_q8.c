/* transpose in an int8 graph: after an int8 conv it runs on the int8 bytes
 * (the same parameters in and out), and the int8 model's output equals the
 * float transpose of the dequantized conv output exactly. */
#include <check.h>
#include <math.h>
#include <string.h>

#include "quanta/quantize.h"
#include "support/test_model.h"
#include "support/test_ranges.h"

#define TP_JSON                                                                           \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"tp\","                        \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,3,5,2],\"dtype\":\"F32\"}],"               \
    "\"outputs\":[\"t.out\",\"conv.out\"],\"nodes\":["                                   \
    "{\"op\":\"conv2d\",\"name\":\"conv\",\"inputs\":[\"x\",\"conv.w\",\"conv.b\"],"      \
    " \"outputs\":[\"conv.out\"],\"attrs\":{\"pads\":[1,1,1,1]}},"                       \
    "{\"op\":\"transpose\",\"name\":\"t\",\"inputs\":[\"conv.out\"],"                    \
    " \"outputs\":[\"t.out\"],\"attrs\":{\"perm\":[0,3,1,2]}}]}"

#define N 4
#define IN (3 * 5 * 2)

START_TEST(test_int8_transpose_moves_bytes)
{
    static float w[4 * 3 * 3 * 2], b[4], x[N * IN];
    uint64_t rng = 0x1234567u;
    ts_fill(&rng, w, 72, -0.5f, 0.5f);
    ts_fill(&rng, b, 4, -0.2f, 0.2f);
    ts_fill(&rng, x, N * IN, -1.0f, 1.0f);
    struct tmodel m;
    memset(&m, 0, sizeof m);
    tm_tensor(&m, "conv.w", QUANTA_F32, SHAPE(4, 3, 3, 2), w);
    tm_tensor(&m, "conv.b", QUANTA_F32, SHAPE(4), b);
    tm_load(&m, TP_JSON);
    struct tr_ranges rg;
    tr_calibrate(&m.g, x, N, &rg);
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct quantize_ranges qr = {tr_find, &rg};
    struct graph q;
    struct quanta_error err = {0};
    ck_assert_msg(quantize_model(&m.g, &opt, &qr, &q, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    /* the transpose node reads and writes int8 */
    int tn = -1;
    for (int i = 0; i < q.n_nodes; i++)
        if (q.nodes[i].op == GRAPH_OP_TRANSPOSE)
            tn = i;
    ck_assert_int_ge(tn, 0);
    ck_assert_int_eq(q.values[q.nodes[tn].outputs[0]].dtype, QUANTA_I8);
    ck_assert_int_eq(q.values[q.nodes[tn].inputs[0]].dtype, QUANTA_I8);

    struct runner *r = tm_new_runner(&q, N);
    tr_run(r, N, x);
    struct quanta_shape ts, cs;
    const float *t = runner_output(r, 0, &ts), *c = runner_output(r, 1, &cs);
    ck_assert_int_eq(ts.rank, 4);
    ck_assert_int_eq(ts.dims[1], 4);
    ck_assert_int_eq(ts.dims[2], 3);
    ck_assert_int_eq(ts.dims[3], 5);
    /* t[n, o, h, w] == conv[n, h, w, o], both dequantized with one scale */
    for (int n = 0; n < N; n++)
        for (int o = 0; o < 4; o++)
            for (int h = 0; h < 3; h++)
                for (int x0 = 0; x0 < 5; x0++)
                    ck_assert_float_eq(t[((n * 4 + o) * 3 + h) * 5 + x0],
                                       c[((n * 3 + h) * 5 + x0) * 4 + o]);
    runner_free(r);
    graph_free(&q);
    graph_free(&m.g);
}
END_TEST

Suite *suite_transpose_q8(void);
Suite *suite_transpose_q8(void)
{
    Suite *s = suite_create("transpose_q8");
    TCase *tc = tcase_create("transpose");
    tcase_add_test(tc, test_int8_transpose_moves_bytes);
    suite_add_tcase(s, tc);
    return s;
}

/* Embedding tables quantized per row (symmetric I8, one scale per row), in
 * weight-only and static mode: a table whose rows differ by four orders of
 * magnitude keeps every row to half a step of its own scale, which a
 * per-tensor scale could not (its small rows would round to zero). */
#include <check.h>
#include <math.h>
#include <string.h>

#include "quanta/quantize.h"
#include "support/test_model.h"
#include "support/test_ranges.h"

#define VOCAB 40
#define DIM 6
#define T 3
#define N 5

#define EMB_JSON                                                                          \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"emb\","                       \
    "\"inputs\":[{\"name\":\"ids\",\"shape\":[-1,3],\"dtype\":\"I64\"}],"                 \
    "\"outputs\":[\"e\"],\"nodes\":["                                                    \
    "{\"op\":\"embedding\",\"name\":\"emb\",\"inputs\":[\"ids\",\"table\"],"              \
    " \"outputs\":[\"e\"]}]}"

static float table[VOCAB * DIM];

/* Row r has magnitude 10^(r % 5 - 2): 0.01 .. 100. */
static void make_table(void)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    ts_fill(&rng, table, VOCAB * DIM, -1.0f, 1.0f);
    for (int r = 0; r < VOCAB; r++)
        for (int j = 0; j < DIM; j++)
            table[r * DIM + j] *= powf(10.0f, (float)(r % 5 - 2));
}

static float row_max(int r)
{
    float m = 0.0f;
    for (int j = 0; j < DIM; j++)
        m = fmaxf(m, fabsf(table[r * DIM + j]));
    return m;
}

/* ids of the rows with magnitude 10^(k - 2) */
static void make_ids(int64_t *ids, int k)
{
    for (int i = 0; i < N * T; i++)
        ids[i] = (int64_t)((i * 5 + k) % VOCAB);
}

static void quantize_emb(const struct graph *g, enum quantize_mode mode, struct tr_ranges *rg,
                         struct graph *q)
{
    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.mode = mode;
    struct quantize_ranges qr = {tr_find, rg};
    struct quanta_error err = {0};
    ck_assert_msg(quantize_model(g, &opt, mode == QUANTIZE_STATIC ? &qr : NULL, q, "test",
                                 &err) == QUANTA_OK,
                  "%s", err.message);
    int t = -1;
    for (int v = 0; v < q->n_values; v++)
        if (q->values[v].kind == GRAPH_VALUE_CONST && q->values[v].shape.rank == 2)
            t = v;
    ck_assert_int_ge(t, 0);
    ck_assert_int_eq(q->values[t].dtype, QUANTA_I8);
    ck_assert_int_eq(q->values[t].quant.axis, 0);
    ck_assert_int_eq(q->values[t].quant.n, VOCAB);
}

static const float *run(struct runner *r, const int64_t *ids)
{
    struct quanta_error err = {0};
    const void *in[1] = {ids};
    ck_assert_msg(runner_run(r, N, in, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape s;
    return runner_output(r, 0, &s);
}

START_TEST(test_weight_only_rows_keep_their_scale)
{
    static struct tmodel m;
    memset(&m, 0, sizeof m);
    make_table();
    tm_tensor(&m, "table", QUANTA_F32, SHAPE(VOCAB, DIM), table);
    tm_load(&m, EMB_JSON);
    struct graph q;
    quantize_emb(&m.g, QUANTIZE_WEIGHT_ONLY, NULL, &q);
    struct runner *r = tm_new_runner(&q, N);
    for (int k = 0; k < 5; k++) {
        int64_t ids[N * T];
        make_ids(ids, k);
        const float *y = run(r, ids);
        for (int i = 0; i < N * T; i++) {
            float step = row_max((int)ids[i]) / 127.0f;
            for (int j = 0; j < DIM; j++) {
                float want = table[ids[i] * DIM + j], got = y[i * DIM + j];
                ck_assert_msg(fabsf(got - want) <= 0.5001f * step,
                              "row %lld col %d: %g, want %g (step %g)", (long long)ids[i], j,
                              (double)got, (double)want, (double)step);
            }
        }
    }
    runner_free(r);
    graph_free(&q);
    graph_free(&m.g);
}
END_TEST

/* Static: the gathered rows come out in the output's calibrated range;
 * calibrated on the small rows only, they keep the small rows' resolution
 * (a per-tensor table scale of 100/127 would make them all zero). */
START_TEST(test_static_rows_requantized_to_output)
{
    static struct tmodel m;
    memset(&m, 0, sizeof m);
    make_table();
    tm_tensor(&m, "table", QUANTA_F32, SHAPE(VOCAB, DIM), table);
    tm_load(&m, EMB_JSON);
    int64_t ids[N * T];
    make_ids(ids, 0); /* magnitude 0.01 */
    struct tr_ranges rg;
    memset(&rg, 0, sizeof rg);
    struct runner *rc = tm_new_runner(&m.g, N);
    runner_set_hook(rc, tr_hook, &rg);
    run(rc, ids);
    runner_free(rc);
    struct graph q;
    quantize_emb(&m.g, QUANTIZE_STATIC, &rg, &q);
    const struct graph_quant *qe = &q.values[q.nodes[0].outputs[0]].quant;
    ck_assert_int_eq(qe->dtype, QUANTA_I8);
    ck_assert_float_le(qe->scale, 0.02f / 255.0f * 1.01f);
    struct runner *r = tm_new_runner(&q, N);
    const float *y = run(r, ids);
    for (int i = 0; i < N * T; i++) {
        float row_step = row_max((int)ids[i]) / 127.0f;
        for (int j = 0; j < DIM; j++) {
            float want = table[ids[i] * DIM + j], got = y[i * DIM + j];
            ck_assert_msg(fabsf(got - want) <= 0.5001f * row_step + 0.5001f * qe->scale,
                          "row %lld col %d: %g, want %g", (long long)ids[i], j, (double)got,
                          (double)want);
        }
    }
    runner_free(r);
    graph_free(&q);
    graph_free(&m.g);
}
END_TEST

Suite *suite_embedding_q8(void);
Suite *suite_embedding_q8(void)
{
    Suite *s = suite_create("embedding_q8");
    TCase *tc = tcase_create("rows");
    tcase_add_test(tc, test_weight_only_rows_keep_their_scale);
    tcase_add_test(tc, test_static_rows_requantized_to_output);
    suite_add_tcase(s, tc);
    return s;
}

/* The quantizer's adjustments (man quanta-quantize(1), ADJUSTMENTS): an
 * int32 bias that does not fit at s_in * s_w widens the weight scales
 * instead of clamping; a [0, 0] range, a range below the minimum scale and
 * an output range finer than its node resolves each follow a rule and
 * leave a note. Each case runs the int8 model against the float one. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/quantize.h"
#include "report/report.h"
#include "support/test_model.h"
#include "support/test_ranges.h"

/* conv (relu) -> avg pool -> flatten -> dense: googlenet's tail in small. */
#define TAIL_JSON                                                                         \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"tail\","                      \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,4,4,2],\"dtype\":\"F32\"}],"               \
    "\"outputs\":[\"logits\"],\"nodes\":["                                               \
    "{\"op\":\"conv2d\",\"name\":\"conv\",\"inputs\":[\"x\",\"conv.w\",\"conv.b\"],"      \
    " \"outputs\":[\"conv.out\"],\"attrs\":{\"pads\":[1,1,1,1],\"activation\":\"relu\"}}," \
    "{\"op\":\"avg_pool2d\",\"name\":\"pool\",\"inputs\":[\"conv.out\"],"                \
    " \"outputs\":[\"pool.out\"],\"attrs\":{\"kernel\":[2,2]}},"                         \
    "{\"op\":\"flatten\",\"name\":\"flat\",\"inputs\":[\"pool.out\"],"                   \
    " \"outputs\":[\"flat.out\"]},"                                                      \
    "{\"op\":\"dense\",\"name\":\"fc\",\"inputs\":[\"flat.out\",\"fc.w\",\"fc.b\"],"      \
    " \"outputs\":[\"logits\"]}]}"

#define N 8
#define IN (4 * 4 * 2)
#define CLASSES 5

struct tail {
    struct tmodel m;
    float convw[4 * 3 * 3 * 2], convb[4], fcw[CLASSES * 16], fcb[CLASSES];
    float x[N * IN];
};

/* act_scale sets the size of the activations (googlenet's are ~1e-11). */
static void tail_init(struct tail *t, float act_scale)
{
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    memset(t, 0, sizeof *t);
    ts_fill(&rng, t->convw, 72, -0.5f, 0.5f);
    ts_fill(&rng, t->convb, 4, 0.0f, 0.1f);
    ts_fill(&rng, t->fcw, CLASSES * 16, -0.05f, 0.05f);
    ts_fill(&rng, t->fcb, CLASSES, -0.03f, 0.03f);
    ts_fill(&rng, t->x, N * IN, -1.0f, 1.0f);
    for (int i = 0; i < 4; i++)
        t->convb[i] *= act_scale;
    for (int i = 0; i < N * IN; i++)
        t->x[i] *= act_scale;
    tm_tensor(&t->m, "conv.w", QUANTA_F32, SHAPE(4, 3, 3, 2), t->convw);
    tm_tensor(&t->m, "conv.b", QUANTA_F32, SHAPE(4), t->convb);
    tm_tensor(&t->m, "fc.w", QUANTA_F32, SHAPE(CLASSES, 16), t->fcw);
    tm_tensor(&t->m, "fc.b", QUANTA_F32, SHAPE(CLASSES), t->fcb);
    tm_load(&t->m, TAIL_JSON);
}

static void quantize_with(const struct graph *g, struct tr_ranges *rg,
                          enum quantize_granularity weights, struct graph *q,
                          struct quantize_notes *notes)
{
    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.weights = weights;
    opt.notes = notes;
    struct quantize_ranges qr = {tr_find, rg};
    struct quanta_error err = {0};
    ck_assert_msg(quantize_model(g, &opt, &qr, q, "test", &err) == QUANTA_OK, "%s", err.message);
}

/* SQNR in dB of q's output against g's on the samples x. */
static double output_sqnr(const struct graph *g, const struct graph *q, const float *x)
{
    struct runner *rf = tm_new_runner(g, N), *rq = tm_new_runner(q, N);
    tr_run(rf, N, x);
    tr_run(rq, N, x);
    struct quanta_shape sf, sq;
    const float *yf = runner_output(rf, 0, &sf), *yq = runner_output(rq, 0, &sq);
    ck_assert_int_eq(quanta_shape_numel(&sf), quanta_shape_numel(&sq));
    struct report_sqnr acc = {0};
    report_sqnr_add(&acc, yf, yq, (size_t)quanta_shape_numel(&sf));
    runner_free(rf);
    runner_free(rq);
    return report_sqnr_db(&acc);
}

static const struct quantize_note *find_note(const struct quantize_notes *ns,
                                             enum quantize_note_kind kind, const char *value)
{
    for (int i = 0; i < ns->n; i++)
        if (ns->list[i].kind == kind && strcmp(ns->list[i].value, value) == 0)
            return &ns->list[i];
    return NULL;
}

static const int32_t *bias_of(const struct graph *q, const char *name)
{
    int v = graph_find_value(q, name);
    ck_assert_int_ge(v, 0);
    ck_assert_int_eq(q->values[v].dtype, QUANTA_I32);
    return q->values[v].data;
}

/* Activations ~1e-11 make s_in * s_w ~1e-17: the biases of fc (~0.03)
 * would be ~3e15 steps. The weight scales widen, no bias saturates, and
 * the output stays as right as its neighbours'. */
static void check_tiny_activations(enum quantize_granularity weights)
{
    struct tail t;
    tail_init(&t, 1e-11f);
    struct tr_ranges rg;
    tr_calibrate(&t.m.g, t.x, N, &rg);
    struct graph q;
    struct quantize_notes notes = {0};
    quantize_with(&t.m.g, &rg, weights, &q, &notes);
    double db = output_sqnr(&t.m.g, &q, t.x);
    ck_assert_msg(db >= 25.0, "output SQNR %.2f dB", db);

    const struct quantize_note *n = find_note(&notes, QUANTIZE_NOTE_BIAS_FIT, "fc.w");
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n->node, "fc");
    ck_assert_int_eq(n->total, weights == QUANTIZE_PER_CHANNEL ? CLASSES : 1);
    ck_assert_int_ge(n->channels, 1);
    ck_assert(n->to > n->from);
    const int32_t *b = bias_of(&q, "fc.b");
    for (int o = 0; o < CLASSES; o++)
        ck_assert_msg(b[o] > -INT32_MAX && b[o] < INT32_MAX, "bias %d saturated: %d", o, b[o]);

    char line[1024];
    quantize_note_format(n, line, sizeof line);
    ck_assert_ptr_nonnull(strstr(line, "node 'fc'"));
    ck_assert_ptr_nonnull(strstr(line, "int32 bias fits"));
    quantize_notes_free(&notes);
    graph_free(&q);
    graph_free(&t.m.g);
}

START_TEST(test_bias_fit_per_channel)
{
    check_tiny_activations(QUANTIZE_PER_CHANNEL);
}
END_TEST

START_TEST(test_bias_fit_per_tensor)
{
    check_tiny_activations(QUANTIZE_PER_TENSOR);
}
END_TEST

/* Ordinary activations: nothing to adjust, no note. */
START_TEST(test_no_note_when_nothing_changes)
{
    struct tail t;
    tail_init(&t, 1.0f);
    struct tr_ranges rg;
    tr_calibrate(&t.m.g, t.x, N, &rg);
    struct graph q;
    struct quantize_notes notes = {0};
    quantize_with(&t.m.g, &rg, QUANTIZE_PER_CHANNEL, &q, &notes);
    ck_assert_int_eq(notes.n, 0);
    ck_assert(output_sqnr(&t.m.g, &q, t.x) >= 25.0);
    graph_free(&q);
    graph_free(&t.m.g);
}
END_TEST

/* A dead layer: conv outputs only zeros (relu of negative sums), so its
 * range is [0, 0]; scale 1, a note, and fc's output is its bias. */
START_TEST(test_zero_range)
{
    struct tail t;
    tail_init(&t, 1.0f);
    for (int i = 0; i < 4; i++)
        t.convb[i] = -100.0f;
    struct tr_ranges rg;
    tr_calibrate(&t.m.g, t.x, N, &rg);
    struct graph q;
    struct quantize_notes notes = {0};
    quantize_with(&t.m.g, &rg, QUANTIZE_PER_CHANNEL, &q, &notes);
    const struct quantize_note *n = find_note(&notes, QUANTIZE_NOTE_ZERO_RANGE, "conv.out");
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n->node, "conv");
    int v = graph_find_value(&q, "conv.out");
    ck_assert_float_eq(q.values[v].quant.scale, 1.0f);
    ck_assert(output_sqnr(&t.m.g, &q, t.x) >= 25.0);
    quantize_notes_free(&notes);
    graph_free(&q);
    graph_free(&t.m.g);
}
END_TEST

/* An output range far finer than one accumulator step: the requantization
 * multiplier would exceed 2^30 and the runner refuse the model; the scale
 * is widened to what the node resolves instead. */
START_TEST(test_narrow_range)
{
    struct tail t;
    tail_init(&t, 1.0f);
    struct tr_ranges rg;
    tr_calibrate(&t.m.g, t.x, N, &rg);
    tr_set(&rg, "conv.out", 0.0f, 1e-20f);
    struct graph q;
    struct quantize_notes notes = {0};
    quantize_with(&t.m.g, &rg, QUANTIZE_PER_CHANNEL, &q, &notes);
    const struct quantize_note *n = find_note(&notes, QUANTIZE_NOTE_NARROW_RANGE, "conv.out");
    ck_assert_ptr_nonnull(n);
    ck_assert(n->to > n->from);
    int v = graph_find_value(&q, "conv.out");
    ck_assert_float_eq(q.values[v].quant.scale, (float)n->to);
    struct runner *r = tm_new_runner(&q, N); /* fails the test if refused */
    tr_run(r, N, t.x);
    runner_free(r);
    quantize_notes_free(&notes);
    graph_free(&q);
    graph_free(&t.m.g);
}
END_TEST

/* A range of 1e-35 would give a scale below 2^-100: raised to it. */
START_TEST(test_min_scale)
{
    float s;
    int32_t zp;
    struct quanta_error err = {0};
    ck_assert_int_eq(quantize_choose_params(0.0f, 1e-35f, QUANTA_I8, QUANTIZE_ASYMMETRIC, &s,
                                            &zp, &err), QUANTA_OK);
    ck_assert_float_eq(s, (float)QUANTIZE_MIN_SCALE);
    ck_assert_int_eq(zp, -128);
    ck_assert_int_eq(quantize_choose_params(-1e-35f, 1e-35f, QUANTA_I8, QUANTIZE_SYMMETRIC, &s,
                                            &zp, &err), QUANTA_OK);
    ck_assert_float_eq(s, (float)QUANTIZE_MIN_SCALE);
    ck_assert_int_eq(zp, 0);

    struct tail t;
    tail_init(&t, 1.0f);
    struct tr_ranges rg;
    tr_calibrate(&t.m.g, t.x, N, &rg);
    tr_set(&rg, "x", -1e-35f, 1e-35f);
    struct graph q;
    struct quantize_notes notes = {0};
    quantize_with(&t.m.g, &rg, QUANTIZE_PER_CHANNEL, &q, &notes);
    const struct quantize_note *n = find_note(&notes, QUANTIZE_NOTE_MIN_SCALE, "x");
    ck_assert_ptr_nonnull(n);
    ck_assert_float_eq((float)n->to, (float)QUANTIZE_MIN_SCALE);
    quantize_notes_free(&notes);
    graph_free(&q);
    graph_free(&t.m.g);
}
END_TEST

/* The metadata form reads back to the same notes. */
START_TEST(test_notes_json_round_trip)
{
    struct quantize_note list[2] = {
        {QUANTIZE_NOTE_BIAS_FIT, "fc", "fc.w", 3, 10, 0.25, 8.0},
        {QUANTIZE_NOTE_ZERO_RANGE, NULL, "x", 0, 0, 0.0, 1.0},
    };
    struct quantize_notes ns = {list, 2}, back;
    char *json = quantize_notes_json(&ns);
    ck_assert_ptr_nonnull(json);
    ck_assert(quantize_notes_parse(json, &back));
    ck_assert_int_eq(back.n, 2);
    for (int i = 0; i < 2; i++) {
        char a[512], b[512];
        quantize_note_format(&list[i], a, sizeof a);
        quantize_note_format(&back.list[i], b, sizeof b);
        ck_assert_str_eq(a, b);
    }
    ck_assert_ptr_null(back.list[1].node);
    quantize_notes_free(&back);
    free(json);
    ck_assert(!quantize_notes_parse("[{\"rule\":\"clamp\",\"value\":\"x\"}]", &back));
    ck_assert(!quantize_notes_parse("{}", &back));
}
END_TEST

Suite *suite_quantize_adjust(void);
Suite *suite_quantize_adjust(void)
{
    Suite *s = suite_create("quantize_adjust");
    TCase *tc = tcase_create("adjust");
    tcase_add_test(tc, test_bias_fit_per_channel);
    tcase_add_test(tc, test_bias_fit_per_tensor);
    tcase_add_test(tc, test_no_note_when_nothing_changes);
    tcase_add_test(tc, test_zero_range);
    tcase_add_test(tc, test_narrow_range);
    tcase_add_test(tc, test_min_scale);
    tcase_add_test(tc, test_notes_json_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

/* pad and resize in an int8 graph: after an int8 conv, pad and nearest
 * resize move the int8 bytes (the same parameters in and out; the pad
 * constant quantized as by quantize, with a note when that changes it),
 * and linear resize weighs them with 11-bit integer weights, bit for bit
 * as quanta-format(5) writes the rule (recomputed here). */
#include <check.h>
#include <math.h>
#include <string.h>

#include "quanta/quantize.h"
#include "support/test_model.h"
#include "support/test_ranges.h"

#define PR_JSON                                                                           \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"pr\","                        \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,3,5,2],\"dtype\":\"F32\"}],"               \
    "\"outputs\":[\"p.out\",\"r.out\",\"l.out\",\"conv.out\"],\"nodes\":["               \
    "{\"op\":\"conv2d\",\"name\":\"conv\",\"inputs\":[\"x\",\"conv.w\",\"conv.b\"],"      \
    " \"outputs\":[\"conv.out\"],\"attrs\":{\"pads\":[1,1,1,1]}},"                       \
    "{\"op\":\"pad\",\"name\":\"p\",\"inputs\":[\"conv.out\"],\"outputs\":[\"p.out\"],"  \
    " \"attrs\":{\"pads_begin\":[0,1,2,0],\"pads_end\":[0,0,1,0],\"value\":0.3}},"       \
    "{\"op\":\"resize\",\"name\":\"r\",\"inputs\":[\"conv.out\"],\"outputs\":[\"r.out\"]," \
    " \"attrs\":{\"shape\":[-1,6,10,4],\"coord\":\"asymmetric\",\"nearest\":\"floor\"}}," \
    "{\"op\":\"resize\",\"name\":\"l\",\"inputs\":[\"conv.out\"],\"outputs\":[\"l.out\"]," \
    " \"attrs\":{\"shape\":[-1,6,10,4],\"mode\":\"linear\"}}]}"

#define N 4
#define IN (3 * 5 * 2)

static const struct graph_node *find_node(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return &g->nodes[i];
    ck_abort_msg("no node '%s'", name);
    return NULL;
}

START_TEST(test_int8_pad_and_nearest_move_bytes)
{
    static float w[4 * 3 * 3 * 2], b[4], x[N * IN];
    uint64_t rng = 0x7654321u;
    ts_fill(&rng, w, 72, -0.5f, 0.5f);
    ts_fill(&rng, b, 4, -0.2f, 0.2f);
    ts_fill(&rng, x, N * IN, -1.0f, 1.0f);
    struct tmodel m;
    memset(&m, 0, sizeof m);
    tm_tensor(&m, "conv.w", QUANTA_F32, SHAPE(4, 3, 3, 2), w);
    tm_tensor(&m, "conv.b", QUANTA_F32, SHAPE(4), b);
    tm_load(&m, PR_JSON);
    struct tr_ranges rg;
    tr_calibrate(&m.g, x, N, &rg);
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct quantize_notes notes = {0};
    opt.notes = &notes;
    struct quantize_ranges qr = {tr_find, &rg};
    struct graph q;
    struct quanta_error err = {0};
    ck_assert_msg(quantize_model(&m.g, &opt, &qr, &q, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    const struct graph_node *pn = find_node(&q, "p"), *rn = find_node(&q, "r");
    const struct graph_node *ln = find_node(&q, "l");
    ck_assert_int_eq(q.values[pn->inputs[0]].dtype, QUANTA_I8);
    ck_assert_int_eq(q.values[pn->outputs[0]].dtype, QUANTA_I8);
    ck_assert_int_eq(q.values[rn->inputs[0]].dtype, QUANTA_I8);
    ck_assert_int_eq(q.values[rn->outputs[0]].dtype, QUANTA_I8);
    ck_assert_int_eq(q.values[ln->inputs[0]].dtype, QUANTA_I8);
    ck_assert_int_eq(q.values[ln->outputs[0]].dtype, QUANTA_I8);

    /* 0.3 is no step of conv.out: one note, with the value the pad writes */
    const struct graph_quant *cq = &q.values[pn->inputs[0]].quant;
    double v = (double)cq->scale * (double)lround(0.3 / (double)cq->scale);
    ck_assert_int_eq(notes.n, 1);
    ck_assert_int_eq(notes.list[0].kind, QUANTIZE_NOTE_PAD_VALUE);
    ck_assert_str_eq(notes.list[0].node, "p");
    ck_assert_double_eq_tol(notes.list[0].from, 0.3, 1e-7);
    ck_assert_double_eq(notes.list[0].to, v);

    struct runner *r = tm_new_runner(&q, N);
    tr_run(r, N, x);
    struct quanta_shape ps, rs, cs;
    const float *p = runner_output(r, 0, &ps), *rz = runner_output(r, 1, &rs);
    const float *c = runner_output(r, 3, &cs);
    ck_assert_int_eq(ps.dims[1], 4);
    ck_assert_int_eq(ps.dims[2], 8);
    for (int n = 0; n < N; n++)
        for (int h = 0; h < 4; h++)
            for (int x0 = 0; x0 < 8; x0++)
                for (int o = 0; o < 4; o++) {
                    float got = p[((n * 4 + h) * 8 + x0) * 4 + o];
                    bool inside = h >= 1 && x0 >= 2 && x0 < 7;
                    if (inside)
                        ck_assert_float_eq(got, c[((n * 3 + h - 1) * 5 + x0 - 2) * 4 + o]);
                    else
                        ck_assert_float_eq(got, (float)v);
                }
    /* nearest, asymmetric, floor: output (h, w) reads (h / 2, w / 2) */
    for (int n = 0; n < N; n++)
        for (int h = 0; h < 6; h++)
            for (int x0 = 0; x0 < 10; x0++)
                for (int o = 0; o < 4; o++)
                    ck_assert_float_eq(rz[((n * 6 + h) * 10 + x0) * 4 + o],
                                       c[((n * 3 + h / 2) * 5 + x0 / 2) * 4 + o]);
    /* linear, half_pixel, scale 2 both ways: c = o / 2 - 0.25; taps floor(c)
     * and floor(c) + 1 clamped; w1 = round((c - floor(c)) * 2048), 0 when the
     * taps clamp to one row; y = zx + round(sum w * (x - zx) / 2^22) */
    const float *l = runner_output(r, 2, &cs);
    const float s = cq->scale;
    const int32_t z = cq->zero_point;
    int32_t t0[10], t1[10], w1[10];
    for (int o = 0; o < 10; o++) {
        double cc = o / 2.0 - 0.25, f = floor(cc);
        t0[o] = (int32_t)f;
        t1[o] = (int32_t)f + 1;
        w1[o] = (int32_t)floor((cc - f) * 2048.0 + 0.5);
    }
    for (int n = 0; n < N; n++)
        for (int h = 0; h < 6; h++)
            for (int x0 = 0; x0 < 10; x0++)
                for (int o = 0; o < 4; o++) {
                    int hs[2] = {t0[h], t1[h]}, ws[2] = {t0[x0], t1[x0]};
                    int64_t wh[2] = {2048 - w1[h], w1[h]}, ww[2] = {2048 - w1[x0], w1[x0]};
                    for (int k = 0; k < 2; k++) {
                        hs[k] = hs[k] < 0 ? 0 : hs[k] > 2 ? 2 : hs[k];
                        ws[k] = ws[k] < 0 ? 0 : ws[k] > 4 ? 4 : ws[k];
                    }
                    if (hs[0] == hs[1])
                        wh[0] = 2048, wh[1] = 0;
                    if (ws[0] == ws[1])
                        ww[0] = 2048, ww[1] = 0;
                    int64_t acc = 0;
                    for (int a = 0; a < 2; a++)
                        for (int bb = 0; bb < 2; bb++) {
                            float cv = c[((n * 3 + hs[a]) * 5 + ws[bb]) * 4 + o];
                            int64_t qv = lroundf(cv / s); /* x - zx, exact */
                            acc += wh[a] * ww[bb] * qv;
                        }
                    int64_t half = INT64_C(1) << 21;
                    int64_t d = acc >= 0 ? (acc + half) >> 22 : -((-acc + half) >> 22);
                    int64_t yq = z + d;
                    yq = yq < -128 ? -128 : yq > 127 ? 127 : yq;
                    ck_assert_float_eq(l[((n * 6 + h) * 10 + x0) * 4 + o], s * (float)(yq - z));
                }
    runner_free(r);
    quantize_notes_free(&notes);
    graph_free(&q);
    graph_free(&m.g);
}
END_TEST

Suite *suite_pad_resize_q8(void);
Suite *suite_pad_resize_q8(void)
{
    Suite *s = suite_create("pad_resize_q8");
    TCase *tc = tcase_create("pad_resize");
    tcase_add_test(tc, test_int8_pad_and_nearest_move_bytes);
    suite_add_tcase(s, tc);
    return s;
}

/* The optimizer's const pass (graph_optimize.h, graph_const.h): a chain of
 * nodes reading only constants (every op it evaluates, an F16 constant,
 * NumPy broadcasting, a relu on an add) becomes constants, with no node
 * left for it; the optimized graph gives the same bits as the graph as
 * given at every kernel level; an op it does not evaluate (exp), an
 * excluded node and a cast out of range stay; a folded graph output keeps
 * its name; and a model with such a chain quantizes to the same int8
 * model as the one whose file holds the chain's result. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_optimize.h"
#include "kernels/kernels.h"
#include "quanta/quantize.h"
#include "quanta/runtime.h"
#include "support/test_model.h"

#define HEAD(outputs)                                                                      \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"g\","                          \
    "\"inputs\":[{\"name\":\"x\",\"shape\":[-1,2,6],\"dtype\":\"F32\"}],"                  \
    "\"outputs\":[" outputs "],\"nodes\":["
#define NODE(op, name, ins, out, attrs)                                                    \
    "{\"op\":\"" op "\",\"name\":\"" name "\",\"inputs\":[" ins "],\"outputs\":[\"" out   \
    "\"]" attrs "}"

enum { BATCH = 3, N_IN = 2 * 6 };

static float a_data[6 * 2], s_data[1], c_data[2 * 6], p_data[2];
static uint16_t h_data[6];

static float frand(unsigned *s, float lo, float hi)
{
    *s = *s * 1103515245u + 12345u;
    return lo + (hi - lo) * (float)((*s >> 8) & 0xffff) / 65535.0f;
}

static void add_tensors(struct tmodel *m)
{
    unsigned s = 3;
    for (int i = 0; i < 12; i++) {
        a_data[i] = frand(&s, -2.0f, 2.0f);
        c_data[i] = frand(&s, 0.25f, 1.5f) * (i % 3 ? 1.0f : -1.0f);
    }
    for (int i = 0; i < 6; i++)
        h_data[i] = quanta_f32_to_f16(frand(&s, -0.5f, 0.5f));
    s_data[0] = 0.37f;
    p_data[0] = 0.25f;
    p_data[1] = -0.5f;
    memset(m, 0, sizeof *m);
    tm_tensor(m, "a", QUANTA_F32, SHAPE(6, 2), a_data);
    tm_tensor(m, "s", QUANTA_F32, SHAPE(1), s_data);
    tm_tensor(m, "c", QUANTA_F32, SHAPE(2, 6), c_data);
    tm_tensor(m, "h", QUANTA_F16, SHAPE(6), h_data);
    tm_tensor(m, "p", QUANTA_F32, SHAPE(2, 1), p_data);
}

/* The constant chain: every op the pass evaluates, ending in "k" (a graph
 * output) and "rs" (added to x); exp of a constant is left to run. */
#define CHAIN                                                                               \
    NODE("transpose", "t", "\"a\"", "t.out", ",\"attrs\":{\"perm\":[1,0]}") ","              \
    NODE("flatten", "f", "\"t.out\"", "f.out", "") ","                                      \
    NODE("mul", "m", "\"f.out\",\"s\"", "m.out", "") ","                                    \
    NODE("div", "d", "\"m.out\",\"c\"", "d.out", "") ","                                    \
    NODE("neg", "n", "\"d.out\"", "n.out", "") ","                                          \
    NODE("abs", "ab", "\"n.out\"", "ab.out", "") ","                                        \
    NODE("sqrt", "sq", "\"ab.out\"", "sq.out", "") ","                                      \
    NODE("clip", "cl", "\"sq.out\"", "cl.out", ",\"attrs\":{\"min\":0.1,\"max\":0.9}") ","   \
    NODE("add", "ad", "\"n.out\",\"h\"", "ad.out", ",\"attrs\":{\"activation\":\"relu\"}") "," \
    NODE("cast", "ca", "\"d.out\"", "ca.out", ",\"attrs\":{\"to\":\"F16\"}") ","             \
    NODE("min", "mn", "\"ca.out\",\"cl.out\"", "mn.out", "") ","                            \
    NODE("max", "mx", "\"mn.out\",\"ad.out\"", "mx.out", "") ","                            \
    NODE("prelu", "pr", "\"n.out\",\"p\"", "pr.out", "") ","                                \
    NODE("sub", "sb", "\"pr.out\",\"mx.out\"", "sb.out", "") ","                            \
    NODE("slice", "sl", "\"sb.out\"", "sl.out",                                             \
         ",\"attrs\":{\"shape\":[2,3],\"starts\":[0,1],\"steps\":[1,2]}") ","                \
    NODE("concat", "cc", "\"sl.out\",\"sl.out\"", "cc.out", ",\"attrs\":{\"axis\":-1}") "," \
    NODE("relu6", "r6", "\"d.out\"", "k", "") ","                                         \
    NODE("reshape", "rs", "\"cc.out\"", "rs.out", ",\"attrs\":{\"shape\":[2,6]}") ","        \
    NODE("exp", "ex", "\"c\"", "ex.out", "") ","                                           \
    NODE("add", "u", "\"x\",\"rs.out\"", "u.out", "") ","                                   \
    NODE("mul", "y", "\"u.out\",\"ex.out\"", "y", "")

static const char *const chain_json = HEAD("\"y\",\"k\"") CHAIN "]}";
static const char *const chain_nodes[] = {"t",  "f",  "m",  "d",  "n",  "ab", "sq", "cl", "ad",
                                          "ca", "mn", "mx", "pr", "sb", "sl", "cc", "r6", "rs"};
#define N_CHAIN ((int)(sizeof chain_nodes / sizeof *chain_nodes))

static struct graph optimized(const struct graph *g, const struct graph_optimize_options *opt,
                              struct graph_optimize_log *log)
{
    struct graph out;
    struct quanta_error err = {0};
    ck_assert_msg(graph_optimize(g, opt, &out, log, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    return out;
}

static bool has_node(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return true;
    return false;
}

/* Runs g on BATCH samples; output o's floats into y (at most cap), their count returned. */
static size_t run(const struct graph *g, bool optimize, int o, float *y, size_t cap)
{
    float x[BATCH * N_IN];
    unsigned s = 17;
    for (int i = 0; i < BATCH * N_IN; i++)
        x[i] = frand(&s, -2.0f, 2.0f);
    struct quanta_error err = {0};
    struct runner *r = NULL;
    struct runner_options ro = {.max_batch = BATCH, .threads = 1, .optimize = optimize};
    ck_assert_msg(runner_create(&r, g, &ro, &err) == QUANTA_OK, "%s", err.message);
    const void *in[1] = {x};
    ck_assert_msg(runner_run(r, BATCH, in, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape sh;
    const float *out = runner_output(r, o, &sh);
    size_t n = (size_t)quanta_shape_numel(&sh);
    ck_assert_uint_le(n, cap);
    memcpy(y, out, n * sizeof *y);
    runner_free(r);
    return n;
}

/* The chain folded: no node of it left, the log says so, exp stays. */
START_TEST(test_chain_folded)
{
    struct tmodel m;
    add_tensors(&m);
    tm_load(&m, chain_json);
    struct graph_optimize_log log;
    struct graph g = optimized(&m.g, NULL, &log);
    for (int i = 0; i < N_CHAIN; i++)
        ck_assert_msg(!has_node(&g, chain_nodes[i]), "node '%s' left", chain_nodes[i]);
    ck_assert_int_eq(g.n_nodes, 3); /* ex, u, y */
    ck_assert(has_node(&g, "ex"));
    ck_assert_int_eq(log.count[GRAPH_PASS_CONST], N_CHAIN);
    ck_assert_ptr_nonnull(strstr(log.text, "const: transpose 't' computed once: constant 't.out'\n"));
    ck_assert_ptr_nonnull(strstr(log.text, "const: exp 'ex' not folded: "));
    /* the folded graph output keeps its name, now a constant of the graph */
    ck_assert_int_eq(g.n_outputs, 2);
    const struct graph_value *k = &g.values[g.outputs[1]];
    ck_assert_str_eq(k->name, "k");
    ck_assert_int_eq(k->kind, GRAPH_VALUE_CONST);
    ck_assert_ptr_nonnull(k->owned);
    /* the add reads the folded constant under its node's output name */
    const struct graph_value *rs = &g.values[graph_find_value(&g, "rs.out")];
    ck_assert_int_eq(rs->kind, GRAPH_VALUE_CONST);
    ck_assert_int_eq(rs->shape.rank, 2);
    /* constants nothing reads any more are gone ("a" fed the transpose only) */
    ck_assert_int_lt(graph_find_value(&g, "a"), 0);
    ck_assert_int_lt(graph_find_value(&g, "t.out"), 0);
    graph_optimize_log_free(&log);
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

/* Both outputs, optimized and as given, the same bits at kernel level _i;
 * k's relu6 cuts some of its values and keeps others. */
START_TEST(test_chain_same_bits_every_level)
{
    TS_REQUIRE_LEVEL(_i, false);
    struct tmodel m;
    add_tensors(&m);
    tm_load(&m, chain_json);
    struct quanta_error err = {0};
    ck_assert_int_eq(kernels_init(&err), QUANTA_OK);
    enum kernels_level before = kernels_current_level();
    const char *name = kernels_level_name((enum kernels_level)_i);
    ck_assert_int_eq(kernels_select(name, &err), QUANTA_OK);
    float want[BATCH * N_IN], got[BATCH * N_IN], kw[N_IN], kg[N_IN];
    size_t n = run(&m.g, false, 0, want, BATCH * N_IN);
    ck_assert_uint_eq(run(&m.g, true, 0, got, BATCH * N_IN), n);
    ck_assert_uint_eq(n, BATCH * N_IN);
    ck_assert_uint_eq(run(&m.g, false, 1, kw, N_IN), N_IN);
    ck_assert_uint_eq(run(&m.g, true, 1, kg, N_IN), N_IN);
    ck_assert_int_eq(kernels_select(kernels_level_name(before), &err), QUANTA_OK);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&want[i], &got[i], sizeof *got) == 0, "%s y[%zu]: %.9g vs %.9g",
                      name, i, want[i], got[i]);
    int zero = 0;
    for (int i = 0; i < N_IN; i++) {
        ck_assert_msg(memcmp(&kw[i], &kg[i], sizeof *kg) == 0, "%s k[%d]: %.9g vs %.9g", name, i,
                      kw[i], kg[i]);
        zero += kg[i] == 0.0f;
    }
    ck_assert_int_gt(zero, 0);
    ck_assert_int_lt(zero, N_IN);
    graph_free(&m.g);
}
END_TEST

/* The evaluated values themselves, against the arithmetic of
 * quanta-format(5) written out here for a few elements. */
START_TEST(test_chain_values)
{
    struct tmodel m;
    add_tensors(&m);
    tm_load(&m, chain_json);
    struct graph g = optimized(&m.g, NULL, NULL);
    /* kept as a constant, since the add reads it */
    const float *rs = g.values[graph_find_value(&g, "rs.out")].data;
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 3; j++) {
            int col = 1 + 2 * j; /* slice starts 1, step 2 */
            int i = r * 6 + col;
            float t = a_data[col * 2 + r];            /* transpose of [6, 2] */
            float d = (float)((double)(float)((double)t * s_data[0]) / c_data[i]);
            float n = -d;
            float pr = n >= 0.0f ? n : (float)((double)n * p_data[r]);
            float sq = sqrtf(fabsf(n));
            float cl = sq < 0.1f ? 0.1f : sq > 0.9f ? 0.9f : sq;
            float ad = n + quanta_f16_to_f32(h_data[col]);
            ad = ad < 0.0f ? 0.0f : ad;
            float ca = quanta_f16_to_f32(quanta_f32_to_f16(d));
            float mn = ca < cl ? ca : cl, mx = mn > ad ? mn : ad;
            float want = pr - mx;
            ck_assert_msg(rs[r * 6 + j] == want && rs[r * 6 + 3 + j] == want,
                          "rs[%d][%d] %.9g, want %.9g", r, j, rs[r * 6 + j], want);
        }
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

/* What the pass leaves: excluded nodes (and what reads them), a cast whose
 * value lies outside its type (the run still fails, naming it). */
START_TEST(test_left_in_place)
{
    struct tmodel m;
    add_tensors(&m);
    tm_load(&m, chain_json);
    const char *ex[] = {"sb"};
    struct graph_optimize_options opt = {.exclude = ex, .n_exclude = 1};
    struct graph g = optimized(&m.g, &opt, NULL);
    ck_assert(has_node(&g, "sb"));
    ck_assert(has_node(&g, "sl") && has_node(&g, "cc") && has_node(&g, "rs"));
    ck_assert(!has_node(&g, "pr") && !has_node(&g, "mx") && !has_node(&g, "r6"));
    graph_free(&g);
    graph_free(&m.g);

    static const char *const cast_json =
        HEAD("\"y\"")
        NODE("mul", "big", "\"c\",\"s\"", "b.out", "") ","
        NODE("cast", "ca", "\"b.out\"", "ca.out", ",\"attrs\":{\"to\":\"I8\"}") ","
        NODE("add", "y", "\"x\",\"ca.out\"", "y", "") "]}";
    add_tensors(&m);
    s_data[0] = 1000.0f;
    tm_load(&m, cast_json);
    struct graph_optimize_log log;
    g = optimized(&m.g, NULL, &log);
    ck_assert(!has_node(&g, "big") && has_node(&g, "ca"));
    ck_assert_int_eq(log.count[GRAPH_PASS_CONST], 1);
    ck_assert_ptr_nonnull(strstr(log.text, "const: cast 'ca' not folded: "));
    float x[N_IN] = {0};
    const void *in[1] = {x};
    struct quanta_error err = {0};
    struct runner *r = tm_new_runner(&g, 1);
    ck_assert_int_eq(runner_run(r, 1, in, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "node 'ca' (cast)"));
    runner_free(r);
    graph_optimize_log_free(&log);
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

/* ---- quantized ---- */

/* The chain's use, quantizable: u = x + rs ([6] along x's last axis, as
 * the int8 add takes it), then a dense. The hand-folded
 * model holds rs.out as a tensor of the file. */
static float fc_w[4 * 6], fc_b[4], rs_data[6];
#define QTAIL                                                                               \
    NODE("add", "u", "\"x\",\"rs.out\"", "u.out", "") ","                                   \
    NODE("dense", "fc", "\"u.out\",\"fw\",\"fb\"", "y", "") "]}"
#define QCHAIN                                                                              \
    NODE("transpose", "t", "\"a\"", "t.out", ",\"attrs\":{\"perm\":[1,0]}") ","              \
    NODE("mul", "m", "\"t.out\",\"s\"", "m.out", "") ","                                    \
    NODE("neg", "n", "\"m.out\"", "n.out", "") ","                                          \
    NODE("slice", "sl", "\"n.out\"", "sl.out", ",\"attrs\":{\"shape\":[1,6],\"starts\":[1,0]}") "," \
    NODE("reshape", "rs", "\"sl.out\"", "rs.out", ",\"attrs\":{\"shape\":[6]}") ","

static bool q_find(void *ctx, const char *value, float *lo, float *hi)
{
    (void)ctx;
    static const struct { const char *name; float lo, hi; } ranges[] = {
        {"x", -2.0f, 2.0f}, {"u.out", -3.0f, 3.0f}, {"y", -4.0f, 4.0f},
        {"rs.out", -1.0f, 1.0f}}; /* only when the chain is excluded */
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++)
        if (strcmp(ranges[i].name, value) == 0) {
            *lo = ranges[i].lo;
            *hi = ranges[i].hi;
            return true;
        }
    return false;
}

static void quantize(const struct graph *src, struct graph *out)
{
    struct quantize_options opt;
    quantize_options_default(&opt);
    struct quantize_ranges ranges = {q_find, NULL};
    struct quanta_error err = {0};
    ck_assert_msg(quantize_model(src, &opt, &ranges, out, "test", &err) == QUANTA_OK, "%s",
                  err.message);
}

START_TEST(test_quantized_chain_every_level)
{
    TS_REQUIRE_LEVEL(_i, true);
    unsigned seed = 23;
    for (int i = 0; i < 4 * 6; i++)
        fc_w[i] = frand(&seed, -1.0f, 1.0f);
    for (int i = 0; i < 4; i++)
        fc_b[i] = frand(&seed, -0.2f, 0.2f);
    struct tmodel chain, folded;
    add_tensors(&chain);
    tm_tensor(&chain, "fw", QUANTA_F32, SHAPE(4, 6), fc_w);
    tm_tensor(&chain, "fb", QUANTA_F32, SHAPE(4), fc_b);
    tm_load(&chain, HEAD("\"y\"") QCHAIN QTAIL);
    /* rs.out by hand: row 1 of -(a^T * s), the products rounded once to float */
    for (int j = 0; j < 6; j++)
        rs_data[j] = -(a_data[j * 2 + 1] * s_data[0]);
    memset(&folded, 0, sizeof folded);
    tm_tensor(&folded, "rs.out", QUANTA_F32, SHAPE(6), rs_data);
    tm_tensor(&folded, "fw", QUANTA_F32, SHAPE(4, 6), fc_w);
    tm_tensor(&folded, "fb", QUANTA_F32, SHAPE(4), fc_b);
    tm_load(&folded, HEAD("\"y\"") QTAIL);

    struct graph qc, qf;
    quantize(&chain.g, &qc);
    quantize(&folded.g, &qf);
    ck_assert_int_eq(qc.n_nodes, qf.n_nodes);
    ck_assert(!has_node(&qc, "t") && !has_node(&qc, "sl") && !has_node(&qc, "rs"));
    ck_assert(has_node(&qc, "u"));
    int u = graph_find_value(&qc, "u.out");
    ck_assert_int_ge(u, 0);
    ck_assert_int_eq(qc.values[u].quant.dtype, QUANTA_I8); /* the add runs in int8 */

    /* the chain excluded: it stays float in the int8 model, and the
     * optimizer leaves a quantized graph's nodes as they are */
    static const char *const chain_names[] = {"t", "m", "n", "sl", "rs"};
    struct quantize_options opt;
    quantize_options_default(&opt);
    opt.exclude = chain_names;
    opt.n_exclude = 5;
    struct quantize_ranges ranges = {q_find, NULL};
    struct graph qe, qeo;
    struct quanta_error err = {0};
    ck_assert_msg(quantize_model(&chain.g, &opt, &ranges, &qe, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    ck_assert(has_node(&qe, "t") && has_node(&qe, "rs"));
    struct graph_optimize_log log;
    qeo = optimized(&qe, NULL, &log);
    ck_assert_int_eq(qeo.n_nodes, qe.n_nodes);
    ck_assert_int_eq(log.count[GRAPH_PASS_CONST], 0);
    graph_optimize_log_free(&log);
    graph_free(&qeo);

    ck_assert_int_eq(kernels_init(&err), QUANTA_OK);
    enum kernels_level before = kernels_current_level();
    const char *name = kernels_level_name((enum kernels_level)_i);
    ck_assert_int_eq(kernels_select(name, &err), QUANTA_OK);
    float want[BATCH * 2 * 4], got[BATCH * 2 * 4], flt[BATCH * 2 * 4];
    size_t n = run(&qf, false, 0, want, BATCH * 8);
    ck_assert_uint_eq(run(&qc, false, 0, got, BATCH * 8), n);
    ck_assert_uint_eq(run(&chain.g, false, 0, flt, BATCH * 8), n);
    float excl[BATCH * 2 * 4]; /* the chain run as float nodes before the int8 add */
    ck_assert_uint_eq(run(&qe, false, 0, excl, BATCH * 8), n);
    ck_assert_int_eq(kernels_select(kernels_level_name(before), &err), QUANTA_OK);
    ck_assert_mem_eq(want, got, n * sizeof *got);
    for (size_t i = 0; i < n; i++) /* and near the float model: a quarter of y's range */
        ck_assert_msg(fabsf(got[i] - flt[i]) < 0.25f && fabsf(excl[i] - flt[i]) < 0.25f,
                      "%s y[%zu] %g (excluded: %g), float %g", name, i, got[i], excl[i], flt[i]);
    graph_free(&qc);
    graph_free(&qf);
    graph_free(&qe);
    graph_free(&chain.g);
    graph_free(&folded.g);
}
END_TEST

Suite *suite_graph_const(void);
Suite *suite_graph_const(void)
{
    Suite *s = suite_create("graph_const");
    TCase *tc = tcase_create("const");
    tcase_add_test(tc, test_chain_folded);
    tcase_add_test(tc, test_chain_values);
    tcase_add_test(tc, test_left_in_place);
    suite_add_tcase(s, tc);
    TCase *lv = tcase_create("levels");
    tcase_add_loop_test(lv, test_chain_same_bits_every_level, KERNELS_LEVEL_REF,
                        KERNELS_LEVEL_COUNT);
    tcase_add_loop_test(lv, test_quantized_chain_every_level, KERNELS_LEVEL_REF,
                        KERNELS_LEVEL_COUNT);
    suite_add_tcase(s, lv);
    return s;
}

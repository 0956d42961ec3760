/* graph_optimize: each pass on a small graph (what it rewrites, what it
 * leaves alone, the names it keeps) and the outputs of the optimized graph
 * against the graph as given: within rounding where batch_norm is folded,
 * the same bits where an activation is only fused (the fused epilogue is
 * the activation's own kernel); runner_options.optimize runs the same. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/graph_optimize.h"
#include "kernels/kernels.h"
#include "quanta/runtime.h"
#include "support/test_model.h"

#define HEAD(shape)                                                                        \
    "{\"format\":\"quanta.graph\",\"version\":1,\"name\":\"g\","                          \
    "\"inputs\":[{\"name\":\"x\",\"shape\":" shape ",\"dtype\":\"F32\"}],"                 \
    "\"outputs\":[\"y\"],\"nodes\":["
#define NODE(op, name, ins, out, attrs)                                                    \
    "{\"op\":\"" op "\",\"name\":\"" name "\",\"inputs\":[" ins "],\"outputs\":[\"" out   \
    "\"]" attrs "}"

enum { B = 2, H = 4, W = 4, C = 3, O = 4 };

static float conv_w[O * 3 * 3 * C], conv_b[O], dense_w[O * C], dense_b[O];
static float bn_g[O], bn_b[O], bn_m[O], bn_v[O];

static float frand(unsigned *s, float lo, float hi)
{
    *s = *s * 1103515245u + 12345u;
    return lo + (hi - lo) * (float)((*s >> 8) & 0xffff) / 65535.0f;
}

static void fill(void)
{
    unsigned s = 7;
    for (size_t i = 0; i < sizeof conv_w / sizeof *conv_w; i++)
        conv_w[i] = frand(&s, -0.5f, 0.5f);
    for (int i = 0; i < O; i++) {
        conv_b[i] = frand(&s, -0.2f, 0.2f);
        dense_b[i] = frand(&s, -0.2f, 0.2f);
        bn_g[i] = frand(&s, 0.5f, 1.5f);
        bn_b[i] = frand(&s, -0.3f, 0.3f);
        bn_m[i] = frand(&s, -0.2f, 0.2f);
        bn_v[i] = frand(&s, 0.3f, 2.0f);
    }
    for (int i = 0; i < O * C; i++)
        dense_w[i] = frand(&s, -1.0f, 1.0f);
}

static void load(struct tmodel *m, const char *json)
{
    fill();
    memset(m, 0, sizeof *m);
    tm_tensor(m, "cw", QUANTA_F32, SHAPE(O, 3, 3, C), conv_w);
    tm_tensor(m, "cb", QUANTA_F32, SHAPE(O), conv_b);
    tm_tensor(m, "dw", QUANTA_F32, SHAPE(O, C), dense_w);
    tm_tensor(m, "db", QUANTA_F32, SHAPE(O), dense_b);
    tm_tensor(m, "g", QUANTA_F32, SHAPE(O), bn_g);
    tm_tensor(m, "b", QUANTA_F32, SHAPE(O), bn_b);
    tm_tensor(m, "m", QUANTA_F32, SHAPE(O), bn_m);
    tm_tensor(m, "v", QUANTA_F32, SHAPE(O), bn_v);
    tm_load(m, json);
}

static struct graph optimized(const struct graph *g, enum graph_fuse_level level,
                              struct graph_optimize_log *log)
{
    struct graph out;
    struct quanta_error err = {0};
    struct graph_optimize_options opt = {.fuse = level};
    ck_assert_msg(graph_optimize(g, &opt, &out, log, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    return out;
}

/* Runs g on B samples of n_in inputs each; returns the number of outputs
 * (at most cap) in y. */
static size_t run_batch(const struct graph *g, bool optimize, int batch, int threads,
                        size_t n_in, float *y, size_t cap)
{
    float *x = malloc((size_t)batch * n_in * sizeof *x);
    ck_assert_ptr_nonnull(x);
    unsigned s = 99;
    for (size_t i = 0; i < (size_t)batch * n_in; i++)
        x[i] = frand(&s, -2.0f, 2.0f);
    struct quanta_error err = {0};
    struct runner *r = NULL;
    struct runner_options ro = {.max_batch = batch, .threads = threads, .optimize = optimize};
    ck_assert_msg(runner_create(&r, g, &ro, &err) == QUANTA_OK, "%s", err.message);
    const void *in[1] = {x};
    ck_assert_msg(runner_run(r, batch, in, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape sh;
    const float *out = runner_output(r, 0, &sh);
    size_t n = (size_t)quanta_shape_numel(&sh);
    ck_assert_uint_le(n, cap);
    memcpy(y, out, n * sizeof *y);
    runner_free(r);
    free(x);
    return n;
}

static size_t run(const struct graph *g, bool optimize, size_t n_in, float *y, size_t cap)
{
    return run_batch(g, optimize, B, 1, n_in, y, cap);
}

static int count_op(const struct graph *g, enum graph_op op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += g->nodes[i].op == op;
    return n;
}

static const struct graph_node *node(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return &g->nodes[i];
    ck_abort_msg("no node '%s'", name);
    return NULL;
}

/* conv -> batch_norm -> relu */
static const char *const conv_bn_relu =
    HEAD("[-1,4,4,3]")
    NODE("conv2d", "conv", "\"x\",\"cw\",\"cb\"", "c", ",\"attrs\":{\"pads\":[1,1,1,1]}") ","
    NODE("batch_norm", "bn", "\"c\",\"g\",\"b\",\"m\",\"v\"", "n", ",\"attrs\":{\"epsilon\":0.001}") ","
    NODE("relu", "act", "\"n\"", "y", "") "]}";

START_TEST(test_fold_and_fuse)
{
    struct tmodel m;
    load(&m, conv_bn_relu);
    float before[sizeof conv_w / sizeof *conv_w];
    memcpy(before, conv_w, sizeof before);
    struct graph_optimize_log log;
    struct graph g = optimized(&m.g, GRAPH_FUSE_FLOAT, &log);
    ck_assert_int_eq(g.n_nodes, 1);
    const struct graph_node *c = node(&g, "conv");
    ck_assert_int_eq(c->attrs.activation, GRAPH_ACT_RELU);
    ck_assert_str_eq(g.values[c->outputs[0]].name, "y");
    /* the weight and bias conv alone read keep their names, now folded */
    ck_assert_str_eq(g.values[c->inputs[1]].name, "cw");
    ck_assert_str_eq(g.values[c->inputs[2]].name, "cb");
    ck_assert_ptr_ne(g.values[c->inputs[1]].data, conv_w);
    ck_assert_int_lt(graph_find_value(&g, "c"), 0);
    ck_assert_int_lt(graph_find_value(&g, "m"), 0);
    ck_assert_int_eq(log.count[GRAPH_PASS_FOLD], 1);
    ck_assert_int_eq(log.count[GRAPH_PASS_FUSE], 1);
    ck_assert_ptr_nonnull(strstr(log.text, "fold: batch_norm 'bn' into conv2d 'conv'\n"));
    /* the model's own arrays are untouched */
    ck_assert_mem_eq(before, conv_w, sizeof before);

    float want[B * H * W * O], got[B * H * W * O], opt[B * H * W * O];
    size_t n = run(&m.g, false, H * W * C, want, B * H * W * O);
    ck_assert_uint_eq(run(&g, false, H * W * C, got, B * H * W * O), n);
    ck_assert_uint_eq(run(&m.g, true, H * W * C, opt, B * H * W * O), n);
    int positive = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(fabsf(want[i] - got[i]) <= 1e-5f * (1.0f + fabsf(want[i])), "%zu: %g vs %g",
                      i, want[i], got[i]);
        ck_assert_float_eq(got[i], opt[i]); /* the runner runs the same rewrite */
        ck_assert_float_ge(got[i], 0.0f);
        positive += got[i] > 0.0f;
    }
    ck_assert_int_gt(positive, 0);
    graph_optimize_log_free(&log);
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

START_TEST(test_fold_without_bias)
{
    static const char *const json =
        HEAD("[-1,4,4,3]")
        NODE("conv2d", "conv", "\"x\",\"cw\"", "c", "") ","
        NODE("batch_norm", "bn", "\"c\",\"g\",\"b\",\"m\",\"v\"", "y", "") "]}";
    struct tmodel m;
    load(&m, json);
    struct graph g = optimized(&m.g, GRAPH_FUSE_FLOAT, NULL);
    ck_assert_int_eq(g.n_nodes, 1);
    const struct graph_node *c = node(&g, "conv");
    ck_assert_int_eq(c->n_inputs, 3);
    ck_assert_str_eq(g.values[c->inputs[2]].name, "conv.bias");
    float want[B * 2 * 2 * O], got[B * 2 * 2 * O];
    size_t n = run(&m.g, false, H * W * C, want, B * 2 * 2 * O);
    run(&g, false, H * W * C, got, B * 2 * 2 * O);
    for (size_t i = 0; i < n; i++)
        ck_assert_float_eq_tol(want[i], got[i], 1e-5f * (1.0f + fabsf(want[i])));
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

/* dense -> op: fused, the same bits as the separate node */
static void check_fused_exactly(const char *op, const char *attrs, enum graph_activation act)
{
    char json[1024];
    snprintf(json, sizeof json,
             HEAD("[-1,3]") NODE("dense", "fc", "\"x\",\"dw\",\"db\"", "d", "") ","
             "{\"op\":\"%s\",\"name\":\"act\",\"inputs\":[\"d\"],\"outputs\":[\"y\"]%s}]}",
             op, attrs);
    struct tmodel m;
    load(&m, json);
    struct graph g = optimized(&m.g, GRAPH_FUSE_FLOAT, NULL);
    ck_assert_int_eq(g.n_nodes, 1);
    ck_assert_int_eq(g.nodes[0].attrs.activation, act);
    float want[B * O], got[B * O];
    size_t n = run(&m.g, false, C, want, B * O);
    run(&g, false, C, got, B * O);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(memcmp(&want[i], &got[i], sizeof *got) == 0, "%s [%zu]: %.9g vs %.9g", op, i,
                      want[i], got[i]);
    graph_free(&g);

    /* int8 level: only relu and relu6 */
    g = optimized(&m.g, GRAPH_FUSE_INT8, NULL);
    bool clamp = act == GRAPH_ACT_RELU || act == GRAPH_ACT_RELU6;
    ck_assert_int_eq(g.n_nodes, clamp ? 1 : 2);
    graph_free(&g);
    graph_free(&m.g);
}

START_TEST(test_fuse_each_activation)
{
    check_fused_exactly("relu", "", GRAPH_ACT_RELU);
    check_fused_exactly("relu6", "", GRAPH_ACT_RELU6);
    check_fused_exactly("clip", ",\"attrs\":{\"min\":-0.25,\"max\":0.5}", GRAPH_ACT_CLIP);
    check_fused_exactly("leaky_relu", ",\"attrs\":{\"alpha\":0.125}", GRAPH_ACT_LEAKY_RELU);
    check_fused_exactly("sigmoid", "", GRAPH_ACT_SIGMOID);
    check_fused_exactly("tanh", "", GRAPH_ACT_TANH);
    check_fused_exactly("hard_swish", "", GRAPH_ACT_HARD_SWISH);
    check_fused_exactly("silu", "", GRAPH_ACT_SILU);
    check_fused_exactly("gelu", "", GRAPH_ACT_GELU);
}
END_TEST

START_TEST(test_left_alone)
{
    /* the conv output has a second reader: neither batch_norm nor relu moves */
    static const char *const shared =
        HEAD("[-1,4,4,3]")
        NODE("conv2d", "conv", "\"x\",\"cw\",\"cb\"", "c", ",\"attrs\":{\"pads\":[1,1,1,1]}") ","
        NODE("batch_norm", "bn", "\"c\",\"g\",\"b\",\"m\",\"v\"", "n", "") ","
        NODE("relu", "act", "\"c\"", "r", "") ","
        NODE("add", "sum", "\"n\",\"r\"", "y", "") "]}";
    struct tmodel m;
    load(&m, shared);
    struct graph g = optimized(&m.g, GRAPH_FUSE_FLOAT, NULL);
    ck_assert_int_eq(g.n_nodes, 4);
    graph_free(&g);
    graph_free(&m.g);

    /* excluded nodes stay as they are */
    load(&m, conv_bn_relu);
    const char *ex[] = {"bn"};
    struct graph_optimize_options opt = {.exclude = ex, .n_exclude = 1};
    struct quanta_error err = {0};
    ck_assert_int_eq(graph_optimize(&m.g, &opt, &g, NULL, "test", &err), QUANTA_OK);
    ck_assert_int_eq(count_op(&g, GRAPH_OP_BATCH_NORM), 1);
    ck_assert_int_eq(count_op(&g, GRAPH_OP_RELU), 1); /* after batch_norm: nothing to fuse into */
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

START_TEST(test_collapse_and_dead)
{
    /* reshape -> reshape -> transpose -> transpose (identity) -> relu, and
     * a dead relu beside it */
    static const char *const json =
        HEAD("[-1,4,4,3]")
        NODE("reshape", "r1", "\"x\"", "ra", ",\"attrs\":{\"shape\":[-1,16,3]}") ","
        NODE("reshape", "r2", "\"ra\"", "rb", ",\"attrs\":{\"shape\":[-1,48]}") ","
        NODE("relu", "unused", "\"ra\"", "u", "") ","
        NODE("reshape", "r3", "\"rb\"", "rc", ",\"attrs\":{\"shape\":[-1,6,8]}") ","
        NODE("transpose", "t1", "\"rc\"", "td", ",\"attrs\":{\"perm\":[0,2,1]}") ","
        NODE("transpose", "t2", "\"td\"", "te", ",\"attrs\":{\"perm\":[0,2,1]}") ","
        NODE("relu", "act", "\"te\"", "y", "") "]}";
    struct tmodel m;
    load(&m, json);
    struct graph_optimize_log log;
    struct graph g = optimized(&m.g, GRAPH_FUSE_FLOAT, &log);
    /* left: r3 reading x, relu reading r3's output */
    ck_assert_int_eq(g.n_nodes, 2);
    const struct graph_node *r3 = node(&g, "r3");
    ck_assert_str_eq(g.values[r3->inputs[0]].name, "x");
    ck_assert_str_eq(g.values[node(&g, "act")->inputs[0]].name, "rc");
    ck_assert_int_eq(log.count[GRAPH_PASS_DEAD], 4); /* unused, r1, r2, t1 */
    ck_assert_int_eq(log.count[GRAPH_PASS_COLLAPSE], 3);
    float want[B * 48], got[B * 48];
    size_t n = run(&m.g, false, 48, want, B * 48);
    ck_assert_uint_eq(run(&g, false, 48, got, B * 48), n);
    ck_assert_mem_eq(want, got, n * sizeof *got);
    graph_optimize_log_free(&log);
    graph_free(&g);
    graph_free(&m.g);

    /* a transpose pair that is no identity becomes one transpose */
    static const char *const pair =
        HEAD("[-1,2,3,4]")
        NODE("transpose", "t1", "\"x\"", "d", ",\"attrs\":{\"perm\":[0,2,3,1]}") ","
        NODE("transpose", "t2", "\"d\"", "y", ",\"attrs\":{\"perm\":[0,2,1,3]}") "]}";
    load(&m, pair);
    g = optimized(&m.g, GRAPH_FUSE_FLOAT, NULL);
    ck_assert_int_eq(g.n_nodes, 1);
    float w2[B * 24], g2[B * 24];
    n = run(&m.g, false, 24, w2, B * 24);
    ck_assert_uint_eq(run(&g, false, 24, g2, B * 24), n);
    ck_assert_mem_eq(w2, g2, n * sizeof *g2);
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

/* conv -> silu -> flatten -> dense -> tanh at each kernel level: fused and
 * separate give the same bits at that level (packed GEMM, then the same
 * activation kernel), and stay within 1e-5 of the ref level. */
static const char *const conv_silu_dense_tanh =
    HEAD("[-1,4,4,3]")
    NODE("conv2d", "conv", "\"x\",\"cw\",\"cb\"", "c", ",\"attrs\":{\"pads\":[1,1,1,1]}") ","
    NODE("silu", "s", "\"c\"", "sc", "") ","
    NODE("flatten", "f", "\"sc\"", "fl", "") ","
    NODE("dense", "fc", "\"fl\",\"fw\"", "d", "") ","
    NODE("tanh", "t", "\"d\"", "y", "") "]}";

static float fc_w[5 * H * W * O];

START_TEST(test_fused_every_level)
{
    TS_REQUIRE_LEVEL(_i, false);
    unsigned seed = 5;
    for (size_t i = 0; i < sizeof fc_w / sizeof *fc_w; i++)
        fc_w[i] = frand(&seed, -0.3f, 0.3f);
    struct tmodel m;
    fill();
    memset(&m, 0, sizeof m);
    tm_tensor(&m, "cw", QUANTA_F32, SHAPE(O, 3, 3, C), conv_w);
    tm_tensor(&m, "cb", QUANTA_F32, SHAPE(O), conv_b);
    tm_tensor(&m, "fw", QUANTA_F32, SHAPE(5, H * W * O), fc_w);
    tm_load(&m, conv_silu_dense_tanh);
    struct graph g = optimized(&m.g, GRAPH_FUSE_FLOAT, NULL);
    ck_assert_int_eq(g.n_nodes, 3);
    ck_assert_int_eq(node(&g, "conv")->attrs.activation, GRAPH_ACT_SILU);
    ck_assert_int_eq(node(&g, "fc")->attrs.activation, GRAPH_ACT_TANH);

    struct quanta_error err = {0};
    ck_assert_int_eq(kernels_init(&err), QUANTA_OK);
    enum kernels_level before = kernels_current_level();
    float ref[B * 5], want[B * 5], got[B * 5];
    ck_assert_int_eq(kernels_select("ref", &err), QUANTA_OK);
    size_t n = run(&m.g, false, H * W * C, ref, B * 5);
    const char *name = kernels_level_name((enum kernels_level)_i);
    ck_assert_int_eq(kernels_select(name, &err), QUANTA_OK);
    run(&m.g, false, H * W * C, want, B * 5);
    run(&g, false, H * W * C, got, B * 5);
    ck_assert_int_eq(kernels_select(kernels_level_name(before), &err), QUANTA_OK);
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(memcmp(&want[i], &got[i], sizeof *got) == 0, "%s [%zu]: %.9g vs %.9g",
                      name, i, want[i], got[i]);
        ck_assert_msg(fabsf(got[i] - ref[i]) <= 1e-5f, "%s [%zu]: %.9g, ref %.9g", name, i,
                      got[i], ref[i]);
    }
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

/* Residual adds into the conv2d/dense writing one of their inputs: a
 * conv whose add reads an earlier conv (relu after the add fused too), a
 * depthwise conv, and a dense whose other input is written before it; at
 * each level within 1e-5 of the graph as given at the ref level, for
 * batches that reach the GEMM's full, tail and lone-row tiles, and the
 * same bits on two threads as on one. */
static const char *const residuals =
    HEAD("[-1,4,4,3]")
    NODE("conv2d", "c1", "\"x\",\"cw\",\"cb\"", "a", ",\"attrs\":{\"pads\":[1,1,1,1]}") ","
    NODE("conv2d", "c2", "\"x\",\"cw\"", "b", ",\"attrs\":{\"pads\":[1,1,1,1],\"strides\":[1,1]}") ","
    NODE("add", "s1", "\"b\",\"a\"", "s", "") ","
    NODE("relu", "r1", "\"s\"", "t", "") ","
    NODE("conv2d", "dw", "\"t\",\"ww\",\"cb\"", "u", ",\"attrs\":{\"pads\":[1,1,1,1],\"groups\":4}") ","
    NODE("add", "s2", "\"t\",\"u\"", "v", "") ","
    NODE("flatten", "f", "\"v\"", "fl", "") ","
    NODE("dense", "d1", "\"fl\",\"fw\"", "p", "") ","
    NODE("dense", "d2", "\"fl\",\"fw2\"", "q", "") ","
    NODE("add", "s3", "\"p\",\"q\"", "y", "") "]}";

static float dw_w[O * 3 * 3], fc_w2[5 * H * W * O];

START_TEST(test_residual_every_level)
{
    TS_REQUIRE_LEVEL(_i, false);
    unsigned seed = 11;
    for (size_t i = 0; i < sizeof fc_w / sizeof *fc_w; i++) {
        fc_w[i] = frand(&seed, -0.3f, 0.3f);
        fc_w2[i] = frand(&seed, -0.3f, 0.3f);
    }
    for (size_t i = 0; i < sizeof dw_w / sizeof *dw_w; i++)
        dw_w[i] = frand(&seed, -0.5f, 0.5f);
    struct tmodel m;
    fill();
    memset(&m, 0, sizeof m);
    tm_tensor(&m, "cw", QUANTA_F32, SHAPE(O, 3, 3, C), conv_w);
    tm_tensor(&m, "cb", QUANTA_F32, SHAPE(O), conv_b);
    tm_tensor(&m, "ww", QUANTA_F32, SHAPE(O, 3, 3, 1), dw_w);
    tm_tensor(&m, "fw", QUANTA_F32, SHAPE(5, H * W * O), fc_w);
    tm_tensor(&m, "fw2", QUANTA_F32, SHAPE(5, H * W * O), fc_w2);
    tm_load(&m, residuals);
    struct graph_optimize_log log;
    struct graph g = optimized(&m.g, GRAPH_FUSE_FLOAT, &log);
    ck_assert_int_eq(log.count[GRAPH_PASS_RESIDUAL], 3);
    ck_assert_int_eq(count_op(&g, GRAPH_OP_ADD), 0);
    /* c2 reads c1's output as its residual; s1's relu followed it */
    const struct graph_node *c2 = node(&g, "c2");
    ck_assert_int_eq(c2->n_inputs, 4);
    ck_assert_int_eq(c2->inputs[2], -1);
    ck_assert_str_eq(g.values[c2->inputs[3]].name, "a");
    ck_assert_int_eq(c2->attrs.activation, GRAPH_ACT_RELU);
    ck_assert_str_eq(g.values[c2->outputs[0]].name, "t");
    ck_assert_str_eq(g.values[node(&g, "dw")->inputs[3]].name, "t");
    /* s3 reads p then q: d2, written after d1, takes the add */
    ck_assert_str_eq(g.values[node(&g, "d2")->inputs[3]].name, "p");
    ck_assert_str_eq(g.values[node(&g, "d2")->outputs[0]].name, "y");
    graph_optimize_log_free(&log);

    struct quanta_error err = {0};
    ck_assert_int_eq(kernels_init(&err), QUANTA_OK);
    enum kernels_level before = kernels_current_level();
    const char *name = kernels_level_name((enum kernels_level)_i);
    static const int batches[] = {1, 2, 7, 13};
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
        const int nb = batches[b];
        float ref[13 * 5], got[13 * 5], two[13 * 5];
        ck_assert_int_eq(kernels_select("ref", &err), QUANTA_OK);
        size_t n = run_batch(&m.g, false, nb, 1, H * W * C, ref, 13 * 5);
        ck_assert_int_eq(kernels_select(name, &err), QUANTA_OK);
        ck_assert_uint_eq(run_batch(&g, false, nb, 1, H * W * C, got, 13 * 5), n);
        run_batch(&g, false, nb, 2, H * W * C, two, 13 * 5);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(fabsf(got[i] - ref[i]) <= 1e-5f * (1.0f + fabsf(ref[i])),
                          "%s batch %d [%zu]: %.9g, ref %.9g", name, nb, i, got[i], ref[i]);
            ck_assert_msg(memcmp(&got[i], &two[i], sizeof *got) == 0,
                          "%s batch %d [%zu]: %.9g on 2 threads, %.9g on 1", name, nb, i, two[i],
                          got[i]);
        }
    }
    ck_assert_int_eq(kernels_select(kernels_level_name(before), &err), QUANTA_OK);
    graph_free(&g);

    /* int8 keeps the adds: its kernels take no residual */
    g = optimized(&m.g, GRAPH_FUSE_INT8, NULL);
    ck_assert_int_eq(count_op(&g, GRAPH_OP_ADD), 3);
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

/* Not fused: an add that broadcasts, and a conv output read twice */
START_TEST(test_residual_left_alone)
{
    static const char *const json =
        HEAD("[-1,4,4,3]")
        NODE("conv2d", "c1", "\"x\",\"cw\",\"cb\"", "a", ",\"attrs\":{\"pads\":[1,1,1,1]}") ","
        NODE("add", "bias", "\"a\",\"cb\"", "s", "") ","
        NODE("conv2d", "c2", "\"x\",\"cw\"", "c", ",\"attrs\":{\"pads\":[1,1,1,1]}") ","
        NODE("add", "twice", "\"c\",\"s\"", "t", "") ","
        NODE("add", "y", "\"t\",\"c\"", "y", "") "]}";
    struct tmodel m;
    load(&m, json);
    struct graph_optimize_log log;
    struct graph g = optimized(&m.g, GRAPH_FUSE_FLOAT, &log);
    ck_assert_int_eq(log.count[GRAPH_PASS_RESIDUAL], 0);
    ck_assert_int_eq(count_op(&g, GRAPH_OP_ADD), 3);
    graph_optimize_log_free(&log);
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

/* batch_norm with nothing to fold into (it reads the graph input), then
 * relu: for int8 it becomes a 1x1 depthwise conv with the relu fused,
 * computing the same within rounding; the float rewrite keeps it */
START_TEST(test_batch_norm_as_conv)
{
    static const char *const json =
        HEAD("[-1,4,4,4]")
        NODE("batch_norm", "bn", "\"x\",\"g\",\"b\",\"m\",\"v\"", "n", ",\"attrs\":{\"epsilon\":0.01}") ","
        NODE("relu", "act", "\"n\"", "y", "") "]}";
    struct tmodel m;
    load(&m, json);
    struct graph g = optimized(&m.g, GRAPH_FUSE_FLOAT, NULL);
    ck_assert_int_eq(count_op(&g, GRAPH_OP_BATCH_NORM), 1);
    graph_free(&g);

    struct graph_optimize_log log;
    struct graph_optimize_options opt = {.fuse = GRAPH_FUSE_INT8, .batch_norm_as_conv = true};
    struct quanta_error err = {0};
    ck_assert_msg(graph_optimize(&m.g, &opt, &g, &log, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    ck_assert_int_eq(g.n_nodes, 1);
    const struct graph_node *c = node(&g, "bn");
    ck_assert_int_eq(c->op, GRAPH_OP_CONV2D);
    ck_assert_int_eq(c->attrs.groups, O);
    ck_assert_int_eq(c->attrs.activation, GRAPH_ACT_RELU);
    ck_assert_str_eq(g.values[c->inputs[1]].name, "bn.scale");
    ck_assert_str_eq(g.values[c->inputs[2]].name, "bn.shift");
    ck_assert_str_eq(g.values[c->outputs[0]].name, "y");
    ck_assert_int_eq(log.count[GRAPH_PASS_SCALE], 1);
    ck_assert_int_eq(log.count[GRAPH_PASS_FUSE], 1);
    float want[B * H * W * O], got[B * H * W * O];
    size_t n = run(&m.g, false, H * W * O, want, B * H * W * O);
    ck_assert_uint_eq(run(&g, false, H * W * O, got, B * H * W * O), n);
    int positive = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(fabsf(want[i] - got[i]) <= 1e-5f * (1.0f + fabsf(want[i])), "%zu: %g vs %g",
                      i, want[i], got[i]);
        positive += got[i] > 0.0f;
    }
    ck_assert_int_gt(positive, 0);
    ck_assert_int_lt(positive, (int)n);
    graph_optimize_log_free(&log);
    graph_free(&g);
    graph_free(&m.g);
}
END_TEST

Suite *suite_graph_optimize(void);
Suite *suite_graph_optimize(void)
{
    Suite *s = suite_create("graph_optimize");
    TCase *tc = tcase_create("passes");
    tcase_add_test(tc, test_fold_and_fuse);
    tcase_add_test(tc, test_fold_without_bias);
    tcase_add_test(tc, test_fuse_each_activation);
    tcase_add_test(tc, test_left_alone);
    tcase_add_test(tc, test_collapse_and_dead);
    tcase_add_test(tc, test_batch_norm_as_conv);
    tcase_add_test(tc, test_residual_left_alone);
    suite_add_tcase(s, tc);
    TCase *lv = tcase_create("levels");
    tcase_add_loop_test(lv, test_fused_every_level, KERNELS_LEVEL_REF, KERNELS_LEVEL_COUNT);
    tcase_add_loop_test(lv, test_residual_every_level, KERNELS_LEVEL_REF, KERNELS_LEVEL_COUNT);
    suite_add_tcase(s, lv);
    return s;
}

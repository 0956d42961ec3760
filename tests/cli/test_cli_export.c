/* quanta export: float models round-trip through quanta's own importer;
 * the QDQ structure of int8 exports (read back with the importer's ONNX
 * decoder); reproducible bytes; errors. ONNX Runtime itself is checked by
 * scripts/export_check.sh. */
#include "cli/cli_fixture.h"
#include "import/onnx_model.h"

#define MODEL_SRC "models/fmnist-cnn.safetensors"
#define CALIB_SRC "models/data/fmnist-calib-1000-images-idx3-ubyte.gz"

static char *src(const char *rel)
{
    char *p = strdup(ts_src_path(rel));
    ck_assert_ptr_nonnull(p);
    return p;
}

/* A float model of many operators, NHWC image [-1, 6, 6, 3]. */
#define OPS_GRAPH                                                                          \
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"ops\", "                   \
    "\"inputs\": [{\"name\": \"x\", \"shape\": [-1, 6, 6, 3], \"dtype\": \"F32\"}], "      \
    "\"outputs\": [\"prob\"], \"nodes\": ["                                                \
    "{\"op\": \"conv2d\", \"name\": \"c1\", \"inputs\": [\"x\", \"c1.w\", \"c1.b\"], "     \
    "\"outputs\": [\"c1.out\"], \"attrs\": {\"pads\": [1, 1, 1, 1], "                      \
    "\"activation\": \"relu6\"}}, "                                                        \
    "{\"op\": \"conv2d\", \"name\": \"dw\", \"inputs\": [\"c1.out\", \"dw.w\", \"dw.b\"], " \
    "\"outputs\": [\"dw.out\"], \"attrs\": {\"strides\": [2, 2], \"pads\": [1, 0, 1, 1], " \
    "\"groups\": 4}}, "                                                                    \
    "{\"op\": \"batch_norm\", \"name\": \"bn\", \"inputs\": [\"dw.out\", \"bn.g\", "       \
    "\"bn.b\", \"bn.m\", \"bn.v\"], \"outputs\": [\"bn.out\"]}, "                          \
    "{\"op\": \"hard_swish\", \"name\": \"hs\", \"inputs\": [\"bn.out\"], "                \
    "\"outputs\": [\"hs.out\"]}, "                                                         \
    "{\"op\": \"pad\", \"name\": \"pd\", \"inputs\": [\"hs.out\"], "                       \
    "\"outputs\": [\"pd.out\"], \"attrs\": {\"pads_begin\": [0, 1, 0, 0], "                \
    "\"pads_end\": [0, 1, 2, 0], \"value\": 0.5}}, "                                        \
    "{\"op\": \"slice\", \"name\": \"sl\", \"inputs\": [\"pd.out\"], "                      \
    "\"outputs\": [\"sl.out\"], \"attrs\": {\"shape\": [-1, 3, 3, 4], "                    \
    "\"starts\": [0, 1, 1, 0]}}, "                                                        \
    "{\"op\": \"avg_pool2d\", \"name\": \"ap\", \"inputs\": [\"sl.out\"], "                \
    "\"outputs\": [\"ap.out\"], \"attrs\": {\"kernel\": [2, 2], \"strides\": [1, 1], "     \
    "\"pads\": [1, 1, 1, 1]}}, "                                                           \
    "{\"op\": \"max_pool2d\", \"name\": \"mp\", \"inputs\": [\"ap.out\"], "                \
    "\"outputs\": [\"mp.out\"], \"attrs\": {\"kernel\": [2, 2]}}, "                        \
    "{\"op\": \"add\", \"name\": \"add\", \"inputs\": [\"mp.out\", \"add.c\"], "           \
    "\"outputs\": [\"add.out\"], \"attrs\": {\"activation\": \"relu\"}}, "                 \
    "{\"op\": \"concat\", \"name\": \"cat\", \"inputs\": [\"add.out\", \"mp.out\"], "       \
    "\"outputs\": [\"cat.out\"]}, "                                                        \
    "{\"op\": \"transpose\", \"name\": \"tr\", \"inputs\": [\"cat.out\"], "                \
    "\"outputs\": [\"tr.out\"], \"attrs\": {\"perm\": [0, 3, 1, 2]}}, "                    \
    "{\"op\": \"reshape\", \"name\": \"rs\", \"inputs\": [\"tr.out\"], "                   \
    "\"outputs\": [\"rs.out\"], \"attrs\": {\"shape\": [-1, 32]}}, "                       \
    "{\"op\": \"dense\", \"name\": \"fc\", \"inputs\": [\"rs.out\", \"fc.w\", \"fc.b\"], "  \
    "\"outputs\": [\"fc.out\"]}, "                                                         \
    "{\"op\": \"global_avg_pool\", \"name\": \"gap\", \"inputs\": [\"hs.out\"], "          \
    "\"outputs\": [\"gap.out\"]}, "                                                        \
    "{\"op\": \"dense\", \"name\": \"fc2\", \"inputs\": [\"gap.out\", \"fc2.w\"], "        \
    "\"outputs\": [\"fc2.out\"]}, "                                                        \
    "{\"op\": \"add\", \"name\": \"sum\", \"inputs\": [\"fc.out\", \"fc2.out\"], "        \
    "\"outputs\": [\"sum.out\"]}, "                                                        \
    "{\"op\": \"layer_norm\", \"name\": \"ln\", \"inputs\": [\"sum.out\", \"ln.s\", "          \
    "\"ln.b\"], \"outputs\": [\"ln.out\"]}, "                                              \
    "{\"op\": \"sigmoid\", \"name\": \"sg\", \"inputs\": [\"ln.out\"], "                   \
    "\"outputs\": [\"sg.out\"]}, "                                                         \
    "{\"op\": \"softmax\", \"name\": \"sm\", \"inputs\": [\"sg.out\"], "                   \
    "\"outputs\": [\"prob\"]}]}"

static float prand(unsigned *state)
{
    *state = *state * 1103515245u + 12345u;
    return (float)((*state >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static void write_ops_model(const char *path)
{
    static float c1w[4 * 3 * 3 * 3], c1b[4], dww[4 * 3 * 3], dwb[4], g[4], b[4], m[4], v[4],
        addc[4], lns[6], lnb[6], fcw[6 * 32], fcb[6], fc2w[6 * 4];
    unsigned s = 7;
    float *all[] = {c1w, c1b, dww, dwb, g, b, m, addc, lns, lnb, fcw, fcb, fc2w};
    size_t sizes[] = {sizeof c1w, sizeof c1b, sizeof dww, sizeof dwb, sizeof g, sizeof b,
                      sizeof m, sizeof addc, sizeof lns, sizeof lnb, sizeof fcw, sizeof fcb, sizeof fc2w};
    for (size_t t = 0; t < sizeof all / sizeof all[0]; t++)
        for (size_t i = 0; i < sizes[t] / 4; i++)
            all[t][i] = prand(&s);
    for (int i = 0; i < 4; i++) {
        v[i] = 0.5f + (float)i * 0.25f;
        g[i] += 1.0f;
    }
    for (int i = 0; i < 6; i++)
        lns[i] += 1.0f;
    struct st_tensor_desc t[] = {
        {"c1.w", QUANTA_F32, {4, {4, 3, 3, 3}}, c1w}, {"c1.b", QUANTA_F32, {1, {4}}, c1b},
        {"dw.w", QUANTA_F32, {4, {4, 3, 3, 1}}, dww}, {"dw.b", QUANTA_F32, {1, {4}}, dwb},
        {"bn.g", QUANTA_F32, {1, {4}}, g},            {"bn.b", QUANTA_F32, {1, {4}}, b},
        {"bn.m", QUANTA_F32, {1, {4}}, m},            {"bn.v", QUANTA_F32, {1, {4}}, v},
        {"add.c", QUANTA_F32, {1, {4}}, addc},        {"ln.s", QUANTA_F32, {1, {6}}, lns},
        {"ln.b", QUANTA_F32, {1, {6}}, lnb},         {"fc.w", QUANTA_F32, {2, {6, 32}}, fcw},
        {"fc.b", QUANTA_F32, {1, {6}}, fcb},          {"fc2.w", QUANTA_F32, {2, {6, 4}}, fc2w},
    };
    struct st_meta meta[] = {{"quanta.graph", OPS_GRAPH}};
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_write_file(path, t, sizeof t / sizeof t[0], meta, 1, &err) == QUANTA_OK,
                  "%s", err.message);
}

/* Samples [n, h, w, c] in [-2, 2). */
static void write_data(const char *path, int n, int h, int w, int c)
{
    float *x = malloc((size_t)(n * h * w * c) * sizeof *x);
    ck_assert_ptr_nonnull(x);
    unsigned s = 99;
    for (int i = 0; i < n * h * w * c; i++)
        x[i] = 4.0f * prand(&s);
    struct quanta_shape shape = {4, {n, h, w, c}};
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(npy_write(path, QUANTA_F32, &shape, x, &err) == QUANTA_OK, "%s", err.message);
    free(x);
}

static void run_ok(const char *args)
{
    char *errout = NULL;
    int rc = ts_run_quanta(args, NULL, &errout);
    ck_assert_msg(rc == 0, "'quanta %s' exited %d: %s", args, rc, errout ? errout : "");
    free(errout);
}

/* export, then quanta import of the ONNX file, then both run on data: the
 * outputs agree to 1e-5 of their largest magnitude. */
static void round_trip(const char *model, const char *data, const char *tag, const char *opts)
{
    char onnx[64], back[64], want[64], got[64];
    snprintf(onnx, sizeof onnx, "%s.onnx", tag);
    snprintf(back, sizeof back, "%s.back.safetensors", tag);
    snprintf(want, sizeof want, "%s.want.npy", tag);
    snprintf(got, sizeof got, "%s.got.npy", tag);
    char *po = cf_tmp(onnx), *pb = cf_tmp(back), *pw = cf_tmp(want), *pg = cf_tmp(got);
    run_ok(cf_args("export %s -o %s%s", model, po, opts));
    run_ok(cf_args("import %s -o %s", po, pb));
    run_ok(cf_args("run %s --data %s --output %s --json --threads 1", model, data, pw));
    /* the data keeps its meaning: the re-imported model takes it as the
     * exported graph's input, [N, 6, 6, 3] as it is */
    run_ok(cf_args("run %s --data %s --output %s --json --threads 1 --layout nchw", pb, data, pg));
    double rel = cf_max_rel_diff(pg, pw);
    ck_assert_msg(rel <= 1e-5, "%s: re-imported outputs differ by %g of the peak", tag, rel);
    free(po);
    free(pb);
    free(pw);
    free(pg);
}

START_TEST(test_export_help)
{
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta("export --help", &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: quanta export MODEL -o OUT.onnx"));
    ck_assert_ptr_nonnull(strstr(out, "--opset"));
    ck_assert_ptr_nonnull(strstr(out, "--uint8"));
    free(out);
    ck_assert_int_eq(ts_run_quanta("--help", &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "export"));
    free(out);
}
END_TEST

START_TEST(test_export_usage_errors)
{
    char *model = src(MODEL_SRC), *out = cf_tmp("u.onnx");
    cf_expect_usage("export", "a model file is needed");
    cf_expect_usage(cf_args("export %s", model), "-o OUT.onnx is needed");
    cf_expect_usage(cf_args("export %s -o %s --opset 12", model, out),
                    "--opset '12' is not a number from 13 to 21");
    cf_expect_usage(cf_args("export %s -o %s --opset 22", model, out),
                    "--opset '22' is not a number from 13 to 21");
    cf_expect_usage(cf_args("export %s -o %s --bogus", model, out), "unknown option '--bogus'");
    cf_expect_usage(cf_args("export %s -o %s", model, model), "refusing to overwrite input");
    ck_assert(!cf_file_exists(out));
    free(model);
    free(out);
}
END_TEST

START_TEST(test_export_float_round_trip)
{
    char *model = src(MODEL_SRC), *data = cf_tmp("images.npy");
    write_data(data, 16, 28, 28, 1);
    round_trip(model, data, "fmnist", "");
    round_trip(model, data, "fmnist13", " --opset 13");
    char *ops = cf_tmp("ops.safetensors"), *x = cf_tmp("x.npy");
    write_ops_model(ops);
    write_data(x, 16, 6, 6, 3);
    round_trip(ops, x, "ops", "");
    free(model);
    free(data);
    free(ops);
    free(x);
}
END_TEST

/* A model made by quanta import takes NCHW data: its export takes the
 * original ONNX input (NCHW), and re-imported computes the same. */
START_TEST(test_export_imported_nchw)
{
    char *onnx = src("tests/fixtures/onnx/rgb.onnx"), *data = src("tests/fixtures/onnx/rgb.input.npy");
    char *model = cf_tmp("rgb.safetensors");
    run_ok(cf_args("import %s -o %s", onnx, model));
    round_trip(model, data, "rgb", "");
    struct onnx_model orig, back;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(onnx_model_load(&orig, onnx, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_msg(onnx_model_load(&back, ts_tmp_path("rgb.onnx"), &err) == QUANTA_OK, "%s",
                  err.message);
    ck_assert_int_eq(back.graph.n_inputs, 1);
    ck_assert_int_eq(back.graph.inputs[0].rank, 4);
    for (int d = 1; d < 4; d++)
        ck_assert_int_eq(back.graph.inputs[0].dims[d], orig.graph.inputs[0].dims[d]);
    onnx_model_free(&orig);
    onnx_model_free(&back);
    free(onnx);
    free(data);
    free(model);
}
END_TEST

static int count_op(const struct onnx_graph *g, const char *op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += strcmp(g->nodes[i].op_type, op) == 0;
    return n;
}

static const struct onnx_node *producer(const struct onnx_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_outputs; j++)
            if (strcmp(g->nodes[i].outputs[j], name) == 0)
                return &g->nodes[i];
    return NULL;
}

static const struct onnx_tensor *initializer(const struct onnx_graph *g, const char *name)
{
    for (int i = 0; i < g->n_initializers; i++)
        if (strcmp(g->initializers[i].name, name) == 0)
            return &g->initializers[i];
    return NULL;
}

static int64_t attr_int(const struct onnx_node *n, const char *name, int64_t dflt)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return n->attrs[i].i;
    return dflt;
}

/* The scale of the DequantizeLinear that writes name. */
static const struct onnx_tensor *dq_scale(const struct onnx_graph *g, const char *name)
{
    const struct onnx_node *dq = producer(g, name);
    ck_assert_msg(dq && strcmp(dq->op_type, "DequantizeLinear") == 0, "%s is not dequantized",
                  name);
    const struct onnx_tensor *s = initializer(g, dq->inputs[1]);
    ck_assert_ptr_nonnull(s);
    return s;
}

/* Structure of an int8 export: each Conv and Gemm reads DequantizeLinear
 * outputs only (activation, int8 weight per channel along its output
 * axis, int32 bias with scale sx * sw) and ends in QuantizeLinear or a
 * float graph output; the weights are the quanta model's, in ONNX order. */
static void check_qdq(const char *qmodel, const char *onnx_path, int act_type)
{
    struct model qm;
    struct onnx_model om;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(model_open(&qm, qmodel, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_msg(onnx_model_load(&om, onnx_path, &err) == QUANTA_OK, "%s", err.message);
    const struct onnx_graph *g = &om.graph;
    ck_assert_int_eq(om.opset, 17);
    ck_assert_int_eq(count_op(g, "Conv"), 2);
    ck_assert_int_eq(count_op(g, "Gemm"), 2);
    /* one QuantizeLinear per int8 value written by a node or quantize */
    int q_values = 0;
    for (int i = 0; i < qm.graph.n_nodes; i++) {
        int o = qm.graph.nodes[i].outputs[0];
        q_values += qm.graph.values[o].quant.dtype != QUANTA_DTYPE_INVALID;
    }
    ck_assert_int_eq(count_op(g, "QuantizeLinear"), q_values);
    int checked = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const struct onnx_node *n = &g->nodes[i];
        bool conv = strcmp(n->op_type, "Conv") == 0;
        if (!conv && strcmp(n->op_type, "Gemm") != 0)
            continue;
        ck_assert_int_eq(n->n_inputs, 3);
        const struct onnx_tensor *sx = dq_scale(g, n->inputs[0]), *sw = dq_scale(g, n->inputs[1]),
                                 *sb = dq_scale(g, n->inputs[2]);
        const struct onnx_node *wdq = producer(g, n->inputs[1]), *bdq = producer(g, n->inputs[2]);
        const struct onnx_tensor *w = initializer(g, wdq->inputs[0]),
                                 *b = initializer(g, bdq->inputs[0]);
        ck_assert_ptr_nonnull(w);
        ck_assert_ptr_nonnull(b);
        /* weights int8 (uint8 + 128 beside uint8 activations), per channel on axis 0 */
        ck_assert_int_eq(w->data_type, act_type == ONNX_UINT8 ? ONNX_UINT8 : ONNX_INT8);
        ck_assert_int_eq(attr_int(wdq, "axis", 1), 0);
        ck_assert_int_eq(sw->shape.rank, 1);
        ck_assert_int_eq(sw->shape.dims[0], w->shape.dims[0]);
        ck_assert_int_eq(b->data_type, ONNX_INT32);
        ck_assert_int_eq(sx->shape.rank, 0);
        const float *x_scale = sx->data, *w_scale = sw->data, *b_scale = sb->data;
        for (int64_t o = 0; o < w->shape.dims[0]; o++) {
            double want = (double)x_scale[0] * w_scale[o];
            ck_assert_msg(fabs(b_scale[o] - want) <= 1e-5 * want, "bias scale %g, sx * sw %g",
                          b_scale[o], want);
        }
        /* the ONNX weights are the quanta weights, OIHW for a Conv */
        int wv = -1;
        for (int v = 0; v < qm.graph.n_values && wv < 0; v++)
            if (qm.graph.values[v].kind == GRAPH_VALUE_CONST &&
                qm.graph.values[v].quant.dtype == QUANTA_I8 &&
                qm.graph.values[v].shape.dims[0] == w->shape.dims[0] &&
                quanta_shape_numel(&qm.graph.values[v].shape) == w->numel &&
                qm.graph.values[v].shape.rank == w->shape.rank)
                wv = v;
        ck_assert_int_ge(wv, 0);
        const struct graph_value *qw = &qm.graph.values[wv];
        const int8_t *q = qw->data;
        const int64_t *onnx_w = w->data;
        int64_t shift = act_type == ONNX_UINT8 ? 128 : 0;
        if (conv) {
            int64_t O = qw->shape.dims[0], KH = qw->shape.dims[1], KW = qw->shape.dims[2],
                    C = qw->shape.dims[3];
            ck_assert_int_eq(w->shape.dims[1], C);
            for (int64_t i2 = 0; i2 < O * KH * KW * C; i2++) {
                int64_t o = i2 / (KH * KW * C), kh = i2 / (KW * C) % KH, kw = i2 / C % KW,
                        c = i2 % C;
                ck_assert_int_eq(onnx_w[((o * C + c) * KH + kh) * KW + kw], q[i2] + shift);
            }
        } else {
            for (int64_t i2 = 0; i2 < w->numel; i2++)
                ck_assert_int_eq(onnx_w[i2], q[i2] + shift);
        }
        /* activations of the quanta model's type */
        const struct onnx_node *xdq = producer(g, n->inputs[0]);
        const struct onnx_tensor *zx = initializer(g, xdq->inputs[2]);
        ck_assert_ptr_nonnull(zx);
        ck_assert_int_eq(zx->data_type, act_type);
        checked++;
    }
    ck_assert_int_eq(checked, 4);
    onnx_model_free(&om);
    model_close(&qm);
}

START_TEST(test_export_qdq_structure)
{
    char *model = src(MODEL_SRC), *calib = src(CALIB_SRC);
    char *q8 = cf_tmp("q8.safetensors"), *u8 = cf_tmp("u8.safetensors");
    char *o8 = cf_tmp("q8.onnx"), *ou8 = cf_tmp("u8.onnx");
    run_ok(cf_args("quantize %s -o %s --data %s --samples 200 --no-equalize", model, q8, calib));
    run_ok(cf_args("quantize %s -o %s --data %s --samples 200 --no-equalize "
                   "--activation-type uint8",
                   model, u8, calib));
    run_ok(cf_args("export %s -o %s", q8, o8));
    run_ok(cf_args("export %s -o %s", u8, ou8));
    check_qdq(q8, o8, ONNX_INT8);
    check_qdq(u8, ou8, ONNX_UINT8);
    /* --uint8: the int8 model's activations and weights as uint8 + 128 */
    run_ok(cf_args("export %s -o %s --uint8", q8, ou8));
    check_qdq(q8, ou8, ONNX_UINT8);
    free(model);
    free(calib);
    free(q8);
    free(u8);
    free(o8);
    free(ou8);
}
END_TEST

/* Weight-only and fp16 models export as float ONNX that reads the stored
 * weights through DequantizeLinear or Cast (quanta import reads no
 * DequantizeLinear: the fp16 file is re-imported, both are run by ONNX
 * Runtime in scripts/export_check.sh). */
START_TEST(test_export_weight_only_fp16)
{
    char *model = src(MODEL_SRC), *data = cf_tmp("images.npy");
    char *wo = cf_tmp("wo.safetensors"), *f16 = cf_tmp("f16.safetensors");
    write_data(data, 16, 28, 28, 1);
    run_ok(cf_args("quantize %s -o %s --mode weight-only", model, wo));
    run_ok(cf_args("quantize %s -o %s --mode fp16", model, f16));
    run_ok(cf_args("export %s -o %s", wo, ts_tmp_path("wo.onnx")));
    round_trip(f16, data, "f16", "");
    struct onnx_model om;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(onnx_model_load(&om, ts_tmp_path("wo.onnx"), &err) == QUANTA_OK, "%s",
                  err.message);
    ck_assert_int_eq(count_op(&om.graph, "DequantizeLinear"), 4);
    ck_assert_int_eq(count_op(&om.graph, "QuantizeLinear"), 0);
    onnx_model_free(&om);
    ck_assert_msg(onnx_model_load(&om, ts_tmp_path("f16.onnx"), &err) == QUANTA_OK, "%s",
                  err.message);
    ck_assert_int_eq(count_op(&om.graph, "Cast"), 8);
    onnx_model_free(&om);
    free(model);
    free(data);
    free(wo);
    free(f16);
}
END_TEST

START_TEST(test_export_reproducible)
{
    char *ops = cf_tmp("ops.safetensors"), *a = cf_tmp("a.onnx"), *b = cf_tmp("b.onnx");
    write_ops_model(ops);
    run_ok(cf_args("export %s -o %s", ops, a));
    run_ok(cf_args("export %s -o %s", ops, b));
    size_t na = 0, nb = 0;
    char *ba = ts_read_file(a, &na), *bb = ts_read_file(b, &nb);
    ck_assert_ptr_nonnull(ba);
    ck_assert_ptr_nonnull(bb);
    ck_assert_uint_gt(na, 1000);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(ba, bb, na) == 0);
    free(ba);
    free(bb);
    free(ops);
    free(a);
    free(b);
}
END_TEST

/* A node ONNX cannot express: one line naming it, exit 3, nothing
 * written; likewise a bag of tensors. */
/* A concat of more inputs than most nodes have (densenet121's take up to
 * 25): 20 here, each a neg node of x (distinct values: a concat that reads
 * one value 8 times or more crashes quanta quantize today). The float
 * export re-imports to the same outputs; the int8 export reads every input
 * through its own DequantizeLinear. */
START_TEST(test_export_long_concat)
{
    enum { N_IN = 20 };
    char graph[4096];
    int len = snprintf(graph, sizeof graph,
                       "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"cat\", "
                       "\"inputs\": [{\"name\": \"x\", \"shape\": [-1, 6, 6, 3], "
                       "\"dtype\": \"F32\"}], \"outputs\": [\"cat.out\"], \"nodes\": [");
    for (int i = 0; i < N_IN; i++)
        len += snprintf(graph + len, sizeof graph - (size_t)len,
                        "{\"op\": \"neg\", \"name\": \"ng%d\", \"inputs\": [\"x\"], "
                        "\"outputs\": [\"n%d\"]}, ", i, i);
    len += snprintf(graph + len, sizeof graph - (size_t)len,
                    "{\"op\": \"concat\", \"name\": \"cat\", \"inputs\": [");
    for (int i = 0; i < N_IN; i++)
        len += snprintf(graph + len, sizeof graph - (size_t)len, "%s\"n%d\"", i ? ", " : "", i);
    snprintf(graph + len, sizeof graph - (size_t)len, "], \"outputs\": [\"cat.out\"]}]}");
    static const float unused[1] = {0};
    struct st_tensor_desc t[] = {{"unused", QUANTA_F32, {1, {1}}, unused}};
    struct st_meta meta[] = {{"quanta.graph", graph}};
    struct quanta_error err;
    quanta_error_clear(&err);
    char *model = cf_tmp("cat.safetensors"), *x = cf_tmp("cat.x.npy"),
         *q8 = cf_tmp("cat.q8.safetensors"), *o8 = cf_tmp("cat.q8.onnx");
    ck_assert_msg(st_write_file(model, t, 1, meta, 1, &err) == QUANTA_OK, "%s", err.message);
    write_data(x, 16, 6, 6, 3);
    round_trip(model, x, "cat", "");
    run_ok(cf_args("quantize %s -o %s --data %s", model, q8, x));
    run_ok(cf_args("export %s -o %s", q8, o8));
    struct onnx_model om;
    ck_assert_msg(onnx_model_load(&om, o8, &err) == QUANTA_OK, "%s", err.message);
    const struct onnx_graph *g = &om.graph;
    ck_assert_int_eq(count_op(g, "Concat"), 1);
    for (int i = 0; i < g->n_nodes; i++) {
        const struct onnx_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "Concat") != 0)
            continue;
        ck_assert_int_eq(n->n_inputs, N_IN);
        for (int k = 0; k < N_IN; k++) {
            const struct onnx_node *p = producer(g, n->inputs[k]);
            ck_assert_msg(p && strcmp(p->op_type, "DequantizeLinear") == 0,
                          "Concat input %d is not read through a DequantizeLinear", k);
        }
    }
    onnx_model_free(&om);
    free(model);
    free(x);
    free(q8);
    free(o8);
}
END_TEST

/* A constant of batch 1 concatenated to a batch of activations (ViT's
 * class token): ONNX Concat does not broadcast, the export expands it to
 * the batch; re-imported, the same outputs at batch 16. */
START_TEST(test_export_concat_batch_constant)
{
    static const char graph[] =
        "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"tok\", "
        "\"inputs\": [{\"name\": \"x\", \"shape\": [-1, 6, 6, 3], \"dtype\": \"F32\"}], "
        "\"outputs\": [\"cat.out\"], \"nodes\": [{\"op\": \"concat\", \"name\": \"cat\", "
        "\"inputs\": [\"tok\", \"x\"], \"outputs\": [\"cat.out\"], \"attrs\": {\"axis\": 1}}]}";
    float tok[6 * 3];
    unsigned st = 5;
    for (int i = 0; i < 6 * 3; i++)
        tok[i] = 4.0f * prand(&st);
    struct st_tensor_desc t[] = {{"tok", QUANTA_F32, {4, {1, 1, 6, 3}}, tok}};
    struct st_meta meta[] = {{"quanta.graph", graph}};
    struct quanta_error err;
    quanta_error_clear(&err);
    char *model = cf_tmp("tok.safetensors"), *x = cf_tmp("tok.x.npy");
    ck_assert_msg(st_write_file(model, t, 1, meta, 1, &err) == QUANTA_OK, "%s", err.message);
    write_data(x, 16, 6, 6, 3);
    round_trip(model, x, "tok", "");
    struct onnx_model om;
    ck_assert_msg(onnx_model_load(&om, ts_tmp_path("tok.onnx"), &err) == QUANTA_OK, "%s",
                  err.message);
    ck_assert_int_eq(count_op(&om.graph, "Expand"), 1);
    onnx_model_free(&om);
    free(model);
    free(x);
}
END_TEST

START_TEST(test_export_refusals)
{
    static const char bag_graph[] =
        "{\"format\": \"quanta.graph\", \"version\": 1, \"inputs\": [{\"name\": \"ids\", "
        "\"shape\": [-1, 3], \"dtype\": \"I64\"}], \"outputs\": [\"y\"], \"nodes\": [{\"op\": "
        "\"embedding_bag\", \"name\": \"bag1\", \"inputs\": [\"ids\", \"table\"], "
        "\"outputs\": [\"y\"]}]}";
    static const float table[4 * 2] = {0};
    struct st_tensor_desc t[] = {{"table", QUANTA_F32, {2, {4, 2}}, table}};
    struct st_meta meta[] = {{"quanta.graph", bag_graph}};
    struct quanta_error err;
    quanta_error_clear(&err);
    char *m = cf_tmp("bag.safetensors"), *bag = cf_tmp("nograph.safetensors"),
         *out = cf_tmp("out.onnx");
    ck_assert(st_write_file(m, t, 1, meta, 1, &err) == QUANTA_OK);
    ck_assert(st_write_file(bag, t, 1, NULL, 0, &err) == QUANTA_OK);
    cf_expect_input_error(cf_args("export %s -o %s", m, out),
                          "node 'bag1' (embedding_bag): cannot export to ONNX");
    ck_assert(!cf_file_exists(out));
    cf_expect_input_error(cf_args("export %s -o %s", bag, out), "has no graph");
    ck_assert(!cf_file_exists(out));
    free(m);
    free(bag);
    free(out);
}
END_TEST

Suite *suite_cli_export(void);
Suite *suite_cli_export(void)
{
    Suite *s = suite_create("cli_export");
    TCase *tc = tcase_create("export");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_export_help);
    tcase_add_test(tc, test_export_usage_errors);
    tcase_add_test(tc, test_export_float_round_trip);
    tcase_add_test(tc, test_export_imported_nchw);
    tcase_add_test(tc, test_export_qdq_structure);
    tcase_add_test(tc, test_export_weight_only_fp16);
    tcase_add_test(tc, test_export_reproducible);
    tcase_add_test(tc, test_export_long_concat);
    tcase_add_test(tc, test_export_concat_batch_constant);
    tcase_add_test(tc, test_export_refusals);
    suite_add_tcase(s, tc);
    return s;
}

/* quanta import (src/import): every ONNX fixture made by
 * scripts/export_onnx.py imports, and the imported model, run by the
 * float runner on the bundled images, gives PyTorch's logits within 1e-4
 * and PyTorch's top-1 count; NCHW data (rgb) transposed to NHWC here gives
 * the same. Models written byte by byte below check what the fixtures do
 * not: auto_pad SAME_UPPER / SAME_LOWER against a direct NCHW convolution,
 * external data and its path rules, --input-shape, malformed files. */
#include <cJSON.h>
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/onnx_model.h"
#include "quanta/onnx_import.h"
#include "quanta/quanta.h"
#include "support/test_support.h"

#define PIXEL_SCALE 0.00392156862745098
#define TOL 1e-4

static const char *images_path(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s",
             ts_src_path("models/data/fmnist-test-1000-images-idx3-ubyte.gz"));
    return path;
}

static char *fixture(const char *name, const char *ext)
{
    char rel[256];
    snprintf(rel, sizeof rel, "tests/fixtures/onnx/%s%s", name, ext);
    return strdup(ts_src_path(rel));
}

static struct onnx_import_options pixel_options(void)
{
    static const float mean[1] = {0}, std[1] = {1};
    struct onnx_import_options o;
    memset(&o, 0, sizeof o);
    o.has_normalize = true;
    o.normalize = (struct quanta_normalize){PIXEL_SCALE, 1, mean, 1, std};
    return o;
}

static void import_ok(struct graph *g, const char *path, const struct onnx_import_options *o)
{
    struct onnx_import_info info;
    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = onnx_import_graph(g, &info, path, o, &err);
    ck_assert_msg(st == QUANTA_OK, "import %s: %s", path, err.message);
    onnx_import_info_free(&info);
}

/* All of a float NPY / IDX file (n samples of k values). */
static float *read_all(const char *path, const struct quanta_normalize *norm, int64_t *n,
                       int64_t *k)
{
    struct dataset *ds;
    struct quanta_error err;
    ck_assert_msg(dataset_open(&ds, path, NULL, &err) == QUANTA_OK, "%s", err.message);
    *n = ds->n_samples;
    *k = quanta_shape_numel(&ds->sample_shape);
    float *out = malloc((size_t)(*n * *k) * sizeof *out);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(dataset_read_f32(ds, 0, *n, norm, out, &err) == QUANTA_OK, "%s", err.message);
    dataset_close(ds);
    return out;
}

static int reference_count(const char *name)
{
    char *path = fixture(name, ".reference.json");
    char *text = ts_read_file(path, NULL);
    ck_assert_ptr_nonnull(text);
    cJSON *root = cJSON_Parse(text);
    ck_assert_ptr_nonnull(root);
    cJSON *c = cJSON_GetObjectItemCaseSensitive(root, "pytorch_correct_1000");
    ck_assert(cJSON_IsNumber(c));
    int n = c->valueint;
    cJSON_Delete(root);
    free(text);
    free(path);
    return n;
}

/* Runs g (as given, or as graph_optimize rewrites it) on inputs (n samples
 * of k floats, NHWC) in batches of 100 and checks every output against
 * expected (n x classes); returns the top-1 count against labels (NULL:
 * not counted). */
static int run_optimized_and_compare(const struct graph *g, bool optimize, const void *inputs,
                                     size_t sample_bytes, int64_t n, const float *expected,
                                     int64_t classes, const int32_t *labels)
{
    struct runner *r;
    struct quanta_error err;
    struct runner_options opt = {.max_batch = 100, .threads = 1, .optimize = optimize};
    ck_assert_msg(runner_create(&r, g, &opt, &err) == QUANTA_OK, "%s", err.message);
    int correct = 0;
    double worst = 0;
    for (int64_t start = 0; start < n; start += 100) {
        int64_t b = n - start < 100 ? n - start : 100;
        const void *in[1] = {(const char *)inputs + (size_t)start * sample_bytes};
        ck_assert_msg(runner_run(r, b, in, &err) == QUANTA_OK, "%s", err.message);
        struct quanta_shape s;
        const float *out = runner_output(r, 0, &s);
        ck_assert_int_eq(s.rank, 2);
        ck_assert_int_eq(s.dims[0], b);
        ck_assert_int_eq(s.dims[1], classes);
        for (int64_t i = 0; i < b; i++) {
            int best = 0;
            for (int64_t c = 0; c < classes; c++) {
                double d = fabs((double)out[i * classes + c] -
                                expected[(start + i) * classes + c]);
                worst = d > worst ? d : worst;
                if (out[i * classes + c] > out[i * classes + best])
                    best = (int)c;
            }
            if (labels)
                correct += best == labels[start + i];
        }
    }
    runner_free(r);
    ck_assert_msg(worst <= TOL, "largest difference from PyTorch %g%s", worst,
                  optimize ? " (optimized graph)" : "");
    return correct;
}

/* The graph as given, then as the float runner's optimizer rewrites it
 * (folds, fused activations and residual adds): both match PyTorch. */
static int run_and_compare(const struct graph *g, const void *inputs, size_t sample_bytes,
                           int64_t n, const float *expected, int64_t classes,
                           const int32_t *labels)
{
    run_optimized_and_compare(g, true, inputs, sample_bytes, n, expected, classes, NULL);
    return run_optimized_and_compare(g, false, inputs, sample_bytes, n, expected, classes,
                                     labels);
}

/* Imports <file>.onnx and compares with <name>'s logits and reference. */
static void check_image_fixture_as(const char *file, const char *name)
{
    struct graph g;
    struct onnx_import_options o = pixel_options();
    char *path = fixture(file, ".onnx"), *logits_path = fixture(name, ".logits.npy");
    import_ok(&g, path, &o);
    /* NHWC input with any batch */
    int in = g.inputs[0].value;
    ck_assert_int_eq(g.values[in].shape.rank, 4);
    ck_assert_int_eq(g.values[in].shape.dims[0], -1);
    ck_assert_int_eq(g.values[in].shape.dims[1], 28);
    ck_assert_int_eq(g.values[in].shape.dims[3], 1);
    int64_t n, k, ln, classes;
    float *images = read_all(images_path(), &g.inputs[0].normalize, &n, &k);
    float *expected = read_all(logits_path, NULL, &ln, &classes);
    ck_assert_int_eq(n, 1000);
    ck_assert_int_eq(ln, 1000);
    struct labels labels;
    struct quanta_error err;
    ck_assert_msg(labels_load_for_data(&labels, images_path(), &err) == QUANTA_OK, "%s",
                  err.message);
    ck_assert_int_eq(labels.n, 1000);
    int correct = run_and_compare(&g, images, (size_t)k * sizeof(float), n, expected, classes,
                                  labels.values);
    ck_assert_int_eq(correct, reference_count(name));
    labels_free(&labels);
    free(images);
    free(expected);
    free(path);
    free(logits_path);
    graph_free(&g);
}

static void check_image_fixture(const char *name)
{
    check_image_fixture_as(name, name);
}

START_TEST(test_fixture_cnn_bn) { check_image_fixture("cnn_bn"); }
END_TEST
START_TEST(test_fixture_residual) { check_image_fixture("residual"); }
END_TEST
START_TEST(test_fixture_dwsep) { check_image_fixture("dwsep"); }
END_TEST
START_TEST(test_fixture_mlp) { check_image_fixture("mlp"); }
END_TEST
START_TEST(test_fixture_ops_mix) { check_image_fixture("ops_mix"); }
END_TEST
START_TEST(test_fixture_shapes) { check_image_fixture("shapes"); }
END_TEST
/* opsets 9 and 10: Clip's bounds as attributes (relu6 as Relu + Clip(max=6)),
 * Softmax over the whole row, Pad in front of an average pool */
START_TEST(test_fixture_opset9) { check_image_fixture("legacy9"); }
END_TEST
START_TEST(test_fixture_opset10) { check_image_fixture("legacy10"); }
END_TEST
/* opset 18: ReduceMean's axes as an input */
START_TEST(test_fixture_opset18) { check_image_fixture_as("ops_mix18", "ops_mix"); }
END_TEST

/* Three channels: the NCHW input file is transposed to NHWC here. */
START_TEST(test_fixture_rgb_nchw)
{
    struct graph g;
    char *path = fixture("rgb", ".onnx"), *in_path = fixture("rgb", ".input.npy"),
         *logits_path = fixture("rgb", ".logits.npy");
    import_ok(&g, path, NULL);
    const struct graph_value *in = &g.values[g.inputs[0].value];
    ck_assert_int_eq(in->shape.dims[1], 8);
    ck_assert_int_eq(in->shape.dims[3], 3);
    int64_t n, k, ln, classes;
    float *nchw = read_all(in_path, NULL, &n, &k);
    float *expected = read_all(logits_path, NULL, &ln, &classes);
    ck_assert_int_eq(k, 3 * 8 * 8);
    float *nhwc = malloc((size_t)(n * k) * sizeof *nhwc);
    ck_assert_ptr_nonnull(nhwc);
    for (int64_t s = 0; s < n; s++)
        for (int c = 0; c < 3; c++)
            for (int h = 0; h < 8; h++)
                for (int w = 0; w < 8; w++)
                    nhwc[s * k + (h * 8 + w) * 3 + c] = nchw[s * k + (c * 8 + h) * 8 + w];
    run_and_compare(&g, nhwc, (size_t)k * sizeof(float), n, expected, classes, NULL);
    /* and fed as it is (NCHW), it must NOT match: the layout matters */
    struct runner *r;
    struct quanta_error err;
    struct runner_options opt = {.max_batch = 1, .threads = 1};
    ck_assert_int_eq(runner_create(&r, &g, &opt, &err), QUANTA_OK);
    const void *ins[1] = {nchw};
    ck_assert_int_eq(runner_run(r, 1, ins, &err), QUANTA_OK);
    const float *out = runner_output(r, 0, NULL);
    double diff = 0;
    for (int c = 0; c < classes; c++)
        diff += fabs((double)out[c] - expected[c]);
    ck_assert(diff > 1e-3);
    runner_free(r);
    free(nchw);
    free(nhwc);
    free(expected);
    free(path);
    free(in_path);
    free(logits_path);
    graph_free(&g);
}
END_TEST

START_TEST(test_fixture_embed)
{
    struct graph g;
    char *path = fixture("embed", ".onnx"), *in_path = fixture("embed", ".input.npy"),
         *logits_path = fixture("embed", ".logits.npy");
    import_ok(&g, path, NULL);
    ck_assert_int_eq(g.values[g.inputs[0].value].dtype, QUANTA_I64);
    struct dataset *ds;
    struct quanta_error err;
    ck_assert_int_eq(dataset_open(&ds, in_path, NULL, &err), QUANTA_OK);
    int64_t n = ds->n_samples;
    int64_t *ids = malloc((size_t)n * 8 * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    ck_assert_int_eq(dataset_read_i64(ds, 0, n, ids, &err), QUANTA_OK);
    dataset_close(ds);
    int64_t ln, classes;
    float *expected = read_all(logits_path, NULL, &ln, &classes);
    ck_assert_int_eq(ln, n);
    run_and_compare(&g, ids, 8 * sizeof(int64_t), n, expected, classes, NULL);
    free(ids);
    free(expected);
    free(path);
    free(in_path);
    free(logits_path);
    graph_free(&g);
}
END_TEST

/* nn.EmbeddingBag as torch.onnx.export writes it (a Loop per bag,
 * scripts/export_onnx_bag.py): sum, mean, max over fixed bags, the offsets
 * form with an empty bag, per-sample weights; the Loop and the nodes that
 * computed its bounds become one embedding_bag node. */
static int64_t *read_ids(const char *name, const char *ext, int64_t *n)
{
    char *path = fixture(name, ext);
    struct dataset *ds;
    struct quanta_error err;
    ck_assert_msg(dataset_open(&ds, path, NULL, &err) == QUANTA_OK, "%s", err.message);
    *n = ds->n_samples * quanta_shape_numel(&ds->sample_shape);
    int64_t *ids = malloc((size_t)*n * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    ck_assert_msg(dataset_read_i64(ds, 0, ds->n_samples, ids, &err) == QUANTA_OK, "%s",
                  err.message);
    dataset_close(ds);
    free(path);
    return ids;
}

START_TEST(test_fixture_bags)
{
    static const char *const names[] = {"bag_sum_fixed",   "bag_mean_fixed",  "bag_max_fixed",
                                        "bag_sum_offsets", "bag_mean_offsets", "bag_psw_fixed"};
    static const int modes[] = {GRAPH_MODE_SUM, GRAPH_MODE_MEAN, GRAPH_MODE_MAX,
                                GRAPH_MODE_SUM, GRAPH_MODE_MEAN, GRAPH_MODE_SUM};
    const char *name = names[_i];
    bool offsets = strstr(name, "offsets") != NULL, psw = strstr(name, "psw") != NULL;
    struct onnx_input_shape shape = {"ids", {.rank = 1, .dims = {7}}};
    struct onnx_import_options o;
    memset(&o, 0, sizeof o);
    if (offsets) {
        o.input_shapes = &shape;
        o.n_input_shapes = 1;
    }
    struct graph g;
    char *path = fixture(name, ".onnx");
    import_ok(&g, path, &o);
    ck_assert_int_eq(g.n_nodes, 1);
    ck_assert_int_eq(g.nodes[0].op, GRAPH_OP_EMBEDDING_BAG);
    ck_assert_int_eq(g.nodes[0].attrs.mode, modes[_i]);
    int64_t n_ids, n_off = 0, n_out, k;
    int64_t *ids = read_ids(name, ".ids.npy", &n_ids);
    int64_t *off = offsets ? read_ids(name, ".offsets.npy", &n_off) : NULL;
    char *wpath = fixture(name, ".weights.npy"), *epath = fixture(name, ".expected.npy");
    float *w = psw ? read_all(wpath, NULL, &n_out, &k) : NULL;
    float *want = read_all(epath, NULL, &n_out, &k);
    int64_t bags = offsets ? n_off : n_out;
    struct runner *r;
    struct quanta_error err;
    struct runner_options ro = {.max_batch = bags, .threads = 1};
    ck_assert_msg(runner_create(&r, &g, &ro, &err) == QUANTA_OK, "%s", err.message);
    const void *in[2] = {ids, offsets ? (const void *)off : (const void *)w};
    ck_assert_msg(runner_run(r, bags, in, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape ys;
    const float *y = runner_output(r, 0, &ys);
    ck_assert_int_eq(ys.dims[0] * ys.dims[1], n_out * k);
    for (int64_t i = 0; i < n_out * k; i++)
        ck_assert_msg(fabsf(y[i] - want[i]) <= 1e-5f, "%s [%lld]: %g, PyTorch %g", name,
                      (long long)i, (double)y[i], (double)want[i]);
    runner_free(r);
    free(ids);
    free(off);
    free(w);
    free(want);
    free(wpath);
    free(epath);
    free(path);
    graph_free(&g);
}
END_TEST

/* The offsets form needs the ids' length: without --input-shape the
 * message says so. */
START_TEST(test_fixture_bag_offsets_needs_length)
{
    struct graph g;
    struct onnx_import_info info;
    struct quanta_error err;
    char *path = fixture("bag_sum_offsets", ".onnx");
    ck_assert_int_eq(onnx_import_graph(&g, &info, path, NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_msg(strstr(err.message, "--input-shape ids=[L]"), "%s", err.message);
    free(path);
}
END_TEST

/* Any other Loop (here one with a loop-carried sum) is refused by name;
 * its body is decoded all the same. */
START_TEST(test_loop_not_a_bag)
{
    struct graph g;
    struct onnx_import_info info;
    struct quanta_error err;
    char *path = fixture("loop_sum", ".onnx");
    ck_assert_int_eq(onnx_import_graph(&g, &info, path, NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_msg(strstr(err.message, "(Loop): Loop is imported only as the nn.EmbeddingBag"),
                  "%s", err.message);
    free(path);
}
END_TEST

/* The text classifier: EmbeddingBag mean -> Linear -> ReLU -> Linear. */
START_TEST(test_fixture_textbag)
{
    struct graph g;
    char *path = fixture("textbag", ".onnx"), *lpath = fixture("textbag", ".logits.npy");
    import_ok(&g, path, NULL);
    ck_assert_int_eq(g.nodes[0].op, GRAPH_OP_EMBEDDING_BAG);
    ck_assert_int_eq(g.nodes[0].attrs.mode, GRAPH_MODE_MEAN);
    int64_t n, ln, classes;
    int64_t *ids = read_ids("textbag", ".input.npy", &n);
    float *expected = read_all(lpath, NULL, &ln, &classes);
    ck_assert_int_eq(n, ln * 12);
    run_and_compare(&g, ids, 12 * sizeof(int64_t), ln, expected, classes, NULL);
    free(ids);
    free(expected);
    free(path);
    free(lpath);
    graph_free(&g);
}
END_TEST

/* ---- models written byte by byte ------------------------------------------ */

struct pbuf {
    uint8_t *b;
    size_t n, cap;
};

static void pb_put(struct pbuf *p, const void *bytes, size_t n)
{
    if (p->n + n > p->cap) {
        p->cap = (p->n + n) * 2 + 64;
        p->b = realloc(p->b, p->cap);
        ck_assert_ptr_nonnull(p->b);
    }
    memcpy(p->b + p->n, bytes, n);
    p->n += n;
}

static void pb_var(struct pbuf *p, uint64_t v)
{
    do {
        uint8_t byte = (uint8_t)(v & 0x7f);
        v >>= 7;
        if (v)
            byte |= 0x80;
        pb_put(p, &byte, 1);
    } while (v);
}

static void pb_int(struct pbuf *p, int field, int64_t v)
{
    pb_var(p, (uint64_t)field << 3);
    pb_var(p, (uint64_t)v);
}

static void pb_len(struct pbuf *p, int field, const void *bytes, size_t n)
{
    pb_var(p, (uint64_t)field << 3 | 2);
    pb_var(p, n);
    pb_put(p, bytes, n);
}

static void pb_str(struct pbuf *p, int field, const char *s)
{
    pb_len(p, field, s, strlen(s));
}

static void pb_sub(struct pbuf *p, int field, struct pbuf *sub)
{
    pb_len(p, field, sub->b, sub->n);
    free(sub->b);
    memset(sub, 0, sizeof *sub);
}

/* ValueInfoProto: name, FLOAT, dims (-1: dim_param "N"). */
static void value_info(struct pbuf *g, int field, const char *name, const int64_t *dims, int rank)
{
    struct pbuf shape = {0}, tensor = {0}, type = {0}, vi = {0};
    for (int i = 0; i < rank; i++) {
        struct pbuf dim = {0};
        if (dims[i] < 0)
            pb_str(&dim, 2, "N");
        else
            pb_int(&dim, 1, dims[i]);
        pb_sub(&shape, 1, &dim);
    }
    pb_int(&tensor, 1, 1);
    pb_sub(&tensor, 2, &shape);
    pb_sub(&type, 1, &tensor);
    pb_str(&vi, 1, name);
    pb_sub(&vi, 2, &type);
    pb_sub(g, field, &vi);
}

/* Conv test model: x [N, 2, 6, 6] -> Conv (3 x 2 x 3 x 3, stride 2,
 * auto_pad) -> y. W raw or external, B as float_data. */
#define CX_C 2
#define CX_H 6
#define CX_O 3
#define CX_K 3
#define CX_WN (CX_O * CX_C * CX_K * CX_K)

static float cx_weight(int i) { return (float)((i * 7) % 11 - 5) * 0.125f; }
static float cx_bias(int o) { return 0.5f * (float)o - 0.25f; }
static float cx_input(int s, int i) { return (float)((s * 31 + i * 17) % 23) * 0.1f - 1.0f; }

static void write_conv_model(const char *path, const char *auto_pad, const char *ext_location,
                             int64_t ext_offset)
{
    struct pbuf model = {0}, graph = {0}, node = {0}, attr = {0}, w = {0}, b = {0}, opset = {0};
    pb_str(&node, 1, "x");
    pb_str(&node, 1, "W");
    pb_str(&node, 1, "B");
    pb_str(&node, 2, "y");
    pb_str(&node, 3, "conv");
    pb_str(&node, 4, "Conv");
    pb_str(&attr, 1, "auto_pad");
    pb_int(&attr, 20, 3); /* STRING */
    pb_str(&attr, 4, auto_pad);
    pb_sub(&node, 5, &attr);
    pb_str(&attr, 1, "strides");
    pb_int(&attr, 20, 7); /* INTS, unpacked */
    pb_int(&attr, 8, 2);
    pb_int(&attr, 8, 2);
    pb_sub(&node, 5, &attr);
    pb_sub(&graph, 1, &node);
    pb_str(&graph, 2, "convtest");
    /* W [3, 2, 3, 3] */
    float wv[CX_WN];
    for (int i = 0; i < CX_WN; i++)
        wv[i] = cx_weight(i);
    int64_t wd[4] = {CX_O, CX_C, CX_K, CX_K};
    struct pbuf dims = {0};
    for (int i = 0; i < 4; i++)
        pb_var(&dims, (uint64_t)wd[i]);
    pb_len(&w, 1, dims.b, dims.n); /* packed dims */
    free(dims.b);
    pb_int(&w, 2, 1);
    pb_str(&w, 8, "W");
    if (ext_location) {
        struct pbuf kv = {0};
        char num[32];
        pb_str(&kv, 1, "location");
        pb_str(&kv, 2, ext_location);
        pb_sub(&w, 13, &kv);
        snprintf(num, sizeof num, "%lld", (long long)ext_offset);
        pb_str(&kv, 1, "offset");
        pb_str(&kv, 2, num);
        pb_sub(&w, 13, &kv);
        snprintf(num, sizeof num, "%d", (int)sizeof wv);
        pb_str(&kv, 1, "length");
        pb_str(&kv, 2, num);
        pb_sub(&w, 13, &kv);
        pb_int(&w, 14, 1);
    } else {
        pb_len(&w, 9, wv, sizeof wv);
    }
    pb_sub(&graph, 5, &w);
    /* B [3] as packed float_data */
    float bv[CX_O];
    for (int o = 0; o < CX_O; o++)
        bv[o] = cx_bias(o);
    pb_int(&b, 1, CX_O);
    pb_int(&b, 2, 1);
    pb_str(&b, 8, "B");
    pb_len(&b, 4, bv, sizeof bv);
    pb_sub(&graph, 5, &b);
    int64_t xd[4] = {-1, CX_C, CX_H, CX_H}, yd[4] = {-1, CX_O, 3, 3};
    value_info(&graph, 11, "x", xd, 4);
    value_info(&graph, 12, "y", yd, 4);
    pb_int(&model, 1, 8);
    pb_str(&opset, 1, "");
    pb_int(&opset, 2, 13);
    pb_sub(&model, 8, &opset);
    pb_sub(&model, 7, &graph);
    ts_write_file(path, model.b, model.n);
    free(model.b);
}

/* y = conv(x) in NCHW with explicit pads, as the ONNX operator defines it. */
static float conv_ref(int s, int o, int i, int j, int pad_top, int pad_left)
{
    float acc = cx_bias(o);
    for (int c = 0; c < CX_C; c++)
        for (int kh = 0; kh < CX_K; kh++)
            for (int kw = 0; kw < CX_K; kw++) {
                int y = i * 2 - pad_top + kh, x = j * 2 - pad_left + kw;
                if (y < 0 || y >= CX_H || x < 0 || x >= CX_H)
                    continue;
                acc += cx_input(s, (c * CX_H + y) * CX_H + x) *
                       cx_weight(((o * CX_C + c) * CX_K + kh) * CX_K + kw);
            }
    return acc;
}

static void check_conv_model(const char *path, int pad_begin)
{
    struct graph g;
    import_ok(&g, path, NULL);
    enum { S = 2 };
    float x[S][CX_H][CX_H][CX_C];
    for (int s = 0; s < S; s++)
        for (int c = 0; c < CX_C; c++)
            for (int h = 0; h < CX_H; h++)
                for (int w = 0; w < CX_H; w++)
                    x[s][h][w][c] = cx_input(s, (c * CX_H + h) * CX_H + w);
    struct runner *r;
    struct quanta_error err;
    struct runner_options opt = {.max_batch = S, .threads = 1};
    ck_assert_int_eq(runner_create(&r, &g, &opt, &err), QUANTA_OK);
    const void *ins[1] = {x};
    ck_assert_msg(runner_run(r, S, ins, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape shape;
    const float *y = runner_output(r, 0, &shape);
    /* 6 + 1 padding, kernel 3, stride 2: 3 x 3, output NHWC */
    ck_assert_int_eq(shape.rank, 4);
    ck_assert_int_eq(shape.dims[1], 3);
    ck_assert_int_eq(shape.dims[3], CX_O);
    for (int s = 0; s < S; s++)
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++)
                for (int o = 0; o < CX_O; o++)
                    ck_assert_float_eq_tol(y[((s * 3 + i) * 3 + j) * CX_O + o],
                                           conv_ref(s, o, i, j, pad_begin, pad_begin), 1e-5);
    runner_free(r);
    graph_free(&g);
}

START_TEST(test_conv_auto_pad)
{
    /* in 6, stride 2, kernel 3: out 3, total padding (3-1)*2+3-6 = 1,
     * SAME_UPPER puts it at the end, SAME_LOWER at the start */
    const char *path = ts_tmp_path("conv_upper.onnx");
    write_conv_model(path, "SAME_UPPER", NULL, 0);
    check_conv_model(path, 0);
    path = ts_tmp_path("conv_lower.onnx");
    write_conv_model(path, "SAME_LOWER", NULL, 0);
    check_conv_model(path, 1);
}
END_TEST

/* A lone TensorProto (ONNX test data files): typed floats, raw int64,
 * and the same checks as the model's tensors. */
START_TEST(test_tensor_decode)
{
    struct pbuf t = {0};
    struct onnx_tensor x;
    struct quanta_error err;
    float fv[6] = {1, -2, 3.5f, 0, 5, -6.25f};
    pb_int(&t, 1, 2);
    pb_int(&t, 1, 3);
    pb_int(&t, 2, 1); /* FLOAT */
    pb_str(&t, 8, "x");
    pb_len(&t, 4, fv, sizeof fv);
    ck_assert_int_eq(onnx_tensor_decode(&x, t.b, t.n, "x.pb", &err), QUANTA_OK);
    ck_assert_str_eq(x.name, "x");
    ck_assert_int_eq(x.dtype, QUANTA_F32);
    ck_assert_int_eq(x.shape.rank, 2);
    ck_assert_int_eq(x.shape.dims[1], 3);
    ck_assert_int_eq(x.numel, 6);
    for (int k = 0; k < 6; k++)
        ck_assert_float_eq(((const float *)x.data)[k], fv[k]);
    onnx_tensor_free(&x);
    /* one element too few: refused, naming the file */
    ck_assert_int_eq(onnx_tensor_decode(&x, t.b, t.n - 4, "x.pb", &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "x.pb"));
    free(t.b);
    memset(&t, 0, sizeof t);

    int64_t iv[2] = {7, -9};
    pb_int(&t, 1, 2);
    pb_int(&t, 2, 7); /* INT64 */
    pb_len(&t, 9, iv, sizeof iv);
    const char *path = ts_tmp_path("ids.pb");
    ts_write_file(path, t.b, t.n);
    ck_assert_int_eq(onnx_tensor_load(&x, path, &err), QUANTA_OK);
    ck_assert_int_eq(x.dtype, QUANTA_I64);
    ck_assert_int_eq(((const int64_t *)x.data)[1], -9);
    onnx_tensor_free(&x);
    /* external data has no folder to come from */
    pb_str(&t, 8, "e");
    pb_int(&t, 14, 1);
    ck_assert_int_eq(onnx_tensor_decode(&x, t.b, t.n, "e.pb", &err), QUANTA_ERR_INPUT);
    free(t.b);
}
END_TEST

/* onnx_import_info.output_nhwc: the conv output comes out NHWC. */
START_TEST(test_output_layout)
{
    const char *path = ts_tmp_path("conv_layout.onnx");
    write_conv_model(path, "SAME_UPPER", NULL, 0);
    struct graph g;
    struct onnx_import_info info;
    struct quanta_error err;
    ck_assert_int_eq(onnx_import_graph(&g, &info, path, NULL, &err), QUANTA_OK);
    ck_assert_int_eq(info.n_outputs, 1);
    ck_assert(info.output_nhwc[0]);
    onnx_import_info_free(&info);
    graph_free(&g);
}
END_TEST

static void expect_import_error(const char *path, const char *needle)
{
    struct graph g;
    struct onnx_import_info info;
    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = onnx_import_graph(&g, &info, path, NULL, &err);
    ck_assert_int_eq(st, QUANTA_ERR_INPUT);
    ck_assert_msg(strstr(err.message, needle), "'%s' not in '%s'", needle, err.message);
    ck_assert_ptr_null(strchr(err.message, '\n'));
    ck_assert_int_eq(g.n_nodes, 0);
}

START_TEST(test_external_data)
{
    /* W in w.bin at offset 8, after 8 bytes of something else */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", ts_tmp_dir());
    float wv[CX_WN];
    for (int i = 0; i < CX_WN; i++)
        wv[i] = cx_weight(i);
    uint8_t blob[8 + sizeof wv];
    memset(blob, 0x5a, 8);
    memcpy(blob + 8, wv, sizeof wv);
    char path[1200];
    snprintf(path, sizeof path, "%s/w.bin", dir);
    ts_write_file(path, blob, sizeof blob);
    snprintf(path, sizeof path, "%s/ext.onnx", dir);
    write_conv_model(path, "SAME_UPPER", "w.bin", 8);
    check_conv_model(path, 0);

    write_conv_model(path, "SAME_UPPER", "../w.bin", 8);
    expect_import_error(path, "leaves the model's folder");
    write_conv_model(path, "SAME_UPPER", "/etc/passwd", 0);
    expect_import_error(path, "must be a relative path");
    write_conv_model(path, "SAME_UPPER", "w.bin", 16); /* 8 bytes short */
    expect_import_error(path, "beyond its size");
    write_conv_model(path, "SAME_UPPER", "missing.bin", 0);
    expect_import_error(path, "missing.bin");
}
END_TEST

START_TEST(test_bad_fixtures)
{
    static const struct {
        const char *name, *needle;
    } cases[] = {
        {"bad-truncated", "runs past the end"},
        {"bad-wiretype", "wire type 0 but 2 is expected"},
        {"bad-length", "runs past the end"},
        {"bad-group", "group"},
        {"bad-varint", "varint"},
        {"bad-unsupported-op", "node 'the_node' (Det): operator 'Det' is not supported"},
        {"bad-opset", "opset 5 is not supported"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = fixture(cases[i].name, ".onnx");
        expect_import_error(path, cases[i].needle);
        free(path);
    }
    expect_import_error(ts_src_path("tests/fixtures/onnx/no-such-file.onnx"), "cannot open");
}
END_TEST

/* A one-node model of opset `opset`: x [N, 2, 3] (and a constant c of
 * c_n floats 1, 2, ... when c_n > 0, x again when c_n < 0) -> op -> y;
 * attrs are INT attributes, given as names and values. */
static void write_one_node(const char *path, int opset, const char *op, int c_n,
                           const char *const *attr_names, const int64_t *attr_values, int n_attrs)
{
    struct pbuf model = {0}, graph = {0}, node = {0}, attr = {0}, c = {0}, opset_id = {0};
    pb_str(&node, 1, "x");
    if (c_n != 0)
        pb_str(&node, 1, c_n > 0 ? "c" : "x");
    pb_str(&node, 2, "y");
    pb_str(&node, 3, "n");
    pb_str(&node, 4, op);
    for (int i = 0; i < n_attrs; i++) {
        pb_str(&attr, 1, attr_names[i]);
        pb_int(&attr, 20, 2); /* INT */
        pb_int(&attr, 3, attr_values[i]);
        pb_sub(&node, 5, &attr);
    }
    pb_sub(&graph, 1, &node);
    pb_str(&graph, 2, "one");
    if (c_n > 0) {
        float cv[8];
        for (int i = 0; i < c_n; i++)
            cv[i] = (float)(i + 1);
        pb_int(&c, 1, c_n);
        pb_int(&c, 2, 1);
        pb_str(&c, 8, "c");
        pb_len(&c, 9, cv, (size_t)c_n * sizeof(float));
        pb_sub(&graph, 5, &c);
    }
    int64_t xd[3] = {-1, 2, 3};
    value_info(&graph, 11, "x", xd, 3);
    value_info(&graph, 12, "y", xd, 3);
    pb_int(&model, 1, 3);
    pb_str(&opset_id, 1, "");
    pb_int(&opset_id, 2, opset);
    pb_sub(&model, 8, &opset_id);
    pb_sub(&model, 7, &graph);
    ts_write_file(path, model.b, model.n);
    free(model.b);
}

/* Runs a model of input [N, 2, 3] on one sample x[i] = i and returns y. */
static void run_one(const char *path, float y[6])
{
    struct graph g;
    import_ok(&g, path, NULL);
    float x[6] = {0, 1, 2, 3, 4, 5};
    struct runner *r;
    struct quanta_error err;
    struct runner_options opt = {.max_batch = 1, .threads = 1};
    ck_assert_int_eq(runner_create(&r, &g, &opt, &err), QUANTA_OK);
    const void *ins[1] = {x};
    ck_assert_msg(runner_run(r, 1, ins, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape shape;
    memcpy(y, runner_output(r, 0, &shape), 6 * sizeof *y);
    ck_assert_int_eq(quanta_shape_numel(&shape), 6);
    runner_free(r);
    graph_free(&g);
}

/* Opsets 6 to 8: Add's broadcast (numpy's suffix rule) is taken at opset
 * 6, its axis refused; from opset 7 neither exists. */
START_TEST(test_legacy_opsets)
{
    const char *path = ts_tmp_path("legacy.onnx");
    static const char *const bc[] = {"broadcast", "axis"};
    static const int64_t one[] = {1, 1};
    float y[6];
    write_one_node(path, 6, "Add", 3, bc, one, 1);
    run_one(path, y);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(y[i], (float)i + (float)(i % 3 + 1));
    write_one_node(path, 6, "Add", 2, bc, one, 2);
    expect_import_error(path, "node 'n' (Add): attribute 'axis' (broadcasting along an axis");
    /* from opset 7 Add has no attribute */
    write_one_node(path, 7, "Add", 3, bc, one, 1);
    expect_import_error(path, "attribute 'broadcast' is not supported");
    write_one_node(path, 8, "Mul", 3, bc, one, 1);
    expect_import_error(path, "attribute 'broadcast' is not supported");
}
END_TEST

/* Neg of an activation, and Sub of two (x - x), as mul by -1 and add. */
START_TEST(test_neg_sub)
{
    const char *path = ts_tmp_path("neg.onnx");
    float y[6];
    write_one_node(path, 13, "Neg", 0, NULL, NULL, 0);
    run_one(path, y);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(y[i], -(float)i);
    write_one_node(path, 13, "Sub", -1, NULL, NULL, 0);
    run_one(path, y);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(y[i], 0.0f);
}
END_TEST

/* x [N, 2, 3] -> Transpose (no perm: reversed, the batch last) -> t -> op
 * -> y, or y = t when op is NULL. */
static void write_transposed(const char *path, const char *op)
{
    struct pbuf model = {0}, graph = {0}, n1 = {0}, n2 = {0}, opset_id = {0};
    pb_str(&n1, 1, "x");
    pb_str(&n1, 2, op ? "t" : "y");
    pb_str(&n1, 3, "tr");
    pb_str(&n1, 4, "Transpose");
    pb_sub(&graph, 1, &n1);
    if (op) {
        pb_str(&n2, 1, "t");
        pb_str(&n2, 2, "y");
        pb_str(&n2, 3, "n");
        pb_str(&n2, 4, op);
        pb_sub(&graph, 1, &n2);
    }
    pb_str(&graph, 2, "moved");
    int64_t xd[3] = {-1, 2, 3}, yd[3] = {3, 2, -1};
    value_info(&graph, 11, "x", xd, 3);
    value_info(&graph, 12, "y", yd, 3);
    pb_int(&model, 1, 3);
    pb_str(&opset_id, 1, "");
    pb_int(&opset_id, 2, 13);
    pb_sub(&model, 8, &opset_id);
    pb_sub(&model, 7, &graph);
    ts_write_file(path, model.b, model.n);
    free(model.b);
}

/* A Transpose may move the batch; an operator that cannot follow it, or
 * a graph output that keeps it moved, is refused with the reason. */
START_TEST(test_moved_batch_refused)
{
    const char *path = ts_tmp_path("moved.onnx");
    write_transposed(path, "Relu");
    expect_import_error(path, "node 'n' (Relu): input 't' has its batch axis moved");
    write_transposed(path, NULL);
    expect_import_error(path, "output 'y' [3, 2, -1] has its batch axis moved");
}
END_TEST

/* An output that is a graph input passed through (Identity) is a copy. */
START_TEST(test_output_is_input)
{
    const char *path = ts_tmp_path("identity.onnx");
    float y[6];
    write_one_node(path, 13, "Identity", 0, NULL, NULL, 0);
    run_one(path, y);
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(y[i], (float)i);
}
END_TEST

START_TEST(test_input_shape_option)
{
    char *path = fixture("cnn_bn", ".onnx");
    struct onnx_input_shape given = {"image", {.rank = 4, .dims = {1, 1, 28, 28}}};
    struct onnx_import_options o;
    memset(&o, 0, sizeof o);
    o.input_shapes = &given;
    o.n_input_shapes = 1;
    struct graph g;
    /* NCHW order, batch 1 */
    import_ok(&g, path, &o);
    const struct graph_value *in = &g.values[g.inputs[0].value];
    ck_assert_int_eq(in->shape.dims[0], 1);
    ck_assert_int_eq(in->shape.dims[1], 28);
    ck_assert_int_eq(in->shape.dims[3], 1);
    graph_free(&g);
    /* NHWC order is recognised, N keeps the batch open */
    given.shape = (struct quanta_shape){.rank = 4, .dims = {-1, 28, 28, 1}};
    import_ok(&g, path, &o);
    in = &g.values[g.inputs[0].value];
    ck_assert_int_eq(in->shape.dims[0], -1);
    ck_assert_int_eq(in->shape.dims[2], 28);
    graph_free(&g);
    /* contradicting the model */
    given.shape = (struct quanta_shape){.rank = 4, .dims = {1, 3, 28, 28}};
    struct onnx_import_info info;
    struct quanta_error err;
    ck_assert_int_eq(onnx_import_graph(&g, &info, path, &o, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "contradicts"));
    /* naming no input is a usage error */
    given.name = "nope";
    ck_assert_int_eq(onnx_import_graph(&g, &info, path, &o, &err), QUANTA_ERR_USAGE);
    free(path);
}
END_TEST

START_TEST(test_import_file_metadata)
{
    char *path = fixture("dwsep", ".onnx");
    const char *out = ts_tmp_path("dwsep.safetensors");
    struct onnx_import_options o = pixel_options();
    struct quanta_error err;
    ck_assert_msg(onnx_import_file(path, out, &o, &err) == QUANTA_OK, "%s", err.message);
    struct model m;
    ck_assert_int_eq(model_open(&m, out, &err), QUANTA_OK);
    ck_assert(m.has_graph);
    ck_assert_str_eq(st_meta_find(&m.file, "quanta.import.source"), "onnx");
    ck_assert_str_eq(st_meta_find(&m.file, "quanta.import.layout"), "nchw");
    ck_assert_str_eq(st_meta_find(&m.file, "quanta.import.input_shape"), "[-1, 1, 28, 28]");
    ck_assert_str_eq(st_meta_find(&m.file, "quanta.import.opset"), "13");
    /* depthwise conv: groups == channels */
    bool depthwise = false;
    for (int i = 0; i < m.graph.n_nodes; i++)
        depthwise = depthwise || (m.graph.nodes[i].op == GRAPH_OP_CONV2D &&
                                  m.graph.nodes[i].attrs.groups == 16);
    ck_assert(depthwise);
    model_close(&m);
    /* a failed import writes nothing */
    char *bad = fixture("bad-unsupported-op", ".onnx");
    const char *out2 = ts_tmp_path("never.safetensors");
    ck_assert_int_eq(onnx_import_file(bad, out2, NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_null(ts_read_file(out2, NULL));
    free(bad);
    free(path);
}
END_TEST

Suite *suite_onnx_import(void);
Suite *suite_onnx_import(void)
{
    Suite *s = suite_create("onnx_import");
    TCase *tc = tcase_create("fixtures");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fixture_cnn_bn);
    tcase_add_test(tc, test_fixture_residual);
    tcase_add_test(tc, test_fixture_dwsep);
    tcase_add_test(tc, test_fixture_mlp);
    tcase_add_test(tc, test_fixture_ops_mix);
    tcase_add_test(tc, test_fixture_shapes);
    tcase_add_test(tc, test_fixture_opset18);
    tcase_add_test(tc, test_fixture_opset9);
    tcase_add_test(tc, test_fixture_opset10);
    tcase_add_test(tc, test_fixture_rgb_nchw);
    tcase_add_test(tc, test_fixture_embed);
    tcase_add_loop_test(tc, test_fixture_bags, 0, 6);
    tcase_add_test(tc, test_fixture_bag_offsets_needs_length);
    tcase_add_test(tc, test_fixture_textbag);
    tcase_add_test(tc, test_loop_not_a_bag);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("built");
    tcase_add_test(tb, test_conv_auto_pad);
    tcase_add_test(tb, test_tensor_decode);
    tcase_add_test(tb, test_output_layout);
    tcase_add_test(tb, test_legacy_opsets);
    tcase_add_test(tb, test_output_is_input);
    tcase_add_test(tb, test_moved_batch_refused);
    tcase_add_test(tb, test_neg_sub);
    tcase_add_test(tb, test_external_data);
    tcase_add_test(tb, test_bad_fixtures);
    tcase_add_test(tb, test_input_shape_option);
    tcase_add_test(tb, test_import_file_metadata);
    suite_add_tcase(s, tb);
    return s;
}

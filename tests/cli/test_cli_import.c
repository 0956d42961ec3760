/* quanta import, end to end: help, usage errors (exit 2), malformed or
 * unsupported ONNX files (exit 3, one line on stderr, no output file), and
 * imported models run and evaluated, with NCHW data through --layout nchw. */
#include "cli/cli_fixture.h"

#define FX "tests/fixtures/onnx/"

static char *src(const char *rel)
{
    char *p = strdup(ts_src_path(rel));
    ck_assert_ptr_nonnull(p);
    return p;
}

START_TEST(test_import_help)
{
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta("import --help", &out, &errout), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: quanta import"));
    ck_assert_ptr_nonnull(strstr(out, "--input-shape"));
    ck_assert_ptr_nonnull(strstr(out, "BatchNormalization"));
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);
    /* listed by quanta help */
    ck_assert_int_eq(ts_run_quanta("help", &out, &errout), 0);
    ck_assert_ptr_nonnull(strstr(out, "import"));
    free(out);
    free(errout);
}
END_TEST

START_TEST(test_import_usage_errors)
{
    char *model = src(FX "cnn_bn.onnx"), *out = cf_tmp("u.safetensors");
    cf_expect_usage("import", "an ONNX model file is needed");
    cf_expect_usage(cf_args("import %s", model), "-o OUT is needed");
    cf_expect_usage(cf_args("import %s %s -o %s", model, model, out),
                    "only one model file is taken");
    cf_expect_usage(cf_args("import %s -o", model), "option '-o' needs a value");
    cf_expect_usage(cf_args("import %s -o %s -x", model, out), "unknown option '-x'");
    cf_expect_usage(cf_args("import %s -o %s --input-shape image", model, out),
                    "--input-shape 'image' is not NAME=DxDx.. (dims >=");
    cf_expect_usage(cf_args("import %s -o %s --input-shape image=1xx28", model, out),
                    "--input-shape 'image=1xx28' is not NAME=DxDx.. (dims >=");
    cf_expect_usage(cf_args("import %s -o %s --input-shape image=1x0x28x28", model, out),
                    "--input-shape 'image=1x0x28x28' is not NAME=DxDx.. (dims >=");
    cf_expect_usage(cf_args("import %s -o %s --input-shape nope=1x1x28x28", model, out),
                    "--input-shape names 'nope', which is not an input of");
    cf_expect_usage(cf_args("import %s -o %s --normalize 0", model, out),
                    "--normalize '0' is not SCALE[:MEAN,..:STD,..] with SCALE");
    cf_expect_usage(cf_args("import %s -o %s --normalize 1:0.5", model, out),
                    "--normalize '1:0.5' is not SCALE[:MEAN,..:STD,..] with SCALE");
    cf_expect_usage(cf_args("import %s -o %s --normalize 1:0.5:0", model, out),
                    "--normalize '1:0.5:0' is not SCALE[:MEAN,..:STD,..] with SCALE");
    cf_expect_usage(cf_args("import %s -o %s --name=", model, out), "--name must not be empty");
    cf_expect_usage(cf_args("import %s -o %s", model, model),
                    "refusing to overwrite input"); /* -o names the input */
    ck_assert(!cf_file_exists(out));
    free(model);
    free(out);
}
END_TEST

START_TEST(test_import_malformed)
{
    static const struct {
        const char *name, *reason;
    } bad[] = {
        {"bad-truncated", "model: length runs past the end of the enclosing message"},
        {"bad-wiretype", "graph: field 7 (graph) has wire type 0 but 2 is expected"},
        {"bad-length", "model: length runs past the end of the enclosing message"},
        {"bad-group", "model: group fields (wire types 3 and 4) are not supported"},
        {"bad-varint", "model: varint longer than 10 bytes or beyond 64 bits"},
        {"bad-unsupported-op", "operator 'Det' is not supported"},
        {"bad-opset", "opset 5 is not supported (quanta imports opsets 6 to 18)"},
    };
    char *out = cf_tmp("bad.safetensors");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, FX "%s.onnx", bad[i].name);
        char *model = src(rel);
        cf_expect_input_error(cf_args("import %s -o %s", model, out), bad[i].reason);
        ck_assert_msg(!cf_file_exists(out), "%s left an output file", bad[i].name);
        free(model);
    }
    /* the message names the node and the operator */
    char *model = src(FX "bad-unsupported-op.onnx"), *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("import %s -o %s", model, out), NULL, &errout), 3);
    ck_assert_ptr_nonnull(strstr(errout, "node 'the_node' (Det)"));
    free(errout);
    free(model);
    /* a missing file, a safetensors file */
    cf_expect_input_error(cf_args("import %s/none.onnx -o %s", ts_tmp_dir(), out),
                          "cannot open: No such file or directory");
    char *st = cf_tmp("m.safetensors");
    struct cf_weights w;
    cf_default_weights(&w);
    cf_write_model(st, &w, true);
    cf_expect_input_error(cf_args("import %s -o %s", st, out), "model: invalid field number");
    ck_assert(!cf_file_exists(out));
    free(st);
    free(out);
}
END_TEST

/* An operator along the batch axis (Concat on axis 0 of ONNX's own test
 * case, inputs value0 and value1 [2, 2]): refused with any batch size,
 * with a one-line hint; imported once both inputs' shapes are given. */
START_TEST(test_import_fixed_batch_axis)
{
    const char *model = "/usr/share/libonnx-testdata/data/node/test_concat_2d_axis_0/model.onnx";
    if (!cf_file_exists(model))
        TS_SKIP("%s is missing: install the Debian package libonnx-testdata", model);
    char *out = cf_tmp("concat0.safetensors"), *text = NULL;
    cf_expect_input_error(cf_args("import %s -o %s", model, out),
                          "node 0 (Concat): concatenates along the batch axis, whose size is "
                          "any; give every input's shape (--input-shape) to fix it");
    ck_assert(!cf_file_exists(out));
    ck_assert_int_eq(ts_run_quanta(cf_args("import %s -o %s --input-shape value0=2x2 "
                                           "--input-shape value1=2x2", model, out),
                                   NULL, NULL), 0);
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", out), &text, NULL), 0);
    ck_assert_msg(strstr(text, "concat  output  [4, 2]") != NULL, "%s", text);
    free(text);
    free(out);
}
END_TEST

/* Import with the pixel scale, then eval: PyTorch's count on the bundled
 * 1000 images (cnn_bn.reference.json: pytorch_correct_1000). */
START_TEST(test_import_then_eval)
{
    char *model = src(FX "cnn_bn.onnx"), *out = cf_tmp("cnn.safetensors");
    char *images = src("models/data/fmnist-test-1000-images-idx3-ubyte.gz");
    char *ref_path = src(FX "cnn_bn.reference.json");
    char *text = ts_read_file(ref_path, NULL);
    ck_assert_ptr_nonnull(text);
    cJSON *ref = cJSON_Parse(text);
    double expect = cf_num(ref, "pytorch_correct_1000") / 10.0;
    cJSON_Delete(ref);
    free(text);

    char *sout = NULL, *serr = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("import %s -o %s --normalize 0.00392156862745098 "
                                           "--name cnn",
                                           model, out),
                                   &sout, &serr),
                     0);
    ck_assert_str_eq(serr, "");
    free(sout);
    free(serr);
    for (int layout = 0; layout < 2; layout++) {
        cJSON *doc = cf_run_json(cf_args("eval %s --data %s --json --threads 1%s", out, images,
                                         layout ? " --layout nchw" : ""),
                                 0);
        const cJSON *models = cJSON_GetObjectItemCaseSensitive(doc, "models");
        ck_assert(cJSON_IsArray(models));
        ck_assert_double_eq_tol(cf_num(cJSON_GetArrayItem(models, 0), "accuracy"), expect, 1e-9);
        cJSON_Delete(doc);
    }
    cf_expect_usage(cf_args("eval %s --data %s --layout nhcw", out, images),
                    "--layout 'nhcw' is not nchw or nhwc");
    free(model);
    free(out);
    free(images);
    free(ref_path);
}
END_TEST

/* Three channels: an imported model takes NCHW samples, its own layout,
 * without --layout, and matches PyTorch. */
START_TEST(test_import_run_nchw)
{
    char *model = src(FX "rgb.onnx"), *out = cf_tmp("rgb.safetensors");
    char *data = src(FX "rgb.input.npy"), *logits_path = src(FX "rgb.logits.npy");
    char *npy = cf_tmp("rgb-out.npy");
    ck_assert_int_eq(ts_run_quanta(cf_args("import %s -o %s", model, out), NULL, NULL), 0);
    /* --layout nhwc overrides the model's layout: the shapes do not match,
     * and the message says why */
    char *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s --layout nhwc", out, data), NULL,
                                   &errout), 3);
    ck_assert_ptr_nonnull(strstr(errout, "--layout nchw"));
    free(errout);
    cf_expect_usage(cf_args("run %s --data %s --layout xyz", out, data),
                    "--layout 'xyz' is not nchw or nhwc");
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s --output %s --threads 1", out,
                                           data, npy),
                                   NULL, NULL),
                     0);
    struct dataset *a, *b;
    struct quanta_error err;
    ck_assert_int_eq(dataset_open(&a, npy, NULL, &err), QUANTA_OK);
    ck_assert_int_eq(dataset_open(&b, logits_path, NULL, &err), QUANTA_OK);
    ck_assert_int_eq(a->n_samples, b->n_samples);
    int64_t n = a->n_samples * quanta_shape_numel(&a->sample_shape);
    ck_assert_int_eq(n, b->n_samples * quanta_shape_numel(&b->sample_shape));
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    ck_assert(x && y);
    ck_assert_int_eq(dataset_read_f32(a, 0, a->n_samples, NULL, x, &err), QUANTA_OK);
    ck_assert_int_eq(dataset_read_f32(b, 0, b->n_samples, NULL, y, &err), QUANTA_OK);
    for (int64_t i = 0; i < n; i++)
        ck_assert_float_eq_tol(x[i], y[i], 1e-4);
    free(x);
    free(y);
    dataset_close(a);
    dataset_close(b);
    free(model);
    free(out);
    free(data);
    free(logits_path);
    free(npy);
}
END_TEST

Suite *suite_cli_import(void);
Suite *suite_cli_import(void)
{
    Suite *s = suite_create("cli_import");
    TCase *tc = tcase_create("import");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_import_help);
    tcase_add_test(tc, test_import_usage_errors);
    tcase_add_test(tc, test_import_malformed);
    tcase_add_test(tc, test_import_then_eval);
    tcase_add_test(tc, test_import_run_nchw);
    tcase_add_test(tc, test_import_fixed_batch_axis);
    suite_add_tcase(s, tc);
    return s;
}

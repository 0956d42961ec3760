/* quanta run, end to end: options, errors, predictions and probabilities
 * against an independent forward pass, and the NPY output. */
#include "cli/cli_fixture.h"

struct run_fx {
    char *model, *images;
    struct cf_weights w;
    double logits[CF_N][CF_CLASSES];
};

static void run_fx_init(struct run_fx *f)
{
    f->model = cf_tmp("m.safetensors");
    f->images = cf_tmp("run-images-idx3-ubyte");
    cf_default_weights(&f->w);
    cf_write_model(f->model, &f->w, true);
    cf_write_images(f->images);
    for (int i = 0; i < CF_N; i++)
        cf_forward(&f->w, i, f->logits[i]);
}

static void run_fx_free(struct run_fx *f)
{
    free(f->model);
    free(f->images);
}

START_TEST(test_run_help)
{
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta("run --help", &out, &errout), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: quanta run"));
    ck_assert_ptr_nonnull(strstr(out, "--output"));
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);
}
END_TEST

START_TEST(test_run_usage_errors)
{
    struct run_fx f;
    run_fx_init(&f);
    cf_expect_usage("run", "a model file is needed");
    cf_expect_usage(cf_args("run %s", f.model), "--data FILE is needed");
    cf_expect_usage(cf_args("run %s %s --data %s", f.model, f.model, f.images),
                    "only one model file is taken");
    cf_expect_usage(cf_args("run %s --data %s --top 0", f.model, f.images),
                    "--top '0' is not a number in [1, 1048576]");
    cf_expect_usage(cf_args("run %s --data %s --top", f.model, f.images),
                    "option '--top' needs a value");
    cf_expect_usage(cf_args("run %s --data %s --samples 0", f.model, f.images),
                    "--samples '0' is not a number >= 1");
    cf_expect_usage(cf_args("run %s --data %s --batch 1.5", f.model, f.images),
                    "--batch '1.5' is not a number in [1, 1048576]");
    cf_expect_usage(cf_args("run %s --data %s -x", f.model, f.images), "unknown option '-x'");
    cf_expect_usage(cf_args("run %s --data %s --json=yes", f.model, f.images),
                    "unknown option '--json=yes'");
    run_fx_free(&f);
}
END_TEST

START_TEST(test_run_malformed_model)
{
    struct run_fx f;
    run_fx_init(&f);
    char *garbage = cf_tmp("garbage.safetensors");
    ts_write_file(garbage, "\x10\x00\x00\x00\x00\x00\x00\x00{\"a\": 1}", 16);
    cf_expect_input_error(cf_args("run %s --data %s", garbage, f.images),
                          "header length 16 is more than the 8 bytes after it");
    size_t size;
    char *bytes = ts_read_file(f.model, &size);
    ts_write_file(garbage, bytes, size / 2);
    free(bytes);
    cf_expect_input_error(cf_args("run %s --data %s", garbage, f.images),
                          "header length 976 is more than the 554 bytes after it");
    free(garbage);
    run_fx_free(&f);
}
END_TEST

START_TEST(test_run_json_predictions)
{
    struct run_fx f;
    run_fx_init(&f);
    cJSON *doc = cf_run_json(cf_args("run %s --data %s --json --top 2 --batch 3", f.model,
                                     f.images), 0);
    ck_assert_double_eq(cf_num(doc, "samples"), CF_N);
    ck_assert_double_eq(cf_num(doc, "top"), 2);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "output")));
    const cJSON *preds = cJSON_GetObjectItem(doc, "predictions");
    ck_assert_int_eq(cJSON_GetArraySize(preds), CF_N);
    for (int i = 0; i < CF_N; i++) {
        const cJSON *p = cJSON_GetArrayItem(preds, i);
        ck_assert_double_eq(cf_num(p, "sample"), i);
        const cJSON *cls = cJSON_GetObjectItem(p, "classes");
        const cJSON *prob = cJSON_GetObjectItem(p, "probabilities");
        ck_assert_int_eq(cJSON_GetArraySize(cls), 2);
        /* softmax of the hand-computed logits */
        double z = 0.0, pr[CF_CLASSES];
        for (int c = 0; c < CF_CLASSES; c++)
            z += exp(f.logits[i][c]);
        for (int c = 0; c < CF_CLASSES; c++)
            pr[c] = exp(f.logits[i][c]) / z;
        int best = cf_argmax(f.logits[i], CF_CLASSES);
        ck_assert_int_eq(cJSON_GetArrayItem(cls, 0)->valueint, best);
        ck_assert_double_eq_tol(cJSON_GetArrayItem(prob, 0)->valuedouble, pr[best], 1e-5);
        int second = cJSON_GetArrayItem(cls, 1)->valueint;
        ck_assert_int_ne(second, best);
        for (int c = 0; c < CF_CLASSES; c++)
            if (c != best)
                ck_assert(pr[second] >= pr[c]);
        ck_assert_double_eq_tol(cJSON_GetArrayItem(prob, 1)->valuedouble, pr[second], 1e-5);
    }
    cJSON_Delete(doc);

    /* --top beyond the classes is clamped; --samples limits */
    doc = cf_run_json(cf_args("run %s --data %s --json --top 10 --samples 3", f.model, f.images),
                      0);
    ck_assert_double_eq(cf_num(doc, "samples"), 3);
    ck_assert_double_eq(cf_num(doc, "top"), CF_CLASSES);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "predictions")), 3);
    cJSON_Delete(doc);
    run_fx_free(&f);
}
END_TEST

START_TEST(test_run_text)
{
    struct run_fx f;
    run_fx_init(&f);
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s", f.model, f.images), &out, NULL),
                     0);
    /* a header line and one line per sample */
    ck_assert_int_eq(cf_lines(out), 1 + CF_N);
    ck_assert_ptr_nonnull(strstr(out, "sample"));
    free(out);
    run_fx_free(&f);
}
END_TEST

START_TEST(test_run_output_npy)
{
    struct run_fx f;
    run_fx_init(&f);
    char *npy = cf_tmp("out.npy");
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s --output %s --samples 5 --batch 2",
                                           f.model, f.images, npy), &out, &errout), 0);
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);

    struct dataset *ds = NULL;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(dataset_open(&ds, npy, NULL, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(ds->format, DATASET_NPY);
    ck_assert_int_eq(ds->dtype, QUANTA_F32);
    ck_assert_int_eq(ds->n_samples, 5);
    ck_assert_int_eq(ds->sample_shape.rank, 1);
    ck_assert_int_eq(ds->sample_shape.dims[0], CF_CLASSES);
    float got[5 * CF_CLASSES];
    ck_assert_msg(dataset_read_f32(ds, 0, 5, NULL, got, &err) == QUANTA_OK, "%s", err.message);
    for (int i = 0; i < 5; i++)
        for (int c = 0; c < CF_CLASSES; c++)
            ck_assert_double_eq_tol(got[i * CF_CLASSES + c], f.logits[i][c], 1e-5);
    dataset_close(ds);
    free(npy);
    run_fx_free(&f);
}
END_TEST

START_TEST(test_run_output_is_input)
{
    struct run_fx f;
    run_fx_init(&f);
    size_t before_size, after_size;
    char *before = ts_read_file(f.model, &before_size);
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s --output %s", f.model, f.images,
                                           f.model), &out, &errout), 2);
    ck_assert_str_eq(out, "");
    /* a usage error, as quantize and dequantize give: the reason, then the
     * three lines of run's usage */
    ck_assert_ptr_nonnull(strstr(errout, "quanta run: refusing to overwrite input"));
    ck_assert_ptr_nonnull(strstr(errout, "\nusage: quanta run MODEL"));
    ck_assert_int_eq(cf_lines(errout), 4);
    char *after = ts_read_file(f.model, &after_size);
    ck_assert_uint_eq(before_size, after_size);
    ck_assert(memcmp(before, after, before_size) == 0);
    free(before);
    free(after);
    free(out);
    free(errout);
    /* the data file is an input too */
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s --output %s", f.model, f.images,
                                           f.images), NULL, NULL), 2);
    run_fx_free(&f);
}
END_TEST

/* A model whose input has a fixed batch size (3) runs whole batches only:
 * of 7 samples, 6 run and a warning names the 1 left out; eval, calibrate
 * and quantize warn alike. */
START_TEST(test_run_fixed_batch_warns)
{
    char *model = strdup(ts_src_path("tests/fixtures/ops/add_const_fixed_batch.safetensors"));
    char *data = cf_tmp("seven.npy"), *npy = cf_tmp("fixed.out.npy"), *out = NULL, *errs = NULL;
    static float x[7 * 4 * 4 * 2];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = (float)(i % 13) * 0.25f - 1.5f;
    struct quanta_error err = {0};
    struct quanta_shape shape = {4, {7, 4, 4, 2}};
    ck_assert_int_eq(npy_write(data, QUANTA_F32, &shape, x, &err), QUANTA_OK);
    static const char *const warning =
        "the last 1 samples are not run: the model's input has a fixed batch size of 3, and "
        "it runs whole batches only";
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s --output %s --json", model, data,
                                           npy), &out, &errs), 0);
    ck_assert_msg(strstr(errs, warning) != NULL, "%s", errs);
    cJSON *doc = cJSON_Parse(out);
    ck_assert_ptr_nonnull(doc);
    ck_assert_double_eq(cf_num(doc, "samples"), 6);
    cJSON_Delete(doc);
    free(out), free(errs);
    const char *more[] = {"eval %s --data %s", "calibrate %s --data %s -o %s",
                          "quantize %s --data %s -o %s"};
    char *dest = cf_tmp("fixed.out");
    for (size_t i = 0; i < sizeof more / sizeof *more; i++) {
        ck_assert_int_eq(ts_run_quanta(cf_args(more[i], model, data, dest), &out, &errs), 0);
        ck_assert_msg(strstr(errs, warning) != NULL, "%s: %s", more[i], errs);
        free(out), free(errs);
    }
    free(model), free(data), free(npy), free(dest);
}
END_TEST

/* A fixed batch size (3): each sample's classes and output are its own
 * (each sample was read as the whole batch's output, the samples after the
 * first past its end, exit 0); an output whose first axis is not that batch
 * has no samples to report: exit 3. */
START_TEST(test_run_fixed_batch_samples)
{
    char *model = strdup(ts_src_path("tests/fixtures/ops/add_const_fixed_batch.safetensors"));
    char *data = strdup(ts_src_path("tests/fixtures/ops/add_const_fixed_batch.input.npy"));
    char *want = strdup(ts_src_path("tests/fixtures/ops/add_const_fixed_batch.expected.npy"));
    char *got = cf_tmp("fixed.got.npy");
    cJSON *doc = cf_run_json(cf_args("run %s --data %s --output %s --json", model, data, got), 0);
    size_t n;
    float *y = cf_read_npy_f32(want, &n);
    ck_assert_uint_eq(n, 3 * 4 * 4 * 2);
    const cJSON *pred = cJSON_GetObjectItem(doc, "predictions");
    ck_assert_int_eq(cJSON_GetArraySize(pred), 3);
    for (int s = 0; s < 3; s++) {
        int best = 0;
        for (int k = 1; k < 32; k++)
            best = y[s * 32 + k] > y[s * 32 + best] ? k : best;
        const cJSON *classes = cJSON_GetObjectItem(cJSON_GetArrayItem(pred, s), "classes");
        ck_assert_int_eq(cJSON_GetArrayItem(classes, 0)->valueint, best);
    }
    ck_assert_double_le(cf_max_rel_diff(got, want), 1e-6);
    cJSON_Delete(doc);
    free(y);

    /* x [3, 2] -> mean over axis 0 -> [1, 2]: no sample axis */
    static const float x[6] = {1, 2, 3, 4, 5, 6};
    struct st_meta meta[1] = {{"quanta.graph",
        "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"m\", "
        "\"inputs\": [{\"name\": \"x\", \"shape\": [3, 2], \"dtype\": \"F32\"}], "
        "\"outputs\": [\"y\"], \"nodes\": [{\"op\": \"mean\", \"name\": \"m\", "
        "\"inputs\": [\"x\"], \"outputs\": [\"y\"], "
        "\"attrs\": {\"axes\": [0], \"keepdims\": true}}]}"}};
    char *mean = cf_tmp("mean0.safetensors"), *xs = cf_tmp("x32.npy");
    struct quanta_error err = {0};
    ck_assert_msg(st_write_file(mean, NULL, 0, meta, 1, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape shape = {2, {3, 2}};
    ck_assert_int_eq(npy_write(xs, QUANTA_F32, &shape, x, &err), QUANTA_OK);
    static const char *const why = "output 'y' [1, 2] has no sample axis: its first axis is not "
                                   "the batch of 3 samples the model runs";
    cf_expect_input_error(cf_args("run %s --data %s", mean, xs), why);
    cf_expect_input_error(cf_args("eval %s --data %s", mean, xs), why);
    free(model), free(data), free(want), free(got), free(mean), free(xs);
}
END_TEST

START_TEST(test_run_bundled)
{
    static const char *const need[] = {"models/fmnist-cnn.safetensors",
                                       "models/data/fmnist-test-1000-images-idx3-ubyte.gz",
                                       "models/data/fmnist-test-1000-logits.npy"};
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
        if (!cf_file_exists(ts_src_path(need[k])))
            TS_SKIP("%s absent", ts_src_path(need[k]));
    const char *model = ts_src_path("models/fmnist-cnn.safetensors");
    char *m = strdup(model);
    char *d = strdup(ts_src_path("models/data/fmnist-test-1000-images-idx3-ubyte.gz"));
    cJSON *doc = cf_run_json(cf_args("run %s --data %s --samples 10 --top 3 --json", m, d), 0);
    const cJSON *preds = cJSON_GetObjectItem(doc, "predictions");
    ck_assert_int_eq(cJSON_GetArraySize(preds), 10);
    for (int i = 0; i < 10; i++) {
        const cJSON *prob = cJSON_GetObjectItem(cJSON_GetArrayItem(preds, i), "probabilities");
        double p0 = cJSON_GetArrayItem(prob, 0)->valuedouble;
        double p1 = cJSON_GetArrayItem(prob, 1)->valuedouble;
        double p2 = cJSON_GetArrayItem(prob, 2)->valuedouble;
        ck_assert(p0 >= p1 && p1 >= p2 && p2 >= 0.0 && p0 + p1 + p2 <= 1.0 + 1e-6);
    }
    cJSON_Delete(doc);

    /* --output against the logits PyTorch wrote for the same images */
    char *npy = cf_tmp("bundled.npy");
    char *ref = strdup(ts_src_path("models/data/fmnist-test-1000-logits.npy"));
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s --samples 40 --output %s", m, d, npy),
                                   NULL, NULL),
                     0);
    struct dataset *got = NULL, *want = NULL;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(dataset_open(&got, npy, NULL, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_msg(dataset_open(&want, ref, NULL, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(got->n_samples, 40);
    ck_assert(quanta_shape_equal(&got->sample_shape, &want->sample_shape));
    int64_t per = quanta_shape_numel(&got->sample_shape);
    float *a = malloc(40 * (size_t)per * sizeof *a), *b = malloc(40 * (size_t)per * sizeof *b);
    ck_assert(a && b);
    ck_assert(dataset_read_f32(got, 0, 40, NULL, a, &err) == QUANTA_OK);
    ck_assert(dataset_read_f32(want, 0, 40, NULL, b, &err) == QUANTA_OK);
    for (int64_t i = 0; i < 40 * per; i++)
        ck_assert_msg(fabsf(a[i] - b[i]) <= 1e-3f + 1e-4f * fabsf(b[i]),
                      "logit %lld: quanta %g, pytorch %g", (long long)i, a[i], b[i]);
    free(a);
    free(b);
    dataset_close(got);
    dataset_close(want);
    free(npy);
    free(ref);
    free(m);
    free(d);
}
END_TEST

Suite *suite_cli_run(void);
Suite *suite_cli_run(void)
{
    Suite *s = suite_create("cli_run");
    TCase *tc = tcase_create("run");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_run_help);
    tcase_add_test(tc, test_run_usage_errors);
    tcase_add_test(tc, test_run_malformed_model);
    tcase_add_test(tc, test_run_json_predictions);
    tcase_add_test(tc, test_run_text);
    tcase_add_test(tc, test_run_output_npy);
    tcase_add_test(tc, test_run_output_is_input);
    tcase_add_test(tc, test_run_bundled);
    tcase_add_test(tc, test_run_fixed_batch_warns);
    tcase_add_test(tc, test_run_fixed_batch_samples);
    suite_add_tcase(s, tc);
    return s;
}

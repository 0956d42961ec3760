/* The bundled click-through-rate model end to end (models/ctr.*, written by
 * scripts/export_ctr.py from synthetic clicks): three nn.EmbeddingBag
 * tables (user and item, one id a bag, sum; an 8-item history, mean) that
 * hold 99% of the parameters, dense features through an MLP, DLRM's
 * pairwise dot products (a batched matmul, then index_select of the upper
 * triangle: a Gather of indices 1, 2, 3, 6, 7, 11, which import cuts into
 * three slices and a concat), a top MLP and a sigmoid. Four inputs read by
 * name from one safetensors file (ids I32, widened as read), labels the
 * clicks.
 * - import: float within 1e-4 of PyTorch's probabilities; Gather of index
 *   lists with repeated, decreasing and negative indices, along a channel
 *   axis too (tests/fixtures/ctr), equal to numpy's take;
 * - static int8 from 512 calibration impressions, with 8- and 4-bit
 *   tables: files at most 30% and 17% of the float file (issue 12), the
 *   AUC (computed by quanta eval on the 4000 test impressions) within a
 *   bound of float's: measured drops 0.0004 (8-bit) and 0.0012 (4-bit);
 *   the bounds, 0.005 and 0.01, leave a margin of 4x or more and stay
 *   within the one point of AUC the issue allows;
 * - the sigmoid that writes the output runs float on the float output of
 *   the last dense (an int8 table would round the probabilities to 1/255
 *   steps: 161 of the 4000 come out exactly 0, each a log loss of 34.5
 *   nats when it is a click); --int8-outputs keeps the int8 form;
 * - the pairwise dot products run int8 (no dequantize in the model);
 * - the same inputs quantize to the same bytes;
 * - eval --json carries the binary metrics, and its --max-metric-drop gate
 *   fails (exit 1) when set tighter than the measured drop. */
#include "cli/cli_fixture.h"

#include <sys/stat.h>

#define CTR "models/ctr."

static char *src(const char *rel)
{
    return strdup(ts_src_path(rel));
}

static long file_size(const char *path)
{
    struct stat sb;
    ck_assert_msg(stat(path, &sb) == 0, "%s: no such file", path);
    return (long)sb.st_size;
}

static const cJSON *model_at(const cJSON *doc, int i)
{
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "models"), i);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* models/ctr.onnx imported into tmp name. */
static char *import_ctr(const char *name)
{
    char *onnx = src(CTR "onnx"), *model = cf_tmp(name), *errout = NULL;
    int rc = ts_run_quanta(cf_args("import %s -o %s", onnx, model), NULL, &errout);
    ck_assert_msg(rc == 0, "import exited %d: %s", rc, errout);
    free(errout);
    free(onnx);
    return model;
}

/* model quantized (static, calibrated on models/ctr.calib.safetensors) with
 * tables of bits into tmp name. */
static char *quantize_ctr(const char *model, int bits, const char *name)
{
    char *calib = src(CTR "calib.safetensors"), *q = cf_tmp(name), *errout = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s --data %s --embedding-bits %d -o %s --quiet",
                                   model, calib, bits, q),
                           NULL, &errout);
    ck_assert_msg(rc == 0, "quantize (%d-bit tables) exited %d: %s", bits, rc, errout);
    free(errout);
    free(calib);
    return q;
}

START_TEST(test_ctr_float)
{
    char *model = import_ctr("ctr.safetensors");
    char *data = src(CTR "test.safetensors"), *want = src(CTR "probs.npy");
    char *got = cf_tmp("ctr.out.npy"), *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", model), &out, NULL), 0);
    const char *ops[] = {"embedding_bag:sum", "embedding_bag:mean", "matmul", "slice", "concat",
                         "sigmoid"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        ck_assert_msg(strstr(out, ops[i]), "no %s node in:\n%s", ops[i], out);
    free(out);
    int rc = ts_run_quanta(cf_args("run %s --data %s --output %s", model, data, got), NULL, &errout);
    ck_assert_msg(rc == 0, "run exited %d: %s", rc, errout);
    free(errout);
    double rel = cf_max_rel_diff(got, want);
    ck_assert_msg(rel <= 1e-4, "max |quanta - PyTorch| / max |PyTorch| = %g", rel);
    free(model), free(data), free(want), free(got);
}
END_TEST

/* Gather with index lists cut into runs: the same values as numpy's take
 * (slices and a concat only move floats: equal, not close). */
START_TEST(test_ctr_gather_runs)
{
    const char *names[] = {"gather_runs", "gather_runs4d"};
    for (int i = 0; i < 2; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "tests/fixtures/ctr/%s.onnx", names[i]);
        char *onnx = src(rel);
        snprintf(rel, sizeof rel, "tests/fixtures/ctr/%s.input.npy", names[i]);
        char *in = src(rel);
        snprintf(rel, sizeof rel, "tests/fixtures/ctr/%s.expected.npy", names[i]);
        char *want = src(rel);
        char *model = cf_tmp("gather.safetensors"), *got = cf_tmp("gather.out.npy");
        char *errout = NULL;
        int rc = ts_run_quanta(cf_args("import %s -o %s", onnx, model), NULL, &errout);
        ck_assert_msg(rc == 0, "%s: import exited %d: %s", names[i], rc, errout);
        free(errout);
        rc = ts_run_quanta(cf_args("run %s --data %s --output %s", model, in, got), NULL, &errout);
        ck_assert_msg(rc == 0, "%s: run exited %d: %s", names[i], rc, errout);
        free(errout);
        double rel_diff = cf_max_rel_diff(got, want);
        ck_assert_msg(rel_diff == 0.0, "%s: max relative difference %g", names[i], rel_diff);
        free(onnx), free(in), free(want), free(model), free(got);
    }
}
END_TEST

/* The share of clicks in the test file, read here, not from quanta. */
static double click_rate(const char *data)
{
    struct st_file f;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_open(&f, data, &err) == QUANTA_OK, "%s", err.message);
    const struct st_tensor *t = st_find(&f, "labels");
    ck_assert_ptr_nonnull(t);
    ck_assert_int_eq(t->dtype, QUANTA_U8);
    int64_t n = quanta_shape_numel(&t->shape), ones = 0;
    for (int64_t i = 0; i < n; i++)
        ones += ((const uint8_t *)t->data)[i];
    st_close(&f);
    return (double)ones / (double)n;
}

/* eval float against q: the binary task's figures, the AUC drop within
 * max_auc_drop; returns nothing, fails the test otherwise. */
static void check_quantized(const char *model, const char *q, double max_auc_drop)
{
    char *data = src(CTR "test.safetensors");
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json --quiet", model, q, data), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "task")->valuestring, "binary");
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "metric")->valuestring, "auc");
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "output_kind")->valuestring, "prob");
    ck_assert_int_eq((int)cf_num(doc, "samples"), 4000);
    double rate = click_rate(data);
    for (int i = 0; i < 2; i++) {
        const cJSON *m = model_at(doc, i);
        double auc = cf_num(m, "auc"), mean = cf_num(m, "mean_predicted");
        /* the model learned the clicks (the generator's own probabilities
         * score 0.93 on this set, a constant 0.5) */
        ck_assert_msg(auc > 0.80, "model %d: AUC %g", i + 1, auc);
        ck_assert_double_eq_tol(cf_num(m, "observed_rate"), rate, 1e-12);
        ck_assert_msg(fabs(mean - rate) < 0.05, "model %d: mean predicted %g, clicks %g", i + 1,
                      mean, rate);
        ck_assert_msg(cf_num(m, "logloss") > 0.0 && cf_num(m, "logloss") < 0.6,
                      "model %d: log loss %g", i + 1, cf_num(m, "logloss"));
        ck_assert_msg(cf_num(m, "accuracy") > 70.0, "model %d: accuracy %g", i + 1,
                      cf_num(m, "accuracy"));
    }
    double drop = cf_num(model_at(doc, 0), "auc") - cf_num(model_at(doc, 1), "auc");
    ck_assert_double_eq_tol(cf_num(doc, "metric_drop"), drop, 1e-12);
    ck_assert_msg(drop <= max_auc_drop, "%s: AUC drop %g > %g", q, drop, max_auc_drop);
    cJSON_Delete(doc);
    free(data);
}

START_TEST(test_ctr_int8)
{
    char *model = import_ctr("ctr.safetensors");
    char *q8 = quantize_ctr(model, 8, "ctr.int8.safetensors");
    char *q4 = quantize_ctr(model, 4, "ctr.int4.safetensors");
    long f = file_size(model), s8 = file_size(q8), s4 = file_size(q4);
    ck_assert_msg(s8 * 100 <= f * 30, "int8: %ld of %ld bytes (%.1f%%)", s8, f, 100.0 * s8 / f);
    ck_assert_msg(s4 * 100 <= f * 17, "4-bit tables: %ld of %ld bytes (%.1f%%)", s4, f,
                  100.0 * s4 / f);
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", q4), &out, NULL), 0);
    ck_assert_msg(strstr(out, "I4"), "no I4 table in:\n%s", out);
    free(out);
    check_quantized(model, q8, 0.005);
    check_quantized(model, q4, 0.01);
    free(model), free(q8), free(q4);
}
END_TEST

/* How many of the outputs in the NPY file path are exactly 0, and their
 * smallest value. */
static int64_t zeros(const char *path, double *min)
{
    struct dataset *d;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(dataset_open(&d, path, NULL, &err) == QUANTA_OK, "%s", err.message);
    int64_t n = d->n_samples * quanta_shape_numel(&d->sample_shape), z = 0;
    float *x = malloc((size_t)n * sizeof *x);
    ck_assert_ptr_nonnull(x);
    ck_assert(dataset_read_f32(d, 0, d->n_samples, NULL, x, &err) == QUANTA_OK);
    *min = INFINITY;
    for (int64_t i = 0; i < n; i++) {
        z += x[i] == 0.0f;
        *min = fmin(*min, x[i]);
    }
    free(x);
    dataset_close(d);
    return z;
}

START_TEST(test_ctr_sigmoid_output)
{
    char *model = import_ctr("ctr.safetensors");
    char *q = quantize_ctr(model, 8, "ctr.int8.safetensors");
    char *data = src(CTR "test.safetensors"), *calib = src(CTR "calib.safetensors");
    char *got = cf_tmp("ctr.q.npy"), *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", q), &out, NULL), 0);
    ck_assert_msg(strstr(out, "sigmoid             click          "), "%s", out);
    ck_assert_msg(strstr(out, "/top/top.4/Gemm_output_0                [N, 1]      F32"), "%s", out);
    ck_assert_msg(!strstr(out, "click.q"), "%s", out);
    /* the pairwise dot products: an int8 matmul, its output in the
     * interaction concat's parameters (the slices and the concat move
     * bytes), no dequantize left in the model */
    ck_assert_msg(strstr(out, "matmul              /MatMul_output_0                        [N, 4, 4]   I8"),
                  "%s", out);
    ck_assert_msg(!strstr(out, "dequantize"), "%s", out);
    free(out);
    double min_f, min_q;
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s --output %s", model, data, got), NULL,
                                   NULL),
                     0);
    ck_assert_int_eq(zeros(got, &min_f), 0);
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s --output %s", q, data, got), NULL,
                                   NULL),
                     0);
    ck_assert_msg(zeros(got, &min_q) == 0, "int8: exact zeros (smallest float %g)", min_f);
    ck_assert_msg(min_q < 1.0 / 510, "int8: smallest %g, float %g", min_q, min_f);
    /* the int8 form: a 256-entry table into [0, 1], steps of about 1/255 */
    char *q8 = cf_tmp("ctr.int8-outputs.safetensors");
    int rc = ts_run_quanta(cf_args("quantize %s --data %s --int8-outputs -o %s --quiet", model,
                                   calib, q8),
                           NULL, &errout);
    ck_assert_msg(rc == 0, "quantize --int8-outputs exited %d: %s", rc, errout);
    free(errout);
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", q8), &out, NULL), 0);
    ck_assert_msg(strstr(out, "click.q"), "%s", out);
    free(out);
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s --output %s", q8, data, got), NULL,
                                   NULL),
                     0);
    ck_assert_msg(zeros(got, &min_q) > 0, "--int8-outputs: no exact zero (smallest %g)", min_q);
    free(model), free(q), free(q8), free(data), free(calib), free(got);
}
END_TEST

/* The whole of file a equals the whole of file b. */
static void check_same_bytes(const char *a, const char *b)
{
    size_t nx = 0, ny = 0;
    char *x = ts_read_file(a, &nx), *y = ts_read_file(b, &ny);
    ck_assert_msg(x && y, "cannot read %s or %s", a, b);
    ck_assert_msg(nx == ny && memcmp(x, y, nx) == 0, "%s and %s differ", a, b);
    free(x);
    free(y);
}

START_TEST(test_ctr_deterministic)
{
    char *model = import_ctr("ctr.safetensors");
    const int bits[] = {8, 4};
    for (int i = 0; i < 2; i++) {
        char *a = quantize_ctr(model, bits[i], "ctr.a.safetensors");
        char *b = quantize_ctr(model, bits[i], "ctr.b.safetensors");
        check_same_bytes(a, b);
        free(a), free(b);
    }
    free(model);
}
END_TEST

START_TEST(test_ctr_gate)
{
    char *model = import_ctr("ctr.safetensors");
    char *q = quantize_ctr(model, 4, "ctr.int4.safetensors");
    char *data = src(CTR "test.safetensors");
    /* agreement at 0.5 is 100 for the float model against itself and below
     * 100 for the 4-bit one (about 97.6 measured): a drop above 0 */
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json --quiet --metric agreement "
                                     "--max-metric-drop 0",
                                     model, q, data),
                             1);
    double drop = cf_num(doc, "metric_drop");
    ck_assert_msg(drop > 0.0, "agreement drop %g", drop);
    const cJSON *checks = cJSON_GetObjectItem(doc, "checks"), *c;
    bool seen = false;
    cJSON_ArrayForEach(c, checks)
    {
        if (strcmp(cJSON_GetObjectItem(c, "name")->valuestring, "max_metric_drop") == 0) {
            seen = true;
            ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(c, "pass")));
        }
    }
    ck_assert_msg(seen, "no max_metric_drop check");
    cJSON_Delete(doc);
    /* the same gate just above the measured drop passes */
    doc = cf_run_json(cf_args("eval %s %s --data %s --json --quiet --metric agreement "
                              "--max-metric-drop %.17g",
                              model, q, data, drop + 1e-9),
                      0);
    cJSON_Delete(doc);
    free(model), free(q), free(data);
}
END_TEST

Suite *suite_cli_ctr(void);
Suite *suite_cli_ctr(void)
{
    Suite *s = suite_create("cli_ctr");
    TCase *tc = tcase_create("ctr");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_ctr_float);
    tcase_add_test(tc, test_ctr_gather_runs);
    tcase_add_test(tc, test_ctr_int8);
    tcase_add_test(tc, test_ctr_sigmoid_output);
    tcase_add_test(tc, test_ctr_deterministic);
    tcase_add_test(tc, test_ctr_gate);
    suite_add_tcase(s, tc);
    return s;
}

/* quanta quantize on the command line: the adjustments it reports (stderr,
 * metadata, inspect), the check of the int8 model against float
 * (--check-data, --check-samples, --check-db, --strict), and NaN/Inf in
 * calibration data. */
#include "cli/cli_fixture.h"

struct qc {
    char *model, *images, *table, *out;
    struct cf_weights w;
};

static void qc_setup(struct qc *c, const char *tag)
{
    char name[64];
    snprintf(name, sizeof name, "qc-%s.safetensors", tag);
    c->model = cf_tmp(name);
    snprintf(name, sizeof name, "qc-%s-images.idx", tag);
    c->images = cf_tmp(name);
    snprintf(name, sizeof name, "qc-%s.calib.json", tag);
    c->table = cf_tmp(name);
    snprintf(name, sizeof name, "qc-%s.int8.safetensors", tag);
    c->out = cf_tmp(name);
    cf_default_weights(&c->w);
    cf_write_images(c->images);
}

static void qc_free(struct qc *c)
{
    free(c->model);
    free(c->images);
    free(c->table);
    free(c->out);
}

/* Runs quanta; returns the exit code, stderr in *errout (caller frees). */
static int qc_run(const char *args, char **errout)
{
    char *out = NULL;
    int rc = ts_run_quanta(args, &out, errout);
    free(out);
    return rc;
}

static int count_substr(const char *s, const char *what)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, what)); p += strlen(what))
        n++;
    return n;
}

/* fc1's weights and biases ~1e-12: fc1.out is ~1e-12, and fc2's biases
 * (0.05) would be ~1e14 steps of s_in * s_w. */
START_TEST(test_bias_fit_reported)
{
    struct qc c;
    qc_setup(&c, "tiny");
    for (int o = 0; o < 4; o++) {
        for (int k = 0; k < 4; k++)
            c.w.w1[o][k] = fabsf(c.w.w1[o][k]) * 1e-12f + 1e-13f;
        c.w.b1[o] = 0.0f;
    }
    cf_write_model(c.model, &c.w, true);
    char *err = NULL;
    int rc = qc_run(cf_args("quantize %s --data %s -o %s", c.model, c.images, c.out), &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(err, "warning: node 'fc2': weight scale of") &&
                      strstr(err, "so the int32 bias fits"),
                  "stderr: %s", err);
    ck_assert_msg(!strstr(err, "below --check-db"), "the check flagged a layer: %s", err);
    free(err);

    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", c.out), &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "adjustments made by quanta quantize (1):"));
    ck_assert_ptr_nonnull(strstr(out, "node 'fc2': weight scale of"));
    free(out);
    cJSON *doc = cf_run_json(cf_args("inspect %s --json", c.out), 0);
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(doc, "metadata");
    const cJSON *adj = cJSON_GetObjectItemCaseSensitive(meta, "quanta.quantize.adjustments");
    ck_assert(cJSON_IsString(adj));
    ck_assert_ptr_nonnull(strstr(adj->valuestring, "\"rule\":\"bias_fit\""));
    cJSON_Delete(doc);

    /* the int8 model agrees with float */
    doc = cf_run_json(cf_args("eval %s %s --data %s --json", c.model, c.out, c.images), 0);
    ck_assert_msg(cf_num(doc, "sqnr_db") >= 25.0, "sqnr %g", cf_num(doc, "sqnr_db"));
    cJSON_Delete(doc);
    qc_free(&c);
}
END_TEST

/* A calibration table whose range for fc1.out is far too narrow: the int8
 * model saturates there. The check names the layer (exit 0); --strict
 * fails (exit 1) and writes nothing. */
START_TEST(test_check_flags_bad_layer)
{
    struct qc c;
    qc_setup(&c, "bad");
    cf_write_model(c.model, &c.w, true);
    char *err = NULL;
    ck_assert_int_eq(qc_run(cf_args("calibrate %s --data %s -o %s", c.model, c.images, c.table),
                            &err), 0);
    free(err);
    char *json = ts_read_file(c.table, NULL);
    ck_assert_ptr_nonnull(json);
    cJSON *doc = cJSON_Parse(json);
    free(json);
    cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "values"),
                                                "fc1.out");
    ck_assert_ptr_nonnull(v);
    cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(v, "hi"), 0.01);
    char *text = cJSON_Print(doc);
    ts_write_file(c.table, text, strlen(text));
    free(text);
    cJSON_Delete(doc);

    /* without samples, no check */
    int rc = qc_run(cf_args("quantize %s --calib %s -o %s", c.model, c.table, c.out), &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_str_eq(err, "");
    free(err);
    remove(c.out);

    rc = qc_run(cf_args("quantize %s --calib %s --check-data %s -o %s", c.model, c.table,
                        c.images, c.out), &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(err, "warning: layer 'fc1.out' (dense): SQNR ") &&
                      strstr(err, "on 8 samples is below --check-db 10"),
                  "stderr: %s", err);
    ck_assert_int_eq(count_substr(err, "warning: layer 'flat.out'"), 0);
    ck_assert(cf_file_exists(c.out));
    free(err);
    remove(c.out);

    rc = qc_run(cf_args("quantize %s --calib %s --check-data %s --strict -o %s", c.model,
                        c.table, c.images, c.out), &err);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
    ck_assert_ptr_nonnull(strstr(err, "warning: layer 'fc1.out'"));
    ck_assert_ptr_nonnull(strstr(err, "nothing written (--strict)"));
    ck_assert(!cf_file_exists(c.out));
    free(err);

    /* a threshold of -1000 dB lets it pass, --check-samples 0 skips it */
    rc = qc_run(cf_args("quantize %s --calib %s --check-data %s --check-db -1000 --strict -o %s",
                        c.model, c.table, c.images, c.out), &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    free(err);
    remove(c.out);
    rc = qc_run(cf_args("quantize %s --calib %s --check-data %s --check-samples 0 -o %s",
                        c.model, c.table, c.images, c.out), &err);
    ck_assert_msg(rc == 0 && strcmp(err, "") == 0, "exit %d: %s", rc, err);
    free(err);
    qc_free(&c);
}
END_TEST

START_TEST(test_strict_needs_samples)
{
    struct qc c;
    qc_setup(&c, "strict");
    cf_write_model(c.model, &c.w, true);
    char *err = NULL;
    ck_assert_int_eq(qc_run(cf_args("calibrate %s --data %s -o %s", c.model, c.images, c.table),
                            &err), 0);
    free(err);
    int rc = qc_run(cf_args("quantize %s --calib %s --strict -o %s", c.model, c.table, c.out),
                    &err);
    ck_assert_int_eq(rc, 2);
    ck_assert_ptr_nonnull(strstr(err, "--strict needs the check"));
    ck_assert(!cf_file_exists(c.out));
    free(err);
    rc = qc_run(cf_args("quantize %s --data %s --check-samples x -o %s", c.model, c.images,
                        c.out), &err);
    ck_assert_int_eq(rc, 2);
    ck_assert_ptr_nonnull(strstr(err, "--check-samples 'x' is not a number"));
    free(err);
    qc_free(&c);
}
END_TEST

/* NPY float32 [8, 2, 2, 1] with NaN and Inf among the pixels. */
static void write_npy_with_nonfinite(const char *path)
{
    char header[128];
    int len = snprintf(header, sizeof header,
                       "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, 2, 2, 1), }",
                       CF_N);
    int padded = (10 + len + 1 + 63) / 64 * 64 - 10;
    size_t size = 10 + (size_t)padded + CF_N * CF_PIX * sizeof(float);
    unsigned char *buf = malloc(size);
    ck_assert_ptr_nonnull(buf);
    memcpy(buf, "\x93NUMPY\x01\x00", 8);
    buf[8] = (unsigned char)(padded & 0xff);
    buf[9] = (unsigned char)(padded >> 8);
    memset(buf + 10, ' ', (size_t)padded);
    memcpy(buf + 10, header, (size_t)len);
    buf[10 + padded - 1] = '\n';
    float *x = (float *)(buf + 10 + padded);
    for (int i = 0; i < CF_N * CF_PIX; i++)
        x[i] = (float)cf_pixel(i / CF_PIX, i % CF_PIX) / 255.0f;
    x[5] = NAN;
    x[9] = INFINITY;
    x[17] = -INFINITY;
    ts_write_file(path, buf, size);
    free(buf);
}

START_TEST(test_nonfinite_calibration_data)
{
    struct qc c;
    qc_setup(&c, "nan");
    cf_write_model(c.model, &c.w, true);
    char *npy = cf_tmp("qc-nan.npy");
    write_npy_with_nonfinite(npy);
    char *err = NULL;
    int rc = qc_run(cf_args("calibrate %s --data %s -o %s", c.model, npy, c.table), &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_msg(strstr(err, "quanta calibrate: warning: ") &&
                      strstr(err, "value 'image': 3 NaN or infinite elements (of 32) were left "
                                  "out of its range"),
                  "stderr: %s", err);
    free(err);
    char *json = ts_read_file(c.table, NULL);
    ck_assert_ptr_nonnull(json);
    ck_assert_ptr_nonnull(strstr(json, "\"image\": {\"count\": 29, \"nonfinite\": 3,"));
    free(json);
    /* the table reads back, and quantize repeats the warning */
    rc = qc_run(cf_args("quantize %s --calib %s -o %s", c.model, c.table, c.out), &err);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, err);
    ck_assert_ptr_nonnull(strstr(err, "quanta quantize: warning: "));
    ck_assert_ptr_nonnull(strstr(err, "value 'image': 3 NaN or infinite elements"));
    free(err);
    free(npy);
    qc_free(&c);
}
END_TEST

Suite *suite_cli_quantize_check(void);
Suite *suite_cli_quantize_check(void)
{
    Suite *s = suite_create("cli_quantize_check");
    TCase *tc = tcase_create("check");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bias_fit_reported);
    tcase_add_test(tc, test_check_flags_bad_layer);
    tcase_add_test(tc, test_strict_needs_samples);
    tcase_add_test(tc, test_nonfinite_calibration_data);
    suite_add_tcase(s, tc);
    return s;
}

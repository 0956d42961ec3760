/* Every command reads data the same way (quanta/feed.h): an imported
 * model takes its NCHW data in calibrate and quantize as in run and eval,
 * without --layout; a model whose input is token ids calibrates and
 * quantizes (the ids pass through, the float values after them are
 * calibrated). */
#include "cli/cli_fixture.h"

#define FX "tests/fixtures/onnx/"

static char *src(const char *rel)
{
    char *p = strdup(ts_src_path(rel));
    ck_assert_ptr_nonnull(p);
    return p;
}

static void run_ok(const char *args)
{
    char *errout = NULL;
    int rc = ts_run_quanta(args, NULL, &errout);
    ck_assert_msg(rc == 0, "'quanta %s' exited %d: %s", args, rc, errout ? errout : "");
    free(errout);
}

/* calibrate, quantize (which checks int8 against float) and eval of the
 * import of onnx with data, each without --layout; returns eval's JSON. */
static cJSON *import_and_quantize(const char *onnx, const char *data, const char *tag)
{
    char name[64];
    snprintf(name, sizeof name, "feed-%s.safetensors", tag);
    char *model = cf_tmp(name);
    snprintf(name, sizeof name, "feed-%s.calib.json", tag);
    char *table = cf_tmp(name);
    snprintf(name, sizeof name, "feed-%s.int8.safetensors", tag);
    char *q = cf_tmp(name);
    run_ok(cf_args("import %s -o %s", onnx, model));
    run_ok(cf_args("calibrate %s --data %s -o %s", model, data, table));
    char *json = ts_read_file(table, NULL);
    ck_assert_ptr_nonnull(json);
    ck_assert_ptr_nonnull(strstr(json, "\"method\": \"minmax\""));
    free(json);
    char *errout = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s --data %s -o %s --strict", model, data, q), NULL,
                           &errout);
    ck_assert_msg(rc == 0, "quantize exited %d: %s", rc, errout);
    free(errout);
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json", model, q, data), 0);
    free(model);
    free(table);
    free(q);
    return doc;
}

START_TEST(test_nchw_model_everywhere)
{
    char *onnx = src(FX "rgb.onnx"), *data = src(FX "rgb.input.npy");
    cJSON *doc = import_and_quantize(onnx, data, "rgb");
    ck_assert_msg(cf_num(doc, "sqnr_db") >= 25.0, "sqnr %g", cf_num(doc, "sqnr_db"));
    ck_assert(cf_num(doc, "agreement") >= 95.0);
    cJSON_Delete(doc);
    /* --layout nhwc overrides: the [C, H, W] samples no longer fit */
    char *model = cf_tmp("feed-rgb.safetensors"), *table = cf_tmp("feed-rgb2.calib.json");
    char *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("calibrate %s --data %s -o %s --layout nhwc", model,
                                           data, table),
                                   NULL, &errout),
                     3);
    ck_assert_ptr_nonnull(strstr(errout, "(NCHW data: use --layout nchw)"));
    ck_assert(!cf_file_exists(table));
    free(errout);
    free(model);
    free(table);
    free(onnx);
    free(data);
}
END_TEST

START_TEST(test_token_ids_calibrate)
{
    char *onnx = src(FX "embed.onnx"), *data = src(FX "embed.input.npy");
    cJSON *doc = import_and_quantize(onnx, data, "embed");
    ck_assert_msg(cf_num(doc, "sqnr_db") >= 25.0, "sqnr %g", cf_num(doc, "sqnr_db"));
    cJSON_Delete(doc);
    /* the table has the float values after the ids, not the ids */
    char *table = cf_tmp("feed-embed.calib.json");
    char *json = ts_read_file(table, NULL);
    ck_assert_ptr_nonnull(json);
    ck_assert_ptr_nonnull(strstr(json, "\"logits\": {\"count\": "));
    ck_assert_ptr_null(strstr(json, "\"ids\""));
    free(json);
    free(table);
    free(onnx);
    free(data);
}
END_TEST

Suite *suite_cli_data_feed(void);
Suite *suite_cli_data_feed(void)
{
    Suite *s = suite_create("cli_data_feed");
    TCase *tc = tcase_create("feed");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_nchw_model_everywhere);
    tcase_add_test(tc, test_token_ids_calibrate);
    suite_add_tcase(s, tc);
    return s;
}

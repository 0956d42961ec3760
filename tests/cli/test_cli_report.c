/* quanta report, end to end: options and errors, the page's structure (the
 * charts per layer), its summary numbers against quanta eval --json, the
 * class-by-class changes against an independent forward pass, the int8
 * ranges against the model's own scales, and identical bytes for identical
 * inputs. The browser test is test_cli_report_browser.c. */
#include "cli/report_fixture.h"

START_TEST(test_report_help)
{
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta("report --help", &out, &errout), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: quanta report FLOAT QUANT"));
    ck_assert_ptr_nonnull(strstr(out, "--no-latency"));
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);
    ck_assert_int_eq(ts_run_quanta("--help", &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "  report "));
    free(out);
}
END_TEST

START_TEST(test_report_usage_errors)
{
    struct report_fx f;
    report_fx_init(&f, false);
    const char *html = ts_tmp_path("u.html");
    char out[512];
    snprintf(out, sizeof out, "%s", html);
    cf_expect_usage(cf_args("report %s --data %s -o %s", f.model, f.images, out),
                    "a float and a quantized model are needed");
    cf_expect_usage(cf_args("report %s %s %s --data %s -o %s", f.model, f.model2, f.model,
                            f.images, out),
                    "only two model files are compared");
    cf_expect_usage(cf_args("report %s %s -o %s", f.model, f.model2, out),
                    "--data FILE is needed");
    cf_expect_usage(cf_args("report %s %s --data %s", f.model, f.model2, f.images),
                    "-o FILE is needed");
    cf_expect_usage(cf_args("report %s %s --data %s -o %s", f.model, f.model2, f.images,
                            f.model2),
                    "refusing to overwrite input");
    cf_expect_usage(cf_args("report %s %s --data %s -o %s --batch 0", f.model, f.model2,
                            f.images, out),
                    "--batch '0'");
    cf_expect_usage(cf_args("report %s %s --data %s -o %s --colour", f.model, f.model2,
                            f.images, out),
                    "--colour");
    ck_assert(!cf_file_exists(out));
    report_fx_free(&f);
}
END_TEST

START_TEST(test_report_bad_inputs)
{
    struct report_fx f;
    report_fx_init(&f, false);
    char *garbage = cf_tmp("garbage.safetensors");
    ts_write_file(garbage, "not a model", 11);
    char *out = cf_tmp("bad.html");
    cf_expect_input_error(cf_args("report %s %s --data %s -o %s", f.model, garbage, f.images,
                                  out),
                          garbage);
    ck_assert(!cf_file_exists(out));
    char *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("report %s %s --data %s -o /nonexistent-dir/r.html",
                                           f.model, f.model2, f.images),
                                   NULL, &errout),
                     4);
    ck_assert_ptr_nonnull(strstr(errout, "/nonexistent-dir/r.html"));
    free(errout);
    free(garbage);
    free(out);
    report_fx_free(&f);
}
END_TEST

static char *run_report(const char *args, const char *out)
{
    char *stdout_text = NULL, *errout = NULL;
    char line[4096];
    snprintf(line, sizeof line, "report %s -o %s", args, out);
    int rc = ts_run_quanta(line, &stdout_text, &errout);
    ck_assert_msg(rc == 0, "quanta report %s: exit %d: %s", args, rc, errout);
    ck_assert_ptr_nonnull(strstr(stdout_text, out));
    free(stdout_text);
    free(errout);
    char *html = ts_read_file(out, NULL);
    ck_assert_ptr_nonnull(html);
    return html;
}

/* The page holds nothing to fetch and is whole. */
static void check_self_contained(const char *html)
{
    ck_assert_msg(strncmp(html, "<!DOCTYPE html>", 15) == 0, "not HTML: %.40s", html);
    ck_assert_ptr_nonnull(strstr(html, "</html>\n"));
    ck_assert_ptr_null(strstr(html, "http://"));
    ck_assert_ptr_null(strstr(html, "https://"));
    ck_assert_ptr_null(strstr(html, " src="));
    ck_assert_ptr_null(strstr(html, "<link"));
    ck_assert_ptr_null(strstr(html, "@import"));
}

/* Float model against the model with one bias raised: the tiny graph has 3
 * node outputs both name (flat.out, fc1.out, logits) and 2 weights (fc1,
 * fc2). */
START_TEST(test_report_structure_and_summary)
{
    struct report_fx f;
    report_fx_init(&f, false);
    char *out = cf_tmp("r.html");
    char args[2048];
    snprintf(args, sizeof args, "%s %s --data %s --labels %s", f.model, f.model2, f.images,
             f.labels);
    char *html = run_report(cf_args("%s --no-latency", args), out);
    check_self_contained(html);
    ck_assert_int_eq(rf_count(html, NULL, "<svg "), 3 + 2 + 1);
    ck_assert_int_eq(rf_count(html, NULL, "<svg class=\"chart hist act\""), 3);
    ck_assert_int_eq(rf_count(html, NULL, "<svg class=\"chart hist weight\""), 2);
    const char *end;
    const char *bars = rf_element(html, "<svg class=\"chart bars sqnr\"", "</svg>", &end);
    ck_assert_ptr_nonnull(bars);
    ck_assert_int_eq(rf_count(bars, end, "<rect class=\"bar"), 3);
    ck_assert_int_eq(rf_count(html, NULL, "<section class=\"layer\""), 3);
    /* model 2 is float: no int8 range to mark */
    ck_assert_int_eq(rf_count(html, NULL, "class=\"clip\""), 0);
    ck_assert_ptr_null(strstr(html, "ms_per_sample"));

    cJSON *doc = cf_run_json(cf_args("eval %s --json --per-layer", args), 0);
    const cJSON *models = cJSON_GetObjectItem(doc, "models");
    const char *keys[] = {"accuracy", "top5", "logloss", "bytes"};
    for (int k = 0; k < 4; k++) {
        char key[64];
        snprintf(key, sizeof key, "models.%s", keys[k]);
        double v[3];
        ck_assert_int_eq(rf_row(html, key, v, 3), 3);
        for (int i = 0; i < 2; i++)
            ck_assert_msg(v[i] == cf_num(cJSON_GetArrayItem(models, i), keys[k]),
                          "%s of model %d: %.17g in the page, %.17g from eval", keys[k], i,
                          v[i], cf_num(cJSON_GetArrayItem(models, i), keys[k]));
    }
    const char *cmp[] = {"accuracy_drop", "agreement", "kl_divergence", "sqnr_db",
                         "model1_only_correct", "model2_only_correct", "mcnemar_p"};
    for (int k = 0; k < 7; k++) {
        double v;
        ck_assert_int_eq(rf_row(html, cmp[k], &v, 1), 1);
        ck_assert_msg(v == cf_num(doc, cmp[k]), "%s: %.17g in the page, %.17g from eval",
                      cmp[k], v, cf_num(doc, cmp[k]));
    }
    /* the layer table's SQNR column, in graph order */
    const cJSON *pl = cJSON_GetObjectItem(doc, "per_layer");
    ck_assert_int_eq(cJSON_GetArraySize(pl), 3);
    double cells[3 * 7];
    ck_assert_int_eq(rf_table_cells(html, "layer-table", cells, 21), 21);
    for (int i = 0; i < 3; i++) {
        const cJSON *l = cJSON_GetArrayItem(pl, i);
        if (cJSON_IsTrue(cJSON_GetObjectItem(l, "identical"))) { /* JSON has no infinity */
            ck_assert_msg(isinf(cells[i * 7 + 1]) && cells[i * 7 + 1] > 0, "layer %d", i);
            continue;
        }
        double want = cf_num(l, "sqnr_db");
        ck_assert_msg(cells[i * 7 + 1] == want, "layer %d: SQNR %.17g, eval %.17g", i,
                      cells[i * 7 + 1], want);
    }
    cJSON_Delete(doc);

    /* class changes from the tiny model's forward pass in double */
    long long lost[CF_CLASSES][CF_CLASSES] = {{0}}, gained[CF_CLASSES] = {0},
              samples[CF_CLASSES] = {0};
    for (int i = 0; i < CF_N; i++) {
        double l1[CF_CLASSES], l2[CF_CLASSES];
        cf_forward(&f.w1, i, l1);
        cf_forward(&f.w2, i, l2);
        int p1 = cf_argmax(l1, CF_CLASSES), p2 = cf_argmax(l2, CF_CLASSES), y = f.label[i];
        samples[y]++;
        if (p1 == y && p2 != y)
            lost[y][p2]++;
        if (p2 == y && p1 != y)
            gained[y]++;
    }
    long long any = 0;
    double m[CF_CLASSES * CF_CLASSES];
    ck_assert_int_eq(rf_table_cells(html, "lost-matrix", m, CF_CLASSES * CF_CLASSES),
                     CF_CLASSES * CF_CLASSES);
    for (int y = 0; y < CF_CLASSES; y++)
        for (int p = 0; p < CF_CLASSES; p++) {
            ck_assert_msg(m[y * CF_CLASSES + p] == (double)lost[y][p],
                          "label %d, int8 class %d: %g, want %lld", y, p, m[y * CF_CLASSES + p],
                          lost[y][p]);
            any += lost[y][p];
        }
    ck_assert_msg(any > 0, "the fixture should change some predictions");
    double c[CF_CLASSES * 6];
    ck_assert_int_eq(rf_table_cells(html, "class-table", c, CF_CLASSES * 6), CF_CLASSES * 6);
    for (int y = 0; y < CF_CLASSES; y++) {
        ck_assert_double_eq(c[y * 6], y);
        ck_assert_double_eq(c[y * 6 + 1], (double)samples[y]);
        ck_assert_double_eq(c[y * 6 + 4],
                            (double)(lost[y][0] + lost[y][1] + lost[y][2]));
        ck_assert_double_eq(c[y * 6 + 5], (double)gained[y]);
    }
    free(html);
    free(out);
    report_fx_free(&f);
}
END_TEST

START_TEST(test_report_reproducible)
{
    struct report_fx f;
    report_fx_init(&f, true);
    char *a = cf_tmp("a.html"), *b = cf_tmp("b.html"), *c = cf_tmp("c.html");
    char args[2048];
    snprintf(args, sizeof args, "%s %s --data %s --no-latency", f.model, f.int8, f.images);
    char *ha = run_report(args, a);
    char *hb = run_report(cf_args("%s --threads 1", args), b);
    ck_assert_msg(strcmp(ha, hb) == 0, "two runs on the same inputs differ");
    snprintf(args, sizeof args, "%s %s --data %s", f.model, f.int8, f.images);
    char *hc = run_report(args, c);
    double v[3];
    ck_assert_int_eq(rf_row(hc, "models.ms_per_sample", v, 3), 3);
    ck_assert(v[0] >= 0.0 && v[1] >= 0.0);
    ck_assert_int_eq(rf_row(ha, "models.ms_per_sample", v, 3), -1);
    free(ha);
    free(hb);
    free(hc);
    free(a);
    free(b);
    free(c);
    report_fx_free(&f);
}
END_TEST

/* The int8 range marked on each chart is scale * (q - zero point) over the
 * integer type, read here from the model file itself. */
START_TEST(test_report_int8_ranges)
{
    struct report_fx f;
    report_fx_init(&f, true);
    char *out = cf_tmp("q.html");
    char *html = run_report(cf_args("%s %s --data %s --no-latency", f.model, f.int8, f.images),
                            out);
    check_self_contained(html);
    struct model m;
    struct quanta_error err;
    ck_assert_int_eq(model_open(&m, f.int8, &err), QUANTA_OK);
    const char *layer[3] = {"flat.out", "fc1.out", "logits"};
    const char *weight[2] = {"fc1.weight", "fc2.weight"};
    int quantized = 0;
    double cells[3 * 7];
    ck_assert_int_eq(rf_table_cells(html, "layer-table", cells, 21), 21);
    for (int i = 0; i < 3; i++) {
        int v = graph_find_value(&m.graph, layer[i]);
        ck_assert_int_ge(v, 0);
        const struct graph_quant *q = &m.graph.values[v].quant;
        if (q->dtype != QUANTA_I8) {
            ck_assert(isnan(cells[i * 7 + 4]));
            continue;
        }
        quantized++;
        double lo = (double)q->scale * (-128 - q->zero_point);
        double hi = (double)q->scale * (127 - q->zero_point);
        ck_assert_msg(fabs(cells[i * 7 + 4] - lo) <= 1e-9 * fabs(lo) + 1e-12,
                      "%s: int8 min %.17g, want %.17g", layer[i], cells[i * 7 + 4], lo);
        ck_assert_msg(fabs(cells[i * 7 + 5] - hi) <= 1e-9 * fabs(hi) + 1e-12,
                      "%s: int8 max %.17g, want %.17g", layer[i], cells[i * 7 + 5], hi);
    }
    ck_assert_int_ge(quantized, 1); /* fc1.out at least */
    for (int i = 0; i < 2; i++) {
        int v = graph_find_value(&m.graph, weight[i]);
        ck_assert(v >= 0 && m.graph.values[v].quant.dtype == QUANTA_I8);
        quantized++;
    }
    /* how the int8 model was made, from its metadata */
    const char *method = st_meta_find(&m.file, "quanta.calibration.method");
    ck_assert_ptr_nonnull(method);
    char row[256];
    snprintf(row, sizeof row, "<th>calibration method</th><td><code>%s</code>", method);
    ck_assert_msg(strstr(html, row) != NULL, "no row %s", row);
    model_close(&m);
    /* two range lines on each chart of an int8 value */
    ck_assert_int_eq(rf_count(html, NULL, "<line class=\"clip\""), 2 * quantized);
    free(html);
    free(out);
    report_fx_free(&f);
}
END_TEST

/* Without labels: no accuracy, no class changes, the comparison still. */
START_TEST(test_report_no_labels)
{
    struct report_fx f;
    report_fx_init(&f, false);
    char *lonely = cf_tmp("lonely.idx"), *out = cf_tmp("nl.html");
    cf_write_images(lonely);
    char *html = run_report(cf_args("%s %s --data %s --no-latency", f.model, f.model2, lonely),
                            out);
    ck_assert_ptr_nonnull(strstr(html, "Not shown: they need class scores and labels"));
    ck_assert_ptr_null(strstr(html, "id=\"class-table\""));
    ck_assert_ptr_null(strstr(html, "id=\"lost-matrix\""));
    double v[3];
    ck_assert_int_eq(rf_row(html, "models.accuracy", v, 3), -1);
    ck_assert_int_eq(rf_row(html, "agreement", v, 1), 1);
    ck_assert(v[0] > 0.0 && v[0] < 100.0); /* model 2 changes some predictions */
    ck_assert_int_eq(rf_count(html, NULL, "<svg class=\"chart hist act\""), 3);
    free(html);
    free(lonely);
    free(out);
    report_fx_free(&f);
}
END_TEST

static const char *bundled(const char *rel)
{
    static char buf[2][1024];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s", ts_src_path(rel));
    return buf[k];
}

/* The bundled model and its int8 copy: the class changes add up to eval's
 * counts of samples only one model gets right. */
START_TEST(test_report_bundled)
{
    char model[1024], data[1024], calib[1024];
    snprintf(model, sizeof model, "%s", bundled("models/fmnist-cnn.safetensors"));
    snprintf(data, sizeof data, "%s", bundled("models/data/fmnist-test-1000-images-idx3-ubyte.gz"));
    snprintf(calib, sizeof calib, "%s",
             bundled("models/data/fmnist-calib-1000-images-idx3-ubyte.gz"));
    if (!cf_file_exists(model) || !cf_file_exists(data) || !cf_file_exists(calib))
        TS_SKIP("the bundled model or its data is absent under %s", ts_src_dir());
    char *int8 = cf_tmp("fmnist.int8.safetensors"), *out = cf_tmp("fmnist.html");
    char *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("quantize %s --data %s --samples 200 -o %s", model,
                                           calib, int8), NULL, &errout), 0);
    free(errout);
    char args[4096];
    snprintf(args, sizeof args, "%s %s --data %s --samples 300", model, int8, data);
    char *html = run_report(cf_args("%s --no-latency", args), out);
    /* conv1, pool1, conv2, pool2, flatten, fc1, fc2: 4 with weights */
    ck_assert_int_eq(rf_count(html, NULL, "<svg class=\"chart hist act\""), 7);
    ck_assert_int_eq(rf_count(html, NULL, "<svg class=\"chart hist weight\""), 4);
    cJSON *doc = cf_run_json(cf_args("eval %s --json", args), 0);
    double c[10 * 6];
    ck_assert_int_eq(rf_table_cells(html, "class-table", c, 60), 60);
    double samples = 0, lost = 0, gained = 0;
    for (int y = 0; y < 10; y++) {
        samples += c[y * 6 + 1];
        lost += c[y * 6 + 4];
        gained += c[y * 6 + 5];
    }
    ck_assert_double_eq(samples, 300);
    ck_assert_double_eq(lost, cf_num(doc, "model1_only_correct"));
    ck_assert_double_eq(gained, cf_num(doc, "model2_only_correct"));
    double m[100], sum = 0;
    ck_assert_int_eq(rf_table_cells(html, "lost-matrix", m, 100), 100);
    for (int i = 0; i < 100; i++) {
        sum += m[i];
        if (i / 10 == i % 10)
            ck_assert_double_eq(m[i], 0); /* lost means the int8 class is another */
    }
    ck_assert_double_eq(sum, lost);
    cJSON_Delete(doc);
    free(html);
    free(int8);
    free(out);
}
END_TEST

Suite *suite_cli_report(void);
Suite *suite_cli_report(void)
{
    Suite *s = suite_create("cli_report");
    TCase *tc = tcase_create("report");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_report_help);
    tcase_add_test(tc, test_report_usage_errors);
    tcase_add_test(tc, test_report_bad_inputs);
    tcase_add_test(tc, test_report_structure_and_summary);
    tcase_add_test(tc, test_report_reproducible);
    tcase_add_test(tc, test_report_int8_ranges);
    tcase_add_test(tc, test_report_no_labels);
    tcase_add_test(tc, test_report_bundled);
    suite_add_tcase(s, tc);
    return s;
}

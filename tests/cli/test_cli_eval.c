/* quanta eval, end to end: options, errors, accuracy and comparison
 * figures checked against an independent forward pass of a tiny model,
 * gates, and (when the bundled model exists) the real model. */
#include "cli/cli_fixture.h"

#include <unistd.h>

struct eval_fx {
    char *model, *model2, *bag, *images, *labels, *lonely_images;
    struct cf_weights w1, w2;
    int label[CF_N];
    double l1[CF_N][CF_CLASSES], l2[CF_N][CF_CLASSES];
};

/* Model 2 is model 1 with fc2.bias[2] raised by 0.5: it predicts class 2
 * on some samples where model 1 does not. Labels are model 1's
 * predictions except on the last sample. */
static void eval_fx_init(struct eval_fx *f)
{
    memset(f, 0, sizeof *f);
    f->model = cf_tmp("m1.safetensors");
    f->model2 = cf_tmp("m2.safetensors");
    f->bag = cf_tmp("bag.safetensors");
    f->images = cf_tmp("tiny-images-idx3-ubyte");
    f->labels = cf_tmp("tiny-labels-idx1-ubyte");
    f->lonely_images = cf_tmp("lonely.idx");
    cf_default_weights(&f->w1);
    f->w2 = f->w1;
    f->w2.b2[2] += 0.5f;
    cf_write_model(f->model, &f->w1, true);
    cf_write_model(f->model2, &f->w2, true);
    cf_write_model(f->bag, &f->w1, false);
    for (int i = 0; i < CF_N; i++) {
        cf_forward(&f->w1, i, f->l1[i]);
        cf_forward(&f->w2, i, f->l2[i]);
        int p = cf_argmax(f->l1[i], CF_CLASSES);
        f->label[i] = i == CF_N - 1 ? (p + 1) % CF_CLASSES : p;
    }
    cf_write_images(f->images);
    cf_write_images(f->lonely_images);
    cf_write_labels(f->labels, f->label);
}

static void eval_fx_free(struct eval_fx *f)
{
    free(f->model);
    free(f->model2);
    free(f->bag);
    free(f->images);
    free(f->labels);
    free(f->lonely_images);
}

static int correct(const double (*l)[CF_CLASSES], const int *label, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += cf_argmax(l[i], CF_CLASSES) == label[i];
    return c;
}

static int agreeing(const struct eval_fx *f, int n)
{
    int c = 0;
    for (int i = 0; i < n; i++)
        c += cf_argmax(f->l1[i], CF_CLASSES) == cf_argmax(f->l2[i], CF_CLASSES);
    return c;
}

START_TEST(test_eval_help)
{
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta("eval --help", &out, &errout), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: quanta eval"));
    ck_assert_ptr_nonnull(strstr(out, "--min-agreement"));
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);
    ck_assert_int_eq(ts_run_quanta("help eval", &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "--max-drop"));
    free(out);
}
END_TEST

START_TEST(test_eval_usage_errors)
{
    struct eval_fx f;
    eval_fx_init(&f);
    cf_expect_usage("eval", "a model file is needed");
    cf_expect_usage(cf_args("eval %s", f.model), "--data FILE is needed"); /* no --data */
    cf_expect_usage(cf_args("eval %s --data", f.model),
                    "option '--data' needs a value"); /* no value */
    cf_expect_usage(cf_args("eval %s --data %s --bogus", f.model, f.images),
                    "unknown option '--bogus'");
    cf_expect_usage(cf_args("eval %s --data %s --batch 0", f.model, f.images),
                    "--batch '0' is not a number in [1, 1048576]");
    cf_expect_usage(cf_args("eval %s --data %s --batch 12x", f.model, f.images),
                    "--batch '12x' is not a number in [1, 1048576]");
    cf_expect_usage(cf_args("eval %s --data %s --samples -3", f.model, f.images),
                    "--samples '-3' is not a number >= 1");
    cf_expect_usage(cf_args("eval %s --data %s --threads many", f.model, f.images),
                    "--threads 'many' is not a number in [0, 1024]");
    cf_expect_usage(
        cf_args("eval %s %s --data %s --min-agreement 100.0001", f.model, f.model2, f.images),
        "--min-agreement '100.0001' is not a percentage in [0,");
    cf_expect_usage(cf_args("eval %s %s --data %s --max-drop -1", f.model, f.model2, f.images),
                    "--max-drop '-1' is not a number of points");
    cf_expect_usage(cf_args("eval %s %s --data %s --max-drop nan", f.model, f.model2, f.images),
                    "--max-drop 'nan' is not a number of points");
    cf_expect_usage(cf_args("eval %s %s %s --data %s", f.model, f.model2, f.model, f.images),
                    "at most two model files are compared");
    /* gates and --per-layer need a second model */
    cf_expect_usage(cf_args("eval %s --data %s --max-drop 1", f.model, f.images),
                    "--max-drop needs a second model to compare with");
    cf_expect_usage(cf_args("eval %s --data %s --per-layer", f.model, f.images),
                    "--per-layer needs a second model to compare with");
    cf_expect_usage(cf_args("eval %s %s --data %s --significance 1", f.model, f.model2, f.images),
                    "--significance '1' is not a level in (0, 1)");
    cf_expect_usage(cf_args("eval %s %s --data %s --significance 0", f.model, f.model2, f.images),
                    "--significance '0' is not a level in (0, 1)");
    cf_expect_usage(cf_args("eval %s --data %s --significance 0.05", f.model, f.images),
                    "--significance needs a second model to compare with");
    cf_expect_usage(
        cf_args("eval %s %s --data %s --significance 0.05", f.model, f.model2, f.lonely_images),
        "--significance needs labels but none were found for");
    /* --max-drop without labels cannot be checked */
    cf_expect_usage(
        cf_args("eval %s %s --data %s --max-drop 1", f.model, f.model2, f.lonely_images),
        "--max-drop needs labels but none were found for");
    eval_fx_free(&f);
}
END_TEST

START_TEST(test_eval_malformed_model)
{
    struct eval_fx f;
    eval_fx_init(&f);
    char *garbage = cf_tmp("garbage.safetensors");
    char *truncated = cf_tmp("truncated.safetensors");
    char *empty = cf_tmp("empty.safetensors");
    static const char junk[] = "this is not a model file at all, just some text\n";
    ts_write_file(garbage, junk, sizeof junk - 1);
    size_t size;
    char *bytes = ts_read_file(f.model, &size);
    ck_assert_ptr_nonnull(bytes);
    ts_write_file(truncated, bytes, size - 7);
    ts_write_file(empty, "", 0);
    free(bytes);
    cf_expect_input_error(cf_args("eval %s --data %s", garbage, f.images),
                          "header length 2338328219631577204 exceeds the limit of 100000000 bytes");
    cf_expect_input_error(
        cf_args("eval %s --data %s", truncated, f.images),
        "tensor 'fc2.bias': data_offsets [128, 140] end beyond the data buffer of 133 bytes");
    cf_expect_input_error(cf_args("eval %s --data %s", empty, f.images),
                          "file is 0 bytes, shorter than the 8-byte header length");
    cf_expect_input_error(
        cf_args("eval %s %s --data %s", f.model, truncated, f.images),
        "tensor 'fc2.bias': data_offsets [128, 140] end beyond the data buffer of 133 bytes");
    cf_expect_input_error(cf_args("eval %s --data %s", f.bag, f.images),
                          "has no graph, so it cannot run"); /* no graph */
    cf_expect_input_error(
        cf_args("eval %s --data %s", f.model, garbage),
        "header length 2338328219631577204 exceeds the limit of 100000000 bytes"); /* bad data */
    cf_expect_input_error(cf_args("eval %s --data /nonexistent/x.idx", f.model),
                          "cannot open: No such file or directory");
    free(garbage);
    free(truncated);
    free(empty);
    eval_fx_free(&f);
}
END_TEST

START_TEST(test_eval_shape_mismatch)
{
    struct eval_fx f;
    eval_fx_init(&f);
    /* IDX images of 3x3 pixels: the graph wants [2, 2, 1] */
    unsigned char buf[16 + 2 * 9] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 3};
    char *odd = cf_tmp("odd-images-idx3-ubyte");
    ts_write_file(odd, buf, sizeof buf);
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s --data %s", f.model, odd), &out, &errout),
                     3);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(cf_lines(errout), 1);
    ck_assert_ptr_nonnull(strstr(errout, "[3, 3, 1]"));
    ck_assert_ptr_nonnull(strstr(errout, "[2, 2, 1]"));
    free(out);
    free(errout);
    free(odd);
    eval_fx_free(&f);
}
END_TEST

START_TEST(test_eval_one_model_json)
{
    struct eval_fx f;
    eval_fx_init(&f);
    cJSON *doc = cf_run_json(cf_args("eval %s --data %s --json --batch 3", f.model, f.images), 0);
    ck_assert_double_eq(cf_num(doc, "samples"), CF_N);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(doc, "pass")));
    const cJSON *models = cJSON_GetObjectItem(doc, "models");
    ck_assert_int_eq(cJSON_GetArraySize(models), 1);
    const cJSON *m = cJSON_GetArrayItem(models, 0);
    ck_assert_str_eq(cJSON_GetObjectItem(m, "path")->valuestring, f.model);
    double expect = 100.0 * correct((const double(*)[CF_CLASSES])f.l1, f.label, CF_N) / CF_N;
    ck_assert_double_eq_tol(cf_num(m, "accuracy"), expect, 1e-9);
    ck_assert_double_eq_tol(expect, 87.5, 1e-9); /* 7 of 8, by construction */
    ck_assert_double_eq_tol(cf_num(m, "top5"), 100.0, 1e-9); /* 3 classes */
    double ms = cf_num(m, "ms_per_sample");
    ck_assert_msg(isfinite(ms) && ms > 0.0, "ms_per_sample %g", ms);
    size_t size;
    free(ts_read_file(f.model, &size));
    ck_assert_double_eq(cf_num(m, "bytes"), (double)size);
    cJSON_Delete(doc);

    /* --samples limits; explicit --labels is used */
    doc = cf_run_json(cf_args("eval %s --data %s --labels %s --json --samples 4", f.model,
                              f.lonely_images, f.labels), 0);
    ck_assert_double_eq(cf_num(doc, "samples"), 4);
    m = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "models"), 0);
    expect = 100.0 * correct((const double(*)[CF_CLASSES])f.l1, f.label, 4) / 4;
    ck_assert_double_eq_tol(cf_num(m, "accuracy"), expect, 1e-9);
    cJSON_Delete(doc);
    eval_fx_free(&f);
}
END_TEST

START_TEST(test_eval_no_labels)
{
    struct eval_fx f;
    eval_fx_init(&f);
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json", f.model, f.model2,
                                     f.lonely_images), 0);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "models"), 0);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(m, "accuracy")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "accuracy_drop")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "accuracy_drop_ci95")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "mcnemar_p")));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "model1_only_correct")));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "agreement_ci95")), 2);
    ck_assert_double_eq_tol(cf_num(doc, "agreement"), 100.0 * agreeing(&f, CF_N) / CF_N, 1e-9);
    cJSON_Delete(doc);

    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s --data %s", f.model, f.lonely_images), &out,
                                   NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "accuracy"));
    ck_assert_ptr_nonnull(strstr(out, " -\n"));
    free(out);
    eval_fx_free(&f);
}
END_TEST

START_TEST(test_eval_against_itself)
{
    struct eval_fx f;
    eval_fx_init(&f);
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json --per-layer", f.model, f.model,
                                     f.images), 0);
    ck_assert_double_eq(cf_num(doc, "agreement"), 100.0);
    ck_assert_double_eq(cf_num(doc, "accuracy_drop"), 0.0);
    ck_assert_double_eq(cf_num(doc, "kl_divergence"), 0.0);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "sqnr_db"))); /* infinite */
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(doc, "identical_outputs")));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(doc, "pass")));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "models")), 2);
    const cJSON *pl = cJSON_GetObjectItem(doc, "per_layer");
    ck_assert_int_eq(cJSON_GetArraySize(pl), 3);
    cJSON_Delete(doc);
    eval_fx_free(&f);
}
END_TEST

START_TEST(test_eval_compare)
{
    struct eval_fx f;
    eval_fx_init(&f);
    int agree = agreeing(&f, CF_N);
    ck_assert_msg(agree > 0 && agree < CF_N, "fixture: models should disagree on some samples");
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json --per-layer --batch 5", f.model,
                                     f.model2, f.images), 0);
    ck_assert_double_eq(cf_num(doc, "samples"), CF_N);
    double acc1 = 100.0 * correct((const double(*)[CF_CLASSES])f.l1, f.label, CF_N) / CF_N;
    double acc2 = 100.0 * correct((const double(*)[CF_CLASSES])f.l2, f.label, CF_N) / CF_N;
    ck_assert_double_eq_tol(cf_num(doc, "accuracy_drop"), acc1 - acc2, 1e-9);
    ck_assert_double_eq_tol(cf_num(doc, "agreement"), 100.0 * agree / CF_N, 1e-9);
    const cJSON *models = cJSON_GetObjectItem(doc, "models");
    ck_assert_double_eq_tol(cf_num(cJSON_GetArrayItem(models, 1), "accuracy"), acc2, 1e-9);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(models, 1), "path")->valuestring,
                     f.model2);

    /* KL(softmax(l1) || softmax(l2)) and SQNR, by hand */
    double kl = 0.0, sig = 0.0, noise = 0.0;
    for (int i = 0; i < CF_N; i++) {
        double z1 = 0.0, z2 = 0.0;
        for (int c = 0; c < CF_CLASSES; c++) {
            z1 += exp(f.l1[i][c]);
            z2 += exp(f.l2[i][c]);
            sig += f.l1[i][c] * f.l1[i][c];
            noise += (f.l1[i][c] - f.l2[i][c]) * (f.l1[i][c] - f.l2[i][c]);
        }
        for (int c = 0; c < CF_CLASSES; c++) {
            double p = exp(f.l1[i][c]) / z1, q = exp(f.l2[i][c]) / z2;
            kl += p * log(p / q);
        }
    }
    ck_assert_double_eq_tol(cf_num(doc, "kl_divergence"), kl / CF_N, 1e-5);
    ck_assert_double_eq_tol(cf_num(doc, "sqnr_db"), 10.0 * log10(sig / noise), 1e-3);

    /* per layer, in graph order: flat.out and fc1.out are identical (only
     * fc2.bias differs), logits match the output SQNR */
    const cJSON *pl = cJSON_GetObjectItem(doc, "per_layer");
    ck_assert_int_eq(cJSON_GetArraySize(pl), 3);
    static const char *const names[] = {"flat.out", "fc1.out", "logits"};
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(pl, i), "value")->valuestring,
                         names[i]);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetArrayItem(pl, 1), "sqnr_db")));
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetArrayItem(pl, 1), "identical")));
    ck_assert_double_eq_tol(cf_num(cJSON_GetArrayItem(pl, 2), "sqnr_db"),
                            10.0 * log10(sig / noise), 1e-3);
    cJSON_Delete(doc);

    /* the text report names both files and the comparison rows */
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --per-layer", f.model, f.model2,
                                           f.images), &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, f.model2));
    ck_assert_ptr_nonnull(strstr(out, "agreement"));
    ck_assert_ptr_nonnull(strstr(out, "KL divergence"));
    ck_assert_ptr_nonnull(strstr(out, "fc1.out"));
    free(out);
    eval_fx_free(&f);
}
END_TEST

START_TEST(test_eval_gates)
{
    struct eval_fx f;
    eval_fx_init(&f);
    double acc1 = 100.0 * correct((const double(*)[CF_CLASSES])f.l1, f.label, CF_N) / CF_N;
    double acc2 = 100.0 * correct((const double(*)[CF_CLASSES])f.l2, f.label, CF_N) / CF_N;
    double agree = 100.0 * agreeing(&f, CF_N) / CF_N;
    ck_assert_msg(acc1 - acc2 > 1.0, "fixture: model 2 should be worse");
    char expect[256];

    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --min-agreement 100", f.model,
                                           f.model2, f.images), &out, &errout), 1);
    snprintf(expect, sizeof expect,
             "quanta: check failed: agreement %.2f%% is below --min-agreement 100\n", agree);
    ck_assert_str_eq(errout, expect);
    ck_assert_ptr_nonnull(strstr(out, "agreement")); /* the report is still printed */
    free(out);
    free(errout);

    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --max-drop 0.5", f.model,
                                           f.model2, f.images), NULL, &errout), 1);
    snprintf(expect, sizeof expect,
             "quanta: check failed: accuracy drop %.2f points exceeds --max-drop 0.5\n",
             acc1 - acc2);
    ck_assert_str_eq(errout, expect);
    free(errout);

    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json --max-drop 0.5", f.model,
                                     f.model2, f.images), 1);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(doc, "pass")));
    cJSON_Delete(doc);

    /* thresholds the models meet pass */
    doc = cf_run_json(cf_args("eval %s %s --data %s --json --max-drop %.3f --min-agreement %.3f",
                              f.model, f.model2, f.images, acc1 - acc2 + 0.01, agree - 0.01), 0);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(doc, "pass")));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "checks")), 2);
    cJSON_Delete(doc);
    /* a model against itself passes the strictest gates */
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --max-drop 0 --min-agreement 100",
                                           f.model, f.model, f.images), NULL, NULL), 0);
    eval_fx_free(&f);
}
END_TEST

/* Exact two-sided binomial test by its definition (all outcomes at most as
 * likely as the observed one), summed over the few pairs of the fixture. */
static double binomial_two_sided(int b, int c)
{
    int n = b + c;
    double pmf[CF_N + 1], observed, p = 0.0;
    for (int j = 0; j <= n; j++) {
        double comb = 1.0;
        for (int i = 1; i <= j; i++)
            comb = comb * (n - j + i) / i;
        pmf[j] = comb / pow(2.0, n);
    }
    observed = pmf[b];
    for (int j = 0; j <= n; j++)
        if (pmf[j] <= observed * (1.0 + 1e-12))
            p += pmf[j];
    return p < 1.0 ? p : 1.0;
}

START_TEST(test_eval_significance)
{
    struct eval_fx f;
    eval_fx_init(&f);
    int b = 0, c = 0;
    for (int i = 0; i < CF_N; i++) {
        bool r1 = cf_argmax(f.l1[i], CF_CLASSES) == f.label[i];
        bool r2 = cf_argmax(f.l2[i], CF_CLASSES) == f.label[i];
        b += r1 && !r2;
        c += r2 && !r1;
    }
    ck_assert_msg(b > c, "fixture: model 2 should lose samples model 1 gets right");
    double p = binomial_two_sided(b, c);
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json", f.model, f.model2, f.images),
                             0);
    ck_assert_double_eq(cf_num(doc, "model1_only_correct"), b);
    ck_assert_double_eq(cf_num(doc, "model2_only_correct"), c);
    ck_assert_double_eq_tol(cf_num(doc, "mcnemar_p"), p, 1e-12);
    /* the intervals hold their estimates and stay within the possible range */
    const cJSON *ci = cJSON_GetObjectItem(doc, "accuracy_drop_ci95");
    ck_assert_int_eq(cJSON_GetArraySize(ci), 2);
    double lo = cJSON_GetArrayItem(ci, 0)->valuedouble, hi = cJSON_GetArrayItem(ci, 1)->valuedouble;
    double drop = cf_num(doc, "accuracy_drop");
    ck_assert(lo < drop && drop < hi && lo >= -100.0 && hi <= 100.0);
    ci = cJSON_GetObjectItem(doc, "agreement_ci95");
    lo = cJSON_GetArrayItem(ci, 0)->valuedouble;
    hi = cJSON_GetArrayItem(ci, 1)->valuedouble;
    double agree = cf_num(doc, "agreement");
    ck_assert(lo < agree && agree < hi && lo >= 0.0 && hi <= 100.0);
    cJSON_Delete(doc);

    /* the gate: a drop of more than 1 point passes while it is not
     * significant at the level, fails once it is */
    char *errout = NULL, expect[256];
    doc = cf_run_json(cf_args("eval %s %s --data %s --json --max-drop 0.5 --significance %.17g",
                              f.model, f.model2, f.images, p * 0.999), 0);
    const cJSON *chk = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "checks"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(chk, "name")->valuestring, "max_drop");
    ck_assert_double_eq_tol(cf_num(chk, "p_value"), p, 1e-12);
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(chk, "pass")));
    cJSON_Delete(doc);
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --max-drop 0.5 --significance "
                                           "%.17g", f.model, f.model2, f.images, p * 1.001),
                                   NULL, &errout), 1);
    snprintf(expect, sizeof expect,
             "quanta: check failed: accuracy drop %.2f points exceeds --max-drop 0.5 and is "
             "significant (McNemar p %.3g < --significance %g)\n", drop, p, p * 1.001);
    ck_assert_str_eq(errout, expect);
    free(errout);
    /* alone: any significant drop fails, as --max-drop 0 */
    doc = cf_run_json(cf_args("eval %s %s --data %s --json --significance %.17g", f.model,
                              f.model2, f.images, p * 1.001), 1);
    chk = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "checks"), 0);
    ck_assert_double_eq(cf_num(chk, "threshold"), 0.0);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(chk, "pass")));
    cJSON_Delete(doc);
    /* but not a drop above the budget */
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --max-drop %.3f --significance "
                                           "0.999", f.model, f.model2, f.images, drop + 0.01),
                                   NULL, NULL), 0);
    /* a model against itself: b = c = 0, p = 1, an interval around 0 */
    doc = cf_run_json(cf_args("eval %s %s --data %s --json --significance 0.5", f.model, f.model,
                              f.images), 0);
    ck_assert_double_eq(cf_num(doc, "mcnemar_p"), 1.0);
    ci = cJSON_GetObjectItem(doc, "accuracy_drop_ci95");
    ck_assert(cJSON_GetArrayItem(ci, 0)->valuedouble < 0.0);
    ck_assert(cJSON_GetArrayItem(ci, 1)->valuedouble > 0.0);
    cJSON_Delete(doc);

    /* the text report shows the interval, the test and the gate */
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --significance 0.999", f.model,
                                           f.model2, f.images), &out, NULL), 1);
    ck_assert_ptr_nonnull(strstr(out, "drop 95% CI"));
    snprintf(expect, sizeof expect, "(%d vs %d)", b, c);
    ck_assert_ptr_nonnull(strstr(out, expect));
    ck_assert_ptr_nonnull(strstr(out, "agreement 95% CI"));
    ck_assert_ptr_nonnull(strstr(out, "--significance 0.999"));
    free(out);
    eval_fx_free(&f);
}
END_TEST

/* ---- the bundled model, when it is in the tree ---- */

static const char *bundled_model(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s", ts_src_path("models/fmnist-cnn.safetensors"));
    return path;
}

static const char *bundled_data(void)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s",
             ts_src_path("models/data/fmnist-test-1000-images-idx3-ubyte.gz"));
    return path;
}

/* A copy of the bundled model with the last node's weight negated. */
static void write_perturbed(const char *path)
{
    struct model m;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(model_open(&m, bundled_model(), &err) == QUANTA_OK, "%s", err.message);
    struct graph *g = &m.graph;
    int w = -1;
    for (int i = g->n_nodes - 1; i >= 0 && w < 0; i--)
        for (int k = 0; k < g->nodes[i].n_inputs; k++) {
            int v = g->nodes[i].inputs[k];
            if (v >= 0 && g->values[v].kind == GRAPH_VALUE_CONST &&
                g->values[v].dtype == QUANTA_F32 && g->values[v].shape.rank >= 2) {
                w = v;
                break;
            }
        }
    ck_assert_int_ge(w, 0);
    struct graph_value *v = &g->values[w];
    size_t n = (size_t)quanta_shape_numel(&v->shape);
    float *copy = malloc(n * sizeof *copy);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, v->data, n * sizeof *copy);
    for (size_t i = 0; i < n; i++)
        copy[i] = -copy[i];
    free(v->owned);
    v->owned = copy;
    v->data = copy;
    ck_assert_msg(graph_save(g, path, m.file.meta, m.file.n_meta, &err) == QUANTA_OK, "%s",
                  err.message);
    model_close(&m);
}

/* The accuracy PyTorch measured on the bundled 1000 test images
 * (models/fmnist-cnn.reference.json, test_1000.correct). */
static double reference_accuracy_1000(void)
{
    char *text = ts_read_file(ts_src_path("models/fmnist-cnn.reference.json"), NULL);
    ck_assert_ptr_nonnull(text);
    cJSON *doc = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(doc);
    const cJSON *t = cJSON_GetObjectItem(doc, "test_1000");
    double acc = 100.0 * cf_num(t, "correct") / cf_num(t, "total");
    cJSON_Delete(doc);
    return acc;
}

START_TEST(test_eval_bundled_accuracy)
{
    if (!cf_file_exists(bundled_model()) || !cf_file_exists(bundled_data()) ||
        !cf_file_exists(ts_src_path("models/fmnist-cnn.reference.json")))
        TS_SKIP("the bundled model, its data or models/fmnist-cnn.reference.json is absent "
                "under %s", ts_src_dir());
    double expect = reference_accuracy_1000();
    cJSON *doc = cf_run_json(cf_args("eval %s --data %s --json", bundled_model(), bundled_data()),
                             0);
    ck_assert_double_eq(cf_num(doc, "samples"), 1000);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "models"), 0);
    ck_assert_double_eq_tol(cf_num(m, "accuracy"), expect, 1e-9);
    cJSON_Delete(doc);
}
END_TEST

START_TEST(test_eval_bundled)
{
    if (!cf_file_exists(bundled_model()) || !cf_file_exists(bundled_data()))
        TS_SKIP("the bundled model or its data is absent under %s", ts_src_dir());
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --samples 200 --json", bundled_model(),
                                     bundled_model(), bundled_data()), 0);
    ck_assert_double_eq(cf_num(doc, "samples"), 200);
    ck_assert_double_eq(cf_num(doc, "agreement"), 100.0);
    ck_assert_double_eq(cf_num(doc, "accuracy_drop"), 0.0);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "models"), 0);
    ck_assert_msg(cf_num(m, "accuracy") > 60.0, "the trained model should beat chance by far");
    cJSON_Delete(doc);

    char *perturbed = cf_tmp("perturbed.safetensors");
    write_perturbed(perturbed);
    char *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --samples 200 --min-agreement 99",
                                           bundled_model(), perturbed, bundled_data()),
                                   NULL, &errout),
                     1);
    ck_assert_ptr_nonnull(strstr(errout, "quanta: check failed: agreement"));
    ck_assert_int_eq(cf_lines(errout), 1);
    free(errout);
    free(perturbed);
}
END_TEST

Suite *suite_cli_eval(void);
Suite *suite_cli_eval(void)
{
    Suite *s = suite_create("cli_eval");
    TCase *tc = tcase_create("eval");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_eval_help);
    tcase_add_test(tc, test_eval_usage_errors);
    tcase_add_test(tc, test_eval_malformed_model);
    tcase_add_test(tc, test_eval_shape_mismatch);
    tcase_add_test(tc, test_eval_one_model_json);
    tcase_add_test(tc, test_eval_no_labels);
    tcase_add_test(tc, test_eval_against_itself);
    tcase_add_test(tc, test_eval_compare);
    tcase_add_test(tc, test_eval_gates);
    tcase_add_test(tc, test_eval_significance);
    tcase_add_test(tc, test_eval_bundled);
    tcase_add_test(tc, test_eval_bundled_accuracy);
    suite_add_tcase(s, tc);
    return s;
}

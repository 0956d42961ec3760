/* Calibration method auto: the fake quantizer against quantize's own
 * parameter rule, the per-value choice on a model built here (checked
 * against errors this file computes itself), determinism, and the table's
 * per-value "method" key.
 *
 * The model: x [-1, 64]; a = x[:, 0:32] (levels k/255, so minmax
 * represents it exactly) feeds a dense z = a W^T + c; b = x[:, 32:64]
 * (normal, with 1% of its elements at -50) feeds r = relu(b), where the
 * negative outliers do not matter: a clipped range serves r better. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib/calib_auto.h"
#include "quanta/calib.h"
#include "quanta/quanta.h"
#include "quanta/quantize.h"
#include "support/test_support.h"

#define N_SAMPLES 300
#define WIDTH 64
#define HALF 32
#define OUT 16

static const char graph_json[] =
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"auto\","
    " \"inputs\": [{\"name\": \"x\", \"shape\": [-1, 64], \"dtype\": \"F32\"}],"
    " \"outputs\": [\"z\", \"r\"],"
    " \"nodes\": ["
    "  {\"op\": \"slice\", \"name\": \"sa\", \"inputs\": [\"x\"], \"outputs\": [\"a\"],"
    "   \"attrs\": {\"shape\": [-1, 32], \"starts\": [0, 0]}},"
    "  {\"op\": \"slice\", \"name\": \"sb\", \"inputs\": [\"x\"], \"outputs\": [\"b\"],"
    "   \"attrs\": {\"shape\": [-1, 32], \"starts\": [0, 32]}},"
    "  {\"op\": \"dense\", \"name\": \"fc\", \"inputs\": [\"a\", \"fc.weight\", \"fc.bias\"],"
    "   \"outputs\": [\"z\"]},"
    "  {\"op\": \"relu\", \"name\": \"act\", \"inputs\": [\"b\"], \"outputs\": [\"r\"]}]}";

static float w[OUT * HALF], bias[OUT];
static float x[N_SAMPLES * WIDTH];
static char model_path[512], data_path[512];

static float normal(uint64_t *s)
{
    double u1 = ((double)(ts_next(s) >> 11) + 1) * 0x1p-53;
    double u2 = (double)(ts_next(s) >> 11) * 0x1p-53;
    return (float)(sqrt(-2 * log(u1)) * cos(6.283185307179586 * u2));
}

static void make_files(void)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    ts_fill(&s, w, OUT * HALF, -0.5f, 0.5f);
    ts_fill(&s, bias, OUT, -0.1f, 0.1f);
    for (int i = 0; i < N_SAMPLES; i++)
        for (int j = 0; j < WIDTH; j++) {
            float *v = &x[i * WIDTH + j];
            if (j < HALF)
                *v = (float)(ts_next(&s) % 256) / 255.0f;
            else
                *v = ts_next(&s) % 100 == 0 ? -50.0f : normal(&s);
        }
    x[0] = 0; /* the extremes of a are there */
    x[1] = 1;
    struct st_tensor_desc t[2] = {
        {"fc.weight", QUANTA_F32, {.rank = 2, .dims = {OUT, HALF}}, w},
        {"fc.bias", QUANTA_F32, {.rank = 1, .dims = {OUT}}, bias},
    };
    struct st_meta meta = {"quanta.graph", graph_json};
    struct quanta_error err = {0};
    snprintf(model_path, sizeof model_path, "%s", ts_tmp_path("auto.safetensors"));
    ck_assert_msg(st_write_file(model_path, t, 2, &meta, 1, &err) == QUANTA_OK, "%s", err.message);
    struct quanta_shape shape = {.rank = 2, .dims = {N_SAMPLES, WIDTH}};
    snprintf(data_path, sizeof data_path, "%s", ts_tmp_path("x.npy"));
    ck_assert_msg(npy_write(data_path, QUANTA_F32, &shape, x, &err) == QUANTA_OK, "%s", err.message);
}

/* calib_run (method m, or auto with detail) over the files. */
static void calibrate(enum calib_method m, int threads, struct calib_table *t,
                      struct calib_auto_value **detail)
{
    struct model model;
    struct data_feed feed = {0};
    struct quanta_error err = {0};
    struct calib_options opt;
    calib_options_default(&opt);
    opt.method = m;
    opt.threads = threads;
    opt.batch = 64; /* the last batch is partial */
    ck_assert_msg(model_open(&model, model_path, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_msg(data_feed_open(&feed, &model.graph, data_path, 0, opt.batch, QUANTA_LAYOUT_NHWC,
                                 &err) == QUANTA_OK,
                  "%s", err.message);
    enum quanta_status st = detail ? calib_run_auto(&model.graph, &feed, &opt, t, detail, &err)
                                   : calib_run(&model.graph, &feed, &opt, t, &err);
    ck_assert_msg(st == QUANTA_OK, "%s", err.message);
    data_feed_close(&feed);
    model_close(&model);
}

/* This file's own int8 fake quantization, with quantize's parameters. */
static double fq(double v, float scale, int32_t zp)
{
    double q = round(v / (double)scale) + zp;
    q = q < -128 ? -128 : q > 127 ? 127 : q;
    return (double)scale * (q - zp);
}

static void params_of(const struct calib_value *cv, float *scale, int32_t *zp)
{
    struct quanta_error err = {0};
    ck_assert_int_eq(quantize_choose_params((float)cv->lo, (float)cv->hi, QUANTA_I8,
                                            QUANTIZE_ASYMMETRIC, scale, zp, &err),
                     QUANTA_OK);
}

/* Squared error at the readers' outputs of value a (the dense) and b (the
 * relu) when quantized with t's ranges; signal likewise. */
static void reader_errors(const struct calib_table *t, double *err_a, double *err_b,
                          double *sig_a, double *sig_b)
{
    float sa, sb;
    int32_t za, zb;
    params_of(calib_table_find(t, "a"), &sa, &za);
    params_of(calib_table_find(t, "b"), &sb, &zb);
    *err_a = *err_b = *sig_a = *sig_b = 0;
    for (int i = 0; i < N_SAMPLES; i++) {
        const float *row = &x[i * WIDTH];
        for (int o = 0; o < OUT; o++) {
            double y = bias[o], yq = bias[o];
            for (int k = 0; k < HALF; k++) {
                y += (double)w[o * HALF + k] * row[k];
                yq += (double)w[o * HALF + k] * (float)fq(row[k], sa, za);
            }
            *err_a += (yq - y) * (yq - y);
            *sig_a += y * y;
        }
        for (int k = HALF; k < WIDTH; k++) {
            double r = row[k] > 0 ? row[k] : 0, q = fq(row[k], sb, zb);
            double rq = q > 0 ? q : 0;
            *err_b += (rq - r) * (rq - r);
            *sig_b += r * r;
        }
    }
}

START_TEST(test_calib_auto_fake_quant_matches_quantize)
{
    uint64_t s = 7;
    for (int i = 0; i < 2000; i++) {
        double lo = i % 7 == 0 ? 0 : ts_uniform(&s, -5, 1);
        double hi = lo + ts_uniform(&s, 0, 8);
        if (i % 11 == 0)
            hi = lo; /* width 0 */
        if (i % 13 == 0) {
            lo *= 1e-30;
            hi *= 1e-30;
        }
        float s1, s2;
        int32_t z1, z2;
        struct quanta_error err = {0};
        calib_fake_quant_params(lo, hi, &s1, &z1);
        ck_assert_int_eq(quantize_choose_params((float)lo, (float)hi, QUANTA_I8,
                                                QUANTIZE_ASYMMETRIC, &s2, &z2, &err),
                         QUANTA_OK);
        ck_assert_msg(s1 == s2 && z1 == z2, "[%g, %g]: %g/%d vs quantize %g/%d", lo, hi,
                      (double)s1, z1, (double)s2, z2);
        double v = ts_uniform(&s, -10, 10);
        ck_assert(calib_fake_quant(v, s1, z1) == fq(v, s2, z2));
    }
}
END_TEST

START_TEST(test_calib_auto_picks_per_value_and_beats_each_method)
{
    make_files();
    struct calib_table single[CALIB_METHOD_COUNT], autot;
    struct calib_auto_value *detail = NULL;
    for (int m = 0; m < CALIB_METHOD_COUNT; m++)
        calibrate((enum calib_method)m, 1, &single[m], NULL);
    calibrate(CALIB_AUTO, 1, &autot, &detail);
    ck_assert_int_eq(autot.method, CALIB_AUTO);
    const struct calib_value *a = calib_table_find(&autot, "a"), *b = calib_table_find(&autot, "b");
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);

    /* the candidates are the single methods' ranges, and the choice is one of them */
    for (int i = 0; i < autot.n_values; i++) {
        const struct calib_value *v = &autot.values[i];
        ck_assert_int_lt(v->method, CALIB_METHOD_COUNT);
        for (int m = 0; m < CALIB_METHOD_COUNT; m++) {
            const struct calib_value *sv = calib_table_find(&single[m], v->name);
            ck_assert(detail[i].lo[m] == sv->lo && detail[i].hi[m] == sv->hi);
        }
        const struct calib_value *chosen = calib_table_find(&single[v->method], v->name);
        ck_assert(v->lo == chosen->lo && v->hi == chosen->hi);
    }

    /* a: minmax is exact on its levels; b: a clipping range, narrower
     * than minmax's, serves the relu */
    ck_assert_str_eq(calib_method_name(a->method), "minmax");
    ck_assert_int_ne(b->method, CALIB_MINMAX);
    ck_assert(b->lo > b->min);

    /* errors computed here: auto's is the least at each reader, and the
     * library's own measurement agrees */
    double ea, eb, sa, sb;
    reader_errors(&autot, &ea, &eb, &sa, &sb);
    for (int m = 0; m < CALIB_METHOD_COUNT; m++) {
        double ma, mb, msa, msb;
        reader_errors(&single[m], &ma, &mb, &msa, &msb);
        ck_assert_msg(ea <= ma * (1 + 1e-9) + 1e-9, "a: auto %g > %s %g", ea,
                      calib_method_name((enum calib_method)m), ma);
        ck_assert_msg(eb <= mb * (1 + 1e-9), "b: auto %g > %s %g", eb,
                      calib_method_name((enum calib_method)m), mb);
        double sqnr_auto = 10 * log10(sb / eb), sqnr_m = 10 * log10(msb / mb);
        ck_assert(sqnr_auto >= sqnr_m - 1e-9);
        int ib = (int)(b - autot.values);
        ck_assert_msg(fabs(detail[ib].error[m] - mb) <= 1e-6 * mb + 1e-9,
                      "b, %s: library %g, here %g", calib_method_name((enum calib_method)m),
                      detail[ib].error[m], mb);
        int ia = (int)(a - autot.values);
        ck_assert_msg(fabs(detail[ia].error[m] - ma) <= 1e-4 * ma + 1e-6,
                      "a, %s: library %g, here %g", calib_method_name((enum calib_method)m),
                      detail[ia].error[m], ma);
    }
    /* minmax's error on a is rounding noise only, and b's relu gains
     * clearly from clipping */
    double mma, mmb, s1, s2;
    reader_errors(&single[CALIB_MINMAX], &mma, &mmb, &s1, &s2);
    ck_assert(mma < 1e-6 * sa);
    ck_assert_msg(10 * log10(sb / eb) > 10 * log10(sb / mmb) + 1, "b: auto %g dB, minmax %g dB",
                  10 * log10(sb / eb), 10 * log10(sb / mmb));

    for (int m = 0; m < CALIB_METHOD_COUNT; m++)
        calib_table_free(&single[m]);
    calib_table_free(&autot);
    free(detail);
}
END_TEST

START_TEST(test_calib_auto_reproducible)
{
    make_files();
    struct calib_table t1, t2;
    calibrate(CALIB_AUTO, 1, &t1, NULL);
    calibrate(CALIB_AUTO, 2, &t2, NULL);
    char *j1 = calib_table_to_json(&t1), *j2 = calib_table_to_json(&t2);
    ck_assert_str_eq(j1, j2);
    ck_assert_ptr_nonnull(strstr(j1, "\"method\": \"auto\""));
    ck_assert_ptr_nonnull(
        strstr(j1, "\"params\": {\"bins\": 2048, \"entropy_bins\": 128, \"k\": 6, "
                   "\"mse_bits\": 8, \"percentile\": 99.99}"));
    ck_assert_ptr_nonnull(strstr(j1, "\"a\": {\"count\": 9600, \"method\": \"minmax\", "));
    free(j1);
    free(j2);
    calib_table_free(&t1);
    calib_table_free(&t2);
}
END_TEST

START_TEST(test_calib_auto_not_from_one_observer)
{
    struct calib_observer obs;
    struct quanta_error err = {0};
    struct calib_options opt;
    calib_options_default(&opt);
    opt.method = CALIB_AUTO;
    ck_assert_int_eq(calib_options_check(&opt, &err), QUANTA_OK);
    ck_assert_int_eq(calib_observer_init(&obs, 64, &err), QUANTA_OK);
    float v[3] = {0, 1, 2};
    calib_observer_update(&obs, v, 3);
    double lo, hi;
    ck_assert_int_eq(calib_observer_range(&obs, &opt, &lo, &hi, &err), QUANTA_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "auto"));
    calib_observer_free(&obs);
    ck_assert_int_eq(calib_method_parse("auto"), CALIB_AUTO);
    ck_assert_str_eq(calib_method_name(CALIB_AUTO), "auto");
}
END_TEST

static const char *const auto_head =
    "{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"auto\", \"params\": "
    "{\"bins\": 2048, \"entropy_bins\": 128, \"k\": 6, \"mse_bits\": 8, \"percentile\": 99.99},"
    " \"samples\": 10, \"data_sha256\": \"\", \"model_sha256\": \"\", \"values\": {";
static const char *const minmax_head =
    "{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"minmax\", \"params\": {},"
    " \"samples\": 10, \"data_sha256\": \"\", \"model_sha256\": \"\", \"values\": {";

static enum quanta_status parse2(const char *head, const char *values, struct calib_table *t,
                                 struct quanta_error *err)
{
    char text[2048];
    snprintf(text, sizeof text, "%s%s}}\n", head, values);
    return calib_table_parse(t, text, strlen(text), "t.json", err);
}

START_TEST(test_calib_auto_table_method_key)
{
    struct calib_table t;
    struct quanta_error err = {0};
    /* an auto table round-trips each value's method, byte for byte */
    ck_assert_msg(parse2(auto_head,
                         "\"x\": {\"count\": 1, \"method\": \"mse\", \"min\": 0, \"max\": 1, "
                         "\"lo\": 0, \"hi\": 0.5}, \"y\": {\"count\": 2, \"nonfinite\": 1, "
                         "\"method\": \"minmax\", \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}",
                         &t, &err) == QUANTA_OK,
                  "%s", err.message);
    ck_assert_int_eq(t.method, CALIB_AUTO);
    ck_assert_int_eq(t.values[0].method, CALIB_MSE);
    ck_assert_int_eq(t.values[1].method, CALIB_MINMAX);
    ck_assert_double_eq(t.params.percentile, 99.99);
    ck_assert_int_eq(t.params.mse_bits, 8);
    char *json = calib_table_to_json(&t);
    struct calib_table back;
    ck_assert_int_eq(calib_table_parse(&back, json, strlen(json), "j", &err), QUANTA_OK);
    char *again = calib_table_to_json(&back);
    ck_assert_str_eq(json, again);
    ck_assert_ptr_nonnull(strstr(json, "\"y\": {\"count\": 2, \"nonfinite\": 1, \"method\": \"minmax\", "));
    free(json);
    free(again);
    calib_table_free(&back);
    calib_table_free(&t);

    /* other tables: the value's method is the table's, and has no key */
    ck_assert_int_eq(parse2(minmax_head, "\"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 0, "
                                         "\"hi\": 1}", &t, &err), QUANTA_OK);
    ck_assert_int_eq(t.values[0].method, CALIB_MINMAX);
    json = calib_table_to_json(&t);
    ck_assert_ptr_null(strstr(json, "\"method\": \"minmax\", \"min\""));
    free(json);
    calib_table_free(&t);

    static const struct {
        const char *head, *values, *needle;
    } bad[] = {
        {NULL, "\"x\": {\"count\": 1, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}",
         "'x' lacks \"method\""},
        {NULL, "\"x\": {\"count\": 1, \"method\": \"auto\", \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}",
         "\"method\" is not one of"},
        {NULL, "\"x\": {\"count\": 1, \"method\": 3, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}",
         "\"method\" is not one of"},
        {NULL, "\"x\": {\"count\": 1, \"method\": \"kl\", \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}",
         "\"method\" is not one of"},
        {NULL, "\"x\": {\"count\": 1, \"method\": \"mse\", \"method\": \"mse\", \"min\": 0, \"max\": 1,"
               " \"lo\": 0, \"hi\": 1}", "duplicate key \"method\""},
        {"minmax", "\"x\": {\"count\": 1, \"method\": \"minmax\", \"min\": 0, \"max\": 1, \"lo\": 0,"
                   " \"hi\": 1}", "only \"auto\" tables"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        quanta_error_clear(&err);
        ck_assert_int_eq(parse2(bad[i].head ? minmax_head : auto_head, bad[i].values, &t, &err),
                         QUANTA_ERR_INPUT);
        ck_assert_msg(strstr(err.message, bad[i].needle) && strstr(err.message, "t.json"),
                      "case %zu: %s", i, err.message);
    }
    /* an auto table needs every method's parameters */
    const char *partial =
        "{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"auto\", \"params\": "
        "{\"bins\": 2048}, \"samples\": 1, \"data_sha256\": \"\", \"model_sha256\": \"\", "
        "\"values\": {}}";
    ck_assert_int_eq(calib_table_parse(&t, partial, strlen(partial), "p.json", &err),
                     QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "lacks"));
}
END_TEST

Suite *suite_calib_auto(void);
Suite *suite_calib_auto(void)
{
    Suite *s = suite_create("calib_auto");
    TCase *tc = tcase_create("auto");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_calib_auto_fake_quant_matches_quantize);
    tcase_add_test(tc, test_calib_auto_picks_per_value_and_beats_each_method);
    tcase_add_test(tc, test_calib_auto_reproducible);
    tcase_add_test(tc, test_calib_auto_not_from_one_observer);
    tcase_add_test(tc, test_calib_auto_table_method_key);
    suite_add_tcase(s, tc);
    return s;
}

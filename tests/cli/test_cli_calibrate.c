/* quanta calibrate end to end, on a small dense model built here whose
 * activations are known in closed form:
 *   x = [i, -i, i/2, 1] for sample i,
 *   y = fc(x) = [i, -i, i/2 + 1.5]   (w rows e0, e1, (1,1,1,1); b = (0, 0, 0.5)),
 *   z = relu(y) = [i, 0, i/2 + 1.5]. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/calib.h"
#include "quanta/quanta.h"
#include "support/test_support.h"

#define N_DATA 100

static const char graph_json[] =
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"tiny\","
    " \"inputs\": [{\"name\": \"x\", \"shape\": [-1, 4], \"dtype\": \"F32\"}],"
    " \"outputs\": [\"z\"],"
    " \"nodes\": ["
    "  {\"op\": \"dense\", \"name\": \"fc\", \"inputs\": [\"x\", \"fc.weight\", \"fc.bias\"], \"outputs\": [\"y\"]},"
    "  {\"op\": \"relu\", \"name\": \"act\", \"inputs\": [\"y\"], \"outputs\": [\"z\"]}]}";

static char model_path[512], data_path[512];

static void make_files(void)
{
    static const float w[12] = {1, 0, 0, 0, 0, 1, 0, 0, 1, 1, 1, 1};
    static const float b[3] = {0, 0, 0.5f};
    struct st_tensor_desc t[2] = {
        {"fc.weight", QUANTA_F32, {.rank = 2, .dims = {3, 4}}, w},
        {"fc.bias", QUANTA_F32, {.rank = 1, .dims = {3}}, b},
    };
    struct st_meta meta = {"quanta.graph", graph_json};
    struct quanta_error err = {0};
    snprintf(model_path, sizeof model_path, "%s", ts_tmp_path("tiny.safetensors"));
    ck_assert_msg(st_write_file(model_path, t, 2, &meta, 1, &err) == QUANTA_OK, "%s", err.message);

    float x[N_DATA * 4];
    for (int i = 0; i < N_DATA; i++) {
        x[4 * i] = (float)i;
        x[4 * i + 1] = (float)-i;
        x[4 * i + 2] = 0.5f * (float)i;
        x[4 * i + 3] = 1;
    }
    struct quanta_shape shape = {.rank = 2, .dims = {N_DATA, 4}};
    snprintf(data_path, sizeof data_path, "%s", ts_tmp_path("x.npy"));
    ck_assert_msg(npy_write(data_path, QUANTA_F32, &shape, x, &err) == QUANTA_OK, "%s", err.message);
}

static int run(const char *fmt, const char *extra, char **out, char **errout)
{
    char args[4096];
    snprintf(args, sizeof args, fmt, model_path, data_path, extra);
    return ts_run_quanta(args, out, errout);
}

START_TEST(test_cli_calibrate_minmax_known_ranges)
{
    make_files();
    const char *calib = ts_tmp_path("c.json");
    char args[4096], *out = NULL, *errout = NULL;
    snprintf(args, sizeof args, "calibrate '%s' --data '%s' --batch 7 -o '%s'", model_path, data_path, calib);
    int rc = ts_run_quanta(args, &out, &errout);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, errout);
    ck_assert_ptr_nonnull(strstr(out, "value"));
    ck_assert_ptr_nonnull(strstr(out, "fc") || strstr(out, "y") ? out : NULL);

    struct calib_table t;
    struct quanta_error err = {0};
    ck_assert_msg(calib_table_load(&t, calib, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(t.method, CALIB_MINMAX);
    ck_assert_int_eq(t.samples, N_DATA);
    ck_assert_int_eq(t.n_values, 3);
    /* graph order: input, then node outputs */
    ck_assert_str_eq(t.values[0].name, "x");
    ck_assert_str_eq(t.values[1].name, "y");
    ck_assert_str_eq(t.values[2].name, "z");
    const double m = N_DATA - 1;
    const struct calib_value *x = calib_table_find(&t, "x"), *y = calib_table_find(&t, "y"),
                             *z = calib_table_find(&t, "z");
    ck_assert(x && y && z);
    ck_assert(x->min == -m && x->max == m && x->lo == -m && x->hi == m);
    ck_assert_int_eq(x->count, 4 * N_DATA);
    ck_assert(y->min == -m && y->max == m);
    ck_assert_int_eq(y->count, 3 * N_DATA);
    ck_assert(z->min == 0 && z->max == m && z->lo == 0 && z->hi == m);

    char sha[QUANTA_SHA256_HEX_SIZE];
    ck_assert_int_eq(quanta_sha256_file(data_path, sha, &err), QUANTA_OK);
    ck_assert_str_eq(t.data_sha256, sha);
    ck_assert_int_eq(quanta_sha256_file(model_path, sha, &err), QUANTA_OK);
    ck_assert_str_eq(t.model_sha256, sha);
    calib_table_free(&t);
    free(out);
    free(errout);
}
END_TEST

/* Each method gives a range inside [min, max]; meanstd matches the exact
 * mean and std of z's 300 elements computed here. */
START_TEST(test_cli_calibrate_methods)
{
    make_files();
    static const char *const methods[] = {"minmax", "meanstd", "percentile", "entropy", "mse"};
    double zs = 0, zss = 0;
    for (int i = 0; i < N_DATA; i++) {
        double v[3] = {i, 0, 0.5 * i + 1.5};
        for (int k = 0; k < 3; k++)
            zs += v[k];
    }
    double mean = zs / (3 * N_DATA);
    for (int i = 0; i < N_DATA; i++) {
        double v[3] = {i, 0, 0.5 * i + 1.5};
        for (int k = 0; k < 3; k++)
            zss += (v[k] - mean) * (v[k] - mean);
    }
    double sd = sqrt(zss / (3 * N_DATA));
    for (int k = 0; k < 5; k++) {
        const char *calib = ts_tmp_path("m.json");
        char args[4096], *errout = NULL;
        snprintf(args, sizeof args, "calibrate '%s' --data '%s' --method %s --k 1 --bins 64 --entropy-bins 16 -o '%s'",
                 model_path, data_path, methods[k], calib);
        int rc = ts_run_quanta(args, NULL, &errout);
        ck_assert_msg(rc == 0, "%s: exit %d: %s", methods[k], rc, errout);
        free(errout);
        struct calib_table t;
        struct quanta_error err = {0};
        ck_assert_msg(calib_table_load(&t, calib, &err) == QUANTA_OK, "%s", err.message);
        ck_assert_str_eq(calib_method_name(t.method), methods[k]);
        for (int i = 0; i < t.n_values; i++) {
            const struct calib_value *v = &t.values[i];
            ck_assert(v->min <= v->lo && v->lo <= v->hi && v->hi <= v->max);
        }
        if (k == 1) {
            const struct calib_value *z = calib_table_find(&t, "z");
            ck_assert_double_eq_tol(z->lo, fmax(0, mean - sd), 1e-9);
            ck_assert_double_eq_tol(z->hi, mean + sd, 1e-9);
            ck_assert_double_eq(t.params.k, 1);
        }
        calib_table_free(&t);
    }
}
END_TEST

START_TEST(test_cli_calibrate_samples_json_deterministic)
{
    make_files();
    const char *a = ts_tmp_path("a.json");
    char args[4096], *out = NULL;
    snprintf(args, sizeof args, "calibrate '%s' --data '%s' --samples 10 --method entropy --bins 64 --entropy-bins 8 --json -o '%s'",
             model_path, data_path, a);
    ck_assert_int_eq(ts_run_quanta(args, &out, NULL), 0);
    struct calib_table t;
    struct quanta_error err = {0};
    ck_assert_msg(calib_table_parse(&t, out, strlen(out), "stdout", &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(t.samples, 10);
    ck_assert(calib_table_find(&t, "x")->max == 9);
    calib_table_free(&t);
    /* stdout is the file, and a second run writes the same bytes */
    size_t n1 = 0, n2 = 0;
    char *f1 = ts_read_file(a, &n1);
    ck_assert_str_eq(out, f1);
    free(out);
    ck_assert_int_eq(ts_run_quanta(args, NULL, NULL), 0);
    char *f2 = ts_read_file(a, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(f1, f2, n1) == 0);
    free(f1);
    free(f2);
}
END_TEST

/* --method auto: each value names the method chosen and has that
 * method's range; the same run writes the same bytes; quantize takes auto
 * with --data and reads the auto table with --calib. */
START_TEST(test_cli_calibrate_auto)
{
    make_files();
    static const char *const methods[] = {"minmax", "meanstd", "percentile", "entropy", "mse"};
    char a1[600], a2[600], args[4096], *out = NULL, *errout = NULL;
    snprintf(a1, sizeof a1, "%s", ts_tmp_path("auto1.json"));
    snprintf(a2, sizeof a2, "%s", ts_tmp_path("auto2.json"));
    snprintf(args, sizeof args, "calibrate '%s' --data '%s' --method auto --batch 7 -o '%s'",
             model_path, data_path, a1);
    int rc = ts_run_quanta(args, &out, &errout);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, errout);
    ck_assert_ptr_nonnull(strstr(out, "method auto"));
    free(out);
    free(errout);
    snprintf(args, sizeof args,
             "calibrate '%s' --data '%s' --method auto --batch 7 --threads 1 -o '%s'", model_path,
             data_path, a2);
    ck_assert_int_eq(ts_run_quanta(args, NULL, NULL), 0);
    size_t n1 = 0, n2 = 0;
    char *f1 = ts_read_file(a1, &n1), *f2 = ts_read_file(a2, &n2);
    ck_assert_uint_eq(n1, n2);
    ck_assert(memcmp(f1, f2, n1) == 0);
    free(f2);

    struct calib_table t;
    struct quanta_error err = {0};
    ck_assert_msg(calib_table_load(&t, a1, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(t.method, CALIB_AUTO);
    ck_assert_int_eq(t.n_values, 3);
    for (int i = 0; i < t.n_values; i++) {
        const struct calib_value *v = &t.values[i];
        ck_assert_int_lt(v->method, CALIB_METHOD_COUNT);
        char key[256];
        snprintf(key, sizeof key, "\"%s\": {\"count\": %lld, \"method\": \"%s\"", v->name,
                 (long long)v->count, calib_method_name(v->method));
        ck_assert_msg(strstr(f1, key), "no %s in %s", key, f1);
        /* the range is the one the chosen method gives alone */
        const char *single = ts_tmp_path("single.json");
        snprintf(args, sizeof args, "calibrate '%s' --data '%s' --method %s --batch 7 -o '%s'",
                 model_path, data_path, methods[v->method], single);
        ck_assert_int_eq(ts_run_quanta(args, NULL, NULL), 0);
        struct calib_table st;
        ck_assert_msg(calib_table_load(&st, single, &err) == QUANTA_OK, "%s", err.message);
        const struct calib_value *sv = calib_table_find(&st, v->name);
        ck_assert_msg(sv && sv->lo == v->lo && sv->hi == v->hi, "%s: %s range differs", v->name,
                      methods[v->method]);
        calib_table_free(&st);
    }
    calib_table_free(&t);
    free(f1);

    const char *q = ts_tmp_path("q.safetensors");
    snprintf(args, sizeof args, "quantize '%s' --data '%s' --method auto -o '%s'", model_path,
             data_path, q);
    rc = ts_run_quanta(args, NULL, &errout);
    ck_assert_msg(rc == 0, "exit %d: %s", rc, errout);
    free(errout);
    size_t model_size = 0;
    char *model = ts_read_file(q, &model_size);
    ck_assert_ptr_nonnull(model);
    const char *key = "\"quanta.calibration.method\":\"auto\"";
    ck_assert_ptr_nonnull(memmem(model, model_size, key, strlen(key)));
    free(model);
    snprintf(args, sizeof args, "quantize '%s' --calib '%s' -o '%s'", model_path, a1, q);
    ck_assert_int_eq(ts_run_quanta(args, NULL, NULL), 0);
    snprintf(args, sizeof args, "quantize '%s' --data '%s' --method kl -o '%s'", model_path,
             data_path, q);
    ck_assert_int_eq(ts_run_quanta(args, NULL, &errout), 2);
    ck_assert_ptr_nonnull(strstr(errout, "auto"));
    free(errout);
}
END_TEST

START_TEST(test_cli_calibrate_errors)
{
    make_files();
    char *errout = NULL, calib[600], bad[600];
    snprintf(calib, sizeof calib, "%s", ts_tmp_path("e.json"));
    char extra[1100];
    snprintf(extra, sizeof extra, "-o '%s'", calib);
    /* usage errors: exit 2 */
    ck_assert_int_eq(run("calibrate '%s' %.0s%s", extra, NULL, &errout), 2);
    ck_assert_ptr_nonnull(strstr(errout, "--data"));
    free(errout);
    ck_assert_int_eq(run("calibrate '%s' --data '%s'", "", NULL, &errout), 2);
    ck_assert_ptr_nonnull(strstr(errout, "-o"));
    free(errout);
    ck_assert_int_eq(run("calibrate '%s' --data '%s' --method kl %s", extra, NULL, &errout), 2);
    ck_assert_ptr_nonnull(strstr(errout, "kl"));
    free(errout);
    ck_assert_int_eq(run("calibrate '%s' --data '%s' --bins 17 %s", extra, NULL, NULL), 2);
    ck_assert_int_eq(run("calibrate '%s' --data '%s' --percentile 101 %s", extra, NULL, NULL), 2);
    ck_assert_int_eq(run("calibrate '%s' --data '%s' --k -1 %s", extra, NULL, NULL), 2);
    ck_assert_int_eq(run("calibrate '%s' --data '%s' --bins 64 --entropy-bins 128 %s", extra, NULL, NULL), 2);
    ck_assert_int_eq(run("calibrate '%s' --data '%s' --samples 0 %s", extra, NULL, NULL), 2);
    ck_assert_int_eq(run("calibrate '%s' --data '%s' --bogus %s", extra, NULL, NULL), 2);
    /* the output may not overwrite the model */
    char args[4096];
    snprintf(args, sizeof args, "calibrate '%s' --data '%s' -o '%s'", model_path, data_path, model_path);
    ck_assert_int_eq(ts_run_quanta(args, NULL, NULL), 2);
    /* --help: exit 0 and the methods on stdout */
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta("calibrate --help", &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "entropy"));
    free(out);

    /* input errors: exit 3, naming the file; no output written */
    ck_assert_int_eq(ts_run_quanta("calibrate /nonexistent.safetensors --data /nonexistent.npy -o /tmp/never.json",
                                   NULL, &errout),
                     3);
    ck_assert_ptr_nonnull(strstr(errout, "nonexistent"));
    free(errout);
    snprintf(bad, sizeof bad, "%s", ts_tmp_path("bad.npy"));
    float five[5] = {0};
    struct quanta_shape shape = {.rank = 2, .dims = {1, 5}};
    struct quanta_error err = {0};
    ck_assert_int_eq(npy_write(bad, QUANTA_F32, &shape, five, &err), QUANTA_OK);
    snprintf(args, sizeof args, "calibrate '%s' --data '%s' -o '%s'", model_path, bad, calib);
    ck_assert_int_eq(ts_run_quanta(args, NULL, &errout), 3);
    ck_assert_ptr_nonnull(strstr(errout, "bad.npy"));
    free(errout);
    ck_assert_ptr_null(ts_read_file(calib, NULL));
}
END_TEST

Suite *suite_cli_calibrate(void);
Suite *suite_cli_calibrate(void)
{
    Suite *s = suite_create("cli_calibrate");
    TCase *tc = tcase_create("calibrate");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_cli_calibrate_minmax_known_ranges);
    tcase_add_test(tc, test_cli_calibrate_methods);
    tcase_add_test(tc, test_cli_calibrate_samples_json_deterministic);
    tcase_add_test(tc, test_cli_calibrate_auto);
    tcase_add_test(tc, test_cli_calibrate_errors);
    suite_add_tcase(s, tc);
    return s;
}

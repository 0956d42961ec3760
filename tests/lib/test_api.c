/* The public API (include/quanta/quanta.h, quanta_offline.h) on the
 * bundled model: the offline calls write the same files as the commands,
 * a session computes what `quanta run` does (bit for bit, inputs
 * normalized by quanta_model_normalize), sessions on one model run
 * concurrently, and misuse gives the documented statuses. */
#include <pthread.h>
#include <stddef.h>
#include <zlib.h>

#include "cli/cli_fixture.h"
#include "kernels/kernels.h"
#include "quanta/quanta_offline.h"

#define MODEL "models/fmnist-cnn.safetensors"
#define CALIB "models/data/fmnist-calib-1000-images-idx3-ubyte.gz"
#define TEST "models/data/fmnist-test-1000-images-idx3-ubyte.gz"
#define N_SAMPLES 8
#define PIXELS 784
/* Sample counts stay small: the suite also runs under qemu (test-arm64). */

static bool have_bundled(void)
{
    return cf_file_exists(ts_src_path(MODEL)) && cf_file_exists(ts_src_path(CALIB)) &&
           cf_file_exists(ts_src_path(TEST));
}

#define REQUIRE_BUNDLED()                                                                  \
    do {                                                                                   \
        if (!have_bundled())                                                               \
            TS_SKIP("the bundled model or images (%s, %s, %s) are missing", MODEL, CALIB, \
                    TEST);                                                                 \
    } while (0)

static bool same_file(const char *a, const char *b)
{
    size_t na, nb;
    char *x = ts_read_file(a, &na), *y = ts_read_file(b, &nb);
    bool same = x && y && na == nb && memcmp(x, y, na) == 0;
    free(x);
    free(y);
    return same;
}

/* Runs the command at this process's kernel level: with CK_FORK=no (the
 * sanitizer run) an earlier suite may have selected another level than a
 * fresh process would choose, and float results differ between levels in
 * their last bits, which a calibration table records. */
static void run_ok(const char *args)
{
    const char *old = getenv("QUANTA_ISA");
    char *saved = old ? strdup(old) : NULL;
    setenv("QUANTA_ISA", kernels_level_name(kernels_current_level()), 1);
    char *errout = NULL;
    int rc = ts_run_quanta(args, NULL, &errout);
    if (saved)
        setenv("QUANTA_ISA", saved, 1);
    else
        unsetenv("QUANTA_ISA");
    free(saved);
    ck_assert_msg(rc == 0, "quanta %s exited %d: %s", args, rc, errout);
    free(errout);
}

START_TEST(test_offline_calls_match_commands)
{
    REQUIRE_BUNDLED();
    char *model = strdup(ts_src_path(MODEL)), *calib = strdup(ts_src_path(CALIB));
    char *t_cli = cf_tmp("cli.calib.json"), *t_api = cf_tmp("api.calib.json");
    char *q_cli = cf_tmp("cli.int8.safetensors"), *q_api = cf_tmp("api.int8.safetensors");
    char *w_cli = cf_tmp("cli.w8.safetensors"), *w_api = cf_tmp("api.w8.safetensors");
    struct quanta_error err = {0};

    run_ok(cf_args("calibrate %s --data %s -o %s --samples 8 --method percentile", model, calib,
                   t_cli));
    struct quanta_calibrate_options co = {.size = sizeof co, .method = QUANTA_CALIB_PERCENTILE,
                                          .samples = 8};
    ck_assert_int_eq(quanta_calibrate_file(model, calib, t_api, &co, &err), QUANTA_OK);
    ck_assert_msg(same_file(t_cli, t_api), "calibration tables differ");

    run_ok(cf_args("quantize %s --calib %s -o %s --exclude fc2 --weights per-tensor", model,
                   t_cli, q_cli));
    const char *exclude[] = {"fc2"};
    struct quanta_quantize_options qo = {.size = sizeof qo, .per_tensor = 1, .exclude = exclude,
                                         .n_exclude = 1};
    ck_assert_int_eq(quanta_quantize_file(model, t_cli, q_api, &qo, &err), QUANTA_OK);
    ck_assert_msg(same_file(q_cli, q_api), "int8 models differ");

    run_ok(cf_args("quantize %s --mode weight-only -o %s", model, w_cli));
    struct quanta_quantize_options wo = {.mode = QUANTA_QUANTIZE_WEIGHT_ONLY};
    ck_assert_int_eq(quanta_quantize_file(model, NULL, w_api, &wo, &err), QUANTA_OK);
    ck_assert_msg(same_file(w_cli, w_api), "weight-only models differ");

    /* misuse: static without a table, an output naming an input, a table
     * of another model */
    ck_assert_int_eq(quanta_quantize_file(model, NULL, q_api, NULL, &err), QUANTA_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "needs a calibration table"));
    ck_assert_int_eq(quanta_quantize_file(model, t_cli, t_cli, NULL, &err), QUANTA_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "refusing to overwrite input"));
    ck_assert_int_eq(quanta_quantize_file(w_cli, t_cli, q_api, NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, "calibration was made for the model"));
    ck_assert(same_file(q_cli, q_api)); /* the failed calls left it alone */
    co.method = (enum quanta_calib_method)42;
    ck_assert_int_eq(quanta_calibrate_file(model, calib, t_api, &co, &err), QUANTA_ERR_USAGE);
    free(model), free(calib), free(t_cli), free(t_api), free(q_cli), free(q_api);
    free(w_cli), free(w_api);
}
END_TEST

/* The first N_SAMPLES images of the bundled test set, raw pixels as float. */
static void read_pixels(float *out)
{
    gzFile in = gzopen(ts_src_path(TEST), "rb");
    unsigned char head[16], px[N_SAMPLES * PIXELS];
    ck_assert(in != NULL);
    ck_assert_int_eq(gzread(in, head, 16), 16);
    ck_assert_int_eq(gzread(in, px, sizeof px), (int)sizeof px);
    gzclose(in);
    for (size_t i = 0; i < sizeof px; i++)
        out[i] = px[i];
}

struct int8_fx {
    char *q;                        /* the int8 model */
    float x[N_SAMPLES * PIXELS];    /* normalized inputs */
    float *want;                    /* quanta run --output, N_SAMPLES x 10 */
};

static void int8_fx_init(struct int8_fx *f, quanta_model **m)
{
    char *model = strdup(ts_src_path(MODEL)), *test = strdup(ts_src_path(TEST));
    char *table = cf_tmp("calib.json"), *npy = cf_tmp("run.npy");
    f->q = cf_tmp("int8.safetensors");
    struct quanta_error err = {0};
    struct quanta_calibrate_options co = {.samples = 8};
    ck_assert_int_eq(quanta_calibrate_file(model, ts_src_path(CALIB), table, &co, &err),
                     QUANTA_OK);
    ck_assert_int_eq(quanta_quantize_file(model, table, f->q, NULL, &err), QUANTA_OK);
    run_ok(cf_args("run %s --data %s --samples %d --output %s", f->q, test, N_SAMPLES, npy));
    size_t size;
    char *bytes = ts_read_file(npy, &size);
    ck_assert(bytes && size > 10 && memcmp(bytes, "\x93NUMPY\x01", 7) == 0);
    size_t data = 10 + ((size_t)(unsigned char)bytes[8] | (size_t)(unsigned char)bytes[9] << 8);
    ck_assert_uint_eq(size, data + N_SAMPLES * 10 * sizeof(float));
    f->want = malloc(N_SAMPLES * 10 * sizeof(float));
    ck_assert_ptr_nonnull(f->want);
    memcpy(f->want, bytes + data, N_SAMPLES * 10 * sizeof(float));
    free(bytes);

    ck_assert_int_eq(quanta_model_load(m, f->q, &err), QUANTA_OK);
    read_pixels(f->x);
    ck_assert_int_eq(quanta_model_normalize(*m, 0, f->x, f->x, N_SAMPLES * PIXELS, &err),
                     QUANTA_OK);
    free(model), free(test), free(table), free(npy);
}

START_TEST(test_session_matches_run)
{
    REQUIRE_BUNDLED();
    struct int8_fx f;
    quanta_model *m = NULL;
    int8_fx_init(&f, &m);
    struct quanta_error err = {0};

    ck_assert_int_eq(quanta_model_input_count(m), 1);
    ck_assert_int_eq(quanta_model_output_count(m), 1);
    ck_assert_int_eq(quanta_model_input_dtype(m, 0), QUANTA_F32);
    struct quanta_shape s;
    ck_assert_int_eq(quanta_model_input_shape(m, 0, &s, &err), QUANTA_OK);
    ck_assert_int_eq(s.rank, 4);
    ck_assert(s.dims[0] == -1 && s.dims[1] == 28 && s.dims[2] == 28 && s.dims[3] == 1);
    ck_assert_int_eq(quanta_model_output_shape(m, 0, &s, &err), QUANTA_OK);
    ck_assert(s.rank == 2 && s.dims[1] == 10);

    quanta_session *ses = NULL;
    struct quanta_session_options o = {.size = sizeof o, .threads = 2, .max_batch = N_SAMPLES};
    ck_assert_int_eq(quanta_session_create(&ses, m, &o, &err), QUANTA_OK);
    ck_assert_ptr_null(quanta_session_output(ses, 0, NULL)); /* before any run */
    const void *in[1] = {f.x};
    ck_assert_int_eq(quanta_session_run(ses, N_SAMPLES, in, &err), QUANTA_OK);
    const float *y = quanta_session_output(ses, 0, &s);
    ck_assert_ptr_nonnull(y);
    ck_assert(s.rank == 2 && s.dims[0] == N_SAMPLES && s.dims[1] == 10);
    ck_assert_msg(memcmp(y, f.want, N_SAMPLES * 10 * sizeof(float)) == 0,
                  "session outputs differ from quanta run's");
    ck_assert_ptr_null(quanta_session_output(ses, 1, NULL));

    /* batches outside [1, max_batch], a missing input: usage errors */
    ck_assert_int_eq(quanta_session_run(ses, 0, in, &err), QUANTA_ERR_USAGE);
    ck_assert_int_eq(quanta_session_run(ses, N_SAMPLES + 1, in, &err), QUANTA_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.message, "max_batch"));
    const void *none[1] = {NULL};
    ck_assert_int_eq(quanta_session_run(ses, 1, none, &err), QUANTA_ERR_USAGE);
    ck_assert_ptr_null(quanta_session_output(ses, 0, NULL)); /* no successful last run */
    quanta_session_free(ses);

    /* a caller compiled against a struct without max_batch gets the default 1 */
    struct quanta_session_options old = {.size = offsetof(struct quanta_session_options, max_batch),
                                         .max_batch = N_SAMPLES};
    ck_assert_int_eq(quanta_session_create(&ses, m, &old, &err), QUANTA_OK);
    ck_assert_int_eq(quanta_session_run(ses, 2, in, &err), QUANTA_ERR_USAGE);
    ck_assert_int_eq(quanta_session_run(ses, 1, in, &err), QUANTA_OK);
    ck_assert(memcmp(quanta_session_output(ses, 0, NULL), f.want, 10 * sizeof(float)) == 0);
    quanta_session_free(ses);
    quanta_model_free(m);
    free(f.want);
    free(f.q);
}
END_TEST

struct worker {
    const quanta_model *m;
    const struct int8_fx *f;
    int mismatches;
    enum quanta_status st;
};

static void *work(void *arg)
{
    struct worker *w = arg;
    quanta_session *ses = NULL;
    struct quanta_session_options o = {.threads = 1, .max_batch = 1};
    w->st = quanta_session_create(&ses, w->m, &o, NULL);
    for (int round = 0; w->st == QUANTA_OK && round < 3; round++)
        for (int i = 0; w->st == QUANTA_OK && i < N_SAMPLES; i++) {
            const void *in[1] = {w->f->x + i * PIXELS};
            if ((w->st = quanta_session_run(ses, 1, in, NULL)) == QUANTA_OK)
                w->mismatches += memcmp(quanta_session_output(ses, 0, NULL), w->f->want + i * 10,
                                        10 * sizeof(float)) != 0;
        }
    quanta_session_free(ses);
    return NULL;
}

/* A float model runs optimized in a session as in quanta run: the batch
 * norm after the dense folds into its weights, which changes the last bits
 * (checked below), so a session running the graph as stored would differ. */
#define BN_GRAPH                                                                           \
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"dense_bn\", "            \
    "\"inputs\": [{\"name\": \"x\", \"shape\": [-1, 4], \"dtype\": \"F32\"}], "           \
    "\"outputs\": [\"y\"], \"nodes\": ["                                                  \
    "{\"op\": \"dense\", \"name\": \"fc\", \"inputs\": [\"x\", \"w\", \"b\"], "             \
    "\"outputs\": [\"d\"]}, "                                                            \
    "{\"op\": \"batch_norm\", \"name\": \"bn\", \"inputs\": [\"d\", \"g\", \"beta\", "      \
    "\"m\", \"v\"], \"outputs\": [\"y\"]}]}"

START_TEST(test_float_session_matches_run)
{
    enum { BATCH = 16 };
    static float w[16], b[4], g[4], beta[4], mean[4], var[4], x[BATCH * 4];
    unsigned seed = 12345;
    float *all[] = {w, b, g, beta, mean, var, x};
    const size_t len[] = {16, 4, 4, 4, 4, 4, BATCH * 4};
    for (size_t t = 0; t < 7; t++)
        for (size_t i = 0; i < len[t]; i++) {
            seed = seed * 1103515245u + 12345u;
            all[t][i] = (float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f;
        }
    for (int c = 0; c < 4; c++) {
        g[c] = 0.7f + 0.37f * g[c];
        var[c] = 0.3f + var[c] * var[c];
    }
    struct st_tensor_desc t[6] = {
        {"w", QUANTA_F32, {2, {4, 4}}, w},     {"b", QUANTA_F32, {1, {4}}, b},
        {"g", QUANTA_F32, {1, {4}}, g},        {"beta", QUANTA_F32, {1, {4}}, beta},
        {"m", QUANTA_F32, {1, {4}}, mean},     {"v", QUANTA_F32, {1, {4}}, var},
    };
    struct st_meta meta[1] = {{"quanta.graph", BN_GRAPH}};
    char *model = cf_tmp("dense_bn.safetensors"), *input = cf_tmp("x.npy");
    char *npy = cf_tmp("dense_bn.run.npy");
    struct quanta_error err = {0};
    ck_assert_int_eq(st_write_file(model, t, 6, meta, 1, &err), QUANTA_OK);
    struct quanta_shape xs = {2, {BATCH, 4}};
    ck_assert_int_eq(npy_write(input, QUANTA_F32, &xs, x, &err), QUANTA_OK);
    run_ok(cf_args("run %s --data %s --output %s", model, input, npy));
    size_t n_want;
    float *want = cf_read_npy_f32(npy, &n_want);
    ck_assert_uint_eq(n_want, BATCH * 4);

    /* the premise: the graph as stored gives other bits on some output */
    float unfolded[BATCH * 4];
    bool differs = false;
    for (int i = 0; i < BATCH; i++)
        for (int c = 0; c < 4; c++) {
            float d = b[c];
            for (int k = 0; k < 4; k++)
                d += x[i * 4 + k] * w[c * 4 + k];
            unfolded[i * 4 + c] = (d - mean[c]) / sqrtf(var[c] + 1e-5f) * g[c] + beta[c];
            differs = differs || unfolded[i * 4 + c] != want[i * 4 + c];
            ck_assert_float_eq_tol(unfolded[i * 4 + c], want[i * 4 + c], 1e-4f);
        }
    ck_assert_msg(differs, "fixture: folding the batch norm changed no bit");

    quanta_model *m = NULL;
    ck_assert_int_eq(quanta_model_load(&m, model, &err), QUANTA_OK);
    quanta_session *ses = NULL;
    struct quanta_session_options o = {.size = sizeof o, .threads = 1, .max_batch = BATCH};
    ck_assert_int_eq(quanta_session_create(&ses, m, &o, &err), QUANTA_OK);
    const void *in[1] = {x};
    ck_assert_int_eq(quanta_session_run(ses, BATCH, in, &err), QUANTA_OK);
    struct quanta_shape s;
    const float *y = quanta_session_output(ses, 0, &s);
    ck_assert_ptr_nonnull(y);
    ck_assert_uint_eq((size_t)quanta_shape_numel(&s), n_want);
    ck_assert_msg(memcmp(y, want, n_want * sizeof *y) == 0,
                  "float session outputs differ from quanta run's");
    quanta_session_free(ses);
    quanta_model_free(m);
    free(want), free(npy), free(model), free(input);
}
END_TEST

START_TEST(test_sessions_share_a_model)
{
    REQUIRE_BUNDLED();
    struct int8_fx f;
    quanta_model *m = NULL;
    int8_fx_init(&f, &m);
    struct worker w[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (struct worker){.m = m, .f = &f};
        ck_assert_int_eq(pthread_create(&t[i], NULL, work, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_join(t[i], NULL), 0);
        ck_assert_int_eq(w[i].st, QUANTA_OK);
        ck_assert_int_eq(w[i].mismatches, 0);
    }
    quanta_model_free(m);
    free(f.want);
    free(f.q);
}
END_TEST

START_TEST(test_misuse_and_info)
{
    struct quanta_error err = {0};
    quanta_model *m = (quanta_model *)&err; /* must be reset to NULL */
    char *missing = cf_tmp("no-such-model.safetensors");
    ck_assert_int_eq(quanta_model_load(&m, missing, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_null(m);
    ck_assert_int_eq(err.status, QUANTA_ERR_INPUT);
    ck_assert_ptr_nonnull(strstr(err.message, missing));
    ck_assert_int_eq(quanta_model_load(&m, NULL, NULL), QUANTA_ERR_USAGE);
    free(missing);

    char *model = cf_tmp("m.safetensors");
    struct cf_weights w;
    cf_default_weights(&w);
    cf_write_model(model, &w, true);
    ck_assert_int_eq(quanta_model_load(&m, model, &err), QUANTA_OK);
    ck_assert_ptr_null(quanta_model_input_name(m, 1));
    ck_assert_ptr_null(quanta_model_output_name(m, -1));
    ck_assert_int_eq(quanta_model_input_dtype(m, 3), QUANTA_DTYPE_INVALID);
    struct quanta_shape s;
    ck_assert_int_eq(quanta_model_output_shape(m, 2, &s, &err), QUANTA_ERR_USAGE);
    ck_assert_int_eq(quanta_model_normalize(m, 1, NULL, NULL, 0, &err), QUANTA_ERR_USAGE);
    struct quanta_session_options bad = {.threads = -1};
    quanta_session *ses = (quanta_session *)&err;
    ck_assert_int_eq(quanta_session_create(&ses, m, &bad, &err), QUANTA_ERR_USAGE);
    ck_assert_ptr_null(ses);
    quanta_model_free(m);
    quanta_model_free(NULL);
    quanta_session_free(NULL);
    free(model);

    ck_assert_str_eq(quanta_version(), QUANTA_VERSION);
    ck_assert_ptr_nonnull(quanta_kernel_level());
    ck_assert_str_eq(quanta_status_message(QUANTA_ERR_INPUT), "invalid input file");
    ck_assert_str_eq(quanta_dtype_name(QUANTA_I8), "I8");
}
END_TEST

Suite *suite_api(void);
Suite *suite_api(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_offline_calls_match_commands);
    tcase_add_test(tc, test_session_matches_run);
    tcase_add_test(tc, test_float_session_matches_run);
    tcase_add_test(tc, test_sessions_share_a_model);
    tcase_add_test(tc, test_misuse_and_info);
    suite_add_tcase(s, tc);
    return s;
}

/* quanta bench, end to end: options, errors, the JSON keys and their
 * relations (percentile order, throughput and GOP/s from the median, peak
 * from the formula of man quanta-bench(1), speed-up against the first
 * model), operation counts checked against hand counts, synthetic ids in
 * range for embedding inputs, fixed batches. No timing assertions: only
 * relations that hold whatever the machine's speed. */
#include "cli/cli_fixture.h"

#include <unistd.h>

/* Operations per sample of the cli_fixture model: flatten 0, fc1 dense
 * 4 -> 4 with fused relu 2*4*4 = 32, fc2 dense 4 -> 3 2*4*3 = 24. */
#define TINY_OPS 56.0

/* conv2d 4 -> 8 channels, 3x3, groups 2, stride 2, pads 1 on 6x6: output
 * 3x3x8, each with a 3x3x2 filter: 2*3*3*8*3*3*2 = 2592; relu node on 72
 * elements: 72; max_pool 2x2 stride 1 -> 2x2x8 = 32 outputs of 4 cells:
 * 128; global_avg_pool over 32 inputs: 32; dense 8 -> 5: 80; softmax on 5:
 * 5. Total 2909. */
#define CONV_OPS 2909.0
#define CONV_GRAPH                                                                          \
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"conv\", "                   \
    "\"inputs\": [{\"name\": \"x\", \"shape\": [%s, 6, 6, 4], \"dtype\": \"F32\"}], "       \
    "\"outputs\": [\"prob\"], \"nodes\": ["                                                 \
    "{\"op\": \"conv2d\", \"name\": \"conv\", \"inputs\": [\"x\", \"conv.w\", \"conv.b\"], " \
    "\"outputs\": [\"conv.out\"], \"attrs\": {\"strides\": [2, 2], \"pads\": [1, 1, 1, 1], " \
    "\"groups\": 2}}, "                                                                     \
    "{\"op\": \"relu\", \"name\": \"act\", \"inputs\": [\"conv.out\"], "                    \
    "\"outputs\": [\"act.out\"]}, "                                                         \
    "{\"op\": \"max_pool2d\", \"name\": \"pool\", \"inputs\": [\"act.out\"], "              \
    "\"outputs\": [\"pool.out\"], \"attrs\": {\"kernel\": [2, 2], \"strides\": [1, 1]}}, "  \
    "{\"op\": \"global_avg_pool\", \"name\": \"gap\", \"inputs\": [\"pool.out\"], "         \
    "\"outputs\": [\"gap.out\"]}, "                                                         \
    "{\"op\": \"dense\", \"name\": \"fc\", \"inputs\": [\"gap.out\", \"fc.w\", \"fc.b\"], "  \
    "\"outputs\": [\"logits\"]}, "                                                          \
    "{\"op\": \"softmax\", \"name\": \"sm\", \"inputs\": [\"logits\"], "                    \
    "\"outputs\": [\"prob\"]}]}"

/* ids [N, 3] I64 -> embedding with a [5, 4] table -> [N, 3, 4] -> flatten
 * [N, 12] -> dense 12 -> 2: 2*12*2 = 48 ops. An id outside [0, 5) makes
 * the run fail, so a successful bench shows the synthetic ids are in range. */
#define EMB_OPS 48.0

struct bench_fx {
    char *model, *bag, *images;
    struct cf_weights w;
};

static void bench_fx_init(struct bench_fx *f)
{
    memset(f, 0, sizeof *f);
    f->model = cf_tmp("tiny.safetensors");
    f->bag = cf_tmp("bag.safetensors");
    f->images = cf_tmp("tiny-images-idx3-ubyte");
    cf_default_weights(&f->w);
    cf_write_model(f->model, &f->w, true);
    cf_write_model(f->bag, &f->w, false);
    cf_write_images(f->images);
}

static void bench_fx_free(struct bench_fx *f)
{
    free(f->model);
    free(f->bag);
    free(f->images);
}

static void write_with_graph(const char *path, const char *graph, struct st_tensor_desc *t,
                             size_t n)
{
    struct st_meta meta[1] = {{"quanta.graph", graph}};
    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = st_write_file(path, t, n, meta, 1, &err);
    ck_assert_msg(st == QUANTA_OK, "st_write_file: %s", err.message);
}

/* batch_dim: "-1" or a fixed batch such as "2". */
static char *write_conv_model(const char *name, const char *batch_dim)
{
    static float conv_w[8 * 3 * 3 * 2], conv_b[8], fc_w[5 * 8], fc_b[5];
    for (size_t i = 0; i < sizeof conv_w / sizeof *conv_w; i++)
        conv_w[i] = (float)((int)(i % 7) - 3) * 0.1f;
    for (size_t i = 0; i < sizeof fc_w / sizeof *fc_w; i++)
        fc_w[i] = (float)((int)(i % 5) - 2) * 0.2f;
    struct st_tensor_desc t[4] = {
        {"conv.w", QUANTA_F32, {4, {8, 3, 3, 2}}, conv_w},
        {"conv.b", QUANTA_F32, {1, {8}}, conv_b},
        {"fc.w", QUANTA_F32, {2, {5, 8}}, fc_w},
        {"fc.b", QUANTA_F32, {1, {5}}, fc_b},
    };
    char graph[4096];
    snprintf(graph, sizeof graph, CONV_GRAPH, batch_dim);
    char *path = cf_tmp(name);
    write_with_graph(path, graph, t, 4);
    return path;
}

static char *write_embedding_model(void)
{
    static float table[5 * 4], fc_w[2 * 12];
    for (int i = 0; i < 20; i++)
        table[i] = (float)i * 0.05f;
    for (int i = 0; i < 24; i++)
        fc_w[i] = (float)(i % 3) - 1.0f;
    struct st_tensor_desc t[2] = {
        {"table", QUANTA_F32, {2, {5, 4}}, table},
        {"fc.w", QUANTA_F32, {2, {2, 12}}, fc_w},
    };
    char *path = cf_tmp("emb.safetensors");
    write_with_graph(path, CF_EMB_GRAPH, t, 2);
    return path;
}

static const cJSON *item(const cJSON *obj, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    ck_assert_msg(it != NULL, "key '%s' is missing", key);
    return it;
}

/* Ops per cycle and core of man quanta-bench(1), written out again here. */
static double expected_ops_per_cycle(const char *level, bool int8)
{
    if (strcmp(level, "ref") == 0)
        return 2.0;
    if (strcmp(level, "avx2") == 0)
        return int8 ? 64.0 : 32.0;
    if (strcmp(level, "avx512") == 0)
        return int8 ? 128.0 : 64.0;
    if (strcmp(level, "vnni") == 0)
        return int8 ? 256.0 : 64.0;
    if (strcmp(level, "amx") == 0)
        return int8 ? 2048.0 : 64.0;
    if (strcmp(level, "neon") == 0) /* AArch64: int8 and float alike */
        return 16.0;
    if (strcmp(level, "dotprod") == 0)
        return int8 ? 64.0 : 16.0;
    if (strcmp(level, "i8mm") == 0)
        return int8 ? 128.0 : 16.0;
    ck_abort_msg("unknown kernel level '%s'", level);
    return 0.0;
}

static void assert_rel(double got, double want, double rel, const char *what)
{
    ck_assert_msg(fabs(got - want) <= rel * fabs(want), "%s: %.17g, expected %.17g", what, got,
                  want);
}

/* The latencies against what the JSON tells of the n timed samples
 * t[0] <= ... <= t[n-1] (man quanta-bench(1): nearest-rank percentiles,
 * median of the middle one or two). Nearest rank gives p99 = t[n-1] for
 * n <= 100 and p90 = t[n-1] for n <= 9, so p99 is the sampled maximum and
 * the median must lie in (0, p99]; with one sample all three are it; with
 * two the median is their mean, so the smaller one, 2 median - p99, must
 * lie in (0, median]. */
static void check_latencies(double med, double p90, double p99, int n)
{
    ck_assert_msg(isfinite(med) && isfinite(p90) && isfinite(p99), "median %g p90 %g p99 %g",
                  med, p90, p99);
    ck_assert_int_ge(n, 1);
    ck_assert_msg(med > 0.0 && med <= p99, "median %.17g outside the sampled range (0, %.17g]",
                  med, p99);
    ck_assert_msg(p90 <= p99 && p90 >= med, "p90 %.17g not in [median %.17g, p99 %.17g]", p90,
                  med, p99);
    if (n <= 9)
        ck_assert_msg(p90 == p99, "%d samples: p90 %.17g is not the maximum %.17g", n, p90, p99);
    if (n == 1)
        ck_assert_msg(med == p99, "one sample: median %.17g, p99 %.17g", med, p99);
    if (n == 2) {
        double lo = 2.0 * med - p99;
        ck_assert_msg(lo > 0.0 && lo <= med * (1 + 1e-12),
                      "two samples: median %.17g and max %.17g leave the other at %.17g", med,
                      p99, lo);
    }
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The figures recomputed from "runs_ms", every timed run's wall time
 * (man quanta-bench(1): median of the middle one or two, nearest-rank
 * percentiles t_k, k = ceil(p / 100 n)). */
static void check_runs(const cJSON *b, int n, double med, double p90, double p99)
{
    const cJSON *runs = item(b, "runs_ms");
    ck_assert(cJSON_IsArray(runs));
    ck_assert_int_eq(cJSON_GetArraySize(runs), n);
    double *t = malloc((size_t)n * sizeof *t);
    ck_assert_ptr_nonnull(t);
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(runs, i);
        ck_assert(cJSON_IsNumber(x) && x->valuedouble > 0.0);
        t[i] = x->valuedouble;
    }
    qsort(t, (size_t)n, sizeof *t, compare_double);
    double want_med = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
    int k90 = (int)ceil(0.90 * n), k99 = (int)ceil(0.99 * n);
    assert_rel(med, want_med, 1e-12, "median_ms from runs_ms");
    assert_rel(p90, t[(k90 < 1 ? 1 : k90) - 1], 1e-12, "p90_ms from runs_ms");
    assert_rel(p99, t[(k99 < 1 ? 1 : k99) - 1], 1e-12, "p99_ms from runs_ms");
    ck_assert_msg(med >= t[0] && med <= t[n - 1], "median %.17g outside [%.17g, %.17g]", med,
                  t[0], t[n - 1]);
    free(t);
}

/* Checks one model entry of the JSON report against the relations every
 * run must satisfy; returns the entry. */
static const cJSON *check_model(const cJSON *doc, int index, const char *path,
                                const char *precision, double ops, const int64_t *batches,
                                int n_batches)
{
    const cJSON *models = item(doc, "models");
    const cJSON *m = cJSON_GetArrayItem(models, index);
    ck_assert_ptr_nonnull(m);
    ck_assert_str_eq(item(m, "path")->valuestring, path);
    ck_assert_str_eq(item(m, "precision")->valuestring, precision);
    const char *level = item(doc, "kernels")->valuestring;
    ck_assert_str_eq(item(m, "kernels")->valuestring, level);
    ck_assert(cf_num(m, "threads") >= 1.0);
    if (index == 0) /* the first row has the first thread count, the document's */
        ck_assert_double_eq(cf_num(m, "threads"), cf_num(doc, "threads"));
    ck_assert_double_eq(cf_num(m, "ops_per_sample"), ops);
    ck_assert(cf_num(m, "peak_rss_kb") > 0.0);

    const cJSON *ghz = item(doc, "ghz");
    bool have_peak = cJSON_IsNumber(ghz);
    if (have_peak) {
        ck_assert(ghz->valuedouble > 0.0);
        double peak = cf_num(m, "threads") * ghz->valuedouble *
                      expected_ops_per_cycle(level, strcmp(precision, "int8") == 0);
        assert_rel(cf_num(m, "peak_gops"), peak, 1e-12, "peak_gops");
    } else {
        ck_assert(cJSON_IsNull(item(m, "peak_gops")));
        ck_assert_str_eq(item(doc, "ghz_source")->valuestring, "unknown");
    }

    const cJSON *list = item(m, "batches");
    ck_assert_int_eq(cJSON_GetArraySize(list), n_batches);
    for (int k = 0; k < n_batches; k++) {
        const cJSON *b = cJSON_GetArrayItem(list, k);
        double batch = cf_num(b, "batch");
        ck_assert_double_eq(batch, (double)batches[k]);
        double med = cf_num(b, "median_ms"), p90 = cf_num(b, "p90_ms"), p99 = cf_num(b, "p99_ms");
        check_latencies(med, p90, p99, (int)cf_num(doc, "iters"));
        check_runs(b, (int)cf_num(doc, "iters"), med, p90, p99);
        assert_rel(cf_num(b, "samples_per_s"), batch * 1e3 / med, 1e-9, "samples_per_s");
        double gops = cf_num(b, "gops");
        assert_rel(gops, ops * batch / (med * 1e-3) * 1e-9, 1e-9, "gops");
        if (have_peak)
            assert_rel(cf_num(b, "peak_fraction"), gops / cf_num(m, "peak_gops"), 1e-9,
                       "peak_fraction");
        else
            ck_assert(cJSON_IsNull(item(b, "peak_fraction")));
        /* the first model's median over this one's, at the same batch */
        const cJSON *first = cJSON_GetArrayItem(item(cJSON_GetArrayItem(models, 0), "batches"), k);
        ck_assert_ptr_nonnull(first);
        if (index == 0)
            ck_assert_double_eq(cf_num(b, "speedup"), 1.0);
        else
            assert_rel(cf_num(b, "speedup"), cf_num(first, "median_ms") / med, 1e-9, "speedup");
    }
    return m;
}

START_TEST(test_bench_help)
{
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta("bench --help", &out, &errout), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: quanta bench"));
    ck_assert_ptr_nonnull(strstr(out, "--warmup"));
    ck_assert_ptr_nonnull(strstr(out, "--iters"));
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);
    ck_assert_int_eq(ts_run_quanta("help bench", &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "--batch N[,N...]"));
    free(out);
    /* listed among the commands */
    ck_assert_int_eq(ts_run_quanta("help", &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "  bench "));
    free(out);
}
END_TEST

START_TEST(test_bench_usage_errors)
{
    struct bench_fx f;
    bench_fx_init(&f);
    cf_expect_usage("bench", "a model file is needed");
    cf_expect_usage("bench --json", "a model file is needed"); /* no model */
    cf_expect_usage(cf_args("bench %s --bogus", f.model), "unknown option '--bogus'");
    cf_expect_usage(cf_args("bench %s --batch", f.model),
                    "option '--batch' needs a value"); /* no value */
    cf_expect_usage(cf_args("bench %s --batch 0", f.model),
                    "--batch '0' is not a comma-separated list of");
    cf_expect_usage(cf_args("bench %s --batch 1048577", f.model),
                    "--batch '1048577' is not a comma-separated list of");
    cf_expect_usage(cf_args("bench %s --batch 1,,2", f.model),
                    "--batch '1,,2' is not a comma-separated list of");
    cf_expect_usage(cf_args("bench %s --batch 1,", f.model),
                    "--batch '1,' is not a comma-separated list of");
    cf_expect_usage(cf_args("bench %s --batch ,1", f.model),
                    "--batch ',1' is not a comma-separated list of");
    cf_expect_usage(cf_args("bench %s --batch 2x", f.model),
                    "--batch '2x' is not a comma-separated list of");
    cf_expect_usage(cf_args("bench %s --batch ''", f.model),
                    "--batch '' is not a comma-separated list of");
    cf_expect_usage(cf_args("bench %s --batch 1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,"
                            "20,21,22,23,24,25,26,27,28,29,30,31,32,33",
                            f.model),
                    "31,32,33' is not a comma-separated list of at most 32 numbers");
    cf_expect_usage(cf_args("bench %s --iters 0", f.model),
                    "--iters '0' is not a number in [1, 1000000]");
    cf_expect_usage(cf_args("bench %s --iters many", f.model),
                    "--iters 'many' is not a number in [1, 1000000]");
    cf_expect_usage(cf_args("bench %s --warmup -1", f.model),
                    "--warmup '-1' is not a number in [0, 1000000]");
    cf_expect_usage(cf_args("bench %s --threads -1", f.model),
                    "--threads '-1' is not a comma-separated list of");
    cf_expect_usage(cf_args("bench %s --threads 1025", f.model),
                    "--threads '1025' is not a comma-separated list of");
    bench_fx_free(&f);
}
END_TEST

START_TEST(test_bench_bad_model)
{
    struct bench_fx f;
    bench_fx_init(&f);
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
    cf_expect_input_error(cf_args("bench %s", garbage),
                          "header length 2338328219631577204 exceeds the limit of 100000000 bytes");
    cf_expect_input_error(
        cf_args("bench %s", truncated),
        "tensor 'fc2.bias': data_offsets [128, 140] end beyond the data buffer of 133 bytes");
    cf_expect_input_error(cf_args("bench %s --json", empty),
                          "file is 0 bytes, shorter than the 8-byte header length");
    cf_expect_input_error("bench /nonexistent/model.safetensors",
                          "cannot open: No such file or directory");
    /* a good first model does not hide a bad second one */
    cf_expect_input_error(
        cf_args("bench %s %s --iters 1 --warmup 0", f.model, truncated),
        "tensor 'fc2.bias': data_offsets [128, 140] end beyond the data buffer of 133 bytes");

    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("bench %s", f.bag), &out, &errout), 3);
    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(strstr(errout, f.bag));
    ck_assert_ptr_nonnull(strstr(errout, "has no graph"));
    free(out);
    free(errout);
    free(garbage);
    free(truncated);
    free(empty);
    bench_fx_free(&f);
}
END_TEST

START_TEST(test_bench_json_two_models)
{
    struct bench_fx f;
    bench_fx_init(&f);
    cJSON *doc = cf_run_json(cf_args("bench %s %s --json --batch 1,3,5 --iters 7 --warmup 1",
                                     f.model, f.model), 0);
    ck_assert(cJSON_IsString(item(doc, "kernels")));
    ck_assert_double_eq(cf_num(doc, "threads"), 1); /* the default */
    ck_assert_double_eq(cf_num(doc, "iters"), 7);
    ck_assert_double_eq(cf_num(doc, "warmup"), 1);
    ck_assert(cJSON_IsString(item(doc, "ghz_source")));
    const cJSON *batches = item(doc, "batches");
    ck_assert_int_eq(cJSON_GetArraySize(batches), 3);
    ck_assert_double_eq(cJSON_GetArrayItem(batches, 2)->valuedouble, 5);
    ck_assert_int_eq(cJSON_GetArraySize(item(doc, "models")), 2);
    static const int64_t want[] = {1, 3, 5};
    const cJSON *m0 = check_model(doc, 0, f.model, "float", TINY_OPS, want, 3);
    const cJSON *m1 = check_model(doc, 1, f.model, "float", TINY_OPS, want, 3);
    for (int k = 0; k < 3; k++) {
        const cJSON *b0 = cJSON_GetArrayItem(item(m0, "batches"), k);
        const cJSON *b1 = cJSON_GetArrayItem(item(m1, "batches"), k);
        /* the first model against itself is exactly 1; the second is the
         * ratio of the medians, whatever the timings were */
        ck_assert_double_eq(cf_num(b0, "speedup"), 1.0);
        assert_rel(cf_num(b1, "speedup"), cf_num(b0, "median_ms") / cf_num(b1, "median_ms"),
                   1e-9, "speedup");
    }
    /* peak RSS is a high-water mark of the one process: never lower later */
    ck_assert(cf_num(m1, "peak_rss_kb") >= cf_num(m0, "peak_rss_kb"));
    cJSON_Delete(doc);
    bench_fx_free(&f);
}
END_TEST

START_TEST(test_bench_ops_count)
{
    char *conv = write_conv_model("conv.safetensors", "-1");
    char *emb = write_embedding_model();
    cJSON *doc = cf_run_json(cf_args("bench %s %s --json --batch 2 --iters 3 --warmup 0", conv,
                                     emb), 0);
    static const int64_t want[] = {2};
    check_model(doc, 0, conv, "float", CONV_OPS, want, 1);
    check_model(doc, 1, emb, "float", EMB_OPS, want, 1);
    cJSON_Delete(doc);
    free(conv);
    free(emb);
}
END_TEST

START_TEST(test_bench_fixed_batch)
{
    char *fixed = write_conv_model("fixed.safetensors", "2");
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("bench %s --iters 1", fixed), &out, &errout), 3);
    ck_assert_str_eq(out, "");
    ck_assert_ptr_nonnull(strstr(errout, "fixed batch of 2"));
    free(out);
    free(errout);
    cJSON *doc = cf_run_json(cf_args("bench %s --json --batch 2 --iters 2", fixed), 0);
    static const int64_t want[] = {2};
    check_model(doc, 0, fixed, "float", CONV_OPS, want, 1);
    cJSON_Delete(doc);
    free(fixed);
}
END_TEST

START_TEST(test_bench_threads)
{
    struct bench_fx f;
    bench_fx_init(&f);
    cJSON *doc = cf_run_json(cf_args("bench %s --json --threads 0 --batch 4 --iters 2", f.model),
                             0);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    ck_assert_double_eq(cf_num(doc, "threads"), (double)(cores > 0 ? cores : 1));
    static const int64_t want[] = {4};
    check_model(doc, 0, f.model, "float", TINY_OPS, want, 1);
    cJSON_Delete(doc);
    doc = cf_run_json(cf_args("bench %s --json --threads 3 --batch 4 --iters 2", f.model), 0);
    ck_assert_double_eq(cf_num(doc, "threads"), 3);
    check_model(doc, 0, f.model, "float", TINY_OPS, want, 1);
    cJSON_Delete(doc);
    bench_fx_free(&f);
}
END_TEST

/* --threads 1,2: every model at 1 thread, then every model at 2, each row
 * with its own thread count and peak, speed-ups against the first row. */
START_TEST(test_bench_thread_list)
{
    struct bench_fx f;
    bench_fx_init(&f);
    cJSON *doc = cf_run_json(
        cf_args("bench %s %s --json --threads 1,2 --batch 4 --iters 2", f.model, f.model), 0);
    ck_assert_int_eq(cJSON_GetArraySize(item(doc, "models")), 4);
    static const int64_t want[] = {4};
    for (int i = 0; i < 4; i++) {
        const cJSON *m = check_model(doc, i, f.model, "float", TINY_OPS, want, 1);
        ck_assert_double_eq(cf_num(m, "threads"), i < 2 ? 1 : 2);
    }
    const cJSON *first = cJSON_GetArrayItem(item(cJSON_GetArrayItem(item(doc, "models"), 0),
                                                 "batches"), 0);
    ck_assert_double_eq(cf_num(first, "speedup"), 1.0);
    cJSON_Delete(doc);
    cf_expect_usage(cf_args("bench %s --threads 1,,2", f.model),
                    "--threads '1,,2' is not a comma-separated list of");
    cf_expect_usage(cf_args("bench %s --threads 1,2,3,4,5,6,7,8,9", f.model),
                    "--threads '1,2,3,4,5,6,7,8,9' is not a comma-separated list of");
    bench_fx_free(&f);
}
END_TEST

/* A float model and its int8 copy (quanta quantize): the int8 one is
 * recognised, counts the same operations (the quantizer adds only
 * quantize/dequantize nodes) and has the int8 peak of the level. */
START_TEST(test_bench_int8)
{
    struct bench_fx f;
    bench_fx_init(&f);
    char *q = cf_tmp("tiny-int8.safetensors");
    char *errout = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s -o %s --data %s", f.model, q, f.images), NULL,
                           &errout);
    ck_assert_msg(rc == 0, "quantize exited %d: %s", rc, errout);
    free(errout);
    cJSON *doc = cf_run_json(cf_args("bench %s %s --json --batch 1,2 --iters 3", f.model, q), 0);
    static const int64_t want[] = {1, 2};
    check_model(doc, 0, f.model, "float", TINY_OPS, want, 2);
    check_model(doc, 1, q, "int8", TINY_OPS, want, 2);
    cJSON_Delete(doc);
    free(q);
    bench_fx_free(&f);
}
END_TEST

START_TEST(test_bench_text)
{
    struct bench_fx f;
    bench_fx_init(&f);
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("bench %s %s --batch 1,2,3 --iters 2", f.model,
                                           f.model), &out, &errout), 0);
    ck_assert_str_eq(errout, "");
    ck_assert_ptr_nonnull(strstr(out, "kernels: "));
    ck_assert_ptr_nonnull(strstr(out, "threads: 1"));
    ck_assert_ptr_nonnull(strstr(out, "median ms"));
    ck_assert_ptr_nonnull(strstr(out, "speed-up"));
    ck_assert_ptr_nonnull(strstr(out, "1.00x"));
    /* settings line, table header, 2 models x 3 batches, a line per model */
    ck_assert_int_eq(cf_lines(out), 1 + 1 + 6 + 2);
    free(out);
    free(errout);
    /* a bad QUANTA_ISA is a usage error, as for every command */
    char *args = strdup(cf_args("bench %s --iters 1", f.model));
    ck_assert_int_eq(setenv("QUANTA_ISA", "avx9", 1), 0);
    int rc = ts_run_quanta(args, &out, &errout);
    unsetenv("QUANTA_ISA");
    ck_assert_int_eq(rc, 2);
    ck_assert_ptr_nonnull(strstr(errout, "QUANTA_ISA=avx9"));
    free(out);
    free(errout);
    free(args);
    bench_fx_free(&f);
}
END_TEST

Suite *suite_cli_bench(void);
Suite *suite_cli_bench(void)
{
    Suite *s = suite_create("cli_bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_bench_help);
    tcase_add_test(tc, test_bench_usage_errors);
    tcase_add_test(tc, test_bench_bad_model);
    tcase_add_test(tc, test_bench_json_two_models);
    tcase_add_test(tc, test_bench_ops_count);
    tcase_add_test(tc, test_bench_fixed_batch);
    tcase_add_test(tc, test_bench_threads);
    tcase_add_test(tc, test_bench_thread_list);
    tcase_add_test(tc, test_bench_int8);
    tcase_add_test(tc, test_bench_text);
    suite_add_tcase(s, tc);
    return s;
}

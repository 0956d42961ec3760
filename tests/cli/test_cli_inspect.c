/* quanta inspect, end to end: options, errors, and the JSON report checked
 * against statistics computed here from the tensors written. */
#include "cli/cli_fixture.h"

START_TEST(test_inspect_help)
{
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta("inspect --help", &out, &errout), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: quanta inspect"));
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);
    ck_assert_int_eq(ts_run_quanta("inspect -h", &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "--json"));
    free(out);
}
END_TEST

START_TEST(test_inspect_usage_errors)
{
    char *model = cf_tmp("m.safetensors");
    struct cf_weights w;
    cf_default_weights(&w);
    cf_write_model(model, &w, true);
    cf_expect_usage("inspect", "a model file is needed");
    cf_expect_usage(cf_args("inspect %s %s", model, model), "only one model file is taken");
    cf_expect_usage(cf_args("inspect %s --verbose", model), "unknown option '--verbose'");
    cf_expect_usage(cf_args("inspect --json=1 %s", model), "unknown option '--json=1'");
    free(model);
}
END_TEST

START_TEST(test_inspect_malformed)
{
    char *bad = cf_tmp("bad.safetensors");
    static const char junk[] = "garbage garbage garbage garbage";
    ts_write_file(bad, junk, sizeof junk - 1);
    cf_expect_input_error(cf_args("inspect %s", bad),
                          "header length 2334385649822622055 exceeds the limit of 100000000 bytes");
    cf_expect_input_error(cf_args("inspect %s --json", bad),
                          "header length 2334385649822622055 exceeds the limit of 100000000 bytes");

    /* a valid file cut short */
    char *model = cf_tmp("m.safetensors");
    struct cf_weights w;
    cf_default_weights(&w);
    cf_write_model(model, &w, true);
    size_t size;
    char *bytes = ts_read_file(model, &size);
    ts_write_file(bad, bytes, size - 4);
    cf_expect_input_error(
        cf_args("inspect %s", bad),
        "tensor 'fc2.bias': data_offsets [128, 140] end beyond the data buffer of 136 bytes");
    /* a header length beyond the file */
    ts_write_file(bad, bytes, 8);
    cf_expect_input_error(cf_args("inspect %s", bad),
                          "header length 976 is more than the 0 bytes after it");
    /* a graph naming a tensor the file lacks */
    static const char broken_graph[] =
        "{\"format\": \"quanta.graph\", \"version\": 1, \"inputs\": [{\"name\": \"x\", "
        "\"shape\": [-1, 4], \"dtype\": \"F32\"}], \"outputs\": [\"y\"], \"nodes\": [{\"op\": "
        "\"dense\", \"name\": \"fc\", \"inputs\": [\"x\", \"missing.weight\"], \"outputs\": "
        "[\"y\"]}]}";
    struct st_tensor_desc t = {"fc1.bias", QUANTA_F32, {1, {4}}, w.b1};
    struct st_meta meta = {"quanta.graph", broken_graph};
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_int_eq(st_write_file(bad, &t, 1, &meta, 1, &err), QUANTA_OK);
    cf_expect_input_error(cf_args("inspect %s", bad),
                          "node 'fc' (dense): input 'missing.weight' is not defined before it "
                          "(nodes must be in topological order)");
    cf_expect_input_error("inspect /nonexistent/model.safetensors",
                          "cannot open: No such file or directory");
    free(bytes);
    free(bad);
    free(model);
}
END_TEST

static const cJSON *find_named(const cJSON *array, const char *name)
{
    const cJSON *e;
    cJSON_ArrayForEach(e, array)
    {
        const cJSON *n = cJSON_GetObjectItem(e, "name");
        if (cJSON_IsString(n) && strcmp(n->valuestring, name) == 0)
            return e;
    }
    return NULL;
}

/* min, max, mean and population std of n floats, in double */
static void stats(const float *x, int n, double out[4])
{
    double mn = x[0], mx = x[0], sum = 0.0;
    for (int i = 0; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
        sum += x[i];
    }
    double mean = sum / n, ss = 0.0;
    for (int i = 0; i < n; i++)
        ss += (x[i] - mean) * (x[i] - mean);
    out[0] = mn;
    out[1] = mx;
    out[2] = mean;
    out[3] = sqrt(ss / n);
}

START_TEST(test_inspect_json)
{
    char *model = cf_tmp("m.safetensors");
    struct cf_weights w;
    cf_default_weights(&w);
    cf_write_model(model, &w, true);
    cJSON *doc = cf_run_json(cf_args("inspect %s --json", model), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "path")->valuestring, model);
    size_t size;
    free(ts_read_file(model, &size));
    ck_assert_double_eq(cf_num(doc, "bytes"), (double)size);
    ck_assert_double_eq(cf_num(doc, "parameters"), 16 + 4 + 12 + 3);

    const cJSON *g = cJSON_GetObjectItem(doc, "graph");
    ck_assert(cJSON_IsObject(g));
    ck_assert_str_eq(cJSON_GetObjectItem(g, "name")->valuestring, "tiny");
    ck_assert(cf_num(g, "arena_bytes") > 0);
    const cJSON *nodes = cJSON_GetObjectItem(g, "nodes");
    ck_assert_int_eq(cJSON_GetArraySize(nodes), 3);
    const cJSON *fc1 = find_named(nodes, "fc1");
    ck_assert_ptr_nonnull(fc1);
    ck_assert_str_eq(cJSON_GetObjectItem(fc1, "op")->valuestring, "dense");
    ck_assert_str_eq(cJSON_GetObjectItem(fc1, "activation")->valuestring, "relu");
    ck_assert_double_eq(cf_num(fc1, "parameters"), 20);
    const cJSON *out0 = cJSON_GetArrayItem(cJSON_GetObjectItem(fc1, "outputs"), 0);
    const cJSON *shape = cJSON_GetObjectItem(out0, "shape");
    ck_assert_int_eq(cJSON_GetArraySize(shape), 2);
    ck_assert_int_eq(cJSON_GetArrayItem(shape, 0)->valueint, -1);
    ck_assert_int_eq(cJSON_GetArrayItem(shape, 1)->valueint, 4);

    const cJSON *in = cJSON_GetArrayItem(cJSON_GetObjectItem(g, "inputs"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(in, "name")->valuestring, "image");
    ck_assert_double_eq_tol(cf_num(cJSON_GetObjectItem(in, "normalize"), "scale"), 1.0 / 255,
                            1e-12);
    const cJSON *outp = cJSON_GetArrayItem(cJSON_GetObjectItem(g, "outputs"), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(outp, "name")->valuestring, "logits");

    const cJSON *tensors = cJSON_GetObjectItem(doc, "tensors");
    ck_assert_int_eq(cJSON_GetArraySize(tensors), 4);
    const cJSON *t = find_named(tensors, "fc1.weight");
    ck_assert_ptr_nonnull(t);
    ck_assert_str_eq(cJSON_GetObjectItem(t, "dtype")->valuestring, "F32");
    ck_assert_double_eq(cf_num(t, "bytes"), 64);
    double s[4];
    stats(&w.w1[0][0], 16, s);
    ck_assert_double_eq_tol(cf_num(t, "min"), s[0], 1e-7);
    ck_assert_double_eq_tol(cf_num(t, "max"), s[1], 1e-7);
    ck_assert_double_eq_tol(cf_num(t, "mean"), s[2], 1e-7);
    ck_assert_double_eq_tol(cf_num(t, "std"), s[3], 1e-6);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(t, "quant")));
    t = find_named(tensors, "fc2.bias");
    stats(w.b2, 3, s);
    ck_assert_double_eq_tol(cf_num(t, "mean"), s[2], 1e-7);
    ck_assert_double_eq_tol(cf_num(t, "std"), s[3], 1e-6);

    const cJSON *meta = cJSON_GetObjectItem(doc, "metadata");
    ck_assert_str_eq(cJSON_GetObjectItem(meta, "origin")->valuestring, "cli test");
    ck_assert_ptr_null(cJSON_GetObjectItem(meta, "quanta.graph"));
    cJSON_Delete(doc);
    free(model);
}
END_TEST

START_TEST(test_inspect_text)
{
    char *model = cf_tmp("m.safetensors");
    struct cf_weights w;
    cf_default_weights(&w);
    cf_write_model(model, &w, true);
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", model), &out, &errout), 0);
    ck_assert_str_eq(errout, "");
    ck_assert_ptr_nonnull(strstr(out, "[N, 2, 2, 1]")); /* input shape, batch as N */
    ck_assert_ptr_nonnull(strstr(out, "[N, 3]"));       /* logits */
    ck_assert_ptr_nonnull(strstr(out, "dense+relu"));
    ck_assert_ptr_nonnull(strstr(out, "fc2.weight"));
    ck_assert_ptr_nonnull(strstr(out, "origin"));
    ck_assert_ptr_null(strstr(out, " \n")); /* no trailing spaces */
    free(out);
    free(errout);
    free(model);
}
END_TEST

START_TEST(test_inspect_bag_of_tensors)
{
    char *bag = cf_tmp("bag.safetensors");
    struct cf_weights w;
    cf_default_weights(&w);
    cf_write_model(bag, &w, false);
    cJSON *doc = cf_run_json(cf_args("inspect --json %s", bag), 0);
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "graph")));
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "tensors")), 4);
    cJSON_Delete(doc);
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", bag), &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "bag of tensors"));
    free(out);
    free(bag);
}
END_TEST

START_TEST(test_inspect_bundled)
{
    if (!cf_file_exists(ts_src_path("models/fmnist-cnn.safetensors")))
        TS_SKIP("%s absent", ts_src_path("models/fmnist-cnn.safetensors"));
    char *model = strdup(ts_src_path("models/fmnist-cnn.safetensors"));
    cJSON *doc = cf_run_json(cf_args("inspect --json %s", model), 0);
    const cJSON *g = cJSON_GetObjectItem(doc, "graph");
    ck_assert(cJSON_IsObject(g));
    ck_assert_int_ge(cJSON_GetArraySize(cJSON_GetObjectItem(g, "nodes")), 2);
    ck_assert(cf_num(g, "arena_bytes") > 0);
    ck_assert_int_ge(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "tensors")), 2);
    cJSON_Delete(doc);
    free(model);
}
END_TEST

/* dense -> batch_norm -> sigmoid: --optimized folds and fuses, says so,
 * and leaves the file as it was */
#define BN_GRAPH                                                                            \
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"bn\", "                      \
    "\"inputs\": [{\"name\": \"x\", \"shape\": [-1, 4], \"dtype\": \"F32\"}], "            \
    "\"outputs\": [\"y\"], \"nodes\": ["                                                    \
    "{\"op\": \"dense\", \"name\": \"fc1\", \"inputs\": [\"x\", \"fc1.weight\", "           \
    "\"fc1.bias\"], \"outputs\": [\"fc1.out\"]}, "                                           \
    "{\"op\": \"batch_norm\", \"name\": \"bn\", \"inputs\": [\"fc1.out\", \"g\", \"b\", "   \
    "\"m\", \"v\"], \"outputs\": [\"bn.out\"]}, "                                            \
    "{\"op\": \"sigmoid\", \"name\": \"act\", \"inputs\": [\"bn.out\"], "                  \
    "\"outputs\": [\"y\"]}]}"

/* The bytes of a file (caller frees), *n its size. */
static unsigned char *slurp(const char *path, long *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    *n = ftell(f);
    rewind(f);
    unsigned char *p = malloc((size_t)*n + 1);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(fread(p, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
    return p;
}

START_TEST(test_inspect_optimized)
{
    char *model = cf_tmp("bn.safetensors");
    static const float w[4][4] = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
    static const float b[4] = {0.1f, 0.2f, 0.3f, 0.4f}, g[4] = {1, 2, 0.5f, 1};
    static const float beta[4] = {0, 0.1f, -0.1f, 0}, m[4] = {0.5f, 0, 0, -0.5f};
    static const float v[4] = {1, 4, 0.25f, 1};
    struct st_tensor_desc t[6] = {
        {"fc1.weight", QUANTA_F32, {2, {4, 4}}, w}, {"fc1.bias", QUANTA_F32, {1, {4}}, b},
        {"g", QUANTA_F32, {1, {4}}, g},  {"b", QUANTA_F32, {1, {4}}, beta},
        {"m", QUANTA_F32, {1, {4}}, m},  {"v", QUANTA_F32, {1, {4}}, v},
    };
    struct st_meta meta[1] = {{"quanta.graph", BN_GRAPH}};
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_write_file(model, t, 6, meta, 1, &err) == QUANTA_OK, "%s", err.message);
    long size, size2;
    unsigned char *before = slurp(model, &size);

    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect --optimized %s", model), &out, &errout), 0);
    ck_assert_str_eq(errout, "");
    ck_assert_ptr_nonnull(strstr(out, "1 nodes"));
    ck_assert_ptr_nonnull(strstr(out, "dense+sigmoid"));
    ck_assert_ptr_nonnull(strstr(out, "optimized  const 0, fold 1, scale 0, residual 0, fuse 1, collapse 0, dead 0\n"));
    ck_assert_ptr_nonnull(strstr(out, "fold: batch_norm 'bn' into dense 'fc1'\n"));
    ck_assert_ptr_nonnull(strstr(out, "fuse: sigmoid 'act' into dense 'fc1'\n"));
    free(out);
    free(errout);
    /* without the option: the graph as stored */
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", model), &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "3 nodes"));
    ck_assert_ptr_null(strstr(out, "optimized"));
    free(out);

    cJSON *doc = cf_run_json(cf_args("inspect --optimized --json %s", model), 0);
    const cJSON *o = cJSON_GetObjectItem(doc, "optimized");
    ck_assert(cJSON_IsObject(o));
    ck_assert(cf_num(o, "fold") == 1 && cf_num(o, "fuse") == 1 && cf_num(o, "dead") == 0);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "log")), 2);
    const cJSON *nodes = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "graph"), "nodes");
    ck_assert_int_eq(cJSON_GetArraySize(nodes), 1);
    ck_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(nodes, 0), "activation")->valuestring,
                     "sigmoid");
    cJSON_Delete(doc);
    unsigned char *after = slurp(model, &size2);
    ck_assert(size == size2 && memcmp(before, after, (size_t)size) == 0);
    free(before);
    free(after);
    free(model);
}
END_TEST

/* The residual pass on a PyTorch block (x, conv, conv, add x, relu): the add
 * and its relu go into the second conv, shown in the table and the JSON */
START_TEST(test_inspect_optimized_residual)
{
    char *model = cf_tmp("residual.safetensors");
    ck_assert_int_eq(ts_run_quanta(cf_args("import %s -o %s",
                                           ts_src_path("tests/fixtures/onnx/residual.onnx"), model),
                                   NULL, NULL),
                     0);
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect --optimized %s", model), &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "conv2d+add+relu"));
    ck_assert_ptr_nonnull(strstr(out, "residual: add '/Add' into conv2d '/c2/Conv'\n"));
    free(out);
    cJSON *doc = cf_run_json(cf_args("inspect --optimized --json %s", model), 0);
    ck_assert(cf_num(cJSON_GetObjectItem(doc, "optimized"), "residual") == 1);
    const cJSON *nodes = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "graph"), "nodes");
    bool seen = false;
    for (const cJSON *n = nodes ? nodes->child : NULL; n; n = n->next) {
        if (strcmp(cJSON_GetObjectItem(n, "name")->valuestring, "/c2/Conv") != 0)
            continue;
        const cJSON *ins = cJSON_GetObjectItem(n, "inputs");
        ck_assert_int_eq(cJSON_GetArraySize(ins), 4);
        ck_assert_str_eq(cJSON_GetArrayItem(ins, 3)->valuestring, "/MaxPool_output_0");
        ck_assert_str_eq(cJSON_GetObjectItem(n, "activation")->valuestring, "relu");
        seen = true;
    }
    ck_assert(seen);
    cJSON_Delete(doc);
    free(model);
}
END_TEST

/* A chain reading only constants (transpose, mul, slice, reshape): the
 * const pass computes it once, says so, and leaves the exp it does not
 * evaluate (then dead); quantize starts from the same rewrite, so the
 * quantized model has no node for the chain either. */
#define CONST_GRAPH                                                                          \
    "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": \"chain\", "                  \
    "\"inputs\": [{\"name\": \"x\", \"shape\": [-1, 6], \"dtype\": \"F32\"}], "            \
    "\"outputs\": [\"y\"], \"nodes\": ["                                                    \
    "{\"op\": \"transpose\", \"name\": \"t\", \"inputs\": [\"a\"], \"outputs\": [\"t.out\"], " \
    "\"attrs\": {\"perm\": [1, 0]}}, "                                                      \
    "{\"op\": \"mul\", \"name\": \"scale\", \"inputs\": [\"t.out\", \"s\"], "               \
    "\"outputs\": [\"m.out\"]}, "                                                           \
    "{\"op\": \"slice\", \"name\": \"row\", \"inputs\": [\"m.out\"], \"outputs\": [\"sl.out\"], " \
    "\"attrs\": {\"shape\": [1, 6], \"starts\": [1, 0]}}, "                                 \
    "{\"op\": \"reshape\", \"name\": \"flat\", \"inputs\": [\"sl.out\"], "                  \
    "\"outputs\": [\"shift\"], \"attrs\": {\"shape\": [6]}}, "                              \
    "{\"op\": \"exp\", \"name\": \"e\", \"inputs\": [\"s\"], \"outputs\": [\"e.out\"]}, "    \
    "{\"op\": \"add\", \"name\": \"u\", \"inputs\": [\"x\", \"shift\"], \"outputs\": [\"u.out\"]}, " \
    "{\"op\": \"dense\", \"name\": \"fc\", \"inputs\": [\"u.out\", \"w\", \"b\"], "         \
    "\"outputs\": [\"y\"]}]}"

START_TEST(test_inspect_optimized_const)
{
    char *model = cf_tmp("chain.safetensors"), *data = cf_tmp("chain.npy");
    char *quantized = cf_tmp("chain.q.safetensors");
    float a[6][2], s[1] = {0.5f}, w[4][6], b[4] = {0.1f, -0.1f, 0.2f, 0};
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 2; j++)
            a[i][j] = (float)(i - 3 * j) / 4.0f;
    for (int o = 0; o < 4; o++)
        for (int i = 0; i < 6; i++)
            w[o][i] = (float)((o + 1) * (i % 3) - 2) / 8.0f;
    struct st_tensor_desc t[4] = {
        {"a", QUANTA_F32, {2, {6, 2}}, a}, {"s", QUANTA_F32, {1, {1}}, s},
        {"w", QUANTA_F32, {2, {4, 6}}, w}, {"b", QUANTA_F32, {1, {4}}, b},
    };
    struct st_meta meta[1] = {{"quanta.graph", CONST_GRAPH}};
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_write_file(model, t, 4, meta, 1, &err) == QUANTA_OK, "%s", err.message);

    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect --optimized %s", model), &out, NULL), 0);
    ck_assert_ptr_nonnull(strstr(out, "2 nodes"));
    ck_assert_ptr_nonnull(
        strstr(out, "optimized  const 4, fold 0, scale 0, residual 0, fuse 0, collapse 0, dead 1\n"));
    ck_assert_ptr_nonnull(strstr(out, "const: transpose 't' computed once: constant 't.out'\n"));
    ck_assert_ptr_nonnull(strstr(out, "const: reshape 'flat' computed once: constant 'shift'\n"));
    ck_assert_ptr_nonnull(strstr(out, "const: exp 'e' not folded: "));
    free(out);
    cJSON *doc = cf_run_json(cf_args("inspect --optimized --json %s", model), 0);
    ck_assert(cf_num(cJSON_GetObjectItem(doc, "optimized"), "const") == 4);
    cJSON_Delete(doc);

    float x[16][6];
    for (int n = 0; n < 16; n++)
        for (int i = 0; i < 6; i++)
            x[n][i] = (float)((n * 7 + i * 5) % 17 - 8) / 4.0f;
    struct quanta_shape xs = {2, {16, 6}};
    ck_assert_msg(npy_write(data, QUANTA_F32, &xs, x, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(ts_run_quanta(cf_args("quantize %s -o %s --data %s --quiet", model, quantized,
                                           data), NULL, NULL), 0);
    doc = cf_run_json(cf_args("inspect --json %s", quantized), 0);
    const cJSON *nodes = cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "graph"), "nodes");
    for (const cJSON *n = nodes ? nodes->child : NULL; n; n = n->next) {
        const char *name = cJSON_GetObjectItem(n, "name")->valuestring;
        ck_assert_msg(strcmp(name, "t") && strcmp(name, "row") && strcmp(name, "flat"),
                      "node '%s' left in the quantized model", name);
    }
    cJSON_Delete(doc);
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s", quantized, data), NULL, NULL), 0);
    free(model);
    free(data);
    free(quantized);
}
END_TEST

Suite *suite_cli_inspect(void);
Suite *suite_cli_inspect(void)
{
    Suite *s = suite_create("cli_inspect");
    TCase *tc = tcase_create("inspect");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_inspect_help);
    tcase_add_test(tc, test_inspect_usage_errors);
    tcase_add_test(tc, test_inspect_malformed);
    tcase_add_test(tc, test_inspect_json);
    tcase_add_test(tc, test_inspect_text);
    tcase_add_test(tc, test_inspect_bag_of_tensors);
    tcase_add_test(tc, test_inspect_optimized_residual);
    tcase_add_test(tc, test_inspect_bundled);
    tcase_add_test(tc, test_inspect_optimized);
    tcase_add_test(tc, test_inspect_optimized_const);
    suite_add_tcase(s, tc);
    return s;
}

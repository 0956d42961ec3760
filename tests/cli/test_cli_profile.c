/* quanta profile, end to end: every node once, in graph order, with its op
 * and kind (float, or int8 in a quantized copy); shares that sum to one;
 * per-operator rows that add up to the nodes; --top; errors. No timing
 * assertions: only relations that hold whatever the machine's speed. */
#include "cli/cli_fixture.h"

struct profile_fx {
    char *model, *images, *q;
    struct cf_weights w;
};

static void fx_init(struct profile_fx *f)
{
    memset(f, 0, sizeof *f);
    f->model = cf_tmp("profile.safetensors");
    f->images = cf_tmp("profile-images-idx3-ubyte");
    f->q = cf_tmp("profile-int8.safetensors");
    cf_default_weights(&f->w);
    cf_write_model(f->model, &f->w, true);
    cf_write_images(f->images);
}

static void fx_free(struct profile_fx *f)
{
    free(f->model);
    free(f->images);
    free(f->q);
}

/* The JSON of one profile, checked against the model's own graph. */
static void check_profile(const char *model, bool want_int8_dense)
{
    cJSON *inspect = cf_run_json(cf_args("inspect %s --json", model), 0);
    const cJSON *gnodes = cJSON_GetObjectItem(cJSON_GetObjectItem(inspect, "graph"), "nodes");
    ck_assert_ptr_nonnull(gnodes);
    cJSON *doc = cf_run_json(cf_args("profile %s --iters 5 --warmup 1 --batch 3 --json", model),
                             0);
    ck_assert_int_eq((int)cf_num(doc, "batch"), 3);
    ck_assert_int_eq((int)cf_num(doc, "iters"), 5);
    ck_assert(cf_num(doc, "median_run_ms") > 0);
    const cJSON *nodes = cJSON_GetObjectItem(doc, "nodes");
    ck_assert_int_eq(cJSON_GetArraySize(nodes), cJSON_GetArraySize(gnodes));
    double share = 0, sum_ms = 0;
    bool saw_int8_dense = false;
    for (int i = 0; i < cJSON_GetArraySize(nodes); i++) {
        const cJSON *n = cJSON_GetArrayItem(nodes, i), *g = cJSON_GetArrayItem(gnodes, i);
        ck_assert_str_eq(cJSON_GetObjectItem(n, "node")->valuestring,
                         cJSON_GetObjectItem(g, "name")->valuestring);
        ck_assert_str_eq(cJSON_GetObjectItem(n, "op")->valuestring,
                         cJSON_GetObjectItem(g, "op")->valuestring);
        ck_assert(cf_num(n, "median_ms") >= 0);
        share += cf_num(n, "share");
        sum_ms += cf_num(n, "median_ms");
        if (!strcmp(cJSON_GetObjectItem(n, "op")->valuestring, "dense") &&
            cJSON_IsTrue(cJSON_GetObjectItem(n, "int8")))
            saw_int8_dense = true;
    }
    ck_assert_msg(fabs(share - 1) < 1e-9, "shares sum to %.12g", share);
    ck_assert(fabs(sum_ms - cf_num(doc, "node_sum_ms")) <= 1e-9 * (1 + sum_ms));
    ck_assert_int_eq(saw_int8_dense, want_int8_dense);
    /* the operator rows partition the nodes */
    const cJSON *ops = cJSON_GetObjectItem(doc, "ops");
    int counted = 0;
    double ops_ms = 0;
    for (int k = 0; k < cJSON_GetArraySize(ops); k++) {
        counted += (int)cf_num(cJSON_GetArrayItem(ops, k), "nodes");
        ops_ms += cf_num(cJSON_GetArrayItem(ops, k), "median_ms");
    }
    ck_assert_int_eq(counted, cJSON_GetArraySize(nodes));
    ck_assert(fabs(ops_ms - sum_ms) <= 1e-9 * (1 + sum_ms));
    cJSON_Delete(doc);
    cJSON_Delete(inspect);
}

START_TEST(test_profile_float_and_int8)
{
    struct profile_fx f;
    fx_init(&f);
    check_profile(f.model, false);
    char *out = NULL, *err = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s --data %s -o %s", f.model, f.images, f.q), NULL,
                           &err);
    ck_assert_msg(rc == 0, "quantize: %s", err);
    free(err);
    check_profile(f.q, true);
    /* the table: --top 1 lists one node and says how many more */
    rc = ts_run_quanta(cf_args("profile %s --iters 2 --top 1", f.q), &out, NULL);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(out, "more nodes: --top 0 lists them all") &&
                      strstr(out, "per operator:"),
                  "%s", out);
    free(out);
    fx_free(&f);
}
END_TEST

START_TEST(test_profile_errors)
{
    struct profile_fx f;
    fx_init(&f);
    cf_expect_usage(cf_args("profile"), "one model file is needed");
    cf_expect_usage(cf_args("profile %s --iters 0", f.model), "--iters '0'");
    cf_expect_usage(cf_args("profile %s --batch x", f.model), "--batch 'x'");
    cf_expect_usage(cf_args("profile %s %s", f.model, f.model), "one model file");
    cf_expect_input_error(cf_args("profile %s", f.images), f.images);
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta("profile --help", &out, NULL), 0);
    ck_assert(strstr(out, "usage: quanta profile"));
    free(out);
    fx_free(&f);
}
END_TEST

Suite *suite_cli_profile(void);
Suite *suite_cli_profile(void)
{
    Suite *s = suite_create("cli_profile");
    TCase *tc = tcase_create("profile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_profile_float_and_int8);
    tcase_add_test(tc, test_profile_errors);
    suite_add_tcase(s, tc);
    return s;
}

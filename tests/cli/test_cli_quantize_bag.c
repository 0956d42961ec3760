/* quanta quantize on checkpoints without a graph (a bag of tensors, a
 * sharded set) and the non-finite weight check, end to end. */
#include "cli/cli_fixture.h"
#include "quanta/sha256.h"

static void qb_ok(const char *args)
{
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(args, &out, &errout);
    ck_assert_msg(rc == 0, "'quanta %s' exited %d (stderr: %s)", args, rc, errout ? errout : "");
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);
}

START_TEST(test_bag_cli)
{
    struct cf_weights w;
    cf_default_weights(&w);
    char *bag = cf_tmp("bag.safetensors"), *out = cf_tmp("bag-q.safetensors");
    char *model = cf_tmp("tiny.safetensors");
    cf_write_model(bag, &w, false);
    cf_write_model(model, &w, true);
    qb_ok(cf_args("quantize %s -o %s --mode weight-only --exclude 'fc2.*'", bag, out));
    struct st_file f;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_open(&f, out, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_uint_eq(f.n_tensors, 5); /* fc1.weight I8 + its scale, the rest as they were */
    const struct st_tensor *q = st_find(&f, "fc1.weight");
    ck_assert_int_eq(q->dtype, QUANTA_I8);
    const int8_t *qv = q->data;
    /* every row of w1 has max |w| = 1: scale 1/127 (as float), q = round(w / scale) */
    const struct st_tensor *sc = st_find(&f, "fc1.weight.scale");
    ck_assert_int_eq(sc->dtype, QUANTA_F32);
    ck_assert_int_eq(sc->shape.dims[0], 4);
    for (int r = 0; r < 4; r++) {
        float s;
        memcpy(&s, (const char *)sc->data + 4 * r, 4);
        ck_assert(s == (float)(1.0 / 127.0));
        for (int k = 0; k < 4; k++)
            ck_assert_int_eq(qv[4 * r + k], (int)lround((double)w.w1[r][k] / (double)s));
    }
    ck_assert_int_eq(qv[0], 127);
    ck_assert_int_eq(qv[13], 32); /* 0.25 * 127 = 31.75 */
    ck_assert_int_eq(qv[15], 127);
    ck_assert_int_eq(st_find(&f, "fc2.weight")->dtype, QUANTA_F32); /* excluded by the glob */
    ck_assert(memcmp(st_find(&f, "fc2.weight")->data, w.w2, sizeof w.w2) == 0);
    ck_assert_str_eq(st_meta_find(&f, "origin"), "cli test");
    char sha[QUANTA_SHA256_HEX_SIZE];
    ck_assert_int_eq(quanta_sha256_file(bag, sha, &err), QUANTA_OK);
    ck_assert_str_eq(st_meta_find(&f, "quanta.source_sha256"), sha);
    cJSON *o = cJSON_Parse(st_meta_find(&f, "quanta.quantize.options"));
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "mode")->valuestring, "weight-only");
    ck_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(o, "exclude"), 0)->valuestring,
                     "fc2.*");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "include")), 0);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "allow_nonfinite")));
    cJSON_Delete(o);
    st_close(&f);

    /* fp16 with --include */
    qb_ok(cf_args("quantize %s -o %s --mode fp16 --include '*.bias'", bag, out));
    ck_assert_int_eq(st_open(&f, out, &err), QUANTA_OK);
    ck_assert_int_eq(st_find(&f, "fc1.bias")->dtype, QUANTA_F16);
    ck_assert_int_eq(st_find(&f, "fc1.weight")->dtype, QUANTA_F32);
    st_close(&f);

    /* usage errors: a glob matching nothing; --include on a graph model */
    cf_expect_usage(cf_args("quantize %s -o %s --mode weight-only --exclude 'nothing*'", bag, out),
                    "exclude pattern 'nothing*' matches no tensor");
    cf_expect_usage(cf_args("quantize %s -o %s --mode weight-only --include 'fc1.*'", model, out),
                    "--include is for checkpoints without a graph");
    /* static needs a graph */
    cf_expect_input_error(
        cf_args("quantize %s -o %s --calib %s", bag, out, bag),
        "has no graph (quanta.graph), so it cannot be quantized static (weight-only and fp16 can)");
    free(bag);
    free(out);
    free(model);
}
END_TEST

START_TEST(test_nonfinite_cli)
{
    struct cf_weights w;
    cf_default_weights(&w);
    w.w1[2][1] = NAN;
    char *model = cf_tmp("nan.safetensors"), *bag = cf_tmp("nan-bag.safetensors");
    char *out = cf_tmp("nan-q.safetensors");
    cf_write_model(model, &w, true);
    cf_write_model(bag, &w, false);
    remove(out);
    const char *modes[] = {"--mode weight-only", "--mode fp16"};
    for (int i = 0; i < 2; i++) {
        char *stdout_text = NULL, *errout = NULL;
        for (int b = 0; b < 2; b++) {
            const char *in = b ? bag : model;
            int rc = ts_run_quanta(cf_args("quantize %s -o %s %s", in, out, modes[i]),
                                   &stdout_text, &errout);
            ck_assert_msg(rc == 3, "exit %d: %s", rc, errout);
            ck_assert_msg(strstr(errout, "tensor 'fc1.weight' holds nan at element 9") != NULL,
                          "%s", errout);
            ck_assert_int_eq(cf_lines(errout), 1);
            ck_assert(!cf_file_exists(out));
            free(stdout_text);
            free(errout);
        }
        qb_ok(cf_args("quantize %s -o %s %s --allow-nonfinite", model, out, modes[i]));
        qb_ok(cf_args("quantize %s -o %s %s --allow-nonfinite", bag, out, modes[i]));
        remove(out);
    }
    free(model);
    free(bag);
    free(out);
}
END_TEST

START_TEST(test_sharded_cli)
{
    float a[2][3] = {{1.0f, 3.0f, -4.0f}, {0.0f, 0.0f, 0.0f}};
    float c[2] = {5.0f, 6.0f};
    char *s1 = cf_tmp("m-00001-of-00002.safetensors"), *s2 = cf_tmp("m-00002-of-00002.safetensors");
    char *index = cf_tmp("m.safetensors.index.json"), *out = cf_tmp("out.safetensors.index.json");
    struct st_tensor_desc t1 = {"a", QUANTA_F32, {2, {2, 3}}, a};
    struct st_tensor_desc t2 = {"c", QUANTA_F32, {1, {2}}, c};
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_int_eq(st_write_file(s1, &t1, 1, NULL, 0, &err), QUANTA_OK);
    ck_assert_int_eq(st_write_file(s2, &t2, 1, NULL, 0, &err), QUANTA_OK);
    const char *json = "{\"metadata\": {\"total_size\": 32}, \"weight_map\": {"
                       "\"a\": \"m-00001-of-00002.safetensors\", "
                       "\"c\": \"m-00002-of-00002.safetensors\"}}";
    ts_write_file(index, json, strlen(json));
    qb_ok(cf_args("quantize %s -o %s --mode weight-only", index, out));
    char *text = ts_read_file(out, NULL);
    ck_assert_ptr_nonnull(text);
    cJSON *doc = cJSON_Parse(text);
    const cJSON *map = cJSON_GetObjectItem(doc, "weight_map");
    ck_assert_str_eq(cJSON_GetObjectItem(map, "a.scale")->valuestring,
                     "out-00001-of-00002.safetensors");
    ck_assert_str_eq(cJSON_GetObjectItem(map, "c")->valuestring, "out-00002-of-00002.safetensors");
    /* 6 + 8 + 8 bytes */
    ck_assert(
        cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "metadata"), "total_size")->valuedouble ==
        22.0);
    cJSON_Delete(doc);
    free(text);
    struct st_file f;
    ck_assert_int_eq(st_open(&f, ts_tmp_path("out-00001-of-00002.safetensors"), &err), QUANTA_OK);
    const int8_t *q = st_find(&f, "a")->data;
    ck_assert_int_eq(q[0], 32);  /* 1 / (4/127) = 31.75 */
    ck_assert_int_eq(q[1], 95);  /* 3 / (4/127) = 95.25 */
    ck_assert_int_eq(q[2], -127);
    st_close(&f);
    /* -o must name an index */
    cf_expect_usage(
        cf_args("quantize %s -o %s --mode weight-only", index, ts_tmp_path("out.safetensors")),
        "for a sharded checkpoint must name the new index, PREFIX.safetensors.index.json");
    free(s1);
    free(s2);
    free(index);
    free(out);
}
END_TEST

Suite *suite_cli_quantize_bag(void);
Suite *suite_cli_quantize_bag(void)
{
    Suite *s = suite_create("cli_quantize_bag");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_bag_cli);
    tcase_add_test(tc, test_nonfinite_cli);
    tcase_add_test(tc, test_sharded_cli);
    suite_add_tcase(s, tc);
    return s;
}

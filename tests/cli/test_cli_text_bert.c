/* The BERT-style text encoder end to end (tests/fixtures/text-bert, written
 * by scripts/export_text_encoder.py --tiny): token and position embeddings,
 * LayerNorm, two layers of 2-head self-attention with an additive mask from
 * the "mask" input, GELU feed-forward, a tanh pooler on the first token.
 * Two inputs (ids and mask, I64 [N, 16]) read by name from one safetensors
 * data file (ids I32, mask U8: widened as read); a quarter of the samples
 * are padded, so the mask matters.
 * - import at opset 17 and 14, float within 1e-4 of PyTorch's logits;
 * - static int8 from the calibration file: per-channel int8 dense layers,
 *   agreement and SQNR above floors measured on this fixture with margin
 *   (measured: 98.4% agreement, 38.3 dB); the attention scores float, the
 *   probabilities times V int8, and both int8 with --int8-scores;
 * - a data file without one of the inputs, or with a float mask, is refused;
 * - the nn.MultiheadAttention form (key_padding_mask exported as Equal and
 *   Where on the mask input) is refused by name, exit 3. */
#include "cli/cli_fixture.h"

#define FX "tests/fixtures/text-bert/"

static char *src(const char *rel)
{
    return strdup(ts_src_path(rel));
}

static void check_float(const char *onnx_name, const char *tmp_name)
{
    char rel[128];
    snprintf(rel, sizeof rel, FX "%s", onnx_name);
    char *onnx = src(rel), *data = src(FX "text-bert-tiny.test.safetensors");
    char *want = src(FX "text-bert-tiny.logits.npy");
    char *model = cf_tmp(tmp_name), *got = cf_tmp("text-bert.out.npy");
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(cf_args("import %s -o %s", onnx, model), NULL, &errout);
    ck_assert_msg(rc == 0, "%s: import exited %d: %s", onnx_name, rc, errout);
    free(errout);
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", model), &out, NULL), 0);
    const char *ops[] = {"embedding", "layer_norm", "matmul", "softmax", "gelu", "tanh"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        ck_assert_msg(strstr(out, ops[i]), "%s: no %s node in:\n%s", onnx_name, ops[i], out);
    free(out);
    rc = ts_run_quanta(cf_args("run %s --data %s --output %s", model, data, got), NULL, &errout);
    ck_assert_msg(rc == 0, "%s: run exited %d: %s", onnx_name, rc, errout);
    free(errout);
    double rel_diff = cf_max_rel_diff(got, want);
    ck_assert_msg(rel_diff <= 1e-4, "%s: max |quanta - PyTorch| / max |PyTorch| = %g", onnx_name,
                  rel_diff);
    free(onnx), free(data), free(want), free(model), free(got);
}

START_TEST(test_text_bert_float_opset17)
{
    check_float("text-bert-tiny.onnx", "text-bert-17.safetensors");
}
END_TEST

START_TEST(test_text_bert_float_opset14)
{
    check_float("text-bert-tiny.op14.onnx", "text-bert-14.safetensors");
}
END_TEST

/* The first letter of the dtype column of the matmul writing value
 * `output` in `quanta inspect` text ('F' float, 'I' int8), or 0. */
static char matmul_dtype(const char *inspect, const char *output)
{
    for (const char *p = inspect; (p = strstr(p, output)); p++) {
        const char *line = p;
        while (line > inspect && line[-1] != '\n')
            line--;
        const char *end = strchr(p, '\n');
        if (!end)
            end = p + strlen(p);
        const char *op = strstr(line, " matmul ");
        if (!op || op > p || p[strlen(output)] != ' ')
            continue;
        const char *shape = strchr(p, ']'); /* the dtype follows the shape */
        if (!shape || shape > end)
            return 0;
        shape++;
        while (*shape == ' ')
            shape++;
        return *shape;
    }
    return 0;
}

START_TEST(test_text_bert_static_int8)
{
    char *onnx = src(FX "text-bert-tiny.onnx"), *data = src(FX "text-bert-tiny.test.safetensors");
    char *calib = src(FX "text-bert-tiny.calib.safetensors");
    char *model = cf_tmp("text-bert.safetensors"), *q = cf_tmp("text-bert.int8.safetensors");
    ck_assert_int_eq(ts_run_quanta(cf_args("import %s -o %s", onnx, model), NULL, NULL), 0);
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s --data %s -o %s", model, calib, q), NULL, &errout);
    ck_assert_msg(rc == 0, "quantize exited %d: %s", rc, errout);
    free(errout);
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", q), &out, NULL), 0);
    /* the 12 projections and feed-forward layers plus pooler and classifier:
     * int8 weights, one scale per output channel */
    int per_channel = 0;
    for (const char *p = out; (p = strstr(p, "I8 axis=0 channels=")); p++)
        per_channel++;
    ck_assert_msg(per_channel >= 14, "%d per-channel int8 weights in:\n%s", per_channel, out);
    ck_assert_msg(strstr(out, "dense       /layers.1/ff2/MatMul_output_0"), "%s", out);
    /* attention: the scores (Q K^T, before the mask and softmax) float, the
     * probabilities times V int8 */
    ck_assert_msg(matmul_dtype(out, "/layers.0/Div_1_output_0") == 'F', "%s", out);
    ck_assert_msg(matmul_dtype(out, "/layers.1/MatMul_1_output_0") == 'I', "%s", out);
    free(out);
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json", model, q, data), 0);
    ck_assert_msg(cf_num(doc, "agreement") >= 95.0, "agreement %g%%", cf_num(doc, "agreement"));
    ck_assert_msg(cf_num(doc, "sqnr_db") >= 32.0, "SQNR %g dB", cf_num(doc, "sqnr_db"));
    cJSON_Delete(doc);
    /* --int8-scores: the scores int8 too (measured: 29.9 dB, which is why
     * they are float by default), still agreeing on most pages */
    rc = ts_run_quanta(cf_args("quantize %s --data %s --int8-scores -o %s", model, calib, q), NULL,
                       &errout);
    ck_assert_msg(rc == 0, "quantize --int8-scores exited %d: %s", rc, errout);
    free(errout);
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", q), &out, NULL), 0);
    ck_assert_msg(matmul_dtype(out, "/layers.0/Div_1_output_0") == 'I', "%s", out);
    ck_assert_msg(matmul_dtype(out, "/layers.1/Div_1_output_0") == 'I', "%s", out);
    free(out);
    doc = cf_run_json(cf_args("eval %s %s --data %s --json", model, q, data), 0);
    ck_assert_msg(cf_num(doc, "agreement") >= 90.0, "agreement %g%%", cf_num(doc, "agreement"));
    ck_assert_msg(cf_num(doc, "sqnr_db") >= 25.0, "SQNR %g dB", cf_num(doc, "sqnr_db"));
    cJSON_Delete(doc);
    free(onnx), free(data), free(calib), free(model), free(q);
}
END_TEST

/* One tensor of the test file copied into a new data file, as it is or
 * (to_float) converted to F32. */
static void copy_tensor(const struct st_file *from, const char *name, bool to_float,
                        struct st_tensor_desc *to, void **owned)
{
    const struct st_tensor *t = st_find(from, name);
    ck_assert_ptr_nonnull(t);
    size_t n = (size_t)quanta_shape_numel(&t->shape);
    to->name = name;
    to->dtype = t->dtype;
    to->shape = t->shape;
    to->data = t->data;
    *owned = NULL;
    if (to_float) {
        ck_assert_int_eq(t->dtype, QUANTA_U8);
        float *f = malloc(n * sizeof *f);
        ck_assert_ptr_nonnull(f);
        for (size_t i = 0; i < n; i++)
            f[i] = (float)((const uint8_t *)t->data)[i];
        to->dtype = QUANTA_F32;
        to->data = f;
        *owned = f;
    }
}

/* The tiny encoder imported as tmp_name (returned), and its test data
 * file opened in *f. */
static char *import_tiny_and_open_test(const char *tmp_name, struct st_file *f)
{
    char *onnx = src(FX "text-bert-tiny.onnx"), *data = src(FX "text-bert-tiny.test.safetensors");
    char *model = cf_tmp(tmp_name);
    ck_assert_int_eq(ts_run_quanta(cf_args("import %s -o %s", onnx, model), NULL, NULL), 0);
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_open(f, data, &err) == QUANTA_OK, "%s", err.message);
    free(onnx), free(data);
    return model;
}

START_TEST(test_text_bert_data_inputs)
{
    struct st_file f;
    char *model = import_tiny_and_open_test("text-bert-in.safetensors", &f);
    struct quanta_error err;
    quanta_error_clear(&err);
    struct st_tensor_desc t[2];
    void *owned[2];
    char *ids_only = cf_tmp("text-bert-ids-only.safetensors");
    copy_tensor(&f, "ids", false, &t[0], &owned[0]);
    ck_assert_msg(st_write_file(ids_only, t, 1, NULL, 0, &err) == QUANTA_OK, "%s", err.message);
    cf_expect_input_error(cf_args("run %s --data %s", model, ids_only), "no tensor named 'mask'");
    char *float_mask = cf_tmp("text-bert-float-mask.safetensors");
    copy_tensor(&f, "mask", true, &t[1], &owned[1]);
    ck_assert_msg(st_write_file(float_mask, t, 2, NULL, 0, &err) == QUANTA_OK, "%s", err.message);
    cf_expect_input_error(cf_args("run %s --data %s", model, float_mask), "input 'mask'");
    free(owned[1]);
    st_close(&f);
    free(model), free(ids_only), free(float_mask);
}
END_TEST

/* An id past the table (vocabulary 128) in sample 37 is an input error that
 * names the file, the input, the sample and the table's node, in every
 * command that reads data, before any kernel sees it. */
START_TEST(test_text_bert_id_outside_table)
{
    struct st_file f;
    char *model = import_tiny_and_open_test("text-bert-ids.safetensors", &f);
    struct quanta_error err;
    quanta_error_clear(&err);
    struct st_tensor_desc t[2];
    void *owned[2];
    copy_tensor(&f, "ids", false, &t[0], &owned[0]);
    copy_tensor(&f, "mask", false, &t[1], &owned[1]);
    ck_assert_int_eq(t[0].dtype, QUANTA_I32);
    size_t n = (size_t)quanta_shape_numel(&t[0].shape);
    int32_t *ids = malloc(n * sizeof *ids);
    ck_assert_ptr_nonnull(ids);
    memcpy(ids, t[0].data, n * sizeof *ids);
    ids[37 * 16 + 3] = 128;
    t[0].data = ids;
    char *bad = cf_tmp("text-bert-bad-id.safetensors");
    ck_assert_msg(st_write_file(bad, t, 2, NULL, 0, &err) == QUANTA_OK, "%s", err.message);
    char want[512];
    snprintf(want, sizeof want, "%s: sample 37 of 'ids' holds id 128, outside [0, 128)", bad);
    cf_expect_input_error(cf_args("run %s --data %s", model, bad), want);
    char *table = cf_tmp("text-bert-bad.calib.json");
    cf_expect_input_error(cf_args("calibrate %s --data %s -o %s", model, bad, table), want);
    ck_assert(!cf_file_exists(table));
    ids[37 * 16 + 3] = -1;
    ck_assert_msg(st_write_file(bad, t, 2, NULL, 0, &err) == QUANTA_OK, "%s", err.message);
    snprintf(want, sizeof want, "%s: sample 37 of 'ids' holds id -1", bad);
    cf_expect_input_error(cf_args("eval %s --data %s", model, bad), want);
    free(ids);
    st_close(&f);
    free(model), free(bad), free(table);
}
END_TEST

START_TEST(test_text_bert_mha_refused)
{
    char *onnx = src(FX "text-bert-tiny.mha.onnx");
    char *model = cf_tmp("text-bert-mha.safetensors");
    cf_expect_input_error(cf_args("import %s -o %s", onnx, model),
                          "operator 'Equal' is not supported");
    ck_assert(!cf_file_exists(model));
    free(onnx), free(model);
}
END_TEST

Suite *suite_cli_text_bert(void);
Suite *suite_cli_text_bert(void)
{
    Suite *s = suite_create("cli_text_bert");
    TCase *tc = tcase_create("text_bert");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_text_bert_float_opset17);
    tcase_add_test(tc, test_text_bert_float_opset14);
    tcase_add_test(tc, test_text_bert_static_int8);
    tcase_add_test(tc, test_text_bert_data_inputs);
    tcase_add_test(tc, test_text_bert_id_outside_table);
    tcase_add_test(tc, test_text_bert_mha_refused);
    suite_add_tcase(s, tc);
    return s;
}

/* An ONNX model whose input is UINT8 (tests/fixtures/onnx/types, written by
 * scripts/export_onnx_types.py): the import declares the input U8, folds
 * the Cast to FLOAT, and converts InstanceNormalization,
 * LayerNormalization and a Cast to FLOAT16 (the Cast back folds). uint8
 * data runs bit for bit like NumPy's float64 result rounded to float16;
 * float32 data, which does not convert exactly to U8, is refused; the
 * model quantizes (the normalizations and the cast stay float).
 * A LayerNorm written out as opset-13 exporters do becomes one layer_norm
 * node; the same with an intermediate read elsewhere keeps its operators;
 * both match NumPy within 1e-5 of the largest output.
 * UINT16 values (up to 65535, exact in float) and UINT32/UINT64 ids import
 * declared as such (U16, U32, U64), match NumPy, and round-trip the model
 * file; a UINT64 id of 2^63 is refused with the file, sample and element. */
#include "cli/cli_fixture.h"

#define FX "tests/fixtures/onnx/types/"

START_TEST(test_u8_input_model)
{
    char *onnx = strdup(ts_src_path(FX "types_u8.onnx"));
    char *in = strdup(ts_src_path(FX "types_u8.input.npy"));
    char *f32 = strdup(ts_src_path(FX "types_u8.f32.npy"));
    char *want_path = strdup(ts_src_path(FX "types_u8.output.npy"));
    char *model = cf_tmp("types-u8.safetensors"), *got = cf_tmp("types-u8.out.npy");
    char *q = cf_tmp("types-u8.int8.safetensors");
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(cf_args("import %s -o %s", onnx, model), NULL, &errout);
    ck_assert_msg(rc == 0, "import exited %d: %s", rc, errout);
    free(errout);
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", model), &out, NULL), 0);
    ck_assert_msg(strstr(out, "U8 ") && strstr(out, "instance_norm") &&
                      strstr(out, "layer_norm") && strstr(out, " cast "),
                  "%s", out);
    free(out);
    rc = ts_run_quanta(cf_args("run %s --data %s --output %s", model, in, got), NULL, &errout);
    ck_assert_msg(rc == 0, "run exited %d: %s", rc, errout);
    free(errout);
    size_t n_got = 0, n_want = 0;
    char *a = ts_read_file(got, &n_got), *b = ts_read_file(want_path, &n_want);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    /* same NPY header (float32 [4, 3, 4, 4]) and the same float16 values */
    ck_assert_uint_eq(n_got, n_want);
    ck_assert_int_eq(memcmp(a + n_got - 4 * 192, b + n_want - 4 * 192, 4 * 192), 0);
    free(a);
    free(b);
    cf_expect_input_error(cf_args("run %s --data %s", model, f32),
                          "samples of 'x' are F32 but the model declares U8; F32 does not "
                          "convert exactly to U8");
    rc = ts_run_quanta(cf_args("quantize %s --data %s -o %s", model, in, q), NULL, &errout);
    ck_assert_msg(rc == 0, "quantize exited %d: %s", rc, errout);
    free(errout);
    free(onnx), free(in), free(f32), free(want_path), free(model), free(got), free(q);
}
END_TEST

static void check_ln(const char *name, bool fused)
{
    char *in, *model = cf_import_and_match("tests/fixtures/onnx/types", name, 1e-5, &in);
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", model), &out, NULL), 0);
    ck_assert_msg((strstr(out, "layer_norm") != NULL) == fused &&
                      (strstr(out, " sqrt ") == NULL) == fused,
                  "%s:\n%s", name, out);
    free(out), free(in), free(model);
}

START_TEST(test_decomposed_layer_norm_fused)
{
    check_ln("ln13_fused", true);
}
END_TEST

START_TEST(test_decomposed_layer_norm_shared_kept)
{
    check_ln("ln13_shared", false);
}
END_TEST

/* name's model imports declaring `declared`, and its run on name.input.npy
 * equals NumPy's within tolerance; the model's path returned. */
static char *check_unsigned(const char *name, const char *declared, double tolerance)
{
    char *in, *model = cf_import_and_match("tests/fixtures/onnx/types", name, tolerance, &in);
    cJSON *doc = cf_run_json(cf_args("inspect %s --json", model), 0);
    const cJSON *inputs =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(doc, "graph"), "inputs");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(inputs, 0), "dtype");
    ck_assert_msg(cJSON_IsString(dt) && strcmp(dt->valuestring, declared) == 0,
                  "%s: the input is not declared %s", name, declared);
    cJSON_Delete(doc);
    free(in);
    return model;
}

START_TEST(test_unsigned_inputs)
{
    free(check_unsigned("types_u16", "U16", 0.0));
    free(check_unsigned("types_u32", "U32", 1e-6));
    char *model = check_unsigned("types_u64", "U64", 1e-6);
    char *big = strdup(ts_src_path(FX "types_u64.big.npy"));
    char want[512];
    snprintf(want, sizeof want, "%s: sample 2 element 1 is 9223372036854775808, above the "
                                "largest id", big);
    cf_expect_input_error(cf_args("run %s --data %s", model, big), want);
    free(model), free(big);
}
END_TEST

Suite *suite_cli_import_types(void);
Suite *suite_cli_import_types(void)
{
    Suite *s = suite_create("cli_import_types");
    TCase *tc = tcase_create("types");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_u8_input_model);
    tcase_add_test(tc, test_decomposed_layer_norm_fused);
    tcase_add_test(tc, test_decomposed_layer_norm_shared_kept);
    tcase_add_test(tc, test_unsigned_inputs);
    suite_add_tcase(s, tc);
    return s;
}

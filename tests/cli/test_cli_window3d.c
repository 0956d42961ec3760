/* 3-D windows end to end (tests/fixtures/onnx/ops, written by
 * scripts/export_onnx_3d.py): a PyTorch network of Conv3d, MaxPool3d and
 * AvgPool3d (padding, stride, dilation, groups, ceil mode, padding
 * counted and not) and one-node models with asymmetric pads and auto_pad
 * import to conv3d, max_pool3d and avg_pool3d and match PyTorch; the
 * network quantizes (the 3-D windows float islands) within 25 dB of its
 * float outputs and exports to ONNX that imports back to the same
 * numbers; a 3-D ConvTranspose is refused in one line. */
#include "cli/cli_fixture.h"

#define DIR "tests/fixtures/onnx/ops"

static void run_ok(const char *args)
{
    char *errout = NULL;
    int rc = ts_run_quanta(args, NULL, &errout);
    ck_assert_msg(rc == 0, "'quanta %s' exited %d: %s", args, rc, errout ? errout : "");
    free(errout);
}

START_TEST(test_conv3d_network_matches_pytorch)
{
    char *in, *model = cf_import_and_match(DIR, "conv3d", 1e-5, &in);
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", model), &out, NULL), 0);
    for (const char *op = "conv3d\0max_pool3d\0avg_pool3d\0"; *op; op += strlen(op) + 1)
        ck_assert_msg(strstr(out, op), "no %s node in:\n%s", op, out);
    ck_assert_msg(!strstr(out, " relu "), "the relu after conv3d is not fused:\n%s", out);
    ck_assert_msg(strstr(out, "[N, 6, 7, 8, 8]"), "conv3d's NDHWC output missing:\n%s", out);
    free(out);
    free(in), free(model);
}
END_TEST

START_TEST(test_window3d_one_node_cases_match_pytorch)
{
    static const char *const cases[] = {
        "w3d_conv_pads",          "w3d_conv_same_upper",      "w3d_conv_same_lower",
        "w3d_conv_valid",         "w3d_maxpool_pads",         "w3d_maxpool_same_lower",
        "w3d_maxpool_ceil",       "w3d_avgpool_pads",         "w3d_avgpool_pads_include",
        "w3d_avgpool_ceil",       "w3d_avgpool_ceil_include", "w3d_avgpool_same_upper"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *in, *model = cf_import_and_match(DIR, cases[i], 1e-5, &in);
        free(in), free(model);
    }
}
END_TEST

START_TEST(test_conv3d_network_quantizes)
{
    char *in, *model = cf_import_and_match(DIR, "conv3d", 1e-5, &in);
    char *q = cf_tmp("conv3d.int8.safetensors"), *out = NULL;
    run_ok(cf_args("quantize %s --data %s -o %s", model, in, q));
    /* the 3-D windows stay float (their relu fused), quantized after */
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", q), &out, NULL), 0);
    int windows = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        if (!strstr(line, " conv3d ") && !strstr(line, " conv3d+relu ") &&
            !strstr(line, " max_pool3d ") && !strstr(line, " avg_pool3d "))
            continue;
        ck_assert_msg(strstr(line, " F32 "), "a 3-D window not in float: %s", line);
        windows++;
    }
    ck_assert_int_eq(windows, 7);
    free(out);
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", q), &out, NULL), 0);
    ck_assert_msg(strstr(out, "/c3/Conv_output_0.quantize"), "%s", out);
    free(out);
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json", model, q, in), 0);
    ck_assert_msg(cf_num(doc, "sqnr_db") >= 25.0, "int8 SQNR %g dB", cf_num(doc, "sqnr_db"));
    cJSON_Delete(doc);
    free(in), free(model), free(q);
}
END_TEST

/* export, import of the ONNX file, run: the numbers of the model itself */
START_TEST(test_conv3d_network_exports)
{
    char *in, *model = cf_import_and_match(DIR, "conv3d", 1e-5, &in);
    char *onnx = cf_tmp("conv3d.onnx"), *back = cf_tmp("conv3d.back.safetensors");
    char *want = cf_tmp("conv3d.want.npy"), *got = cf_tmp("conv3d.got.npy");
    run_ok(cf_args("export %s -o %s", model, onnx));
    run_ok(cf_args("import %s -o %s", onnx, back));
    run_ok(cf_args("run %s --data %s --output %s --threads 1", model, in, want));
    run_ok(cf_args("run %s --data %s --output %s --threads 1", back, in, got));
    double rel = cf_max_rel_diff(got, want);
    ck_assert_msg(rel <= 1e-6, "re-imported outputs differ by %g of the peak", rel);
    /* the int8 model exports too (QDQ around the float 3-D windows) */
    char *q = cf_tmp("conv3d.export.int8.safetensors"), *qonnx = cf_tmp("conv3d.int8.onnx");
    run_ok(cf_args("quantize %s --data %s -o %s", model, in, q));
    run_ok(cf_args("export %s -o %s", q, qonnx));
    ck_assert(cf_file_exists(qonnx));
    free(in), free(model), free(onnx), free(back), free(want), free(got), free(q), free(qonnx);
}
END_TEST

/* The output depths cut into parts for 3 threads (mid-sample, pieces
 * starting in the padding or past it) give the numbers of one thread. */
START_TEST(test_window3d_threads_identical)
{
    static const char *const cases[] = {"conv3d", "w3d_conv_pads", "w3d_maxpool_ceil",
                                        "w3d_avgpool_pads"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *in, *model = cf_import_and_match(DIR, cases[i], 1e-5, &in);
        char *one = cf_tmp("threads1.npy"), *three = cf_tmp("threads3.npy");
        run_ok(cf_args("run %s --data %s --output %s --threads 1 --batch 3", model, in, one));
        run_ok(cf_args("run %s --data %s --output %s --threads 3 --batch 3", model, in, three));
        double rel = cf_max_rel_diff(three, one);
        ck_assert_msg(rel == 0.0, "%s: 3 threads differ from 1 by %g", cases[i], rel);
        free(in), free(model), free(one), free(three);
    }
}
END_TEST

START_TEST(test_conv_transpose_3d_refused)
{
    char *model = cf_tmp("refused3d.safetensors");
    cf_expect_input_error(cf_args("import %s -o %s",
                                  ts_src_path(DIR "/refuse_convtranspose_3d.onnx"), model),
                          "node 0 (ConvTranspose): input 'x' has shape [-1, 2, 3, 4, 4]; 3-D "
                          "transposed convolution is not supported");
    ck_assert(!cf_file_exists(model));
    free(model);
}
END_TEST

Suite *suite_cli_window3d(void);
Suite *suite_cli_window3d(void)
{
    Suite *s = suite_create("cli_window3d");
    TCase *tc = tcase_create("window3d");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_conv3d_network_matches_pytorch);
    tcase_add_test(tc, test_window3d_one_node_cases_match_pytorch);
    tcase_add_test(tc, test_conv3d_network_quantizes);
    tcase_add_test(tc, test_conv3d_network_exports);
    tcase_add_test(tc, test_window3d_threads_identical);
    tcase_add_test(tc, test_conv_transpose_3d_refused);
    suite_add_tcase(s, tc);
    return s;
}

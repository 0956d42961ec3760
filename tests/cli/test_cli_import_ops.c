/* ONNX exports that need transposes, broadcasts and element-wise functions
 * (tests/fixtures/onnx/ops, written by scripts/export_onnx_ops.py):
 * squeeze-excitation with PReLU/hardsigmoid/hardswish, ShuffleNet's channel
 * shuffle, LayerNorm decomposed with GELU (fused into layer_norm and gelu
 * at import) and a MatMul on [N, H, W, C], EfficientNet's block with SiLU;
 * zero Pad folded into a Conv and a MaxPool, Split, reflect and replicate
 * Pad, nearest and bilinear Resize; a tiny vision transformer (class token
 * expanded to the batch and concatenated, position embedding, attention,
 * head on x[:, 0]), and the same with torch's nn.MultiheadAttention, whose
 * export moves the batch axis and merges it with the heads; a flattened
 * NCHW tensor (columns held in NHWC order) concatenated and reshaped, whose
 * readers must see ONNX's column order (a wrong answer once); 1-D Conv and
 * pools on [N, C, L] (padding, stride, dilation, groups, ceil mode) run as
 * 2-D of height 1, and 2-D average pools that count their padding;
 * transposed convolutions (stride, padding, output_padding, groups,
 * dilation, a 1x1 whose pads crop, 1-D) as zeros inserted, then conv2d.
 * Each imports, matches PyTorch within 1e-4 of the largest |output| on
 * NCHW data given as the framework keeps it, and quantizes to an int8
 * model of at least 25 dB output SQNR against its float one. */
#include "cli/cli_fixture.h"

static void check_model(const char *name, const char *must_have_op, double tolerance)
{
    char *in, *model = cf_import_and_match("tests/fixtures/onnx/ops", name, tolerance, &in);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "ops-%s.int8.safetensors", name);
    char *q = cf_tmp(tmp);
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", model), &out, NULL), 0);
    ck_assert_msg(strstr(out, must_have_op), "%s: no %s node in:\n%s", name, must_have_op, out);
    free(out);
    int rc = ts_run_quanta(cf_args("quantize %s --data %s -o %s", model, in, q), NULL, &errout);
    ck_assert_msg(rc == 0, "%s: quantize exited %d: %s", name, rc, errout);
    free(errout);
    cJSON *doc = cf_run_json(cf_args("eval %s %s --data %s --json", model, q, in), 0);
    ck_assert_msg(cf_num(doc, "sqnr_db") >= 25.0, "%s: int8 SQNR %g dB", name,
                  cf_num(doc, "sqnr_db"));
    cJSON_Delete(doc);
    free(in), free(model), free(q);
}

START_TEST(test_flattened_nchw_concat_reshape)
{
    check_model("flatmix", "concat", 1e-4);
}
END_TEST

START_TEST(test_conv_pool_1d)
{
    check_model("conv1d", "conv2d", 1e-4);
}
END_TEST

START_TEST(test_avg_pool_counting_padding)
{
    check_model("poolpad", "avg_pool2d", 1e-4);
}
END_TEST

START_TEST(test_conv_transpose)
{
    check_model("deconv", "conv2d", 1e-4);
}
END_TEST

/* ONNX's own Conv and ConvTranspose node tests with the weight made an
 * initializer (tests/fixtures/onnx/weights, scripts/gen_const_weight_cases.py):
 * pads, auto_pad, output_shape, output_padding, dilations, 1-D. */
START_TEST(test_onnx_conv_cases)
{
    static const char *const cases[] = {
        "basic_conv_with_padding", "basic_conv_without_padding", "conv_with_autopad_same",
        "conv_with_strides_and_asymmetric_padding", "conv_with_strides_no_padding",
        "conv_with_strides_padding", "convtranspose", "convtranspose_1d",
        "convtranspose_autopad_same", "convtranspose_dilations", "convtranspose_kernel_shape",
        "convtranspose_output_shape", "convtranspose_pad", "convtranspose_pads",
        "convtranspose_with_kernel"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *in, *model = cf_import_and_match("tests/fixtures/onnx/weights", cases[i], 1e-5, &in);
        free(in), free(model);
    }
}
END_TEST

START_TEST(test_squeeze_excitation)
{
    check_model("se", "hard_sigmoid", 1e-4);
}
END_TEST

START_TEST(test_channel_shuffle)
{
    check_model("shuffle", "transpose", 1e-4);
}
END_TEST

/* x * sigmoid(x) fused into silu; the gate's sigmoid (not a SiLU) stays */
START_TEST(test_mbconv_silu)
{
    check_model("mbconv", "silu", 1e-4);
    check_model("mbconv", "sigmoid", 1e-4);
}
END_TEST

/* The LayerNorm, exported at opset 13 as ReduceMean/Sub/Pow/ReduceMean/
 * Add/Sqrt/Div/Mul/Add, becomes one layer_norm node, as close to PyTorch
 * as the separate operators were (within 1e-7 of the largest output); the
 * GELU after it one gelu node. */
START_TEST(test_layer_norm_gelu)
{
    check_model("ln", "layer_norm", 1e-5);
    check_model("ln", "gelu", 1e-5);
}
END_TEST

START_TEST(test_pad_split_resize)
{
    check_model("resample", "resize:linear", 1e-4);
    /* the zero Pads before the Conv and the MaxPool became their padding */
    char *model = cf_tmp("import-resample.safetensors"), *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", model), &out, NULL), 0);
    ck_assert_msg(!strstr(out, "pad:constant") && strstr(out, "max_pool2d"), "%s", out);
    free(out);
    free(model);
}
END_TEST

/* What quanta cannot do right is refused in one line naming it. */
START_TEST(test_pad_split_resize_refusals)
{
    static const struct {
        const char *file, *reason;
    } cases[] = {
        {"split_batch", "node 0 (Split): splits the batch axis of 'x'"},
        {"pad_batch", "node 0 (Pad): pads the batch axis"},
        {"pad_wrap", "node 0 (Pad): attribute 'mode' 'wrap' is not supported"},
        {"resize_cubic", "node 0 (Resize): attribute 'mode' 'cubic' is not supported"},
        {"resize_batch", "node 0 (Resize): resizes the batch axis of 'x'"},
        {"resize_antialias", "node 0 (Resize): attribute 'antialias' 1 is not supported"},
        {"resize_policy",
         "node 0 (Resize): attribute 'keep_aspect_ratio_policy' 'not_larger' is not supported"},
    };
    char *model = cf_tmp("refused.safetensors");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char rel[128];
        snprintf(rel, sizeof rel, "tests/fixtures/onnx/ops/refuse_%s.onnx", cases[i].file);
        cf_expect_input_error(cf_args("import %s -o %s", ts_src_path(rel), model),
                              cases[i].reason);
    }
    free(model);
}
END_TEST

/* The class token's Expand to [N, 1, D] becomes a constant operand of the
 * concat, repeated over the batch; x[:, 0] a slice. */
START_TEST(test_tiny_vit)
{
    check_model("vit", "concat", 1e-4);
}
END_TEST

/* Transpose to [L, N, D], Reshape to [L, N * H, D / H] and [L * N, D]:
 * the batch moved and merged, matmul of the heads stored batch first. */
START_TEST(test_tiny_vit_multihead_attention)
{
    check_model("vit_mha", "matmul", 1e-4);
}
END_TEST

Suite *suite_cli_import_ops(void);
Suite *suite_cli_import_ops(void)
{
    Suite *s = suite_create("cli_import_ops");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_flattened_nchw_concat_reshape);
    tcase_add_test(tc, test_conv_pool_1d);
    tcase_add_test(tc, test_avg_pool_counting_padding);
    tcase_add_test(tc, test_conv_transpose);
    tcase_add_test(tc, test_onnx_conv_cases);
    tcase_add_test(tc, test_squeeze_excitation);
    tcase_add_test(tc, test_channel_shuffle);
    tcase_add_test(tc, test_layer_norm_gelu);
    tcase_add_test(tc, test_mbconv_silu);
    tcase_add_test(tc, test_pad_split_resize);
    tcase_add_test(tc, test_pad_split_resize_refusals);
    tcase_add_test(tc, test_tiny_vit);
    tcase_add_test(tc, test_tiny_vit_multihead_attention);
    suite_add_tcase(s, tc);
    return s;
}

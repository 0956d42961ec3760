/* The EmbeddingBag text classifier end to end through the CLI: import (the
 * exporter's Loop becomes one embedding_bag), static int8 from its own
 * data, and agreement with float of at least 98% (--min-agreement). */
#include "cli/cli_fixture.h"

#define FX "tests/fixtures/onnx/"

START_TEST(test_textbag_static_int8)
{
    char model[4096], data[4096];
    snprintf(model, sizeof model, "%s", ts_src_path(FX "textbag.onnx"));
    snprintf(data, sizeof data, "%s", ts_src_path(FX "textbag.input.npy"));
    char *f = cf_tmp("textbag.safetensors"), *q = cf_tmp("textbag-int8.safetensors");
    ck_assert_int_eq(ts_run_quanta(cf_args("import %s -o %s", model, f), NULL, NULL), 0);
    ck_assert_int_eq(ts_run_quanta(cf_args("quantize %s -o %s --data %s --samples 200", f, q,
                                           data),
                                   NULL, NULL),
                     0);
    char *out = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", q), &out, NULL), 0);
    ck_assert_msg(strstr(out, "embedding_bag") && strstr(out, "I8 axis=0 channels=200"), "%s",
                  out);
    free(out);
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --min-agreement 98", f, q,
                                           data),
                                   NULL, NULL),
                     0);
    /* 4-bit rows: smaller, and still in agreement */
    char *q4 = cf_tmp("textbag-int4.safetensors");
    ck_assert_int_eq(ts_run_quanta(cf_args("quantize %s -o %s --data %s --samples 200 "
                                           "--embedding-bits 4",
                                           f, q4, data),
                                   NULL, NULL),
                     0);
    ck_assert_int_eq(ts_run_quanta(cf_args("inspect %s", q4), &out, NULL), 0);
    ck_assert_msg(strstr(out, "I4     [200, 32]   3200"), "%s", out);
    ck_assert_ptr_null(strstr(out, "bag.weight.zero_point"));
    free(out);
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data %s --min-agreement 98", f, q4,
                                           data),
                                   NULL, NULL),
                     0);
    cf_expect_usage(cf_args("quantize %s -o %s --embedding-bits 2 --mode weight-only", f, q4),
                    "--embedding-bits '2' is not 8 or 4");
    cf_expect_usage(cf_args("quantize %s -o %s --embedding-bits 4 --mode fp16", f, q4),
                    "--embedding-bits goes with --mode static or weight-only");
    free(q4);
    free(f);
    free(q);
}
END_TEST

Suite *suite_cli_bag(void);
Suite *suite_cli_bag(void)
{
    Suite *s = suite_create("cli_bag");
    TCase *tc = tcase_create("bag");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_textbag_static_int8);
    suite_add_tcase(s, tc);
    return s;
}

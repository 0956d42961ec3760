/* The int8 runner at every kernel level this CPU has: the int8 copy of a
 * small CNN (general, depthwise, 1x1 and strided convs, max and average
 * pools, a residual add, dense layers, softmax) must give the SAME BYTES
 * at every level as at ref (the packed int8 kernels are exact), at batch
 * 1, 5 and 64; and on the bundled Fashion-MNIST model, quantized with
 * `quanta calibrate` + `quantize`, `quanta run --output` writes identical
 * NPY files with QUANTA_ISA=ref and with the default level. One test per
 * level; a level the CPU lacks is reported as skipped (TS_REQUIRE_LEVEL). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "kernels/kernels.h"
#include "kernels/kernels_q8.h"
#include "quanta/graph.h"
#include "support/speed_cnn.h"
#include "support/test_support.h"

static const int64_t batches[] = {1, 5, SC_MAX_BATCH};

START_TEST(test_int8_every_level_matches_ref)
{
    TS_REQUIRE_LEVEL(_i, true);
    struct speed_cnn *m = sc_create();
    const struct graph *q = sc_int8(m);
    /* the int8 copy really runs int8 convs: their outputs are quantized */
    int c1 = graph_find_value(q, "c1.out"), fc1 = graph_find_value(q, "fc1.out");
    ck_assert_int_ge(c1, 0);
    ck_assert_int_ge(fc1, 0);
    ck_assert_int_eq(q->values[c1].quant.dtype, QUANTA_I8);
    ck_assert_int_eq(q->values[fc1].quant.dtype, QUANTA_I8);

    float *x = malloc(SC_MAX_BATCH * SC_IN * sizeof *x);
    float *want = malloc(SC_MAX_BATCH * SC_OUT * sizeof *want);
    float *got = malloc(SC_MAX_BATCH * SC_OUT * sizeof *got);
    ck_assert(x && want && got);
    sc_input(x, SC_MAX_BATCH * SC_IN);
    struct quanta_error err = {0};
    ck_assert_int_eq(kernels_init(&err), QUANTA_OK);
    enum kernels_level before = kernels_current_level();

    int tested = 0;
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
        const int64_t batch = batches[b];
        for (int out = 0; out < 2; out++) { /* logits, probs */
            ck_assert_int_eq(kernels_select("ref", &err), QUANTA_OK);
            ck_assert_int_eq(sc_run(q, 1, SC_MAX_BATCH, batch, x, out, want), SC_OUT);
            /* the network does not collapse to a constant */
            int differ = 0;
            for (int64_t i = 1; i < batch * SC_OUT; i++)
                differ += want[i] != want[0];
            ck_assert_msg(differ > 0, "batch %lld: every output is %g", (long long)batch,
                          (double)want[0]);
            {
                const char *name = kernels_level_name((enum kernels_level)_i);
                ck_assert_int_eq(kernels_select(name, &err), QUANTA_OK);
                ck_assert_ptr_nonnull(q8_kernels_get()->conv2d_packed);
                sc_run(q, 1, SC_MAX_BATCH, batch, x, out, got);
                for (int64_t i = 0; i < batch * SC_OUT; i++)
                    ck_assert_msg(memcmp(&got[i], &want[i], sizeof *got) == 0,
                                  "%s, batch %lld, output %d, element %lld: %.9g, ref %.9g",
                                  name, (long long)batch, out, (long long)i, (double)got[i],
                                  (double)want[i]);
                tested++;
            }
        }
    }
    ck_assert_int_eq(kernels_select(kernels_level_name(before), &err), QUANTA_OK);
    ck_assert_int_eq(tested, 2 * (int)(sizeof batches / sizeof *batches));
    free(x);
    free(want);
    free(got);
    sc_free(m);
}
END_TEST

/* Runs quanta with QUANTA_ISA set to isa (NULL: unset) in its environment. */
static int run_isa(const char *isa, const char *args, char **errout)
{
    const char *old = getenv("QUANTA_ISA");
    char *saved = old ? strdup(old) : NULL;
    if (isa)
        setenv("QUANTA_ISA", isa, 1);
    else
        unsetenv("QUANTA_ISA");
    int code = ts_run_quanta(args, NULL, errout);
    if (saved)
        setenv("QUANTA_ISA", saved, 1);
    else
        unsetenv("QUANTA_ISA");
    free(saved);
    return code;
}

START_TEST(test_cli_bundled_int8_ref_equals_default)
{
    char args[4096], *errs = NULL;
    const char *model = ts_src_path("models/fmnist-cnn.safetensors");
    char model_s[1024], calib_data[1024], test_data[1024], calib[1024], int8[1024];
    snprintf(model_s, sizeof model_s, "%s", model);
    snprintf(calib_data, sizeof calib_data, "%s",
             ts_src_path("models/data/fmnist-calib-1000-images-idx3-ubyte.gz"));
    snprintf(test_data, sizeof test_data, "%s",
             ts_src_path("models/data/fmnist-test-1000-images-idx3-ubyte.gz"));
    snprintf(calib, sizeof calib, "%s", ts_tmp_path("calib.json"));
    snprintf(int8, sizeof int8, "%s", ts_tmp_path("int8.safetensors"));

    snprintf(args, sizeof args, "calibrate '%s' --data '%s' --samples 200 -o '%s'", model_s,
             calib_data, calib);
    ck_assert_msg(run_isa(NULL, args, &errs) == 0, "calibrate: %s", errs ? errs : "");
    free(errs);
    snprintf(args, sizeof args, "quantize '%s' --calib '%s' -o '%s'", model_s, calib, int8);
    ck_assert_msg(run_isa(NULL, args, &errs) == 0, "quantize: %s", errs ? errs : "");
    free(errs);

    char out_ref[1024], out_def[1024];
    snprintf(out_ref, sizeof out_ref, "%s", ts_tmp_path("ref.npy"));
    snprintf(out_def, sizeof out_def, "%s", ts_tmp_path("default.npy"));
    /* 300 samples: batches of 64 and a last one of 44 */
    snprintf(args, sizeof args, "run '%s' --data '%s' --samples 300 --threads 1 --output '%s'",
             int8, test_data, out_ref);
    ck_assert_msg(run_isa("ref", args, &errs) == 0, "run at ref: %s", errs ? errs : "");
    free(errs);
    snprintf(args, sizeof args, "run '%s' --data '%s' --samples 300 --threads 2 --output '%s'",
             int8, test_data, out_def);
    ck_assert_msg(run_isa(NULL, args, &errs) == 0, "run at the default level: %s",
                  errs ? errs : "");
    free(errs);

    size_t n_ref = 0, n_def = 0;
    char *a = ts_read_file(out_ref, &n_ref), *b = ts_read_file(out_def, &n_def);
    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    /* 300 x 10 float32 logits and a header */
    ck_assert_uint_gt(n_ref, 300 * 10 * 4);
    ck_assert_uint_eq(n_ref, n_def);
    ck_assert_msg(memcmp(a, b, n_ref) == 0, "quanta run --output differs between QUANTA_ISA=ref "
                                            "and the default level");
    free(a);
    free(b);
}
END_TEST

Suite *suite_runner_q8_levels(void);
Suite *suite_runner_q8_levels(void)
{
    Suite *s = suite_create("runner_q8_levels");
    TCase *tc = tcase_create("levels");
    tcase_set_timeout(tc, 600);
    /* one test per level above ref; a level this machine lacks is a skip */
    tcase_add_loop_test(tc, test_int8_every_level_matches_ref, KERNELS_LEVEL_REF + 1,
                        KERNELS_LEVEL_COUNT);
    tcase_add_test(tc, test_cli_bundled_int8_ref_equals_default);
    suite_add_tcase(s, tc);
    return s;
}

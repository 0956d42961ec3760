/* quanta quantize --max-drop / --min-agreement end to end on the bundled
 * Fashion-MNIST CNN. Per-tensor weights with meanstd ranges from 64
 * calibration samples lose more than 0.1 points of accuracy on the full
 * test set (checked here first, with quanta eval); the search, run on
 * 2,000 training images as held-out data (neither the calibration samples'
 * role nor the test set), must give a model that quanta eval passes at
 * --max-drop 0.1 on the 10,000 test images, and name the layers it kept
 * in float, which the written graph must really hold in float. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_fixture.h"
#include "quanta/quanta.h"
#include "support/test_support.h"

#define FMNIST "/usr/share/datasets/fashion-mnist/"
#define TEST_IMAGES FMNIST "t10k-images-idx3-ubyte.gz"
#define TRAIN_IMAGES FMNIST "train-images-idx3-ubyte.gz"
#define LOSSY "--samples 64 --method meanstd --weights per-tensor --check-samples 0"

static char model[1024], calib[1024];

static bool have_inputs(void)
{
    /* copies: ts_src_path returns a static buffer */
    snprintf(model, sizeof model, "%s", ts_src_path("models/fmnist-cnn.safetensors"));
    snprintf(calib, sizeof calib, "%s",
             ts_src_path("models/data/fmnist-calib-1000-images-idx3-ubyte.gz"));
    return access(model, R_OK) == 0 && access(calib, R_OK) == 0;
}

static long long file_size(const char *path)
{
    size_t n = 0;
    char *bytes = ts_read_file(path, &n);
    ck_assert_ptr_nonnull(bytes);
    free(bytes);
    return (long long)n;
}

/* Whether node `name` of the model at path computes in float: its weight
 * (input 1) is an F32 constant, not I8. */
static bool node_is_float(const struct model *m, const char *name)
{
    const struct graph *g = &m->graph;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].name && strcmp(g->nodes[i].name, name) == 0) {
            const struct graph_node *n = &g->nodes[i];
            if (n->n_inputs < 2) /* pools, flatten: float when no input is int8 */
                return g->values[n->inputs[0]].quant.dtype == QUANTA_DTYPE_INVALID;
            return g->values[n->inputs[1]].dtype == QUANTA_F32;
        }
    ck_abort_msg("no node '%s' in the output", name);
    return false;
}

START_TEST(test_cli_quantize_mixed_meets_budget_on_test_set)
{
    if (!have_inputs())
        TS_SKIP("the bundled model or its data is absent under %s", ts_src_dir());
    if (access(TEST_IMAGES, R_OK) != 0 || access(TRAIN_IMAGES, R_OK) != 0)
        TS_SKIP("%s absent (package dataset-fashion-mnist)", FMNIST);
    char *plain = cf_tmp("plain.safetensors"), *mixed = cf_tmp("mixed.safetensors");
    char *out = NULL, *errout = NULL;

    /* plain int8 with these options drops more than 0.1 points */
    ck_assert_int_eq(ts_run_quanta(cf_args("quantize %s --data %s " LOSSY " -o %s", model, calib,
                                           plain), NULL, NULL), 0);
    int rc = ts_run_quanta(cf_args("eval %s %s --data " TEST_IMAGES " --max-drop 0.1", model,
                                   plain), &out, &errout);
    ck_assert_msg(rc == 1, "plain int8 should fail --max-drop 0.1 on the test set: rc %d, %s", rc,
                  out);
    free(out);
    free(errout);

    cJSON *doc = cf_run_json(cf_args("quantize %s --data %s " LOSSY " --max-drop 0.1 --holdout "
                                     TRAIN_IMAGES " --holdout-samples 2000 --json -o %s", model,
                                     calib, mixed), 0);
    const cJSON *mp = cJSON_GetObjectItem(doc, "mixed_precision");
    ck_assert_ptr_nonnull(mp);
    const cJSON *kept = cJSON_GetObjectItem(mp, "float");
    ck_assert(cJSON_IsArray(kept));
    int n_kept = cJSON_GetArraySize(kept);
    ck_assert_int_ge(n_kept, 1);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(cJSON_GetObjectItem(mp, "int8"), "pass")));
    const cJSON *chosen = cJSON_GetObjectItem(mp, "chosen");
    ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(chosen, "pass")));
    ck_assert(cf_num(chosen, "drop") <= 0.1 + 1e-9);
    /* the sensitivity of every layer was measured, the kept ones first */
    const cJSON *layers = cJSON_GetObjectItem(mp, "layers");
    const cJSON *order = cJSON_GetObjectItem(mp, "order");
    ck_assert_int_eq(cJSON_GetArraySize(order), cJSON_GetArraySize(layers));
    for (int k = 0; k < n_kept; k++)
        ck_assert_str_eq(cJSON_GetArrayItem(order, k)->valuestring,
                         cJSON_GetArrayItem(kept, k)->valuestring);
    int n_layers = cJSON_GetArraySize(layers);
    ck_assert_int_ge(n_layers, 4); /* conv1, conv2, fc1, fc2 at least */
    ck_assert_int_le(cf_num(mp, "measured"), 1 + n_layers + 4 + 1);

    /* the written model: the record in its metadata, the kept layers float,
     * the others int8 */
    struct model m;
    struct quanta_error err = {0};
    ck_assert_msg(model_open(&m, mixed, &err) == QUANTA_OK, "%s", err.message);
    const char *meta = st_meta_find(&m.file, "quanta.quantize.mixed_precision");
    ck_assert_ptr_nonnull(meta);
    cJSON *rec = cJSON_Parse(meta);
    ck_assert_ptr_nonnull(rec);
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(rec, "float")), n_kept);
    ck_assert_double_eq(cf_num(rec, "max_drop"), 0.1);
    cJSON_Delete(rec);
    for (int i = 0; i < n_layers; i++) {
        const cJSON *l = cJSON_GetArrayItem(layers, i);
        const char *name = cJSON_GetObjectItem(l, "node")->valuestring;
        bool is_float = node_is_float(&m, name);
        ck_assert_msg(is_float == cJSON_IsTrue(cJSON_GetObjectItem(l, "float")), "layer %s",
                      name);
        if (cJSON_IsTrue(cJSON_GetObjectItem(l, "kept")))
            ck_assert_msg(is_float, "kept layer %s is not float", name);
    }
    model_close(&m);
    cJSON_Delete(doc);

    /* the done criterion: quanta eval's own gate on the full test set */
    rc = ts_run_quanta(cf_args("eval %s %s --data " TEST_IMAGES " --max-drop 0.1", model, mixed),
                       &out, &errout);
    ck_assert_msg(rc == 0, "the mixed model fails --max-drop 0.1 on the test set: %s %s", out,
                  errout);
    free(out);
    free(errout);
    free(plain);
    free(mixed);
}
END_TEST

/* --min-agreement needs no labels; the same inputs give the same bytes;
 * a text run prints the layer table. */
START_TEST(test_cli_quantize_mixed_agreement_deterministic)
{
    if (!have_inputs())
        TS_SKIP("the bundled model or its data is absent under %s", ts_src_dir());
    if (access(TEST_IMAGES, R_OK) != 0)
        TS_SKIP("%s absent (package dataset-fashion-mnist)", TEST_IMAGES);
    char *a = cf_tmp("a.safetensors"), *b = cf_tmp("b.safetensors");
    char *out = NULL, *errout = NULL;
    const char *fmt = "quantize %s --data %s " LOSSY " --min-agreement 99.9 --holdout "
                      TEST_IMAGES " --holdout-samples 1000 -o %s";
    ck_assert_int_eq(ts_run_quanta(cf_args(fmt, model, calib, a), &out, &errout), 0);
    ck_assert_ptr_nonnull(strstr(out, "mixed precision on 1000 samples"));
    ck_assert_ptr_nonnull(strstr(out, "layers in float"));
    ck_assert_str_eq(errout, ""); /* stderr is no terminal: no progress */
    free(out);
    free(errout);
    ck_assert_int_eq(ts_run_quanta(cf_args(fmt, model, calib, b), NULL, NULL), 0);
    size_t na, nb;
    char *ba = ts_read_file(a, &na), *bb = ts_read_file(b, &nb);
    ck_assert(na == nb && memcmp(ba, bb, na) == 0);
    free(ba);
    free(bb);
    /* eval's gate on the held-out samples agrees */
    ck_assert_int_eq(ts_run_quanta(cf_args("eval %s %s --data " TEST_IMAGES " --samples 1000 "
                                           "--min-agreement 99.9", model, a), NULL, NULL), 0);
    free(a);
    free(b);
}
END_TEST

START_TEST(test_cli_quantize_mixed_usage)
{
    if (!have_inputs())
        TS_SKIP("the bundled model or its data is absent under %s", ts_src_dir());
    char *o = cf_tmp("o.safetensors");
    cf_expect_usage(cf_args("quantize %s --data %s --max-drop 0.1 -o %s", model, calib, o),
                    "need --holdout FILE");
    cf_expect_usage(cf_args("quantize %s --data %s --holdout %s -o %s", model, calib, calib, o),
                    "go with --max-drop or --min-agreement");
    cf_expect_usage(cf_args("quantize %s --mode weight-only --max-drop 1 --holdout %s -o %s",
                            model, calib, o), "go with --mode static");
    cf_expect_usage(cf_args("quantize %s --data %s --max-drop 101 --holdout %s -o %s", model,
                            calib, calib, o), "--max-drop '101'");
    cf_expect_usage(cf_args("quantize %s --data %s --min-agreement x --holdout %s -o %s", model,
                            calib, calib, o), "--min-agreement 'x'");
    /* --max-drop needs labels: an NPY holdout has none */
    char *npy = cf_tmp("x.npy");
    static float zeros[2 * 28 * 28];
    struct quanta_shape shape = {.rank = 4, .dims = {2, 28, 28, 1}};
    struct quanta_error err = {0};
    ck_assert_int_eq(npy_write(npy, QUANTA_F32, &shape, zeros, &err), QUANTA_OK);
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(cf_args("quantize %s --data %s --samples 8 --max-drop 1 --holdout %s "
                                   "-o %s", model, calib, npy, o), &out, &errout);
    ck_assert_msg(rc == 2, "rc %d: %s", rc, errout);
    ck_assert_ptr_nonnull(strstr(errout, "label"));
    ck_assert(!cf_file_exists(o));
    free(out);
    free(errout);
    /* --json without a budget: the output and its size, no record */
    cJSON *doc = cf_run_json(cf_args("quantize %s --data %s --samples 8 --json -o %s", model,
                                     calib, o), 0);
    ck_assert_str_eq(cJSON_GetObjectItem(doc, "output")->valuestring, o);
    ck_assert_double_eq(cf_num(doc, "bytes"), (double)file_size(o));
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "mixed_precision")));
    cJSON_Delete(doc);
    free(npy);
    free(o);
}
END_TEST

Suite *suite_cli_quantize_mixed(void);
Suite *suite_cli_quantize_mixed(void)
{
    Suite *s = suite_create("cli_quantize_mixed");
    TCase *tc = tcase_create("mixed");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_cli_quantize_mixed_meets_budget_on_test_set);
    tcase_add_test(tc, test_cli_quantize_mixed_agreement_deterministic);
    tcase_add_test(tc, test_cli_quantize_mixed_usage);
    suite_add_tcase(s, tc);
    return s;
}

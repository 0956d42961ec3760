/* Conformance with programs other than quanta:
 * - tests/fixtures/ops: model files written from the format spec alone by
 *   scripts/gen_op_fixtures.py (numpy), one per operator case, with inputs
 *   and the outputs numpy computed from the spec's definitions;
 * - models/fmnist-cnn.safetensors: the logits PyTorch computed for the
 *   bundled test images, and PyTorch's top-1 counts
 *   (models/fmnist-cnn.reference.json, written by scripts/train_fmnist.py). */
#include <check.h>
#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/quanta.h"
#include "support/test_support.h"
#include <unistd.h>

#define MAX_CASES 128
#define TOLERANCE 1e-4

static char case_names[MAX_CASES][64];
static int n_cases;

static void load_manifest(void);

/* An empty or missing manifest would register no fixture test at all. */
START_TEST(op_fixture_manifest_lists_cases)
{
    ck_assert_msg(n_cases > 0, "%s lists no case", ts_src_path("tests/fixtures/ops/manifest.txt"));
}
END_TEST

static void load_manifest(void)
{
    char *text = ts_read_file(ts_src_path("tests/fixtures/ops/manifest.txt"), NULL);
    if (!text)
        return;
    for (char *line = strtok(text, "\n"); line && n_cases < MAX_CASES; line = strtok(NULL, "\n"))
        if (*line)
            snprintf(case_names[n_cases++], sizeof case_names[0], "%s", line);
    free(text);
}

/* Reads a whole NPY file as float (or int64 when ids is set). */
static void *read_npy(const char *path, bool ids, struct quanta_shape *shape)
{
    struct quanta_error err = {0};
    struct dataset *ds = NULL;
    ck_assert_msg(dataset_open(&ds, path, NULL, &err) == QUANTA_OK, "%s", err.message);
    int64_t per = quanta_shape_numel(&ds->sample_shape);
    size_t elem = ids ? sizeof(int64_t) : sizeof(float);
    void *buf = malloc((size_t)(ds->n_samples * per) * elem + 1);
    ck_assert_ptr_nonnull(buf);
    enum quanta_status st = ids ? dataset_read_i64(ds, 0, ds->n_samples, buf, &err)
                                : dataset_read_f32(ds, 0, ds->n_samples, NULL, buf, &err);
    ck_assert_msg(st == QUANTA_OK, "%s", err.message);
    shape->rank = ds->sample_shape.rank + 1;
    shape->dims[0] = ds->n_samples;
    for (int i = 0; i < ds->sample_shape.rank; i++)
        shape->dims[i + 1] = ds->sample_shape.dims[i];
    dataset_close(ds);
    return buf;
}

START_TEST(op_fixture_matches_numpy)
{
    const char *name = case_names[_i];
    char model_path[512], input_path[512], expected_path[512];
    snprintf(model_path, sizeof model_path, "%s/tests/fixtures/ops/%s.safetensors", ts_src_dir(), name);
    snprintf(input_path, sizeof input_path, "%s/tests/fixtures/ops/%s.input.npy", ts_src_dir(), name);
    snprintf(expected_path, sizeof expected_path, "%s/tests/fixtures/ops/%s.expected.npy", ts_src_dir(), name);

    struct quanta_error err = {0};
    struct model m;
    ck_assert_msg(model_open(&m, model_path, &err) == QUANTA_OK, "%s: %s", name, err.message);
    ck_assert_msg(m.has_graph, "%s: no graph", name);
    ck_assert_int_eq(m.graph.n_inputs, 1);
    ck_assert_int_eq(m.graph.n_outputs, 1);

    bool ids = m.graph.values[m.graph.inputs[0].value].dtype != QUANTA_F32;
    struct quanta_shape in_shape, exp_shape, out_shape;
    void *input = read_npy(input_path, ids, &in_shape);
    float *expected = read_npy(expected_path, false, &exp_shape);

    struct runner *r = NULL;
    struct runner_options opt = {.max_batch = in_shape.dims[0], .threads = 1};
    ck_assert_msg(runner_create(&r, &m.graph, &opt, &err) == QUANTA_OK, "%s: %s", name, err.message);
    const void *inputs[1] = {input};
    ck_assert_msg(runner_run(r, in_shape.dims[0], inputs, &err) == QUANTA_OK, "%s: %s", name, err.message);
    const float *out = runner_output(r, 0, &out_shape);
    ck_assert_ptr_nonnull(out);
    ck_assert_msg(quanta_shape_equal(&out_shape, &exp_shape), "%s: output shape differs from numpy's", name);

    int64_t n = quanta_shape_numel(&out_shape);
    for (int64_t i = 0; i < n; i++) {
        if (isinf(expected[i]) && out[i] == expected[i])
            continue; /* cast_f16's overflow: the same infinity */
        double diff = fabs((double)out[i] - (double)expected[i]);
        ck_assert_msg(diff <= TOLERANCE * fmax(1.0, fabs((double)expected[i])),
                      "%s: element %lld is %.8g, numpy says %.8g", name, (long long)i, out[i],
                      expected[i]);
    }
    runner_free(r);
    free(input);
    free(expected);
    model_close(&m);
}
END_TEST

/* Runs the bundled model over an IDX file and counts top-1 hits; when
 * logits is given, checks every logit against it. */
static int64_t fmnist_correct(const char *images, const float *logits, int64_t *samples)
{
    struct quanta_error err = {0};
    struct model m;
    ck_assert_msg(model_open(&m, ts_src_path("models/fmnist-cnn.safetensors"), &err) == QUANTA_OK,
                  "%s", err.message);
    struct dataset *ds = NULL;
    ck_assert_msg(dataset_open(&ds, images, NULL, &err) == QUANTA_OK, "%s", err.message);
    struct labels labels = {0};
    ck_assert_msg(labels_load_for_data(&labels, images, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(labels.n, ds->n_samples);

    enum { BATCH = 100 };
    struct runner *r = NULL;
    struct runner_options opt = {.max_batch = BATCH, .threads = 1};
    ck_assert_msg(runner_create(&r, &m.graph, &opt, &err) == QUANTA_OK, "%s", err.message);
    int64_t per = quanta_shape_numel(&ds->sample_shape);
    float *batch = malloc(sizeof(float) * (size_t)(per * BATCH));
    ck_assert_ptr_nonnull(batch);
    const struct quanta_normalize *norm = &m.graph.inputs[0].normalize;
    int64_t correct = 0;
    for (int64_t start = 0; start < ds->n_samples; start += BATCH) {
        int64_t count = ds->n_samples - start < BATCH ? ds->n_samples - start : BATCH;
        ck_assert_msg(dataset_read_f32(ds, start, count, norm, batch, &err) == QUANTA_OK, "%s",
                      err.message);
        const void *inputs[1] = {batch};
        ck_assert_msg(runner_run(r, count, inputs, &err) == QUANTA_OK, "%s", err.message);
        struct quanta_shape shape;
        const float *out = runner_output(r, 0, &shape);
        int64_t classes = shape.dims[1];
        for (int64_t s = 0; s < count; s++) {
            const float *row = out + s * classes;
            int64_t best = 0;
            for (int64_t c = 1; c < classes; c++)
                if (row[c] > row[best])
                    best = c;
            correct += best == labels.values[start + s];
            if (logits)
                for (int64_t c = 0; c < classes; c++) {
                    float want = logits[(start + s) * classes + c];
                    ck_assert_msg(fabsf(row[c] - want) <= 1e-4f * fmaxf(1.0f, fabsf(want)),
                                  "sample %lld class %lld: quanta %.7g, pytorch %.7g",
                                  (long long)(start + s), (long long)c, row[c], want);
                }
        }
    }
    *samples = ds->n_samples;
    free(batch);
    runner_free(r);
    labels_free(&labels);
    dataset_close(ds);
    model_close(&m);
    return correct;
}

static int64_t reference_count(const char *set)
{
    char *text = ts_read_file(ts_src_path("models/fmnist-cnn.reference.json"), NULL);
    ck_assert_ptr_nonnull(text);
    cJSON *root = cJSON_Parse(text);
    free(text);
    ck_assert_ptr_nonnull(root);
    cJSON *entry = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, set), "correct");
    ck_assert(cJSON_IsNumber(entry));
    int64_t n = (int64_t)entry->valuedouble;
    cJSON_Delete(root);
    return n;
}

START_TEST(fmnist_matches_pytorch_on_bundled_images)
{
    struct quanta_shape shape;
    float *logits = read_npy(ts_src_path("models/data/fmnist-test-1000-logits.npy"), false, &shape);
    char images[512];
    snprintf(images, sizeof images, "%s", ts_src_path("models/data/fmnist-test-1000-images-idx3-ubyte.gz"));
    int64_t samples = 0;
    int64_t correct = fmnist_correct(images, logits, &samples);
    ck_assert_int_eq(samples, shape.dims[0]);
    ck_assert_int_eq(correct, reference_count("test_1000"));
    free(logits);
}
END_TEST

#define FULL_TEST_SET "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

START_TEST(fmnist_matches_pytorch_on_full_test_set)
{
    if (access(FULL_TEST_SET, R_OK) != 0)
        TS_SKIP("%s absent (package dataset-fashion-mnist)", FULL_TEST_SET);
    int64_t samples = 0;
    int64_t correct = fmnist_correct(FULL_TEST_SET, NULL, &samples);
    ck_assert_int_eq(samples, 10000);
    ck_assert_int_eq(correct, reference_count("test_10000"));
    ck_assert_int_ge(correct, 9000);
}
END_TEST

Suite *suite_conformance(void);
Suite *suite_conformance(void)
{
    Suite *s = suite_create("conformance");
    load_manifest();
    TCase *ops = tcase_create("spec_fixtures");
    tcase_set_timeout(ops, 60);
    tcase_add_test(ops, op_fixture_manifest_lists_cases);
    if (n_cases > 0)
        tcase_add_loop_test(ops, op_fixture_matches_numpy, 0, n_cases);
    suite_add_tcase(s, ops);

    TCase *fm = tcase_create("fmnist_pytorch");
    tcase_set_timeout(fm, 300);
    tcase_add_test(fm, fmnist_matches_pytorch_on_bundled_images);
    tcase_add_test(fm, fmnist_matches_pytorch_on_full_test_set);
    suite_add_tcase(s, fm);
    return s;
}

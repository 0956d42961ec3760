/* Fuzzing regressions: every reproducer stored in tests/fuzz/regress/<target>/
 * and every seed of tests/fuzz/corpus/<target>/ goes through the same entry
 * point as the libFuzzer target (tests/fuzz/fuzz_targets.h), so `make test`
 * and `make test-asan` replay them without clang or libFuzzer. Each entry
 * must return 0 (its invariants hold), and under test-asan it must neither
 * touch memory it does not own, nor leak, nor hit undefined behaviour.
 * Seeds named bad_* must be refused; the other seeds of the file-format
 * targets must be accepted. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz_targets.h"
#include "support/test_support.h"

typedef int (*fuzz_entry)(const uint8_t *data, size_t size, enum quanta_status *last);

enum seed_rule {
    RULE_NONE,       /* only the invariants */
    RULE_BY_NAME,    /* bad_*: refused; others accepted */
};

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every file of <src>/<dir> through fn; returns how many there were. */
static int replay_dir(const char *dir, fuzz_entry fn, enum seed_rule rule)
{
    char root[4096];
    snprintf(root, sizeof root, "%s", ts_src_path(dir));
    DIR *d = opendir(root);
    if (!d)
        return 0;
    char *names[4096];
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        ck_assert_int_lt(n, 4096);
        names[n] = strdup(e->d_name);
        ck_assert_ptr_nonnull(names[n]);
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], compare_names);
    for (int i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", root, names[i]);
        size_t size = 0;
        char *bytes = ts_read_file(path, &size);
        ck_assert_msg(bytes != NULL, "cannot read %s", path);
        enum quanta_status last = QUANTA_ERR_INTERNAL;
        int bad = fn((const uint8_t *)bytes, size, &last);
        ck_assert_msg(bad == 0, "%s: invariant %d broken", path, bad);
        if (rule == RULE_BY_NAME) {
            if (strncmp(names[i], "bad_", 4) == 0)
                ck_assert_msg(last == QUANTA_ERR_INPUT, "%s: accepted (status %d)", path,
                              (int)last);
            else
                ck_assert_msg(last == QUANTA_OK, "%s: refused (status %d)", path, (int)last);
        }
        free(bytes);
        free(names[i]);
    }
    return n;
}

/* The main status of one reproducer, with its message in err_out. */
static enum quanta_status replay_one(const char *rel, fuzz_entry fn)
{
    size_t size = 0;
    char *bytes = ts_read_file(ts_src_path(rel), &size);
    ck_assert_msg(bytes != NULL, "missing %s", rel);
    enum quanta_status last = QUANTA_ERR_INTERNAL;
    int bad = fn((const uint8_t *)bytes, size, &last);
    ck_assert_msg(bad == 0, "%s: invariant %d broken", rel, bad);
    free(bytes);
    return last;
}

/* ---- every stored reproducer and seed ---- */

START_TEST(regress_safetensors)
{
    replay_dir("tests/fuzz/regress/safetensors", fuzz_safetensors, RULE_NONE);
    ck_assert_int_gt(
        replay_dir("tests/fuzz/corpus/safetensors", fuzz_safetensors, RULE_BY_NAME), 10);
}
END_TEST

START_TEST(regress_graph)
{
    replay_dir("tests/fuzz/regress/graph", fuzz_graph, RULE_NONE);
    ck_assert_int_gt(replay_dir("tests/fuzz/corpus/graph", fuzz_graph, RULE_NONE), 10);
}
END_TEST

START_TEST(regress_idx)
{
    replay_dir("tests/fuzz/regress/idx", fuzz_dataset, RULE_NONE);
    ck_assert_int_gt(replay_dir("tests/fuzz/corpus/idx", fuzz_dataset, RULE_BY_NAME), 5);
}
END_TEST

START_TEST(regress_npy)
{
    replay_dir("tests/fuzz/regress/npy", fuzz_dataset, RULE_NONE);
    ck_assert_int_gt(replay_dir("tests/fuzz/corpus/npy", fuzz_dataset, RULE_BY_NAME), 5);
}
END_TEST

START_TEST(regress_calib_table)
{
    replay_dir("tests/fuzz/regress/calib_table", fuzz_calib_table, RULE_NONE);
    ck_assert_int_gt(
        replay_dir("tests/fuzz/corpus/calib_table", fuzz_calib_table, RULE_BY_NAME), 5);
}
END_TEST

START_TEST(regress_onnx)
{
    replay_dir("tests/fuzz/regress/onnx", fuzz_onnx, RULE_NONE);
    ck_assert_int_gt(replay_dir("tests/fuzz/corpus/onnx", fuzz_onnx, RULE_BY_NAME), 3);
}
END_TEST

/* dataset_open on a stored reproducer must fail with QUANTA_ERR_INPUT and
 * a message containing needle (and leave *ds NULL). */
static void expect_dataset_refused(const char *rel, const char *needle)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_src_path(rel));
    struct dataset *ds = (struct dataset *)1;
    struct quanta_error err = {0};
    ck_assert_int_eq(dataset_open(&ds, path, NULL, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_null(ds);
    ck_assert_msg(strstr(err.message, needle) != NULL, "%s: message '%s' lacks '%s'", rel,
                  err.message, needle);
    struct labels labels;
    ck_assert_int_eq(labels_load(&labels, path, &err), QUANTA_ERR_INPUT);
    ck_assert_ptr_null(labels.values);
    ck_assert_int_eq(labels.n, 0);
}

/* fuzz_idx found it: a 16-byte raw IDX header [4211015808, 512, 0] is a
 * complete file (no data bytes are needed) yet announces 4.2 billion
 * samples, which readers loop over and callers size buffers for. */
START_TEST(idx_zero_element_samples_refused)
{
    expect_dataset_refused("tests/fuzz/regress/idx/oom-zero-element-samples-idx3",
                           "4211015808 samples of shape [512, 0, 1] hold no elements");
}
END_TEST

/* Found reading data_idx.c while writing fuzz_idx: a gzip file whose
 * trailer is patched to agree (mod 2^32) with a huge IDX header passed the
 * ISIZE check, and labels_load then allocated 16 GiB for 31 bytes. Deflate
 * cannot expand more than 1032:1, so these are refused by size. */
START_TEST(idx_gzip_size_claim_refused)
{
    expect_dataset_refused("tests/fuzz/regress/idx/oom-gzip-isize-claim-labels.gz",
                           "gzip file of 31 bytes cannot hold the 4294967288 bytes");
    expect_dataset_refused("tests/fuzz/regress/idx/oom-gzip-isize-claim-sample.gz",
                           "gzip file of 35 bytes cannot hold the 2147483644 bytes");
}
END_TEST

/* fuzz_onnx found both (src/import; see tests/fuzz/README.md): they must
 * be refused as invalid input. The null-pointer arithmetic of the first is
 * reported by clang's UBSan only (make fuzz-regress); the second allocated
 * 3.2 GB for 12 bytes before noticing that the tensor holds no values. */
START_TEST(onnx_reproducers_refused)
{
    ck_assert_int_eq(replay_one("tests/fuzz/regress/onnx/ub-empty-packed-dims.onnx", fuzz_onnx),
                     QUANTA_ERR_INPUT);
    ck_assert_int_eq(replay_one("tests/fuzz/regress/onnx/oom-dims-before-data.onnx", fuzz_onnx),
                     QUANTA_ERR_INPUT);
}
END_TEST

/* A file with no samples is accepted whatever its sample shape (nothing in
 * it backs the shape); reading anything from it is refused. */
START_TEST(idx_no_samples_accepted_not_read)
{
    const char *rel = "tests/fuzz/regress/idx/harness-oom-no-samples-huge-shape-idx3";
    ck_assert_int_eq(replay_one(rel, fuzz_dataset), QUANTA_OK);
    char path[4096];
    snprintf(path, sizeof path, "%s", ts_src_path(rel));
    struct dataset *ds = NULL;
    struct quanta_error err = {0};
    ck_assert_int_eq(dataset_open(&ds, path, NULL, &err), QUANTA_OK);
    ck_assert_int_eq(ds->n_samples, 0);
    ck_assert_int_eq(ds->sample_shape.rank, 3);
    ck_assert_int_eq(ds->sample_shape.dims[1], (int64_t)1 << 31);
    float one[1];
    ck_assert_int_ne(dataset_read_f32(ds, 0, 1, NULL, one, &err), QUANTA_OK);
    dataset_close(ds);
}
END_TEST

/* The graph seeds that use the in-memory tensors parse, so the graph
 * target starts from accepted graphs (quantized, embedding, half floats). */
START_TEST(graph_seeds_parse)
{
    static const char *const seeds[] = {"all_ops.json", "quantized.json", "embedding.json",
                                        "half.json"};
    for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "tests/fuzz/corpus/graph/%s", seeds[i]);
        ck_assert_msg(replay_one(rel, fuzz_graph) == QUANTA_OK, "%s refused", rel);
    }
}
END_TEST

Suite *suite_fuzz_regress(void); /* called by tests/main.c */
Suite *suite_fuzz_regress(void)
{
    Suite *s = suite_create("fuzz_regress");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, regress_safetensors);
    tcase_add_test(tc, regress_graph);
    tcase_add_test(tc, regress_idx);
    tcase_add_test(tc, regress_npy);
    tcase_add_test(tc, regress_calib_table);
    tcase_add_test(tc, regress_onnx);
    tcase_add_test(tc, graph_seeds_parse);
    tcase_add_test(tc, idx_zero_element_samples_refused);
    tcase_add_test(tc, idx_gzip_size_claim_refused);
    tcase_add_test(tc, idx_no_samples_accepted_not_read);
    tcase_add_test(tc, onnx_reproducers_refused);
    suite_add_tcase(s, tc);
    return s;
}

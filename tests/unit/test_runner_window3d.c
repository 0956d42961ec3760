/* The runner on the 3-D windows: conv3d (stride, padding, dilation, a
 * fused relu), max_pool3d and avg_pool3d give bit-identical outputs with
 * 1 and 3 threads at batch 1 and 2, their output depths cut into parts
 * that start in the leading padding, past it, and mid-sample. */
#include <check.h>
#include "support/speed_cnn.h"
#include "unit/graph_fixture.h"

#define IN_N (9 * 12 * 12 * 16)
#define OUT_N (6 * 12 * 10 * 16)

static void fill(float *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

START_TEST(test_window3d_threads_identical)
{
    struct fixture f;
    fx_init(&f);
    fill(fx_tensor(&f, "w", QUANTA_F32, 5, 16, 3, 3, 3, 16), 16 * 27 * 16, 1);
    fill(fx_tensor(&f, "b", QUANTA_F32, 1, 16), 16, 2);
    struct graph g;
    struct quanta_error err = {0};
    /* conv [N, 5, 12, 10, 16], max [N, 6, 12, 10, 16], avg the same */
    enum quanta_status st = fx_parse(
        &g, &f,
        "{" FX_HDR ", 'inputs': [{'name': 'x', 'shape': [-1, 9, 12, 12, 16]}], "
        "'outputs': ['y'], 'nodes': ["
        "{'op': 'conv3d', 'name': 'c', 'inputs': ['x', 'w', 'b'], 'outputs': ['c'], "
        "'attrs': {'strides': [2, 1, 1], 'pads': [2, 1, 1, 1, 1, 1], "
        "'dilations': [1, 1, 2], 'activation': 'relu'}}, "
        "{'op': 'max_pool3d', 'name': 'm', 'inputs': ['c'], 'outputs': ['m'], "
        "'attrs': {'kernel': [2, 3, 3], 'strides': [1, 1, 1], 'pads': [1, 1, 1, 1, 1, 1]}}, "
        "{'op': 'avg_pool3d', 'name': 'a', 'inputs': ['m'], 'outputs': ['y'], "
        "'attrs': {'kernel': [3, 3, 3], 'strides': [1, 1, 1], 'pads': [1, 1, 1, 1, 1, 1]}}]}",
        &err);
    ck_assert_msg(st == QUANTA_OK, "%s", err.message);
    ck_assert_str_eq(fx_shape(&g, "y"), "[-1, 6, 12, 10, 16]");
    float *x = malloc(2 * IN_N * sizeof *x), *one = malloc(2 * OUT_N * sizeof *one);
    float *three = malloc(2 * OUT_N * sizeof *three);
    ck_assert(x && one && three);
    fill(x, 2 * IN_N, 3);
    for (int64_t batch = 1; batch <= 2; batch++) {
        ck_assert_int_eq(sc_run(&g, 1, 2, batch, x, 0, one), OUT_N);
        ck_assert_int_eq(sc_run(&g, 3, 2, batch, x, 0, three), OUT_N);
        ck_assert_msg(memcmp(one, three, (size_t)batch * OUT_N * sizeof *one) == 0,
                      "batch %lld: 3 threads differ from 1", (long long)batch);
        int positive = 0;
        for (int i = 0; i < OUT_N; i++)
            positive += one[i] > 0.0f;
        ck_assert_msg(positive > OUT_N / 4, "%d of %d outputs positive", positive, OUT_N);
    }
    free(x), free(one), free(three);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

Suite *suite_runner_window3d(void);
Suite *suite_runner_window3d(void)
{
    Suite *s = suite_create("runner_window3d");
    TCase *tc = tcase_create("threads");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_window3d_threads_identical);
    suite_add_tcase(s, tc);
    return s;
}

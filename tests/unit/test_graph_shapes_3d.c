/* Shape inference and attr checks of the 3-D windows, conv3d, max_pool3d
 * and avg_pool3d on NDHWC (model-format.md section 3, man
 * quanta-format(5)). Expected shapes are worked out by hand from
 * floor((in + pad_begin + pad_end - dilation * (kernel - 1) - 1) / stride) + 1. */
#include <check.h>
#include "unit/graph_fixture.h"

#define EXPECT_SHAPE(f, x_shape, node, want)                                                \
    do {                                                                                   \
        struct graph g_;                                                                   \
        struct quanta_error e_ = {0};                                                      \
        enum quanta_status st_ = fx_node(&g_, (f), (x_shape), (node), &e_);               \
        ck_assert_msg(st_ == QUANTA_OK, "%s", e_.message);                                 \
        ck_assert_str_eq(fx_shape(&g_, "y"), (want));                                      \
        graph_free(&g_);                                                                   \
    } while (0)

#define EXPECT_REJECT(f, x_shape, node, want)                                               \
    do {                                                                                   \
        struct graph g_;                                                                   \
        struct quanta_error e_ = {0};                                                      \
        enum quanta_status st_ = fx_node(&g_, (f), (x_shape), (node), &e_);               \
        FX_ASSERT_FAILS(st_, e_, (want));                                                  \
        ck_assert_int_eq(g_.n_values, 0);                                                  \
    } while (0)

START_TEST(conv3d_output_follows_the_window_formula_per_axis)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 5, 8, 3, 2, 3, 2); /* [O, KD, KH, KW, C/groups] */
    fx_tensor(&f, "b", QUANTA_F32, 1, 8);
    /* pads [front, top, left, back, bottom, right] = [1, 0, 2, 0, 1, 1]
     * depth:  (9 + 1 + 0 - 2*(3-1) - 1) / 2 + 1 = 5 / 2 + 1 = 3
     * height: (7 + 0 + 1 - 1*(2-1) - 1) / 1 + 1 = 7
     * width:  (8 + 2 + 1 - 1*(3-1) - 1) / 3 + 1 = 8 / 3 + 1 = 3 */
    EXPECT_SHAPE(&f, "[-1, 9, 7, 8, 4]",
                 "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w', 'b'], 'outputs': ['y'], "
                 "'attrs': {'strides': [2, 1, 3], 'pads': [1, 0, 2, 0, 1, 1], "
                 "'dilations': [2, 1, 1], 'groups': 2}}",
                 "[-1, 3, 7, 3, 8]");
    fx_free(&f);
}
END_TEST

START_TEST(conv3d_without_bias_carries_an_omitted_third_input)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 5, 6, 1, 1, 1, 3);
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(fx_node(&g, &f, "[2, 4, 4, 4, 3]",
                             "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], "
                             "'outputs': ['y']}",
                             &err),
                     QUANTA_OK);
    ck_assert_int_eq(g.nodes[0].n_inputs, 3);
    ck_assert_int_eq(g.nodes[0].inputs[2], -1);
    ck_assert_str_eq(fx_shape(&g, "y"), "[2, 4, 4, 4, 6]");
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(conv3d_rejects_bad_weights_and_attrs)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 5, 8, 3, 3, 3, 2);
    fx_tensor(&f, "w4", QUANTA_F32, 4, 8, 3, 3, 2);
    fx_tensor(&f, "b", QUANTA_F32, 1, 6);
    const char *x = "[-1, 5, 5, 5, 4]";
    EXPECT_REJECT(&f, x,
                  "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], 'outputs': ['y']}",
                  "weight 'w' has shape [8, 3, 3, 3, 2] but [O, KD, KH, KW, 4] is needed");
    EXPECT_REJECT(&f, x,
                  "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w4'], 'outputs': ['y'], "
                  "'attrs': {'groups': 2}}",
                  "weight 'w4' has shape [8, 3, 3, 2] but [O, KD, KH, KW, C/groups] is needed");
    EXPECT_REJECT(&f, x,
                  "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w', 'b'], 'outputs': ['y'], "
                  "'attrs': {'groups': 2}}",
                  "bias 'b' has shape [6] but [8] is needed");
    EXPECT_REJECT(&f, "[-1, 5, 5, 4]",
                  "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'groups': 2}}",
                  "but [N, D, H, W, C] (NDHWC) is needed");
    /* window attrs have one entry per spatial axis (pads two) */
    EXPECT_REJECT(&f, x,
                  "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'groups': 2, 'strides': [1, 1]}}",
                  "attr 'strides' must be a list of 3 integers");
    EXPECT_REJECT(&f, x,
                  "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'groups': 2, 'pads': [1, 1, 1, 1]}}",
                  "attr 'pads' must be a list of 6 integers");
    EXPECT_REJECT(&f, x,
                  "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'groups': 2, 'strides': [1, 0, 1]}}",
                  "attr 'strides' has 0 but every entry must be >= 1");
    EXPECT_REJECT(&f, x,
                  "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'groups': 2, 'pads': [0, 0, 0, 0, 0, -1]}}",
                  "attr 'pads' has -1 but every entry must be >= 0");
    EXPECT_REJECT(&f, x,
                  "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'groups': 2, 'dilations': [1, 3, 1]}}",
                  "output height would be < 1");
    EXPECT_REJECT(&f, x,
                  "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'groups': 2, 'activation': 'gelu'}}",
                  "attr 'activation' must be");
    fx_free(&f);
}
END_TEST

START_TEST(conv3d_takes_a_fused_relu)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 5, 2, 1, 1, 1, 3);
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(fx_node(&g, &f, "[1, 2, 2, 2, 3]",
                             "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], "
                             "'outputs': ['y'], 'attrs': {'activation': 'relu6'}}",
                             &err),
                     QUANTA_OK);
    ck_assert_int_eq(g.nodes[0].attrs.activation, GRAPH_ACT_RELU6);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_still_takes_two_entries_per_window_attr)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 4, 2, 3, 3, 1);
    EXPECT_REJECT(&f, "[1, 8, 8, 1]",
                  "{'op': 'conv2d', 'name': 'n', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'strides': [1, 1, 1]}}",
                  "attr 'strides' must be a list of 2 integers");
    fx_free(&f);
}
END_TEST

START_TEST(pool3d_strides_default_to_the_kernel)
{
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(fx_node(&g, NULL, "[-1, 8, 9, 10, 3]",
                             "{'op': 'max_pool3d', 'name': 'p', 'inputs': ['x'], "
                             "'outputs': ['y'], 'attrs': {'kernel': [2, 3, 4]}}",
                             &err),
                     QUANTA_OK);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(g.nodes[0].attrs.strides[i], i + 2);
    /* 8 / 2 = 4; 9 / 3 = 3; floor((10 - 4) / 4) + 1 = 2 */
    ck_assert_str_eq(fx_shape(&g, "y"), "[-1, 4, 3, 2, 3]");
    graph_free(&g);
}
END_TEST

START_TEST(pool3d_output_uses_floor_with_pads_and_dilation)
{
    /* depth (7 + 1 + 0 - 3) / 2 + 1 = 3; height (6 + 0 + 1 - 2) / 2 + 1 = 3;
     * width (5 + 1 + 1 - 3) / 1 + 1 = 5 */
    EXPECT_SHAPE(NULL, "[-1, 7, 6, 5, 4]",
                 "{'op': 'avg_pool3d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'kernel': [3, 2, 3], 'strides': [2, 2, 1], "
                 "'pads': [1, 0, 1, 0, 1, 1]}}",
                 "[-1, 3, 3, 5, 4]");
    /* max with dilation 2 on depth: (7 - 2*(3-1) - 1) / 1 + 1 = 3 */
    EXPECT_SHAPE(NULL, "[-1, 7, 6, 5, 4]",
                 "{'op': 'max_pool3d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'kernel': [3, 1, 1], 'strides': [1, 1, 1], "
                 "'dilations': [2, 1, 1]}}",
                 "[-1, 3, 6, 5, 4]");
}
END_TEST

START_TEST(pool3d_rejects_bad_attrs)
{
    const char *x = "[-1, 7, 7, 7, 8]";
    EXPECT_REJECT(NULL, x,
                  "{'op': 'avg_pool3d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y']}",
                  "m.st: node 'p' (avg_pool3d): attr 'kernel' is required");
    EXPECT_REJECT(NULL, x,
                  "{'op': 'avg_pool3d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'kernel': [2, 2]}}",
                  "attr 'kernel' must be a list of 3 integers");
    EXPECT_REJECT(NULL, x,
                  "{'op': 'max_pool3d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'kernel': [2, 0, 2]}}",
                  "attr 'kernel' is required and its entries must be >= 1");
    EXPECT_REJECT(NULL, x,
                  "{'op': 'avg_pool3d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'kernel': [2, 2, 2], 'pads': [0, 0, 0, 0, 2, 0]}}",
                  "attr 'pads' [0, 0, 0, 0, 2, 0] must be smaller than the kernel [2, 2, 2]");
    EXPECT_REJECT(NULL, x,
                  "{'op': 'avg_pool3d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'kernel': [2, 2, 2], 'dilations': [2, 2, 2]}}",
                  "unknown attr 'dilations'");
    EXPECT_REJECT(NULL, "[-1, 7, 2, 7, 8]",
                  "{'op': 'max_pool3d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'kernel': [3, 3, 3]}}",
                  "output height would be < 1");
    EXPECT_REJECT(NULL, "[-1, 7, 7, 8]",
                  "{'op': 'max_pool3d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'kernel': [3, 3, 3]}}",
                  "but [N, D, H, W, C] (NDHWC) is needed");
}
END_TEST

/* What graph_to_json writes reads back the same: three entries per
 * window attr, six pads. */
START_TEST(window3d_attrs_survive_a_save_and_load)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 5, 4, 2, 3, 2, 2);
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(fx_node(&g, &f, "[-1, 6, 6, 6, 2]",
                             "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], "
                             "'outputs': ['y'], 'attrs': {'strides': [1, 2, 3], "
                             "'pads': [1, 2, 0, 0, 1, 1], 'dilations': [2, 1, 1]}}",
                             &err),
                     QUANTA_OK);
    char *json = graph_to_json(&g);
    ck_assert_ptr_nonnull(json);
    ck_assert_msg(strstr(json, "\"strides\": [1, 2, 3]") &&
                      strstr(json, "\"pads\": [1, 2, 0, 0, 1, 1]") &&
                      strstr(json, "\"dilations\": [2, 1, 1]"),
                  "%s", json);
    free(json);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

/* graph_node_ops: 2 * output elements * KD*KH*KW * C/groups for conv3d,
 * output elements * KD*KH*KW for the pools. */
START_TEST(window3d_cost_counts_multiply_adds_and_window_cells)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 5, 8, 3, 3, 3, 2);
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(fx_node(&g, &f, "[2, 5, 5, 5, 4]",
                             "{'op': 'conv3d', 'name': 'n', 'inputs': ['x', 'w'], "
                             "'outputs': ['y'], 'attrs': {'groups': 2}}",
                             &err),
                     QUANTA_OK);
    /* out [2, 3, 3, 3, 8] = 432 elements, 27 taps of 2 channels */
    ck_assert_double_eq(graph_node_ops(&g, 0, 2), 2.0 * 432 * 27 * 2);
    graph_free(&g);
    fx_free(&f);
    ck_assert_int_eq(fx_node(&g, NULL, "[-1, 4, 4, 4, 3]",
                             "{'op': 'avg_pool3d', 'name': 'p', 'inputs': ['x'], "
                             "'outputs': ['y'], 'attrs': {'kernel': [2, 2, 2]}}",
                             &err),
                     QUANTA_OK);
    /* batch 5: out [5, 2, 2, 2, 3] = 120 elements, 8 cells each */
    ck_assert_double_eq(graph_node_ops(&g, 0, 5), 120.0 * 8);
    graph_free(&g);
}
END_TEST

Suite *suite_graph_shapes_3d(void);
Suite *suite_graph_shapes_3d(void)
{
    Suite *s = suite_create("graph_shapes_3d");
    TCase *tc = tcase_create("window3d");
    tcase_add_test(tc, conv3d_output_follows_the_window_formula_per_axis);
    tcase_add_test(tc, conv3d_without_bias_carries_an_omitted_third_input);
    tcase_add_test(tc, conv3d_rejects_bad_weights_and_attrs);
    tcase_add_test(tc, conv3d_takes_a_fused_relu);
    tcase_add_test(tc, conv2d_still_takes_two_entries_per_window_attr);
    tcase_add_test(tc, pool3d_strides_default_to_the_kernel);
    tcase_add_test(tc, pool3d_output_uses_floor_with_pads_and_dilation);
    tcase_add_test(tc, pool3d_rejects_bad_attrs);
    tcase_add_test(tc, window3d_attrs_survive_a_save_and_load);
    tcase_add_test(tc, window3d_cost_counts_multiply_adds_and_window_cells);
    suite_add_tcase(s, tc);
    return s;
}

/* Shape inference and shape checks of every op (model-format.md section 3).
 * Expected shapes are worked out by hand from the formulas in the spec. */
#include <check.h>
#include "unit/graph_fixture.h"

/* Parses a one-node graph and checks the inferred shape of y. */
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

/* ---- conv2d ---- */

START_TEST(conv2d_output_follows_stride_pad_dilation_formula)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 4, 8, 3, 3, 1);
    fx_tensor(&f, "b", QUANTA_F32, 1, 8);
    /* (28 + 1 + 1 - 1*(3-1) - 1) / 2 + 1 = 13 + 1 = 14 */
    EXPECT_SHAPE(&f, "[-1, 28, 28, 1]",
                 "{'op': 'conv2d', 'name': 'n', 'inputs': ['x', 'w', 'b'], 'outputs': ['y'], "
                 "'attrs': {'strides': [2, 2], 'pads': [1, 1, 1, 1]}}",
                 "[-1, 14, 14, 8]");
    /* dilation 2: (28 + 2 - 2*2 - 1) / 2 + 1 = 12 + 1 = 13 */
    EXPECT_SHAPE(&f, "[-1, 28, 28, 1]",
                 "{'op': 'conv2d', 'name': 'n', 'inputs': ['x', 'w', 'b'], 'outputs': ['y'], "
                 "'attrs': {'strides': [2, 2], 'pads': [1, 1, 1, 1], 'dilations': [2, 2]}}",
                 "[-1, 13, 13, 8]");
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_pads_are_top_left_bottom_right)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 4, 2, 3, 3, 1);
    /* height: 10 + 0 + 2 - 2 = 10; width: 10 + 1 + 3 - 2 = 12 */
    EXPECT_SHAPE(&f, "[1, 10, 10, 1]",
                 "{'op': 'conv2d', 'name': 'n', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                 "'attrs': {'pads': [0, 1, 2, 3]}}",
                 "[1, 10, 12, 2]");
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_accepts_depthwise_and_grouped_weights)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "dw", QUANTA_F32, 4, 8, 3, 3, 1); /* groups == C = 4, O = 4*2 */
    fx_tensor(&f, "gw", QUANTA_F32, 4, 4, 1, 1, 3); /* C = 6, groups 2 */
    EXPECT_SHAPE(&f, "[1, 8, 8, 4]",
                 "{'op': 'conv2d', 'name': 'n', 'inputs': ['x', 'dw'], 'outputs': ['y'], "
                 "'attrs': {'groups': 4}}",
                 "[1, 6, 6, 8]");
    EXPECT_SHAPE(&f, "[1, 5, 5, 6]",
                 "{'op': 'conv2d', 'name': 'n', 'inputs': ['x', 'gw'], 'outputs': ['y'], "
                 "'attrs': {'groups': 2}}",
                 "[1, 5, 5, 4]");
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_rejects_weight_channels_not_matching_groups)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 4, 4, 1, 1, 2); /* C/groups = 6/2 = 3, not 2 */
    EXPECT_REJECT(&f, "[1, 5, 5, 6]",
                  "{'op': 'conv2d', 'name': 'c1', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'groups': 2}}",
                  "m.st: node 'c1' (conv2d): weight 'w' has shape [4, 1, 1, 2] but "
                  "[O, KH, KW, 3] is needed");
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_rejects_channels_not_multiple_of_groups)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 4, 4, 1, 1, 1);
    EXPECT_REJECT(&f, "[1, 5, 5, 6]",
                  "{'op': 'conv2d', 'name': 'c1', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'groups': 4}}",
                  "input 'x' has 6 channels, not a multiple of groups 4");
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_rejects_output_channels_not_multiple_of_groups)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 4, 4, 1, 1, 2);
    EXPECT_REJECT(&f, "[1, 5, 5, 6]",
                  "{'op': 'conv2d', 'name': 'c1', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'groups': 3}}",
                  "weight 'w' has 4 output channels, not a multiple of groups 3");
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_rejects_output_smaller_than_one)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 4, 1, 3, 3, 1);
    EXPECT_REJECT(&f, "[1, 2, 2, 1]",
                  "{'op': 'conv2d', 'name': 'c1', 'inputs': ['x', 'w'], 'outputs': ['y']}",
                  "node 'c1' (conv2d): output height would be < 1");
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_rejects_bias_not_matching_output_channels)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 4, 8, 3, 3, 1);
    fx_tensor(&f, "b", QUANTA_F32, 1, 7);
    EXPECT_REJECT(&f, "[1, 5, 5, 1]",
                  "{'op': 'conv2d', 'name': 'c1', 'inputs': ['x', 'w', 'b'], 'outputs': ['y']}",
                  "bias 'b' has shape [7] but [8] is needed");
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_rejects_zero_stride_and_negative_pad)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 4, 1, 1, 1, 1);
    EXPECT_REJECT(&f, "[1, 5, 5, 1]",
                  "{'op': 'conv2d', 'name': 'c1', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'strides': [1, 0]}}",
                  "attr 'strides' has 0 but every entry must be >= 1");
    EXPECT_REJECT(&f, "[1, 5, 5, 1]",
                  "{'op': 'conv2d', 'name': 'c1', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'pads': [0, -1, 0, 0]}}",
                  "attr 'pads' has -1 but every entry must be >= 0");
    EXPECT_REJECT(&f, "[1, 5, 5, 1]",
                  "{'op': 'conv2d', 'name': 'c1', 'inputs': ['x', 'w'], 'outputs': ['y'], "
                  "'attrs': {'dilations': [0, 1]}}",
                  "attr 'dilations' has 0");
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_rejects_input_not_nhwc)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 4, 1, 1, 1, 1);
    EXPECT_REJECT(&f, "[1, 28, 28]",
                  "{'op': 'conv2d', 'name': 'c1', 'inputs': ['x', 'w'], 'outputs': ['y']}",
                  "input 'x' has shape [1, 28, 28] but [N, H, W, C] (NHWC) is needed");
    fx_free(&f);
}
END_TEST

START_TEST(conv2d_rejects_weight_that_is_not_a_tensor)
{
    struct graph g;
    struct quanta_error err = {0};
    enum quanta_status st = fx_parse(
        &g, NULL,
        "{" FX_HDR ", 'inputs': [{'name': 'x', 'shape': [1, 4, 4, 1]}, "
        "{'name': 'w', 'shape': [1, 1, 1, 1]}], 'outputs': ['y'], 'nodes': [{'op': 'conv2d', "
        "'name': 'c1', 'inputs': ['x', 'w'], 'outputs': ['y']}]}",
        &err);
    FX_ASSERT_FAILS(st, err, "node 'c1' (conv2d): weight 'w' must be a tensor of the file");
}
END_TEST

/* ---- dense ---- */

START_TEST(dense_output_is_batch_by_output_features)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 2, 3, 5);
    fx_tensor(&f, "b", QUANTA_F32, 1, 3);
    EXPECT_SHAPE(&f, "[-1, 5]",
                 "{'op': 'dense', 'name': 'n', 'inputs': ['x', 'w', 'b'], 'outputs': ['y']}",
                 "[-1, 3]");
    fx_free(&f);
}
END_TEST

START_TEST(dense_without_bias_keeps_minus_one_in_third_input)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 2, 3, 5);
    ck_assert_int_eq(fx_node(&g, &f, "[-1, 5]",
                             "{'op': 'dense', 'name': 'n', 'inputs': ['x', 'w'], "
                             "'outputs': ['y']}",
                             &err),
                     QUANTA_OK);
    ck_assert_int_eq(g.nodes[0].n_inputs, 3);
    ck_assert_int_eq(g.nodes[0].inputs[1], graph_find_value(&g, "w"));
    ck_assert_int_eq(g.nodes[0].inputs[2], -1);
    ck_assert_str_eq(fx_shape(&g, "y"), "[-1, 3]");
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(dense_rejects_weight_columns_not_matching_input)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 2, 3, 4);
    EXPECT_REJECT(&f, "[-1, 5]",
                  "{'op': 'dense', 'name': 'fc', 'inputs': ['x', 'w'], 'outputs': ['y']}",
                  "node 'fc' (dense): weight 'w' has shape [3, 4] but [O, 5] is needed");
    fx_free(&f);
}
END_TEST

/* ---- element-wise ---- */

START_TEST(unary_ops_keep_the_input_shape)
{
    static const char *const ops[] = {"relu", "relu6", "sigmoid", "tanh", "leaky_relu"};
    char node[256];
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        snprintf(node, sizeof node,
                 "{'op': '%s', 'name': 'n', 'inputs': ['x'], 'outputs': ['y']}", ops[i]);
        EXPECT_SHAPE(NULL, "[-1, 3, 3, 2]", node, "[-1, 3, 3, 2]");
    }
}
END_TEST

START_TEST(leaky_relu_alpha_defaults_to_0_01)
{
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(fx_node(&g, NULL, "[2]",
                             "{'op': 'leaky_relu', 'name': 'a', 'inputs': ['x'], 'outputs': ['t']}, "
                             "{'op': 'leaky_relu', 'name': 'b', 'inputs': ['t'], 'outputs': ['y'], "
                             "'attrs': {'alpha': 0.2}}",
                             &err),
                     QUANTA_OK);
    ck_assert_float_eq(g.nodes[0].attrs.alpha, 0.01f);
    ck_assert_float_eq(g.nodes[1].attrs.alpha, 0.2f);
    graph_free(&g);
}
END_TEST

/* ---- pools ---- */

START_TEST(max_pool_strides_default_to_kernel)
{
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(fx_node(&g, NULL, "[-1, 28, 28, 8]",
                             "{'op': 'max_pool2d', 'name': 'p', 'inputs': ['x'], "
                             "'outputs': ['y'], 'attrs': {'kernel': [2, 3]}}",
                             &err),
                     QUANTA_OK);
    ck_assert_int_eq(g.nodes[0].attrs.strides[0], 2);
    ck_assert_int_eq(g.nodes[0].attrs.strides[1], 3);
    /* height 28 / 2 = 14; width floor((28 - 3) / 3) + 1 = 9 */
    ck_assert_str_eq(fx_shape(&g, "y"), "[-1, 14, 9, 8]");
    graph_free(&g);
}
END_TEST

START_TEST(avg_pool_output_uses_floor_with_pads)
{
    /* floor((7 + 1 + 1 - 3) / 2) + 1 = 4 */
    EXPECT_SHAPE(NULL, "[-1, 7, 7, 8]",
                 "{'op': 'avg_pool2d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'kernel': [3, 3], 'strides': [2, 2], 'pads': [1, 1, 1, 1]}}",
                 "[-1, 4, 4, 8]");
}
END_TEST

START_TEST(pool_rejects_missing_kernel)
{
    EXPECT_REJECT(NULL, "[-1, 7, 7, 8]",
                  "{'op': 'max_pool2d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y']}",
                  "m.st: node 'p' (max_pool2d): attr 'kernel' is required");
}
END_TEST

START_TEST(pool_rejects_pads_not_smaller_than_kernel)
{
    EXPECT_REJECT(NULL, "[-1, 7, 7, 8]",
                  "{'op': 'avg_pool2d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'kernel': [2, 2], 'pads': [2, 0, 0, 0]}}",
                  "attr 'pads' [2, 0, 0, 0] must be smaller than the kernel [2, 2]");
}
END_TEST

START_TEST(pool_rejects_kernel_larger_than_input)
{
    EXPECT_REJECT(NULL, "[-1, 2, 2, 8]",
                  "{'op': 'max_pool2d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'kernel': [3, 3]}}",
                  "output height would be < 1");
}
END_TEST

START_TEST(global_avg_pool_gives_batch_by_channels)
{
    EXPECT_SHAPE(NULL, "[-1, 7, 7, 16]",
                 "{'op': 'global_avg_pool', 'name': 'p', 'inputs': ['x'], 'outputs': ['y']}",
                 "[-1, 16]");
    EXPECT_REJECT(NULL, "[-1, 16]",
                  "{'op': 'global_avg_pool', 'name': 'p', 'inputs': ['x'], 'outputs': ['y']}",
                  "input 'x' has shape [-1, 16] but [N, H, W, C] (NHWC) is needed");
}
END_TEST

/* ---- flatten, reshape ---- */

START_TEST(flatten_multiplies_all_but_the_batch)
{
    EXPECT_SHAPE(NULL, "[-1, 4, 4, 2]",
                 "{'op': 'flatten', 'name': 'f', 'inputs': ['x'], 'outputs': ['y']}", "[-1, 32]");
}
END_TEST

START_TEST(reshape_minus_one_keeps_the_batch)
{
    EXPECT_SHAPE(NULL, "[-1, 32]",
                 "{'op': 'reshape', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'shape': [-1, 4, 8]}}",
                 "[-1, 4, 8]");
    EXPECT_SHAPE(NULL, "[2, 6]",
                 "{'op': 'reshape', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'shape': [3, 4]}}",
                 "[3, 4]");
    EXPECT_SHAPE(NULL, "[2, 6]",
                 "{'op': 'reshape', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'shape': [-1, 3, 2]}}",
                 "[2, 3, 2]");
}
END_TEST

START_TEST(reshape_rejects_element_count_mismatch)
{
    EXPECT_REJECT(NULL, "[-1, 32]",
                  "{'op': 'reshape', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'shape': [-1, 5, 6]}}",
                  "cannot reshape input 'x' [-1, 32] to [-1, 5, 6]: element counts differ");
}
END_TEST

START_TEST(reshape_rejects_fixed_batch_for_any_batch_input)
{
    EXPECT_REJECT(NULL, "[-1, 32]",
                  "{'op': 'reshape', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'shape': [1, 32]}}",
                  "attr 'shape' must start with -1");
}
END_TEST

START_TEST(reshape_rejects_minus_one_after_the_first_entry)
{
    EXPECT_REJECT(NULL, "[-1, 32]",
                  "{'op': 'reshape', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'shape': [-1, -1]}}",
                  "attr 'shape' has -1 at index 1");
}
END_TEST

/* ---- add, mul ---- */

START_TEST(add_accepts_same_shape_or_last_axis_vector)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "c", QUANTA_F32, 1, 3);
    EXPECT_SHAPE(&f, "[-1, 4, 4, 3]",
                 "{'op': 'add', 'name': 'a', 'inputs': ['x', 'x'], 'outputs': ['y']}",
                 "[-1, 4, 4, 3]");
    EXPECT_SHAPE(&f, "[-1, 4, 4, 3]",
                 "{'op': 'mul', 'name': 'a', 'inputs': ['x', 'c'], 'outputs': ['y'], "
                 "'attrs': {'activation': 'relu6'}}",
                 "[-1, 4, 4, 3]");
    fx_free(&f);
}
END_TEST

START_TEST(add_rejects_b_of_other_shape)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "c", QUANTA_F32, 1, 2);
    fx_tensor(&f, "d", QUANTA_F32, 3, 4, 4, 3);
    EXPECT_REJECT(&f, "[-1, 4, 4, 3]",
                  "{'op': 'mul', 'name': 'm', 'inputs': ['x', 'c'], 'outputs': ['y']}",
                  "node 'm' (mul): inputs 'x' [-1, 4, 4, 3] and 'c' [2] do not broadcast "
                  "(axis 3 of the result: 3 against 2)");
    /* d [4, 4, 3] broadcasts over the batch; a fixed batch of 3 does not
     * meet any batch */
    EXPECT_SHAPE(&f, "[-1, 4, 4, 3]",
                 "{'op': 'add', 'name': 'm', 'inputs': ['x', 'd'], 'outputs': ['y']}",
                 "[-1, 4, 4, 3]");
    fx_tensor(&f, "e", QUANTA_F32, 4, 3, 4, 4, 3);
    EXPECT_REJECT(&f, "[-1, 4, 4, 3]",
                  "{'op': 'add', 'name': 'm', 'inputs': ['x', 'e'], 'outputs': ['y']}",
                  "and 'e' [3, 4, 4, 3] do not broadcast (axis 0 of the result: -1 against 3)");
    fx_free(&f);
}
END_TEST

/* NumPy broadcasting, either operand, constants or activations. */
START_TEST(binary_broadcasts_numpy_style)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "se", QUANTA_F32, 4, 1, 1, 1, 3);
    fx_tensor(&f, "col", QUANTA_F32, 2, 4, 1);
    fx_tensor(&f, "s", QUANTA_F32, 0);
    EXPECT_SHAPE(&f, "[-1, 4, 4, 3]",
                 "{'op': 'mul', 'name': 'm', 'inputs': ['se', 'x'], 'outputs': ['y']}",
                 "[-1, 4, 4, 3]");
    EXPECT_SHAPE(&f, "[-1, 4, 1, 3]",
                 "{'op': 'sub', 'name': 'm', 'inputs': ['x', 'col'], 'outputs': ['y']}",
                 "[-1, 4, 4, 3]");
    EXPECT_SHAPE(&f, "[-1, 5]",
                 "{'op': 'pow', 'name': 'm', 'inputs': ['x', 's'], 'outputs': ['y']}",
                 "[-1, 5]");
    fx_free(&f);
}
END_TEST

/* ---- concat, softmax ---- */

START_TEST(concat_sums_the_axis_and_normalizes_negative_axis)
{
    const char *two =
        "{'op': 'relu', 'name': 'r', 'inputs': ['x'], 'outputs': ['t']}, "
        "{'op': 'concat', 'name': 'c', 'inputs': ['x', 't', 'x'], 'outputs': ['y'], "
        "'attrs': {'axis': %d}}";
    char node[512];
    snprintf(node, sizeof node, two, -1);
    EXPECT_SHAPE(NULL, "[-1, 4, 5, 3]", node, "[-1, 4, 5, 9]");
    snprintf(node, sizeof node, two, 2);
    EXPECT_SHAPE(NULL, "[-1, 4, 5, 3]", node, "[-1, 4, 15, 3]");
    snprintf(node, sizeof node, two, -3);
    EXPECT_SHAPE(NULL, "[-1, 4, 5, 3]", node, "[-1, 12, 5, 3]");
}
END_TEST

START_TEST(concat_rejects_other_dims_differing)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "c", QUANTA_F32, 2, 2, 2);
    EXPECT_REJECT(&f, "[-1, 3]",
                  "{'op': 'concat', 'name': 'c', 'inputs': ['x', 'c'], 'outputs': ['y'], "
                  "'attrs': {'axis': 1}}",
                  "input 'c' has shape [2, 2] but only axis 1 may differ from 'x' [-1, 3]");
    fx_free(&f);
}
END_TEST

/* A constant of dim 0 1 is repeated over the batch (a class token), first
 * or not; along the batch axis it is refused. */
START_TEST(concat_repeats_constant_over_batch)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "c", QUANTA_F32, 3, 1, 1, 4);
    EXPECT_SHAPE(&f, "[-1, 6, 4]",
                 "{'op': 'concat', 'name': 'k', 'inputs': ['c', 'x'], 'outputs': ['y'], "
                 "'attrs': {'axis': 1}}",
                 "[-1, 7, 4]");
    EXPECT_REJECT(&f, "[-1, 1, 4]",
                  "{'op': 'concat', 'name': 'k', 'inputs': ['x', 'c'], 'outputs': ['y'], "
                  "'attrs': {'axis': 0}}",
                  "cannot concatenate along the batch axis");
    fx_free(&f);
}
END_TEST

START_TEST(concat_rejects_axis_out_of_range_and_any_size_batch)
{
    EXPECT_REJECT(NULL, "[-1, 3]",
                  "{'op': 'concat', 'name': 'c', 'inputs': ['x', 'x'], 'outputs': ['y'], "
                  "'attrs': {'axis': 2}}",
                  "attr 'axis' 2 is out of range for rank 2");
    EXPECT_REJECT(NULL, "[-1, 3]",
                  "{'op': 'concat', 'name': 'c', 'inputs': ['x', 'x'], 'outputs': ['y'], "
                  "'attrs': {'axis': -2}}",
                  "cannot concatenate along the batch axis");
    EXPECT_SHAPE(NULL, "[2, 3]",
                 "{'op': 'concat', 'name': 'c', 'inputs': ['x', 'x'], 'outputs': ['y'], "
                 "'attrs': {'axis': 0}}",
                 "[4, 3]");
}
END_TEST

START_TEST(concat_rejects_zero_inputs)
{
    EXPECT_REJECT(NULL, "[-1, 3]",
                  "{'op': 'concat', 'name': 'c', 'inputs': [], 'outputs': ['y']}",
                  "node 'c' (concat): has 0 inputs but at least 1 are needed");
}
END_TEST

START_TEST(softmax_rejects_axis_out_of_range)
{
    EXPECT_SHAPE(NULL, "[-1, 10]",
                 "{'op': 'softmax', 'name': 's', 'inputs': ['x'], 'outputs': ['y']}", "[-1, 10]");
    EXPECT_REJECT(NULL, "[-1, 10]",
                  "{'op': 'softmax', 'name': 's', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'axis': -3}}",
                  "attr 'axis' -3 is out of range for rank 2");
}
END_TEST

/* ---- batch_norm, embedding, mean ---- */

START_TEST(batch_norm_needs_per_channel_parameters)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "g", QUANTA_F32, 1, 3);
    fx_tensor(&f, "b", QUANTA_F32, 1, 3);
    fx_tensor(&f, "m", QUANTA_F32, 1, 3);
    fx_tensor(&f, "v", QUANTA_F32, 1, 3);
    fx_tensor(&f, "v4", QUANTA_F32, 1, 4);
    EXPECT_SHAPE(&f, "[-1, 4, 4, 3]",
                 "{'op': 'batch_norm', 'name': 'bn', 'inputs': ['x', 'g', 'b', 'm', 'v'], "
                 "'outputs': ['y']}",
                 "[-1, 4, 4, 3]");
    EXPECT_REJECT(&f, "[-1, 4, 4, 3]",
                  "{'op': 'batch_norm', 'name': 'bn', 'inputs': ['x', 'g', 'b', 'm', 'v4'], "
                  "'outputs': ['y']}",
                  "node 'bn' (batch_norm): var 'v4' has shape [4] but [3] is needed");
    EXPECT_REJECT(&f, "[-1, 4, 4, 3]",
                  "{'op': 'batch_norm', 'name': 'bn', 'inputs': ['x', 'g', 'b', 'm'], "
                  "'outputs': ['y']}",
                  "has 4 inputs but 5 are needed");
    fx_free(&f);
}
END_TEST

START_TEST(batch_norm_epsilon_defaults_to_1e_5)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    fx_init(&f);
    fx_tensor(&f, "g", QUANTA_F32, 1, 3);
    ck_assert_int_eq(fx_node(&g, &f, "[-1, 3]",
                             "{'op': 'batch_norm', 'name': 'bn', "
                             "'inputs': ['x', 'g', 'g', 'g', 'g'], 'outputs': ['y']}",
                             &err),
                     QUANTA_OK);
    ck_assert_float_eq(g.nodes[0].attrs.epsilon, 1e-5f);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(embedding_gives_batch_tokens_features)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    fx_init(&f);
    fx_tensor(&f, "table", QUANTA_F32, 2, 100, 16);
    ck_assert_int_eq(fx_parse(&g, &f,
                              "{" FX_HDR ", 'inputs': [{'name': 'ids', 'shape': [-1, 7], "
                              "'dtype': 'I64'}], 'outputs': ['y'], 'nodes': [{'op': "
                              "'embedding', 'name': 'e', 'inputs': ['ids', 'table'], "
                              "'outputs': ['y']}]}",
                              &err),
                     QUANTA_OK);
    ck_assert_str_eq(fx_shape(&g, "y"), "[-1, 7, 16]");
    ck_assert_int_eq(g.values[graph_find_value(&g, "y")].dtype, QUANTA_F32);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(embedding_rejects_float_ids)
{
    struct fixture f;
    fx_init(&f);
    fx_tensor(&f, "table", QUANTA_F32, 2, 100, 16);
    EXPECT_REJECT(&f, "[-1, 7]",
                  "{'op': 'embedding', 'name': 'e', 'inputs': ['x', 'table'], 'outputs': ['y']}",
                  "node 'e' (embedding): ids 'x' has dtype F32 but I32 or I64 is needed");
    fx_free(&f);
}
END_TEST

START_TEST(mean_reduces_axes_with_and_without_keepdims)
{
    EXPECT_SHAPE(NULL, "[-1, 4, 5, 3]",
                 "{'op': 'mean', 'name': 'm', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'axes': [1, 2]}}",
                 "[-1, 3]");
    EXPECT_SHAPE(NULL, "[-1, 4, 5, 3]",
                 "{'op': 'mean', 'name': 'm', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'axes': [-2, 1], 'keepdims': true}}",
                 "[-1, 1, 1, 3]");
    EXPECT_SHAPE(NULL, "[2, 4, 5, 3]",
                 "{'op': 'mean', 'name': 'm', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'axes': [0]}}",
                 "[4, 5, 3]");
}
END_TEST

START_TEST(mean_rejects_duplicate_axes_after_normalizing)
{
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'mean', 'name': 'm', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'axes': [1, -3]}}",
                  "node 'm' (mean): attr 'axes' names axis 1 twice");
}
END_TEST

START_TEST(mean_rejects_reducing_any_size_batch)
{
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'mean', 'name': 'm', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'axes': [0]}}",
                  "attr 'axes' reduces the batch axis of 'x' whose size is any");
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'mean', 'name': 'm', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'axes': [4]}}",
                  "attr 'axes' has 4, out of range for rank 4");
}
END_TEST

START_TEST(mean_rejects_missing_axes)
{
    EXPECT_REJECT(NULL, "[-1, 4]",
                  "{'op': 'mean', 'name': 'm', 'inputs': ['x'], 'outputs': ['y']}",
                  "node 'm' (mean): attr 'axes' is required");
}
END_TEST

/* ---- pad, resize ---- */

START_TEST(pad_adds_begin_and_end_and_crops_negative)
{
    /* 4 + 2 - 1 = 5, 5 - 2 + 0 = 3, 3 + 0 + 4 = 7 */
    EXPECT_SHAPE(NULL, "[-1, 4, 5, 3]",
                 "{'op': 'pad', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'pads_begin': [0, 2, -2, 0], 'pads_end': [0, -1, 0, 4], "
                 "'mode': 'reflect'}}",
                 "[-1, 5, 3, 7]");
}
END_TEST

START_TEST(pad_rejects_batch_crop_to_nothing_and_resize_modes)
{
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'pad', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'pads_begin': [1, 0, 0, 0], 'pads_end': [0, 0, 0, 0]}}",
                  "axis 0 of 'x' has any size; pad leaves it alone");
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'pad', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'pads_begin': [0, -2, 0, 0], 'pads_end': [0, -2, 0, 0]}}",
                  "axis 1: pads -2 and -2 leave no element of 'x' (extent 4)");
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'pad', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'pads_begin': [0, 0, 0, 0], 'pads_end': [0, 0, 0, 0], "
                  "'mode': 'linear'}}",
                  "attr 'mode' must be \"constant\", \"reflect\" or \"edge\"");
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'pad', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'pads_begin': [0, 0, 0], 'pads_end': [0, 0, 0, 0]}}",
                  "attrs 'pads_begin' and 'pads_end' need 4 entries");
}
END_TEST

START_TEST(resize_takes_the_shape_and_keeps_the_batch)
{
    EXPECT_SHAPE(NULL, "[-1, 4, 5, 3]",
                 "{'op': 'resize', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                 "'attrs': {'shape': [-1, 8, 2, 3], 'scales': [1, 2, 0.4, 1], "
                 "'mode': 'linear', 'coord': 'align_corners', 'nearest': 'ceil'}}",
                 "[-1, 8, 2, 3]");
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'resize', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'shape': [2, 8, 2, 3]}}",
                  "axis 0 of 'x' has any size; resize keeps it");
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'resize', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'shape': [-1, 8, 2, 3], 'mode': 'edge'}}",
                  "attr 'mode' must be \"nearest\" or \"linear\"");
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'resize', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'shape': [-1, 8, 2, 3], 'scales': [1, -2, 1, 1]}}",
                  "attr 'scales' has -2");
    EXPECT_REJECT(NULL, "[-1, 4, 5, 3]",
                  "{'op': 'resize', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                  "'attrs': {'shape': [-1, 8, 2, 3], 'coord': 'tf_crop_and_resize'}}",
                  "attr 'coord' has an unknown value");
}
END_TEST

Suite *suite_graph_shapes(void);
Suite *suite_graph_shapes(void)
{
    Suite *s = suite_create("graph_shapes");
    TCase *tc = tcase_create("conv_dense");
    tcase_add_test(tc, conv2d_output_follows_stride_pad_dilation_formula);
    tcase_add_test(tc, conv2d_pads_are_top_left_bottom_right);
    tcase_add_test(tc, conv2d_accepts_depthwise_and_grouped_weights);
    tcase_add_test(tc, conv2d_rejects_weight_channels_not_matching_groups);
    tcase_add_test(tc, conv2d_rejects_channels_not_multiple_of_groups);
    tcase_add_test(tc, conv2d_rejects_output_channels_not_multiple_of_groups);
    tcase_add_test(tc, conv2d_rejects_output_smaller_than_one);
    tcase_add_test(tc, conv2d_rejects_bias_not_matching_output_channels);
    tcase_add_test(tc, conv2d_rejects_zero_stride_and_negative_pad);
    tcase_add_test(tc, conv2d_rejects_input_not_nhwc);
    tcase_add_test(tc, conv2d_rejects_weight_that_is_not_a_tensor);
    tcase_add_test(tc, dense_output_is_batch_by_output_features);
    tcase_add_test(tc, dense_without_bias_keeps_minus_one_in_third_input);
    tcase_add_test(tc, dense_rejects_weight_columns_not_matching_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("other_ops");
    tcase_add_test(tc, unary_ops_keep_the_input_shape);
    tcase_add_test(tc, leaky_relu_alpha_defaults_to_0_01);
    tcase_add_test(tc, max_pool_strides_default_to_kernel);
    tcase_add_test(tc, avg_pool_output_uses_floor_with_pads);
    tcase_add_test(tc, pool_rejects_missing_kernel);
    tcase_add_test(tc, pool_rejects_pads_not_smaller_than_kernel);
    tcase_add_test(tc, pool_rejects_kernel_larger_than_input);
    tcase_add_test(tc, global_avg_pool_gives_batch_by_channels);
    tcase_add_test(tc, flatten_multiplies_all_but_the_batch);
    tcase_add_test(tc, reshape_minus_one_keeps_the_batch);
    tcase_add_test(tc, reshape_rejects_element_count_mismatch);
    tcase_add_test(tc, reshape_rejects_fixed_batch_for_any_batch_input);
    tcase_add_test(tc, reshape_rejects_minus_one_after_the_first_entry);
    tcase_add_test(tc, add_accepts_same_shape_or_last_axis_vector);
    tcase_add_test(tc, add_rejects_b_of_other_shape);
    tcase_add_test(tc, binary_broadcasts_numpy_style);
    tcase_add_test(tc, concat_sums_the_axis_and_normalizes_negative_axis);
    tcase_add_test(tc, concat_rejects_other_dims_differing);
    tcase_add_test(tc, concat_repeats_constant_over_batch);
    tcase_add_test(tc, concat_rejects_axis_out_of_range_and_any_size_batch);
    tcase_add_test(tc, concat_rejects_zero_inputs);
    tcase_add_test(tc, softmax_rejects_axis_out_of_range);
    tcase_add_test(tc, batch_norm_needs_per_channel_parameters);
    tcase_add_test(tc, batch_norm_epsilon_defaults_to_1e_5);
    tcase_add_test(tc, embedding_gives_batch_tokens_features);
    tcase_add_test(tc, embedding_rejects_float_ids);
    tcase_add_test(tc, mean_reduces_axes_with_and_without_keepdims);
    tcase_add_test(tc, mean_rejects_duplicate_axes_after_normalizing);
    tcase_add_test(tc, mean_rejects_reducing_any_size_batch);
    tcase_add_test(tc, mean_rejects_missing_axes);
    tcase_add_test(tc, pad_adds_begin_and_end_and_crops_negative);
    tcase_add_test(tc, pad_rejects_batch_crop_to_nothing_and_resize_modes);
    tcase_add_test(tc, resize_takes_the_shape_and_keeps_the_batch);
    suite_add_tcase(s, tc);
    return s;
}

/* The graph JSON (model-format.md section 2, team "quant" extension):
 * parsing and its rejections, values, dtypes, last_use, graph_to_json,
 * and building/validating graphs in code. Shape rules per op are in
 * test_graph_shapes.c; files on disk in test_graph_file.c. */
#include <check.h>
#include <math.h>
#include "graph/graph_optimize.h"
#include "unit/graph_fixture.h"

/* The example of model-format.md section 2. */
static const char spec_json[] =
    "{" FX_HDR ", 'name': 'fmnist-cnn',"
    " 'inputs': [{'name': 'image', 'shape': [-1, 28, 28, 1], 'dtype': 'F32',"
    "   'normalize': {'scale': 0.00392156862745098, 'mean': [0.0], 'std': [1.0]}}],"
    " 'outputs': ['logits'],"
    " 'nodes': ["
    "  {'op': 'conv2d', 'name': 'conv1', 'inputs': ['image', 'conv1.weight', 'conv1.bias'],"
    "   'outputs': ['conv1.out'],"
    "   'attrs': {'strides': [1, 1], 'pads': [0, 0, 0, 0], 'activation': 'relu'}},"
    "  {'op': 'max_pool2d', 'name': 'pool1', 'inputs': ['conv1.out'], 'outputs': ['pool1.out'],"
    "   'attrs': {'kernel': [2, 2], 'strides': [2, 2]}},"
    "  {'op': 'flatten', 'name': 'flat', 'inputs': ['pool1.out'], 'outputs': ['flat.out']},"
    "  {'op': 'dense', 'name': 'fc', 'inputs': ['flat.out', 'fc.weight', 'fc.bias'],"
    "   'outputs': ['logits']}]}";

static void spec_tensors(struct fixture *f, enum quanta_dtype wdtype)
{
    fx_init(f);
    fx_tensor(f, "conv1.weight", wdtype, 4, 8, 3, 3, 1);
    fx_tensor(f, "conv1.bias", QUANTA_F32, 1, 8);
    fx_tensor(f, "fc.weight", wdtype, 2, 10, 1352);
    fx_tensor(f, "fc.bias", QUANTA_F32, 1, 10);
}

/* A graph of one relu node y = relu(x), with extra top-level text. */
static enum quanta_status relu_graph(struct graph *g, const char *top, const char *input,
                                     struct quanta_error *err)
{
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{" FX_HDR "%s, 'inputs': [%s], 'outputs': ['y'], 'nodes': [{'op': 'relu', "
             "'name': 'r', 'inputs': ['x'], 'outputs': ['y']}]}",
             top, input);
    return fx_parse(g, NULL, buf, err);
}

/* ---- the spec example ---- */

START_TEST(parse_reads_the_spec_example)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    spec_tensors(&f, QUANTA_F32);
    ck_assert_msg(fx_parse(&g, &f, spec_json, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_str_eq(g.name, "fmnist-cnn");
    /* 1 input + 4 tensors + 4 node outputs */
    ck_assert_int_eq(g.n_values, 9);
    ck_assert_int_eq(g.n_nodes, 4);
    ck_assert_int_eq(g.n_inputs, 1);
    ck_assert_int_eq(g.n_outputs, 1);
    ck_assert_int_eq(g.outputs[0], graph_find_value(&g, "logits"));
    ck_assert_str_eq(fx_shape(&g, "conv1.out"), "[-1, 26, 26, 8]");
    ck_assert_str_eq(fx_shape(&g, "pool1.out"), "[-1, 13, 13, 8]");
    ck_assert_str_eq(fx_shape(&g, "flat.out"), "[-1, 1352]");
    ck_assert_str_eq(fx_shape(&g, "logits"), "[-1, 10]");
    ck_assert_int_eq(g.nodes[0].op, GRAPH_OP_CONV2D);
    ck_assert_int_eq(g.nodes[0].attrs.activation, GRAPH_ACT_RELU);
    ck_assert_int_eq(g.nodes[0].attrs.groups, 1);
    ck_assert_int_eq(g.nodes[1].op, GRAPH_OP_MAX_POOL2D);
    ck_assert_int_eq(g.nodes[3].op, GRAPH_OP_DENSE);
    ck_assert(g.inputs[0].has_normalize);
    ck_assert(g.inputs[0].normalize.scale == 0.00392156862745098);
    ck_assert_int_eq(g.inputs[0].normalize.n_mean, 1);
    ck_assert_float_eq(g.inputs[0].normalize.std[0], 1.0f);

    const struct graph_value *w = &g.values[graph_find_value(&g, "conv1.weight")];
    ck_assert_int_eq(w->kind, GRAPH_VALUE_CONST);
    ck_assert_ptr_eq(w->data, f.tensors[0].data);
    ck_assert_ptr_null(w->owned);
    const struct graph_value *out = &g.values[graph_find_value(&g, "conv1.out")];
    ck_assert_int_eq(out->kind, GRAPH_VALUE_NODE);
    ck_assert_int_eq(out->producer, 0);
    ck_assert_int_eq(out->dtype, QUANTA_F32);
    ck_assert_int_eq(g.values[graph_find_value(&g, "image")].kind, GRAPH_VALUE_INPUT);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(last_use_is_last_reading_node_and_outputs_never_end)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    fx_init(&f);
    fx_tensor(&f, "unused", QUANTA_F32, 1, 2);
    ck_assert_int_eq(
        fx_parse(&g, &f,
                 "{" FX_HDR ", 'inputs': [{'name': 'x', 'shape': [-1, 3]}], "
                 "'outputs': ['z', 'a'], 'nodes': ["
                 "{'op': 'relu', 'name': 'n0', 'inputs': ['x'], 'outputs': ['a']},"
                 "{'op': 'tanh', 'name': 'n1', 'inputs': ['a'], 'outputs': ['b']},"
                 "{'op': 'add', 'name': 'n2', 'inputs': ['b', 'x'], 'outputs': ['z']}]}",
                 &err),
        QUANTA_OK);
    ck_assert_int_eq(g.values[graph_find_value(&g, "x")].last_use, 2);
    ck_assert_int_eq(g.values[graph_find_value(&g, "b")].last_use, 2);
    ck_assert_int_eq(g.values[graph_find_value(&g, "a")].last_use, 3); /* graph output */
    ck_assert_int_eq(g.values[graph_find_value(&g, "z")].last_use, 3);
    ck_assert_int_eq(g.values[graph_find_value(&g, "unused")].last_use, -1);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(every_file_tensor_becomes_a_const_value)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    spec_tensors(&f, QUANTA_F32);
    fx_tensor(&f, "extra", QUANTA_I16, 1, 3);
    ck_assert_int_eq(fx_parse(&g, &f, spec_json, &err), QUANTA_OK);
    int v = graph_find_value(&g, "extra");
    ck_assert_int_ge(v, 0);
    ck_assert_int_eq(g.values[v].kind, GRAPH_VALUE_CONST);
    ck_assert_int_eq(g.values[v].dtype, QUANTA_I16);
    ck_assert_ptr_eq(g.values[v].data, f.tensors[4].data);
    ck_assert_int_eq(graph_find_value(&g, "nope"), -1);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(misaligned_tensor_data_gets_an_aligned_copy)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    spec_tensors(&f, QUANTA_F32);
    /* Move conv1.bias's data one byte off alignment. */
    unsigned char *raw = f.bufs[1];
    float bias[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    memcpy(raw + 1, bias, sizeof bias);
    f.tensors[1].data = raw + 1;
    ck_assert_int_eq(fx_parse(&g, &f, spec_json, &err), QUANTA_OK);
    const struct graph_value *b = &g.values[graph_find_value(&g, "conv1.bias")];
    ck_assert_ptr_nonnull(b->owned);
    ck_assert_ptr_eq(b->data, b->owned);
    ck_assert_uint_eq((uintptr_t)b->data % 4, 0);
    ck_assert_float_eq(((const float *)b->data)[7], 8.0f);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

/* ---- top level ---- */

START_TEST(rejects_wrong_format_and_version)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_parse(&g, NULL, "{'format': 'onnx', 'version': 1}", &err), err,
                    "m.st: \"format\" must be \"quanta.graph\"");
    FX_ASSERT_FAILS(fx_parse(&g, NULL, "{'format': 'quanta.graph', 'version': 2}", &err), err,
                    "m.st: \"version\" must be 1");
    FX_ASSERT_FAILS(fx_parse(&g, NULL, "{'format': 'quanta.graph', 'version': '1'}", &err), err,
                    "\"version\" must be 1");
}
END_TEST

START_TEST(rejects_text_that_is_not_json)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_parse(&g, NULL, "{'format': ", &err), err,
                    "m.st: the graph is not valid JSON");
    FX_ASSERT_FAILS(fx_parse(&g, NULL, "[1, 2]", &err), err, "the graph must be an object");
}
END_TEST

START_TEST(rejects_unknown_top_level_key_but_accepts_quant)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(relu_graph(&g, ", 'author': 'me'", "{'name': 'x', 'shape': [1]}", &err),
                    err, "m.st: unknown key 'author' in the graph");
    ck_assert_int_eq(relu_graph(&g, ", 'quant': {}", "{'name': 'x', 'shape': [1]}", &err),
                     QUANTA_OK);
    ck_assert_ptr_null(g.name); /* "name" is optional */
    graph_free(&g);
}
END_TEST

START_TEST(rejects_duplicate_json_keys)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(relu_graph(&g, ", 'name': 'a', 'name': 'b'", "{'name': 'x', 'shape': [1]}",
                               &err),
                    err, "key 'name' appears twice in the graph");
}
END_TEST

START_TEST(rejects_name_that_is_not_a_string)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(relu_graph(&g, ", 'name': 5", "{'name': 'x', 'shape': [1]}", &err), err,
                    "\"name\" must be a string");
}
END_TEST

START_TEST(rejects_graph_output_that_is_not_a_value)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_parse(&g, NULL,
                             "{" FX_HDR ", 'inputs': [{'name': 'x', 'shape': [1]}], "
                             "'outputs': ['q'], 'nodes': []}",
                             &err),
                    err, "m.st: output 'q' is not a value of the graph");
}
END_TEST

/* ---- inputs ---- */

START_TEST(input_dtype_defaults_to_f32_and_allows_i32_i64)
{
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(relu_graph(&g, "", "{'name': 'x', 'shape': [1]}", &err), QUANTA_OK);
    ck_assert_int_eq(g.values[g.inputs[0].value].dtype, QUANTA_F32);
    ck_assert(!g.inputs[0].has_normalize);
    graph_free(&g);
    ck_assert_int_eq(fx_parse(&g, NULL,
                              "{" FX_HDR ", 'inputs': [{'name': 'a', 'shape': [1], 'dtype': "
                              "'I32'}, {'name': 'b', 'shape': [1], 'dtype': 'I64'}], "
                              "'outputs': ['a'], 'nodes': []}",
                              &err),
                     QUANTA_OK);
    ck_assert_int_eq(g.values[g.inputs[0].value].dtype, QUANTA_I32);
    ck_assert_int_eq(g.values[g.inputs[1].value].dtype, QUANTA_I64);
    graph_free(&g);
}
END_TEST

START_TEST(input_rejects_other_dtypes)
{
    struct graph g;
    struct quanta_error err = {0};
    static const char *const refused[] = {"I4", "X9", ""};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char input[96];
        snprintf(input, sizeof input, "{'name': 'x', 'shape': [1], 'dtype': '%s'}", refused[i]);
        FX_ASSERT_FAILS(relu_graph(&g, "", input, &err), err,
                        "m.st: input 'x': \"dtype\" must be \"F32\", \"F16\", \"BF16\", "
                        "\"F64\", \"U8\", \"I8\", \"U16\", \"I16\", \"BOOL\", \"I32\", "
                        "\"I64\", \"U32\" or \"U64\"");
    }
}
END_TEST

/* A declared U8 or F64 input is a float value; the declaration is kept
 * (graph_input_dtype) and written back. */
START_TEST(input_declared_dtype)
{
    static const char *const names[] = {"U8", "I8", "I16", "F16", "BF16", "F64", "BOOL"};
    static const enum quanta_dtype types[] = {QUANTA_U8,   QUANTA_I8,  QUANTA_I16, QUANTA_F16,
                                              QUANTA_BF16, QUANTA_F64, QUANTA_BOOL};
    for (int i = 0; i < 7; i++) {
        struct graph g;
        struct quanta_error err = {0};
        char in[128], want[64];
        snprintf(in, sizeof in, "{'name': 'x', 'shape': [-1, 3], 'dtype': '%s'}", names[i]);
        ck_assert_int_eq(relu_graph(&g, "", in, &err), QUANTA_OK);
        ck_assert_int_eq(g.values[g.inputs[0].value].dtype, QUANTA_F32);
        ck_assert_int_eq(graph_input_dtype(&g, 0), types[i]);
        char *json = graph_to_json(&g);
        snprintf(want, sizeof want, "\"dtype\": \"%s\"", names[i]);
        ck_assert_ptr_nonnull(strstr(json, want));
        free(json);
        graph_free(&g);
    }
}
END_TEST

START_TEST(input_rejects_integer_dtype_feeding_float_op)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(relu_graph(&g, "", "{'name': 'x', 'shape': [1], 'dtype': 'I32'}", &err),
                    err, "node 'r' (relu): input 'x' has dtype I32 but a float");
}
END_TEST

START_TEST(input_minus_one_only_as_first_dimension)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(relu_graph(&g, "", "{'name': 'x', 'shape': [2, -1]}", &err), err,
                    "m.st: input 'x' has shape [2, -1] but -1 may stand only as the first "
                    "(batch) dimension");
    FX_ASSERT_FAILS(relu_graph(&g, "", "{'name': 'x', 'shape': [0, 3]}", &err), err,
                    "dimensions must be >= 1");
    FX_ASSERT_FAILS(relu_graph(&g, "", "{'name': 'x', 'shape': [1.5]}", &err), err,
                    "input 'x': \"shape\" must be a list of at most 8 integers");
}
END_TEST

START_TEST(normalize_defaults_are_scale_1_mean_0_std_1)
{
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(relu_graph(&g, "", "{'name': 'x', 'shape': [1, 3], 'normalize': {}}", &err),
                     QUANTA_OK);
    const struct quanta_normalize *nz = &g.inputs[0].normalize;
    ck_assert(g.inputs[0].has_normalize);
    ck_assert(nz->scale == 1.0);
    ck_assert_int_eq(nz->n_mean, 1);
    ck_assert_int_eq(nz->n_std, 1);
    ck_assert_float_eq(nz->mean[0], 0.0f);
    ck_assert_float_eq(nz->std[0], 1.0f);
    graph_free(&g);
}
END_TEST

START_TEST(normalize_rejects_zero_std)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(relu_graph(&g, "",
                               "{'name': 'x', 'shape': [1, 3], 'normalize': "
                               "{'std': [1, 0, 2]}}",
                               &err),
                    err, "m.st: input 'x': normalize std[1] is 0");
}
END_TEST

START_TEST(normalize_lists_have_one_entry_or_one_per_channel)
{
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(relu_graph(&g, "",
                                "{'name': 'x', 'shape': [1, 3], 'normalize': "
                                "{'mean': [0.5, 0.25, 0.125], 'std': [2]}}",
                                &err),
                     QUANTA_OK);
    ck_assert_int_eq(g.inputs[0].normalize.n_mean, 3);
    ck_assert_float_eq(g.inputs[0].normalize.mean[2], 0.125f);
    graph_free(&g);
    FX_ASSERT_FAILS(relu_graph(&g, "",
                               "{'name': 'x', 'shape': [1, 3], 'normalize': {'mean': [0, 0]}}",
                               &err),
                    err, "normalize mean has 2 entries but 1 or 3 (the last dimension)");
    FX_ASSERT_FAILS(relu_graph(&g, "",
                               "{'name': 'x', 'shape': [1, 3], 'normalize': {'offset': 1}}",
                               &err),
                    err, "unknown key 'offset' in normalize");
}
END_TEST

/* ---- nodes ---- */

START_TEST(rejects_unknown_op_naming_the_node)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1]",
                            "{'op': 'swish9', 'name': 'act', 'inputs': ['x'], 'outputs': ['y']}",
                            &err),
                    err, "m.st: node 'act': unknown op 'swish9'");
}
END_TEST

START_TEST(rejects_unknown_attr_for_the_op)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1, 4, 4, 1]",
                            "{'op': 'max_pool2d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'],"
                            " 'attrs': {'kernel': [2, 2], 'groups': 1}}",
                            &err),
                    err, "m.st: node 'p' (max_pool2d): unknown attr 'groups'");
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1]",
                            "{'op': 'relu', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'],"
                            " 'attrs': {'activation': 'relu'}}",
                            &err),
                    err, "node 'r' (relu): unknown attr 'activation'");
}
END_TEST

START_TEST(rejects_attr_of_wrong_type_or_length)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1, 4, 4, 1]",
                            "{'op': 'max_pool2d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'],"
                            " 'attrs': {'kernel': [2, 2, 2]}}",
                            &err),
                    err, "node 'p' (max_pool2d): attr 'kernel' must be a list of 2 integers");
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1, 4, 4, 1]",
                            "{'op': 'avg_pool2d', 'name': 'p', 'inputs': ['x'], 'outputs': ['y'],"
                            " 'attrs': {'kernel': [2, 2], 'pads': [0, 0, 0]}}",
                            &err),
                    err, "attr 'pads' must be a list of 4 integers");
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1, 4]",
                            "{'op': 'softmax', 'name': 's', 'inputs': ['x'], 'outputs': ['y'],"
                            " 'attrs': {'axis': 1.5}}",
                            &err),
                    err, "attr 'axis' must be an integer");
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1, 4]",
                            "{'op': 'leaky_relu', 'name': 'l', 'inputs': ['x'], 'outputs': ['y'],"
                            " 'attrs': {'alpha': '0.1'}}",
                            &err),
                    err, "attr 'alpha' must be a number");
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1, 4]",
                            "{'op': 'mean', 'name': 'm', 'inputs': ['x'], 'outputs': ['y'],"
                            " 'attrs': {'axes': [1], 'keepdims': 1}}",
                            &err),
                    err, "attr 'keepdims' must be true or false");
}
END_TEST

START_TEST(activation_must_be_none_relu_or_relu6)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1, 4]",
                            "{'op': 'add', 'name': 'a', 'inputs': ['x', 'x'], 'outputs': ['y'],"
                            " 'attrs': {'activation': 'gelu'}}",
                            &err),
                    err, "node 'a' (add): attr 'activation' must be \"none\", \"relu\" or "
                         "\"relu6\"");
}
END_TEST

START_TEST(reshape_rejects_missing_shape)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1, 4]",
                            "{'op': 'reshape', 'name': 'r', 'inputs': ['x'], 'outputs': ['y']}",
                            &err),
                    err, "m.st: node 'r' (reshape): attr 'shape' is required");
}
END_TEST

START_TEST(rejects_input_not_defined_before_the_node)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1]",
                            "{'op': 'add', 'name': 'x2', 'inputs': ['x', 'z'], 'outputs': ['y']},"
                            "{'op': 'relu', 'name': 'r', 'inputs': ['x'], 'outputs': ['z']}",
                            &err),
                    err, "m.st: node 'x2' (add): input 'z' is not defined before it (nodes must "
                         "be in topological order)");
    /* a node reading its own output (a cycle) */
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1]",
                            "{'op': 'add', 'name': 'n', 'inputs': ['x', 'y'], 'outputs': ['y']}",
                            &err),
                    err, "node 'n' (add): input 'y' is not defined before it");
}
END_TEST

START_TEST(rejects_duplicate_value_names)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    fx_init(&f);
    fx_tensor(&f, "x", QUANTA_F32, 1, 1);
    fx_tensor(&f, "w", QUANTA_F32, 1, 1);
    FX_ASSERT_FAILS(fx_node(&g, &f, "[1]",
                            "{'op': 'relu', 'name': 'r', 'inputs': ['x'], 'outputs': ['y']}",
                            &err),
                    err, "m.st: value name 'x' is defined twice");
    f.tensors[0].name = "t";
    FX_ASSERT_FAILS(fx_node(&g, &f, "[1]",
                            "{'op': 'relu', 'name': 'r', 'inputs': ['x'], 'outputs': ['w']}",
                            &err),
                    err, "node 'r' (relu): output 'w' is already defined");
    FX_ASSERT_FAILS(fx_node(&g, &f, "[1]",
                            "{'op': 'relu', 'name': 'r', 'inputs': ['x'], 'outputs': ['y']},"
                            "{'op': 'relu', 'name': 's', 'inputs': ['x'], 'outputs': ['y']}",
                            &err),
                    err, "node 's' (relu): output 'y' is already defined");
    fx_free(&f);
}
END_TEST

START_TEST(rejects_duplicate_node_names)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1]",
                            "{'op': 'relu', 'name': 'r', 'inputs': ['x'], 'outputs': ['a']},"
                            "{'op': 'relu', 'name': 'r', 'inputs': ['a'], 'outputs': ['y']}",
                            &err),
                    err, "node name 'r' is used twice");
}
END_TEST

START_TEST(rejects_node_with_unknown_key_or_two_outputs)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1]",
                            "{'op': 'relu', 'name': 'r', 'inputs': ['x'], 'outputs': ['y'], "
                            "'domain': 'ai'}",
                            &err),
                    err, "m.st: node 0: unknown key 'domain' in a node");
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1]",
                            "{'op': 'relu', 'name': 'r', 'inputs': ['x'], 'outputs': ['y', 'z']}",
                            &err),
                    err, "node 'r' (relu): has 2 outputs but 1 is needed");
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1]",
                            "{'op': 'relu', 'name': 'r', 'inputs': ['x', 'x'], 'outputs': ['y']}",
                            &err),
                    err, "node 'r' (relu): has 2 inputs but 1 are needed");
    /* a residual input is the optimizer's own (graph_optimize.h) */
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1, 2]",
                            "{'op': 'dense', 'name': 'd', 'inputs': ['x', 'x', 'x', 'x'], "
                            "'outputs': ['y']}",
                            &err),
                    err, "node 'd' (dense): has 4 inputs but 2 to 3 are needed (a fourth, the "
                         "residual, is made by the optimizer, never read from a file)");
}
END_TEST

/* ---- dtypes of weights and values ---- */

START_TEST(float_model_accepts_f16_and_bf16_weights)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    spec_tensors(&f, QUANTA_F16);
    f.tensors[1].dtype = QUANTA_BF16;
    ck_assert_msg(fx_parse(&g, &f, spec_json, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(g.values[graph_find_value(&g, "conv1.weight")].dtype, QUANTA_F16);
    ck_assert_int_eq(g.values[graph_find_value(&g, "logits")].dtype, QUANTA_F32);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(float_model_rejects_int8_weights_without_quant)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    spec_tensors(&f, QUANTA_I8);
    FX_ASSERT_FAILS(fx_parse(&g, &f, spec_json, &err), err,
                    "m.st: node 'conv1' (conv2d): weight 'conv1.weight' has dtype I8 but F32, "
                    "F16 or BF16 is needed (or I8, U8 with a quant entry)");
    f.tensors[0].dtype = QUANTA_F32;
    f.tensors[1].dtype = QUANTA_I32;
    FX_ASSERT_FAILS(fx_parse(&g, &f, spec_json, &err), err,
                    "bias 'conv1.bias' has dtype I32 but F32, F16 or BF16 is needed (or I32 "
                    "with a quant entry)");
    fx_free(&f);
}
END_TEST

/* ---- quant ---- */

/* Weight-only model: I8 weights per channel (conv) and per tensor (fc). */
static const char spec_quant[] =
    ", 'quant': {"
    " 'conv1.weight': {'dtype': 'I8', 'axis': 0, 'scale': 'cs', 'zero_point': 'cz'},"
    " 'fc.weight': {'dtype': 'I8', 'scale': 0.5, 'zero_point': -3}}}";

static char *spec_with(const char *tail)
{
    static char buf[4096];
    snprintf(buf, sizeof buf, "%.*s%s", (int)strlen(spec_json) - 1, spec_json, tail);
    return buf;
}

static void quant_tensors(struct fixture *f)
{
    spec_tensors(f, QUANTA_I8);
    float *cs = fx_tensor(f, "cs", QUANTA_F32, 1, 8);
    int32_t *cz = fx_tensor(f, "cz", QUANTA_I32, 1, 8);
    for (int i = 0; i < 8; i++) {
        cs[i] = 0.125f * (float)(i + 1);
        cz[i] = i - 4;
    }
}

START_TEST(quant_parses_per_tensor_and_per_channel_params)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    quant_tensors(&f);
    ck_assert_msg(fx_parse(&g, &f, spec_with(spec_quant), &err) == QUANTA_OK, "%s", err.message);
    const struct graph_quant *cq = &g.values[graph_find_value(&g, "conv1.weight")].quant;
    ck_assert_int_eq(cq->dtype, QUANTA_I8);
    ck_assert_int_eq(cq->axis, 0);
    ck_assert_int_eq(cq->n, 8);
    ck_assert_ptr_eq(cq->scales, f.tensors[4].data);
    ck_assert_ptr_eq(cq->zero_points, f.tensors[5].data);
    ck_assert_float_eq(cq->scales[7], 1.0f);
    ck_assert_int_eq(cq->zero_points[0], -4);
    const struct graph_quant *fq = &g.values[graph_find_value(&g, "fc.weight")].quant;
    ck_assert_int_eq(fq->axis, -1);
    ck_assert_int_eq(fq->n, 1);
    ck_assert_float_eq(fq->scales[0], 0.5f);
    ck_assert_int_eq(fq->zero_points[0], -3);
    ck_assert_int_eq(g.values[graph_find_value(&g, "conv1.bias")].quant.dtype,
                     QUANTA_DTYPE_INVALID);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

/* The optimizer drops a node nothing reads; the tensors holding a kept
 * weight's per-channel scales and zero points stay (they were dropped as
 * unused, and the optimized graph failed its own validation). */
START_TEST(quant_tensors_survive_dropped_nodes)
{
    struct fixture f;
    struct graph g, opt;
    struct quanta_error err = {0};
    quant_tensors(&f);
    char json[4096];
    snprintf(json, sizeof json, "%.*s, {'op': 'relu', 'name': 'unread', 'inputs': ['conv1.out'], "
             "'outputs': ['unread.out']}]%s", (int)(strlen(spec_json) - 2), spec_json,
             spec_quant);
    ck_assert_msg(fx_parse(&g, &f, json, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(g.n_nodes, 5);
    ck_assert_msg(graph_optimize(&g, NULL, &opt, NULL, "test", &err) == QUANTA_OK, "%s",
                  err.message);
    ck_assert_int_lt(graph_find_value(&opt, "unread.out"), 0);
    int cs = graph_find_value(&opt, "cs"), cz = graph_find_value(&opt, "cz");
    ck_assert_int_ge(cs, 0);
    ck_assert_int_ge(cz, 0);
    const struct graph_quant *q = &opt.values[graph_find_value(&opt, "conv1.weight")].quant;
    ck_assert_ptr_eq(q->scales, opt.values[cs].data);
    ck_assert_ptr_eq(q->zero_points, opt.values[cz].data);
    graph_free(&opt);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(quant_rejects_scale_not_positive)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    quant_tensors(&f);
    ((float *)f.bufs[4])[3] = 0;
    FX_ASSERT_FAILS(fx_parse(&g, &f, spec_with(spec_quant), &err), err,
                    "m.st: quant of 'conv1.weight': scale 0 (channel 3) must be finite and > 0");
    ((float *)f.bufs[4])[3] = 1;
    FX_ASSERT_FAILS(fx_parse(&g, &f,
                             spec_with(", 'quant': {'fc.weight': {'dtype': 'I8', 'scale': -1, "
                                       "'zero_point': 0}}}"),
                             &err),
                    err, "quant of 'fc.weight': scale -1 (channel 0) must be finite and > 0");
    fx_free(&f);
}
END_TEST

START_TEST(quant_rejects_zero_point_outside_dtype_range)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    quant_tensors(&f);
    FX_ASSERT_FAILS(fx_parse(&g, &f,
                             spec_with(", 'quant': {'fc.weight': {'dtype': 'I8', 'scale': 1, "
                                       "'zero_point': 128}}}"),
                             &err),
                    err, "quant of 'fc.weight': zero_point 128 (channel 0) is outside the I8 "
                         "range [-128, 127]");
    f.tensors[2].dtype = QUANTA_U8;
    FX_ASSERT_FAILS(fx_parse(&g, &f,
                             spec_with(", 'quant': {'fc.weight': {'dtype': 'U8', 'scale': 1, "
                                       "'zero_point': -1}}}"),
                             &err),
                    err, "outside the U8 range [0, 255]");
    fx_free(&f);
}
END_TEST

START_TEST(quant_rejects_stored_dtype_differing_from_quant_dtype)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    quant_tensors(&f);
    FX_ASSERT_FAILS(fx_parse(&g, &f,
                             spec_with(", 'quant': {'fc.weight': {'dtype': 'U8', 'scale': 1, "
                                       "'zero_point': 0}}}"),
                             &err),
                    err, "m.st: tensor 'fc.weight' is stored as I8 but its quant dtype is U8");
    fx_free(&f);
}
END_TEST

START_TEST(quant_rejects_per_channel_length_not_matching_axis)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    quant_tensors(&f);
    fx_tensor(&f, "s10", QUANTA_F32, 1, 10);
    FX_ASSERT_FAILS(fx_parse(&g, &f,
                             spec_with(", 'quant': {'conv1.weight': {'dtype': 'I8', 'axis': 0, "
                                       "'scale': 's10', 'zero_point': 'cz'}}}"),
                             &err),
                    err, "quant of 'conv1.weight': 10 parameters but axis 0 has 8 entries");
    FX_ASSERT_FAILS(fx_parse(&g, &f,
                             spec_with(", 'quant': {'conv1.weight': {'dtype': 'I8', 'axis': 0, "
                                       "'scale': 'cs', 'zero_point': 'cs'}}}"),
                             &err),
                    err, "zero_point tensor 'cs' is F32 [8] but I32 [8] is needed");
    fx_free(&f);
}
END_TEST

START_TEST(quant_rejects_unknown_value_and_graph_input)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    quant_tensors(&f);
    FX_ASSERT_FAILS(fx_parse(&g, &f,
                             spec_with(", 'quant': {'ghost': {'dtype': 'I8', 'scale': 1, "
                                       "'zero_point': 0}}}"),
                             &err),
                    err, "m.st: quant of 'ghost': 'ghost' is not a value of the graph");
    FX_ASSERT_FAILS(fx_parse(&g, &f,
                             spec_with(", 'quant': {'image': {'dtype': 'I8', 'scale': 1, "
                                       "'zero_point': 0}}}"),
                             &err),
                    err, "input 'image' cannot have a quant entry");
    FX_ASSERT_FAILS(fx_parse(&g, &f,
                             spec_with(", 'quant': {'fc.weight': {'dtype': 'I8', 'scale': 1, "
                                       "'zero_point': 0, 'bits': 8}}}"),
                             &err),
                    err, "unknown key 'bits' in a quant entry");
    fx_free(&f);
}
END_TEST

START_TEST(quantized_node_output_takes_the_quant_dtype)
{
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_msg(
        fx_parse(&g, NULL,
                 "{" FX_HDR ", 'inputs': [{'name': 'x', 'shape': [-1, 4]}], 'outputs': ['z'], "
                 "'nodes': [{'op': 'quantize', 'name': 'q', 'inputs': ['x'], 'outputs': ['xq']},"
                 "{'op': 'relu', 'name': 'r', 'inputs': ['xq'], 'outputs': ['yq']},"
                 "{'op': 'dequantize', 'name': 'd', 'inputs': ['yq'], 'outputs': ['z']}],"
                 "'quant': {'xq': {'dtype': 'U8', 'scale': 0.25, 'zero_point': 128},"
                 " 'yq': {'dtype': 'I8', 'scale': 0.5, 'zero_point': -128}}}",
                 &err) == QUANTA_OK,
        "%s", err.message);
    ck_assert_int_eq(g.values[graph_find_value(&g, "xq")].dtype, QUANTA_U8);
    ck_assert_int_eq(g.values[graph_find_value(&g, "yq")].dtype, QUANTA_I8);
    ck_assert_int_eq(g.values[graph_find_value(&g, "z")].dtype, QUANTA_F32);
    ck_assert_str_eq(fx_shape(&g, "z"), "[-1, 4]");
    graph_free(&g);
}
END_TEST

START_TEST(quantize_needs_quantized_output_and_dequantize_quantized_input)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1]",
                            "{'op': 'quantize', 'name': 'q', 'inputs': ['x'], 'outputs': ['y']}",
                            &err),
                    err, "node 'q' (quantize): output 'y' needs a quant entry of dtype I8 or U8");
    FX_ASSERT_FAILS(fx_node(&g, NULL, "[1]",
                            "{'op': 'dequantize', 'name': 'd', 'inputs': ['x'], 'outputs': ['y']}",
                            &err),
                    err, "node 'd' (dequantize): input 'x' is not quantized to I8 or U8");
}
END_TEST

START_TEST(quant_i32_only_for_tensors)
{
    struct graph g;
    struct quanta_error err = {0};
    FX_ASSERT_FAILS(fx_parse(&g, NULL,
                             "{" FX_HDR ", 'inputs': [{'name': 'x', 'shape': [1]}], "
                             "'outputs': ['y'], 'nodes': [{'op': 'quantize', 'name': 'q', "
                             "'inputs': ['x'], 'outputs': ['y']}], 'quant': {'y': {'dtype': "
                             "'I32', 'scale': 1, 'zero_point': 0}}}",
                             &err),
                    err, "quant of 'y': dtype I32 is for bias tensors only");
}
END_TEST

/* ---- graph_to_json ---- */

START_TEST(to_json_round_trips_to_identical_text)
{
    struct fixture f;
    struct graph g, g2;
    struct quanta_error err = {0};
    quant_tensors(&f);
    ck_assert_int_eq(fx_parse(&g, &f, spec_with(spec_quant), &err), QUANTA_OK);
    char *j1 = graph_to_json(&g);
    ck_assert_ptr_nonnull(j1);
    ck_assert_msg(graph_parse(&g2, j1, &f.file, "again", &err) == QUANTA_OK, "%s\n%s",
                  err.message, j1);
    char *j2 = graph_to_json(&g2);
    ck_assert_str_eq(j1, j2);
    /* same graph, same bytes */
    char *j3 = graph_to_json(&g);
    ck_assert_str_eq(j1, j3);
    ck_assert(g2.inputs[0].normalize.scale == 0.00392156862745098);
    ck_assert_int_eq(g2.values[graph_find_value(&g2, "conv1.weight")].quant.n, 8);
    free(j1);
    free(j2);
    free(j3);
    graph_free(&g);
    graph_free(&g2);
    fx_free(&f);
}
END_TEST

START_TEST(to_json_writes_keys_in_stable_order_and_every_attr)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    quant_tensors(&f);
    ck_assert_int_eq(fx_parse(&g, &f, spec_with(spec_quant), &err), QUANTA_OK);
    char *j = graph_to_json(&g);
    const char *keys[] = {"\"format\": \"quanta.graph\"", "\"version\": 1",
                          "\"name\": \"fmnist-cnn\"", "\"inputs\"", "\"outputs\"", "\"nodes\"",
                          "\"quant\""};
    const char *prev = j;
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *at = strstr(j, keys[i]);
        ck_assert_msg(at && at >= prev, "'%s' missing or out of order in %s", keys[i], j);
        prev = at;
    }
    /* conv1 gets every conv2d attr, defaults included */
    ck_assert_ptr_nonnull(strstr(j, "\"attrs\": {\"strides\": [1, 1], \"pads\": [0, 0, 0, 0], "
                                    "\"dilations\": [1, 1], \"groups\": 1, "
                                    "\"activation\": \"relu\"}"));
    /* flatten has none; dense only activation */
    ck_assert_ptr_nonnull(strstr(j, "\"outputs\": [\"flat.out\"], \"attrs\": {}"));
    ck_assert_ptr_nonnull(strstr(j, "\"outputs\": [\"logits\"], \"attrs\": "
                                    "{\"activation\": \"none\"}"));
    ck_assert_ptr_nonnull(strstr(j, "\"conv1.weight\": {\"dtype\": \"I8\", \"axis\": 0, "
                                    "\"scale\": \"cs\", \"zero_point\": \"cz\"}"));
    free(j);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

START_TEST(to_json_floats_read_back_to_the_same_float)
{
    struct graph g, g2;
    struct quanta_error err = {0};
    ck_assert_int_eq(fx_node(&g, NULL, "[2, 3]",
                             "{'op': 'leaky_relu', 'name': 'l', 'inputs': ['x'], 'outputs': ['y'],"
                             " 'attrs': {'alpha': 0.1}}",
                             &err),
                     QUANTA_OK);
    /* a float that needs all 9 significant digits */
    g.nodes[0].attrs.alpha = nextafterf(0.1f, 1.0f);
    char *j = graph_to_json(&g);
    ck_assert_int_eq(graph_parse(&g2, j, NULL, "j", &err), QUANTA_OK);
    ck_assert(memcmp(&g2.nodes[0].attrs.alpha, &g.nodes[0].attrs.alpha, sizeof(float)) == 0);
    ck_assert(g2.nodes[0].attrs.alpha != 0.1f);
    free(j);
    graph_free(&g);
    graph_free(&g2);
}
END_TEST

START_TEST(to_json_escapes_names)
{
    struct graph g, g2;
    struct quanta_error err = {0};
    ck_assert_int_eq(graph_parse(&g,
                                 "{\"format\": \"quanta.graph\", \"version\": 1, \"name\": "
                                 "\"a\\\"b\\\\c\\u0001\", \"inputs\": [{\"name\": \"x\", "
                                 "\"shape\": [1]}], \"outputs\": [\"x\"], \"nodes\": []}",
                                 NULL, "j", &err),
                     QUANTA_OK);
    ck_assert_str_eq(g.name, "a\"b\\c\x01");
    char *j = graph_to_json(&g);
    ck_assert_int_eq(graph_parse(&g2, j, NULL, "j", &err), QUANTA_OK);
    ck_assert_str_eq(g2.name, g.name);
    free(j);
    graph_free(&g);
    graph_free(&g2);
}
END_TEST

/* ---- building in code ---- */

START_TEST(built_graph_validates_and_infers_shapes)
{
    struct graph g = {0};
    struct quanta_error err = {0};
    static const float w[6 * 4] = {0};
    struct quanta_shape xs = {.rank = 2, .dims = {-1, 4}};
    struct quanta_shape ws = {.rank = 2, .dims = {6, 4}};
    int x = graph_add_value(&g, "x", GRAPH_VALUE_INPUT, QUANTA_F32, &xs);
    int wv = graph_add_value(&g, "w", GRAPH_VALUE_CONST, QUANTA_F32, &ws);
    int h = graph_add_value(&g, "h", GRAPH_VALUE_NODE, QUANTA_F32, NULL);
    int y = graph_add_value(&g, "y", GRAPH_VALUE_NODE, QUANTA_F32, NULL);
    ck_assert_int_eq(x, 0);
    ck_assert_int_eq(y, 3);
    g.values[wv].data = w;
    g.inputs = calloc(1, sizeof *g.inputs);
    g.inputs[0].value = x;
    g.n_inputs = 1;
    g.outputs = calloc(1, sizeof *g.outputs);
    g.outputs[0] = y;
    g.n_outputs = 1;
    int in0[] = {x, wv}, out0[] = {h};
    int in1[] = {h}, out1[] = {y};
    ck_assert_int_eq(graph_add_node(&g, GRAPH_OP_DENSE, "fc", in0, 2, out0, 1), 0);
    ck_assert_int_eq(graph_add_node(&g, GRAPH_OP_MAX_POOL2D, "p", in1, 1, out1, 1), 1);
    ck_assert_int_eq(g.nodes[1].attrs.groups, 1);
    /* the pool's kernel is required and still unset */
    FX_ASSERT_FAILS(graph_validate(&g, "built", &err), err,
                    "built: node 'p' (max_pool2d): attr 'kernel' is required");
    g.nodes[1].op = GRAPH_OP_SOFTMAX;
    ck_assert_msg(graph_validate(&g, "built", &err) == QUANTA_OK, "%s", err.message);
    ck_assert_str_eq(fx_shape(&g, "h"), "[-1, 6]");
    ck_assert_str_eq(fx_shape(&g, "y"), "[-1, 6]");
    ck_assert_int_eq(g.nodes[0].n_inputs, 3);
    ck_assert_int_eq(g.nodes[0].inputs[2], -1);
    ck_assert_int_eq(g.values[h].producer, 0);
    ck_assert_int_eq(g.values[h].last_use, 1);
    ck_assert_int_eq(g.values[y].last_use, 2);
    struct quanta_shape s = graph_value_shape(&g, y, 5);
    ck_assert_int_eq(s.dims[0], 5);
    ck_assert_int_eq(s.dims[1], 6);
    /* edit: a node that reads a later value is out of order */
    g.nodes[0].inputs[0] = y;
    FX_ASSERT_FAILS(graph_validate(&g, "built", &err), err,
                    "built: node 'fc' (dense): input 'y' is not defined before it");
    graph_free(&g);
    ck_assert_int_eq(g.n_values, 0);
}
END_TEST

START_TEST(validate_rejects_activation_on_other_ops)
{
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(fx_node(&g, NULL, "[2]",
                             "{'op': 'tanh', 'name': 't', 'inputs': ['x'], 'outputs': ['y']}",
                             &err),
                     QUANTA_OK);
    g.nodes[0].attrs.activation = GRAPH_ACT_RELU;
    FX_ASSERT_FAILS(graph_validate(&g, "e", &err), err,
                    "e: node 't' (tanh): attr 'activation' applies only to conv2d, conv3d, "
                    "dense, add and mul");
    graph_free(&g);
}
END_TEST

START_TEST(per_tensor_quant_survives_values_array_growth)
{
    struct graph g;
    struct quanta_error err = {0};
    ck_assert_int_eq(
        fx_parse(&g, NULL,
                 "{" FX_HDR ", 'inputs': [{'name': 'x', 'shape': [1]}], 'outputs': ['y'], "
                 "'nodes': [{'op': 'quantize', 'name': 'q', 'inputs': ['x'], 'outputs': ['y']}],"
                 " 'quant': {'y': {'dtype': 'I8', 'scale': 0.75, 'zero_point': 5}}}",
                 &err),
        QUANTA_OK);
    for (int i = 0; i < 100; i++) {
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        ck_assert_int_ge(graph_add_value(&g, name, GRAPH_VALUE_NODE, QUANTA_F32, NULL), 0);
    }
    const struct graph_quant *q = &g.values[graph_find_value(&g, "y")].quant;
    ck_assert_ptr_eq(q->scales, &q->scale);
    ck_assert_float_eq(q->scales[0], 0.75f);
    ck_assert_int_eq(q->zero_points[0], 5);
    graph_free(&g);
}
END_TEST

START_TEST(op_and_activation_names_round_trip)
{
    for (int op = 0; op < GRAPH_OP_COUNT; op++)
        ck_assert_int_eq(graph_op_parse(graph_op_name((enum graph_op)op)), op);
    ck_assert_int_eq(graph_op_parse("Conv2d"), GRAPH_OP_COUNT);
    ck_assert_str_eq(graph_op_name(GRAPH_OP_GLOBAL_AVG_POOL), "global_avg_pool");
    ck_assert_str_eq(graph_activation_name(GRAPH_ACT_RELU6), "relu6");
}
END_TEST

START_TEST(load_without_graph_metadata_fails)
{
    struct fixture f;
    struct graph g;
    struct quanta_error err = {0};
    fx_init(&f);
    fx_tensor(&f, "w", QUANTA_F32, 1, 1);
    FX_ASSERT_FAILS(graph_load(&g, &f.file, &err), err, "m.st: has no graph");
    f.meta[0] = (struct st_meta){"quanta.graph", "{\"format\": \"quanta.graph\", \"version\": 1, "
                                                 "\"inputs\": [], \"outputs\": [\"w\"], "
                                                 "\"nodes\": []}"};
    f.file.n_meta = 1;
    ck_assert_msg(graph_load(&g, &f.file, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(g.n_values, 1);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

Suite *suite_graph(void);
Suite *suite_graph(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, parse_reads_the_spec_example);
    tcase_add_test(tc, last_use_is_last_reading_node_and_outputs_never_end);
    tcase_add_test(tc, every_file_tensor_becomes_a_const_value);
    tcase_add_test(tc, misaligned_tensor_data_gets_an_aligned_copy);
    tcase_add_test(tc, rejects_wrong_format_and_version);
    tcase_add_test(tc, rejects_text_that_is_not_json);
    tcase_add_test(tc, rejects_unknown_top_level_key_but_accepts_quant);
    tcase_add_test(tc, rejects_duplicate_json_keys);
    tcase_add_test(tc, rejects_name_that_is_not_a_string);
    tcase_add_test(tc, rejects_graph_output_that_is_not_a_value);
    tcase_add_test(tc, input_dtype_defaults_to_f32_and_allows_i32_i64);
    tcase_add_test(tc, input_rejects_other_dtypes);
    tcase_add_test(tc, input_declared_dtype);
    tcase_add_test(tc, input_rejects_integer_dtype_feeding_float_op);
    tcase_add_test(tc, input_minus_one_only_as_first_dimension);
    tcase_add_test(tc, normalize_defaults_are_scale_1_mean_0_std_1);
    tcase_add_test(tc, normalize_rejects_zero_std);
    tcase_add_test(tc, normalize_lists_have_one_entry_or_one_per_channel);
    tcase_add_test(tc, rejects_unknown_op_naming_the_node);
    tcase_add_test(tc, rejects_unknown_attr_for_the_op);
    tcase_add_test(tc, rejects_attr_of_wrong_type_or_length);
    tcase_add_test(tc, activation_must_be_none_relu_or_relu6);
    tcase_add_test(tc, reshape_rejects_missing_shape);
    tcase_add_test(tc, rejects_input_not_defined_before_the_node);
    tcase_add_test(tc, rejects_duplicate_value_names);
    tcase_add_test(tc, rejects_duplicate_node_names);
    tcase_add_test(tc, rejects_node_with_unknown_key_or_two_outputs);
    tcase_add_test(tc, float_model_accepts_f16_and_bf16_weights);
    tcase_add_test(tc, float_model_rejects_int8_weights_without_quant);
    suite_add_tcase(s, tc);

    tc = tcase_create("quant");
    tcase_add_test(tc, quant_parses_per_tensor_and_per_channel_params);
    tcase_add_test(tc, quant_tensors_survive_dropped_nodes);
    tcase_add_test(tc, quant_rejects_scale_not_positive);
    tcase_add_test(tc, quant_rejects_zero_point_outside_dtype_range);
    tcase_add_test(tc, quant_rejects_stored_dtype_differing_from_quant_dtype);
    tcase_add_test(tc, quant_rejects_per_channel_length_not_matching_axis);
    tcase_add_test(tc, quant_rejects_unknown_value_and_graph_input);
    tcase_add_test(tc, quantized_node_output_takes_the_quant_dtype);
    tcase_add_test(tc, quantize_needs_quantized_output_and_dequantize_quantized_input);
    tcase_add_test(tc, quant_i32_only_for_tensors);
    suite_add_tcase(s, tc);

    tc = tcase_create("json_build");
    tcase_add_test(tc, to_json_round_trips_to_identical_text);
    tcase_add_test(tc, to_json_writes_keys_in_stable_order_and_every_attr);
    tcase_add_test(tc, to_json_floats_read_back_to_the_same_float);
    tcase_add_test(tc, to_json_escapes_names);
    tcase_add_test(tc, built_graph_validates_and_infers_shapes);
    tcase_add_test(tc, validate_rejects_activation_on_other_ops);
    tcase_add_test(tc, per_tensor_quant_survives_values_array_growth);
    tcase_add_test(tc, op_and_activation_names_round_trip);
    tcase_add_test(tc, load_without_graph_metadata_fails);
    suite_add_tcase(s, tc);
    return s;
}

/* Graphs in model files: model_open over files written with st_write_file,
 * and graph_save (tensor selection and order, metadata order). */
#include <check.h>
#include "quanta/safetensors.h"
#include "support/test_support.h"
#include "unit/graph_fixture.h"

static const char graph_json[] =
    "{'format': 'quanta.graph', 'version': 1, 'name': 'tiny',"
    " 'inputs': [{'name': 'x', 'shape': [-1, 4, 4, 1]}], 'outputs': ['y'],"
    " 'nodes': ["
    "  {'op': 'conv2d', 'name': 'c', 'inputs': ['x', 'cw', 'cb'], 'outputs': ['h'],"
    "   'attrs': {'activation': 'relu'}},"
    "  {'op': 'flatten', 'name': 'f', 'inputs': ['h'], 'outputs': ['hf']},"
    "  {'op': 'dense', 'name': 'd', 'inputs': ['hf', 'dw'], 'outputs': ['y']}]%s}";

static float cw[2 * 3 * 3 * 1], cb[2], dw[3 * 8], spare[5];

/* Writes the tiny model (with an extra unused tensor "spare") to path. */
static void write_tiny(const char *path, const char *quant_tail, bool with_graph)
{
    char raw[4096];
    struct quanta_error err = {0};
    for (int i = 0; i < 2; i++)
        cb[i] = 0.5f + (float)i;
    for (int i = 0; i < 24; i++)
        dw[i] = (float)i;
    snprintf(raw, sizeof raw, graph_json, quant_tail);
    char *json = fx_json(raw);
    struct st_tensor_desc t[] = {
        {"cw", QUANTA_F32, {4, {2, 3, 3, 1}}, cw},
        {"spare", QUANTA_F32, {1, {5}}, spare},
        {"cb", QUANTA_F32, {1, {2}}, cb},
        {"dw", QUANTA_F32, {2, {3, 8}}, dw},
    };
    struct st_meta meta[] = {{"quanta.graph", json}};
    ck_assert_msg(st_write_file(path, t, 4, meta, with_graph ? 1 : 0, &err) == QUANTA_OK, "%s",
                  err.message);
    free(json);
}

START_TEST(model_open_loads_the_graph_of_a_file)
{
    struct model m;
    struct quanta_error err = {0};
    const char *path = strdup(ts_tmp_path("tiny.safetensors"));
    write_tiny(path, "", true);
    ck_assert_msg(model_open(&m, path, &err) == QUANTA_OK, "%s", err.message);
    ck_assert(m.has_graph);
    ck_assert_str_eq(m.graph.name, "tiny");
    ck_assert_str_eq(fx_shape(&m.graph, "h"), "[-1, 2, 2, 2]");
    ck_assert_str_eq(fx_shape(&m.graph, "y"), "[-1, 3]");
    const struct graph_value *b = &m.graph.values[graph_find_value(&m.graph, "cb")];
    ck_assert_int_eq(b->kind, GRAPH_VALUE_CONST);
    ck_assert_float_eq(((const float *)b->data)[1], 1.5f);
    const struct graph_value *w = &m.graph.values[graph_find_value(&m.graph, "dw")];
    ck_assert_float_eq(((const float *)w->data)[23], 23.0f);
    ck_assert_int_ge(graph_find_value(&m.graph, "spare"), 0);
    model_close(&m);
    free((void *)path);
}
END_TEST

START_TEST(model_open_without_graph_is_a_bag_of_tensors)
{
    struct model m;
    struct quanta_error err = {0};
    const char *path = strdup(ts_tmp_path("bag.safetensors"));
    write_tiny(path, "", false);
    ck_assert_msg(model_open(&m, path, &err) == QUANTA_OK, "%s", err.message);
    ck_assert(!m.has_graph);
    ck_assert_uint_eq(m.file.n_tensors, 4);
    ck_assert_int_eq(m.graph.n_values, 0);
    model_close(&m);
    free((void *)path);
}
END_TEST

START_TEST(model_open_rejects_a_bad_graph_naming_file_and_node)
{
    struct model m;
    struct quanta_error err = {0};
    const char *path = strdup(ts_tmp_path("bad.safetensors"));
    cw[0] = 0;
    write_tiny(path, "", true);
    /* rewrite with a conv weight of the wrong channel count */
    char raw[4096];
    snprintf(raw, sizeof raw, graph_json, "");
    char *json = fx_json(raw);
    struct st_tensor_desc t[] = {
        {"cw", QUANTA_F32, {4, {2, 3, 3, 1}}, cw},
        {"cb", QUANTA_F32, {1, {3}}, dw},
        {"dw", QUANTA_F32, {2, {3, 8}}, dw},
    };
    struct st_meta meta[] = {{"quanta.graph", json}};
    ck_assert_int_eq(st_write_file(path, t, 3, meta, 1, &err), QUANTA_OK);
    free(json);
    ck_assert_int_eq(model_open(&m, path, &err), QUANTA_ERR_INPUT);
    char want[1200];
    snprintf(want, sizeof want, "%s: node 'c' (conv2d): bias 'cb' has shape [3] but [2] is needed",
             path);
    ck_assert_str_eq(err.message, want);
    model_close(&m); /* safe on a failed open */
    free((void *)path);
}
END_TEST

START_TEST(graph_save_keeps_used_tensors_in_order_of_first_use)
{
    struct model m, m2;
    struct st_file saved;
    struct quanta_error err = {0};
    char *src = strdup(ts_tmp_path("src.safetensors"));
    char *out = strdup(ts_tmp_path("out.safetensors"));
    write_tiny(src, "", true);
    ck_assert_int_eq(model_open(&m, src, &err), QUANTA_OK);
    struct st_meta extra[] = {
        {"author", "me"}, {"quanta.graph", "stale"}, {"quanta.version", "0.1"}};
    ck_assert_msg(graph_save(&m.graph, out, extra, 3, &err) == QUANTA_OK, "%s", err.message);

    ck_assert_int_eq(st_open(&saved, out, &err), QUANTA_OK);
    ck_assert_uint_eq(saved.n_tensors, 3); /* "spare" is used by no node */
    ck_assert_str_eq(saved.tensors[0].name, "cw");
    ck_assert_str_eq(saved.tensors[1].name, "cb");
    ck_assert_str_eq(saved.tensors[2].name, "dw");
    ck_assert_uint_eq(saved.n_meta, 3);
    ck_assert_str_eq(saved.meta[0].key, "quanta.graph");
    ck_assert_str_eq(saved.meta[1].key, "author");
    ck_assert_str_eq(saved.meta[2].key, "quanta.version");
    char *json = graph_to_json(&m.graph);
    ck_assert_str_eq(saved.meta[0].value, json);
    st_close(&saved);

    ck_assert_msg(model_open(&m2, out, &err) == QUANTA_OK, "%s", err.message);
    char *json2 = graph_to_json(&m2.graph);
    ck_assert_str_eq(json, json2);
    ck_assert_float_eq(((const float *)m2.graph.values[graph_find_value(&m2.graph, "cb")].data)[0],
                       0.5f);
    free(json);
    free(json2);
    model_close(&m);
    model_close(&m2);
    free(src);
    free(out);
}
END_TEST

START_TEST(graph_save_writes_per_channel_quant_tensors_after_their_value)
{
    struct fixture f;
    struct graph g;
    struct st_file saved;
    struct quanta_error err = {0};
    char raw[4096];
    fx_init(&f);
    int8_t *w = fx_tensor(&f, "cw", QUANTA_I8, 4, 2, 3, 3, 1);
    fx_tensor(&f, "unused", QUANTA_F32, 1, 2);
    fx_tensor(&f, "dw", QUANTA_F32, 2, 3, 8);
    fx_tensor(&f, "cb", QUANTA_F32, 1, 2);
    float *s = fx_tensor(&f, "cw.scale", QUANTA_F32, 1, 2);
    fx_tensor(&f, "cw.zp", QUANTA_I32, 1, 2);
    w[17] = -7;
    s[0] = 0.25f;
    s[1] = 0.5f;
    snprintf(raw, sizeof raw, graph_json,
             ", 'quant': {'cw': {'dtype': 'I8', 'axis': 0, 'scale': 'cw.scale', "
             "'zero_point': 'cw.zp'}}");
    ck_assert_msg(fx_parse(&g, &f, raw, &err) == QUANTA_OK, "%s", err.message);
    char *out = strdup(ts_tmp_path("q.safetensors"));
    ck_assert_msg(graph_save(&g, out, NULL, 0, &err) == QUANTA_OK, "%s", err.message);
    ck_assert_int_eq(st_open(&saved, out, &err), QUANTA_OK);
    const char *want[] = {"cw", "cw.scale", "cw.zp", "cb", "dw"};
    ck_assert_uint_eq(saved.n_tensors, 5);
    for (int i = 0; i < 5; i++)
        ck_assert_str_eq(saved.tensors[i].name, want[i]);
    ck_assert_int_eq(((const int8_t *)saved.tensors[0].data)[17], -7);
    ck_assert_uint_eq(saved.n_meta, 1);
    struct graph g2;
    ck_assert_msg(graph_load(&g2, &saved, &err) == QUANTA_OK, "%s", err.message);
    const struct graph_quant *q = &g2.values[graph_find_value(&g2, "cw")].quant;
    ck_assert_int_eq(q->n, 2);
    ck_assert_float_eq(q->scales[1], 0.5f);
    graph_free(&g2);
    st_close(&saved);
    free(out);
    graph_free(&g);
    fx_free(&f);
}
END_TEST

Suite *suite_graph_file(void);
/* A slice without steps (all 1) is written without the key, so the file
 * reads back: an empty list is not a valid steps attribute. */
START_TEST(graph_json_of_a_slice_without_steps_reads_back)
{
    struct graph g, g2;
    struct quanta_error err = {0};
    ck_assert_msg(fx_node(&g, NULL, "[-1, 6]",
                          "{'op': 'slice', 'name': 'n', 'inputs': ['x'], 'outputs': ['y'],"
                          " 'attrs': {'shape': [-1, 2], 'starts': [0, 1]}}",
                          &err) == QUANTA_OK,
                  "%s", err.message);
    char *json = graph_to_json(&g);
    ck_assert_ptr_nonnull(json);
    ck_assert_msg(strstr(json, "steps") == NULL, "%s", json);
    ck_assert_msg(graph_parse(&g2, json, NULL, "again", &err) == QUANTA_OK, "%s", err.message);
    char *json2 = graph_to_json(&g2);
    ck_assert_str_eq(json, json2);
    free(json2);
    free(json);
    graph_free(&g2);
    graph_free(&g);
}
END_TEST

Suite *suite_graph_file(void)
{
    Suite *s = suite_create("graph_file");
    TCase *tc = tcase_create("file");
    tcase_add_test(tc, model_open_loads_the_graph_of_a_file);
    tcase_add_test(tc, model_open_without_graph_is_a_bag_of_tensors);
    tcase_add_test(tc, model_open_rejects_a_bad_graph_naming_file_and_node);
    tcase_add_test(tc, graph_save_keeps_used_tensors_in_order_of_first_use);
    tcase_add_test(tc, graph_save_writes_per_channel_quant_tensors_after_their_value);
    tcase_add_test(tc, graph_json_of_a_slice_without_steps_reads_back);
    suite_add_tcase(s, tc);
    return s;
}

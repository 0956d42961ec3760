/* quanta quantize / dequantize end to end: help, usage errors (exit 2),
 * bad calibration tables (exit 3), -o equal to the input refused, the
 * written file read back (tensors, graph, provenance metadata), --exclude,
 * --data calibration, other modes, determinism, and the bundled fmnist
 * model when it is there. */
#include "cli/cli_fixture.h"
#include "quanta/sha256.h"

/* A calibration table for the tiny model (calib.h file format), minmax. */
static const char cq_table[] =
    "{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"minmax\", "
    "\"params\": {}, \"samples\": 8, \"data_sha256\": \"\", \"model_sha256\": \"\", "
    "\"values\": {"
    "\"image\": {\"count\": 32, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}, "
    "\"flat.out\": {\"count\": 32, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": 1}, "
    "\"fc1.out\": {\"count\": 32, \"min\": 0, \"max\": 1.6, \"lo\": 0, \"hi\": 1.6}, "
    "\"logits\": {\"count\": 24, \"min\": -1.5, \"max\": 2.5, \"lo\": -1.5, \"hi\": 2.5}}}\n";

struct cq {
    char *model, *table, *out, *out2, *images;
};

static void cq_setup(struct cq *c)
{
    struct cf_weights w;
    cf_default_weights(&w);
    c->model = cf_tmp("tiny.safetensors");
    c->table = cf_tmp("tiny.calib.json");
    c->out = cf_tmp("tiny-q.safetensors");
    c->out2 = cf_tmp("tiny-q2.safetensors");
    c->images = cf_tmp("tiny-images-idx3-ubyte");
    cf_write_model(c->model, &w, true);
    ts_write_file(c->table, cq_table, strlen(cq_table));
    cf_write_images(c->images);
    remove(c->out);
    remove(c->out2);
}

static void cq_free(struct cq *c)
{
    free(c->model);
    free(c->table);
    free(c->out);
    free(c->out2);
    free(c->images);
}

static void cq_ok(const char *args)
{
    char *out = NULL, *errout = NULL;
    int rc = ts_run_quanta(args, &out, &errout);
    ck_assert_msg(rc == 0, "'quanta %s' exited %d (stderr: %s)", args, rc, errout ? errout : "");
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);
}

static int cq_count_op(const struct graph *g, enum graph_op op)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += g->nodes[i].op == op;
    return n;
}

static const struct graph_node *cq_node(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return &g->nodes[i];
    ck_abort_msg("no node '%s'", name);
    return NULL;
}

static void cq_open(struct model *m, const char *path)
{
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(model_open(m, path, &err) == QUANTA_OK, "model_open: %s", err.message);
    ck_assert(m->has_graph);
}

START_TEST(test_help)
{
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta("quantize --help", &out, &errout), 0);
    const char *opts[] = {"--calib", "--data", "--method", "--samples", "--mode", "--weights",
                          "--activations", "--activation-type", "--exclude", "-o"};
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++)
        ck_assert_msg(strstr(out, opts[i]), "help lacks %s", opts[i]);
    ck_assert_str_eq(errout, "");
    free(out);
    free(errout);
    ck_assert_int_eq(ts_run_quanta("dequantize -h", &out, &errout), 0);
    ck_assert_ptr_nonnull(strstr(out, "usage: quanta dequantize"));
    free(out);
    free(errout);
}
END_TEST

START_TEST(test_usage_errors)
{
    struct cq c;
    cq_setup(&c);
    cf_expect_usage("quantize", "a model file is needed");
    cf_expect_usage(cf_args("quantize %s --calib %s", c.model, c.table),
                    "-o OUT is needed"); /* no -o */
    cf_expect_usage(cf_args("quantize %s -o %s", c.model, c.out),
                    "--mode static needs --calib CALIB.json or --data FILE"); /* no calibration */
    cf_expect_usage(cf_args("quantize %s %s -o %s --calib %s", c.model, c.model, c.out, c.table),
                    "only one model file is taken");
    cf_expect_usage(
        cf_args("quantize %s -o %s --calib %s --data %s", c.model, c.out, c.table, c.images),
        "--calib and --data exclude each other");
    cf_expect_usage(cf_args("quantize %s -o %s --calib %s --mode int4", c.model, c.out, c.table),
                    "--mode 'int4' is not static, weight-only or fp16");
    cf_expect_usage(
        cf_args("quantize %s -o %s --calib %s --weights per-row", c.model, c.out, c.table),
        "--weights 'per-row' is not per-channel or per-tensor");
    cf_expect_usage(
        cf_args("quantize %s -o %s --calib %s --activations skewed", c.model, c.out, c.table),
        "--activations 'skewed' is not asymmetric or symmetric");
    cf_expect_usage(
        cf_args("quantize %s -o %s --calib %s --activation-type int4", c.model, c.out, c.table),
        "--activation-type 'int4' is not int8 or uint8");
    cf_expect_usage(cf_args("quantize %s -o %s --mode fp16 --calib %s", c.model, c.out, c.table),
                    "--mode fp16 takes no calibration (--calib, --data)");
    cf_expect_usage(
        cf_args("quantize %s -o %s --calib %s --method entropy", c.model, c.out, c.table),
        "--method and --samples go with --data");
    cf_expect_usage(
        cf_args("quantize %s -o %s --data %s --method median", c.model, c.out, c.images),
        "--method 'median' is not minmax, meanstd, percentile,");
    cf_expect_usage(cf_args("quantize %s -o %s --data %s --samples 0", c.model, c.out, c.images),
                    "--samples '0' is not a number >= 1");
    cf_expect_usage(cf_args("quantize %s -o %s --calib %s --exclude fc1,", c.model, c.out, c.table),
                    "--exclude 'fc1,' has an empty name");
    cf_expect_usage(cf_args("quantize %s -o %s --calib %s --bogus", c.model, c.out, c.table),
                    "unknown option '--bogus'");
    cf_expect_usage(cf_args("quantize %s -o %s --calib", c.model, c.out),
                    "option '--calib' needs a value");
    cf_expect_usage(cf_args("quantize %s -o %s --calib %s --equalize", c.model, c.out, c.table),
                    "--equalize needs --data");
    cf_expect_usage(
        cf_args("quantize %s -o %s --calib %s --bias-correction", c.model, c.out, c.table),
        "--bias-correction needs --data");
    cf_expect_usage("dequantize", "a model file is needed");
    cf_expect_usage(cf_args("dequantize %s", c.model), "-o OUT is needed");
    /* the output may not be the input (nor the calibration table) */
    cf_expect_usage(cf_args("quantize %s -o %s --calib %s", c.model, c.model, c.table),
                    "refusing to overwrite input");
    cf_expect_usage(cf_args("quantize %s --output %s --calib %s", c.model, c.table, c.table),
                    "refusing to overwrite input");
    cf_expect_usage(cf_args("dequantize %s -o %s", c.model, c.model),
                    "refusing to overwrite input");
    /* an --exclude name that is no node of the model */
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("quantize %s -o %s --calib %s --exclude fc9", c.model,
                                           c.out, c.table), &out, &errout), 2);
    ck_assert_ptr_nonnull(strstr(errout, "'fc9'"));
    free(out);
    free(errout);
    /* nothing was written */
    ck_assert_ptr_null(ts_read_file(c.out, NULL));
    cq_free(&c);
}
END_TEST

START_TEST(test_bad_calibration)
{
    struct cq c;
    cq_setup(&c);
    char *bad = cf_tmp("bad.calib.json");
    ts_write_file(bad, "{\"format\": \"quanta.calibration\"", 31);
    cf_expect_input_error(cf_args("quantize %s -o %s --calib %s", c.model, c.out, bad),
                          "not valid JSON (near byte 30)");
    /* a well-formed table that lacks a value the int8 graph needs */
    static const char partial[] =
        "{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"minmax\", "
        "\"params\": {}, \"samples\": 8, \"data_sha256\": \"\", \"model_sha256\": \"\", "
        "\"values\": {\"flat.out\": {\"count\": 32, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": "
        "1}}}\n";
    ts_write_file(bad, partial, strlen(partial));
    cf_expect_input_error(cf_args("quantize %s -o %s --calib %s", c.model, c.out, bad),
                          "node 'fc1': calibration has no range for value 'fc1.out'");
    char *out = NULL, *errout = NULL;
    ts_run_quanta(cf_args("quantize %s -o %s --calib %s", c.model, c.out, bad), &out, &errout);
    ck_assert_ptr_nonnull(strstr(errout, "'fc1.out'"));
    free(out);
    free(errout);
    /* a table made for another model (sha256 recorded and different) */
    static const char other[] =
        "{\"format\": \"quanta.calibration\", \"version\": 1, \"method\": \"minmax\", "
        "\"params\": {}, \"samples\": 8, \"data_sha256\": \"\", \"model_sha256\": "
        "\"0000000000000000000000000000000000000000000000000000000000000000\", "
        "\"values\": {\"flat.out\": {\"count\": 32, \"min\": 0, \"max\": 1, \"lo\": 0, \"hi\": "
        "1}}}\n";
    ts_write_file(bad, other, strlen(other));
    cf_expect_input_error(cf_args("quantize %s -o %s --calib %s", c.model, c.out, bad),
                          "calibration was made for the model with sha256 0000");
    /* a missing model, a model that is not safetensors */
    cf_expect_input_error(cf_args("quantize %s -o %s --calib %s", bad, c.out, c.table),
                          "header length 8386104319403238011 exceeds the limit of 100000000 bytes");
    cf_expect_input_error(cf_args("dequantize %s -o %s", c.table, c.out),
                          "header length 8386104319403238011 exceeds the limit of 100000000 bytes");
    ck_assert_ptr_null(ts_read_file(c.out, NULL));
    free(bad);
    cq_free(&c);
}
END_TEST

START_TEST(test_static_file)
{
    struct cq c;
    cq_setup(&c);
    cq_ok(cf_args("quantize %s -o %s --calib %s", c.model, c.out, c.table));

    /* a plain safetensors file: tensors and metadata */
    struct st_file f;
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_msg(st_open(&f, c.out, &err) == QUANTA_OK, "%s", err.message);
    const struct st_tensor *w = st_find(&f, "fc1.weight");
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(w->dtype, QUANTA_I8);
    ck_assert_ptr_nonnull(st_find(&f, "fc1.weight.scale"));
    ck_assert_int_eq(st_find(&f, "fc1.weight.scale")->dtype, QUANTA_F32);
    ck_assert_int_eq(st_find(&f, "fc1.bias")->dtype, QUANTA_I32);
    ck_assert_int_eq(st_find(&f, "fc2.weight.zero_point")->dtype, QUANTA_I32);
    ck_assert_str_eq(st_meta_find(&f, "quanta.version"), QUANTA_VERSION);
    ck_assert_str_eq(st_meta_find(&f, "origin"), "cli test"); /* unknown key kept */
    ck_assert_str_eq(st_meta_find(&f, "quanta.calibration.method"), "minmax");
    ck_assert_str_eq(st_meta_find(&f, "quanta.calibration.samples"), "8");
    ck_assert_ptr_nonnull(st_meta_find(&f, "quanta.calibration.data_sha256"));
    char sha[QUANTA_SHA256_HEX_SIZE];
    ck_assert_int_eq(quanta_sha256_file(c.model, sha, &err), QUANTA_OK);
    ck_assert_str_eq(st_meta_find(&f, "quanta.source_sha256"), sha);
    cJSON *o = cJSON_Parse(st_meta_find(&f, "quanta.quantize.options"));
    ck_assert_ptr_nonnull(o);
    ck_assert_str_eq(cJSON_GetObjectItem(o, "mode")->valuestring, "static");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "weights")->valuestring, "per-channel");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "activations")->valuestring, "asymmetric");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "activation_type")->valuestring, "int8");
    ck_assert_str_eq(cJSON_GetObjectItem(o, "calib")->valuestring, "tiny.calib.json");
    ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItem(o, "exclude")), 0);
    ck_assert(cJSON_IsFalse(cJSON_GetObjectItem(o, "int8_outputs")));
    cJSON_Delete(o);
    st_close(&f);

    /* the graph: int8 dense layers; the output "logits" is float, written
     * by the int8 fc2 from its accumulator (no dequantize, no logits.q) */
    struct model m;
    cq_open(&m, c.out);
    const struct graph *g = &m.graph;
    ck_assert_int_eq(cq_count_op(g, GRAPH_OP_QUANTIZE), 1);
    ck_assert_int_eq(cq_count_op(g, GRAPH_OP_DEQUANTIZE), 0);
    const struct graph_node *fc1 = cq_node(g, "fc1");
    ck_assert_int_eq(g->values[fc1->inputs[0]].quant.dtype, QUANTA_I8);
    ck_assert_str_eq(g->values[fc1->inputs[0]].name, "flat.out.q");
    ck_assert_int_eq(g->values[fc1->inputs[1]].quant.axis, 0);
    ck_assert_str_eq(g->values[g->outputs[0]].name, "logits");
    ck_assert_int_eq(g->values[g->outputs[0]].dtype, QUANTA_F32);
    ck_assert_int_eq(g->values[g->outputs[0]].quant.dtype, QUANTA_DTYPE_INVALID);
    ck_assert_str_eq(g->nodes[g->values[g->outputs[0]].producer].name, "fc2");
    ck_assert_int_eq(graph_find_value(g, "logits.q"), -1);
    model_close(&m);

    /* --int8-outputs: the int8 "logits.q" and a final dequantize */
    cq_ok(cf_args("quantize %s --calib %s -o %s --int8-outputs", c.model, c.table, c.out2));
    cq_open(&m, c.out2);
    g = &m.graph;
    ck_assert_int_eq(cq_count_op(g, GRAPH_OP_DEQUANTIZE), 1);
    ck_assert_int_eq(g->values[graph_find_value(g, "logits.q")].quant.dtype, QUANTA_I8);
    ck_assert_str_eq(g->values[g->outputs[0]].name, "logits");
    ck_assert_int_eq(g->values[g->outputs[0]].dtype, QUANTA_F32);
    model_close(&m);

    /* dequantize: a float model with the same value names */
    cq_ok(cf_args("dequantize %s -o %s", c.out, c.out2));
    cq_open(&m, c.out2);
    g = &m.graph;
    ck_assert_int_eq(cq_count_op(g, GRAPH_OP_QUANTIZE) + cq_count_op(g, GRAPH_OP_DEQUANTIZE), 0);
    for (int v = 0; v < g->n_values; v++)
        ck_assert_int_eq(g->values[v].quant.dtype, QUANTA_DTYPE_INVALID);
    ck_assert_str_eq(g->values[g->outputs[0]].name, "logits");
    ck_assert_int_eq(g->values[graph_find_value(g, "fc1.weight")].dtype, QUANTA_F32);
    ck_assert_ptr_nonnull(st_meta_find(&m.file, "quanta.dequantize.source_sha256"));
    model_close(&m);
    /* ... which the float runner runs */
    char *out = NULL, *errout = NULL;
    ck_assert_int_eq(ts_run_quanta(cf_args("run %s --data %s", c.out2, c.images), &out, &errout),
                     0);
    free(out);
    free(errout);
    cq_free(&c);
}
END_TEST

START_TEST(test_exclude_cli)
{
    struct cq c;
    cq_setup(&c);
    cq_ok(cf_args("quantize %s -o %s --calib %s --exclude fc2 --exclude flat", c.model, c.out,
                  c.table));
    struct model m;
    cq_open(&m, c.out);
    const struct graph *g = &m.graph;
    const struct graph_node *fc2 = cq_node(g, "fc2");
    const struct graph_value *in = &g->values[fc2->inputs[0]];
    ck_assert_str_eq(in->name, "fc1.out.dq");
    ck_assert_int_eq(g->nodes[in->producer].op, GRAPH_OP_DEQUANTIZE);
    ck_assert_int_eq(g->values[fc2->inputs[1]].dtype, QUANTA_F32);
    ck_assert_int_eq(g->values[fc2->outputs[0]].quant.dtype, QUANTA_DTYPE_INVALID);
    ck_assert_int_eq(g->values[cq_node(g, "fc1")->inputs[1]].dtype, QUANTA_I8);
    cJSON *o = cJSON_Parse(st_meta_find(&m.file, "quanta.quantize.options"));
    cJSON *ex = cJSON_GetObjectItem(o, "exclude");
    ck_assert_int_eq(cJSON_GetArraySize(ex), 2);
    ck_assert_str_eq(cJSON_GetArrayItem(ex, 0)->valuestring, "fc2");
    cJSON_Delete(o);
    model_close(&m);
    /* comma list, same result bytes as the repeated option */
    cq_ok(cf_args("quantize %s -o %s --calib %s --exclude fc2,flat", c.model, c.out2, c.table));
    size_t na, nb;
    char *a = ts_read_file(c.out, &na), *b = ts_read_file(c.out2, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a, b, na) == 0);
    free(a);
    free(b);
    cq_free(&c);
}
END_TEST

START_TEST(test_deterministic)
{
    struct cq c;
    cq_setup(&c);
    const char *modes[] = {"--calib %s", "--calib %s --weights per-tensor --activations symmetric "
                                         "--activation-type uint8"};
    for (int k = 0; k < 2; k++) {
        char fmt[256];
        snprintf(fmt, sizeof fmt, "quantize %%s -o %%s %s", modes[k]);
        cq_ok(cf_args(fmt, c.model, c.out, c.table));
        cq_ok(cf_args(fmt, c.model, c.out2, c.table));
        size_t na, nb;
        char *a = ts_read_file(c.out, &na), *b = ts_read_file(c.out2, &nb);
        ck_assert_ptr_nonnull(a);
        ck_assert_ptr_nonnull(b);
        ck_assert_uint_eq(na, nb);
        ck_assert_msg(memcmp(a, b, na) == 0, "quantizing twice gave different bytes");
        free(a);
        free(b);
    }
    cq_free(&c);
}
END_TEST

START_TEST(test_data_and_modes)
{
    struct cq c;
    cq_setup(&c);
    /* calibrating here, on the IDX images */
    cq_ok(cf_args("quantize %s -o %s --data %s --method minmax --samples 6", c.model, c.out,
                  c.images));
    struct model m;
    cq_open(&m, c.out);
    ck_assert_str_eq(st_meta_find(&m.file, "quanta.calibration.samples"), "6");
    ck_assert_str_eq(st_meta_find(&m.file, "quanta.calibration.method"), "minmax");
    char sha[QUANTA_SHA256_HEX_SIZE];
    struct quanta_error err;
    quanta_error_clear(&err);
    ck_assert_int_eq(quanta_sha256_file(c.images, sha, &err), QUANTA_OK);
    ck_assert_str_eq(st_meta_find(&m.file, "quanta.calibration.data_sha256"), sha);
    model_close(&m);

    /* weight-only: I8 weights, float biases and activations, no calibration keys */
    cq_ok(cf_args("quantize %s -o %s --mode weight-only", c.model, c.out));
    cq_open(&m, c.out);
    const struct graph_node *fc1 = cq_node(&m.graph, "fc1");
    ck_assert_int_eq(m.graph.values[fc1->inputs[1]].dtype, QUANTA_I8);
    ck_assert_int_eq(m.graph.values[fc1->inputs[2]].dtype, QUANTA_F32);
    ck_assert_int_eq(m.graph.values[fc1->outputs[0]].dtype, QUANTA_F32);
    ck_assert_ptr_null(st_meta_find(&m.file, "quanta.calibration.method"));
    model_close(&m);

    /* fp16 */
    cq_ok(cf_args("quantize %s -o %s --mode fp16", c.model, c.out));
    cq_open(&m, c.out);
    ck_assert_int_eq(m.graph.values[graph_find_value(&m.graph, "fc2.weight")].dtype, QUANTA_F16);
    ck_assert_int_eq(m.graph.values[graph_find_value(&m.graph, "fc2.bias")].dtype, QUANTA_F16);
    model_close(&m);
    cq_free(&c);
}
END_TEST

/* --equalize and --bias-correction: on by default with --data (equalize
 * auto: both tried, the choice recorded), off with --calib; what was
 * applied is in quanta.quantize.applied. */
START_TEST(test_equalize_bias_correction)
{
    struct cq c;
    cq_setup(&c);
    struct model m;
    cq_ok(cf_args("quantize %s -o %s --data %s", c.model, c.out, c.images));
    cq_open(&m, c.out);
    const char *opts = st_meta_find(&m.file, "quanta.quantize.options");
    ck_assert_ptr_nonnull(strstr(opts, "\"equalize\":\"auto\",\"bias_correction\":true"));
    const char *applied = st_meta_find(&m.file, "quanta.quantize.applied");
    ck_assert_ptr_nonnull(applied);
    /* fc1 (relu) -> fc2 is a pair; both tried; both layers corrected */
    ck_assert_ptr_nonnull(strstr(applied, "\"auto\":{\"chosen\":"));
    ck_assert_ptr_nonnull(strstr(applied, "\"pairs_on\":1"));
    ck_assert_ptr_nonnull(strstr(applied, "\"bias_correction\":[{\"node\":\"fc1\""));
    ck_assert_ptr_nonnull(strstr(applied, "{\"node\":\"fc2\""));
    model_close(&m);

    cq_ok(cf_args("quantize %s -o %s --data %s --equalize --no-bias-correction", c.model, c.out,
                  c.images));
    cq_open(&m, c.out);
    applied = st_meta_find(&m.file, "quanta.quantize.applied");
    ck_assert_ptr_nonnull(applied);
    ck_assert_ptr_nonnull(strstr(applied, "\"first\":\"fc1\",\"second\":\"fc2\""));
    ck_assert_ptr_null(strstr(applied, "\"auto\""));
    ck_assert_ptr_nonnull(strstr(applied, "\"bias_correction\":[]"));
    model_close(&m);

    cq_ok(cf_args("quantize %s -o %s --data %s --no-equalize --no-bias-correction", c.model,
                  c.out, c.images));
    cq_open(&m, c.out);
    ck_assert_ptr_null(st_meta_find(&m.file, "quanta.quantize.applied"));
    model_close(&m);

    cq_ok(cf_args("quantize %s -o %s --calib %s", c.model, c.out, c.table));
    cq_open(&m, c.out);
    opts = st_meta_find(&m.file, "quanta.quantize.options");
    ck_assert_ptr_nonnull(strstr(opts, "\"equalize\":false,\"bias_correction\":false"));
    ck_assert_ptr_null(st_meta_find(&m.file, "quanta.quantize.applied"));
    model_close(&m);

    /* same bytes twice, with both on */
    cq_ok(cf_args("quantize %s -o %s --data %s --weights per-tensor", c.model, c.out, c.images));
    cq_ok(cf_args("quantize %s -o %s --data %s --weights per-tensor", c.model, c.out2, c.images));
    size_t na, nb;
    char *a = ts_read_file(c.out, &na), *b = ts_read_file(c.out2, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a, b, na) == 0);
    free(a);
    free(b);
    cq_free(&c);
}
END_TEST

/* The bundled model and calibration images, when they are in the tree. */
START_TEST(test_fmnist)
{
    static const char *const need[] = {"models/fmnist-cnn.safetensors",
                                       "models/data/fmnist-calib-1000-images-idx3-ubyte.gz"};
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++)
        if (!cf_file_exists(ts_src_path(need[k])))
            TS_SKIP("%s absent", ts_src_path(need[k]));
    char model[1024], data[1024];
    snprintf(model, sizeof model, "%s", ts_src_path("models/fmnist-cnn.safetensors"));
    snprintf(data, sizeof data, "%s",
             ts_src_path("models/data/fmnist-calib-1000-images-idx3-ubyte.gz"));
    char *q = cf_tmp("fmnist-q.safetensors"), *q2 = cf_tmp("fmnist-q2.safetensors");
    cq_ok(cf_args("quantize %s -o %s --data %s --samples 200", model, q, data));
    cq_ok(cf_args("quantize %s -o %s --data %s --samples 200", model, q2, data));
    size_t na, nb;
    char *a = ts_read_file(q, &na), *b = ts_read_file(q2, &nb);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a, b, na) == 0);
    free(a);
    free(b);
    cq_ok(cf_args("dequantize %s -o %s", q, q2));
    free(q);
    free(q2);
}
END_TEST

Suite *suite_cli_quantize(void);
Suite *suite_cli_quantize(void)
{
    Suite *s = suite_create("cli_quantize");
    TCase *tc = tcase_create("quantize");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_help);
    tcase_add_test(tc, test_usage_errors);
    tcase_add_test(tc, test_bad_calibration);
    tcase_add_test(tc, test_static_file);
    tcase_add_test(tc, test_exclude_cli);
    tcase_add_test(tc, test_deterministic);
    tcase_add_test(tc, test_data_and_modes);
    suite_add_tcase(s, tc);
    tc = tcase_create("fmnist");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, test_equalize_bias_correction);
    tcase_add_test(tc, test_fmnist);
    suite_add_tcase(s, tc);
    return s;
}

/* quanta inspect: a model's graph, tensors, inputs, outputs and metadata,
 * as aligned text or JSON. Works on a bag of tensors (no graph) too. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "quanta/quantize.h"
#include "cli/cli_data.h"
#include "graph/graph_optimize.h"
#include "report/report.h"

static const char inspect_usage[] = "usage: quanta inspect MODEL [--optimized] [--json]\n";

static const char inspect_help[] =
    "usage: quanta inspect MODEL [--optimized] [--json]\n"
    "\n"
    "Shows what a model file holds: the graph (node, op, output shape with the\n"
    "batch as N, output dtype, parameter count), every tensor (dtype, shape,\n"
    "bytes, min, max, mean, std; quantization parameters for quantized\n"
    "tensors), the graph inputs (shape, normalize) and outputs, the activation\n"
    "memory the runner plans for one sample, and the metadata keys. A file\n"
    "without a graph (a bag of tensors) shows its tensors and metadata.\n"
    "\n"
    "options:\n"
    "  --optimized  show the graph the runner runs for a float model: batch_norm\n"
    "               folded into the conv2d/dense before it, activations fused,\n"
    "               reshape chains collapsed, dead nodes dropped; then what each\n"
    "               pass did (the file is not changed)\n"
    "  --json       print one JSON object on stdout instead of tables\n"
    "  -h, --help   show this help\n"
    "\n"
    "exit status: 0 ok, 2 usage error, 3 invalid model file, 5 out of memory.\n"
    "See man quanta-inspect(1).\n";

/* Statistics of a tensor's stored values, converted to float. */
struct tensor_stats {
    int64_t count;
    double min, max, mean, std;
};

static enum quanta_status tensor_stats(const struct st_tensor *t, struct tensor_stats *s,
                                       struct quanta_error *err)
{
    enum { CHUNK = 4096 };
    size_t elem = quanta_dtype_size(t->dtype);
    int64_t numel = quanta_shape_numel(&t->shape);
    memset(s, 0, sizeof *s);
    s->min = s->max = s->mean = s->std = NAN;
    if (numel <= 0 || elem == 0)
        return QUANTA_OK;
    float *buf = malloc(CHUNK * sizeof *buf);
    if (!buf)
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory reading tensor '%s'", t->name);
    double sum = 0.0, sumsq = 0.0, min = INFINITY, max = -INFINITY;
    bool nan_seen = false;
    const uint8_t *src = t->data;
    for (int64_t done = 0; done < numel; done += CHUNK) {
        size_t n = (size_t)(numel - done < CHUNK ? numel - done : CHUNK);
        if (t->dtype == QUANTA_I4) { /* packed rows along the last axis */
            int64_t d = t->shape.rank > 0 ? t->shape.dims[t->shape.rank - 1] : 1;
            uint64_t row = quanta_dtype_row_bytes(QUANTA_I4, d);
            for (size_t i = 0; i < n; i++) {
                int64_t k = done + (int64_t)i;
                buf[i] = (float)quanta_i4_get(src + (uint64_t)(k / d) * row, k % d);
            }
        } else {
            quanta_convert_to_f32(t->dtype, src + (size_t)done * elem, buf, n);
        }
        for (size_t i = 0; i < n; i++) {
            double v = buf[i];
            if (isnan(v)) {
                nan_seen = true;
                continue;
            }
            sum += v;
            sumsq += v * v;
            if (v < min)
                min = v;
            if (v > max)
                max = v;
        }
    }
    free(buf);
    s->count = numel;
    if (nan_seen) /* NaN anywhere: every statistic is NaN, shown as such */
        return QUANTA_OK;
    s->min = min;
    s->max = max;
    s->mean = sum / (double)numel;
    double var = sumsq / (double)numel - s->mean * s->mean;
    s->std = sqrt(var > 0.0 ? var : 0.0);
    return QUANTA_OK;
}

/* Short text of a value's quantization parameters, "" for a float value. */
static void quant_text(const struct graph_quant *q, char *buf, size_t size)
{
    buf[0] = '\0';
    if (q->dtype == QUANTA_DTYPE_INVALID)
        return;
    if (q->axis < 0 || q->n <= 1) {
        snprintf(buf, size, "%s scale=%.6g zero_point=%d", quanta_dtype_name(q->dtype),
                 q->n >= 1 ? q->scales[0] : q->scale,
                 q->n >= 1 && q->zero_points ? q->zero_points[0] : q->zero_point);
        return;
    }
    float lo = q->scales[0], hi = q->scales[0];
    for (int i = 1; i < q->n; i++) {
        if (q->scales[i] < lo)
            lo = q->scales[i];
        if (q->scales[i] > hi)
            hi = q->scales[i];
    }
    snprintf(buf, size, "%s axis=%d channels=%d scale=[%.3g..%.3g]",
             quanta_dtype_name(q->dtype), q->axis, q->n, lo, hi);
}

static cJSON *quant_json(const struct graph_quant *q)
{
    if (q->dtype == QUANTA_DTYPE_INVALID)
        return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "dtype", quanta_dtype_name(q->dtype));
    cJSON_AddNumberToObject(o, "axis", q->axis);
    if (q->axis < 0 || q->n <= 1) {
        cJSON_AddNumberToObject(o, "scale", q->n >= 1 ? q->scales[0] : q->scale);
        cJSON_AddNumberToObject(o, "zero_point",
                                q->n >= 1 && q->zero_points ? q->zero_points[0] : q->zero_point);
    } else {
        cJSON *sc = cJSON_AddArrayToObject(o, "scale");
        cJSON *zp = cJSON_AddArrayToObject(o, "zero_point");
        for (int i = 0; sc && zp && i < q->n; i++) {
            cJSON_AddItemToArray(sc, cJSON_CreateNumber(q->scales[i]));
            cJSON_AddItemToArray(zp, cJSON_CreateNumber(q->zero_points ? q->zero_points[i] : 0));
        }
    }
    return o;
}

static void normalize_text(const struct graph_input *in, char *buf, size_t size)
{
    if (!in->has_normalize) {
        snprintf(buf, size, "-");
        return;
    }
    const struct quanta_normalize *n = &in->normalize;
    size_t len = (size_t)snprintf(buf, size, "scale=%.9g mean=[", n->scale);
    for (int i = 0; i < n->n_mean && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%g", i ? ", " : "", n->mean[i]);
    if (len < size)
        len += (size_t)snprintf(buf + len, size - len, "] std=[");
    for (int i = 0; i < n->n_std && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%g", i ? ", " : "", n->std[i]);
    if (len < size)
        snprintf(buf + len, size - len, "]");
}

static cJSON *normalize_json(const struct graph_input *in)
{
    if (!in->has_normalize)
        return cJSON_CreateNull();
    const struct quanta_normalize *n = &in->normalize;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddNumberToObject(o, "scale", n->scale);
    cJSON *mean = cJSON_AddArrayToObject(o, "mean");
    cJSON *std = cJSON_AddArrayToObject(o, "std");
    for (int i = 0; mean && i < n->n_mean; i++)
        cJSON_AddItemToArray(mean, cJSON_CreateNumber(n->mean[i]));
    for (int i = 0; std && i < n->n_std; i++)
        cJSON_AddItemToArray(std, cJSON_CreateNumber(n->std[i]));
    return o;
}

/* The dtype a value holds: its quantized type, else its declared one. */
static const char *value_dtype(const struct graph_value *v)
{
    return quanta_dtype_name(v->quant.dtype != QUANTA_DTYPE_INVALID ? v->quant.dtype : v->dtype);
}

static bool has_activation(const struct graph_node *n)
{
    return (n->op == GRAPH_OP_CONV2D || n->op == GRAPH_OP_DENSE || n->op == GRAPH_OP_ADD ||
            n->op == GRAPH_OP_MUL || n->op == GRAPH_OP_MATMUL) &&
           n->attrs.activation != GRAPH_ACT_NONE;
}

static int64_t node_params(const struct graph *g, const struct graph_node *n)
{
    int64_t p = 0;
    for (int i = 0; i < n->n_inputs; i++) {
        int v = n->inputs[i];
        if (v >= 0 && g->values[v].kind == GRAPH_VALUE_CONST)
            p += quanta_shape_numel(&g->values[v].shape);
    }
    return p;
}

/* Everything inspect shows, computed before anything is printed. */
struct inspect {
    const char *path;
    struct model model;
    int64_t file_bytes;
    struct tensor_stats *stats;     /* per tensor of the file */
    int64_t parameters;             /* elements of every tensor */
    bool optimized;                 /* --optimized: model.graph is the optimized one */
    struct graph_optimize_log log;
    bool arena_known;
    size_t arena_bytes;
    char arena_error[QUANTA_ERROR_MESSAGE_MAX];
};

static const struct graph_value *tensor_value(const struct inspect *in, const char *name)
{
    if (!in->model.has_graph)
        return NULL;
    int v = graph_find_value(&in->model.graph, name);
    return v >= 0 ? &in->model.graph.values[v] : NULL;
}

/* What the quantizer adjusted (quanta.quantize.adjustments), in words. */
static void print_adjustments(const struct st_file *f)
{
    for (size_t i = 0; i < f->n_meta; i++) {
        if (strcmp(f->meta[i].key, "quanta.quantize.adjustments") != 0)
            continue;
        struct quantize_notes notes;
        if (!quantize_notes_parse(f->meta[i].value, &notes)) {
            printf("\nadjustments: (quanta.quantize.adjustments is not readable)\n");
            return;
        }
        printf("\nadjustments made by quanta quantize (%d):\n", notes.n);
        for (int k = 0; k < notes.n; k++) {
            char line[1024];
            quantize_note_format(&notes.list[k], line, sizeof line);
            printf("  %s\n", line);
        }
        quantize_notes_free(&notes);
    }
}

/* What graph_optimize did: a count per pass, then one line per rewrite. */
static void print_passes(const struct graph_optimize_log *log)
{
    printf("\noptimized  ");
    for (int p = 0; p < GRAPH_PASS_COUNT; p++)
        printf("%s%s %d", p ? ", " : "", graph_pass_name((enum graph_pass)p), log->count[p]);
    putchar('\n');
    if (log->text)
        fputs(log->text, stdout);
}

static cJSON *passes_json(const struct graph_optimize_log *log)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    for (int p = 0; p < GRAPH_PASS_COUNT; p++)
        cJSON_AddNumberToObject(o, graph_pass_name((enum graph_pass)p), log->count[p]);
    cJSON *lines = cJSON_AddArrayToObject(o, "log");
    for (const char *l = log->text; lines && l && *l;) {
        const char *end = strchr(l, '\n');
        size_t n = end ? (size_t)(end - l) : strlen(l);
        char *line = strndup(l, n);
        if (line)
            cJSON_AddItemToArray(lines, cJSON_CreateString(line));
        free(line);
        l += n + (end != NULL);
    }
    return o;
}

static void print_text(const struct inspect *in)
{
    const struct st_file *f = &in->model.file;
    const struct graph *g = &in->model.graph;
    char buf[512], buf2[512];

    printf("model       %s\n", in->path);
    printf("file        %lld bytes (header %llu bytes, %zu tensors)\n",
           (long long)in->file_bytes, (unsigned long long)f->header_size, f->n_tensors);
    printf("parameters  %lld\n", (long long)in->parameters);
    if (!in->model.has_graph) {
        printf("graph       none (a bag of tensors)\n");
    } else {
        printf("graph       %s, %d nodes, %d inputs, %d outputs\n", g->name ? g->name : "-",
               g->n_nodes, g->n_inputs, g->n_outputs);
        if (in->arena_known)
            printf("arena       %zu bytes of activations at batch 1\n", in->arena_bytes);
        else
            printf("arena       unknown (%s)\n", in->arena_error);

        static const char *const in_head[] = {"input", "shape", "dtype", "normalize"};
        struct report_table *t = report_table_create(4, in_head, NULL);
        for (int i = 0; i < g->n_inputs; i++) {
            const struct graph_value *v = &g->values[g->inputs[i].value];
            normalize_text(&g->inputs[i], buf2, sizeof buf2);
            report_table_add(t, "%s", v->name);
            report_table_add(t, "%s", cli_shape_format(&v->shape, buf, sizeof buf));
            report_table_add(t, "%s", quanta_dtype_name(graph_input_dtype(g, i)));
            report_table_add(t, "%s", buf2);
        }
        putchar('\n');
        report_table_print(t, stdout);
        report_table_free(t);

        static const char *const out_head[] = {"output", "shape", "dtype"};
        t = report_table_create(3, out_head, NULL);
        for (int i = 0; i < g->n_outputs; i++) {
            const struct graph_value *v = &g->values[g->outputs[i]];
            report_table_add(t, "%s", v->name);
            report_table_add(t, "%s", cli_shape_format(&v->shape, buf, sizeof buf));
            report_table_add(t, "%s", value_dtype(v));
        }
        putchar('\n');
        report_table_print(t, stdout);
        report_table_free(t);

        static const char *const node_head[] = {"node",  "op",     "output", "shape",
                                                "dtype", "params", "quant"};
        static const enum report_align node_align[] = {
            REPORT_ALIGN_LEFT, REPORT_ALIGN_LEFT,  REPORT_ALIGN_LEFT, REPORT_ALIGN_LEFT,
            REPORT_ALIGN_LEFT, REPORT_ALIGN_RIGHT, REPORT_ALIGN_LEFT};
        /* the quant column only when some node output is quantized */
        int node_cols = 6;
        for (int i = 0; i < g->n_nodes; i++)
            for (int o = 0; o < g->nodes[i].n_outputs; o++)
                if (g->values[g->nodes[i].outputs[o]].quant.dtype != QUANTA_DTYPE_INVALID)
                    node_cols = 7;
        t = report_table_create(node_cols, node_head, node_align);
        for (int i = 0; i < g->n_nodes; i++) {
            const struct graph_node *n = &g->nodes[i];
            for (int o = 0; o < n->n_outputs; o++) {
                const struct graph_value *v = &g->values[n->outputs[o]];
                if (o == 0) {
                    report_table_add(t, "%s", n->name);
                    if (has_activation(n))
                        report_table_add(t, "%s+%s", graph_op_name(n->op),
                                         graph_activation_name(n->attrs.activation));
                    else if (n->op == GRAPH_OP_PAD || n->op == GRAPH_OP_RESIZE ||
                             n->op == GRAPH_OP_EMBEDDING_BAG)
                        report_table_add(t, "%s:%s", graph_op_name(n->op),
                                         graph_mode_name(n->attrs.mode));
                    else
                        report_table_add(t, "%s", graph_op_name(n->op));
                } else {
                    report_table_add(t, "%s", "");
                    report_table_add(t, "%s", "");
                }
                report_table_add(t, "%s", v->name);
                report_table_add(t, "%s", cli_shape_format(&v->shape, buf, sizeof buf));
                report_table_add(t, "%s", value_dtype(v));
                if (o == 0)
                    report_table_add(t, "%lld", (long long)node_params(g, n));
                else
                    report_table_add(t, "%s", "");
                if (node_cols == 7) {
                    quant_text(&v->quant, buf2, sizeof buf2);
                    report_table_add(t, "%s", buf2);
                }
            }
        }
        putchar('\n');
        report_table_print(t, stdout);
        report_table_free(t);
    }

    static const char *const tensor_head[] = {"tensor", "dtype", "shape", "bytes", "min",
                                              "max",    "mean",  "std",   "quant"};
    static const enum report_align tensor_align[] = {
        REPORT_ALIGN_LEFT,  REPORT_ALIGN_LEFT,  REPORT_ALIGN_LEFT,
        REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT,
        REPORT_ALIGN_RIGHT, REPORT_ALIGN_RIGHT, REPORT_ALIGN_LEFT};
    /* the quant column only when some tensor is quantized */
    int cols = 8;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const struct graph_value *v = tensor_value(in, f->tensors[i].name);
        if (v && v->quant.dtype != QUANTA_DTYPE_INVALID)
            cols = 9;
    }
    struct report_table *t = report_table_create(cols, tensor_head, tensor_align);
    for (size_t i = 0; i < f->n_tensors; i++) {
        const struct st_tensor *ts = &f->tensors[i];
        const struct tensor_stats *s = &in->stats[i];
        const struct graph_value *v = tensor_value(in, ts->name);
        report_table_add(t, "%s", ts->name);
        report_table_add(t, "%s", quanta_dtype_name(ts->dtype));
        report_table_add(t, "%s", quanta_shape_format(&ts->shape, buf, sizeof buf));
        report_table_add(t, "%llu", (unsigned long long)(ts->end - ts->begin));
        if (s->count == 0) {
            for (int k = 0; k < 4; k++)
                report_table_add(t, "-");
        } else {
            report_table_add(t, "%.4g", s->min);
            report_table_add(t, "%.4g", s->max);
            report_table_add(t, "%.4g", s->mean);
            report_table_add(t, "%.4g", s->std);
        }
        if (cols == 9) {
            if (v)
                quant_text(&v->quant, buf2, sizeof buf2);
            else
                buf2[0] = '\0';
            report_table_add(t, "%s", buf2);
        }
    }
    putchar('\n');
    report_table_print(t, stdout);
    report_table_free(t);

    if (f->n_meta > 0) {
        static const char *const meta_head[] = {"metadata", "value"};
        t = report_table_create(2, meta_head, NULL);
        for (size_t i = 0; i < f->n_meta; i++) {
            const char *key = f->meta[i].key, *value = f->meta[i].value;
            size_t len = strlen(value);
            report_table_add(t, "%s", key);
            if (strcmp(key, "quanta.graph") == 0)
                report_table_add(t, "(the graph, %zu bytes of JSON)", len);
            else if (len > 80 || strpbrk(value, "\n\r\t"))
                report_table_add(t, "%.60s... (%zu bytes)", value, len);
            else
                report_table_add(t, "%s", value);
        }
        putchar('\n');
        report_table_print(t, stdout);
        report_table_free(t);
    }
    print_adjustments(f);
    if (in->optimized)
        print_passes(&in->log);
}

static cJSON *graph_json(const struct inspect *in)
{
    const struct graph *g = &in->model.graph;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (g->name)
        cJSON_AddStringToObject(o, "name", g->name);
    else
        cJSON_AddNullToObject(o, "name");
    if (in->arena_known)
        cJSON_AddNumberToObject(o, "arena_bytes", (double)in->arena_bytes);
    else
        cJSON_AddNullToObject(o, "arena_bytes");

    cJSON *inputs = cJSON_AddArrayToObject(o, "inputs");
    for (int i = 0; inputs && i < g->n_inputs; i++) {
        const struct graph_value *v = &g->values[g->inputs[i].value];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(inputs, e);
        cJSON_AddStringToObject(e, "name", v->name);
        cJSON_AddItemToObject(e, "shape", cli_json_shape(&v->shape));
        cJSON_AddStringToObject(e, "dtype", quanta_dtype_name(graph_input_dtype(g, i)));
        cJSON_AddItemToObject(e, "normalize", normalize_json(&g->inputs[i]));
    }
    cJSON *outputs = cJSON_AddArrayToObject(o, "outputs");
    for (int i = 0; outputs && i < g->n_outputs; i++) {
        const struct graph_value *v = &g->values[g->outputs[i]];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(outputs, e);
        cJSON_AddStringToObject(e, "name", v->name);
        cJSON_AddItemToObject(e, "shape", cli_json_shape(&v->shape));
        cJSON_AddStringToObject(e, "dtype", value_dtype(v));
    }
    cJSON *nodes = cJSON_AddArrayToObject(o, "nodes");
    for (int i = 0; nodes && i < g->n_nodes; i++) {
        const struct graph_node *n = &g->nodes[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(nodes, e);
        cJSON_AddStringToObject(e, "name", n->name);
        cJSON_AddStringToObject(e, "op", graph_op_name(n->op));
        cJSON_AddStringToObject(e, "activation",
                                has_activation(n) ? graph_activation_name(n->attrs.activation)
                                                  : "none");
        if (n->op == GRAPH_OP_PAD || n->op == GRAPH_OP_RESIZE)
            cJSON_AddStringToObject(e, "mode", graph_mode_name(n->attrs.mode));
        cJSON *ins = cJSON_AddArrayToObject(e, "inputs");
        for (int k = 0; ins && k < n->n_inputs; k++) {
            int v = n->inputs[k];
            cJSON_AddItemToArray(ins, v >= 0 ? cJSON_CreateString(g->values[v].name)
                                             : cJSON_CreateNull());
        }
        cJSON *outs = cJSON_AddArrayToObject(e, "outputs");
        for (int k = 0; outs && k < n->n_outputs; k++) {
            const struct graph_value *v = &g->values[n->outputs[k]];
            cJSON *vo = cJSON_CreateObject();
            cJSON_AddItemToArray(outs, vo);
            cJSON_AddStringToObject(vo, "name", v->name);
            cJSON_AddItemToObject(vo, "shape", cli_json_shape(&v->shape));
            cJSON_AddStringToObject(vo, "dtype", value_dtype(v));
            cJSON_AddItemToObject(vo, "quant", quant_json(&v->quant));
        }
        cJSON_AddNumberToObject(e, "parameters", (double)node_params(g, n));
    }
    return o;
}

static cJSON *inspect_json(const struct inspect *in)
{
    const struct st_file *f = &in->model.file;
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    cJSON_AddStringToObject(root, "path", in->path);
    cJSON_AddNumberToObject(root, "bytes", (double)in->file_bytes);
    cJSON_AddNumberToObject(root, "header_bytes", (double)f->header_size);
    cJSON_AddNumberToObject(root, "parameters", (double)in->parameters);
    if (in->model.has_graph)
        cJSON_AddItemToObject(root, "graph", graph_json(in));
    if (in->optimized)
        cJSON_AddItemToObject(root, "optimized", passes_json(&in->log));
    else
        cJSON_AddNullToObject(root, "graph");
    cJSON *tensors = cJSON_AddArrayToObject(root, "tensors");
    for (size_t i = 0; tensors && i < f->n_tensors; i++) {
        const struct st_tensor *ts = &f->tensors[i];
        const struct tensor_stats *s = &in->stats[i];
        const struct graph_value *v = tensor_value(in, ts->name);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(tensors, e);
        cJSON_AddStringToObject(e, "name", ts->name);
        cJSON_AddStringToObject(e, "dtype", quanta_dtype_name(ts->dtype));
        cJSON_AddItemToObject(e, "shape", cli_json_shape(&ts->shape));
        cJSON_AddNumberToObject(e, "bytes", (double)(ts->end - ts->begin));
        cli_json_add_number(e, "min", s->min);
        cli_json_add_number(e, "max", s->max);
        cli_json_add_number(e, "mean", s->mean);
        cli_json_add_number(e, "std", s->std);
        if (v)
            cJSON_AddItemToObject(e, "quant", quant_json(&v->quant));
        else
            cJSON_AddNullToObject(e, "quant");
    }
    cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
    for (size_t i = 0; meta && i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, "quanta.graph") != 0)
            cJSON_AddStringToObject(meta, f->meta[i].key, f->meta[i].value);
    return root;
}

int cmd_inspect(int argc, char **argv)
{
    enum { OPT_JSON = 256, OPT_OPTIMIZED };
    static const struct option options[] = {
        {"json", no_argument, NULL, OPT_JSON},
        {"optimized", no_argument, NULL, OPT_OPTIMIZED},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    bool json = false, optimized = false;
    int c;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        switch (c) {
        case 'h':
            return cli_help(inspect_help);
        case OPT_JSON:
            json = true;
            break;
        case OPT_OPTIMIZED:
            optimized = true;
            break;
        default:
            return cli_option_error("inspect", inspect_usage, c, argv);
        }
    }
    struct inspect in = {0};
    int rc = cli_one_model("inspect", inspect_usage, argc, argv, &in.path);
    if (rc != 0)
        return rc;

    struct quanta_error err;
    quanta_error_clear(&err);
    enum quanta_status st = model_open(&in.model, in.path, &err);
    if (st != QUANTA_OK)
        return cli_report(&err);
    const struct st_file *f = &in.model.file;
    in.file_bytes = cli_file_size(in.path);
    if (in.file_bytes < 0)
        in.file_bytes = (int64_t)f->map_size;
    in.stats = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *in.stats);
    if (!in.stats) {
        st = quanta_fail(&err, QUANTA_ERR_NOMEM, "out of memory inspecting %s", in.path);
        goto done;
    }
    for (size_t i = 0; i < f->n_tensors; i++) {
        if ((st = tensor_stats(&f->tensors[i], &in.stats[i], &err)) != QUANTA_OK)
            goto done;
        in.parameters += quanta_shape_numel(&f->tensors[i].shape);
    }
    if (optimized && in.model.has_graph) {
        struct graph g;
        if ((st = graph_optimize(&in.model.graph, NULL, &g, &in.log, in.path, &err)))
            goto done;
        graph_free(&in.model.graph);
        in.model.graph = g;
        in.optimized = true;
    }
    if (in.model.has_graph) {
        struct runner *r = NULL;
        struct runner_options ro = {.max_batch = 1, .threads = 1};
        struct quanta_error rerr;
        quanta_error_clear(&rerr);
        if (runner_create(&r, &in.model.graph, &ro, &rerr) == QUANTA_OK) {
            in.arena_known = true;
            in.arena_bytes = runner_arena_size(r);
            runner_free(r);
        } else {
            snprintf(in.arena_error, sizeof in.arena_error, "%s", rerr.message);
        }
    }
    if (json)
        st = cli_json_print(inspect_json(&in), &err);
    else
        print_text(&in);

done:
    free(in.stats);
    graph_optimize_log_free(&in.log);
    model_close(&in.model);
    if (st != QUANTA_OK)
        return cli_report(&err);
    return fflush(stdout) == 0 ? 0 : QUANTA_ERR_OUTPUT;
}

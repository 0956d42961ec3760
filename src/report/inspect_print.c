/* quanta inspect's report printed: aligned tables on stdout, or one JSON
 * object. */
#include "report/inspect.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/quantize.h"
#include "report/report.h"

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

static const struct graph_value *tensor_value(const struct report_inspect *in, const char *name)
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

void report_inspect_print(const struct report_inspect *in)
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
            report_table_add(t, "%s", report_shape_text(&v->shape, buf, sizeof buf));
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
            report_table_add(t, "%s", report_shape_text(&v->shape, buf, sizeof buf));
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
                    char label[64];
                    report_table_add(t, "%s", n->name);
                    report_table_add(t, "%s", report_op_label(n, label, sizeof label));
                } else {
                    report_table_add(t, "%s", "");
                    report_table_add(t, "%s", "");
                }
                report_table_add(t, "%s", v->name);
                report_table_add(t, "%s", report_shape_text(&v->shape, buf, sizeof buf));
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
        const struct report_tensor_stats *s = &in->stats[i];
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

static cJSON *graph_json(const struct report_inspect *in)
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
        cJSON_AddItemToObject(e, "shape", report_json_shape(&v->shape));
        cJSON_AddStringToObject(e, "dtype", quanta_dtype_name(graph_input_dtype(g, i)));
        cJSON_AddItemToObject(e, "normalize", normalize_json(&g->inputs[i]));
    }
    cJSON *outputs = cJSON_AddArrayToObject(o, "outputs");
    for (int i = 0; outputs && i < g->n_outputs; i++) {
        const struct graph_value *v = &g->values[g->outputs[i]];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(outputs, e);
        cJSON_AddStringToObject(e, "name", v->name);
        cJSON_AddItemToObject(e, "shape", report_json_shape(&v->shape));
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
                                graph_activation_name(n->attrs.activation));
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
            cJSON_AddItemToObject(vo, "shape", report_json_shape(&v->shape));
            cJSON_AddStringToObject(vo, "dtype", value_dtype(v));
            cJSON_AddItemToObject(vo, "quant", quant_json(&v->quant));
        }
        cJSON_AddNumberToObject(e, "parameters", (double)node_params(g, n));
    }
    return o;
}

cJSON *report_inspect_json(const struct report_inspect *in)
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
        const struct report_tensor_stats *s = &in->stats[i];
        const struct graph_value *v = tensor_value(in, ts->name);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddItemToArray(tensors, e);
        cJSON_AddStringToObject(e, "name", ts->name);
        cJSON_AddStringToObject(e, "dtype", quanta_dtype_name(ts->dtype));
        cJSON_AddItemToObject(e, "shape", report_json_shape(&ts->shape));
        cJSON_AddNumberToObject(e, "bytes", (double)(ts->end - ts->begin));
        report_json_number(e, "min", s->min);
        report_json_number(e, "max", s->max);
        report_json_number(e, "mean", s->mean);
        report_json_number(e, "std", s->std);
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


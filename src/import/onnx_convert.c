/* ONNX -> quanta graph: the driver (inputs, nodes in order, outputs), the
 * value table, attribute getters and messages. The graph's inputs and
 * outputs are in onnx_graph_io.c, the layout helpers in onnx_layout.c, the
 * operators in onnx_ops.c (the table) and onnx_<family>.c, constant
 * folding in onnx_fold.c. */
#include "import/onnx_convert.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quanta/quanta.h"
#include "quanta/sha256.h"

/* ---- messages ------------------------------------------------------------ */

enum quanta_status cv_fail(struct cv *cv, const char *fmt, ...)
{
    char msg[QUANTA_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct onnx_node *n = cv->node;
    if (!n)
        return quanta_fail(cv->err, QUANTA_ERR_INPUT, "%s: %s", cv->source, msg);
    if (n->name[0])
        return quanta_fail(cv->err, QUANTA_ERR_INPUT, "%s: node '%s' (%s): %s", cv->source,
                           n->name, n->op_type, msg);
    return quanta_fail(cv->err, QUANTA_ERR_INPUT, "%s: node %d (%s): %s", cv->source,
                       cv->node_index, n->op_type, msg);
}

enum quanta_status cv_nomem(struct cv *cv)
{
    return quanta_fail(cv->err, QUANTA_ERR_NOMEM, "%s: out of memory", cv->source);
}

/* ---- tensors ------------------------------------------------------------- */

struct onnx_tensor *cv_tensor_new(enum quanta_dtype dtype, const struct quanta_shape *shape)
{
    struct onnx_tensor *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->shape = *shape;
    t->dtype = dtype;
    t->data_type = dtype == QUANTA_F32 ? ONNX_FLOAT : ONNX_INT64;
    t->numel = quanta_shape_numel(shape);
    t->name = strdup("");
    size_t width = dtype == QUANTA_F32 ? 4 : 8;
    if (t->numel < 0 || (uint64_t)t->numel > SIZE_MAX / 8 || !t->name) {
        cv_tensor_free(t);
        return NULL;
    }
    t->data = calloc((size_t)t->numel + 1, width);
    if (!t->data) {
        cv_tensor_free(t);
        return NULL;
    }
    return t;
}

void cv_tensor_free(struct onnx_tensor *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->data);
    free(t);
}

double cv_tensor_f(const struct onnx_tensor *t, int64_t k)
{
    return t->dtype == QUANTA_F32 ? (double)((const float *)t->data)[k]
                                  : (double)((const int64_t *)t->data)[k];
}

int64_t cv_tensor_i(const struct onnx_tensor *t, int64_t k)
{
    if (t->dtype == QUANTA_I64)
        return ((const int64_t *)t->data)[k];
    float f = ((const float *)t->data)[k];
    return f >= -9.2e18f && f <= 9.2e18f ? (int64_t)f : 0;
}

/* ---- the value table ----------------------------------------------------- */

struct cv_value *cv_find(struct cv *cv, const char *name)
{
    for (int i = cv->n_vals - 1; i >= 0; i--)
        if (strcmp(cv->vals[i].name, name) == 0)
            return &cv->vals[i];
    return NULL;
}

enum quanta_status cv_lookup(struct cv *cv, const char *name, struct cv_value **out)
{
    *out = cv_find(cv, name);
    return QUANTA_OK;
}

/* ONNX readers of name: node inputs and graph outputs. */
static int count_uses(const struct cv *cv, const char *name, bool *is_output)
{
    const struct onnx_graph *og = &cv->m->graph;
    int n = 0;
    for (int i = 0; i < og->n_nodes; i++)
        for (int k = 0; k < og->nodes[i].n_inputs; k++)
            n += strcmp(og->nodes[i].inputs[k], name) == 0;
    *is_output = false;
    for (int i = 0; i < og->n_outputs; i++)
        if (strcmp(og->outputs[i].name, name) == 0)
            *is_output = true;
    return n;
}

enum quanta_status cv_table_add(struct cv *cv, const char *name, struct cv_value **out)
{
    if (cv_find(cv, name))
        return cv_fail(cv, "value '%s' is defined twice", name);
    if (cv->n_vals == cv->cap_vals) {
        if (cv->cap_vals > INT_MAX / 4)
            return cv_nomem(cv);
        int cap = cv->cap_vals ? cv->cap_vals * 2 : 32;
        struct cv_value *p = realloc(cv->vals, (size_t)cap * sizeof *p);
        if (!p)
            return cv_nomem(cv);
        cv->vals = p;
        cv->cap_vals = cap;
    }
    struct cv_value *v = &cv->vals[cv->n_vals];
    memset(v, 0, sizeof *v);
    if (!(v->name = strdup(name)))
        return cv_nomem(cv);
    v->q = -1;
    v->uses = count_uses(cv, name, &v->is_output);
    cv->n_vals++;
    *out = v;
    return QUANTA_OK;
}

enum quanta_status cv_input(struct cv *cv, int k, struct cv_value **out)
{
    *out = NULL;
    if (k >= cv->node->n_inputs || !cv->node->inputs[k][0])
        return QUANTA_OK;
    struct cv_value *v = cv_find(cv, cv->node->inputs[k]);
    if (!v)
        return cv_fail(cv, "input '%s' is not defined before the node", cv->node->inputs[k]);
    *out = v;
    return QUANTA_OK;
}

enum quanta_status cv_need(struct cv *cv, int k, struct cv_value **out)
{
    enum quanta_status st = cv_input(cv, k, out);
    if (!st && !*out)
        return cv_fail(cv, "input %d is missing", k);
    return st;
}

enum quanta_status cv_need_const(struct cv *cv, int k, const char *what,
                                 const struct onnx_tensor **out)
{
    struct cv_value *v;
    enum quanta_status st = cv_need(cv, k, &v);
    if (st)
        return st;
    if (v->kind != CV_CONST)
        return cv_fail(cv, "%s '%s' must be a constant (an initializer or computable without "
                           "input data)",
                       what, v->name);
    if (v->batch_bcast)
        return cv_fail(cv, "%s '%s' is expanded to the batch size, which is not supported here",
                       what, v->name);
    *out = v->c;
    return QUANTA_OK;
}

enum quanta_status cv_need_act(struct cv *cv, int k, struct cv_value **out)
{
    enum quanta_status st = cv_need(cv, k, out);
    if (st)
        return st;
    if ((*out)->kind != CV_ACT)
        return cv_fail(cv, "input '%s' is a constant, but this operator is converted only "
                           "when it reads input data",
                       (*out)->name);
    return QUANTA_OK;
}

static enum quanta_status def_output(struct cv *cv, int k, struct cv_value **out)
{
    if (k >= cv->node->n_outputs || !cv->node->outputs[k][0])
        return cv_fail(cv, "output %d is missing", k);
    return cv_table_add(cv, cv->node->outputs[k], out);
}

enum quanta_status cv_def_const(struct cv *cv, int k, struct onnx_tensor *t)
{
    struct cv_value *v;
    enum quanta_status st = def_output(cv, k, &v);
    if (st) {
        cv_tensor_free(t);
        return st;
    }
    v->kind = CV_CONST;
    v->c = t;
    v->owned = t;
    return QUANTA_OK;
}

enum quanta_status cv_def_batch_bcast(struct cv *cv, int k, struct onnx_tensor *t)
{
    enum quanta_status st = cv_def_const(cv, k, t);
    if (!st)
        cv_find(cv, cv->node->outputs[k])->batch_bcast = true;
    return st;
}

enum quanta_status cv_def_act(struct cv *cv, int k, const struct cv_value *proto)
{
    struct cv_value copy = *proto, *v;
    enum quanta_status st = def_output(cv, k, &v); /* may move proto */
    if (st)
        return st;
    char *name = v->name;
    int uses = v->uses;
    bool is_output = v->is_output;
    *v = copy;
    v->name = name;
    v->uses = uses;
    v->is_output = is_output;
    v->kind = CV_ACT;
    v->c = NULL;
    v->owned = NULL;
    v->fold_pad = false; /* set by Pad on its own output only */
    return QUANTA_OK;
}

/* ---- attributes ---------------------------------------------------------- */

static enum quanta_status attr_type(struct cv *cv, const struct onnx_attr *a, int want,
                                    const char *what)
{
    /* Files of IR version 1 may leave the type out. */
    if (a->type == want || a->type == ONNX_ATTR_UNDEFINED)
        return QUANTA_OK;
    return cv_fail(cv, "attribute '%s' has type %d but %s is needed", a->name, a->type, what);
}

enum quanta_status cv_attr_int(struct cv *cv, const char *name, int64_t def, int64_t *out)
{
    const struct onnx_attr *a = onnx_node_attr(cv->node, name);
    *out = def;
    if (!a)
        return QUANTA_OK;
    enum quanta_status st = attr_type(cv, a, ONNX_ATTR_INT, "INT");
    if (!st)
        *out = a->i;
    return st;
}

enum quanta_status cv_attr_float(struct cv *cv, const char *name, float def, float *out)
{
    const struct onnx_attr *a = onnx_node_attr(cv->node, name);
    *out = def;
    if (!a)
        return QUANTA_OK;
    enum quanta_status st = attr_type(cv, a, ONNX_ATTR_FLOAT, "FLOAT");
    if (!st)
        *out = a->f;
    return st;
}

enum quanta_status cv_attr_ints(struct cv *cv, const char *name, const int64_t **v, int *n)
{
    const struct onnx_attr *a = onnx_node_attr(cv->node, name);
    *v = NULL;
    *n = -1;
    if (!a)
        return QUANTA_OK;
    enum quanta_status st = attr_type(cv, a, ONNX_ATTR_INTS, "INTS");
    if (!st) {
        *v = a->ints;
        *n = a->n_ints;
    }
    return st;
}

enum quanta_status cv_attr_string(struct cv *cv, const char *name, const char *def,
                                  const char **out)
{
    const struct onnx_attr *a = onnx_node_attr(cv->node, name);
    *out = def;
    if (!a)
        return QUANTA_OK;
    enum quanta_status st = attr_type(cv, a, ONNX_ATTR_STRING, "STRING");
    if (!st && a->s && !onnx_text_valid(a->s, a->s_size))
        return cv_fail(cv, "attribute '%s' is not UTF-8 text without control characters",
                       a->name);
    if (!st)
        *out = a->s ? a->s : "";
    return st;
}

enum quanta_status cv_check_attrs(struct cv *cv, const char *const *allowed)
{
    for (int i = 0; i < cv->node->n_attrs; i++) {
        const char *name = cv->node->attrs[i].name;
        bool ok = false;
        for (int k = 0; allowed && allowed[k] && !ok; k++)
            ok = strcmp(allowed[k], name) == 0;
        if (!ok)
            return cv_fail(cv, "attribute '%s' is not supported", name);
    }
    return QUANTA_OK;
}

enum quanta_status cv_check_binary_attrs(struct cv *cv)
{
    static const char *const legacy[] = {"broadcast", NULL};
    if (cv->m->opset < 7 && onnx_node_attr(cv->node, "axis"))
        return cv_fail(cv, "attribute 'axis' (broadcasting along an axis, before opset 7) is "
                           "not supported");
    return cv_check_attrs(cv, cv->m->opset < 7 ? legacy : NULL);
}

/* ---- the driver ---------------------------------------------------------- */

void onnx_import_info_free(struct onnx_import_info *info)
{
    if (!info)
        return;
    free(info->input_shapes);
    free(info->producer);
    free(info->output_nhwc);
    memset(info, 0, sizeof *info);
}

static void cv_free(struct cv *cv)
{
    for (int i = 0; i < cv->n_vals; i++) {
        free(cv->vals[i].name);
        cv_tensor_free(cv->vals[i].owned);
    }
    free(cv->vals);
    free(cv->skip);
    free(cv->bags);
}

static bool integer_elem(int elem)
{
    return elem != 0 && elem != ONNX_FLOAT && elem != ONNX_DOUBLE && elem != ONNX_FLOAT16 &&
           elem != ONNX_BFLOAT16;
}

/* Activations of integer or BOOL type are held as float: only operators
 * whose float result is exactly the integer one may read them (no
 * wrap-around, no integer division or rounding). */
static enum quanta_status check_elem(struct cv *cv, int elem)
{
    static const char *const exact[] = {
        "Identity", "Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Slice",
        "Concat", "Split", "Max", "Min", "Relu", "MaxPool", "ReduceMax", "ReduceMin", "Clip",
        "Cast", "CastLike", NULL};
    cv->probe = true;
    bool known = cv_convert_node(cv) == QUANTA_OK;
    cv->probe = false;
    if (!integer_elem(elem) || !known)
        return QUANTA_OK; /* an operator not converted at all says so itself */
    for (int i = 0; exact[i]; i++)
        if (strcmp(cv->node->op_type, exact[i]) == 0)
            return QUANTA_OK;
    return cv_fail(cv, "reads %s activations; quanta computes in float, where %s would not "
                       "give the integer result (only moves, Max, Min, Clip, Relu, MaxPool, "
                       "ReduceMax/Min and Cast take integers)",
                   onnx_data_type_name(elem), cv->node->op_type);
}

static enum quanta_status convert(struct cv *cv, struct onnx_import_info *info)
{
    const struct onnx_model *m = cv->m;
    const struct onnx_graph *og = &m->graph;
    enum quanta_status st;

    if (m->opset == 0)
        return cv_fail(cv, "the model imports no opset of the default ONNX domain");
    if (m->opset < ONNX_IMPORT_MIN_OPSET || m->opset > ONNX_IMPORT_MAX_OPSET)
        return cv_fail(cv, "opset %lld is not supported (quanta imports opsets %d to %d); "
                           "convert the model with onnx.version_converter",
                       (long long)m->opset, ONNX_IMPORT_MIN_OPSET, ONNX_IMPORT_MAX_OPSET);
    info->opset = m->opset;
    if ((st = cv_add_inputs(cv, info)) || (st = cv_add_initializers(cv)))
        return st;
    if (og->n_nodes > 0 && !(cv->skip = calloc((size_t)og->n_nodes, sizeof *cv->skip)))
        return cv_nomem(cv);
    if ((st = cv_find_bags(cv)))
        return st;
    for (int i = 0; i < og->n_nodes; i++) {
        const struct onnx_node *node = &og->nodes[i];
        cv->node = node;
        cv->node_index = i;
        char base[256];
        if (node->name[0])
            snprintf(base, sizeof base, "%s", node->name);
        else
            snprintf(base, sizeof base, "%s_%d", node->op_type, i);
        cv_unique_name(cv->g, true, base, cv->node_name, sizeof cv->node_name);
        if (node->domain[0] && strcmp(node->domain, "ai.onnx") != 0)
            return cv_fail(cv, "operator domain '%s' is not supported (only the default ONNX "
                               "domain)",
                           node->domain);
        bool done = cv->skip[i]; /* a fused node: its inputs are read all the same */
        if (!done && (st = cv_fold_node(cv, &done)))
            return st;
        int elem = 0;
        if (!done) {
            /* the type of the first activation read (Pow's exponent may differ) */
            bool found = false;
            for (int k = 0; k < node->n_inputs && !found; k++) {
                struct cv_value *v = node->inputs[k][0] ? cv_find(cv, node->inputs[k]) : NULL;
                if (v && v->kind == CV_ACT) {
                    elem = v->elem;
                    found = true;
                }
            }
            if ((st = check_elem(cv, elem)) || (st = cv_convert_node(cv)))
                return st;
            /* results keep the type of what they were computed from; Cast
             * sets its own */
            bool cast = strcmp(node->op_type, "Cast") == 0 ||
                        strcmp(node->op_type, "CastLike") == 0;
            for (int k = 0; k < node->n_outputs && !cast; k++) {
                struct cv_value *v = node->outputs[k][0] ? cv_find(cv, node->outputs[k]) : NULL;
                if (v && v->kind == CV_ACT)
                    v->elem = elem;
            }
        }
        /* the node has read its inputs */
        for (int k = 0; k < node->n_inputs; k++) {
            struct cv_value *v = node->inputs[k][0] ? cv_find(cv, node->inputs[k]) : NULL;
            if (v && v->uses > 0)
                v->uses--;
        }
    }
    cv->node = NULL;
    if ((st = cv_add_outputs(cv, info)))
        return st;
    return graph_fuse_elementwise(cv->g) < 0 ? cv_nomem(cv) : QUANTA_OK;
}

static const char *base_name(const char *path, char *buf, size_t size)
{
    const char *slash = strrchr(path, '/');
    snprintf(buf, size, "%s", slash ? slash + 1 : path);
    char *dot = strrchr(buf, '.');
    if (dot && dot != buf)
        *dot = '\0';
    return buf;
}

enum quanta_status onnx_import_graph(struct graph *g, struct onnx_import_info *info,
                                     const char *path, const struct onnx_import_options *options,
                                     struct quanta_error *err)
{
    struct onnx_model m;
    memset(g, 0, sizeof *g);
    memset(info, 0, sizeof *info);
    enum quanta_status st = onnx_model_load(&m, path, err);
    if (st)
        return st;
    struct cv cv = {.m = &m, .opt = options, .g = g, .source = path, .err = err};
    char buf[256];
    const char *name = options && options->name ? options->name
                       : m.graph.name && m.graph.name[0] ? m.graph.name
                                                          : base_name(path, buf, sizeof buf);
    size_t plen = (m.producer_name ? strlen(m.producer_name) : 0) +
                  (m.producer_version ? strlen(m.producer_version) : 0) + 2;
    info->producer = malloc(plen);
    g->name = strdup(name[0] ? name : "model");
    if (!g->name || !info->producer) {
        st = cv_nomem(&cv);
        goto done;
    }
    snprintf(info->producer, plen, "%s%s%s", m.producer_name ? m.producer_name : "",
             m.producer_name && m.producer_version ? " " : "",
             m.producer_version ? m.producer_version : "");
    if ((st = convert(&cv, info)))
        goto done;
    st = graph_validate(g, path, err);
done:
    cv_free(&cv);
    onnx_model_free(&m);
    if (st) {
        graph_free(g);
        onnx_import_info_free(info);
    }
    return st;
}

enum quanta_status onnx_import_file(const char *path, const char *output,
                                    const struct onnx_import_options *options,
                                    struct quanta_error *err)
{
    struct graph g;
    struct onnx_import_info info;
    char sha[QUANTA_SHA256_HEX_SIZE], opset[32];
    enum quanta_status st = onnx_import_graph(&g, &info, path, options, err);
    if (st)
        return st;
    if ((st = quanta_sha256_file(path, sha, err)))
        goto done;
    snprintf(opset, sizeof opset, "%lld", info.opset);
    const struct st_meta meta[] = {
        {"quanta.version", QUANTA_VERSION},
        {"quanta.import.source", "onnx"},
        {"quanta.import.layout", "nchw"},
        {"quanta.import.input_shape", info.input_shapes},
        {"quanta.import.opset", opset},
        {"quanta.import.producer", info.producer},
        {"quanta.import.source_sha256", sha},
    };
    st = graph_save(&g, output, meta, sizeof meta / sizeof meta[0], err);
done:
    graph_free(&g);
    onnx_import_info_free(&info);
    return st;
}

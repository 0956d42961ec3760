/* ONNX -> quanta graph: the driver (inputs, nodes in order, outputs), the
 * value table, attribute getters and the layout helpers. The operators are
 * in onnx_ops.c (the table) and onnx_<family>.c, constant folding in
 * onnx_fold.c. */
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

static struct cv_value *find(struct cv *cv, const char *name)
{
    for (int i = cv->n_vals - 1; i >= 0; i--)
        if (strcmp(cv->vals[i].name, name) == 0)
            return &cv->vals[i];
    return NULL;
}

enum quanta_status cv_lookup(struct cv *cv, const char *name, struct cv_value **out)
{
    *out = find(cv, name);
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

static enum quanta_status add_val(struct cv *cv, const char *name, struct cv_value **out)
{
    if (find(cv, name))
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
    struct cv_value *v = find(cv, cv->node->inputs[k]);
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
    return add_val(cv, cv->node->outputs[k], out);
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
        find(cv, cv->node->outputs[k])->batch_bcast = true;
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

/* ---- layout -------------------------------------------------------------- */

void cv_perm_identity(int rank, int *perm)
{
    for (int i = 0; i < rank; i++)
        perm[i] = i;
}

void cv_perm_nhwc(int *perm)
{
    perm[0] = 0;
    perm[1] = 2;
    perm[2] = 3;
    perm[3] = 1;
}

struct quanta_shape cv_phys_shape(const struct quanta_shape *shape, const int *perm)
{
    struct quanta_shape s = *shape;
    for (int i = 0; i < shape->rank; i++)
        s.dims[i] = shape->dims[perm[i]];
    return s;
}

bool cv_layout_equiv(const struct quanta_shape *shape, const int *a, const int *b)
{
    int i = 0, j = 0, r = shape->rank;
    for (;;) {
        while (i < r && shape->dims[a[i]] == 1)
            i++;
        while (j < r && shape->dims[b[j]] == 1)
            j++;
        if (i == r || j == r)
            return i == r && j == r;
        if (a[i] != b[j])
            return false;
        i++;
        j++;
    }
}

int cv_phys_axis(const int *perm, int rank, int a)
{
    for (int i = 0; i < rank; i++)
        if (perm[i] == a)
            return i;
    return -1;
}

int cv_batch_axis(const struct cv_value *v)
{
    for (int a = 0; a < v->shape.rank; a++)
        if (v->shape.dims[a] < 0)
            return a;
    return -1;
}

bool cv_plain(const struct cv_value *v)
{
    return v->kind != CV_ACT || (v->n_onnx == 0 && cv_batch_axis(v) <= 0);
}

int cv_onnx_rank(const struct cv_value *v)
{
    return v->n_onnx > 0 ? v->n_onnx : v->shape.rank;
}

int cv_first_axis(const struct cv_value *v, int a)
{
    if (v->n_onnx == 0)
        return a;
    int e = 0;
    for (int i = 0; i < a; i++)
        e += v->group[i];
    return e;
}

void cv_perm_canonical(const struct cv_value *v, int *perm)
{
    int b = cv_batch_axis(v), k = 0;
    if (b >= 0)
        perm[k++] = b;
    for (int a = 0; a < v->shape.rank; a++)
        if (a != b)
            perm[k++] = a;
}

enum quanta_status cv_merge_groups(struct cv *cv, struct cv_value *v)
{
    if (v->n_onnx == 0)
        return QUANTA_OK;
    const int b = cv_batch_axis(v), r = v->shape.rank;
    bool need = false;
    for (int a = 0, e = 0; a < v->n_onnx; e += v->group[a++])
        need = need || (v->group[a] > 1 && !(b >= e && b < e + v->group[a]));
    if (!need)
        return QUANTA_OK;
    /* stored with the batch first and the rest in order, so every group
     * is stored together; then one reshape */
    int perm[QUANTA_MAX_RANK], q;
    cv_perm_canonical(v, perm);
    enum quanta_status st = cv_materialize(cv, v, perm, &q);
    if (st)
        return st;
    struct cv_value out = *v;
    int k = 0;
    int map[QUANTA_MAX_RANK]; /* old axis -> new axis */
    for (int a = 0, e = 0; a < v->n_onnx; e += v->group[a++]) {
        bool batch = b >= e && b < e + v->group[a];
        if (v->group[a] == 1 || batch) {
            for (int j = 0; j < v->group[a]; j++) {
                map[e + j] = k;
                out.shape.dims[k++] = v->shape.dims[e + j];
            }
            out.group[a] = v->group[a];
        } else {
            int64_t n = 1;
            for (int j = 0; j < v->group[a]; j++) {
                map[e + j] = k;
                n *= v->shape.dims[e + j];
            }
            out.shape.dims[k++] = n;
            out.group[a] = 1;
        }
    }
    out.shape.rank = k;
    int j = 0;
    for (int i = 0; i < r; i++) { /* in the canonical order, first of each merged run */
        int m = map[perm[i]];
        if (j == 0 || out.perm[j - 1] != m)
            out.perm[j++] = m;
    }
    struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
    char name[300];
    snprintf(name, sizeof name, "%s.merge", cv->g->values[q].name);
    out.q = cv_new_value(cv, name, &phys);
    int n = out.q < 0 ? -1 : cv_add_node(cv, GRAPH_OP_RESHAPE, "merge", &q, 1, out.q);
    if (n < 0)
        return cv_nomem(cv);
    cv->g->nodes[n].attrs.shape = phys;
    bool grouped = false;
    for (int a = 0; a < out.n_onnx; a++)
        grouped = grouped || out.group[a] > 1;
    if (!grouped)
        out.n_onnx = 0;
    *v = out;
    return QUANTA_OK;
}

static bool shape_equal(const struct quanta_shape *a, const struct quanta_shape *b)
{
    return quanta_shape_equal(a, b);
}

enum quanta_status cv_materialize(struct cv *cv, const struct cv_value *v, const int *perm,
                                  int *q)
{
    char buf[128];
    struct quanta_shape want = cv_phys_shape(&v->shape, perm);
    if (v->flat) {
        /* columns in the physical order of flat_shape: unflatten, put the
         * axes in ONNX order, flatten again */
        const struct quanta_shape *fs = &v->flat_shape;
        struct cv_value u = *v;
        u.flat = false;
        u.shape = *fs;
        memcpy(u.perm, v->flat_perm, sizeof u.perm);
        int ident[QUANTA_MAX_RANK], t;
        cv_perm_identity(fs->rank, ident);
        enum quanta_status st = cv_materialize(cv, &u, ident, &t);
        if (st)
            return st;
        char name[300];
        snprintf(name, sizeof name, "%s.flatten", cv->g->values[t].name);
        int out = cv_new_value(cv, name, &want);
        int n = out < 0 ? -1 : cv_add_node(cv, GRAPH_OP_RESHAPE, "reshape", &t, 1, out);
        if (n < 0)
            return cv_nomem(cv);
        cv->g->nodes[n].attrs.shape = want;
        *q = out;
        return QUANTA_OK;
    }
    if (!cv_layout_equiv(&v->shape, v->perm, perm)) {
        /* a transpose node moves the memory from v's layout to perm: its
         * input is v in its own physical shape (reshaped if need be) */
        const int r = v->shape.rank;
        struct quanta_shape have = cv_phys_shape(&v->shape, v->perm);
        int in = v->q, inv[QUANTA_MAX_RANK];
        char name[300];
        if (!shape_equal(&cv->g->values[in].shape, &have)) {
            snprintf(name, sizeof name, "%s.reshape", cv->g->values[in].name);
            int out = cv_new_value(cv, name, &have);
            int n = out < 0 ? -1 : cv_add_node(cv, GRAPH_OP_RESHAPE, "reshape", &in, 1, out);
            if (n < 0)
                return cv_nomem(cv);
            cv->g->nodes[n].attrs.shape = have;
            in = out;
        }
        if (r > 0 && have.dims[0] < 0 && v->perm[0] != perm[0])
            return cv_fail(cv, "input '%s' %s would need its batch axis moved", v->name,
                           quanta_shape_format(&v->shape, buf, sizeof buf));
        for (int i = 0; i < r; i++)
            inv[v->perm[i]] = i;
        snprintf(name, sizeof name, "%s.transpose", cv->g->values[v->q].name);
        int out = cv_new_value(cv, name, &want);
        int n = out < 0 ? -1 : cv_add_node(cv, GRAPH_OP_TRANSPOSE, "transpose", &in, 1, out);
        if (n < 0)
            return cv_nomem(cv);
        cv->g->nodes[n].attrs.n_perm = r;
        for (int j = 0; j < r; j++)
            cv->g->nodes[n].attrs.perm[j] = inv[perm[j]];
        *q = out;
        return QUANTA_OK;
    }
    if (shape_equal(&cv->g->values[v->q].shape, &want)) {
        *q = v->q;
        return QUANTA_OK;
    }
    char name[300];
    snprintf(name, sizeof name, "%s.reshape", cv->g->values[v->q].name);
    int out = cv_new_value(cv, name, &want);
    if (out < 0)
        return cv_nomem(cv);
    int in = v->q;
    int n = cv_add_node(cv, GRAPH_OP_RESHAPE, "reshape", &in, 1, out);
    if (n < 0)
        return cv_nomem(cv);
    cv->g->nodes[n].attrs.shape = want;
    *q = out;
    return QUANTA_OK;
}

/* ---- building the quanta graph ------------------------------------------- */

static bool value_name_used(const struct graph *g, const char *name)
{
    return graph_find_value(g, name) >= 0;
}

static bool node_name_used(const struct graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].name, name) == 0)
            return true;
    return false;
}

/* base, else base_2, base_3, ... (buf holds the result). */
static void unique_name(const struct graph *g, bool node, const char *base, char *buf,
                        size_t size)
{
    snprintf(buf, size, "%s", base[0] ? base : "v");
    for (int k = 2; (node ? node_name_used(g, buf) : value_name_used(g, buf)) && k < INT_MAX;
         k++)
        snprintf(buf, size, "%s_%d", base[0] ? base : "v", k);
}

int cv_new_value(struct cv *cv, const char *name, const struct quanta_shape *shape)
{
    char buf[512];
    unique_name(cv->g, false, name, buf, sizeof buf);
    return graph_add_value(cv->g, buf, GRAPH_VALUE_NODE, QUANTA_F32, shape);
}

int cv_const_value(struct cv *cv, const char *base, const float *data,
                   const struct quanta_shape *shape)
{
    char buf[512];
    int64_t n = quanta_shape_numel(shape);
    if (n < 0)
        return -1;
    float *copy = malloc((size_t)n * sizeof *copy + 1);
    if (!copy)
        return -1;
    if (n)
        memcpy(copy, data, (size_t)n * sizeof *copy);
    unique_name(cv->g, false, base, buf, sizeof buf);
    int v = graph_add_value(cv->g, buf, GRAPH_VALUE_CONST, QUANTA_F32, shape);
    if (v < 0) {
        free(copy);
        return -1;
    }
    cv->g->values[v].owned = copy;
    cv->g->values[v].data = copy;
    return v;
}

int cv_add_node(struct cv *cv, enum graph_op op, const char *suffix, const int *inputs,
                int n_inputs, int output)
{
    char base[512], buf[512];
    if (suffix)
        snprintf(base, sizeof base, "%s.%s", cv->node_name, suffix);
    else
        snprintf(base, sizeof base, "%s", cv->node_name);
    unique_name(cv->g, true, base, buf, sizeof buf);
    return graph_add_node(cv->g, op, buf, inputs, n_inputs, &output, 1);
}

enum quanta_status cv_retag_node(struct cv *cv, int node, enum graph_op op)
{
    struct graph_node *n = &cv->g->nodes[node];
    struct graph_value *v = &cv->g->values[n->outputs[0]];
    char buf[512];
    char *node_name, *value_name;
    unique_name(cv->g, true, cv->node_name, buf, sizeof buf);
    node_name = strdup(buf);
    unique_name(cv->g, false, cv->node->outputs[0], buf, sizeof buf);
    value_name = strdup(buf);
    if (!node_name || !value_name) {
        free(node_name);
        free(value_name);
        return cv_nomem(cv);
    }
    free(n->name);
    n->name = node_name;
    free(v->name);
    v->name = value_name;
    n->op = op;
    return QUANTA_OK;
}

int cv_producer(struct cv *cv, int q)
{
    for (int i = cv->g->n_nodes - 1; i >= 0; i--)
        if (cv->g->nodes[i].n_outputs == 1 && cv->g->nodes[i].outputs[0] == q)
            return i;
    return -1;
}

bool cv_sole_reader(struct cv *cv, int q)
{
    const struct graph *g = cv->g;
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == q)
                return false;
    int readers = 0;
    for (int i = 0; i < cv->n_vals; i++) {
        const struct cv_value *v = &cv->vals[i];
        if (v->kind == CV_ACT && v->q == q)
            readers += v->uses + (v->is_output ? 1 : 0);
    }
    return readers == 1;
}

/* ---- graph inputs -------------------------------------------------------- */

static bool is_initializer(const struct onnx_graph *og, const char *name)
{
    for (int i = 0; i < og->n_initializers; i++)
        if (strcmp(og->initializers[i].name, name) == 0)
            return true;
    return false;
}

/* The --input-shape for an input, NCHW order (see onnx_import.h). */
static enum quanta_status apply_input_shape(struct cv *cv, const struct onnx_value_info *in,
                                            struct quanta_shape *shape)
{
    const struct onnx_import_options *opt = cv->opt;
    for (int i = 0; opt && i < opt->n_input_shapes; i++) {
        const struct onnx_input_shape *given = &opt->input_shapes[i];
        if (strcmp(given->name, in->name) != 0)
            continue;
        const struct quanta_shape *s = &given->shape;
        char b1[128], b2[128];
        if (s->rank != shape->rank)
            return cv_fail(cv, "--input-shape %s has rank %d but input '%s' has shape %s",
                           given->name, s->rank, in->name,
                           quanta_shape_format(shape, b1, sizeof b1));
        bool nchw = true, nhwc = s->rank == 4;
        int perm[4];
        cv_perm_nhwc(perm);
        for (int d = 1; d < s->rank; d++) {
            nchw = nchw && (shape->dims[d] < 0 || shape->dims[d] == s->dims[d]);
            /* given NHWC: given dim d is ONNX dim perm[d] */
            nhwc = nhwc && (shape->dims[perm[d]] < 0 || shape->dims[perm[d]] == s->dims[d]);
        }
        struct quanta_shape out = *s;
        if (!nchw && nhwc)
            for (int d = 1; d < 4; d++)
                out.dims[perm[d]] = s->dims[d];
        else if (!nchw)
            return cv_fail(cv, "--input-shape %s=%s contradicts the model's shape %s",
                           given->name, quanta_shape_format(s, b1, sizeof b1),
                           quanta_shape_format(shape, b2, sizeof b2));
        out.dims[0] = s->dims[0] > 0 ? s->dims[0] : -1;
        *shape = out;
        return QUANTA_OK;
    }
    return QUANTA_OK;
}

static enum quanta_status add_inputs(struct cv *cv, struct onnx_import_info *info)
{
    const struct onnx_graph *og = &cv->m->graph;
    struct graph *g = cv->g;
    enum quanta_status st;
    size_t text_cap = 64, text_len = 0;
    char *text = calloc(1, text_cap);
    if (!text)
        return cv_nomem(cv);
    info->input_shapes = text;
    int n = 0;
    for (int i = 0; i < og->n_inputs; i++)
        n += !is_initializer(og, og->inputs[i].name);
    if (n == 0)
        return cv_fail(cv, "the graph has no inputs");
    g->inputs = calloc((size_t)n, sizeof *g->inputs);
    if (!g->inputs)
        return cv_nomem(cv);
    for (int i = 0; i < og->n_inputs; i++) {
        const struct onnx_value_info *in = &og->inputs[i];
        char buf[128];
        if (is_initializer(og, in->name))
            continue;
        /* dtype: the graph value's (float, or int64/int32 ids); data:
         * the element type the model declares, which the feed converts */
        enum quanta_dtype dtype = QUANTA_F32, data = QUANTA_DTYPE_INVALID;
        switch (in->elem_type) {
        case ONNX_FLOAT: break;
        case ONNX_INT64: dtype = QUANTA_I64; break;
        case ONNX_INT32: dtype = QUANTA_I32; break;
        case ONNX_DOUBLE: data = QUANTA_F64; break;
        case ONNX_FLOAT16: data = QUANTA_F16; break;
        case ONNX_BFLOAT16: data = QUANTA_BF16; break;
        case ONNX_UINT8: data = QUANTA_U8; break;
        case ONNX_INT8: data = QUANTA_I8; break;
        case ONNX_INT16: data = QUANTA_I16; break;
        case ONNX_UINT16: data = QUANTA_U16; break;
        /* ids wider than I32: held as I64, the declared type kept */
        case ONNX_UINT32: dtype = QUANTA_I64, data = QUANTA_U32; break;
        case ONNX_UINT64: dtype = QUANTA_I64, data = QUANTA_U64; break;
        case ONNX_BOOL: data = QUANTA_BOOL; break;
        default:
            return cv_fail(cv, "input '%s' has element type %s; FLOAT, DOUBLE, FLOAT16, BFLOAT16, "
                               "UINT8, INT8, UINT16, INT16, BOOL, INT32, INT64, UINT32 or UINT64 "
                               "is needed",
                           in->name, onnx_data_type_name(in->elem_type));
        }
        if (!in->has_shape || in->rank < 1)
            return cv_fail(cv, "input '%s' has no shape (or is a scalar); give --input-shape",
                           in->name);
        if (in->rank > QUANTA_MAX_RANK)
            return cv_fail(cv, "input '%s' has rank %d; at most %d is supported", in->name,
                           in->rank, QUANTA_MAX_RANK);
        struct quanta_shape shape = {.rank = in->rank};
        for (int d = 0; d < in->rank; d++)
            shape.dims[d] = in->dims[d];
        if ((st = apply_input_shape(cv, in, &shape)))
            return st;
        bool given = false;
        for (int k = 0; cv->opt && k < cv->opt->n_input_shapes; k++)
            given = given || strcmp(cv->opt->input_shapes[k].name, in->name) == 0;
        if (!given)
            shape.dims[0] = -1; /* any batch, whatever the file says */
        for (int d = 1; d < shape.rank; d++)
            if (shape.dims[d] == 0)
                return cv_fail(cv, "input '%s' has shape %s with an empty dimension %d; quanta "
                                   "needs at least one element",
                               in->name, quanta_shape_format(&shape, buf, sizeof buf), d);
            else if (shape.dims[d] < 1)
                return cv_fail(cv, "input '%s' has shape %s with an unknown dimension %d; give "
                                   "--input-shape %s=...",
                               in->name, quanta_shape_format(&shape, buf, sizeof buf), d,
                               in->name);
        struct cv_value *v;
        if ((st = add_val(cv, in->name, &v)))
            return st;
        v->kind = CV_ACT;
        v->shape = shape;
        v->elem = dtype == QUANTA_F32 && in->elem_type != ONNX_FLOAT ? in->elem_type : 0;
        if (shape.rank == 4)
            cv_perm_nhwc(v->perm);
        else
            cv_perm_identity(shape.rank, v->perm);
        struct quanta_shape phys = cv_phys_shape(&shape, v->perm);
        v->q = graph_add_value(g, in->name, GRAPH_VALUE_INPUT, dtype, &phys);
        if (v->q < 0)
            return cv_nomem(cv);
        struct graph_input *gi = &g->inputs[g->n_inputs++];
        gi->value = v->q;
        gi->data_dtype = data;
        if (cv->opt && cv->opt->has_normalize && in->elem_type == ONNX_FLOAT) {
            const struct quanta_normalize *nz = &cv->opt->normalize;
            float *mean = malloc((size_t)(nz->n_mean > 0 ? nz->n_mean : 1) * sizeof *mean);
            float *std = malloc((size_t)(nz->n_std > 0 ? nz->n_std : 1) * sizeof *std);
            if (!mean || !std) {
                free(mean);
                free(std);
                return cv_nomem(cv);
            }
            for (int k = 0; k < nz->n_mean; k++)
                mean[k] = nz->mean[k];
            for (int k = 0; k < nz->n_std; k++)
                std[k] = nz->std[k];
            if (nz->n_mean < 1)
                mean[0] = 0;
            if (nz->n_std < 1)
                std[0] = 1;
            gi->has_normalize = true;
            gi->normalize.scale = nz->scale;
            gi->normalize.n_mean = nz->n_mean > 0 ? nz->n_mean : 1;
            gi->normalize.mean = mean;
            gi->normalize.n_std = nz->n_std > 0 ? nz->n_std : 1;
            gi->normalize.std = std;
        }
        /* the original shape, for quanta.import.input_shape */
        char item[300];
        quanta_shape_format(&shape, buf, sizeof buf);
        if (n == 1)
            snprintf(item, sizeof item, "%s", buf);
        else
            snprintf(item, sizeof item, "%s%s=%s", text_len ? "; " : "", in->name, buf);
        size_t len = strlen(item);
        if (text_len + len + 1 > text_cap) {
            text_cap = (text_len + len + 1) * 2;
            char *p = realloc(text, text_cap);
            if (!p)
                return cv_nomem(cv);
            text = info->input_shapes = p;
        }
        memcpy(text + text_len, item, len + 1);
        text_len += len;
    }
    for (int k = 0; cv->opt && k < cv->opt->n_input_shapes; k++) {
        bool found = false;
        for (int i = 0; i < og->n_inputs && !found; i++)
            found = strcmp(og->inputs[i].name, cv->opt->input_shapes[k].name) == 0 &&
                    !is_initializer(og, og->inputs[i].name);
        if (!found)
            return quanta_fail(cv->err, QUANTA_ERR_USAGE, "--input-shape names '%s', which is "
                                                          "not an input of %s",
                               cv->opt->input_shapes[k].name, cv->source);
    }
    return QUANTA_OK;
}

static enum quanta_status add_initializers(struct cv *cv)
{
    const struct onnx_graph *og = &cv->m->graph;
    for (int i = 0; i < og->n_initializers; i++) {
        const struct onnx_tensor *t = &og->initializers[i];
        if (!t->name[0])
            return cv_fail(cv, "initializer %d has no name", i);
        if (find(cv, t->name))
            continue; /* an input of the same name (IR < 4 lists both) came first */
        struct cv_value *v;
        enum quanta_status st = add_val(cv, t->name, &v);
        if (st)
            return st;
        v->kind = CV_CONST;
        v->c = t;
    }
    return QUANTA_OK;
}

/* ---- graph outputs ------------------------------------------------------- */

static enum quanta_status add_outputs(struct cv *cv, struct onnx_import_info *info)
{
    const struct onnx_graph *og = &cv->m->graph;
    struct graph *g = cv->g;
    if (og->n_outputs < 1)
        return cv_fail(cv, "the graph has no outputs");
    g->outputs = calloc((size_t)og->n_outputs, sizeof *g->outputs);
    info->output_nhwc = calloc((size_t)og->n_outputs, sizeof *info->output_nhwc);
    if (!g->outputs || !info->output_nhwc)
        return cv_nomem(cv);
    for (int i = 0; i < og->n_outputs; i++) {
        const char *name = og->outputs[i].name;
        struct cv_value *v = find(cv, name);
        if (!v)
            return cv_fail(cv, "output '%s' is not produced by any node", name);
        if (v->kind != CV_ACT)
            return cv_fail(cv, "output '%s' is a constant; quanta outputs are computed from the "
                               "inputs",
                           name);
        int perm[QUANTA_MAX_RANK], q;
        cv_perm_identity(v->shape.rank, perm);
        if (v->shape.rank == 4 && !cv_layout_equiv(&v->shape, v->perm, perm)) {
            cv_perm_nhwc(perm); /* 4-D outputs come out NHWC */
            info->output_nhwc[i] = true;
        }
        /* other outputs in ONNX's order: a transpose node if need be, which
         * cannot move the batch */
        if (cv_batch_axis(v) > 0) {
            char buf[128];
            return cv_fail(cv, "output '%s' %s has its batch axis moved (by a Transpose); "
                               "quanta keeps the batch first",
                           name, quanta_shape_format(&v->shape, buf, sizeof buf));
        }
        enum quanta_status st = cv_materialize(cv, v, perm, &q);
        if (st)
            return st;
        if (q != v->q && strcmp(g->values[v->q].name, name) == 0) {
            /* a transpose made the output: it takes the ONNX name, the
             * value it reads a name of its own */
            char *stored = malloc(strlen(name) + sizeof ".stored");
            char *copy = strdup(name);
            if (!stored || !copy) {
                free(stored), free(copy);
                return cv_nomem(cv);
            }
            sprintf(stored, "%s.stored", name);
            free(g->values[v->q].name);
            g->values[v->q].name = stored;
            free(g->values[q].name);
            g->values[q].name = copy;
        }
        bool taken = g->values[q].kind != GRAPH_VALUE_NODE;
        for (int k = 0; k < g->n_outputs; k++)
            taken = taken || g->outputs[k] == q;
        if (taken) {
            /* a graph input passed through (Identity, Dropout) or a value
             * that is already an output: the output is a copy of it */
            int in = q;
            struct quanta_shape shape = g->values[in].shape; /* values may move */
            if ((q = cv_new_value(cv, name, &shape)) < 0)
                return cv_nomem(cv);
            snprintf(cv->node_name, sizeof cv->node_name, "%s", name);
            int n = cv_add_node(cv, GRAPH_OP_RESHAPE, "copy", &in, 1, q);
            if (n < 0)
                return cv_nomem(cv);
            g->nodes[n].attrs.shape = shape;
        }
        /* Keep the ONNX name where an alias (Identity, fused activation)
         * left the quanta value with another one. */
        if (strcmp(g->values[q].name, name) != 0 && graph_find_value(g, name) < 0) {
            char *copy = strdup(name);
            if (!copy)
                return cv_nomem(cv);
            free(g->values[q].name);
            g->values[q].name = copy;
        }
        g->outputs[g->n_outputs++] = q;
        info->n_outputs = g->n_outputs;
    }
    return QUANTA_OK;
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
    if ((st = add_inputs(cv, info)) || (st = add_initializers(cv)))
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
        unique_name(cv->g, true, base, cv->node_name, sizeof cv->node_name);
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
                struct cv_value *v = node->inputs[k][0] ? find(cv, node->inputs[k]) : NULL;
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
                struct cv_value *v = node->outputs[k][0] ? find(cv, node->outputs[k]) : NULL;
                if (v && v->kind == CV_ACT)
                    v->elem = elem;
            }
        }
        /* the node has read its inputs */
        for (int k = 0; k < node->n_inputs; k++) {
            struct cv_value *v = node->inputs[k][0] ? find(cv, node->inputs[k]) : NULL;
            if (v && v->uses > 0)
                v->uses--;
        }
    }
    cv->node = NULL;
    if ((st = add_outputs(cv, info)))
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

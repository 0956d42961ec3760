/* The layout of activations (a permutation of the ONNX axes, groups of
 * axes, the batch's place) and the quanta nodes and values the
 * conversion adds, named uniquely after the ONNX ones. */
#include "import/onnx_convert.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void cv_unique_name(const struct graph *g, bool node, const char *base, char *buf,
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
    cv_unique_name(cv->g, false, name, buf, sizeof buf);
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
    cv_unique_name(cv->g, false, base, buf, sizeof buf);
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
    cv_unique_name(cv->g, true, base, buf, sizeof buf);
    return graph_add_node(cv->g, op, buf, inputs, n_inputs, &output, 1);
}

enum quanta_status cv_retag_node(struct cv *cv, int node, enum graph_op op)
{
    struct graph_node *n = &cv->g->nodes[node];
    struct graph_value *v = &cv->g->values[n->outputs[0]];
    char buf[512];
    char *node_name, *value_name;
    cv_unique_name(cv->g, true, cv->node_name, buf, sizeof buf);
    node_name = strdup(buf);
    cv_unique_name(cv->g, false, cv->node->outputs[0], buf, sizeof buf);
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

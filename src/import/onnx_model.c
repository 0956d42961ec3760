/* Decoding an ONNX file into struct onnx_model (see onnx_model.h for the
 * fields read): the graph, its nodes and their attributes, value infos,
 * opsets; tensors are decoded by onnx_tensor.c. Every length, count and
 * size is checked against the bytes that hold it. */
#include "import/onnx_model.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "import/onnx_decode.h"

/* Subgraphs (Loop, If, Scan bodies) deeper than this are refused. */
#define ONNX_MAX_GRAPH_DEPTH 8

static void graph_free_onnx(struct onnx_graph *g);
static enum quanta_status decode_graph(const struct dec *d, const struct pb_reader *parent,
                                       const struct pb_field *f, struct onnx_graph *g);

static bool grow(void **array, int *cap, int n, size_t elem)
{
    if (n < *cap)
        return true;
    if (n >= INT_MAX / 2)
        return false;
    int c = *cap ? *cap * 2 : 4;
    void *p = realloc(*array, (size_t)c * elem);
    if (!p)
        return false;
    memset((char *)p + (size_t)*cap * elem, 0, (size_t)(c - *cap) * elem);
    *array = p;
    *cap = c;
    return true;
}

/* ---- attributes, nodes, value infos ------------------------------------ */

static void attr_free(struct onnx_attr *a)
{
    free(a->name);
    free(a->s);
    if (a->t) {
        dec_tensor_free(a->t);
        free(a->t);
    }
    free(a->floats);
    free(a->ints);
    if (a->g) {
        graph_free_onnx(a->g);
        free(a->g);
    }
}

static enum quanta_status decode_attr(const struct dec *d, const char *where_in,
                                      const struct pb_reader *parent, const struct pb_field *f,
                                      struct onnx_attr *a)
{
    char where[DEC_WHERE_MAX];
    struct pb_reader r;
    struct pb_field g;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    struct vec_i64 ints = {0};
    struct vec_f64 floats = {0};

    snprintf(where, sizeof where, "%.200s attribute", where_in);
    if ((st = dec_want_wire(d, where, f, PB_WIRE_LEN, "attribute")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return dec_wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        switch (g.number) {
        case 1:
            st = dec_string(d, where, &g, "name", &a->name, NULL);
            if (!st)
                snprintf(where, sizeof where, "%.200s attribute '%.200s'", where_in, a->name);
            break;
        case 2:
            if (!(st = dec_want_wire(d, where, &g, PB_WIRE_I32, "f")))
                a->f = pb_field_float(&g);
            break;
        case 3: st = dec_varint(d, where, &g, "i", &a->i); break;
        case 4: st = dec_string(d, where, &g, "s", &a->s, &a->s_size); break;
        case 5:
            if (a->t) {
                st = dec_fail(d, where, "has two tensors");
                break;
            }
            if (!(a->t = calloc(1, sizeof *a->t))) {
                st = dec_nomem(d);
                break;
            }
            st = dec_tensor(d, where, &r, &g, a->t);
            break;
        case 6: {
            struct dec sub = *d;
            if (a->g) {
                st = dec_fail(d, where, "has two graphs");
                break;
            }
            if (++sub.depth > ONNX_MAX_GRAPH_DEPTH) {
                st = dec_fail(d, where, "nests graphs more than %d deep", ONNX_MAX_GRAPH_DEPTH);
                break;
            }
            if (!(a->g = calloc(1, sizeof *a->g))) {
                st = dec_nomem(d);
                break;
            }
            st = decode_graph(&sub, &r, &g, a->g);
            break;
        }
        case 7: st = dec_fixed(d, where, &g, "floats", 4, &floats); break;
        case 8: st = dec_varints(d, where, &g, "ints", &ints); break;
        case 20: st = dec_int32(d, where, &g, "type", &a->type); break;
        default: break; /* graphs, strings, ...: the type tells what is there */
        }
    }
    if (!st && res != PB_END)
        st = dec_wire_fail(d, where, res);
    if (!st && !a->name)
        st = dec_fail(d, where, "has no name");
    if (!st && (ints.n > INT_MAX || floats.n > INT_MAX))
        st = dec_fail(d, where, "has too many values");
    if (!st && ints.n) {
        a->ints = ints.v;
        a->n_ints = (int)ints.n;
        ints.v = NULL;
    }
    if (!st && floats.n) {
        a->floats = malloc(floats.n * sizeof *a->floats);
        if (!a->floats)
            st = dec_nomem(d);
        for (size_t i = 0; !st && i < floats.n; i++)
            a->floats[i] = (float)floats.v[i];
        a->n_floats = (int)floats.n;
    }
    free(ints.v);
    free(floats.v);
    return st;
}

static void node_free(struct onnx_node *n)
{
    free(n->name);
    free(n->op_type);
    free(n->domain);
    for (int i = 0; i < n->n_inputs; i++)
        free(n->inputs[i]);
    for (int i = 0; i < n->n_outputs; i++)
        free(n->outputs[i]);
    free(n->inputs);
    free(n->outputs);
    for (int i = 0; i < n->n_attrs; i++)
        attr_free(&n->attrs[i]);
    free(n->attrs);
}

static enum quanta_status push_string(const struct dec *d, const char *where,
                                      const struct pb_field *f, const char *field_name,
                                      char ***list, int *n, int *cap)
{
    if (!grow((void **)list, cap, *n, sizeof **list))
        return dec_nomem(d);
    enum quanta_status st = dec_string(d, where, f, field_name, &(*list)[*n], NULL);
    if (!st)
        (*n)++;
    return st;
}

static enum quanta_status decode_node(const struct dec *d, int index,
                                      const struct pb_reader *parent, const struct pb_field *f,
                                      struct onnx_node *n)
{
    char where[DEC_WHERE_MAX];
    struct pb_reader r;
    struct pb_field g;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    int cap_in = 0, cap_out = 0, cap_attr = 0;

    snprintf(where, sizeof where, "node %d", index);
    if ((st = dec_want_wire(d, where, f, PB_WIRE_LEN, "node")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return dec_wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        switch (g.number) {
        case 1: st = push_string(d, where, &g, "input", &n->inputs, &n->n_inputs, &cap_in); break;
        case 2:
            st = push_string(d, where, &g, "output", &n->outputs, &n->n_outputs, &cap_out);
            break;
        case 3:
            st = dec_string(d, where, &g, "name", &n->name, NULL);
            if (!st)
                snprintf(where, sizeof where, "node %d '%.200s'", index, n->name);
            break;
        case 4: st = dec_string(d, where, &g, "op_type", &n->op_type, NULL); break;
        case 5:
            if (!grow((void **)&n->attrs, &cap_attr, n->n_attrs, sizeof *n->attrs)) {
                st = dec_nomem(d);
                break;
            }
            st = decode_attr(d, where, &r, &g, &n->attrs[n->n_attrs]);
            n->n_attrs++; /* freed with the node even when half decoded */
            break;
        case 7: st = dec_string(d, where, &g, "domain", &n->domain, NULL); break;
        default: break;
        }
    }
    if (!st && res != PB_END)
        st = dec_wire_fail(d, where, res);
    if (!st && (!n->op_type || !n->op_type[0]))
        st = dec_fail(d, where, "has no op_type");
    if (!st && !n->name && !(n->name = strdup("")))
        st = dec_nomem(d);
    if (!st && !n->domain && !(n->domain = strdup("")))
        st = dec_nomem(d);
    return st;
}

static void value_info_free(struct onnx_value_info *v)
{
    free(v->name);
    free(v->dim0_param);
}

/* TypeProto -> tensor_type -> elem_type, shape -> dim -> value/param. */
static enum quanta_status decode_shape(const struct dec *d, const char *where,
                                       const struct pb_reader *parent, const struct pb_field *f,
                                       struct onnx_value_info *v)
{
    struct pb_reader r, rd;
    struct pb_field g, h;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    if ((st = dec_want_wire(d, where, f, PB_WIRE_LEN, "shape")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return dec_wire_fail(d, where, res);
    v->has_shape = true;
    v->rank = 0;
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        if (g.number != 1)
            continue;
        if ((st = dec_want_wire(d, where, &g, PB_WIRE_LEN, "dim")))
            break;
        if ((res = pb_enter(&r, &g, &rd)) != PB_OK)
            break;
        int64_t dim = -1;
        char *param = NULL;
        while (!st && (res = pb_next(&rd, &h)) == PB_OK) {
            if (h.number == 1)
                st = dec_varint(d, where, &h, "dim_value", &dim);
            else if (h.number == 2)
                st = dec_string(d, where, &h, "dim_param", &param, NULL);
        }
        if (!st && res != PB_END)
            st = dec_wire_fail(d, where, res);
        if (!st && v->rank == 0 && param) {
            v->dim0_param = param;
            param = NULL;
        }
        free(param);
        if (st)
            break;
        res = PB_OK;
        if (v->rank < QUANTA_MAX_RANK)
            v->dims[v->rank] = dim < 0 ? -1 : dim;
        if (v->rank < INT_MAX)
            v->rank++;
    }
    if (!st && res != PB_END)
        st = dec_wire_fail(d, where, res);
    return st;
}

static enum quanta_status decode_type(const struct dec *d, const char *where,
                                      const struct pb_reader *parent, const struct pb_field *f,
                                      struct onnx_value_info *v)
{
    struct pb_reader r, rt;
    struct pb_field g, h;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    if ((st = dec_want_wire(d, where, f, PB_WIRE_LEN, "type")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return dec_wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        if (g.number != 1)
            continue; /* sequence, map, ...: elem_type stays 0 */
        if ((st = dec_want_wire(d, where, &g, PB_WIRE_LEN, "tensor_type")))
            break;
        if ((res = pb_enter(&r, &g, &rt)) != PB_OK)
            break;
        while (!st && (res = pb_next(&rt, &h)) == PB_OK) {
            if (h.number == 1)
                st = dec_int32(d, where, &h, "elem_type", &v->elem_type);
            else if (h.number == 2)
                st = decode_shape(d, where, &rt, &h, v);
        }
        if (!st && res != PB_END)
            st = dec_wire_fail(d, where, res);
        if (st)
            break;
        res = PB_OK;
    }
    if (!st && res != PB_END)
        st = dec_wire_fail(d, where, res);
    return st;
}

static enum quanta_status decode_value_info(const struct dec *d, const char *what, int index,
                                            const struct pb_reader *parent,
                                            const struct pb_field *f, struct onnx_value_info *v)
{
    char where[DEC_WHERE_MAX];
    struct pb_reader r;
    struct pb_field g;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    snprintf(where, sizeof where, "%s %d", what, index);
    if ((st = dec_want_wire(d, where, f, PB_WIRE_LEN, what)))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return dec_wire_fail(d, where, res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        if (g.number == 1) {
            st = dec_string(d, where, &g, "name", &v->name, NULL);
            if (!st)
                snprintf(where, sizeof where, "%s '%.200s'", what, v->name);
        } else if (g.number == 2) {
            st = decode_type(d, where, &r, &g, v);
        }
    }
    if (!st && res != PB_END)
        st = dec_wire_fail(d, where, res);
    if (!st && (!v->name || !v->name[0]))
        st = dec_fail(d, where, "has no name");
    return st;
}

/* ---- graph and model ---------------------------------------------------- */

static void graph_free_onnx(struct onnx_graph *g)
{
    free(g->name);
    for (int i = 0; i < g->n_nodes; i++)
        node_free(&g->nodes[i]);
    for (int i = 0; i < g->n_initializers; i++)
        dec_tensor_free(&g->initializers[i]);
    for (int i = 0; i < g->n_inputs; i++)
        value_info_free(&g->inputs[i]);
    for (int i = 0; i < g->n_outputs; i++)
        value_info_free(&g->outputs[i]);
    for (int i = 0; i < g->n_value_info; i++)
        value_info_free(&g->value_info[i]);
    free(g->nodes);
    free(g->initializers);
    free(g->inputs);
    free(g->outputs);
    free(g->value_info);
    memset(g, 0, sizeof *g);
}

static enum quanta_status decode_graph(const struct dec *d, const struct pb_reader *parent,
                                       const struct pb_field *f, struct onnx_graph *g)
{
    struct pb_reader r;
    struct pb_field h;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    int cap_nodes = 0, cap_init = 0, cap_in = 0, cap_out = 0, cap_vi = 0;
    char where[DEC_WHERE_MAX];

    if ((st = dec_want_wire(d, "graph", f, PB_WIRE_LEN, "graph")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return dec_wire_fail(d, "graph", res);
    while (!st && (res = pb_next(&r, &h)) == PB_OK) {
        switch (h.number) {
        case 1:
            if (!grow((void **)&g->nodes, &cap_nodes, g->n_nodes, sizeof *g->nodes)) {
                st = dec_nomem(d);
                break;
            }
            st = decode_node(d, g->n_nodes, &r, &h, &g->nodes[g->n_nodes]);
            g->n_nodes++;
            break;
        case 2: st = dec_string(d, "graph", &h, "name", &g->name, NULL); break;
        case 5:
            if (!grow((void **)&g->initializers, &cap_init, g->n_initializers,
                      sizeof *g->initializers)) {
                st = dec_nomem(d);
                break;
            }
            snprintf(where, sizeof where, "initializer %d", g->n_initializers);
            st = dec_tensor(d, where, &r, &h, &g->initializers[g->n_initializers]);
            if (!st)
                g->n_initializers++;
            break;
        case 11:
            if (!grow((void **)&g->inputs, &cap_in, g->n_inputs, sizeof *g->inputs)) {
                st = dec_nomem(d);
                break;
            }
            st = decode_value_info(d, "input", g->n_inputs, &r, &h, &g->inputs[g->n_inputs]);
            g->n_inputs++;
            break;
        case 12:
            if (!grow((void **)&g->outputs, &cap_out, g->n_outputs, sizeof *g->outputs)) {
                st = dec_nomem(d);
                break;
            }
            st = decode_value_info(d, "output", g->n_outputs, &r, &h,
                                   &g->outputs[g->n_outputs]);
            g->n_outputs++;
            break;
        case 13:
            if (!grow((void **)&g->value_info, &cap_vi, g->n_value_info,
                      sizeof *g->value_info)) {
                st = dec_nomem(d);
                break;
            }
            st = decode_value_info(d, "value_info", g->n_value_info, &r, &h,
                                   &g->value_info[g->n_value_info]);
            g->n_value_info++;
            break;
        case 15:
            st = dec_fail(d, "graph", "sparse initializers are not supported");
            break;
        default: break;
        }
    }
    if (!st && res != PB_END)
        st = dec_wire_fail(d, "graph", res);
    if (!st && !g->name && !(g->name = strdup("")))
        st = dec_nomem(d);
    return st;
}

static enum quanta_status decode_opset(const struct dec *d, const struct pb_reader *parent,
                                       const struct pb_field *f, struct onnx_model *m)
{
    struct pb_reader r;
    struct pb_field g;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;
    char *domain = NULL;
    int64_t version = 0;
    if ((st = dec_want_wire(d, "opset_import", f, PB_WIRE_LEN, "opset_import")))
        return st;
    if ((res = pb_enter(parent, f, &r)) != PB_OK)
        return dec_wire_fail(d, "opset_import", res);
    while (!st && (res = pb_next(&r, &g)) == PB_OK) {
        if (g.number == 1)
            st = dec_string(d, "opset_import", &g, "domain", &domain, NULL);
        else if (g.number == 2)
            st = dec_varint(d, "opset_import", &g, "version", &version);
    }
    if (!st && res != PB_END)
        st = dec_wire_fail(d, "opset_import", res);
    if (!st && (!domain || !domain[0] || strcmp(domain, "ai.onnx") == 0))
        m->opset = version;
    free(domain);
    return st;
}

enum quanta_status onnx_model_decode(struct onnx_model *m, const void *bytes, size_t size,
                                     const char *source, const char *dir,
                                     struct quanta_error *err)
{
    struct dec d = {source ? source : "model", dir, err, 0};
    struct pb_reader r;
    struct pb_field f;
    enum pb_result res;
    enum quanta_status st = QUANTA_OK;

    memset(m, 0, sizeof *m);
    pb_reader_init(&r, bytes, size);
    while (!st && (res = pb_next(&r, &f)) == PB_OK) {
        switch (f.number) {
        case 1: st = dec_varint(&d, "model", &f, "ir_version", &m->ir_version); break;
        case 2: st = dec_string(&d, "model", &f, "producer_name", &m->producer_name, NULL); break;
        case 3:
            st = dec_string(&d, "model", &f, "producer_version", &m->producer_version, NULL);
            break;
        case 7:
            if (m->has_graph) {
                st = dec_fail(&d, "model", "has two graphs");
                break;
            }
            m->has_graph = true;
            st = decode_graph(&d, &r, &f, &m->graph);
            break;
        case 8: st = decode_opset(&d, &r, &f, m); break;
        default: break;
        }
    }
    if (!st && res != PB_END)
        st = dec_wire_fail(&d, "model", res);
    if (!st && !m->has_graph)
        st = dec_fail(&d, "model", "has no graph (not an ONNX model?)");
    if (st)
        onnx_model_free(m);
    return st;
}

enum quanta_status onnx_model_load(struct onnx_model *m, const char *path,
                                   struct quanta_error *err)
{
    memset(m, 0, sizeof *m);
    uint8_t *buf;
    size_t size;
    enum quanta_status st = dec_read_file(path, &buf, &size, err);
    if (st)
        return st;
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    if (!dir)
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory", path);
    else
        st = onnx_model_decode(m, buf, size, path, dir, err);
    free(buf);
    free(dir);
    return st;
}


void onnx_model_free(struct onnx_model *m)
{
    if (!m)
        return;
    free(m->producer_name);
    free(m->producer_version);
    graph_free_onnx(&m->graph);
    memset(m, 0, sizeof *m);
}

const struct onnx_attr *onnx_node_attr(const struct onnx_node *node, const char *name)
{
    for (int i = 0; i < node->n_attrs; i++)
        if (node->attrs[i].name && strcmp(node->attrs[i].name, name) == 0)
            return &node->attrs[i];
    return NULL;
}

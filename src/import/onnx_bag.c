/* nn.EmbeddingBag as torch.onnx.export writes it (opsets 13 to 17): a Loop
 * over the bags whose body slices the flat ids between two bounds, gathers
 * the table's rows and reduces them (ReduceSum, ReduceMean, ReduceMax over
 * axis 0; a Mul by the sliced per-sample weights before ReduceSum):
 *
 *   fixed bags (ids [N, T]):  F = Reshape(ids, [-1])
 *                             A = Concat(Range(0, numel, T), [len(F)])
 *   offsets (ids [L]):        F = ids
 *                             A = Concat(offsets, [len(F)])
 *   B = Slice(A, 1, ...)      Loop body (iteration i):
 *     S = Slice(F, Unsqueeze(Gather(A, i)), Unsqueeze(Gather(B, i)), [0])
 *     y_i = Reduce(Gather(table, S), axis 0)
 *
 * The Loop becomes one embedding_bag; the nodes computing only its bounds
 * are left out of the conversion. */
#include "import/onnx_convert.h"

#include <stdlib.h>
#include <string.h>

/* The node of g producing name, or NULL. */
static const struct onnx_node *producer(const struct onnx_graph *g, const char *name)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (strcmp(g->nodes[i].outputs[k], name) == 0)
                return &g->nodes[i];
    return NULL;
}

static bool is_op(const struct onnx_node *n, const char *op)
{
    return n && strcmp(n->op_type, op) == 0 && !n->domain[0];
}

static const struct onnx_attr *attr(const struct onnx_node *n, const char *name)
{
    for (int i = 0; i < n->n_attrs; i++)
        if (strcmp(n->attrs[i].name, name) == 0)
            return &n->attrs[i];
    return NULL;
}

static int64_t attr_int(const struct onnx_node *n, const char *name, int64_t def)
{
    const struct onnx_attr *a = attr(n, name);
    return a ? a->i : def;
}

/* A constant tensor named name: a Constant node of body or outer, or an
 * initializer of outer. */
static const struct onnx_tensor *constant(const struct onnx_graph *body,
                                          const struct onnx_graph *outer, const char *name)
{
    const struct onnx_node *n = body ? producer(body, name) : NULL;
    if (!n)
        n = producer(outer, name);
    if (n) {
        const struct onnx_attr *a = is_op(n, "Constant") ? attr(n, "value") : NULL;
        return a ? a->t : NULL;
    }
    for (int i = 0; i < outer->n_initializers; i++)
        if (strcmp(outer->initializers[i].name, name) == 0)
            return &outer->initializers[i];
    return NULL;
}

/* Whether name is a constant holding exactly the one integer v. */
static bool const_is(const struct onnx_graph *body, const struct onnx_graph *outer,
                     const char *name, int64_t v)
{
    const struct onnx_tensor *t = constant(body, outer, name);
    return t && t->numel == 1 && cv_tensor_i(t, 0) == v;
}

/* Through Cast nodes. */
static const struct onnx_node *producer_nocast(const struct onnx_graph *g, const char *name)
{
    const struct onnx_node *n = producer(g, name);
    while (is_op(n, "Cast") && n->n_inputs == 1)
        n = producer(g, n->inputs[0]);
    return n;
}

/* Whether name is Gather(Shape(of), axis) (through Unsqueeze and Cast). */
static bool is_dim_of(const struct onnx_graph *g, const char *name, const char *of, int64_t axis)
{
    const struct onnx_node *n = producer_nocast(g, name);
    if (is_op(n, "Unsqueeze"))
        n = producer_nocast(g, n->inputs[0]);
    if (!is_op(n, "Gather") || n->n_inputs != 2 || attr_int(n, "axis", 0) != 0 ||
        !const_is(NULL, g, n->inputs[1], axis))
        return false;
    const struct onnx_node *s = producer(g, n->inputs[0]);
    return is_op(s, "Shape") && s->n_inputs == 1 && strcmp(s->inputs[0], of) == 0 &&
           !attr(s, "start") && !attr(s, "end");
}

/* S = Slice(F, Unsqueeze(Gather(A, i)), Unsqueeze(Gather(B, i)), axes [0]) in
 * body: F, A and B's names. */
static bool bounds_slice(const struct onnx_graph *body, const struct onnx_graph *outer,
                         const char *s_name, const char *iter, const char **f, const char **a,
                         const char **b)
{
    const struct onnx_node *s = producer(body, s_name);
    if (!is_op(s, "Slice") || s->n_inputs != 4 || !const_is(body, outer, s->inputs[3], 0))
        return false;
    const char **bound[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        const struct onnx_node *u = producer(body, s->inputs[1 + k]);
        if (!is_op(u, "Unsqueeze") || u->n_inputs != 2 || !const_is(body, outer, u->inputs[1], 0))
            return false;
        const struct onnx_node *gi = producer(body, u->inputs[0]);
        if (!is_op(gi, "Gather") || gi->n_inputs != 2 || attr_int(gi, "axis", 0) != 0 ||
            strcmp(gi->inputs[1], iter) != 0)
            return false;
        *bound[k] = gi->inputs[0];
    }
    *f = s->inputs[0];
    return true;
}

/* Matches Loop node n against the pattern; fills bag on success. */
static bool match_loop(const struct onnx_graph *og, const struct onnx_node *n, struct cv_bag *bag)
{
    const struct onnx_attr *ba = attr(n, "body");
    const struct onnx_graph *body = ba ? ba->g : NULL;
    if (!body || n->n_inputs != 2 || n->n_outputs != 1 || body->n_inputs != 2 ||
        body->n_outputs != 2)
        return false;
    const char *iter = body->inputs[0].name;
    /* the reduction */
    const struct onnx_node *red = producer(body, body->outputs[1].name);
    if (!red || attr_int(red, "keepdims", 1) != 0)
        return false;
    if (is_op(red, "ReduceSum")) {
        if (red->n_inputs != 2 || !const_is(body, og, red->inputs[1], 0))
            return false;
        bag->mode = GRAPH_MODE_SUM;
    } else if (is_op(red, "ReduceMean") || is_op(red, "ReduceMax")) {
        const struct onnx_attr *ax = attr(red, "axes");
        if (red->n_inputs != 1 || !ax || ax->n_ints != 1 || ax->ints[0] != 0)
            return false;
        bag->mode = is_op(red, "ReduceMean") ? GRAPH_MODE_MEAN : GRAPH_MODE_MAX;
    } else {
        return false;
    }
    /* per-sample weights: Mul(rows, Unsqueeze(Slice(W, same bounds), 1)) */
    const struct onnx_node *gather = producer(body, red->inputs[0]);
    const char *w_flat = NULL, *wa = NULL, *wb = NULL;
    if (is_op(gather, "Mul") && bag->mode == GRAPH_MODE_SUM) {
        const struct onnx_node *u = producer(body, gather->inputs[1]);
        const char *wf;
        if (!is_op(u, "Unsqueeze") || u->n_inputs != 2 ||
            !const_is(body, og, u->inputs[1], 1) ||
            !bounds_slice(body, og, u->inputs[0], iter, &wf, &wa, &wb))
            return false;
        w_flat = wf;
        gather = producer(body, gather->inputs[0]);
    }
    if (!is_op(gather, "Gather") || gather->n_inputs != 2 || attr_int(gather, "axis", 0) != 0)
        return false;
    const struct onnx_tensor *table = NULL;
    for (int i = 0; i < og->n_initializers; i++)
        if (strcmp(og->initializers[i].name, gather->inputs[0]) == 0)
            table = &og->initializers[i];
    if (!table || table->shape.rank != 2)
        return false;
    const char *f, *a, *b;
    if (!bounds_slice(body, og, gather->inputs[1], iter, &f, &a, &b) ||
        (w_flat && (strcmp(wa, a) != 0 || strcmp(wb, b) != 0)))
        return false;
    /* B = Slice(A, [1], ...); A = Concat(P, [len(F)]) */
    const struct onnx_node *sb = producer(og, b), *ca = producer(og, a);
    if (!is_op(sb, "Slice") || sb->n_inputs < 3 || strcmp(sb->inputs[0], a) != 0 ||
        !const_is(NULL, og, sb->inputs[1], 1) || !is_op(ca, "Concat") || ca->n_inputs != 2 ||
        !is_dim_of(og, ca->inputs[1], f, 0))
        return false;
    const struct onnx_node *range = producer(og, ca->inputs[0]);
    bag->table = gather->inputs[0];
    bag->weights = NULL;
    if (is_op(range, "Range")) {
        /* fixed bags: F = Reshape(ids, [-1]), Range(0, numel, ids.shape[1]) */
        const struct onnx_node *rs = producer(og, f);
        if (!is_op(rs, "Reshape") || !const_is(NULL, og, rs->inputs[1], -1) ||
            !const_is(NULL, og, range->inputs[0], 0) ||
            !is_dim_of(og, range->inputs[2], rs->inputs[0], 1))
            return false;
        bag->ids = rs->inputs[0];
        bag->offsets = NULL;
        if (w_flat) {
            const struct onnx_node *rw = producer(og, w_flat);
            if (!is_op(rw, "Reshape") || !const_is(NULL, og, rw->inputs[1], -1))
                return false;
            bag->weights = rw->inputs[0];
        }
    } else {
        bag->ids = f;
        bag->offsets = ca->inputs[0];
        bag->weights = w_flat;
    }
    return true;
}

/* Adds the names node n reads (Loop bodies: the outer names they use). */
static bool mark_inputs(const struct onnx_graph *g, const struct onnx_node *n, bool *needed,
                        const struct cv_bag *bag);

static void need_name(const struct onnx_graph *g, const char *name, bool *needed)
{
    for (int i = 0; i < g->n_nodes; i++)
        for (int k = 0; k < g->nodes[i].n_outputs; k++)
            if (strcmp(g->nodes[i].outputs[k], name) == 0)
                needed[i] = true;
}

static bool mark_inputs(const struct onnx_graph *g, const struct onnx_node *n, bool *needed,
                        const struct cv_bag *bag)
{
    if (bag && bag->ids) {
        const char *names[3] = {bag->ids, bag->offsets, bag->weights};
        for (int k = 0; k < 3; k++)
            if (names[k])
                need_name(g, names[k], needed);
        return true;
    }
    for (int a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].g)
            return false; /* another subgraph: keep everything */
    for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k][0])
            need_name(g, n->inputs[k], needed);
    return true;
}

enum quanta_status cv_find_bags(struct cv *cv)
{
    const struct onnx_graph *og = &cv->m->graph;
    int found = 0;
    for (int i = 0; i < og->n_nodes; i++) {
        struct cv_bag bag = {0};
        if (!is_op(&og->nodes[i], "Loop") || !match_loop(og, &og->nodes[i], &bag))
            continue;
        if (!cv->bags && !(cv->bags = calloc((size_t)og->n_nodes, sizeof *cv->bags)))
            return cv_nomem(cv);
        cv->bags[i] = bag;
        found++;
    }
    if (!found)
        return QUANTA_OK;
    /* leave out the nodes that only computed the Loops' bounds */
    bool *needed = calloc((size_t)og->n_nodes, sizeof *needed);
    if (!needed)
        return cv_nomem(cv);
    for (int o = 0; o < og->n_outputs; o++)
        need_name(og, og->outputs[o].name, needed);
    bool all = false;
    for (int i = og->n_nodes - 1; i >= 0 && !all; i--)
        if (needed[i])
            all = !mark_inputs(og, &og->nodes[i], needed, &cv->bags[i]);
    for (int i = 0; i < og->n_nodes && !all; i++)
        if (!needed[i])
            cv->skip[i] = true;
    free(needed);
    return QUANTA_OK;
}

enum quanta_status cv_convert_bag(struct cv *cv)
{
    const struct cv_bag *bag = cv->bags ? &cv->bags[cv->node_index] : NULL;
    if (!bag || !bag->ids)
        return cv_fail(cv, "Loop is imported only as the nn.EmbeddingBag pattern of "
                           "torch.onnx.export (a bag gathered and reduced per iteration)");
    struct cv_value *ids, *table, *off = NULL, *w = NULL;
    enum quanta_status st;
    char buf[128];
    if ((st = cv_lookup(cv, bag->ids, &ids)) || (st = cv_lookup(cv, bag->table, &table)) ||
        (bag->offsets && (st = cv_lookup(cv, bag->offsets, &off))) ||
        (bag->weights && (st = cv_lookup(cv, bag->weights, &w))))
        return st;
    if (!ids || ids->kind != CV_ACT || !table || table->kind != CV_CONST ||
        (bag->offsets && (!off || off->kind != CV_ACT)) ||
        (bag->weights && (!w || w->kind != CV_ACT)))
        return cv_fail(cv, "EmbeddingBag: ids, offsets and weights must be activations and "
                           "the table an initializer");
    const struct cv_value *read[3] = {ids, off, w};
    for (int k = 0; k < 3; k++)
        if (read[k] && !cv_plain(read[k]))
            return cv_fail(cv, "EmbeddingBag: '%s' has its batch axis moved or merged with "
                               "other axes (by Transpose or Reshape), which is not supported",
                           read[k]->name);
    enum quanta_dtype idt = cv->g->values[ids->q].dtype;
    if ((idt != QUANTA_I64 && idt != QUANTA_I32) || ids->flat ||
        ids->shape.rank != (off ? 1 : 2))
        return cv_fail(cv, "EmbeddingBag: ids '%s' %s must be integer %s", ids->name,
                       quanta_shape_format(&ids->shape, buf, sizeof buf),
                       off ? "[L] (offsets form)" : "[N, T]");
    if (off && ids->shape.dims[0] < 0)
        return cv_fail(cv, "EmbeddingBag: the length of ids '%s' is not fixed; give it with "
                           "--input-shape %s=[L] (the bags, from offsets, are the batch)",
                       ids->name, ids->name);
    if (table->c->dtype != QUANTA_F32)
        return cv_fail(cv, "EmbeddingBag: table '%s' must be float", table->name);
    int qt = cv_const_value(cv, bag->table, table->c->data, &table->c->shape);
    if (qt < 0)
        return cv_nomem(cv);
    struct quanta_shape ys = {.rank = 2,
                              .dims = {off ? off->shape.dims[0] : ids->shape.dims[0],
                                       table->c->shape.dims[1]}};
    int ins[4] = {ids->q, qt, off ? off->q : -1, w ? w->q : -1};
    if (w && (st = cv_materialize(cv, w, w->perm, &ins[3])))
        return st;
    if (!cv->node->outputs[0][0])
        return cv_fail(cv, "has no output");
    int q = cv_new_value(cv, cv->node->outputs[0], &ys);
    if (q < 0)
        return cv_nomem(cv);
    int nd = cv_add_node(cv, GRAPH_OP_EMBEDDING_BAG, NULL, ins, 4, q);
    if (nd < 0)
        return cv_nomem(cv);
    cv->g->nodes[nd].attrs.mode = bag->mode;
    struct cv_value out = *ids;
    out.q = q;
    out.shape = ys;
    out.elem = 0;
    out.flat = false;
    out.fold_pad = false;
    cv_perm_identity(2, out.perm);
    return cv_def_act(cv, 0, &out);
}

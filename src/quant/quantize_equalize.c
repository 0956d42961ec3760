/* Cross-layer equalization (Nagel et al. 2019, section 4.1) on the folded
 * float graph, before weights are quantized; man quanta-quantize(1),
 * EQUALIZATION.
 *
 * For a pair A -> B (A's output channel i is B's input channel i, through
 * nothing, relu or pools), scaling A's channel i by 1/s_i and B's input channel
 * i by s_i keeps the function: relu(x / s) = relu(x) / s for s > 0. With
 * s_i = sqrt(r1_i * r2_i) / r2_i both ranges become sqrt(r1_i * r2_i), so
 * a per-tensor weight scale no longer spends its levels on one wide
 * channel. Chains (A -> B -> C) share B, hence the repeated passes. */
#include "quant/quantize_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct pair {
    int a, b;                 /* node indices */
    int64_t channels;
    float *wa, *ba, *wb;      /* owned F32 data in g (ba NULL: no bias) */
    int64_t per_a;            /* elements per output channel of A */
    double *total;            /* product of the scales over passes */
};

static bool is_float_const(const struct graph *g, int v)
{
    return v >= 0 && g->values[v].kind == GRAPH_VALUE_CONST &&
           quanta_dtype_is_float(g->values[v].dtype) && g->values[v].data;
}

/* The data of const v as owned F32 that this pass may change. */
static float *own_f32(struct graph *g, int v)
{
    struct graph_value *gv = &g->values[v];
    if (gv->owned && gv->dtype == QUANTA_F32 && gv->owned == gv->data)
        return gv->owned;
    float *f = qz_const_to_f32(gv);
    if (!f)
        return NULL;
    free(gv->owned);
    gv->data = gv->owned = f;
    gv->dtype = QUANTA_F32;
    return f;
}

static bool weighted(const struct graph *g, const struct graph_node *n, const int *readers,
                     const char *const *exclude, int n_exclude)
{
    if (n->op != GRAPH_OP_CONV2D && n->op != GRAPH_OP_DENSE)
        return false;
    if (qz_is_excluded(n->name, exclude, n_exclude) || n->n_inputs < 2)
        return false;
    int w = n->inputs[1];
    if (!is_float_const(g, w) || readers[w] != 1)
        return false;
    int b = n->n_inputs > 2 ? n->inputs[2] : -1;
    return b < 0 || (is_float_const(g, b) && readers[b] == 1);
}

/* B's input channels (C of x). */
static int64_t input_channels(const struct graph *g, const struct graph_node *n)
{
    const struct quanta_shape *w = &g->values[n->inputs[1]].shape;
    if (n->op == GRAPH_OP_DENSE)
        return w->rank == 2 ? w->dims[1] : -1;
    return w->rank == 4 ? w->dims[3] * (n->attrs.groups > 0 ? n->attrs.groups : 1) : -1;
}

/* max |w| over B's weights that read input channel c, after multiplying
 * them by scale (1: read only). */
static double wb_range(const struct graph *g, const struct graph_node *n, const float *w,
                       int64_t c, double scale)
{
    const struct quanta_shape *sh = &g->values[n->inputs[1]].shape;
    double r = 0.0;
    if (n->op == GRAPH_OP_DENSE) {
        int64_t O = sh->dims[0], K = sh->dims[1];
        for (int64_t o = 0; o < O; o++) {
            float *x = (float *)&w[o * K + c];
            if (scale != 1.0)
                *x = (float)((double)*x * scale);
            r = fmax(r, fabs((double)*x));
        }
        return r;
    }
    int64_t O = sh->dims[0], taps = sh->dims[1] * sh->dims[2], cpg = sh->dims[3];
    int64_t groups = n->attrs.groups > 0 ? n->attrs.groups : 1;
    int64_t opg = O / groups, grp = c / cpg, j = c % cpg;
    for (int64_t o = grp * opg; o < (grp + 1) * opg; o++)
        for (int64_t t = 0; t < taps; t++) {
            float *x = (float *)&w[(o * taps + t) * cpg + j];
            if (scale != 1.0)
                *x = (float)((double)*x * scale);
            r = fmax(r, fabs((double)*x));
        }
    return r;
}

static bool find_pair(const struct graph *g, int ib, const int *readers, const int *producer,
                      const char *const *exclude, int n_exclude, int *ia)
{
    const struct graph_node *b = &g->nodes[ib];
    if (!weighted(g, b, readers, exclude, n_exclude) || b->inputs[0] < 0)
        return false;
    int x = b->inputs[0];
    if (readers[x] != 1 || producer[x] < 0)
        return false;
    const struct graph_node *p = &g->nodes[producer[x]];
    /* nodes between that commute with a positive per-channel scale */
    while (p->op == GRAPH_OP_RELU || p->op == GRAPH_OP_MAX_POOL2D ||
           p->op == GRAPH_OP_AVG_POOL2D || p->op == GRAPH_OP_GLOBAL_AVG_POOL) {
        if (qz_is_excluded(p->name, exclude, n_exclude) || p->n_inputs < 1 || p->inputs[0] < 0)
            return false;
        x = p->inputs[0];
        if (readers[x] != 1 || producer[x] < 0)
            return false;
        p = &g->nodes[producer[x]];
    }
    if (!weighted(g, p, readers, exclude, n_exclude) ||
        (p->attrs.activation != GRAPH_ACT_NONE && p->attrs.activation != GRAPH_ACT_RELU))
        return false;
    const struct quanta_shape *wa = &g->values[p->inputs[1]].shape;
    if (wa->rank < 1 || wa->dims[0] != input_channels(g, b) || wa->dims[0] <= 0)
        return false;
    *ia = (int)(p - g->nodes);
    return true;
}

static void free_pairs(struct pair *pairs, int n)
{
    for (int i = 0; i < n; i++)
        free(pairs[i].total);
    free(pairs);
}

static enum quanta_status record(struct quantize_applied *ap, const struct graph *g,
                                 const struct pair *pairs, int n, int passes)
{
    ap->passes = passes;
    if (n == 0)
        return QUANTA_OK;
    ap->pairs = calloc((size_t)n, sizeof *ap->pairs);
    if (!ap->pairs)
        return QUANTA_ERR_NOMEM;
    for (int i = 0; i < n; i++) {
        struct quantize_pair *q = &ap->pairs[ap->n_pairs++];
        q->first = strdup(g->nodes[pairs[i].a].name);
        q->second = strdup(g->nodes[pairs[i].b].name);
        if (!q->first || !q->second)
            return QUANTA_ERR_NOMEM;
        q->min_scale = INFINITY;
        q->max_scale = 0.0;
        for (int64_t c = 0; c < pairs[i].channels; c++) {
            double s = pairs[i].total[c];
            if (s != 1.0)
                q->channels++;
            q->min_scale = fmin(q->min_scale, s);
            q->max_scale = fmax(q->max_scale, s);
        }
    }
    return QUANTA_OK;
}

enum quanta_status quantize_equalize(struct graph *g, const char *const *exclude, int n_exclude,
                                     struct quantize_applied *applied, const char *source,
                                     struct quanta_error *err)
{
    int *readers = qz_count_readers(g);
    int *producer = malloc(((size_t)g->n_values + 1) * sizeof *producer);
    struct pair *pairs = calloc((size_t)g->n_nodes + 1, sizeof *pairs);
    int n = 0, passes = 0;
    enum quanta_status st = QUANTA_OK;
    if (!readers || !producer || !pairs)
        goto nomem;
    for (int v = 0; v < g->n_values; v++)
        producer[v] = g->values[v].kind == GRAPH_VALUE_NODE ? g->values[v].producer : -1;
    for (int ib = 0; ib < g->n_nodes; ib++) {
        int ia;
        if (!find_pair(g, ib, readers, producer, exclude, n_exclude, &ia))
            continue;
        struct pair *p = &pairs[n];
        const struct graph_node *a = &g->nodes[ia];
        p->a = ia;
        p->b = ib;
        p->channels = g->values[a->inputs[1]].shape.dims[0];
        p->per_a = quanta_shape_numel(&g->values[a->inputs[1]].shape) / p->channels;
        p->total = malloc((size_t)p->channels * sizeof *p->total);
        if (!p->total)
            goto nomem;
        n++;
        for (int64_t c = 0; c < p->channels; c++)
            p->total[c] = 1.0;
    }
    /* owned copies only after every pair is known: a node may be A of one
     * pair and B of another, and both must see the same buffer */
    for (int i = 0; i < n; i++) {
        const struct graph_node *a = &g->nodes[pairs[i].a], *b = &g->nodes[pairs[i].b];
        int ba = a->n_inputs > 2 ? a->inputs[2] : -1;
        if (!(pairs[i].wa = own_f32(g, a->inputs[1])) || !(pairs[i].wb = own_f32(g, b->inputs[1])))
            goto nomem;
        if (ba >= 0 && !(pairs[i].ba = own_f32(g, ba)))
            goto nomem;
    }
    for (passes = n > 0 ? 1 : 0; n > 0 && passes <= QUANTIZE_EQUALIZE_PASSES; passes++) {
        double moved = 0.0;
        for (int i = 0; i < n; i++) {
            struct pair *p = &pairs[i];
            const struct graph_node *b = &g->nodes[p->b];
            for (int64_t c = 0; c < p->channels; c++) {
                float *wa = &p->wa[c * p->per_a];
                double r1 = 0.0;
                for (int64_t k = 0; k < p->per_a; k++)
                    r1 = fmax(r1, fabs((double)wa[k]));
                double r2 = wb_range(g, b, p->wb, c, 1.0);
                if (!(r1 > 0.0) || !(r2 > 0.0) || !isfinite(r1) || !isfinite(r2))
                    continue; /* a dead channel on either side: nothing to balance */
                double s = sqrt(r1 * r2) / r2;
                if (s == 1.0)
                    continue;
                for (int64_t k = 0; k < p->per_a; k++)
                    wa[k] = (float)((double)wa[k] / s);
                if (p->ba)
                    p->ba[c] = (float)((double)p->ba[c] / s);
                wb_range(g, b, p->wb, c, s);
                p->total[c] *= s;
                moved = fmax(moved, fabs(s - 1.0));
            }
        }
        if (moved < QUANTIZE_EQUALIZE_TOL)
            break;
    }
    if (passes > QUANTIZE_EQUALIZE_PASSES)
        passes = QUANTIZE_EQUALIZE_PASSES;
    if (applied && record(applied, g, pairs, n, passes) != QUANTA_OK)
        goto nomem;
    goto done;
nomem:
    st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory equalizing", source);
done:
    free(readers);
    free(producer);
    free_pairs(pairs, n);
    return st;
}

enum quanta_status quantize_prepare(const struct graph *src, const struct quantize_options *opt,
                                    struct graph *out, const char *source,
                                    struct quanta_error *err)
{
    bool fixed = opt->mode == QUANTIZE_STATIC;
    enum quanta_status st = quantize_fold(src, fixed, opt->exclude, opt->n_exclude, out, source,
                                          err);
    if (st == QUANTA_OK && fixed && opt->equalize)
        st = quantize_equalize(out, opt->exclude, opt->n_exclude, opt->applied, source, err);
    if (st != QUANTA_OK) {
        graph_free(out);
        memset(out, 0, sizeof *out);
    }
    return st;
}

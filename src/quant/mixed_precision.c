/* The accuracy-budget search (mixed_precision.h): sensitivity of each
 * layer alone in float, then a binary search over the sensitivity order. */
#include "quant/mixed_precision.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/progress.h"

/* ---- the search ---- */

struct searcher {
    int n;
    mixed_measure_fn measure;
    void *ctx;
    bool *keep;                 /* [n] scratch */
    struct mixed_search *s;
};

/* Measures the candidate keeping the first k layers of the order in float
 * (order NULL: the layer k alone). */
static enum quanta_status measure_with(struct searcher *t, const int *order, int k,
                                       struct mixed_score *score, struct quanta_error *err)
{
    memset(t->keep, 0, (size_t)t->n * sizeof *t->keep);
    if (order)
        for (int i = 0; i < k; i++)
            t->keep[order[i]] = true;
    else
        t->keep[k] = true;
    memset(score, 0, sizeof *score);
    t->s->measured++;
    return t->measure(t->ctx, t->keep, score, err);
}

/* Whether layer a goes before layer b: the larger gain, then the lower
 * KL, then graph order. NaN gains go last. */
static bool before(const struct mixed_layer *l, int a, int b)
{
    double ga = isnan(l[a].gain) ? -INFINITY : l[a].gain;
    double gb = isnan(l[b].gain) ? -INFINITY : l[b].gain;
    if (ga != gb)
        return ga > gb;
    double ka = isnan(l[a].alone.kl) ? INFINITY : l[a].alone.kl;
    double kb = isnan(l[b].alone.kl) ? INFINITY : l[b].alone.kl;
    if (ka != kb)
        return ka < kb;
    return a < b;
}

static const char *name_of(const char *const *names, int i)
{
    return names ? names[i] : "layer";
}

enum quanta_status mixed_search_run(int n, mixed_measure_fn measure, void *ctx,
                                    const char *const *names, struct progress *progress,
                                    struct mixed_search *s, struct quanta_error *err)
{
    memset(s, 0, sizeof *s);
    s->n = n;
    struct searcher t = {.n = n, .measure = measure, .ctx = ctx, .s = s};
    size_t m = (size_t)(n > 0 ? n : 1);
    s->layers = calloc(m, sizeof *s->layers);
    s->order = calloc(m, sizeof *s->order);
    t.keep = calloc(m, sizeof *t.keep);
    enum quanta_status st = QUANTA_OK;
    if (!s->layers || !s->order || !t.keep) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the search over %d layers", n);
        goto done;
    }
    for (int i = 0; i < n; i++)
        s->order[i] = i;
    progress_label(progress, "mixed precision: every layer int8");
    if ((st = measure_with(&t, s->order, 0, &s->base, err)) != QUANTA_OK)
        goto done;
    s->chosen = s->base;
    if ((s->met = s->base.pass) || n == 0)
        goto done;
    /* sensitivity: each layer alone in float */
    for (int i = 0; i < n; i++) {
        struct mixed_layer *l = &s->layers[i];
        progress_label(progress, "mixed precision: sensitivity %d/%d (%s)", i + 1, n,
                       name_of(names, i));
        if ((st = measure_with(&t, NULL, i, &l->alone, err)) != QUANTA_OK)
            goto done;
        l->gain = l->alone.merit - s->base.merit;
    }
    for (int i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        int x = s->order[i], j = i;
        for (; j > 0 && before(s->layers, x, s->order[j - 1]); j--)
            s->order[j] = s->order[j - 1];
        s->order[j] = x;
    }
    /* the shortest passing prefix: lo fails, hi passes (hi == n untested) */
    int lo = 0, hi = n;
    bool hi_measured = false;
    struct mixed_score hi_score = {0};
    while (hi - lo > 1 || !hi_measured) {
        int k = hi - lo > 1 ? lo + (hi - lo) / 2 : hi;
        struct mixed_score sc;
        if (k == 1) {
            sc = s->layers[s->order[0]].alone;
        } else {
            progress_label(progress, "mixed precision: %d of %d layers in float", k, n);
            if ((st = measure_with(&t, s->order, k, &sc, err)) != QUANTA_OK)
                goto done;
        }
        if (sc.pass) {
            hi = k;
            hi_score = sc;
            hi_measured = true;
        } else if (k == n) {
            break; /* not even every layer in float */
        } else {
            lo = k;
        }
    }
    if (!hi_measured)
        goto done;
    s->met = true;
    s->n_kept = hi;
    s->chosen = hi_score;
    for (int i = 0; i < hi; i++)
        s->layers[s->order[i]].kept = true;
done:
    free(t.keep);
    return st;
}

void mixed_search_free(struct mixed_search *s)
{
    free(s->layers);
    free(s->order);
    memset(s, 0, sizeof *s);
}

/* ---- on a graph ---- */

/* Whether node i of q computes on int8 values (an int8 output, or a
 * non-constant int8 input). */
static bool node_int8(const struct graph *q, int i)
{
    const struct graph_node *nd = &q->nodes[i];
    for (int k = 0; k < nd->n_outputs; k++)
        if (q->values[nd->outputs[k]].quant.dtype != QUANTA_DTYPE_INVALID)
            return true;
    for (int k = 0; k < nd->n_inputs; k++) {
        int v = nd->inputs[k];
        if (v >= 0 && q->values[v].kind != GRAPH_VALUE_CONST &&
            q->values[v].quant.dtype != QUANTA_DTYPE_INVALID)
            return true;
    }
    return false;
}

static bool int8_in(const struct graph *q, const char *name)
{
    for (int i = 0; i < q->n_nodes; i++)
        if (q->nodes[i].name && strcmp(q->nodes[i].name, name) == 0)
            return node_int8(q, i);
    return false;
}

struct graph_measure {
    const struct mixed_request *req;
    const struct mixed_result *res;
    const char **exclude;       /* the request's, then the kept layers */
};

static enum quanta_status build(const struct graph_measure *gm, const bool *keep, bool final,
                                struct graph *q, struct quanta_error *err)
{
    const struct quantize_options *opt = gm->req->opt;
    int n = opt->n_exclude;
    for (int i = 0; i < gm->res->n; i++)
        if (keep[i])
            gm->exclude[n++] = gm->res->names[i];
    struct quantize_options o = *opt;
    o.exclude = gm->exclude;
    o.n_exclude = n;
    o.notes = final ? gm->req->notes : NULL;
    o.applied = NULL;
    return quantize_model(gm->req->src, &o, gm->req->ranges, q, gm->req->source, err);
}

static enum quanta_status measure_graph(void *ctx, const bool *keep, struct mixed_score *score,
                                        struct quanta_error *err)
{
    const struct graph_measure *gm = ctx;
    struct graph q;
    enum quanta_status st = build(gm, keep, false, &q, err);
    if (st == QUANTA_OK)
        st = gm->req->score(gm->req->ctx, &q, score, err);
    graph_free(&q);
    return st;
}

enum quanta_status quantize_mixed(const struct mixed_request *req, struct mixed_result *res,
                                  struct graph *out, struct quanta_error *err)
{
    const struct graph *src = req->src;
    struct graph_measure gm = {.req = req, .res = res};
    memset(res, 0, sizeof *res);
    memset(out, 0, sizeof *out);
    enum quanta_status st = quantize_model(src, req->opt, req->ranges, out, req->source, err);
    if (st != QUANTA_OK)
        return st;
    size_t cap = (size_t)src->n_nodes + 1;
    res->names = calloc(cap, sizeof *res->names);
    res->ops = calloc(cap, sizeof *res->ops);
    res->is_float = calloc(cap, sizeof *res->is_float);
    gm.exclude = calloc(cap + (size_t)req->opt->n_exclude, sizeof *gm.exclude);
    if (!res->names || !res->ops || !res->is_float || !gm.exclude) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory listing the layers of %s",
                         req->source);
        goto done;
    }
    for (int i = 0; i < req->opt->n_exclude; i++)
        gm.exclude[i] = req->opt->exclude[i];
    for (int i = 0; i < src->n_nodes; i++) {
        const struct graph_node *nd = &src->nodes[i];
        if (!nd->name || !int8_in(out, nd->name))
            continue;
        if (!(res->names[res->n] = strdup(nd->name))) {
            st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
            goto done;
        }
        res->ops[res->n++] = nd->op;
    }
    graph_free(out);
    memset(out, 0, sizeof *out);
    st = mixed_search_run(res->n, measure_graph, &gm, (const char *const *)res->names,
                          req->progress, &res->search, err);
    progress_clear(req->progress);
    if (st != QUANTA_OK)
        goto done;
    if (!res->search.met) {
        st = quanta_fail(err, QUANTA_ERR_CHECK, "%s: the budget is not met on the held-out "
                                                "data even with all %d int8 layers in float",
                         req->source, res->n);
        goto done;
    }
    bool *keep = calloc((size_t)res->n + 1, sizeof *keep);
    if (!keep) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (int i = 0; i < res->n; i++)
        keep[i] = res->search.layers[i].kept;
    st = build(&gm, keep, true, out, err);
    free(keep);
    for (int i = 0; st == QUANTA_OK && i < res->n; i++)
        res->is_float[i] = !int8_in(out, res->names[i]);
    struct quantize_applied *a = req->applied;
    for (int i = 0, k = 0; st == QUANTA_OK && a && i < a->n_corrected; i++) {
        if (int8_in(out, a->corrected[i].node))
            a->corrected[k++] = a->corrected[i];
        else
            free(a->corrected[i].node);
        if (i == a->n_corrected - 1)
            a->n_corrected = k;
    }
done:
    free(gm.exclude);
    if (st != QUANTA_OK) {
        graph_free(out);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void mixed_result_free(struct mixed_result *res)
{
    for (int i = 0; i < res->n; i++)
        free(res->names[i]);
    free(res->names);
    free(res->ops);
    free(res->is_float);
    mixed_search_free(&res->search);
    memset(res, 0, sizeof *res);
}

static void add_number(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static cJSON *score_json(const struct mixed_score *s)
{
    cJSON *o = cJSON_CreateObject();
    if (o) {
        add_number(o, "drop", s->drop);
        add_number(o, "agreement", s->agreement);
        add_number(o, "kl", s->kl);
        cJSON_AddBoolToObject(o, "pass", s->pass);
    }
    return o;
}

cJSON *mixed_result_json(const struct mixed_result *res)
{
    const struct mixed_search *s = &res->search;
    bool sensed = s->n > 0 && !s->base.pass; /* the layers were measured alone */
    cJSON *root = cJSON_CreateObject();
    cJSON *layers = cJSON_AddArrayToObject(root, "layers");
    cJSON *order = cJSON_AddArrayToObject(root, "order");
    cJSON *kept = cJSON_AddArrayToObject(root, "float");
    if (!root || !layers || !order || !kept) {
        cJSON_Delete(root);
        return NULL;
    }
    for (int i = 0; i < res->n; i++) {
        const struct mixed_layer *l = &s->layers[i];
        cJSON *o = cJSON_CreateObject();
        if (!o)
            break;
        cJSON_AddItemToArray(layers, o);
        cJSON_AddStringToObject(o, "node", res->names[i]);
        cJSON_AddStringToObject(o, "op", graph_op_name(res->ops[i]));
        add_number(o, "gain", sensed ? l->gain : NAN);
        add_number(o, "drop_alone", sensed ? l->alone.drop : NAN);
        add_number(o, "agreement_alone", sensed ? l->alone.agreement : NAN);
        add_number(o, "kl_alone", sensed ? l->alone.kl : NAN);
        cJSON_AddBoolToObject(o, "kept", l->kept);
        cJSON_AddBoolToObject(o, "float", res->is_float[i]);
    }
    for (int i = 0; sensed && i < res->n; i++)
        cJSON_AddItemToArray(order, cJSON_CreateString(res->names[s->order[i]]));
    for (int i = 0; i < s->n_kept; i++)
        cJSON_AddItemToArray(kept, cJSON_CreateString(res->names[s->order[i]]));
    cJSON_AddNumberToObject(root, "measured", s->measured);
    cJSON_AddItemToObject(root, "int8", score_json(&s->base));
    cJSON_AddItemToObject(root, "chosen", score_json(&s->chosen));
    return root;
}

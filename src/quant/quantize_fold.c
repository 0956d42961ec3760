/* Folding batch_norm into the conv2d or dense before it, and (for int8)
 * fusing a following relu/relu6 into the node's activation.
 *
 * batch_norm per output channel o (last axis):
 *   y = (x - mean[o]) * s[o] + beta[o],  s[o] = gamma[o] / sqrt(var[o] + eps)
 * and x = b[o] + sum w[o,...] * in, so
 *   w'[o,...] = w[o,...] * s[o],  b'[o] = (b[o] - mean[o]) * s[o] + beta[o]
 * (computed in double, stored as F32). The folded node keeps its name and
 * writes the value the batch_norm (or fused relu) wrote, under its name. */
#include "quant/quantize_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static bool is_float_const(const struct graph *g, int v)
{
    return v >= 0 && g->values[v].kind == GRAPH_VALUE_CONST &&
           quanta_dtype_is_float(g->values[v].dtype) && g->values[v].data;
}

/* Whether batch_norm node bn can fold into conv/dense node p. */
static bool can_fold(const struct graph *g, const struct graph_node *p, const struct graph_node *bn)
{
    if (p->n_inputs < 2 || !is_float_const(g, p->inputs[1]))
        return false;
    if (p->n_inputs > 2 && p->inputs[2] >= 0 && !is_float_const(g, p->inputs[2]))
        return false;
    int64_t channels = g->values[p->inputs[1]].shape.dims[0];
    for (int k = 1; k < 5; k++) {
        if (!is_float_const(g, bn->inputs[k]))
            return false;
        if (quanta_shape_numel(&g->values[bn->inputs[k]].shape) != channels)
            return false;
    }
    return true;
}

static enum quanta_status emit_folded(struct graph *out, const struct graph *src,
                                      const struct graph_node *p, const struct graph_node *bn,
                                      const int *readers, int *ins, struct quanta_error *err)
{
    const struct graph_value *wv = &src->values[p->inputs[1]];
    int bias = p->n_inputs > 2 ? p->inputs[2] : -1;
    int64_t channels = wv->shape.dims[0];
    int64_t numel = quanta_shape_numel(&wv->shape);
    int64_t per = channels > 0 ? numel / channels : 0;
    float *w = qz_const_to_f32(wv);
    float *b = malloc((size_t)(channels > 0 ? channels : 1) * sizeof *b);
    float *prm[4] = {NULL, NULL, NULL, NULL};
    char *wname = NULL, *bname = NULL;
    for (int k = 0; k < 4; k++)
        prm[k] = qz_const_to_f32(&src->values[bn->inputs[1 + k]]);
    float *bias_f = bias >= 0 ? qz_const_to_f32(&src->values[bias]) : NULL;
    if (!w || !b || !prm[0] || !prm[1] || !prm[2] || !prm[3] || (bias >= 0 && !bias_f))
        goto nomem;
    const float *gamma = prm[0], *beta = prm[1], *mean = prm[2], *var = prm[3];
    double eps = bn->attrs.epsilon;
    for (int64_t o = 0; o < channels; o++) {
        double s = (double)gamma[o] / sqrt((double)var[o] + eps);
        for (int64_t i = 0; i < per; i++)
            w[o * per + i] = (float)((double)w[o * per + i] * s);
        double b0 = bias_f ? (double)bias_f[o] : 0.0;
        b[o] = (float)((b0 - (double)mean[o]) * s + (double)beta[o]);
    }
    wname = readers[p->inputs[1]] == 1 ? strdup(wv->name)
                                       : qz_unique_name(src, out, wv->name, ".folded");
    if (bias >= 0 && readers[bias] == 1)
        bname = strdup(src->values[bias].name);
    else
        bname = qz_unique_name(src, out, bias >= 0 ? src->values[bias].name : p->name,
                               bias >= 0 ? ".folded" : ".bias");
    if (!wname || !bname)
        goto nomem;
    struct quanta_shape bshape = {.rank = 1, .dims = {channels}};
    ins[1] = qz_add_owned_const(out, wname, QUANTA_F32, &wv->shape, w);
    w = NULL;
    if (ins[1] < 0)
        goto nomem;
    ins[2] = qz_add_owned_const(out, bname, QUANTA_F32, &bshape, b);
    b = NULL;
    if (ins[2] < 0)
        goto nomem;
    for (int k = 0; k < 4; k++)
        free(prm[k]);
    free(bias_f);
    free(wname);
    free(bname);
    return QUANTA_OK;
nomem:
    free(w);
    free(b);
    for (int k = 0; k < 4; k++)
        free(prm[k]);
    free(bias_f);
    free(wname);
    free(bname);
    return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory folding batch_norm '%s'", bn->name);
}

static int map_value(struct graph *out, const struct graph *src, int *map, int v)
{
    if (v < 0)
        return -1;
    if (map[v] < 0 && src->values[v].kind == GRAPH_VALUE_CONST)
        map[v] = qz_copy_value(out, src, v, NULL);
    return map[v];
}

enum quanta_status quantize_fold(const struct graph *src, bool fuse_relu,
                                 const char *const *exclude, int n_exclude, struct graph *out,
                                 const char *source, struct quanta_error *err)
{
    enum quanta_status st = QUANTA_OK;
    int nv = src->n_values, nn = src->n_nodes;
    memset(out, 0, sizeof *out);
    int *readers = qz_count_readers(src);
    int *map = malloc((size_t)(nv + 1) * sizeof *map);
    int *producer = malloc((size_t)(nv + 1) * sizeof *producer);
    int *bn_of = malloc((size_t)(nn + 1) * sizeof *bn_of);
    int *final_out = malloc((size_t)(nn + 1) * sizeof *final_out);
    enum graph_activation *act = malloc((size_t)(nn + 1) * sizeof *act);
    bool *skip = calloc((size_t)(nn + 1), sizeof *skip);
    int *ins = malloc((size_t)(nv + 3) * sizeof *ins);
    int *outs = malloc((size_t)(nv + 1) * sizeof *outs);
    int *input_map = malloc((size_t)(src->n_inputs + 1) * sizeof *input_map);
    if (!readers || !map || !producer || !bn_of || !final_out || !act || !skip || !ins || !outs ||
        !input_map) {
        st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory folding batch_norm", source);
        goto done;
    }
    for (int v = 0; v < nv; v++) {
        map[v] = -1;
        producer[v] = src->values[v].kind == GRAPH_VALUE_NODE ? src->values[v].producer : -1;
    }
    /* plan: which node absorbs which batch_norm / relu */
    for (int i = 0; i < nn; i++) {
        const struct graph_node *n = &src->nodes[i];
        bn_of[i] = -1;
        final_out[i] = n->n_outputs > 0 ? n->outputs[0] : -1;
        act[i] = n->attrs.activation;
        if (qz_is_excluded(n->name, exclude, n_exclude) || n->n_inputs < 1 || n->inputs[0] < 0)
            continue;
        int x = n->inputs[0];
        int p = producer[x];
        if (p < 0 || skip[p] || readers[x] != 1 || act[p] != GRAPH_ACT_NONE ||
            qz_is_excluded(src->nodes[p].name, exclude, n_exclude))
            continue;
        enum graph_op pop = src->nodes[p].op;
        if (n->op == GRAPH_OP_BATCH_NORM && (pop == GRAPH_OP_CONV2D || pop == GRAPH_OP_DENSE) &&
            bn_of[p] < 0 && can_fold(src, &src->nodes[p], n)) {
            bn_of[p] = i;
        } else if (fuse_relu && (n->op == GRAPH_OP_RELU || n->op == GRAPH_OP_RELU6) &&
                   (pop == GRAPH_OP_CONV2D || pop == GRAPH_OP_DENSE || pop == GRAPH_OP_ADD ||
                    pop == GRAPH_OP_MUL)) {
            act[p] = n->op == GRAPH_OP_RELU ? GRAPH_ACT_RELU : GRAPH_ACT_RELU6;
        } else {
            continue;
        }
        skip[i] = true;
        final_out[p] = n->outputs[0];
        producer[n->outputs[0]] = p;
    }
    /* emit */
    for (int i = 0; i < src->n_inputs; i++) {
        int v = src->inputs[i].value;
        if ((map[v] = qz_copy_value(out, src, v, NULL)) < 0)
            goto nomem;
        input_map[i] = map[v];
    }
    for (int i = 0; i < nn; i++) {
        const struct graph_node *n = &src->nodes[i];
        if (skip[i])
            continue;
        for (int k = 0; k < n->n_inputs; k++) {
            if (bn_of[i] >= 0 && k >= 1)
                continue;
            ins[k] = map_value(out, src, map, n->inputs[k]);
            if (n->inputs[k] >= 0 && ins[k] < 0)
                goto nomem;
        }
        int n_ins = n->n_inputs;
        if (bn_of[i] >= 0) {
            if ((st = emit_folded(out, src, n, &src->nodes[bn_of[i]], readers, ins, err)))
                goto done;
            n_ins = 3;
        }
        for (int o = 0; o < n->n_outputs; o++) {
            int v = o == 0 ? final_out[i] : n->outputs[o];
            if ((outs[o] = map[v] = qz_copy_value(out, src, v, NULL)) < 0)
                goto nomem;
        }
        int k = qz_add_node_like(out, n, NULL, ins, n_ins, outs, n->n_outputs);
        if (k < 0)
            goto nomem;
        out->nodes[k].attrs.activation = act[i];
    }
    for (int o = 0; o < src->n_outputs; o++) {
        outs[o] = map_value(out, src, map, src->outputs[o]);
        if (outs[o] < 0) {
            st = quanta_fail(err, QUANTA_ERR_INTERNAL, "%s: output '%s' lost while folding",
                             source, src->values[src->outputs[o]].name);
            goto done;
        }
    }
    if ((st = qz_copy_graph_header(out, src, input_map, err)) ||
        (st = qz_set_outputs(out, outs, src->n_outputs, err)))
        goto done;
    st = graph_validate(out, source, err);
    goto done;
nomem:
    st = quanta_fail(err, QUANTA_ERR_NOMEM, "%s: out of memory folding batch_norm", source);
done:
    if (st != QUANTA_OK) {
        graph_free(out);
        memset(out, 0, sizeof *out);
    }
    free(readers);
    free(map);
    free(producer);
    free(bn_of);
    free(final_out);
    free(act);
    free(skip);
    free(ins);
    free(outs);
    free(input_map);
    return st;
}

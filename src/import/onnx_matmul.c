/* Gemm and MatMul: dense with a constant weight, matmul of two
 * activations (attention's Q x K^T and scores x V). */
#include "import/onnx_ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* dense of x (rank 2) with weight wt [O, K] (ONNX column order) and
 * optional bias [O]; wt may be reordered in place. */
static enum quanta_status emit_dense(struct cv *cv, const struct cv_value *x, float *wt,
                                     int64_t o, const float *bias, const char *wname,
                                     const char *bname)
{
    enum quanta_status st;
    const int r = x->shape.rank;
    int64_t k = x->shape.dims[r - 1];
    if (x->flat && (st = cv_permute_columns(cv, x, wt, o, k)))
        return st;
    struct quanta_shape ws = {.rank = 2, .dims = {o, k}};
    int qw = cv_const_value(cv, wname, wt, &ws), qb = -1;
    if (qw < 0)
        return cv_nomem(cv);
    if (bias) {
        struct quanta_shape bs = {.rank = 1, .dims = {o}};
        if ((qb = cv_const_value(cv, bname, bias, &bs)) < 0)
            return cv_nomem(cv);
    }
    /* the last axis, physically last too (dense_input), becomes o */
    struct quanta_shape phys = cv->g->values[x->q].shape;
    phys.dims[phys.rank - 1] = o;
    int ins[3] = {x->q, qw, qb}, q;
    if ((st = cv_emit(cv, GRAPH_OP_DENSE, ins, 3, &phys, &q, NULL)))
        return st;
    struct cv_value out = *x;
    out.flat = false;
    out.shape.dims[r - 1] = o;
    if (x->flat)
        cv_perm_identity(2, out.perm);
    out.q = q;
    return cv_def_new(cv, &out);
}

/* The input of a dense: [..., K] with K physically last (the layout x has
 * when it already keeps its last axis last, else ONNX order). */
static enum quanta_status dense_input(struct cv *cv, struct cv_value *x)
{
    char buf[128];
    const int r = x->shape.rank;
    if (r < 2)
        return cv_fail(cv, "input '%s' has shape %s; dense needs rank 2 or more", x->name,
                       quanta_shape_format(&x->shape, buf, sizeof buf));
    if (x->flat)
        return QUANTA_OK;
    enum quanta_status st = cv_merge_groups(cv, x);
    if (st)
        return st;
    int perm[QUANTA_MAX_RANK], q, re = x->shape.rank;
    if (x->n_onnx && x->group[x->n_onnx - 1] > 1)
        return cv_fail(cv, "input '%s' has the batch merged into its last axis", x->name);
    if (x->perm[re - 1] == re - 1)
        memcpy(perm, x->perm, sizeof perm);
    else
        cv_perm_canonical(x, perm);
    st = cv_materialize(cv, x, perm, &q);
    x->q = q; /* a local copy */
    memcpy(x->perm, perm, sizeof perm);
    return st;
}

enum quanta_status cv_op_gemm(struct cv *cv)
{
    static const char *const attrs[] = {"alpha", "beta", "transA", "transB", NULL};
    /* before opset 7: broadcast says whether C may be broadcast; either way
     * C is added as numpy broadcasting does */
    static const char *const attrs6[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
    struct cv_value *xp, *cvv, x;
    const struct onnx_tensor *b, *c = NULL;
    int64_t ta, tb;
    float alpha, beta;
    enum quanta_status st;
    char buf[128];
    if ((st = cv_check_attrs(cv, cv->m->opset < 7 ? attrs6 : attrs)) ||
        (st = cv_need_act(cv, 0, &xp)) || (st = cv_need_const(cv, 1, "weight B", &b)) || (st = cv_input(cv, 2, &cvv)) ||
        (st = cv_attr_int(cv, "transA", 0, &ta)) || (st = cv_attr_int(cv, "transB", 0, &tb)) ||
        (st = cv_attr_float(cv, "alpha", 1.0f, &alpha)) ||
        (st = cv_attr_float(cv, "beta", 1.0f, &beta)))
        return st;
    if (cvv && (st = cv_need_const(cv, 2, "bias C", &c)))
        return st;
    if (ta != 0)
        return cv_fail(cv, "transA=%lld on an activation is not supported", (long long)ta);
    x = *xp;
    if ((st = dense_input(cv, &x)) || (st = cv_need_f32(cv, b, "weight")) ||
        (c && (st = cv_need_f32(cv, c, "bias"))))
        return st;
    int64_t k = x.shape.dims[x.shape.rank - 1];
    if (cv_onnx_rank(&x) != 2)
        return cv_fail(cv, "input '%s' must have rank 2", x.name);
    if (b->shape.rank != 2 || b->shape.dims[tb ? 1 : 0] != k)
        return cv_fail(cv, "weight B '%s' has shape %s but %s is needed with transB=%lld",
                       b->name, quanta_shape_format(&b->shape, buf, sizeof buf),
                       tb ? "[O, K]" : "[K, O]", (long long)tb);
    int64_t o = b->shape.dims[tb ? 0 : 1];
    float *wt = malloc((size_t)(o * k) * sizeof *wt + 1);
    float *bias = c ? malloc((size_t)o * sizeof *bias + 1) : NULL;
    if (!wt || (c && !bias)) {
        free(wt);
        free(bias);
        return cv_nomem(cv);
    }
    const float *bd = b->data;
    for (int64_t i = 0; i < o; i++)
        for (int64_t j = 0; j < k; j++)
            wt[i * k + j] = alpha * (tb ? bd[i * k + j] : bd[j * o + i]);
    if (c) {
        /* C broadcasts to [N, O]: only [O], [1, O] and one element make a bias */
        bool one = c->numel == 1;
        bool row = c->numel == o && (c->shape.rank == 1 || (c->shape.rank == 2 && c->shape.dims[0] == 1));
        if (!one && !row) {
            free(wt);
            free(bias);
            return cv_fail(cv, "bias C '%s' has shape %s; only [O], [1, O] or one element is "
                               "supported",
                           c->name, quanta_shape_format(&c->shape, buf, sizeof buf));
        }
        for (int64_t i = 0; i < o; i++)
            bias[i] = beta * ((const float *)c->data)[one ? 0 : i];
    }
    char wname[300], bname[300];
    snprintf(wname, sizeof wname, "%s", cv->node->inputs[1]);
    snprintf(bname, sizeof bname, "%s", c ? cv->node->inputs[2] : "");
    st = emit_dense(cv, &x, wt, o, bias, wname, bname);
    free(wt);
    free(bias);
    return st;
}

/* matmul_activations where the batch was moved or merged (torch's
 * multi-head attention: [N * H, L, D / H] x [N * H, D / H, L]): both of
 * one rank and grouping, stored batch first, the leading axes equal. */
static enum quanta_status matmul_moved(struct cv *cv, struct cv_value a, struct cv_value b)
{
    enum quanta_status st;
    if ((st = cv_merge_groups(cv, &a)) || (st = cv_merge_groups(cv, &b)))
        return st;
    const int r = a.shape.rank;
    bool ok = r == b.shape.rank && r >= 3 && a.n_onnx == b.n_onnx &&
              cv_batch_axis(&a) == cv_batch_axis(&b) && cv_batch_axis(&a) < r - 2 &&
              (a.n_onnx == 0 || memcmp(a.group, b.group, sizeof a.group) == 0) &&
              a.shape.dims[r - 1] == b.shape.dims[r - 2];
    for (int d = 0; ok && d < r - 2; d++)
        ok = a.shape.dims[d] == b.shape.dims[d];
    if (ok && a.n_onnx)
        ok = a.group[a.n_onnx - 1] == 1 && a.group[a.n_onnx - 2] == 1;
    if (!ok)
        return cv_fail(cv, "inputs '%s' and '%s' have the batch moved or merged differently",
                       a.name, b.name);
    int perm[QUANTA_MAX_RANK], ins[2];
    cv_perm_canonical(&a, perm);
    if ((st = cv_materialize(cv, &a, perm, &ins[0])) ||
        (st = cv_materialize(cv, &b, perm, &ins[1])))
        return st;
    struct cv_value out = a;
    out.shape.dims[r - 1] = b.shape.dims[r - 1];
    memcpy(out.perm, perm, sizeof out.perm);
    struct quanta_shape phys = cv_phys_shape(&out.shape, out.perm);
    if ((st = cv_emit(cv, GRAPH_OP_MATMUL, ins, 2, &phys, &out.q, NULL)))
        return st;
    return cv_def_new(cv, &out);
}

/* MatMul with an activation as B (attention's Q x K^T, scores x V): both
 * in ONNX order, matmul with broadcast leading axes. */
static enum quanta_status matmul_activations(struct cv *cv, struct cv_value *a, struct cv_value *b)
{
    char b1[128], b2[128];
    enum quanta_status st;
    if (a->shape.rank < 2 || b->shape.rank < 2 || a->flat || b->flat)
        return cv_fail(cv, "inputs '%s' %s and '%s' %s: matmul of activations needs rank 2 or "
                           "more",
                       a->name, quanta_shape_format(&a->shape, b1, sizeof b1), b->name,
                       quanta_shape_format(&b->shape, b2, sizeof b2));
    if (!cv_plain(a) || !cv_plain(b))
        return matmul_moved(cv, *a, *b);
    int ins[2], pa[QUANTA_MAX_RANK], pb[QUANTA_MAX_RANK];
    cv_perm_identity(a->shape.rank, pa);
    cv_perm_identity(b->shape.rank, pb);
    if ((st = cv_materialize(cv, a, pa, &ins[0])) || (st = cv_materialize(cv, b, pb, &ins[1])))
        return st;
    const struct quanta_shape *sa = &a->shape, *sb = &b->shape;
    struct cv_value out = a->shape.rank >= b->shape.rank ? *a : *b;
    int rank = out.shape.rank;
    for (int d = 0; d < rank - 2; d++) {
        int ka = d - (rank - sa->rank), kb = d - (rank - sb->rank);
        int64_t da = ka >= 0 ? sa->dims[ka] : 1, db = kb >= 0 ? sb->dims[kb] : 1;
        out.shape.dims[d] = da == 1 ? db : da;
    }
    out.shape.dims[rank - 2] = sa->dims[sa->rank - 2];
    out.shape.dims[rank - 1] = sb->dims[sb->rank - 1];
    cv_perm_identity(rank, out.perm);
    out.flat = false;
    if ((st = cv_emit(cv, GRAPH_OP_MATMUL, ins, 2, &out.shape, &out.q, NULL)))
        return st;
    return cv_def_new(cv, &out);
}

enum quanta_status cv_op_matmul(struct cv *cv)
{
    struct cv_value *xp, x;
    const struct onnx_tensor *b;
    enum quanta_status st;
    char buf[128];
    struct cv_value *in1;
    if ((st = cv_check_attrs(cv, NULL)) || (st = cv_need(cv, 1, &in1)))
        return st;
    if (in1->kind == CV_ACT) {
        if ((st = cv_need_act(cv, 0, &xp)))
            return st;
        return matmul_activations(cv, xp, in1);
    }
    if ((st = cv_need_act(cv, 0, &xp)) ||
        (st = cv_need_const(cv, 1, "weight B", &b)))
        return st;
    x = *xp;
    if ((st = dense_input(cv, &x)) || (st = cv_need_f32(cv, b, "weight")))
        return st;
    int64_t k = x.shape.dims[x.shape.rank - 1];
    if (b->shape.rank != 2 || b->shape.dims[0] != k)
        return cv_fail(cv, "weight B '%s' has shape %s but [%lld, O] is needed", b->name,
                       quanta_shape_format(&b->shape, buf, sizeof buf), (long long)k);
    int64_t o = b->shape.dims[1];
    float *wt = malloc((size_t)(o * k) * sizeof *wt + 1);
    if (!wt)
        return cv_nomem(cv);
    for (int64_t i = 0; i < o; i++)
        for (int64_t j = 0; j < k; j++)
            wt[i * k + j] = ((const float *)b->data)[j * o + i];
    st = emit_dense(cv, &x, wt, o, NULL, cv->node->inputs[1], "");
    free(wt);
    return st;
}

/* quanta profile's figures: each node's median time over timed runs, its
 * share of the sum, and the same summed per operator and kind. */
#include "report/report.h"

#include <stdlib.h>
#include <string.h>

bool report_node_int8(const struct graph *g, int node)
{
    const struct graph_node *nd = &g->nodes[node];
    for (int k = 0; k < nd->n_outputs; k++)
        if (g->values[nd->outputs[k]].quant.dtype != QUANTA_DTYPE_INVALID)
            return true;
    for (int k = 0; k < nd->n_inputs; k++) {
        int v = nd->inputs[k];
        if (v >= 0 && g->values[v].kind != GRAPH_VALUE_CONST &&
            g->values[v].quant.dtype != QUANTA_DTYPE_INVALID)
            return true;
    }
    return false;
}

/* Slower first; equal times keep graph order. */
static int compare_rows(const void *a, const void *b)
{
    const struct report_profile_row *x = a, *y = b;
    if (x->median_ms != y->median_ms)
        return x->median_ms > y->median_ms ? -1 : 1;
    return x->first_node - y->first_node;
}

enum quanta_status report_profile_make(const struct graph *g, const double *seconds, int runs,
                                       struct report_profile *p, struct quanta_error *err)
{
    memset(p, 0, sizeof *p);
    int n = g->n_nodes;
    double *col = malloc((size_t)(runs > 0 ? runs : 1) * sizeof *col);
    p->nodes = calloc((size_t)(n > 0 ? n : 1), sizeof *p->nodes);
    p->ops = calloc((size_t)(n > 0 ? n : 1), sizeof *p->ops);
    if (!col || !p->nodes || !p->ops) {
        free(col);
        report_profile_free(p);
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for the profile");
    }
    for (int i = 0; i < n; i++) {
        for (int r = 0; r < runs; r++)
            col[r] = seconds[(size_t)r * (size_t)n + (size_t)i];
        double med = report_median(col, runs);
        struct report_profile_row *row = &p->nodes[i];
        row->op = g->nodes[i].op;
        row->int8 = report_node_int8(g, i);
        row->first_node = i;
        row->count = 1;
        row->median_ms = 1e3 * med;
        p->total_ms += row->median_ms;
        /* the op's row: one per (op, kind), in order of first appearance */
        int k = 0;
        while (k < p->n_ops && (p->ops[k].op != row->op || p->ops[k].int8 != row->int8))
            k++;
        if (k == p->n_ops)
            p->ops[p->n_ops++] = (struct report_profile_row){
                .op = row->op, .int8 = row->int8, .first_node = i};
        p->ops[k].count++;
        p->ops[k].median_ms += row->median_ms;
    }
    free(col);
    p->n_nodes = n;
    for (int i = 0; i < n; i++)
        p->nodes[i].share = p->total_ms > 0 ? p->nodes[i].median_ms / p->total_ms : 0;
    for (int k = 0; k < p->n_ops; k++)
        p->ops[k].share = p->total_ms > 0 ? p->ops[k].median_ms / p->total_ms : 0;
    qsort(p->ops, (size_t)p->n_ops, sizeof *p->ops, compare_rows);
    return QUANTA_OK;
}

void report_profile_sorted(const struct report_profile *p, struct report_profile_row *rows)
{
    memcpy(rows, p->nodes, (size_t)p->n_nodes * sizeof *rows);
    qsort(rows, (size_t)p->n_nodes, sizeof *rows, compare_rows);
}

void report_profile_free(struct report_profile *p)
{
    free(p->nodes);
    free(p->ops);
    memset(p, 0, sizeof *p);
}

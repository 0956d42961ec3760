/* Histograms with the int8 copy's clipping range, and the class-by-class
 * changes between two models (quanta report). */
#include "report/detail.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

void report_hist_init(struct report_hist *h, double lo, double hi)
{
    memset(h, 0, sizeof *h);
    if (isfinite(lo) && isfinite(hi) && lo < hi) {
        h->lo = lo;
        h->hi = hi;
        h->has_range = true;
    }
}

void report_hist_set_clip(struct report_hist *h, double lo, double hi)
{
    h->has_clip = true;
    h->clip_lo = lo;
    h->clip_hi = hi;
}

/* Doubles the range towards x, bins merged in pairs into one half. */
static void grow(struct report_hist *h, double x)
{
    enum { B = REPORT_HIST_BINS };
    while (x < h->lo || x > h->hi) {
        double width = h->hi - h->lo;
        bool up = x > h->hi;
        int64_t merged[B / 2];
        for (int j = 0; j < B / 2; j++)
            merged[j] = h->bins[2 * j] + h->bins[2 * j + 1];
        memset(h->bins, 0, sizeof h->bins);
        memcpy(h->bins + (up ? 0 : B / 2), merged, sizeof merged);
        if (up)
            h->hi = h->lo + 2.0 * width;
        else
            h->lo = h->hi - 2.0 * width;
    }
}

static void first_range(struct report_hist *h, const float *x, size_t n)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) {
            lo = fmin(lo, x[i]);
            hi = fmax(hi, x[i]);
        }
    if (lo > hi)
        return;
    if (!(hi > lo)) { /* one value: a unit range around it */
        lo -= 0.5;
        hi += 0.5;
    }
    h->lo = lo;
    h->hi = hi;
    h->has_range = true;
}

void report_hist_add(struct report_hist *h, const float *x, size_t n)
{
    if (!h->has_range)
        first_range(h, x, n);
    if (!h->has_range) { /* nothing finite */
        h->nonfinite += (int64_t)n;
        return;
    }
    double lo = h->lo, hi = h->hi, per_unit = REPORT_HIST_BINS / (hi - lo);
    double vmin = h->count ? h->min : INFINITY, vmax = h->count ? h->max : -INFINITY;
    int64_t below = 0, above = 0, nonfinite = 0;
    double clip_lo = h->has_clip ? h->clip_lo : -INFINITY;
    double clip_hi = h->has_clip ? h->clip_hi : INFINITY;
    for (size_t i = 0; i < n; i++) {
        double v = x[i];
        if (!(v >= lo && v <= hi)) { /* rare: outside the range, or NaN */
            if (!isfinite(v)) {
                nonfinite++;
                continue;
            }
            grow(h, v);
            lo = h->lo;
            hi = h->hi;
            per_unit = REPORT_HIST_BINS / (hi - lo);
        }
        int b = (int)((v - lo) * per_unit);
        h->bins[b < REPORT_HIST_BINS ? b : REPORT_HIST_BINS - 1]++;
        vmin = v < vmin ? v : vmin;
        vmax = v > vmax ? v : vmax;
        below += v < clip_lo;
        above += v > clip_hi;
    }
    h->count += (int64_t)n - nonfinite;
    h->nonfinite += nonfinite;
    if (h->count > 0) {
        h->min = vmin;
        h->max = vmax;
    }
    h->below += below;
    h->above += above;
}

bool report_quant_range(const struct graph_quant *q, double *lo, double *hi)
{
    int qmin, qmax;
    if (q->dtype == QUANTA_I8) {
        qmin = -128;
        qmax = 127;
    } else if (q->dtype == QUANTA_U8) {
        qmin = 0;
        qmax = 255;
    } else {
        return false;
    }
    if (q->n < 1 || !q->scales || !q->zero_points)
        return false;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int c = 0; c < q->n; c++) {
        double s = q->scales[c], z = q->zero_points[c];
        *lo = fmin(*lo, s * (qmin - z));
        *hi = fmax(*hi, s * (qmax - z));
    }
    return isfinite(*lo) && isfinite(*hi) && *lo < *hi;
}

int report_node_weight(const struct graph *fg, int node)
{
    const struct graph_node *n = &fg->nodes[node];
    if ((n->op != GRAPH_OP_CONV2D && n->op != GRAPH_OP_DENSE && n->op != GRAPH_OP_MATMUL) ||
        n->n_inputs < 2 || n->inputs[1] < 0)
        return -1;
    const struct graph_value *w = &fg->values[n->inputs[1]];
    return w->kind == GRAPH_VALUE_CONST && w->dtype == QUANTA_F32 && w->data ? n->inputs[1] : -1;
}

void report_weight_hist(const struct graph *fg, int w, const struct graph *qg,
                        struct report_hist *h)
{
    const struct graph_value *v = &fg->values[w];
    const float *x = v->data;
    size_t n = (size_t)quanta_shape_numel(&v->shape);
    report_hist_init(h, NAN, NAN);
    first_range(h, x, n); /* every weight is known: the range fits them exactly */
    int qv = graph_find_value(qg, v->name);
    double lo, hi;
    if (qv >= 0 && report_quant_range(&qg->values[qv].quant, &lo, &hi)) {
        report_hist_init(h, h->has_range ? fmin(h->lo, lo) : lo,
                         h->has_range ? fmax(h->hi, hi) : hi);
        report_hist_set_clip(h, lo, hi);
    }
    report_hist_add(h, x, n);
}

enum quanta_status report_changes_init(struct report_changes *c, int classes,
                                       struct quanta_error *err)
{
    memset(c, 0, sizeof *c);
    size_t k = (size_t)classes;
    c->lost = calloc(k * k, sizeof *c->lost);
    c->samples = calloc(k, sizeof *c->samples);
    c->right1 = calloc(k, sizeof *c->right1);
    c->right2 = calloc(k, sizeof *c->right2);
    c->gained = calloc(k, sizeof *c->gained);
    if (!c->lost || !c->samples || !c->right1 || !c->right2 || !c->gained) {
        report_changes_free(c);
        return quanta_fail(err, QUANTA_ERR_NOMEM, "out of memory for a %d-class table", classes);
    }
    c->classes = classes;
    return QUANTA_OK;
}

void report_changes_add(struct report_changes *c, const float *x1, const float *x2, int label)
{
    if (label < 0 || label >= c->classes)
        return;
    int p1 = report_argmax(x1, c->classes), p2 = report_argmax(x2, c->classes);
    c->samples[label]++;
    c->right1[label] += p1 == label;
    c->right2[label] += p2 == label;
    if (p1 == label && p2 != label)
        c->lost[(size_t)label * (size_t)c->classes + (size_t)p2]++;
    if (p2 == label && p1 != label)
        c->gained[label]++;
}

int64_t report_changes_lost(const struct report_changes *c, int label)
{
    int64_t sum = 0;
    for (int j = 0; j < c->classes; j++)
        sum += c->lost[(size_t)label * (size_t)c->classes + (size_t)j];
    return sum;
}

void report_changes_free(struct report_changes *c)
{
    free(c->lost);
    free(c->samples);
    free(c->right1);
    free(c->right2);
    free(c->gained);
    memset(c, 0, sizeof *c);
}

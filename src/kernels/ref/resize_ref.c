/* Reference resize of any rank: nearest (any element size) and linear
 * (float). y is walked in order; each axis' source index (and weight) is
 * kept in an odometer and recomputed only when that axis moves. The
 * coordinates follow ONNX's reference in double precision. */
#include "kernels/kernels.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

double resize_coord(const struct resize_params *p, int d, size_t o)
{
    const double x = (double)o, s = p->scale[d], w = p->width[d];
    switch (p->coord) {
    case RESIZE_ASYMMETRIC: return x / s;
    case RESIZE_ALIGN_CORNERS: return w == 1.0 ? 0.0 : x * (double)(p->in[d] - 1) / (w - 1.0);
    case RESIZE_PYTORCH_HALF_PIXEL: return w == 1.0 ? -0.5 : (x + 0.5) / s - 0.5;
    case RESIZE_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    case RESIZE_HALF_PIXEL: break;
    }
    return (x + 0.5) / s - 0.5;
}

static int64_t clamp_index(double v, size_t in)
{
    return v < 0.0 ? 0 : v > (double)(in - 1) ? (int64_t)in - 1 : (int64_t)v;
}

static int64_t nearest_index(const struct resize_params *p, int d, size_t o)
{
    const double c = resize_coord(p, d, o), f = floor(c);
    bool up = false;
    if (c != f) {
        const double ratio = c - f;
        switch (p->round) {
        case RESIZE_PREFER_FLOOR: up = ratio > 0.5; break;
        case RESIZE_PREFER_CEIL: up = ratio >= 0.5; break;
        case RESIZE_FLOOR: up = false; break;
        case RESIZE_CEIL: up = true; break;
        }
    }
    return clamp_index(up ? f + 1.0 : f, p->in[d]);
}

void resize_nearest__ref(const struct resize_params *p, const void *x, void *y)
{
    const int r = p->rank;
    const size_t e = p->elem_size;
    int64_t stride[TRANSPOSE_MAX_RANK], src[TRANSPOSE_MAX_RANK], s = 1;
    size_t total = 1, index[TRANSPOSE_MAX_RANK] = {0};
    for (int d = r - 1; d >= 0; d--) {
        stride[d] = s;
        s *= (int64_t)p->in[d];
        total *= p->out[d];
    }
    for (int d = 0; d < r; d++)
        src[d] = nearest_index(p, d, 0);
    const unsigned char *xb = x;
    unsigned char *yb = y;
    const size_t row = r ? p->out[r - 1] : 1;
    for (size_t i = 0; i < total; i += row) {
        int64_t base = 0;
        for (int d = 0; d < r - 1; d++)
            base += src[d] * stride[d];
        for (size_t k = 0; k < row; k++) {
            int64_t t = r ? nearest_index(p, r - 1, k) : 0;
            memcpy(yb + (i + k) * e, xb + (size_t)(base + t) * e, e);
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++index[d] < p->out[d]) {
                src[d] = nearest_index(p, d, index[d]);
                break;
            }
            index[d] = 0;
            src[d] = nearest_index(p, d, 0);
        }
    }
}

/* The two taps of output index o along axis d: indices i0, i1 (clamped)
 * and the weight w of i1 (0 when the coordinate is whole). */
struct tap {
    int64_t i0, i1;
    double w;
};

static struct tap linear_tap(const struct resize_params *p, int d, size_t o)
{
    const double c = resize_coord(p, d, o), f = floor(c);
    struct tap t = {clamp_index(f, p->in[d]), clamp_index(f + 1.0, p->in[d]), c - f};
    if (t.w == 0.0 || t.i0 == t.i1)
        t.w = 0.0;
    return t;
}

void f32_resize_linear__ref(const struct resize_params *p, const float *x, float *y)
{
    const int r = p->rank;
    int64_t stride[TRANSPOSE_MAX_RANK], s = 1;
    size_t total = 1, index[TRANSPOSE_MAX_RANK] = {0};
    struct tap tap[TRANSPOSE_MAX_RANK];
    for (int d = r - 1; d >= 0; d--) {
        stride[d] = s;
        s *= (int64_t)p->in[d];
        total *= p->out[d];
    }
    for (int d = 0; d < r; d++)
        tap[d] = linear_tap(p, d, 0);
    const size_t row = r ? p->out[r - 1] : 1;
    /* the corners of the outer axes: offset and weight, at most 2^(r-1) */
    int64_t off[1 << (TRANSPOSE_MAX_RANK - 1)];
    double wt[1 << (TRANSPOSE_MAX_RANK - 1)];
    for (size_t i = 0; i < total; i += row) {
        int nc = 1;
        off[0] = 0;
        wt[0] = 1.0;
        for (int d = 0; d < r - 1; d++) {
            const struct tap *t = &tap[d];
            if (t->w == 0.0) {
                for (int c = 0; c < nc; c++)
                    off[c] += t->i0 * stride[d];
                continue;
            }
            for (int c = 0; c < nc; c++) {
                off[nc + c] = off[c] + t->i1 * stride[d];
                wt[nc + c] = wt[c] * t->w;
                off[c] += t->i0 * stride[d];
                wt[c] *= 1.0 - t->w;
            }
            nc *= 2;
        }
        for (size_t k = 0; k < row; k++) {
            struct tap t = r ? linear_tap(p, r - 1, k) : (struct tap){0, 0, 0.0};
            double acc = 0.0;
            for (int c = 0; c < nc; c++) {
                double v = (double)x[off[c] + t.i0];
                if (t.w != 0.0)
                    v = v * (1.0 - t.w) + (double)x[off[c] + t.i1] * t.w;
                acc += wt[c] * v;
            }
            y[i + k] = (float)acc;
        }
        for (int d = r - 2; d >= 0; d--) {
            if (++index[d] < p->out[d]) {
                tap[d] = linear_tap(p, d, index[d]);
                break;
            }
            index[d] = 0;
            tap[d] = linear_tap(p, d, 0);
        }
    }
}

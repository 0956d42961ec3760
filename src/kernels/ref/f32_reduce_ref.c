/* Reference reductions (mean, sum, max, min, L2) over a set of axes. For each output element the reduced
 * axes are walked with an odometer over their coordinates, summing in
 * double. */
#include "kernels/kernels.h"

#include <math.h>
#include <stdbool.h>

void f32_mean__ref(const struct f32_reduce_params *p, const float *x, float *y)
{
    size_t stride[F32_REDUCE_MAX_RANK];
    size_t kept[F32_REDUCE_MAX_RANK], red[F32_REDUCE_MAX_RANK];
    int n_kept = 0, n_red = 0;
    size_t s = 1, n_out = 1, n_in_window = 1;
    for (int a = p->rank - 1; a >= 0; a--) {
        stride[a] = s;
        s *= p->dims[a];
    }
    for (int a = 0; a < p->rank; a++) {
        if (p->reduce[a]) {
            red[n_red++] = (size_t)a;
            n_in_window *= p->dims[a];
        } else {
            kept[n_kept++] = (size_t)a;
            n_out *= p->dims[a];
        }
    }
    size_t kc[F32_REDUCE_MAX_RANK] = {0}; /* coordinates of the kept axes */
    for (size_t o = 0; o < n_out; o++) {
        size_t base = 0;
        for (int i = 0; i < n_kept; i++)
            base += kc[i] * stride[kept[i]];
        size_t rc[F32_REDUCE_MAX_RANK] = {0};
        double sum = 0.0, best = x[base];
        size_t at = 0; /* argmax/argmin: the window position of best */
        const bool upward = p->op == F32_REDUCE_MAX || p->op == F32_REDUCE_ARGMAX;
        for (size_t r = 0; r < n_in_window; r++) {
            size_t off = base;
            for (int i = 0; i < n_red; i++)
                off += rc[i] * stride[red[i]];
            double v = x[off];
            sum += p->op == F32_REDUCE_L2 ? v * v : v;
            if (!isnan(best) &&
                (isnan(v) || (upward ? v > best : v < best) || (p->select_last && v == best))) {
                best = v;
                at = r;
            }
            for (int i = n_red - 1; i >= 0; i--) { /* next reduced coordinate */
                if (++rc[i] < p->dims[red[i]])
                    break;
                rc[i] = 0;
            }
        }
        switch (p->op) {
        case F32_REDUCE_MEAN: y[o] = (float)(sum / (double)n_in_window); break;
        case F32_REDUCE_SUM: y[o] = (float)sum; break;
        case F32_REDUCE_L2: y[o] = (float)sqrt(sum); break;
        case F32_REDUCE_MAX:
        case F32_REDUCE_MIN: y[o] = (float)best; break;
        case F32_REDUCE_ARGMAX:
        case F32_REDUCE_ARGMIN: y[o] = (float)at; break;
        }
        for (int i = n_kept - 1; i >= 0; i--) { /* next output coordinate */
            if (++kc[i] < p->dims[kept[i]])
                break;
            kc[i] = 0;
        }
    }
}

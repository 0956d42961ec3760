/* int8 mean over a set of axes: S = sum (x - zx) over the reduced cells,
 * y = clamp(zy + round_half_away(S * M / (n * 2^r)), qmin, qmax). */
#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

#define MAX_RANK 8

/* Advances a row-major counter over the listed axes; returns 0 after the last. */
static int next(int64_t *idx, const int *axes, int n_axes, const int64_t *dims)
{
    for (int k = n_axes - 1; k >= 0; k--) {
        if (++idx[axes[k]] < dims[axes[k]])
            return 1;
        idx[axes[k]] = 0;
    }
    return 0;
}

void q8_mean__ref(int rank, const int64_t *dims, unsigned axes_mask, const struct q8_unary *rq,
                  const int8_t *x, int8_t *y)
{
    int kept[MAX_RANK], reduced[MAX_RANK], n_kept = 0, n_reduced = 0;
    int64_t stride[MAX_RANK], idx[MAX_RANK];
    int64_t n = 1, total = 1;
    for (int a = rank - 1; a >= 0; a--) {
        stride[a] = total;
        total *= dims[a];
    }
    for (int a = 0; a < rank; a++) {
        idx[a] = 0;
        if (axes_mask & (1u << a)) {
            reduced[n_reduced++] = a;
            n *= dims[a];
        } else {
            kept[n_kept++] = a;
        }
    }
    if (total == 0)
        return;
    int64_t out = 0;
    do {
        int64_t base = 0;
        for (int k = 0; k < n_kept; k++)
            base += idx[kept[k]] * stride[kept[k]];
        int64_t sum = 0;
        do {
            int64_t off = base;
            for (int k = 0; k < n_reduced; k++)
                off += idx[reduced[k]] * stride[reduced[k]];
            sum += (int32_t)x[off] - rq->in_zero_point;
        } while (next(idx, reduced, n_reduced, dims));
        y[out++] = (int8_t)q8_clamp_i64(
            (int64_t)q8_requantize_div(sum, rq->multiplier, rq->shift, (int32_t)n) +
                rq->out_zero_point,
            rq->qmin, rq->qmax);
    } while (next(idx, kept, n_kept, dims));
}

/* int8 pools: max, average (padding not counted, one rounding of
 * S * M / (n * 2^r)), and global average. */
#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

/* Clipped window [lo, hi) of one output coordinate along one axis. */
static void window(int o, int stride, int pad, int kernel, int size, int *lo, int *hi)
{
    const int start = o * stride - pad;
    *lo = start < 0 ? 0 : start;
    *hi = start + kernel > size ? size : start + kernel;
}

static void pool2d(const struct q8_pool2d_shape *s, const struct q8_unary *rq, const int8_t *x,
                   int8_t *y, int is_max)
{
    for (int64_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x + b * s->in_h * s->in_w * s->c;
        for (int oy = 0; oy < s->out_h; oy++) {
            int y0, y1;
            window(oy, s->stride_h, s->pad_top, s->kernel_h, s->in_h, &y0, &y1);
            for (int ox = 0; ox < s->out_w; ox++) {
                int x0, x1;
                window(ox, s->stride_w, s->pad_left, s->kernel_w, s->in_w, &x0, &x1);
                int8_t *yp = y + ((b * s->out_h + oy) * s->out_w + ox) * s->c;
                const int32_t n = (y1 > y0 && x1 > x0) ? (y1 - y0) * (x1 - x0) : 0;
                for (int c = 0; c < s->c; c++) {
                    if (n == 0) {
                        yp[c] = (int8_t)q8_clamp_i64(rq->out_zero_point, rq->qmin, rq->qmax);
                        continue;
                    }
                    int32_t mx = INT8_MIN;
                    int64_t sum = 0;
                    for (int iy = y0; iy < y1; iy++) {
                        for (int ix = x0; ix < x1; ix++) {
                            const int32_t v = xb[((int64_t)iy * s->in_w + ix) * s->c + c];
                            mx = v > mx ? v : mx;
                            sum += v - rq->in_zero_point;
                        }
                    }
                    if (is_max)
                        yp[c] = q8_requant_clamp(mx - rq->in_zero_point, rq->multiplier,
                                                 rq->shift, rq->out_zero_point, rq->qmin,
                                                 rq->qmax);
                    else
                        yp[c] = (int8_t)q8_clamp_i64(
                            (int64_t)q8_requantize_div(sum, rq->multiplier, rq->shift, n) +
                                rq->out_zero_point,
                            rq->qmin, rq->qmax);
                }
            }
        }
    }
}

void q8_max_pool2d__ref(const struct q8_pool2d_shape *s, const struct q8_unary *rq,
                        const int8_t *x, int8_t *y)
{
    pool2d(s, rq, x, y, 1);
}

void q8_avg_pool2d__ref(const struct q8_pool2d_shape *s, const struct q8_unary *rq,
                        const int8_t *x, int8_t *y)
{
    pool2d(s, rq, x, y, 0);
}

void q8_global_avg_pool__ref(int64_t batch, int64_t hw, int c, const struct q8_unary *rq,
                             const int8_t *x, int8_t *y)
{
    for (int64_t b = 0; b < batch; b++) {
        for (int ch = 0; ch < c; ch++) {
            int64_t sum = 0;
            for (int64_t i = 0; i < hw; i++)
                sum += (int32_t)x[(b * hw + i) * c + ch] - rq->in_zero_point;
            y[b * c + ch] = (int8_t)q8_clamp_i64(
                (int64_t)q8_requantize_div(sum, rq->multiplier, rq->shift, (int32_t)hw) +
                    rq->out_zero_point,
                rq->qmin, rq->qmax);
        }
    }
}

/* int8 conv2d reference: general, grouped and depthwise in one loop nest
 * (kernels_q8.h states the arithmetic). Clarity first: one output value at
 * a time, exact int64 sum saturated to int32 before requantization. */
#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

void q8_conv2d__ref(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                    const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y)
{
    const int cin_g = s->in_c / s->groups;   /* input channels per group */
    const int cout_g = s->out_c / s->groups; /* output channels per group */
    const int32_t zx = rq->in_zero_point;
    for (int64_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x + b * s->in_h * s->in_w * s->in_c;
        for (int oy = 0; oy < s->out_h; oy++) {
            for (int ox = 0; ox < s->out_w; ox++) {
                int8_t *yp = y + ((b * s->out_h + oy) * s->out_w + ox) * s->out_c;
                for (int o = 0; o < s->out_c; o++) {
                    const int c0 = (o / cout_g) * cin_g;
                    const int8_t *wo = w + (int64_t)o * s->kernel_h * s->kernel_w * cin_g;
                    int64_t acc = bias ? bias[o] : 0;
                    for (int kh = 0; kh < s->kernel_h; kh++) {
                        const int iy = oy * s->stride_h - s->pad_top + kh * s->dilation_h;
                        if (iy < 0 || iy >= s->in_h)
                            continue; /* padding: (zx - zx) * w == 0 */
                        for (int kw = 0; kw < s->kernel_w; kw++) {
                            const int ix = ox * s->stride_w - s->pad_left + kw * s->dilation_w;
                            if (ix < 0 || ix >= s->in_w)
                                continue;
                            const int8_t *xp = xb + ((int64_t)iy * s->in_w + ix) * s->in_c + c0;
                            const int8_t *wp = wo + ((int64_t)kh * s->kernel_w + kw) * cin_g;
                            for (int ci = 0; ci < cin_g; ci++)
                                acc += (int64_t)((int32_t)xp[ci] - zx) * wp[ci];
                        }
                    }
                    const int k = rq->n == 1 ? 0 : o;
                    yp[o] = q8_requant_clamp(q8_clamp_i64(acc, INT32_MIN, INT32_MAX),
                                             rq->multiplier[k], rq->shift[k], rq->out_zero_point,
                                             rq->qmin, rq->qmax);
                }
            }
        }
    }
}

/* int8 conv2d reference: general, grouped and depthwise in one loop nest
 * (kernels_q8.h states the arithmetic). Clarity first: one output value at
 * a time, exact int64 sum saturated to int32 before requantization (or,
 * for a float output, before scaling to float). */
#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

/* sat32(bias[o] + sum over taps inside, ci of (x - zx) * w) at (b, oy, ox, o). */
static int32_t conv_acc(const struct q8_conv2d_shape *s, int32_t zx, const int8_t *x,
                        const int8_t *w, const int32_t *bias, int64_t b, int oy, int ox, int o)
{
    const int cin_g = s->in_c / s->groups;   /* input channels per group */
    const int cout_g = s->out_c / s->groups; /* output channels per group */
    const int8_t *xb = x + b * s->in_h * s->in_w * s->in_c;
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
    return q8_clamp_i64(acc, INT32_MIN, INT32_MAX);
}

void q8_conv2d__ref(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                    const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y)
{
    for (int64_t b = 0; b < s->batch; b++)
        for (int oy = 0; oy < s->out_h; oy++)
            for (int ox = 0; ox < s->out_w; ox++) {
                int8_t *yp = y + ((b * s->out_h + oy) * s->out_w + ox) * s->out_c;
                for (int o = 0; o < s->out_c; o++) {
                    const int k = rq->n == 1 ? 0 : o;
                    yp[o] = q8_requant_clamp(
                        conv_acc(s, rq->in_zero_point, x, w, bias, b, oy, ox, o),
                        rq->multiplier[k], rq->shift[k], rq->out_zero_point, rq->qmin, rq->qmax);
                }
            }
}

void q8_conv2d_f32__ref(const struct q8_conv2d_shape *s, const struct q8_acc_f32 *p,
                        const int8_t *x, const int8_t *w, const int32_t *bias, float *y)
{
    for (int64_t b = 0; b < s->batch; b++)
        for (int oy = 0; oy < s->out_h; oy++)
            for (int ox = 0; ox < s->out_w; ox++) {
                float *yp = y + ((b * s->out_h + oy) * s->out_w + ox) * s->out_c;
                for (int o = 0; o < s->out_c; o++) {
                    int32_t acc = conv_acc(s, p->in_zero_point, x, w, bias, b, oy, ox, o);
                    yp[o] = q8_acc_to_f32(acc, p->scale[p->n == 1 ? 0 : o], p->lo, p->hi);
                }
            }
}

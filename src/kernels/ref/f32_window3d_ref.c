/* Reference 3-D windows, NDHWC: convolution (cross-correlation, any
 * groups, dilation, padding and strides) and max/average pools; see
 * struct f32_conv3d_params and f32_pool3d_params. */
#include "kernels/kernels.h"

#include <math.h>

/* The input index of tap k of output o along one axis, or -1 when it
 * falls in the padding. */
static long tap(size_t o, size_t k, size_t stride, size_t dilation, size_t pad, size_t in)
{
    size_t padded = o * stride + k * dilation;
    if (padded < pad || padded - pad >= in)
        return -1;
    return (long)(padded - pad);
}

void f32_conv3d__ref(const struct f32_conv3d_params *p, const float *x, const float *w,
                     const float *b, float *y)
{
    const size_t cg = p->in_c / p->groups, og = p->out_c / p->groups;
    const size_t taps = p->kernel[0] * p->kernel[1] * p->kernel[2];
    const size_t in_plane = p->in[1] * p->in[2], in_n = p->in[0] * in_plane * p->in_c;
    for (size_t n = 0; n < p->batch; n++) {
        const float *xn = x + n * in_n;
        for (size_t od = 0; od < p->out[0]; od++)
            for (size_t oy = 0; oy < p->out[1]; oy++)
                for (size_t ox = 0; ox < p->out[2]; ox++) {
                    float *yp = y + (((n * p->out[0] + od) * p->out[1] + oy) * p->out[2] + ox) *
                                        p->out_c;
                    /* yp[o] is each output's float sum: the bias, then the
                     * taps in kd, kh, kw order (the tap loops outside the
                     * channel loop only to find each tap once) */
                    for (size_t o = 0; o < p->out_c; o++)
                        yp[o] = b ? b[o] : 0.0f;
                    for (size_t kd = 0; kd < p->kernel[0]; kd++) {
                        long id = tap(od, kd, p->stride[0], p->dilation[0], p->pad[0],
                                      p->in[0]);
                        for (size_t ky = 0; id >= 0 && ky < p->kernel[1]; ky++) {
                            long iy = tap(oy, ky, p->stride[1], p->dilation[1], p->pad[1],
                                          p->in[1]);
                            for (size_t kx = 0; iy >= 0 && kx < p->kernel[2]; kx++) {
                                long ix = tap(ox, kx, p->stride[2], p->dilation[2], p->pad[2],
                                              p->in[2]);
                                if (ix < 0)
                                    continue;
                                const float *xp = xn + ((size_t)id * in_plane +
                                                        (size_t)iy * p->in[2] + (size_t)ix) *
                                                           p->in_c;
                                const size_t t = (kd * p->kernel[1] + ky) * p->kernel[2] + kx;
                                for (size_t o = 0; o < p->out_c; o++) {
                                    const float *xg = xp + (o / og) * cg;
                                    const float *wp = w + (o * taps + t) * cg;
                                    float acc = yp[o];
                                    for (size_t ci = 0; ci < cg; ci++)
                                        acc += xg[ci] * wp[ci];
                                    yp[o] = acc;
                                }
                            }
                        }
                    }
                    for (size_t o = 0; o < p->out_c; o++)
                        yp[o] = yp[o] < p->out_min   ? p->out_min
                                : yp[o] > p->out_max ? p->out_max
                                                     : yp[o];
                }
    }
}

static void pool3d(const struct f32_pool3d_params *p, const float *x, float *y, int is_max)
{
    const size_t c = p->channels;
    const size_t in_plane = p->in[1] * p->in[2], in_n = p->in[0] * in_plane * c;
    for (size_t n = 0; n < p->batch; n++) {
        const float *xn = x + n * in_n;
        for (size_t od = 0; od < p->out[0]; od++)
            for (size_t oy = 0; oy < p->out[1]; oy++)
                for (size_t ox = 0; ox < p->out[2]; ox++) {
                    float *yp =
                        y + (((n * p->out[0] + od) * p->out[1] + oy) * p->out[2] + ox) * c;
                    for (size_t ch = 0; ch < c; ch++) {
                        float acc = is_max ? -INFINITY : 0.0f;
                        size_t count = 0;
                        for (size_t kd = 0; kd < p->kernel[0]; kd++) {
                            long id = tap(od, kd, p->stride[0], p->dilation[0], p->pad[0],
                                          p->in[0]);
                            for (size_t ky = 0; id >= 0 && ky < p->kernel[1]; ky++) {
                                long iy = tap(oy, ky, p->stride[1], p->dilation[1], p->pad[1],
                                              p->in[1]);
                                for (size_t kx = 0; iy >= 0 && kx < p->kernel[2]; kx++) {
                                    long ix = tap(ox, kx, p->stride[2], p->dilation[2],
                                                  p->pad[2], p->in[2]);
                                    if (ix < 0)
                                        continue;
                                    float v = xn[((size_t)id * in_plane + (size_t)iy * p->in[2] +
                                                  (size_t)ix) * c + ch];
                                    if (!is_max)
                                        acc += v;
                                    else if (v > acc || isnan(v))
                                        acc = isnan(acc) ? acc : v;
                                    count++;
                                }
                            }
                        }
                        if (!is_max && count > 0)
                            acc /= (float)count;
                        yp[ch] = acc;
                    }
                }
    }
}

void f32_max_pool3d__ref(const struct f32_pool3d_params *p, const float *x, float *y)
{
    pool3d(p, x, y, 1);
}

void f32_avg_pool3d__ref(const struct f32_pool3d_params *p, const float *x, float *y)
{
    pool3d(p, x, y, 0);
}

/* Reference 2-D convolution (cross-correlation), NHWC, any groups,
 * dilation, padding and strides; see struct f32_conv2d_params. */
#include "kernels/kernels.h"

static float clamp(float v, float lo, float hi)
{
    if (v < lo)
        v = lo;
    if (v > hi)
        v = hi;
    return v;
}

void f32_conv2d__ref(const struct f32_conv2d_params *p, const float *x, const float *w,
                     const float *b, float *y)
{
    const size_t cg = p->in_c / p->groups;      /* input channels per group */
    const size_t og = p->out_c / p->groups;     /* output channels per group */
    for (size_t n = 0; n < p->batch; n++) {
        const float *xn = x + n * p->in_h * p->in_w * p->in_c;
        for (size_t oy = 0; oy < p->out_h; oy++) {
            for (size_t ox = 0; ox < p->out_w; ox++) {
                float *yp = y + ((n * p->out_h + oy) * p->out_w + ox) * p->out_c;
                for (size_t o = 0; o < p->out_c; o++) {
                    const size_t c0 = (o / og) * cg;
                    const float *wo = w + o * p->kernel_h * p->kernel_w * cg;
                    float acc = b ? b[o] : 0.0f;
                    if (p->residual)
                        acc += p->residual[(size_t)(yp - y) + o];
                    for (size_t ky = 0; ky < p->kernel_h; ky++) {
                        size_t py = oy * p->stride_h + ky * p->dilation_h; /* padded row */
                        if (py < p->pad_top || py - p->pad_top >= p->in_h)
                            continue;
                        size_t iy = py - p->pad_top;
                        for (size_t kx = 0; kx < p->kernel_w; kx++) {
                            size_t px = ox * p->stride_w + kx * p->dilation_w;
                            if (px < p->pad_left || px - p->pad_left >= p->in_w)
                                continue;
                            size_t ix = px - p->pad_left;
                            const float *xp = xn + (iy * p->in_w + ix) * p->in_c + c0;
                            const float *wp = wo + (ky * p->kernel_w + kx) * cg;
                            for (size_t ci = 0; ci < cg; ci++)
                                acc += xp[ci] * wp[ci];
                        }
                    }
                    yp[o] = clamp(acc, p->out_min, p->out_max);
                }
            }
        }
    }
}

/* Reference pools, NHWC: max and average over a window (cells in the
 * padding are not counted), and global average. */
#include "kernels/kernels.h"

/* First and one-past-last input index of a window along one axis, clipped
 * to [0, in). Empty when the window lies wholly in the padding. */
static void window(size_t out_index, size_t stride, size_t pad, size_t kernel, size_t in,
                   size_t *begin, size_t *end)
{
    size_t start = out_index * stride;   /* in padded coordinates */
    size_t stop = start + kernel;
    *begin = start > pad ? start - pad : 0;
    *end = stop > pad ? stop - pad : 0;
    if (*end > in)
        *end = in;
    if (*begin > *end)
        *begin = *end;
}

static void pool(const struct f32_pool2d_params *p, const float *x, float *y, int is_max)
{
    const size_t c = p->channels;
    for (size_t n = 0; n < p->batch; n++) {
        const float *xn = x + n * p->in_h * p->in_w * c;
        for (size_t oy = 0; oy < p->out_h; oy++) {
            size_t y0, y1;
            window(oy, p->stride_h, p->pad_top, p->kernel_h, p->in_h, &y0, &y1);
            for (size_t ox = 0; ox < p->out_w; ox++) {
                size_t x0, x1;
                window(ox, p->stride_w, p->pad_left, p->kernel_w, p->in_w, &x0, &x1);
                float *yp = y + ((n * p->out_h + oy) * p->out_w + ox) * c;
                size_t count = (y1 - y0) * (x1 - x0);
                for (size_t ch = 0; ch < c; ch++) {
                    float acc = 0.0f;
                    int first = 1;
                    for (size_t iy = y0; iy < y1; iy++) {
                        for (size_t ix = x0; ix < x1; ix++) {
                            float v = xn[(iy * p->in_w + ix) * c + ch];
                            if (!is_max)
                                acc += v;
                            else if (first || v > acc)
                                acc = v;
                            first = 0;
                        }
                    }
                    if (!is_max && count > 0)
                        acc /= (float)count;
                    yp[ch] = acc;
                }
            }
        }
    }
}

void f32_max_pool2d__ref(const struct f32_pool2d_params *p, const float *x, float *y)
{
    pool(p, x, y, 1);
}

void f32_avg_pool2d__ref(const struct f32_pool2d_params *p, const float *x, float *y)
{
    pool(p, x, y, 0);
}

void f32_global_avg_pool__ref(size_t batch, size_t pixels, size_t channels, const float *x,
                              float *y)
{
    for (size_t n = 0; n < batch; n++) {
        for (size_t c = 0; c < channels; c++) {
            double acc = 0.0;
            for (size_t i = 0; i < pixels; i++)
                acc += x[(n * pixels + i) * channels + c];
            y[n * channels + c] = (float)(acc / (double)pixels);
        }
    }
}

/* NEON max and average pools, NHWC, 4 channels per vector, the last
 * c % 4 channels in scalar code; same windows and same bits as the
 * reference (src/kernels/ref/f32_pool_ref.c): max keeps the first value of
 * a window and takes a later one only when it is greater (a compare and a
 * select, not FMAX, which would differ on NaN and signed zeros), average
 * adds the window's cells in the same order from +0 and divides by their
 * count. */
#include <arm_neon.h>

#include "kernels/kernels.h"

/* First and one-past-last input index of a window along one axis, clipped
 * to [0, in); empty when the window lies wholly in the padding. */
static void window(size_t out_index, size_t stride, size_t pad, size_t kernel, size_t in,
                   size_t *begin, size_t *end)
{
    size_t start = out_index * stride;
    size_t stop = start + kernel;
    *begin = start > pad ? start - pad : 0;
    *end = stop > pad ? stop - pad : 0;
    if (*end > in)
        *end = in;
    if (*begin > *end)
        *begin = *end;
}

/* One output pixel: the window's rows [y0, y1) and columns [x0, x1) of
 * sample xn (in_w pixels of c channels a row) into yp. */
static inline __attribute__((always_inline)) void pool_pixel(const float *xn, size_t in_w, size_t c, size_t y0, size_t y1, size_t x0,
                       size_t x1, int is_max, float *yp)
{
    const size_t full = c / 4 * 4, count = (y1 - y0) * (x1 - x0);
    if (count == 0) { /* no cell inside the input: 0, as the reference */
        for (size_t ch = 0; ch < c; ch++)
            yp[ch] = 0.0f;
        return;
    }
    const float *w = xn + (y0 * in_w + x0) * c;
    const size_t row = in_w * c;
    for (size_t c0 = 0; c0 < full; c0 += 4) {
        float32x4_t acc = is_max ? vld1q_f32(w + c0) : vdupq_n_f32(0.0f);
        for (size_t iy = 0; iy < y1 - y0; iy++) {
            for (size_t ix = 0; ix < x1 - x0; ix++) {
                if (is_max && iy == 0 && ix == 0)
                    continue;
                const float32x4_t v = vld1q_f32(w + iy * row + ix * c + c0);
                acc = is_max ? vbslq_f32(vcgtq_f32(v, acc), v, acc) : vaddq_f32(acc, v);
            }
        }
        if (!is_max)
            acc = vdivq_f32(acc, vdupq_n_f32((float)count));
        vst1q_f32(yp + c0, acc);
    }
    for (size_t ch = full; ch < c; ch++) {
        float acc = is_max ? w[ch] : 0.0f;
        for (size_t iy = 0; iy < y1 - y0; iy++) {
            for (size_t ix = 0; ix < x1 - x0; ix++) {
                const float v = w[iy * row + ix * c + ch];
                if (!is_max)
                    acc += v;
                else if (v > acc)
                    acc = v;
            }
        }
        yp[ch] = is_max ? acc : acc / (float)count;
    }
}

static inline __attribute__((always_inline)) void pool(const struct f32_pool2d_params *p, const float *x, float *y, int is_max)
{
    const size_t c = p->channels;
    for (size_t n = 0; n < p->batch; n++) {
        const float *xn = x + n * p->in_h * p->in_w * c;
        for (size_t oy = 0; oy < p->out_h; oy++) {
            size_t y0, y1;
            window(oy, p->stride_h, p->pad_top, p->kernel_h, p->in_h, &y0, &y1);
            float *yp = y + (n * p->out_h + oy) * p->out_w * c;
            for (size_t ox = 0; ox < p->out_w; ox++, yp += c) {
                size_t x0, x1;
                window(ox, p->stride_w, p->pad_left, p->kernel_w, p->in_w, &x0, &x1);
                pool_pixel(xn, p->in_w, c, y0, y1, x0, x1, is_max, yp);
            }
        }
    }
}

void f32_max_pool2d__neon(const struct f32_pool2d_params *p, const float *x, float *y)
{
    pool(p, x, y, 1);
}

void f32_avg_pool2d__neon(const struct f32_pool2d_params *p, const float *x, float *y)
{
    pool(p, x, y, 0);
}

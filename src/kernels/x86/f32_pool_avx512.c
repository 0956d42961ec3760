/* AVX-512 max and average pools, NHWC, 16 channels per vector; same
 * windows and same results as the reference (src/kernels/ref/f32_pool_ref.c):
 * max keeps the first value of a window and takes a later one only when it
 * is greater (so NaN and signed zeros behave alike), average adds the
 * window's cells in the same order and divides by their count. */
#include <immintrin.h>
#include <stdint.h>

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
                const size_t count = (y1 - y0) * (x1 - x0);
                const __m512 scale = _mm512_set1_ps((float)(count ? count : 1));
                for (size_t c0 = 0; c0 < c; c0 += 16) {
                    const __mmask16 m = c - c0 >= 16 ? (__mmask16)0xFFFF
                                                     : (__mmask16)((1u << (c - c0)) - 1);
                    __m512 acc = _mm512_setzero_ps();
                    int first = 1;
                    for (size_t iy = y0; iy < y1; iy++) {
                        for (size_t ix = x0; ix < x1; ix++) {
                            __m512 v = _mm512_maskz_loadu_ps(m, xn + (iy * p->in_w + ix) * c + c0);
                            if (!is_max)
                                acc = _mm512_add_ps(acc, v);
                            else
                                /* MAXPS returns its second operand for NaN or
                                 * equal inputs: acc unless v > acc */
                                acc = first ? v : _mm512_max_ps(v, acc);
                            first = 0;
                        }
                    }
                    if (!is_max && count > 0)
                        acc = _mm512_div_ps(acc, scale);
                    _mm512_mask_storeu_ps(yp + c0, m, acc);
                }
            }
        }
    }
}

void f32_max_pool2d__avx512(const struct f32_pool2d_params *p, const float *x, float *y)
{
    pool(p, x, y, 1);
}

void f32_avg_pool2d__avx512(const struct f32_pool2d_params *p, const float *x, float *y)
{
    pool(p, x, y, 0);
}

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

/* Max of 16 channels over a wh x ww window (w: its first cell, row:
 * floats between input rows, c: between pixels), cells in row-major
 * order; MAXPS returns its second operand for NaN or equal inputs: acc
 * unless v > acc, as the reference. Inlined with wh = ww = 2 for the
 * common 2x2 pool. */
static inline __m512 window_max(const float *w, size_t row, size_t c, size_t wh, size_t ww,
                                __mmask16 m)
{
    __m512 acc = _mm512_maskz_loadu_ps(m, w);
    for (size_t iy = 0; iy < wh; iy++)
        for (size_t ix = iy == 0; ix < ww; ix++)
            acc = _mm512_max_ps(_mm512_maskz_loadu_ps(m, w + iy * row + ix * c), acc);
    return acc;
}

/* Max pool: per pixel only the window bounds; per 16 channels only loads,
 * maxes and a store. */
static void max_pool(const struct f32_pool2d_params *p, const float *x, float *y)
{
    const size_t c = p->channels, row = p->in_w * c;
    const __mmask16 all = (__mmask16)0xFFFF, tail = (__mmask16)((1u << (c % 16)) - 1);
    const size_t full = c / 16 * 16;
    for (size_t n = 0; n < p->batch; n++) {
        const float *xn = x + n * p->in_h * row;
        for (size_t oy = 0; oy < p->out_h; oy++) {
            size_t y0, y1;
            window(oy, p->stride_h, p->pad_top, p->kernel_h, p->in_h, &y0, &y1);
            float *yp = y + (n * p->out_h + oy) * p->out_w * c;
            for (size_t ox = 0; ox < p->out_w; ox++, yp += c) {
                size_t x0, x1;
                window(ox, p->stride_w, p->pad_left, p->kernel_w, p->in_w, &x0, &x1);
                const size_t wh = y1 - y0, ww = x1 - x0;
                const float *w = xn + y0 * row + x0 * c;
                size_t c0 = 0;
                if (wh == 0 || ww == 0) { /* no cell inside the input: 0 */
                    for (; c0 < full; c0 += 16)
                        _mm512_storeu_ps(yp + c0, _mm512_setzero_ps());
                    _mm512_mask_storeu_ps(yp + c0, tail, _mm512_setzero_ps());
                } else if (wh == 2 && ww == 2) {
                    for (; c0 < full; c0 += 16)
                        _mm512_storeu_ps(yp + c0, window_max(w + c0, row, c, 2, 2, all));
                    if (tail)
                        _mm512_mask_storeu_ps(yp + c0, tail,
                                              window_max(w + c0, row, c, 2, 2, tail));
                } else {
                    for (; c0 < full; c0 += 16)
                        _mm512_storeu_ps(yp + c0, window_max(w + c0, row, c, wh, ww, all));
                    if (tail)
                        _mm512_mask_storeu_ps(yp + c0, tail,
                                              window_max(w + c0, row, c, wh, ww, tail));
                }
            }
        }
    }
}

/* Average pool: the window's cells added in order from 0, then divided. */
static void avg_pool(const struct f32_pool2d_params *p, const float *x, float *y)
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
                    for (size_t iy = y0; iy < y1; iy++) {
                        for (size_t ix = x0; ix < x1; ix++) {
                            __m512 v = _mm512_maskz_loadu_ps(m, xn + (iy * p->in_w + ix) * c + c0);
                            acc = _mm512_add_ps(acc, v);
                        }
                    }
                    if (count > 0)
                        acc = _mm512_div_ps(acc, scale);
                    _mm512_mask_storeu_ps(yp + c0, m, acc);
                }
            }
        }
    }
}

void f32_max_pool2d__avx512(const struct f32_pool2d_params *p, const float *x, float *y)
{
    max_pool(p, x, y);
}

void f32_avg_pool2d__avx512(const struct f32_pool2d_params *p, const float *x, float *y)
{
    avg_pool(p, x, y);
}

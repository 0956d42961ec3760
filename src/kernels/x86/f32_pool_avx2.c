/* AVX2 max and average pools, NHWC, 8 channels per vector; same
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

/* Max of 8 channels over a wh x ww window (w: its first cell, row:
 * floats between input rows, c: between pixels), cells in row-major
 * order, read with `load` (a plain or a masked load); MAXPS returns its
 * second operand for NaN or equal inputs: acc unless v > acc, as the
 * reference. Inlined with wh = ww = 2 for the common 2x2 pool. */
#define WINDOW_MAX(acc, w, row, c, wh, ww, load)                                                 \
    do {                                                                                          \
        acc = load(w);                                                                            \
        for (size_t iy_ = 0; iy_ < (wh); iy_++)                                                   \
            for (size_t ix_ = iy_ == 0; ix_ < (ww); ix_++)                                        \
                acc = _mm256_max_ps(load((w) + iy_ * (row) + ix_ * (c)), acc);                    \
    } while (0)
#define LOAD_ALL(ptr) _mm256_loadu_ps(ptr)
#define LOAD_TAIL(ptr) _mm256_maskload_ps(ptr, tail)

/* Max pool: per pixel only the window bounds; per 8 channels only loads,
 * maxes and a store. */
static void max_pool(const struct f32_pool2d_params *p, const float *x, float *y)
{
    const size_t c = p->channels, row = p->in_w * c, full = c / 8 * 8;
    int32_t on[8];
    for (size_t i = 0; i < 8; i++)
        on[i] = i < c % 8 ? -1 : 0;
    const __m256i tail = _mm256_loadu_si256((const __m256i *)on);
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
                __m256 acc;
                size_t c0 = 0;
                if (wh == 0 || ww == 0) { /* no cell inside the input: 0 */
                    for (; c0 < full; c0 += 8)
                        _mm256_storeu_ps(yp + c0, _mm256_setzero_ps());
                    _mm256_maskstore_ps(yp + c0, tail, _mm256_setzero_ps());
                } else if (wh == 2 && ww == 2) {
                    for (; c0 < full; c0 += 8) {
                        WINDOW_MAX(acc, w + c0, row, c, 2, 2, LOAD_ALL);
                        _mm256_storeu_ps(yp + c0, acc);
                    }
                    if (c0 < c) {
                        WINDOW_MAX(acc, w + c0, row, c, 2, 2, LOAD_TAIL);
                        _mm256_maskstore_ps(yp + c0, tail, acc);
                    }
                } else {
                    for (; c0 < full; c0 += 8) {
                        WINDOW_MAX(acc, w + c0, row, c, wh, ww, LOAD_ALL);
                        _mm256_storeu_ps(yp + c0, acc);
                    }
                    if (c0 < c) {
                        WINDOW_MAX(acc, w + c0, row, c, wh, ww, LOAD_TAIL);
                        _mm256_maskstore_ps(yp + c0, tail, acc);
                    }
                }
            }
        }
    }
}
#undef WINDOW_MAX
#undef LOAD_ALL
#undef LOAD_TAIL

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
                const __m256 scale = _mm256_set1_ps((float)(count ? count : 1));
                for (size_t c0 = 0; c0 < c; c0 += 8) {
                    int32_t on[8];
                    for (size_t i = 0; i < 8; i++)
                        on[i] = c0 + i < c ? -1 : 0;
                    const __m256i m = _mm256_loadu_si256((const __m256i *)on);
                    __m256 acc = _mm256_setzero_ps();
                    for (size_t iy = y0; iy < y1; iy++) {
                        for (size_t ix = x0; ix < x1; ix++) {
                            __m256 v = _mm256_maskload_ps(xn + (iy * p->in_w + ix) * c + c0, m);
                            acc = _mm256_add_ps(acc, v);
                        }
                    }
                    if (count > 0)
                        acc = _mm256_div_ps(acc, scale);
                    _mm256_maskstore_ps(yp + c0, m, acc);
                }
            }
        }
    }
}

void f32_max_pool2d__avx2(const struct f32_pool2d_params *p, const float *x, float *y)
{
    max_pool(p, x, y);
}

void f32_avg_pool2d__avx2(const struct f32_pool2d_params *p, const float *x, float *y)
{
    avg_pool(p, x, y);
}

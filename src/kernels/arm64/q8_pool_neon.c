/* NEON int8 max/avg/global-average pools, SIMD over channels (16 bytes),
 * bit-exact with the reference.
 *
 * Max: SMAX of the window's bytes, then the output step (a byte clamp for
 * the identity requantization with zx == zy, else q8v4_requant).
 * Averages: the window's bytes summed in int16 lanes (exact for up to 256
 * cells: |sum| <= 128 * 256), folded into int32 every 256 cells; the
 * average rounded in double when 255 * n * |M| < 2^52, the exact path of
 * q8_pool_avx512.c (the proof is there; FRINTA is its ties-away rounding
 * of t'), else by q8_requantize_div itself. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/requant.h"
#include "kernels/arm64/q8_neon_unary.h"

static void window(int o, int stride, int pad, int kernel, int size, int *lo, int *hi)
{
    const int start = o * stride - pad;
    *lo = start < 0 ? 0 : start;
    *hi = start + kernel > size ? size : start + kernel;
}

/* ---- max pool ---- */

struct max_ctx {
    int same; /* the identity multiplier and zx == zy: y = clamp(max) */
    struct q8v4_rq rq;
    int32x4_t zx;
    int8x16_t lo8, hi8;
};

static void max_ctx_init(struct max_ctx *k, const struct q8_unary *rq)
{
    k->same = rq->multiplier == (INT32_C(1) << 30) && rq->shift == -1 &&
              rq->in_zero_point == rq->out_zero_point;
    q8v4_rq_init(&k->rq, rq->multiplier, rq->shift, rq->out_zero_point, rq->qmin, rq->qmax);
    k->zx = vdupq_n_s32(rq->in_zero_point);
    k->lo8 = vdupq_n_s8((int8_t)rq->qmin);
    k->hi8 = vdupq_n_s8((int8_t)rq->qmax);
}

static inline int8x16_t max_finish16(const struct max_ctx *k, int8x16_t m)
{
    if (k->same)
        return vminq_s8(vmaxq_s8(m, k->lo8), k->hi8);
    int32x4_t d[4];
    q8v_widen16(m, k->zx, d);
    return q8v4_pack16(q8v4_requant(&k->rq, d[0]), q8v4_requant(&k->rq, d[1]),
                       q8v4_requant(&k->rq, d[2]), q8v4_requant(&k->rq, d[3]));
}

/* The maxima of n (<= 16; 16 is a whole vector, the common case,
 * specialized when inlined) channels over a window of h x w cells, the
 * first at p, rows down bytes apart, cells step bytes apart. */
static inline int8x16_t window_max(const int8_t *p, int h, int w, int64_t down, int64_t step,
                                   int n)
{
    int8x16_t mx = vdupq_n_s8(INT8_MIN);
    for (int iy = 0; iy < h; iy++, p += down)
        for (int ix = 0; ix < w; ix++)
            mx = vmaxq_s8(mx, q8v_load16(p + ix * step, n, INT8_MIN));
    return mx;
}

void q8_max_pool2d__neon(const struct q8_pool2d_shape *s, const struct q8_unary *rq,
                         const int8_t *x, int8_t *y)
{
    const int C = s->c;
    struct max_ctx k;
    max_ctx_init(&k, rq);
    const int8_t empty = (int8_t)q8_clamp_i64(rq->out_zero_point, rq->qmin, rq->qmax);
    for (int64_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x + b * s->in_h * s->in_w * C;
        for (int oy = 0; oy < s->out_h; oy++) {
            int y0, y1;
            window(oy, s->stride_h, s->pad_top, s->kernel_h, s->in_h, &y0, &y1);
            for (int ox = 0; ox < s->out_w; ox++) {
                int x0, x1;
                window(ox, s->stride_w, s->pad_left, s->kernel_w, s->in_w, &x0, &x1);
                int8_t *yp = y + ((b * s->out_h + oy) * s->out_w + ox) * C;
                if (y1 <= y0 || x1 <= x0) {
                    memset(yp, empty, (size_t)C);
                    continue;
                }
                const int8_t *w0 = xb + ((int64_t)y0 * s->in_w + x0) * C;
                const int64_t down = (int64_t)s->in_w * C;
                int c0 = 0;
                for (; c0 + 16 <= C; c0 += 16)
                    vst1q_s8(yp + c0, max_finish16(&k, window_max(w0 + c0, y1 - y0, x1 - x0,
                                                                  down, C, 16)));
                if (c0 < C)
                    q8v_store16(yp + c0,
                                max_finish16(&k, window_max(w0 + c0, y1 - y0, x1 - x0, down, C,
                                                            C - c0)),
                                C - c0);
            }
        }
    }
}

/* ---- averages ---- */

/* Sums of 16 channels: int16 lanes for up to 256 cells, then int32. */
struct sum16 {
    int16x8_t h[2];
    int32x4_t s[4];
    int cells;
};

static inline void sum16_init(struct sum16 *a)
{
    a->h[0] = a->h[1] = vdupq_n_s16(0);
    for (int q = 0; q < 4; q++)
        a->s[q] = vdupq_n_s32(0);
    a->cells = 0;
}

static inline void sum16_fold(struct sum16 *a)
{
    a->s[0] = vaddw_s16(a->s[0], vget_low_s16(a->h[0]));
    a->s[1] = vaddw_high_s16(a->s[1], a->h[0]);
    a->s[2] = vaddw_s16(a->s[2], vget_low_s16(a->h[1]));
    a->s[3] = vaddw_high_s16(a->s[3], a->h[1]);
    a->h[0] = a->h[1] = vdupq_n_s16(0);
    a->cells = 0;
}

static inline void sum16_add(struct sum16 *a, int8x16_t v)
{
    a->h[0] = vaddw_s8(a->h[0], vget_low_s8(v));
    a->h[1] = vaddw_high_s8(a->h[1], v);
    if (++a->cells == 256)
        sum16_fold(a);
}

static double pow2_neg(int r)
{
    const uint64_t bits = (uint64_t)(1023 - r) << 52;
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static int avg_exact_in_double(const struct q8_unary *rq, int64_t n)
{
    const uint64_t am = rq->multiplier < 0 ? (uint64_t)(-(int64_t)rq->multiplier)
                                           : (uint64_t)rq->multiplier;
    return n <= (INT64_C(1) << 24) && (uint64_t)n * am * 255u < (UINT64_C(1) << 52);
}

struct avg_ctx {
    int exact;
    float64x2_t off, md, nd, scale, lo, hi;
    int32x4_t zy;
};

static void avg_ctx_init(struct avg_ctx *k, const struct q8_unary *rq, int64_t n)
{
    k->exact = avg_exact_in_double(rq, n);
    k->off = vdupq_n_f64((double)n * rq->in_zero_point);
    k->md = vdupq_n_f64((double)rq->multiplier);
    k->nd = vdupq_n_f64((double)n);
    k->scale = vdupq_n_f64(pow2_neg(31 + rq->shift));
    k->lo = vdupq_n_f64((double)rq->qmin - rq->out_zero_point);
    k->hi = vdupq_n_f64((double)rq->qmax - rq->out_zero_point);
    k->zy = vdupq_n_s32(rq->out_zero_point);
}

/* round(S * M / (n 2^r)) - clamped to [qmin - zy, qmax - zy] - of 2 lanes
 * of the sums of x (S = sum - n zx, exact in double) */
static inline int32x2_t avg2(const struct avg_ctx *k, int64x2_t sum)
{
    const float64x2_t sd = vsubq_f64(vcvtq_f64_s64(sum), k->off);
    const float64x2_t t = vmulq_f64(vdivq_f64(vmulq_f64(sd, k->md), k->nd), k->scale);
    const float64x2_t q = vminq_f64(vmaxq_f64(vrndaq_f64(t), k->lo), k->hi);
    return vmovn_s64(vcvtq_s64_f64(q));
}

static inline int32x4_t avg4(const struct avg_ctx *k, int32x4_t sum)
{
    const int32x4_t q = vcombine_s32(avg2(k, vmovl_s32(vget_low_s32(sum))),
                                     avg2(k, vmovl_high_s32(sum)));
    return vaddq_s32(q, k->zy);
}

/* The average epilogue of the sums of n cells of count (<= 16) channels
 * (the sums by value: a pointer to them would keep the summing loops'
 * accumulators in memory). */
static void avg_finish16(const struct avg_ctx *k, const struct q8_unary *rq, int32x4_t s0,
                         int32x4_t s1, int32x4_t s2, int32x4_t s3, int64_t n, int count,
                         int8_t *y)
{
    if (k->exact) {
        q8v_store16(y, q8v4_pack16(avg4(k, s0), avg4(k, s1), avg4(k, s2), avg4(k, s3)), count);
        return;
    }
    int32_t v[16];
    vst1q_s32(v, s0);
    vst1q_s32(v + 4, s1);
    vst1q_s32(v + 8, s2);
    vst1q_s32(v + 12, s3);
    for (int i = 0; i < count; i++) {
        const int64_t s = (int64_t)v[i] - n * rq->in_zero_point;
        y[i] = (int8_t)q8_clamp_i64(
            (int64_t)q8_requantize_div(s, rq->multiplier, rq->shift, (int32_t)n) +
                rq->out_zero_point,
            rq->qmin, rq->qmax);
    }
}

static inline void sum16_finish(const struct avg_ctx *k, const struct q8_unary *rq,
                                struct sum16 *a, int64_t n, int count, int8_t *y)
{
    sum16_fold(a);
    avg_finish16(k, rq, a->s[0], a->s[1], a->s[2], a->s[3], n, count, y);
}

/* The averages of n (<= 16) channels over a window of h x w cells (as
 * window_max) to y. */
static inline void window_avg(const struct avg_ctx *k, const struct q8_unary *rq,
                              const int8_t *p, int h, int w, int64_t down, int64_t step, int n,
                              int8_t *y)
{
    struct sum16 a;
    sum16_init(&a);
    for (int iy = 0; iy < h; iy++, p += down)
        for (int ix = 0; ix < w; ix++)
            sum16_add(&a, q8v_load16(p + ix * step, n, 0));
    sum16_finish(k, rq, &a, (int64_t)h * w, n, y);
}

void q8_avg_pool2d__neon(const struct q8_pool2d_shape *s, const struct q8_unary *rq,
                         const int8_t *x, int8_t *y)
{
    const int C = s->c;
    const int8_t empty = (int8_t)q8_clamp_i64(rq->out_zero_point, rq->qmin, rq->qmax);
    for (int64_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x + b * s->in_h * s->in_w * C;
        for (int oy = 0; oy < s->out_h; oy++) {
            int y0, y1;
            window(oy, s->stride_h, s->pad_top, s->kernel_h, s->in_h, &y0, &y1);
            for (int ox = 0; ox < s->out_w; ox++) {
                int x0, x1;
                window(ox, s->stride_w, s->pad_left, s->kernel_w, s->in_w, &x0, &x1);
                int8_t *yp = y + ((b * s->out_h + oy) * s->out_w + ox) * C;
                if (y1 <= y0 || x1 <= x0) {
                    memset(yp, empty, (size_t)C);
                    continue;
                }
                const int64_t n = (int64_t)(y1 - y0) * (x1 - x0);
                struct avg_ctx k;
                avg_ctx_init(&k, rq, n);
                const int8_t *w0 = xb + ((int64_t)y0 * s->in_w + x0) * C;
                const int64_t down = (int64_t)s->in_w * C;
                int c0 = 0;
                for (; c0 + 16 <= C; c0 += 16)
                    window_avg(&k, rq, w0 + c0, y1 - y0, x1 - x0, down, C, 16, yp + c0);
                if (c0 < C)
                    window_avg(&k, rq, w0 + c0, y1 - y0, x1 - x0, down, C, C - c0, yp + c0);
            }
        }
    }
}

/* The averages of n (<= 16) channels over hw cells step bytes apart. */
static inline void column_avg(const struct avg_ctx *k, const struct q8_unary *rq,
                              const int8_t *p, int64_t hw, int64_t step, int n, int8_t *y)
{
    struct sum16 a;
    sum16_init(&a);
    for (int64_t i = 0; i < hw; i++)
        sum16_add(&a, q8v_load16(p + i * step, n, 0));
    sum16_finish(k, rq, &a, hw, n, y);
}

void q8_global_avg_pool__neon(int64_t batch, int64_t hw, int c, const struct q8_unary *rq,
                              const int8_t *x, int8_t *y)
{
    /* |sum of x| <= 128 * hw fits in int32 for hw <= 2^24 (the contract) */
    struct avg_ctx k;
    avg_ctx_init(&k, rq, hw);
    for (int64_t b = 0; b < batch; b++) {
        const int8_t *xb = x + b * hw * c;
        int c0 = 0;
        for (; c0 + 16 <= c; c0 += 16)
            column_avg(&k, rq, xb + c0, hw, c, 16, y + b * c + c0);
        if (c0 < c)
            column_avg(&k, rq, xb + c0, hw, c, c - c0, y + b * c + c0);
    }
}

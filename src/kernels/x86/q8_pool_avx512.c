/* AVX-512 int8 depthwise conv2d, max/avg/global-average pools and add,
 * SIMD over channels (16 int32 lanes), bit-exact with the reference.
 *
 * Averages: the reference rounds S * M / (n * 2^r) once
 * (q8_requantize_div). Here, when 255 * n * |M| < 2^52, it is done in
 * double: P = S * M is an integer below 2^52, so (double)S * (double)M is
 * exact; t' = fl(P / n) * 2^-r has relative error <= 2^-53; when t is not a
 * half-integer, |t - (k + 1/2)| >= 1 / (2 n 2^r) > |t| 2^-53, so t' rounds
 * to the same integer; when it is, P / n = (2k + 1) 2^(r-1) is a double
 * and the division is exact. t' - trunc(t') is exact, which gives the
 * ties-away rounding without a second rounding. Otherwise (huge windows)
 * the epilogue calls q8_requantize_div itself. */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_packed.h"
#include "kernels/x86/q8_requant_avx512.h"
#include "kernels/requant.h"

/* ---- depthwise ---- */

void q8_dwconv__avx512(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                       const int8_t *x, const int32_t *w32, int cp, const int32_t *bias,
                       int8_t *y)
{
    const int C = s->out_c;
    const __m512i zx = _mm512_set1_epi32(rq->in_zero_point);
    struct q8v16_rq one;
    q8v16_rq_init1(&one, rq->multiplier[0], rq->shift[0], rq->out_zero_point, rq->qmin, rq->qmax);
    for (int64_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x + b * s->in_h * s->in_w * C;
        for (int oy = 0; oy < s->out_h; oy++) {
            for (int ox = 0; ox < s->out_w; ox++) {
                int8_t *yp = y + ((b * s->out_h + oy) * s->out_w + ox) * C;
                for (int c0 = 0; c0 < C; c0 += 16) {
                    const __mmask16 m = q8v16_mask(C - c0);
                    __m512i acc = _mm512_setzero_si512();
                    for (int kh = 0; kh < s->kernel_h; kh++) {
                        const int iy = oy * s->stride_h - s->pad_top + kh * s->dilation_h;
                        if (iy < 0 || iy >= s->in_h)
                            continue;
                        for (int kw = 0; kw < s->kernel_w; kw++) {
                            const int ix = ox * s->stride_w - s->pad_left + kw * s->dilation_w;
                            if (ix < 0 || ix >= s->in_w)
                                continue;
                            const int8_t *xp = xb + ((int64_t)iy * s->in_w + ix) * C + c0;
                            const __m512i xv = _mm512_sub_epi32(
                                _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, xp)), zx);
                            const __m512i wv = _mm512_loadu_si512(
                                w32 + (size_t)(kh * s->kernel_w + kw) * cp + c0);
                            acc = _mm512_add_epi32(acc, _mm512_madd_epi16(xv, wv));
                        }
                    }
                    acc = q8v16_adds_epi32(_mm512_maskz_loadu_epi32(m, bias + c0), acc);
                    __m512i v;
                    if (rq->n == 1) {
                        v = q8v16_requant(&one, acc);
                    } else {
                        struct q8v16_rq pc;
                        q8v16_rq_init(&pc, _mm512_maskz_loadu_epi32(m, rq->multiplier + c0),
                                      _mm512_maskz_loadu_epi32(m, rq->shift + c0),
                                      rq->out_zero_point, rq->qmin, rq->qmax);
                        v = q8v16_requant(&pc, acc);
                    }
                    _mm_mask_storeu_epi8(yp + c0, m, _mm512_cvtepi32_epi8(v));
                }
            }
        }
    }
}

/* ---- pools ---- */

static void window(int o, int stride, int pad, int kernel, int size, int *lo, int *hi)
{
    const int start = o * stride - pad;
    *lo = start < 0 ? 0 : start;
    *hi = start + kernel > size ? size : start + kernel;
}

static int is_identity(const struct q8_unary *rq)
{
    return rq->multiplier == (INT32_C(1) << 30) && rq->shift == -1 &&
           rq->in_zero_point == rq->out_zero_point;
}

/* Max pool with identity requantization and c <= 64: one masked vector
 * per pixel, the taps walked by pointer, 2x2 windows unrolled (the usual
 * pool; the general loop spent most of its time per pixel, not per tap). */
static void max_pool_ident_small_c(const struct q8_pool2d_shape *s, const struct q8_unary *rq,
                                   const int8_t *x, int8_t *y)
{
    const int C = s->c;
    const __mmask64 m = C >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << C) - 1);
    const __m512i qmin8 = _mm512_set1_epi8((char)rq->qmin), qmax8 = _mm512_set1_epi8((char)rq->qmax);
    const int8_t empty = (int8_t)q8_clamp_i64(rq->out_zero_point, rq->qmin, rq->qmax);
    const int64_t row = (int64_t)s->in_w * C;
    int8_t *yp = y;
    for (int64_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x + b * s->in_h * row;
        for (int oy = 0; oy < s->out_h; oy++) {
            int y0, y1;
            window(oy, s->stride_h, s->pad_top, s->kernel_h, s->in_h, &y0, &y1);
            for (int ox = 0; ox < s->out_w; ox++, yp += C) {
                int x0, x1;
                window(ox, s->stride_w, s->pad_left, s->kernel_w, s->in_w, &x0, &x1);
                if (y1 <= y0 || x1 <= x0) {
                    memset(yp, empty, (size_t)C);
                    continue;
                }
                const int8_t *p = xb + (int64_t)y0 * row + (int64_t)x0 * C;
                __m512i mx;
                if (y1 - y0 == 2 && x1 - x0 == 2) {
                    mx = _mm512_max_epi8(
                        _mm512_max_epi8(_mm512_maskz_loadu_epi8(m, p),
                                        _mm512_maskz_loadu_epi8(m, p + C)),
                        _mm512_max_epi8(_mm512_maskz_loadu_epi8(m, p + row),
                                        _mm512_maskz_loadu_epi8(m, p + row + C)));
                } else {
                    mx = _mm512_set1_epi8(-128);
                    for (int iy = y0; iy < y1; iy++, p += row)
                        for (int ix = 0; ix < x1 - x0; ix++)
                            mx = _mm512_max_epi8(mx, _mm512_maskz_loadu_epi8(m, p + (int64_t)ix * C));
                }
                mx = _mm512_min_epi8(_mm512_max_epi8(mx, qmin8), qmax8);
                _mm512_mask_storeu_epi8(yp, m, mx);
            }
        }
    }
}

void q8_max_pool2d__avx512(const struct q8_pool2d_shape *s, const struct q8_unary *rq,
                           const int8_t *x, int8_t *y)
{
    const int C = s->c;
    const int ident = is_identity(rq);
    if (ident && C <= 64) {
        max_pool_ident_small_c(s, rq, x, y);
        return;
    }
    struct q8v16_rq p;
    q8v16_rq_init1(&p, rq->multiplier, rq->shift, rq->out_zero_point, rq->qmin, rq->qmax);
    const __m512i zx = _mm512_set1_epi32(rq->in_zero_point);
    const __m512i qmin8 = _mm512_set1_epi8((char)rq->qmin), qmax8 = _mm512_set1_epi8((char)rq->qmax);
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
                for (int c0 = 0; c0 < C; c0 += 64) {
                    const int n = C - c0;
                    const __mmask64 m = n >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << n) - 1);
                    __m512i mx = _mm512_set1_epi8(-128);
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                            mx = _mm512_max_epi8(
                                mx, _mm512_maskz_loadu_epi8(
                                        m, xb + ((int64_t)iy * s->in_w + ix) * C + c0));
                    if (ident) {
                        mx = _mm512_min_epi8(_mm512_max_epi8(mx, qmin8), qmax8);
                        _mm512_mask_storeu_epi8(yp + c0, m, mx);
                        continue;
                    }
                    for (int q = 0; q < 4 && q * 16 < n; q++) {
                        __m128i bytes;
                        switch (q) {
                        case 0: bytes = _mm512_castsi512_si128(mx); break;
                        case 1: bytes = _mm512_extracti32x4_epi32(mx, 1); break;
                        case 2: bytes = _mm512_extracti32x4_epi32(mx, 2); break;
                        default: bytes = _mm512_extracti32x4_epi32(mx, 3); break;
                        }
                        const __m512i d = _mm512_sub_epi32(_mm512_cvtepi8_epi32(bytes), zx);
                        _mm_mask_storeu_epi8(yp + c0 + q * 16, q8v16_mask(n - q * 16),
                                             _mm512_cvtepi32_epi8(q8v16_requant(&p, d)));
                    }
                }
            }
        }
    }
}

/* 2^-r as a double, r in [1, 62]. */
static double pow2_neg(int r)
{
    const uint64_t bits = (uint64_t)(1023 - r) << 52;
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Whether the double path is exact for windows of n cells (see the top). */
static int avg_exact_in_double(const struct q8_unary *rq, int64_t n)
{
    const uint64_t am = rq->multiplier < 0 ? (uint64_t)(-(int64_t)rq->multiplier)
                                           : (uint64_t)rq->multiplier;
    return n <= (INT64_C(1) << 24) && (uint64_t)n * am * 255u < (UINT64_C(1) << 52);
}

/* round(S * M / (n 2^r)) for 8 lanes of S (exact doubles), clamped to
 * [lo, hi] = [qmin - zy, qmax - zy], as int32. */
static inline __m256i avg8(__m512d sd, __m512d md, __m512d nd, __m512d scale, __m512d lo,
                           __m512d hi)
{
    const __m512d t = _mm512_mul_pd(_mm512_div_pd(_mm512_mul_pd(sd, md), nd), scale);
    __m512d q = _mm512_roundscale_pd(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m512d f = _mm512_sub_pd(t, q);
    const __m512d one = _mm512_set1_pd(1.0);
    q = _mm512_mask_add_pd(q, _mm512_cmp_pd_mask(f, _mm512_set1_pd(0.5), _CMP_GE_OQ), q, one);
    q = _mm512_mask_sub_pd(q, _mm512_cmp_pd_mask(f, _mm512_set1_pd(-0.5), _CMP_LE_OQ), q, one);
    q = _mm512_min_pd(_mm512_max_pd(q, lo), hi);
    return _mm512_cvtpd_epi32(q);
}

/* The average epilogue of 16 channels: sums sd_lo/hi (8 + 8 exact
 * doubles of S), n cells; writes `count` bytes to y. */
static void avg_store16(const struct q8_unary *rq, __m512d s_lo, __m512d s_hi, int64_t n,
                        int count, int8_t *y)
{
    const __m512d md = _mm512_set1_pd((double)rq->multiplier);
    const __m512d nd = _mm512_set1_pd((double)n);
    const __m512d scale = _mm512_set1_pd(pow2_neg(31 + rq->shift));
    const __m512d lo = _mm512_set1_pd((double)rq->qmin - rq->out_zero_point);
    const __m512d hi = _mm512_set1_pd((double)rq->qmax - rq->out_zero_point);
    const __m256i a = avg8(s_lo, md, nd, scale, lo, hi);
    const __m256i b = avg8(s_hi, md, nd, scale, lo, hi);
    const __m512i v = _mm512_add_epi32(_mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1),
                                       _mm512_set1_epi32(rq->out_zero_point));
    _mm_mask_storeu_epi8(y, q8v16_mask(count), _mm512_cvtepi32_epi8(v));
}

static void avg_scalar(const struct q8_unary *rq, const int64_t *sums, int64_t n, int count,
                       int8_t *y)
{
    for (int i = 0; i < count; i++)
        y[i] = (int8_t)q8_clamp_i64(
            (int64_t)q8_requantize_div(sums[i], rq->multiplier, rq->shift, (int32_t)n) +
                rq->out_zero_point,
            rq->qmin, rq->qmax);
}

/* S = sum - n * zx for 16 int32 lane sums of x, in either form. */
static void avg_finish16(const struct q8_unary *rq, __m512i sum, int64_t n, int exact_double,
                         int count, int8_t *y)
{
    if (exact_double) {
        const __m512d off = _mm512_set1_pd((double)n * rq->in_zero_point);
        const __m512d lo = _mm512_sub_pd(_mm512_cvtepi32_pd(_mm512_castsi512_si256(sum)), off);
        const __m512d hi =
            _mm512_sub_pd(_mm512_cvtepi32_pd(_mm512_extracti64x4_epi64(sum, 1)), off);
        avg_store16(rq, lo, hi, n, count, y);
    } else {
        int32_t v[16];
        int64_t sums[16];
        _mm512_storeu_si512(v, sum);
        for (int i = 0; i < count; i++)
            sums[i] = (int64_t)v[i] - n * rq->in_zero_point;
        avg_scalar(rq, sums, n, count, y);
    }
}

void q8_avg_pool2d__avx512(const struct q8_pool2d_shape *s, const struct q8_unary *rq,
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
                const int exact = avg_exact_in_double(rq, n);
                for (int c0 = 0; c0 < C; c0 += 16) {
                    const __mmask16 m = q8v16_mask(C - c0);
                    __m512i sum = _mm512_setzero_si512();
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                            sum = _mm512_add_epi32(
                                sum, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(
                                         m, xb + ((int64_t)iy * s->in_w + ix) * C + c0)));
                    avg_finish16(rq, sum, n, exact, C - c0 < 16 ? C - c0 : 16, yp + c0);
                }
            }
        }
    }
}

void q8_global_avg_pool__avx512(int64_t batch, int64_t hw, int c, const struct q8_unary *rq,
                                const int8_t *x, int8_t *y)
{
    /* |sum of x| <= 128 * hw <= 2^31 for hw <= 2^24 (the contract); the
     * one value 2^31 would need all x = -128, whose sum -2^31 fits. */
    const int exact = avg_exact_in_double(rq, hw);
    for (int64_t b = 0; b < batch; b++) {
        const int8_t *xb = x + b * hw * c;
        for (int c0 = 0; c0 < c; c0 += 16) {
            const __mmask16 m = q8v16_mask(c - c0);
            __m512i s0 = _mm512_setzero_si512(), s1 = _mm512_setzero_si512();
            int64_t i = 0;
            for (; i + 2 <= hw; i += 2) {
                s0 = _mm512_add_epi32(
                    s0, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, xb + i * c + c0)));
                s1 = _mm512_add_epi32(
                    s1, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, xb + (i + 1) * c + c0)));
            }
            if (i < hw)
                s0 = _mm512_add_epi32(
                    s0, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, xb + i * c + c0)));
            avg_finish16(rq, _mm512_add_epi32(s0, s1), hw, exact, c - c0 < 16 ? c - c0 : 16,
                         y + b * c + c0);
        }
    }
}

/* ---- add ---- */

struct add_ctx {
    struct q8v16_rq ra, rb, ro;
    __m512i za, zb, ls;
};

static inline __m512i add_side(const struct q8v16_rq *r, __m512i v, __m512i z, __m512i ls)
{
    return q8v16_requant_sat32(r, _mm512_sllv_epi32(_mm512_sub_epi32(v, z), ls));
}

static void add_run(const struct add_ctx *k, int64_t n, const int8_t *a, const int8_t *b,
                    const __m512i *b_const, int8_t *y)
{
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = q8v16_mask((int)(n - i < 16 ? n - i : 16));
        const __m512i av = _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, a + i));
        const __m512i sa = add_side(&k->ra, av, k->za, k->ls);
        __m512i sb;
        if (b_const)
            sb = *b_const;
        else
            sb = add_side(&k->rb, _mm512_cvtepi8_epi32(_mm_maskz_loadu_epi8(m, b + i)), k->zb,
                          k->ls);
        const __m512i v = q8v16_requant(&k->ro, _mm512_add_epi32(sa, sb));
        _mm_mask_storeu_epi8(y + i, m, _mm512_cvtepi32_epi8(v));
    }
}

void q8_add__avx512(int64_t n, int64_t b_n, const struct q8_add_params *p, const int8_t *a,
                    const int8_t *b, int8_t *y)
{
    struct add_ctx k;
    q8v16_rq_init1(&k.ra, p->a_multiplier, p->a_shift, 0, INT8_MIN, INT8_MAX);
    q8v16_rq_init1(&k.rb, p->b_multiplier, p->b_shift, 0, INT8_MIN, INT8_MAX);
    q8v16_rq_init1(&k.ro, p->out_multiplier, p->out_shift, p->out_zero_point, p->qmin, p->qmax);
    k.za = _mm512_set1_epi32(p->a_zero_point);
    k.zb = _mm512_set1_epi32(p->b_zero_point);
    k.ls = _mm512_set1_epi32(p->left_shift);
    if (b_n == n) {
        add_run(&k, n, a, b, NULL, y);
    } else if (b_n == 1) {
        const int32_t db = ((int32_t)b[0] - p->b_zero_point) * (1 << p->left_shift);
        const __m512i sb = _mm512_set1_epi32(q8_requantize(db, p->b_multiplier, p->b_shift));
        add_run(&k, n, a, b, &sb, y);
    } else {
        for (int64_t r = 0; r < n; r += b_n)
            add_run(&k, b_n, a + r, b, NULL, y + r);
    }
}

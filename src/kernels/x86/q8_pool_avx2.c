/* AVX2 int8 max/avg/global-average pools and add, SIMD over channels
 * (8 int32 lanes; max pool 32 bytes at a time, the requantization of the
 * maxima skipped for the identity multiplier), bit-exact with the
 * reference. Averages use the exact double path of q8_pool_avx512.c (see
 * the proof there) when 255 * n * |M| < 2^52, else q8_requantize_div. */
#include <immintrin.h>
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/x86/q8_requant_avx2.h"
#include "kernels/requant.h"

/* n (<= 8) bytes at p, sign-extended to int32 lanes (the rest 0). */
static inline __m256i load8(const int8_t *p, int64_t n)
{
    if (n >= 8)
        return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)p));
    int8_t tmp[8] = {0};
    memcpy(tmp, p, (size_t)n);
    return _mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)tmp));
}

static inline void store8(int8_t *p, __m128i bytes, int64_t n)
{
    if (n >= 8) {
        _mm_storel_epi64((__m128i *)(void *)p, bytes);
        return;
    }
    int8_t tmp[16];
    _mm_storeu_si128((__m128i *)(void *)tmp, bytes);
    memcpy(p, tmp, (size_t)n);
}

static void window(int o, int stride, int pad, int kernel, int size, int *lo, int *hi)
{
    const int start = o * stride - pad;
    *lo = start < 0 ? 0 : start;
    *hi = start + kernel > size ? size : start + kernel;
}

/* ---- max pool ---- */

/* The output step of 32 window maxima, chosen once per call:
 *   SAME   the identity multiplier (2^30, -1) and zx == zy: y = clamp(max)
 *   IDENT  the identity, zx != zy: max - zx + zy in int16 (|.| <= 383)
 *   FAST   q8v8_rqf (M >= 0, shift in [1, 31])
 *   ANY    the general 64-bit requantization. */
enum max_mode { MAX_SAME, MAX_IDENT, MAX_FAST, MAX_ANY };

struct max_ctx {
    enum max_mode mode;
    struct q8v8_rq any;
    struct q8v8_rqf fast;
    __m256i zx32, dz16, zy16, lo8, hi8;
};

static void max_ctx_init(struct max_ctx *k, const struct q8_unary *rq)
{
    const int ident = rq->multiplier == (INT32_C(1) << 30) && rq->shift == -1;
    k->mode = ident ? (rq->in_zero_point == rq->out_zero_point ? MAX_SAME : MAX_IDENT)
              : q8v8_rqf_ok(rq->multiplier, rq->shift) ? MAX_FAST
                                                       : MAX_ANY;
    q8v8_rq_init1(&k->any, rq->multiplier, rq->shift, rq->out_zero_point, rq->qmin, rq->qmax);
    /* set in every mode (only FAST reads it) */
    q8v8_rqf_init(&k->fast, _mm256_set1_epi32(rq->multiplier), _mm256_set1_epi32(rq->shift));
    k->zx32 = _mm256_set1_epi32(rq->in_zero_point);
    k->dz16 = _mm256_set1_epi16((short)(rq->out_zero_point - rq->in_zero_point));
    k->zy16 = _mm256_set1_epi16((short)rq->out_zero_point);
    k->lo8 = _mm256_set1_epi8((char)rq->qmin);
    k->hi8 = _mm256_set1_epi8((char)rq->qmax);
}

/* max - zx of bytes 8q .. 8q + 7 of m as int32. */
static inline __m256i max_d8(const struct max_ctx *k, __m256i m, int q)
{
    const __m128i h = q < 2 ? _mm256_castsi256_si128(m) : _mm256_extracti128_si256(m, 1);
    const __m128i b = q % 2 ? _mm_srli_si128(h, 8) : h;
    return _mm256_sub_epi32(_mm256_cvtepi8_epi32(b), k->zx32);
}

static inline __m256i load32(const int8_t *p)
{
    return _mm256_loadu_si256((const __m256i *)(const void *)p);
}

/* The 32 output bytes of 32 maxima. */
static inline __m256i max_finish32(const struct max_ctx *k, __m256i m)
{
    switch (k->mode) {
    case MAX_SAME:
        return _mm256_min_epi8(_mm256_max_epi8(m, k->lo8), k->hi8);
    case MAX_IDENT: {
        /* |max - zx + zy| <= 383: exact in int16, then packs saturate to
         * int8 on the side the clamp would take */
        const __m256i lo =
            _mm256_add_epi16(_mm256_cvtepi8_epi16(_mm256_castsi256_si128(m)), k->dz16);
        const __m256i hi =
            _mm256_add_epi16(_mm256_cvtepi8_epi16(_mm256_extracti128_si256(m, 1)), k->dz16);
        const __m256i v = _mm256_permute4x64_epi64(_mm256_packs_epi16(lo, hi), 0xD8);
        return _mm256_min_epi8(_mm256_max_epi8(v, k->lo8), k->hi8);
    }
    case MAX_FAST:
        return q8v8_pack32(
            q8v8_rqf(&k->fast, max_d8(k, m, 0)), q8v8_rqf(&k->fast, max_d8(k, m, 1)),
            q8v8_rqf(&k->fast, max_d8(k, m, 2)), q8v8_rqf(&k->fast, max_d8(k, m, 3)), k->zy16,
            k->lo8, k->hi8);
    default: {
        int8_t out[32];
        for (int q = 0; q < 4; q++)
            _mm_storel_epi64((__m128i *)(void *)(out + 8 * q),
                             q8v8_pack(q8v8_requant(&k->any, max_d8(k, m, q))));
        return _mm256_loadu_si256((const __m256i *)(const void *)out);
    }
    }
}

void q8_max_pool2d__avx2(const struct q8_pool2d_shape *s, const struct q8_unary *rq,
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
                /* a whole 2x2 window (the usual pool) without the loops */
                const int whole2 = y1 - y0 == 2 && x1 - x0 == 2;
                const int8_t *w0 = xb + ((int64_t)y0 * s->in_w + x0) * C;
                const int64_t down = (int64_t)s->in_w * C;
                for (int c0 = 0; c0 < C; c0 += 32) {
                    const int n = C - c0 < 32 ? C - c0 : 32;
                    __m256i mx = _mm256_set1_epi8(-128);
                    if (whole2 && n == 32) {
                        const int8_t *p = w0 + c0;
                        mx = _mm256_max_epi8(
                            _mm256_max_epi8(load32(p), load32(p + C)),
                            _mm256_max_epi8(load32(p + down), load32(p + down + C)));
                    } else {
                        for (int iy = y0; iy < y1; iy++) {
                            const int8_t *row = xb + (int64_t)iy * s->in_w * C + c0;
                            for (int ix = x0; ix < x1; ix++) {
                                __m256i v;
                                const int8_t *xp = row + (int64_t)ix * C;
                                if (n == 32) {
                                    v = load32(xp);
                                } else {
                                    int8_t tmp[32];
                                    memset(tmp, -128, sizeof tmp);
                                    memcpy(tmp, xp, (size_t)n);
                                    v = load32(tmp);
                                }
                                mx = _mm256_max_epi8(mx, v);
                            }
                        }
                    }
                    const __m256i out = max_finish32(&k, mx);
                    if (n == 32) {
                        _mm256_storeu_si256((__m256i *)(void *)(yp + c0), out);
                    } else {
                        int8_t tmp[32];
                        _mm256_storeu_si256((__m256i *)(void *)tmp, out);
                        memcpy(yp + c0, tmp, (size_t)n);
                    }
                }
            }
        }
    }
}

/* ---- averages ---- */

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

/* round(S * M / (n 2^r)) for 4 lanes of S (exact doubles), clamped to
 * [lo, hi], as int32. */
static inline __m128i avg4(__m256d sd, __m256d md, __m256d nd, __m256d scale, __m256d lo,
                           __m256d hi)
{
    const __m256d t = _mm256_mul_pd(_mm256_div_pd(_mm256_mul_pd(sd, md), nd), scale);
    __m256d q = _mm256_round_pd(t, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    const __m256d f = _mm256_sub_pd(t, q);
    const __m256d one = _mm256_set1_pd(1.0);
    q = _mm256_add_pd(q, _mm256_and_pd(_mm256_cmp_pd(f, _mm256_set1_pd(0.5), _CMP_GE_OQ), one));
    q = _mm256_sub_pd(q, _mm256_and_pd(_mm256_cmp_pd(f, _mm256_set1_pd(-0.5), _CMP_LE_OQ), one));
    q = _mm256_min_pd(_mm256_max_pd(q, lo), hi);
    return _mm256_cvtpd_epi32(q);
}

/* The average epilogue of 8 lanes of int32 sums of x over n cells. */
static void avg_finish8(const struct q8_unary *rq, __m256i sum, int64_t n, int exact, int count,
                        int8_t *y)
{
    if (exact) {
        const __m256d off = _mm256_set1_pd((double)n * rq->in_zero_point);
        const __m256d md = _mm256_set1_pd((double)rq->multiplier);
        const __m256d nd = _mm256_set1_pd((double)n);
        const __m256d scale = _mm256_set1_pd(pow2_neg(31 + rq->shift));
        const __m256d lo = _mm256_set1_pd((double)rq->qmin - rq->out_zero_point);
        const __m256d hi = _mm256_set1_pd((double)rq->qmax - rq->out_zero_point);
        const __m256d s_lo = _mm256_sub_pd(_mm256_cvtepi32_pd(_mm256_castsi256_si128(sum)), off);
        const __m256d s_hi =
            _mm256_sub_pd(_mm256_cvtepi32_pd(_mm256_extracti128_si256(sum, 1)), off);
        const __m256i v = _mm256_add_epi32(
            _mm256_set_m128i(avg4(s_hi, md, nd, scale, lo, hi), avg4(s_lo, md, nd, scale, lo, hi)),
            _mm256_set1_epi32(rq->out_zero_point));
        store8(y, q8v8_pack(v), count);
    } else {
        int32_t v[8];
        _mm256_storeu_si256((__m256i *)(void *)v, sum);
        for (int i = 0; i < count; i++) {
            const int64_t s = (int64_t)v[i] - n * rq->in_zero_point;
            y[i] = (int8_t)q8_clamp_i64(
                (int64_t)q8_requantize_div(s, rq->multiplier, rq->shift, (int32_t)n) +
                    rq->out_zero_point,
                rq->qmin, rq->qmax);
        }
    }
}

void q8_avg_pool2d__avx2(const struct q8_pool2d_shape *s, const struct q8_unary *rq,
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
                for (int c0 = 0; c0 < C; c0 += 8) {
                    const int cnt = C - c0 < 8 ? C - c0 : 8;
                    __m256i sum = _mm256_setzero_si256();
                    for (int iy = y0; iy < y1; iy++)
                        for (int ix = x0; ix < x1; ix++)
                            sum = _mm256_add_epi32(
                                sum, load8(xb + ((int64_t)iy * s->in_w + ix) * C + c0, cnt));
                    avg_finish8(rq, sum, n, exact, cnt, yp + c0);
                }
            }
        }
    }
}

void q8_global_avg_pool__avx2(int64_t batch, int64_t hw, int c, const struct q8_unary *rq,
                              const int8_t *x, int8_t *y)
{
    /* |sum of x| <= 128 * hw fits in int32 for hw <= 2^24 (the contract) */
    const int exact = avg_exact_in_double(rq, hw);
    for (int64_t b = 0; b < batch; b++) {
        const int8_t *xb = x + b * hw * c;
        for (int c0 = 0; c0 < c; c0 += 8) {
            const int cnt = c - c0 < 8 ? c - c0 : 8;
            __m256i s0 = _mm256_setzero_si256(), s1 = _mm256_setzero_si256();
            int64_t i = 0;
            for (; i + 2 <= hw; i += 2) {
                s0 = _mm256_add_epi32(s0, load8(xb + i * c + c0, cnt));
                s1 = _mm256_add_epi32(s1, load8(xb + (i + 1) * c + c0, cnt));
            }
            if (i < hw)
                s0 = _mm256_add_epi32(s0, load8(xb + i * c + c0, cnt));
            avg_finish8(rq, _mm256_add_epi32(s0, s1), hw, exact, cnt, y + b * c + c0);
        }
    }
}

/* ---- add ---- */

struct add_ctx {
    struct q8v8_rq ra, rb, ro;
    __m256i za, zb, ls;
};

static inline __m256i add_side(const struct q8v8_rq *r, __m256i v, __m256i z, __m256i ls)
{
    return q8v8_requant_sat32(r, _mm256_sllv_epi32(_mm256_sub_epi32(v, z), ls));
}

static void add_run(const struct add_ctx *k, int64_t n, const int8_t *a, const int8_t *b,
                    const __m256i *b_const, int8_t *y)
{
    for (int64_t i = 0; i < n; i += 8) {
        const int64_t cnt = n - i < 8 ? n - i : 8;
        const __m256i sa = add_side(&k->ra, load8(a + i, cnt), k->za, k->ls);
        const __m256i sb = b_const ? *b_const : add_side(&k->rb, load8(b + i, cnt), k->zb, k->ls);
        store8(y + i, q8v8_pack(q8v8_requant(&k->ro, _mm256_add_epi32(sa, sb))), cnt);
    }
}

void q8_add__avx2(int64_t n, int64_t b_n, const struct q8_add_params *p, const int8_t *a,
                  const int8_t *b, int8_t *y)
{
    struct add_ctx k;
    q8v8_rq_init1(&k.ra, p->a_multiplier, p->a_shift, 0, INT8_MIN, INT8_MAX);
    q8v8_rq_init1(&k.rb, p->b_multiplier, p->b_shift, 0, INT8_MIN, INT8_MAX);
    q8v8_rq_init1(&k.ro, p->out_multiplier, p->out_shift, p->out_zero_point, p->qmin, p->qmax);
    k.za = _mm256_set1_epi32(p->a_zero_point);
    k.zb = _mm256_set1_epi32(p->b_zero_point);
    k.ls = _mm256_set1_epi32(p->left_shift);
    if (b_n == n) {
        add_run(&k, n, a, b, NULL, y);
    } else if (b_n == 1) {
        const int32_t db = ((int32_t)b[0] - p->b_zero_point) * (1 << p->left_shift);
        const __m256i sb = _mm256_set1_epi32(q8_requantize(db, p->b_multiplier, p->b_shift));
        add_run(&k, n, a, b, &sb, y);
    } else {
        for (int64_t r = 0; r < n; r += b_n)
            add_run(&k, b_n, a + r, b, NULL, y + r);
    }
}

/* AVX2 int8 GEMM (6x16 tiles) and depthwise conv2d, bit-exact with the
 * reference. No saturating step anywhere: A and B are exact int16 values
 * (A = x - zx in [-255, 255], B = w in [-128, 127]) and vpmaddwd adds two
 * exact products (|.| <= 65280) into an int32 lane; the lane sums wrap
 * mod 2^32 and end exact (q8_packed.h). vpmaddubsw is NOT used: it
 * saturates its int16 pair sums, and on trained weights 2-3% of the pairs
 * can saturate (|w0 + w1| > 128 with one sign), so no proof holds.
 *
 * The step vpmaddwd + vpaddd (16 MACs, 2 uops on ports 0/1/5) bounds the
 * kernel near 1.4x a float FMA kernel (scripts/isa_ceiling.sh); with long
 * reductions the loop below runs at that bound, so the epilogue decides
 * short ones: the fast form (q8v8_rqf, ~12 uops per 8 outputs) wherever
 * its conditions hold, else the general 64-bit one. */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_packed.h"
#include "kernels/x86/q8_requant_avx2.h"

#define MR 6

/* acc += vpmaddwd(a, b), in place: written as asm because GCC 12 keeps
 * the accumulators of the intrinsics in other registers and copies them
 * back every step. */
static inline __attribute__((always_inline)) __m256i madd_acc(__m256i acc, __m256i a, __m256i b)
{
    __m256i t;
    __asm__("vpmaddwd %3, %2, %1\n\tvpaddd %1, %0, %0" : "+x"(acc), "=&x"(t) : "x"(a), "x"(b));
    return acc;
}

static inline __m256i load_i32x8(const int32_t *p, int n)
{
    if (n >= 8)
        return _mm256_loadu_si256((const __m256i *)(const void *)p);
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), idx);
    return _mm256_maskload_epi32((const int *)p, mask);
}

/* Epilogue parameters of 8 columns. */
struct cols8 {
    struct q8v8_rq rq;
    __m256i bias, cw;
};

static void cols8_init(struct cols8 *c, const struct q8_gemm_args *g, int j, int n)
{
    c->bias = load_i32x8(g->bias + j, n);
    c->cw = _mm256_mullo_epi32(_mm256_set1_epi32(g->c), load_i32x8(g->wsum + j, n));
    if (g->per_channel)
        q8v8_rq_init(&c->rq, load_i32x8(g->mult + j, n), load_i32x8(g->shift + j, n), g->zy,
                     g->qmin, g->qmax);
    else
        q8v8_rq_init1(&c->rq, g->mult[0], g->shift[0], g->zy, g->qmin, g->qmax);
}

static inline __m128i finish8(const struct cols8 *c, __m256i dot)
{
    const __m256i acc = q8v8_adds_epi32(c->bias, _mm256_sub_epi32(dot, c->cw));
    return q8v8_pack(q8v8_requant(&c->rq, acc));
}

/* The fast epilogue of 16 columns (q8v8_rqf): the bias starts the
 * accumulators and the requantization needs no 64-bit clamp. */
struct cols16f {
    __m256i bias[2];
    struct q8v8_rqf rq[2];
    __m256i zy16, lo8, hi8;
};

/* Whether columns [j, j + n) take the fast epilogue: c == 0 (the I16
 * layout), every multiplier in the fast form, and every bias at least
 * kp * 32640 inside int32. A product (x - zx) * w has |.| <= 255 * 128 =
 * 32640, so bias plus any partial sum of kp of them stays in int32: the
 * kernel's wrapping adds are exact and sat32(bias + D) is bias + D. */
static int fast_ok(const struct q8_gemm_args *g, int j, int n)
{
    if (g->c != 0)
        return 0;
    const int64_t span = (int64_t)g->kp * 32640;
    for (int i = 0; i < n; i++) {
        const int k = g->per_channel ? j + i : 0;
        const int64_t b = g->bias[j + i];
        if (!q8v8_rqf_ok(g->mult[k], g->shift[k]) || b + span > INT32_MAX ||
            b - span < INT32_MIN)
            return 0;
    }
    return 1;
}

static void cols16f_init(struct cols16f *f, const struct q8_gemm_args *g, int j, int n)
{
    for (int h = 0; h < 2; h++) {
        const int jh = j + 8 * h, nh = n - 8 * h; /* nh <= 0: all lanes masked */
        f->bias[h] = load_i32x8(g->bias + jh, nh);
        if (g->per_channel)
            q8v8_rqf_init(&f->rq[h], load_i32x8(g->mult + jh, nh), load_i32x8(g->shift + jh, nh));
        else
            q8v8_rqf_init(&f->rq[h], _mm256_set1_epi32(g->mult[0]),
                          _mm256_set1_epi32(g->shift[0]));
    }
    f->zy16 = _mm256_set1_epi16((short)g->zy);
    f->lo8 = _mm256_set1_epi8((char)g->qmin);
    f->hi8 = _mm256_set1_epi8((char)g->qmax);
}

static inline void store16(int8_t *yp, __m128i v, int ncols)
{
    if (ncols == 16) {
        _mm_storeu_si128((__m128i *)(void *)yp, v);
    } else {
        int8_t tmp[16];
        _mm_storeu_si128((__m128i *)(void *)tmp, v);
        memcpy(yp, tmp, (size_t)ncols);
    }
}

/* One mr x 16 tile; f != NULL: the fast epilogue, else the general one. */
static inline __attribute__((always_inline)) void tile(const struct q8_gemm_args *g, int i0,
                                                       int j0, const struct cols8 *cols,
                                                       const struct cols16f *f, const int mr)
{
    __m256i acc[MR][2];
    const __m256i init0 = f ? f->bias[0] : _mm256_setzero_si256();
    const __m256i init1 = f ? f->bias[1] : _mm256_setzero_si256();
    _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++) {
        acc[i][0] = init0;
        acc[i][1] = init1;
    }
    const uint8_t *a = (const uint8_t *)g->a + (size_t)i0 * g->a_stride;
    const uint8_t *b = (const uint8_t *)g->b + (size_t)(j0 / 16) * g->b_block;
    const int kpairs = g->kp / 2;
    for (int kk = 0; kk < kpairs; kk++) {
        const __m256i b0 = _mm256_loadu_si256((const __m256i *)(const void *)(b + kk * 64));
        const __m256i b1 = _mm256_loadu_si256((const __m256i *)(const void *)(b + kk * 64 + 32));
        _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++) {
            int32_t pair;
            memcpy(&pair, a + (size_t)i * g->a_stride + (size_t)kk * 4, 4);
            const __m256i av = _mm256_set1_epi32(pair);
            acc[i][0] = madd_acc(acc[i][0], av, b0);
            acc[i][1] = madd_acc(acc[i][1], av, b1);
        }
    }
    const int ncols = g->nc - j0 < 16 ? g->nc - j0 : 16;
    int8_t *y = g->y + (size_t)i0 * g->ldy + j0;
    if (f) {
        /* two rows per pack; an odd last row is packed twice */
        _Pragma("GCC unroll 16") for (int i = 0; i < mr; i += 2) {
            const int i1 = i + 1 < mr ? i + 1 : i;
            const __m256i v = q8v8_pack32(
                q8v8_rqf(&f->rq[0], acc[i][0]), q8v8_rqf(&f->rq[1], acc[i][1]),
                q8v8_rqf(&f->rq[0], acc[i1][0]), q8v8_rqf(&f->rq[1], acc[i1][1]), f->zy16,
                f->lo8, f->hi8);
            store16(y + (size_t)i * g->ldy, _mm256_castsi256_si128(v), ncols);
            if (i1 != i)
                store16(y + (size_t)i1 * g->ldy, _mm256_extracti128_si256(v, 1), ncols);
        }
        return;
    }
    _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++)
        store16(y + (size_t)i * g->ldy,
                _mm_unpacklo_epi64(finish8(&cols[0], acc[i][0]), finish8(&cols[1], acc[i][1])),
                ncols);
}

void q8_gemm_6x16__avx2(const struct q8_gemm_args *g)
{
    for (int j0 = 0; j0 < g->nc; j0 += 16) {
        const int ncols = g->nc - j0 < 16 ? g->nc - j0 : 16;
        struct cols8 cols[2];
        struct cols16f fast;
        const struct cols16f *f = NULL;
        if (fast_ok(g, j0, ncols)) {
            cols16f_init(&fast, g, j0, ncols);
            f = &fast;
        } else {
            cols8_init(&cols[0], g, j0, ncols);
            cols8_init(&cols[1], g, j0 + 8, ncols - 8); /* n <= 0: all lanes masked */
        }
        int i0 = 0;
        for (; i0 + MR <= g->mc; i0 += MR)
            tile(g, i0, j0, cols, f, MR);
        switch (g->mc - i0) {
        case 5: tile(g, i0, j0, cols, f, 5); break;
        case 4: tile(g, i0, j0, cols, f, 4); break;
        case 3: tile(g, i0, j0, cols, f, 3); break;
        case 2: tile(g, i0, j0, cols, f, 2); break;
        case 1: tile(g, i0, j0, cols, f, 1); break;
        default: break;
        }
    }
}

/* ---- depthwise: SIMD over channels, 8 per ymm ---- */

/* 8 bytes of x (n of them valid) sign-extended to int32 minus zx. */
static inline __m256i load_x8(const int8_t *p, int n, __m256i zx)
{
    __m128i v;
    if (n >= 8) {
        v = _mm_loadl_epi64((const __m128i *)(const void *)p);
    } else {
        int8_t tmp[8] = {0};
        memcpy(tmp, p, (size_t)n);
        v = _mm_loadl_epi64((const __m128i *)(const void *)tmp);
    }
    return _mm256_sub_epi32(_mm256_cvtepi8_epi32(v), zx);
}

void q8_dwconv__avx2(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                     const int8_t *x, const int32_t *w32, int cp, const int32_t *bias, int8_t *y)
{
    const int C = s->out_c;
    const __m256i zx = _mm256_set1_epi32(rq->in_zero_point);
    struct q8v8_rq one;
    q8v8_rq_init1(&one, rq->multiplier[0], rq->shift[0], rq->out_zero_point, rq->qmin, rq->qmax);
    for (int64_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x + b * s->in_h * s->in_w * C;
        for (int oy = 0; oy < s->out_h; oy++) {
            for (int ox = 0; ox < s->out_w; ox++) {
                int8_t *yp = y + ((b * s->out_h + oy) * s->out_w + ox) * C;
                for (int c0 = 0; c0 < C; c0 += 8) {
                    const int n = C - c0 < 8 ? C - c0 : 8;
                    __m256i acc = _mm256_setzero_si256();
                    for (int kh = 0; kh < s->kernel_h; kh++) {
                        const int iy = oy * s->stride_h - s->pad_top + kh * s->dilation_h;
                        if (iy < 0 || iy >= s->in_h)
                            continue;
                        for (int kw = 0; kw < s->kernel_w; kw++) {
                            const int ix = ox * s->stride_w - s->pad_left + kw * s->dilation_w;
                            if (ix < 0 || ix >= s->in_w)
                                continue;
                            const __m256i xv =
                                load_x8(xb + ((int64_t)iy * s->in_w + ix) * C + c0, n, zx);
                            const int32_t *wp = w32 + (size_t)(kh * s->kernel_w + kw) * cp + c0;
                            acc = _mm256_add_epi32(
                                acc, _mm256_madd_epi16(
                                         xv, _mm256_loadu_si256((const __m256i *)(const void *)wp)));
                        }
                    }
                    const __m256i bv = bias ? load_i32x8(bias + c0, n) : _mm256_setzero_si256();
                    acc = q8v8_adds_epi32(bv, acc);
                    __m256i v;
                    if (rq->n == 1) {
                        v = q8v8_requant(&one, acc);
                    } else {
                        struct q8v8_rq pc;
                        q8v8_rq_init(&pc, load_i32x8(rq->multiplier + c0, n),
                                     load_i32x8(rq->shift + c0, n), rq->out_zero_point, rq->qmin,
                                     rq->qmax);
                        v = q8v8_requant(&pc, acc);
                    }
                    const __m128i out = q8v8_pack(v);
                    if (n == 8) {
                        _mm_storel_epi64((__m128i *)(void *)(yp + c0), out);
                    } else {
                        int8_t tmp[16];
                        _mm_storeu_si128((__m128i *)(void *)tmp, out);
                        memcpy(yp + c0, tmp, (size_t)n);
                    }
                }
            }
        }
    }
}

/* A rows of the I16 layout: x - zx as int16. 32 values per step; a tail
 * of a run of at least 16 is the last 16 values again (rewriting some with
 * the same values), so only runs under 16 take the scalar loop. */
static inline void copy16_i16(int16_t *d, const int8_t *src, __m256i z)
{
    const __m256i v = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)src));
    _mm256_storeu_si256((__m256i *)(void *)d, _mm256_sub_epi16(v, z));
}

void q8_copy_a_i16__avx2(void *dst, const int8_t *src, size_t n, int32_t zx)
{
    int16_t *d = dst;
    const __m256i z = _mm256_set1_epi16((short)zx);
    if (n < 16) {
        for (size_t i = 0; i < n; i++)
            d[i] = (int16_t)(src[i] - zx);
        return;
    }
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        copy16_i16(d + i, src + i, z);
        copy16_i16(d + i + 16, src + i + 16, z);
    }
    if (i + 16 <= n) {
        copy16_i16(d + i, src + i, z);
        i += 16;
    }
    if (i < n)
        copy16_i16(d + n - 16, src + n - 16, z);
}

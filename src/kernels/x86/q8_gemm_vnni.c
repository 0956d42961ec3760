/* AVX512-VNNI int8 GEMM: 8x32 tiles of vpdpbusd (u8 activations x s8
 * weights, four products summed into each int32 lane, no saturation:
 * vpdpbusd, not vpdpbusds). A holds x + 128; the driver passes
 * c = zx + 128 and the epilogue subtracts c * sum_k w[o][k] (wrapping,
 * exact in the end: q8_packed.h), adds the bias with int32 saturation and
 * requantizes exactly (q8_requant_avx512.h; its short r >= 32 path when
 * every column allows it). A comes as rows, or for convs as row pointers
 * into the padded image (q8_gemm_args.a_row: no im2col copy). */
#include <immintrin.h>
#include <string.h>

#include "kernels/q8_packed.h"
#include "kernels/x86/q8_requant_avx512.h"

#define MR 8

/* acc += vpdpbusd(a, b) in place. Written as asm because GCC 12 keeps the
 * intrinsic's accumulators in other registers and copies them back every
 * step (two vmovdqa per vpdpbusd in the inner loop). */
static inline __attribute__((always_inline)) __m512i dpbusd(__m512i acc, __m512i a, __m512i b)
{
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(a), "v"(b));
    return acc;
}

/* Epilogue parameters of 16 columns. off = bias - c * wsum (wrapping),
 * used when no bias can saturate: |bias| <= INT32_MAX - kp * 255 * 128
 * bounds |bias + sum| below 2^31 (|sum| <= K * 255 * 128, K <= kp), so
 * sat32(bias + (D - cw)) = D + off exactly. */
struct cols16 {
    struct q8v16_rq rq;
    struct q8v16_rqh rqh;       /* valid when fast */
    __m512i bias, cw, off;
    __mmask16 mask;
    int fast;                   /* no bias can saturate and every r >= 32 */
};

static void cols16_init(struct cols16 *c, const struct q8_gemm_args *g, int j, int n)
{
    const __mmask16 m = q8v16_mask(n);
    c->mask = m;
    c->bias = _mm512_maskz_loadu_epi32(m, g->bias + j);
    c->cw = _mm512_mullo_epi32(_mm512_set1_epi32(g->c), _mm512_maskz_loadu_epi32(m, g->wsum + j));
    c->off = _mm512_sub_epi32(c->bias, c->cw);
    const int64_t room = (int64_t)INT32_MAX - (int64_t)g->kp * 255 * 128;
    const __m512i lim = _mm512_set1_epi32((int32_t)(room > 0 ? room : -1));
    const int no_sat = room > 0 && _mm512_cmpgt_epi32_mask(_mm512_abs_epi32(c->bias), lim) == 0;
    const __m512i mult = g->per_channel ? _mm512_maskz_loadu_epi32(m, g->mult + j)
                                        : _mm512_set1_epi32(g->mult[0]);
    const __m512i shift = g->per_channel ? _mm512_maskz_loadu_epi32(m, g->shift + j)
                                         : _mm512_set1_epi32(g->shift[0]);
    q8v16_rq_init(&c->rq, mult, shift, g->zy, g->qmin, g->qmax);
    c->fast = no_sat && q8v16_rqh_init(&c->rqh, mult, shift, m, g->zy, g->qmin, g->qmax);
}

static inline __attribute__((always_inline)) void finish16(const struct cols16 *c, __m512i dot,
                                                           int8_t *y, const int fast)
{
    if (fast) {
        const __m512i acc = _mm512_add_epi32(dot, c->off);
        _mm_mask_storeu_epi8(y, c->mask,
                             q8v16_requant_hi(&c->rqh, acc, fast % 2 == 0, fast <= 2));
        return;
    }
    const __m512i acc = q8v16_adds_epi32(c->bias, _mm512_sub_epi32(dot, c->cw));
    _mm_mask_storeu_epi8(y, c->mask, _mm512_cvtepi32_epi8(q8v16_requant(&c->rq, acc)));
}

/* acc[i] += the quads [0, kq) of row i (at row[i]) times B from b0 / b1. */
static inline __attribute__((always_inline)) void dot_rows(__m512i acc[MR][2],
                                                           const uint8_t *const *row,
                                                           const int8_t *b0, const int8_t *b1,
                                                           int kq, const int mr, const int nb)
{
    for (int k = 0; k < kq; k++) {
        const __m512i w0 = _mm512_loadu_si512(b0 + (size_t)k * 64);
        const __m512i w1 = nb == 2 ? _mm512_loadu_si512(b1 + (size_t)k * 64) : w0;
        _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++) {
            int32_t quad;
            memcpy(&quad, row[i] + (size_t)k * 4, 4);
            const __m512i av = _mm512_set1_epi32(quad);
            acc[i][0] = dpbusd(acc[i][0], av, w0);
            if (nb == 2)
                acc[i][1] = dpbusd(acc[i][1], av, w1);
        }
    }
}

/* imp: A implicit (g->a_row): a_kh kernel rows of kp / a_kh bytes each,
 * a_dy apart in the padded image, against consecutive quads of B. */
static inline __attribute__((always_inline)) void tile(const struct q8_gemm_args *g, int i0,
                                                       int j0, const struct cols16 *cols,
                                                       const int mr, const int nb, const int fast,
                                                       const int imp)
{
    __m512i acc[MR][2];
    _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++)
        acc[i][0] = acc[i][1] = _mm512_setzero_si512();
    const int8_t *b0 = g->b + (size_t)(j0 / 16) * g->b_block;
    const int8_t *b1 = b0 + g->b_block;
    const uint8_t *row[MR];
    if (!imp) {
        _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++)
            row[i] = (const uint8_t *)g->a + (size_t)(i0 + i) * g->a_stride;
        dot_rows(acc, row, b0, b1, g->kp / 4, mr, nb);
    } else {
        _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++)
            row[i] = g->a_row[i0 + i];
        const int kq = g->kp / 4 / g->a_kh;
        for (int kh = 0; kh < g->a_kh; kh++) {
            dot_rows(acc, row, b0, b1, kq, mr, nb);
            b0 += (size_t)kq * 64;
            b1 += (size_t)kq * 64;
            _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++)
                row[i] += g->a_dy;
        }
    }
    _Pragma("GCC unroll 16") for (int i = 0; i < mr; i++) {
        int8_t *yp = g->y + (size_t)(i0 + i) * g->ldy + j0;
        finish16(&cols[0], acc[i][0], yp, fast);
        if (nb == 2)
            finish16(&cols[1], acc[i][1], yp + 16, fast);
    }
}

static inline __attribute__((always_inline)) void rows(const struct q8_gemm_args *g, int j0,
                                                       const struct cols16 *cols, const int nb,
                                                       const int fast, const int imp)
{
    int i0 = 0;
    for (; i0 + MR <= g->mc; i0 += MR)
        tile(g, i0, j0, cols, MR, nb, fast, imp);
    switch (g->mc - i0) {
    case 7: tile(g, i0, j0, cols, 7, nb, fast, imp); break;
    case 6: tile(g, i0, j0, cols, 6, nb, fast, imp); break;
    case 5: tile(g, i0, j0, cols, 5, nb, fast, imp); break;
    case 4: tile(g, i0, j0, cols, 4, nb, fast, imp); break;
    case 3: tile(g, i0, j0, cols, 3, nb, fast, imp); break;
    case 2: tile(g, i0, j0, cols, 2, nb, fast, imp); break;
    case 1: tile(g, i0, j0, cols, 1, nb, fast, imp); break;
    default: break;
    }
}

static inline __attribute__((always_inline)) void gemm(const struct q8_gemm_args *g,
                                                       const int imp)
{
    for (int j0 = 0; j0 < g->nc; j0 += 32) {
        const int ncols = g->nc - j0;
        struct cols16 cols[2];
        cols16_init(&cols[0], g, j0, ncols);
        /* fast: 0 the general epilogue; else the short (r >= 32) one:
         * 1 / 2 without / with the clamp, 3 / 4 the same without the
         * rounding term of negative products (qmin >= zy) */
        const int wide = g->qmin == INT8_MIN && g->qmax == INT8_MAX;
        const int mode = (wide ? 1 : 2) + (g->qmin >= g->zy ? 2 : 0);
        if (ncols > 16)
            cols16_init(&cols[1], g, j0 + 16, ncols - 16);
        const int fast = cols[0].fast && (ncols <= 16 || cols[1].fast) ? mode : 0;
        const int nb = ncols > 16 ? 2 : 1;
        switch (fast * 2 + nb - 1) {
        case 0: rows(g, j0, cols, 1, 0, imp); break;
        case 1: rows(g, j0, cols, 2, 0, imp); break;
        case 2: rows(g, j0, cols, 1, 1, imp); break;
        case 3: rows(g, j0, cols, 2, 1, imp); break;
        case 4: rows(g, j0, cols, 1, 2, imp); break;
        case 5: rows(g, j0, cols, 2, 2, imp); break;
        case 6: rows(g, j0, cols, 1, 3, imp); break;
        case 7: rows(g, j0, cols, 2, 3, imp); break;
        case 8: rows(g, j0, cols, 1, 4, imp); break;
        default: rows(g, j0, cols, 2, 4, imp); break;
        }
    }
}

/* Two copies (A rows in a, or implicit) so each loop keeps its row
 * pointers in registers. */
static void gemm_rows(const struct q8_gemm_args *g)
{
    gemm(g, 0);
}

static void gemm_implicit(const struct q8_gemm_args *g)
{
    gemm(g, 1);
}

void q8_gemm_8x32__vnni(const struct q8_gemm_args *g)
{
    if (g->a_row)
        gemm_implicit(g);
    else
        gemm_rows(g);
}

/* A rows of the U8 layouts: x ^ 0x80 (= x + 128 as uint8). */
void q8_copy_a_u8__avx512(void *dst, const int8_t *src, size_t n, int32_t zx)
{
    (void)zx;
    uint8_t *d = dst;
    const __m512i k80 = _mm512_set1_epi8((char)0x80);
    size_t i = 0;
    for (; i + 64 <= n; i += 64)
        _mm512_storeu_si512(d + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), k80));
    if (i < n) {
        const __mmask64 m = (__mmask64)((UINT64_C(1) << (n - i)) - 1); /* n - i < 64 */
        _mm512_mask_storeu_epi8(d + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i), k80));
    }
}

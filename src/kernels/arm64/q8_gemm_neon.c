/* NEON int8 GEMM (4x16 tiles) on the I16 layout, and depthwise conv2d, (q8_packed.h), bit-exact
 * with the reference. A = x - zx in [-255, 255] and B = w in [-128, 127]
 * are exact int16 values; smlal adds each exact product (|.| <= 32640)
 * into an int32 lane, wrapping mod 2^32, so the lane sums end exact
 * (q8_packed.h). No saturating or rounding multiply (sqdmulh, sqrdmulh)
 * is used anywhere: the requantization is the reference's, one rounding
 * of the exact 64-bit product (requant.h).
 *
 * Inner loop per pair of k and per row: one 4-byte load of A (ld1r) and 8
 * smlal/smlal2 by lane over the two de-interleaved B registers pairs (two
 * ld2 per pair of k for all rows), i.e. 32 multiply-adds in 8 multiply
 * instructions, 4 per instruction. */
#include <arm_neon.h>
#include <string.h>

#include "kernels/arm64/q8_neon_requant.h"
#include "kernels/q8_packed.h"
#include "kernels/requant.h"

#define MR 4

/* One mr x 16 tile. acc[i][v]: row i, columns 4v .. 4v+3. */
static inline __attribute__((always_inline)) void tile(const struct q8_gemm_args *g, int i0,
                                                       int j0, const struct cols16 *c,
                                                       const int mr)
{
    int32x4_t acc[MR][4];
    _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++)
        for (int v = 0; v < 4; v++)
            acc[i][v] = vdupq_n_s32(0);
    const uint8_t *a = (const uint8_t *)g->a + (size_t)i0 * g->a_stride;
    const int16_t *b = (const int16_t *)(const void *)((const uint8_t *)g->b +
                                                        (size_t)(j0 / 16) * g->b_block);
    const int kpairs = g->kp / 2;
    for (int kk = 0; kk < kpairs; kk++) {
        /* block[k/2][col][k%2]: val[0] = k even, val[1] = k odd, of 8 columns */
        const int16x8x2_t b0 = vld2q_s16(b + kk * 32);
        const int16x8x2_t b1 = vld2q_s16(b + kk * 32 + 16);
        _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++) {
            int32_t pair;
            memcpy(&pair, a + (size_t)i * g->a_stride + (size_t)kk * 4, 4);
            const int16x4_t av = vreinterpret_s16_s32(vdup_n_s32(pair)); /* a0 a1 a0 a1 */
            acc[i][0] = vmlal_lane_s16(acc[i][0], vget_low_s16(b0.val[0]), av, 0);
            acc[i][1] = vmlal_high_lane_s16(acc[i][1], b0.val[0], av, 0);
            acc[i][2] = vmlal_lane_s16(acc[i][2], vget_low_s16(b1.val[0]), av, 0);
            acc[i][3] = vmlal_high_lane_s16(acc[i][3], b1.val[0], av, 0);
            acc[i][0] = vmlal_lane_s16(acc[i][0], vget_low_s16(b0.val[1]), av, 1);
            acc[i][1] = vmlal_high_lane_s16(acc[i][1], b0.val[1], av, 1);
            acc[i][2] = vmlal_lane_s16(acc[i][2], vget_low_s16(b1.val[1]), av, 1);
            acc[i][3] = vmlal_high_lane_s16(acc[i][3], b1.val[1], av, 1);
        }
    }
    const int ncols = g->nc - j0 < 16 ? g->nc - j0 : 16;
    int8_t *y = g->y + (size_t)i0 * g->ldy + j0;
    _Pragma("GCC unroll 4") for (int i = 0; i < mr; i++)
        finish_row16(c, acc[i], y + (size_t)i * g->ldy, ncols);
}

void q8_gemm_4x16__neon(const struct q8_gemm_args *g)
{
    for (int j0 = 0; j0 < g->nc; j0 += 16) {
        const int ncols = g->nc - j0 < 16 ? g->nc - j0 : 16;
        struct cols16 c;
        cols16_init(&c, g, g->c, j0, ncols);
        int i0 = 0;
        for (; i0 + MR <= g->mc; i0 += MR)
            tile(g, i0, j0, &c, MR);
        switch (g->mc - i0) {
        case 3: tile(g, i0, j0, &c, 3); break;
        case 2: tile(g, i0, j0, &c, 2); break;
        case 1: tile(g, i0, j0, &c, 1); break;
        default: break;
        }
    }
}

/* ---- depthwise (groups == in_c == out_c) on the DW layout ----
 * w32[tap][c] holds (uint16_t)w, so (int16_t) gives w back. Channels in
 * the inner loop (the compiler vectorises it); the sum is exact in int64,
 * saturated once with the bias, then the reference's output step. */
void q8_dwconv__neon(const struct q8_conv2d_shape *s, const struct q8_requant *rq,
                     const int8_t *x, const int32_t *w32, int cp, const int32_t *bias, int8_t *y)
{
    const int c_n = s->out_c, zx = rq->in_zero_point;
    int64_t acc[c_n];
    for (int64_t b = 0; b < s->batch; b++)
        for (int oy = 0; oy < s->out_h; oy++)
            for (int ox = 0; ox < s->out_w; ox++) {
                for (int c = 0; c < c_n; c++)
                    acc[c] = bias ? bias[c] : 0;
                for (int kh = 0; kh < s->kernel_h; kh++) {
                    const int iy = oy * s->stride_h - s->pad_top + kh * s->dilation_h;
                    if (iy < 0 || iy >= s->in_h)
                        continue; /* padding: (zx - zx) * w == 0 */
                    for (int kw = 0; kw < s->kernel_w; kw++) {
                        const int ix = ox * s->stride_w - s->pad_left + kw * s->dilation_w;
                        if (ix < 0 || ix >= s->in_w)
                            continue;
                        const int8_t *xp =
                            x + ((b * s->in_h + iy) * s->in_w + ix) * (int64_t)s->in_c;
                        const int32_t *wp = w32 + (size_t)(kh * s->kernel_w + kw) * (size_t)cp;
                        for (int c = 0; c < c_n; c++)
                            acc[c] += (int32_t)(xp[c] - zx) * (int32_t)(int16_t)wp[c];
                    }
                }
                int8_t *yp = y + ((b * s->out_h + oy) * s->out_w + ox) * (int64_t)c_n;
                for (int c = 0; c < c_n; c++) {
                    const int k = rq->n == 1 ? 0 : c;
                    yp[c] = q8_requant_clamp(q8_clamp_i64(acc[c], INT32_MIN, INT32_MAX),
                                             rq->multiplier[k], rq->shift[k], rq->out_zero_point,
                                             rq->qmin, rq->qmax);
                }
            }
}

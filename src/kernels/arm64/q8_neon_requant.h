/* The NEON int8 GEMM epilogue that the neon and dotprod levels share:
 * per 16 columns, acc = sat32(bias + D - c0 * wsum), then the reference's
 * requantization (one rounding of the exact 64-bit product, requant.h) and
 * clamp. c0 is what the kernel's dot products D carry beyond
 * sum (x - zx) * w, times wsum (q8_packed.h). Internal to src/kernels/arm64. */
#ifndef QUANTA_KERNELS_ARM64_Q8_NEON_REQUANT_H
#define QUANTA_KERNELS_ARM64_Q8_NEON_REQUANT_H

#include <arm_neon.h>
#include <string.h>

#include "kernels/q8_packed.h"

/* Epilogue parameters of 16 columns, 4 vectors of 4; lanes past nc hold
 * bias 0, multiplier 0 and shift 0 (their results are not stored). */
struct cols16 {
    int32x4_t bias[4], cw[4], mult[4];
    int64x2_t nshift[4][2]; /* -(31 + shift), for the rounding shift */
    int32x4_t zy, qmin, qmax;
};

static inline void cols16_init(struct cols16 *c, const struct q8_gemm_args *g, int32_t c0,
                               int j, int n)
{
    int32_t bias[16] = {0}, cw[16] = {0}, mult[16] = {0}, shift[16] = {0};
    for (int i = 0; i < n; i++) {
        const int k = g->per_channel ? j + i : 0;
        bias[i] = g->bias[j + i];
        cw[i] = (int32_t)((uint32_t)c0 * (uint32_t)g->wsum[j + i]); /* wraps, as the sums */
        mult[i] = g->mult[k];
        shift[i] = g->shift[k];
    }
    for (int v = 0; v < 4; v++) {
        c->bias[v] = vld1q_s32(bias + 4 * v);
        c->cw[v] = vld1q_s32(cw + 4 * v);
        c->mult[v] = vld1q_s32(mult + 4 * v);
        const int32x4_t r = vaddq_s32(vld1q_s32(shift + 4 * v), vdupq_n_s32(31));
        const int32x4_t nr = vnegq_s32(r);
        c->nshift[v][0] = vmovl_s32(vget_low_s32(nr));
        c->nshift[v][1] = vmovl_high_s32(nr);
    }
    c->zy = vdupq_n_s32(g->zy);
    c->qmin = vdupq_n_s32(g->qmin);
    c->qmax = vdupq_n_s32(g->qmax);
}

/* round(p / 2^r) ties away from zero, of an exact product |p| <= 2^62:
 * the rounding shift (srshl by -r adds 2^(r-1) then shifts) of |p|, sign
 * put back. */
static inline int64x2_t round_shift(int64x2_t p, int64x2_t nshift)
{
    const int64x2_t q = vrshlq_s64(vabsq_s64(p), nshift);
    return vbslq_s64(vcltzq_s64(p), vnegq_s64(q), q);
}

/* clamp(zy + requantize(sat32(bias + dot - cw)), qmin, qmax) of 4 columns,
 * as q8_requant_clamp: requantize saturates to int32 (sqxtn), and zy
 * (in [-128, 127]) added with saturation gives the same clamp. */
static inline int32x4_t finish4(const struct cols16 *c, int v, int32x4_t dot)
{
    const int32x4_t acc = vqaddq_s32(c->bias[v], vsubq_s32(dot, c->cw[v]));
    const int64x2_t lo = round_shift(vmull_s32(vget_low_s32(acc), vget_low_s32(c->mult[v])),
                                     c->nshift[v][0]);
    const int64x2_t hi = round_shift(vmull_high_s32(acc, c->mult[v]), c->nshift[v][1]);
    const int32x4_t q = vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi));
    return vminq_s32(vmaxq_s32(vqaddq_s32(q, c->zy), c->qmin), c->qmax);
}

static inline void store16(int8_t *yp, int8x16_t v, int ncols)
{
    if (ncols == 16) {
        vst1q_s8(yp, v);
    } else {
        int8_t tmp[16];
        vst1q_s8(tmp, v);
        memcpy(yp, tmp, (size_t)ncols);
    }
}

/* One row of a 16-column tile: the dot products of columns 4v .. 4v+3 in
 * acc[v], finished and stored as ncols int8 at yp. */
static inline void finish_row16(const struct cols16 *c, const int32x4_t acc[4], int8_t *yp,
                                int ncols)
{
    const int16x8_t lo = vcombine_s16(vmovn_s32(finish4(c, 0, acc[0])),
                                      vmovn_s32(finish4(c, 1, acc[1])));
    const int16x8_t hi = vcombine_s16(vmovn_s32(finish4(c, 2, acc[2])),
                                      vmovn_s32(finish4(c, 3, acc[3])));
    store16(yp, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)), ncols);
}

#endif

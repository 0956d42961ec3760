/* One per-tensor requantization of four int32 lanes, NEON, as
 * q8_requant_clamp (requant.h): the exact 64-bit product rounded once
 * (round_shift of q8_neon_requant.h), saturated to int32, + zy, clamped.
 * For the pools, add and concat of src/kernels/arm64; internal. */
#ifndef QUANTA_KERNELS_ARM64_Q8_NEON_UNARY_H
#define QUANTA_KERNELS_ARM64_Q8_NEON_UNARY_H

#include <arm_neon.h>
#include <string.h>

#include "kernels/arm64/q8_neon_requant.h"

struct q8v4_rq {
    int32x4_t mult;
    int64x2_t nshift; /* -(31 + shift) */
    int32x4_t zy, qmin, qmax;
};

static inline void q8v4_rq_init(struct q8v4_rq *k, int32_t multiplier, int32_t shift,
                                int32_t zy, int32_t qmin, int32_t qmax)
{
    k->mult = vdupq_n_s32(multiplier);
    k->nshift = vdupq_n_s64(-(int64_t)(31 + shift));
    k->zy = vdupq_n_s32(zy);
    k->qmin = vdupq_n_s32(qmin);
    k->qmax = vdupq_n_s32(qmax);
}

/* q8_requantize of 4 lanes: round(acc * M / 2^r) ties away, saturated */
static inline int32x4_t q8v4_requant_sat(const struct q8v4_rq *k, int32x4_t acc)
{
    const int64x2_t lo = round_shift(vmull_s32(vget_low_s32(acc), vget_low_s32(k->mult)),
                                     k->nshift);
    const int64x2_t hi = round_shift(vmull_high_s32(acc, k->mult), k->nshift);
    return vcombine_s32(vqmovn_s64(lo), vqmovn_s64(hi));
}

/* clamp(zy + requantize(acc), qmin, qmax); the saturating add gives the
 * reference's clamp of the 64-bit sum (zy in [-128, 127]) */
static inline int32x4_t q8v4_requant(const struct q8v4_rq *k, int32x4_t acc)
{
    const int32x4_t q = vqaddq_s32(q8v4_requant_sat(k, acc), k->zy);
    return vminq_s32(vmaxq_s32(q, k->qmin), k->qmax);
}

/* 4 x 4 int32 lanes in [-128, 127] -> 16 bytes */
static inline int8x16_t q8v4_pack16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d)
{
    return vcombine_s8(vmovn_s16(vcombine_s16(vmovn_s32(a), vmovn_s32(b))),
                       vmovn_s16(vcombine_s16(vmovn_s32(c), vmovn_s32(d))));
}

/* n (<= 16) bytes at p, the other lanes fill */
static inline int8x16_t q8v_load16(const int8_t *p, int n, int8_t fill)
{
    if (n >= 16)
        return vld1q_s8(p);
    int8_t t[16];
    memset(t, fill, sizeof t);
    memcpy(t, p, (size_t)n);
    return vld1q_s8(t);
}

/* the first n (<= 16) bytes of v to p */
static inline void q8v_store16(int8_t *p, int8x16_t v, int n)
{
    if (n >= 16) {
        vst1q_s8(p, v);
        return;
    }
    int8_t t[16];
    vst1q_s8(t, v);
    memcpy(p, t, (size_t)n);
}

/* the 16 bytes of v minus zx as four int32 vectors */
static inline void q8v_widen16(int8x16_t v, int32x4_t zx, int32x4_t out[4])
{
    const int16x8_t lo = vmovl_s8(vget_low_s8(v)), hi = vmovl_high_s8(v);
    out[0] = vsubq_s32(vmovl_s16(vget_low_s16(lo)), zx);
    out[1] = vsubq_s32(vmovl_high_s16(lo), zx);
    out[2] = vsubq_s32(vmovl_s16(vget_low_s16(hi)), zx);
    out[3] = vsubq_s32(vmovl_high_s16(hi), zx);
}

#endif

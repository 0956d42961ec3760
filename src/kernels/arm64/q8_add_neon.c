/* NEON int8 add, bit-exact with q8_add__ref: per 16 bytes, each side's
 * (v - z) * 2^left_shift requantized (q8v4_requant_sat, saturated like
 * q8_requantize), the two added, then the output's requantization and
 * clamp (q8v4_requant). b is the same shape, [C] or one value. */
#include <arm_neon.h>

#include "kernels/kernels_q8.h"
#include "kernels/requant.h"
#include "kernels/arm64/q8_neon_unary.h"

struct add_ctx {
    struct q8v4_rq ra, rb, ro;
    int32x4_t za, zb, ls;
};

/* one side's values of 4 lanes d = v - z */
static inline int32x4_t side4(const struct q8v4_rq *r, int32x4_t d, int32x4_t ls)
{
    return q8v4_requant_sat(r, vshlq_s32(d, ls));
}

/* the output of 4 lanes from the two sides' values */
static inline int32x4_t out4(const struct add_ctx *k, int32x4_t sa, int32x4_t sb)
{
    return q8v4_requant(&k->ro, vaddq_s32(sa, sb));
}

/* 16 bytes at a time, the four quarters spelled out (loops over arrays of
 * vectors stay in memory with GCC 12) */
static void add_run(const struct add_ctx *k, int64_t n, const int8_t *a, const int8_t *b,
                    const int32x4_t *b_const, int8_t *y)
{
    for (int64_t i = 0; i < n; i += 16) {
        const int cnt = n - i < 16 ? (int)(n - i) : 16;
        int32x4_t da[4], db[4];
        q8v_widen16(q8v_load16(a + i, cnt, 0), k->za, da);
        int32x4_t b0, b1, b2, b3;
        if (b_const) {
            b0 = b1 = b2 = b3 = *b_const;
        } else {
            q8v_widen16(q8v_load16(b + i, cnt, 0), k->zb, db);
            b0 = side4(&k->rb, db[0], k->ls);
            b1 = side4(&k->rb, db[1], k->ls);
            b2 = side4(&k->rb, db[2], k->ls);
            b3 = side4(&k->rb, db[3], k->ls);
        }
        const int8x16_t out = q8v4_pack16(out4(k, side4(&k->ra, da[0], k->ls), b0),
                                          out4(k, side4(&k->ra, da[1], k->ls), b1),
                                          out4(k, side4(&k->ra, da[2], k->ls), b2),
                                          out4(k, side4(&k->ra, da[3], k->ls), b3));
        q8v_store16(y + i, out, cnt);
    }
}

void q8_add__neon(int64_t n, int64_t b_n, const struct q8_add_params *p, const int8_t *a,
                  const int8_t *b, int8_t *y)
{
    struct add_ctx k;
    q8v4_rq_init(&k.ra, p->a_multiplier, p->a_shift, 0, INT8_MIN, INT8_MAX);
    q8v4_rq_init(&k.rb, p->b_multiplier, p->b_shift, 0, INT8_MIN, INT8_MAX);
    q8v4_rq_init(&k.ro, p->out_multiplier, p->out_shift, p->out_zero_point, p->qmin, p->qmax);
    k.za = vdupq_n_s32(p->a_zero_point);
    k.zb = vdupq_n_s32(p->b_zero_point);
    k.ls = vdupq_n_s32(p->left_shift);
    if (b_n == n) {
        add_run(&k, n, a, b, NULL, y);
    } else if (b_n == 1) {
        const int32_t db = ((int32_t)b[0] - p->b_zero_point) * (1 << p->left_shift);
        const int32x4_t sb = vdupq_n_s32(q8_requantize(db, p->b_multiplier, p->b_shift));
        add_run(&k, n, a, b, &sb, y);
    } else {
        for (int64_t r = 0; r < n; r += b_n)
            add_run(&k, b_n, a + r, b, NULL, y + r);
    }
}

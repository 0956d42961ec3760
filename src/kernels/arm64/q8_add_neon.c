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

/* the 16 side values of bytes v */
static inline void add_side(const struct q8v4_rq *r, int8x16_t v, int32x4_t z, int32x4_t ls,
                            int32x4_t out[4])
{
    q8v_widen16(v, z, out);
    for (int q = 0; q < 4; q++)
        out[q] = q8v4_requant_sat(r, vshlq_s32(out[q], ls));
}

static void add_run(const struct add_ctx *k, int64_t n, const int8_t *a, const int8_t *b,
                    const int32x4_t *b_const, int8_t *y)
{
    for (int64_t i = 0; i < n; i += 16) {
        const int cnt = n - i < 16 ? (int)(n - i) : 16;
        int32x4_t sa[4], sb[4], o[4];
        add_side(&k->ra, q8v_load16(a + i, cnt, 0), k->za, k->ls, sa);
        if (b_const)
            sb[0] = sb[1] = sb[2] = sb[3] = *b_const;
        else
            add_side(&k->rb, q8v_load16(b + i, cnt, 0), k->zb, k->ls, sb);
        for (int q = 0; q < 4; q++)
            o[q] = q8v4_requant(&k->ro, vaddq_s32(sa[q], sb[q]));
        q8v_store16(y + i, q8v4_pack16(o[0], o[1], o[2], o[3]), cnt);
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

/* int8 element-wise add (TFLite-style fixed point with a 20-bit left shift)
 * and mul (one requantization of the product); b same shape or [C]. */
#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

void q8_add__ref(int64_t n, int64_t b_n, const struct q8_add_params *p, const int8_t *a,
                 const int8_t *b, int8_t *y)
{
    for (int64_t i = 0; i < n; i++) {
        const int32_t da = ((int32_t)a[i] - p->a_zero_point) * (1 << p->left_shift);
        const int32_t db = ((int32_t)b[i % b_n] - p->b_zero_point) * (1 << p->left_shift);
        const int32_t sa = q8_requantize(da, p->a_multiplier, p->a_shift);
        const int32_t sb = q8_requantize(db, p->b_multiplier, p->b_shift);
        y[i] = q8_requant_clamp(sa + sb, p->out_multiplier, p->out_shift, p->out_zero_point,
                                p->qmin, p->qmax);
    }
}

void q8_mul__ref(int64_t n, int64_t b_n, const struct q8_mul_params *p, const int8_t *a,
                 const int8_t *b, int8_t *y)
{
    for (int64_t i = 0; i < n; i++) {
        const int32_t acc =
            ((int32_t)a[i] - p->a_zero_point) * ((int32_t)b[i % b_n] - p->b_zero_point);
        y[i] = q8_requant_clamp(acc, p->multiplier, p->shift, p->out_zero_point, p->qmin,
                                p->qmax);
    }
}

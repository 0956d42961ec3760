/* Reference int8 matmul of two activations (kernels_q8.h): per output
 * element the exact sum of (a - za) (b - zb), saturated to int32, then one
 * requantization into the output's parameters. */
#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

static void matmul_one(const struct q8_matmul_shape *s, const struct q8_mul_params *p,
                       const int8_t *a, const int8_t *b, int8_t *y)
{
    for (int i = 0; i < s->m; i++)
        for (int j = 0; j < s->n; j++) {
            int64_t acc = 0; /* exact: each term is at most 255 * 255 */
            for (int k = 0; k < s->k; k++)
                acc += ((int32_t)a[(int64_t)i * s->k + k] - p->a_zero_point) *
                       ((int32_t)b[(int64_t)k * s->n + j] - p->b_zero_point);
            y[(int64_t)i * s->n + j] =
                q8_requant_clamp(q8_clamp_i64(acc, INT32_MIN, INT32_MAX), p->multiplier,
                                 p->shift, p->out_zero_point, p->qmin, p->qmax);
        }
}

void q8_matmul__ref(const struct q8_matmul_shape *s, const struct q8_mul_params *p,
                    const int8_t *a, const int8_t *b, int8_t *y)
{
    int64_t total = 1, index[6] = {0}, ia = 0, ib = 0;
    for (int d = 0; d < s->lead; d++)
        total *= s->dims[d];
    for (int64_t t = 0; t < total; t++) {
        matmul_one(s, p, a + ia, b + ib, y + t * s->m * s->n);
        MATMUL_NEXT_LEAD(s, index, &ia, &ib);
    }
}

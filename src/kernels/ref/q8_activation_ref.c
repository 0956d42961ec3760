/* int8 relu / relu6 / change of parameters (clamp + requant) and
 * leaky_relu (one multiplier per sign). */
#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

void q8_requant_clamp__ref(int64_t n, const struct q8_unary *rq, const int8_t *x, int8_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = q8_requant_clamp((int32_t)x[i] - rq->in_zero_point, rq->multiplier, rq->shift,
                                rq->out_zero_point, rq->qmin, rq->qmax);
}

void q8_leaky_relu__ref(int64_t n, const struct q8_leaky_relu_params *p, const int8_t *x,
                        int8_t *y)
{
    for (int64_t i = 0; i < n; i++) {
        const int32_t d = (int32_t)x[i] - p->in_zero_point;
        y[i] = d >= 0 ? q8_requant_clamp(d, p->pos_multiplier, p->pos_shift, p->out_zero_point,
                                         p->qmin, p->qmax)
                      : q8_requant_clamp(d, p->neg_multiplier, p->neg_shift, p->out_zero_point,
                                         p->qmin, p->qmax);
    }
}

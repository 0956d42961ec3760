/* int8 concat: each input rescaled into the output's parameters, or copied
 * when they are equal (the identity requantization gives the same bytes). */
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

static int is_identity(const struct q8_unary *rq)
{
    return rq->in_zero_point == rq->out_zero_point && rq->multiplier == (INT32_C(1) << 30) &&
           rq->shift == -1 && rq->qmin == INT8_MIN && rq->qmax == INT8_MAX;
}

void q8_concat__ref(int n_inputs, int64_t outer, const int64_t *inner, const int64_t *rows,
                    const struct q8_unary *rq, const int8_t *const *x, int8_t *y)
{
    int64_t row = 0;
    for (int i = 0; i < n_inputs; i++)
        row += inner[i];
    for (int64_t r = 0; r < outer; r++) {
        int8_t *yr = y + r * row;
        for (int i = 0; i < n_inputs; i++) {
            const int8_t *xr = x[i] + (rows ? r % rows[i] : r) * inner[i];
            if (is_identity(&rq[i])) {
                memcpy(yr, xr, (size_t)inner[i]);
            } else {
                for (int64_t j = 0; j < inner[i]; j++)
                    yr[j] = q8_requant_clamp((int32_t)xr[j] - rq[i].in_zero_point,
                                             rq[i].multiplier, rq[i].shift,
                                             rq[i].out_zero_point, rq[i].qmin, rq[i].qmax);
            }
            yr += inner[i];
        }
    }
}

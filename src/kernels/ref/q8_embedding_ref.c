/* int8 embedding: gather rows of the table, rescaled into the output's
 * parameters (a byte copy where they are equal). */
#include <string.h>

#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

static bool is_identity(const struct q8_unary *rq)
{
    return rq->in_zero_point == rq->out_zero_point && rq->multiplier == (INT32_C(1) << 30) &&
           rq->shift == -1 && rq->qmin == INT8_MIN && rq->qmax == INT8_MAX;
}

int64_t q8_embedding__ref(int64_t n_ids, const int64_t *ids, int64_t vocab, int dim,
                          const struct q8_unary *rq, bool per_row, const int8_t *table,
                          int8_t *y)
{
    const bool copy_all = !per_row && is_identity(rq);
    for (int64_t i = 0; i < n_ids; i++) {
        if (ids[i] < 0 || ids[i] >= vocab)
            return i;
        const int8_t *row = table + ids[i] * dim;
        const struct q8_unary *p = per_row ? &rq[ids[i]] : rq;
        int8_t *yr = y + i * dim;
        if (copy_all || (per_row && is_identity(p))) {
            memcpy(yr, row, (size_t)dim);
            continue;
        }
        for (int j = 0; j < dim; j++)
            yr[j] = q8_requant_clamp((int32_t)row[j] - p->in_zero_point, p->multiplier, p->shift,
                                     p->out_zero_point, p->qmin, p->qmax);
    }
    return -1;
}

/* int8 dense (fully connected) reference: y = requant(bias + (x - zx) w^T),
 * or, for a float output, that accumulator scaled to float. */
#include "kernels/kernels_q8.h"
#include "kernels/requant.h"

static int32_t dense_acc(const struct q8_dense_shape *s, int32_t zx, const int8_t *xb,
                         const int8_t *w, const int32_t *bias, int o)
{
    const int8_t *wo = w + (int64_t)o * s->in_features;
    int64_t acc = bias ? bias[o] : 0;
    for (int k = 0; k < s->in_features; k++)
        acc += (int64_t)((int32_t)xb[k] - zx) * wo[k];
    return q8_clamp_i64(acc, INT32_MIN, INT32_MAX);
}

void q8_dense__ref(const struct q8_dense_shape *s, const struct q8_requant *rq,
                   const int8_t *x, const int8_t *w, const int32_t *bias, int8_t *y)
{
    for (int64_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x + b * s->in_features;
        for (int o = 0; o < s->out_features; o++) {
            const int c = rq->n == 1 ? 0 : o;
            y[b * s->out_features + o] =
                q8_requant_clamp(dense_acc(s, rq->in_zero_point, xb, w, bias, o),
                                 rq->multiplier[c], rq->shift[c], rq->out_zero_point, rq->qmin,
                                 rq->qmax);
        }
    }
}

void q8_dense_f32__ref(const struct q8_dense_shape *s, const struct q8_acc_f32 *p,
                       const int8_t *x, const int8_t *w, const int32_t *bias, float *y)
{
    for (int64_t b = 0; b < s->batch; b++) {
        const int8_t *xb = x + b * s->in_features;
        for (int o = 0; o < s->out_features; o++)
            y[b * s->out_features + o] =
                q8_acc_to_f32(dense_acc(s, p->in_zero_point, xb, w, bias, o),
                              p->scale[p->n == 1 ? 0 : o], p->lo, p->hi);
    }
}

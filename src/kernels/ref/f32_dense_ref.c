/* Reference dense (fully connected) layer: y = x * w^T + b, clamped. */
#include "kernels/kernels.h"

void f32_dense__ref(const struct f32_dense_params *p, const float *x, const float *w,
                    const float *b, float *y)
{
    for (size_t n = 0; n < p->batch; n++) {
        const float *xn = x + n * p->in_k;
        for (size_t o = 0; o < p->out_n; o++) {
            const float *wo = w + o * p->in_k;
            float acc = b ? b[o] : 0.0f;
            if (p->residual)
                acc += p->residual[n * p->out_n + o];
            for (size_t k = 0; k < p->in_k; k++)
                acc += xn[k] * wo[k];
            if (acc < p->out_min)
                acc = p->out_min;
            if (acc > p->out_max)
                acc = p->out_max;
            y[n * p->out_n + o] = acc;
        }
    }
}

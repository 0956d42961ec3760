/* Reference matmul of two activations with broadcast leading axes: one
 * [M, K] x [K, N] product per leading index, sums in double. */
#include "kernels/kernels.h"

void f32_matmul__ref(const struct f32_matmul_params *p, const float *a, const float *b,
                     float *y)
{
    size_t total = 1, index[6] = {0}, ia = 0, ib = 0;
    for (int d = 0; d < p->lead; d++)
        total *= p->dims[d];
    for (size_t t = 0; t < total; t++) {
        const float *ap = a + ia, *bp = b + ib;
        float *yp = y + t * p->m * p->n;
        for (size_t i = 0; i < p->m; i++)
            for (size_t j = 0; j < p->n; j++) {
                double s = 0.0;
                for (size_t k = 0; k < p->k; k++)
                    s += (double)ap[i * p->k + k] * (double)bp[k * p->n + j];
                yp[i * p->n + j] = (float)s;
            }
        for (int d = p->lead - 1; d >= 0; d--) { /* next leading index */
            ia += p->a_stride[d];
            ib += p->b_stride[d];
            if (++index[d] < p->dims[d])
                break;
            ia -= index[d] * p->a_stride[d];
            ib -= index[d] * p->b_stride[d];
            index[d] = 0;
        }
    }
}

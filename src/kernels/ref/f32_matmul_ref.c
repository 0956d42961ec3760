/* Reference matmul of two activations with broadcast leading axes: one
 * [M, K] x [K, N] product per leading index, sums in double. Each output
 * row is accumulated over k in order, a block of columns at a time, so b
 * is read along its rows (contiguous, vectorizable) while every sum keeps
 * the order k = 0, 1, ...: the same bits as a dot product per element. */
#include "kernels/kernels.h"

#define COLS 256 /* columns accumulated at once (2 KiB of doubles on the stack) */

static void matmul_one(const struct f32_matmul_params *p, const float *a, const float *b,
                       float *y)
{
    double acc[COLS];
    for (size_t i = 0; i < p->m; i++)
        for (size_t j0 = 0; j0 < p->n; j0 += COLS) {
            size_t cols = p->n - j0 < COLS ? p->n - j0 : COLS;
            for (size_t j = 0; j < cols; j++)
                acc[j] = 0.0;
            for (size_t k = 0; k < p->k; k++) {
                double av = (double)a[i * p->k + k];
                const float *brow = b + k * p->n + j0;
                for (size_t j = 0; j < cols; j++)
                    acc[j] += av * (double)brow[j];
            }
            for (size_t j = 0; j < cols; j++)
                y[i * p->n + j0 + j] = (float)acc[j];
        }
}

void f32_matmul__ref(const struct f32_matmul_params *p, const float *a, const float *b,
                     float *y)
{
    size_t total = 1, index[6] = {0}, ia = 0, ib = 0;
    for (int d = 0; d < p->lead; d++)
        total *= p->dims[d];
    for (size_t t = 0; t < total; t++) {
        matmul_one(p, a + ia, b + ib, y + t * p->m * p->n);
        MATMUL_NEXT_LEAD(p, index, &ia, &ib);
    }
}

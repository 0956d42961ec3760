/* Reference data movement: concat along any axis and embedding gather. */
#include "kernels/kernels.h"

#include <string.h>

void f32_concat__ref(const struct f32_concat_params *p, const float *const *x, float *y)
{
    size_t width = 0;
    for (size_t i = 0; i < p->n_inputs; i++)
        width += p->chunk[i];
    for (size_t o = 0; o < p->outer; o++) {
        float *yp = y + o * width;
        for (size_t i = 0; i < p->n_inputs; i++) {
            size_t row = p->rows ? o % p->rows[i] : o;
            memcpy(yp, x[i] + row * p->chunk[i], p->chunk[i] * sizeof *yp);
            yp += p->chunk[i];
        }
    }
}

int64_t f32_embedding__ref(const struct f32_embedding_params *p, const int64_t *ids,
                           const float *table, float *y)
{
    for (size_t i = 0; i < p->n_ids; i++) {
        int64_t id = ids[i];
        if (id < 0 || (uint64_t)id >= p->vocab)
            return (int64_t)i;
        memcpy(y + i * p->dim, table + (size_t)id * p->dim, p->dim * sizeof *y);
    }
    return -1;
}

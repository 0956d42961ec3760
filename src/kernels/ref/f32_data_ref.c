/* Reference data movement: concat along any axis and embedding gather. */
#include "kernels/kernels.h"

#include <string.h>

void f32_concat__ref(const struct f32_concat_params *p, const float *const *x, float *y)
{
    size_t width = 0, at = 0;
    for (size_t i = 0; i < p->n_inputs; i++)
        width += p->chunk[i];
    /* input by input: narrow chunks (a concat of [N, C, 1] pieces along the
     * last axis has chunks of one float) are stores, not memcpy calls, and
     * the row a constant repeats from wraps without a division */
    for (size_t i = 0; i < p->n_inputs; i++) {
        const size_t c = p->chunk[i], rows = p->rows ? p->rows[i] : p->outer;
        const float *xi = x[i];
        float *yp = y + at;
        size_t row = 0;
        for (size_t o = 0; o < p->outer; o++, yp += width) {
            const float *src = xi + row * c;
            if (c == 1)
                yp[0] = src[0];
            else
                memcpy(yp, src, c * sizeof *yp);
            if (++row == rows)
                row = 0;
        }
        at += c;
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

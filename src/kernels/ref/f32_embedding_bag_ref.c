/* Reference embedding bag: gather rows and reduce each bag in id order. */
#include "kernels/kernels.h"

#include <string.h>

int64_t f32_embedding_bag__ref(const struct f32_embedding_bag_params *p, const int64_t *ids,
                               const int64_t *offsets, const float *weights, const float *table,
                               float *y)
{
    for (size_t b = 0; b < p->n_bags; b++) {
        size_t start = p->bag ? b * p->bag : (size_t)offsets[b];
        size_t end = p->bag ? start + p->bag
                     : b + 1 < p->n_bags ? (size_t)offsets[b + 1]
                                         : p->n_ids;
        float *yb = y + b * p->dim;
        memset(yb, 0, p->dim * sizeof *yb);
        for (size_t t = start; t < end; t++) {
            int64_t id = ids[t];
            if (id < 0 || (uint64_t)id >= p->vocab)
                return (int64_t)t;
            const float *row = table + (size_t)id * p->dim;
            if (p->mode == F32_BAG_MAX) {
                for (size_t j = 0; j < p->dim; j++)
                    if (t == start || row[j] > yb[j])
                        yb[j] = row[j];
            } else if (weights) {
                for (size_t j = 0; j < p->dim; j++)
                    yb[j] += weights[t] * row[j];
            } else {
                for (size_t j = 0; j < p->dim; j++)
                    yb[j] += row[j];
            }
        }
        if (p->mode == F32_BAG_MEAN && end > start)
            for (size_t j = 0; j < p->dim; j++)
                yb[j] /= (float)(end - start);
    }
    return -1;
}
